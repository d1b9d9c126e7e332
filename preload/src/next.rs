//! The backend of the preload library: the next definitions of shmget, shmat, shmdt and
//! shmctl after this library's own (`dlsym(RTLD_NEXT, ...)`), resolved once. It never
//! calls this library's exported symbols, so a traced call cannot recurse. If the loader
//! cannot find a next definition (libc without it, or a statically linked libc), it falls
//! back to the system call itself.

use core::sync::atomic::{AtomicUsize, Ordering::*};
use libc::{c_int, c_void, key_t, shmid_ds, size_t};
use rshm::backend::Backend;

type GetFn = unsafe extern "C" fn(key_t, size_t, c_int) -> c_int;
type AtFn = unsafe extern "C" fn(c_int, *const c_void, c_int) -> *mut c_void;
type DtFn = unsafe extern "C" fn(*const c_void) -> c_int;
type CtlFn = unsafe extern "C" fn(c_int, c_int, *mut shmid_ds) -> c_int;

/// 0: not resolved yet; 1: no next definition (use the system call); else the address.
static GET: AtomicUsize = AtomicUsize::new(0);
static AT: AtomicUsize = AtomicUsize::new(0);
static DT: AtomicUsize = AtomicUsize::new(0);
static CTL: AtomicUsize = AtomicUsize::new(0);
const MISSING: usize = 1;

fn lookup(name: &core::ffi::CStr) -> usize {
    // SAFETY: RTLD_NEXT with a NUL-terminated name; dlsym returns NULL or an address.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    if p == 0 { MISSING } else { p }
}

/// Resolves all four now. Called from the library's constructor, before main, so the
/// loader's lock is never taken later on a traced call (which may run in a signal handler).
pub fn resolve() {
    GET.store(lookup(c"shmget"), Release);
    AT.store(lookup(c"shmat"), Release);
    DT.store(lookup(c"shmdt"), Release);
    CTL.store(lookup(c"shmctl"), Release);
}

#[inline]
fn get(slot: &AtomicUsize, name: &core::ffi::CStr) -> usize {
    match slot.load(Acquire) {
        0 => {
            // Called before the constructor ran (another library's constructor): resolve
            // this one now; racing threads store the same address.
            let p = lookup(name);
            slot.store(p, Release);
            p
        }
        p => p,
    }
}

/// The next definitions in the lookup order.
pub struct Next;

impl Backend for Next {
    #[inline(always)]
    fn shmget(&self, key: key_t, size: size_t, flags: c_int) -> c_int {
        match get(&GET, c"shmget") {
            // SAFETY: the system call takes no pointers.
            MISSING => unsafe { libc::syscall(libc::SYS_shmget, key, size, flags) as c_int },
            p => {
                // SAFETY: `p` is the address dlsym gave for shmget, which has this type.
                let f: GetFn = unsafe { core::mem::transmute::<usize, GetFn>(p) };
                // SAFETY: shmget takes no pointers.
                unsafe { f(key, size, flags) }
            }
        }
    }

    #[inline(always)]
    unsafe fn shmat(&self, shmid: c_int, addr: usize, flags: c_int) -> usize {
        match get(&AT, c"shmat") {
            // SAFETY: the caller upholds shmat's contract.
            MISSING => unsafe { libc::syscall(libc::SYS_shmat, shmid, addr, flags) as usize },
            p => {
                // SAFETY: `p` is the address dlsym gave for shmat, which has this type.
                let f: AtFn = unsafe { core::mem::transmute::<usize, AtFn>(p) };
                // SAFETY: the caller upholds shmat's contract.
                unsafe { f(shmid, addr as *const c_void, flags) as usize }
            }
        }
    }

    #[inline(always)]
    unsafe fn shmdt(&self, addr: usize) -> c_int {
        match get(&DT, c"shmdt") {
            // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
            MISSING => unsafe { libc::syscall(libc::SYS_shmdt, addr) as c_int },
            p => {
                // SAFETY: `p` is the address dlsym gave for shmdt, which has this type.
                let f: DtFn = unsafe { core::mem::transmute::<usize, DtFn>(p) };
                // SAFETY: the caller upholds shmdt's contract.
                unsafe { f(addr as *const c_void) }
            }
        }
    }

    #[inline(always)]
    unsafe fn shmctl(&self, shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int {
        match get(&CTL, c"shmctl") {
            // SAFETY: the caller guarantees `buf` fits `cmd`. (64-bit Linux takes the
            // command as it is: no IPC_64 bit, which it would reject.)
            MISSING => unsafe { libc::syscall(libc::SYS_shmctl, shmid, cmd, buf) as c_int },
            p => {
                // SAFETY: `p` is the address dlsym gave for shmctl, which has this type.
                let f: CtlFn = unsafe { core::mem::transmute::<usize, CtlFn>(p) };
                // SAFETY: the caller guarantees `buf` fits `cmd`.
                unsafe { f(shmid, cmd, buf) }
            }
        }
    }
}
