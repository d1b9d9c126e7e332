//! The four libc names this library exports, with glibc's exact prototypes. Each is a
//! thin shell over the core, inside the panic boundary.

use crate::PRELOAD;
use libc::{c_int, c_void, key_t, shmid_ds, size_t};
use rshm_core::__private::boundary::boundary;
use rshm_core::__private::shm;

/// shmget(2), traced.
#[unsafe(no_mangle)]
pub extern "C" fn shmget(key: key_t, size: size_t, shmflg: c_int) -> c_int {
    boundary("shmget", -1, || shm::get(&PRELOAD, key, size, shmflg))
}

/// shmat(2), traced.
///
/// # Safety
/// As shmat(2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmat(shmid: c_int, shmaddr: *const c_void, shmflg: c_int) -> *mut c_void {
    boundary("shmat", usize::MAX as *mut c_void, || {
        // SAFETY: the program takes on shmat(2)'s contract, as it did calling libc.
        unsafe { shm::attach(&PRELOAD, shmid, shmaddr as usize, shmflg) }.map(|p| p as *mut c_void)
    })
}

/// shmdt(2), traced.
///
/// # Safety
/// As shmdt(2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmdt(shmaddr: *const c_void) -> c_int {
    // SAFETY: the program takes on shmdt(2)'s contract, as it did calling libc.
    boundary("shmdt", -1, || {
        unsafe { shm::detach(&PRELOAD, shmaddr as usize) }.map(|()| 0)
    })
}

/// shmctl(2), traced; every command is forwarded unchanged.
///
/// # Safety
/// As shmctl(2): `buf` must fit `cmd`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmctl(shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int {
    // SAFETY: the program guarantees `buf` fits `cmd`, as it did calling libc.
    boundary("shmctl", -1, || unsafe {
        shm::ctl(&PRELOAD, shmid, cmd, buf)
    })
}
