//! The backend of the preload library: the next definitions of shmget, shmat, shmdt and
//! shmctl after this library's own (`dlsym(RTLD_NEXT, ...)`), resolved once. It never
//! calls this library's exported symbols, so a traced call cannot recurse. If the loader
//! cannot find a next definition (libc without it, or a statically linked libc), it falls
//! back to the system call itself.
//!
//! On x86-64 glibc, when the next definition is glibc's own wrapper (no other interposer
//! sits between), the system call is made inline instead, exactly as that wrapper makes
//! it (rshm's `Syscall` backend): the same call without a second frame live across it,
//! which `make bench` can see. Any other next definition is always called.

use core::sync::atomic::{AtomicUsize, Ordering::*};
use libc::{c_int, c_void, key_t, shmid_ds, size_t};
use rshm_core::__private::backend::Backend;
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
use rshm_core::__private::backend::Syscall;

type GetFn = unsafe extern "C" fn(key_t, size_t, c_int) -> c_int;
type AtFn = unsafe extern "C" fn(c_int, *const c_void, c_int) -> *mut c_void;
type DtFn = unsafe extern "C" fn(*const c_void) -> c_int;
type CtlFn = unsafe extern "C" fn(c_int, c_int, *mut shmid_ds) -> c_int;

/// 0: not resolved yet; [`MISSING`]; [`GLIBC`]; else the address of the next definition.
static GET: AtomicUsize = AtomicUsize::new(0);
static AT: AtomicUsize = AtomicUsize::new(0);
static DT: AtomicUsize = AtomicUsize::new(0);
static CTL: AtomicUsize = AtomicUsize::new(0);
/// No next definition: make the system call.
const MISSING: usize = 1;
/// The next definition is glibc's own wrapper (x86-64 only): make the system call inline.
const GLIBC: usize = 2;

/// The address of the next definition of `name` (0 if there is none).
fn next(name: &core::ffi::CStr) -> usize {
    // SAFETY: RTLD_NEXT with a NUL-terminated name; dlsym returns NULL or an address.
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize }
}

/// What a slot holds for the next definition `p`, given whether it lies in glibc.
fn slot_value(p: usize, glibc: bool) -> usize {
    match p {
        0 => MISSING,
        _ if glibc => GLIBC,
        p => p,
    }
}

fn lookup(name: &core::ffi::CStr) -> usize {
    let p = next(name);
    let [glibc] = in_glibc([p]);
    slot_value(p, glibc)
}

/// For each address, true if it lies in the object that defines `gnu_get_libc_version`:
/// glibc itself.
///
/// One `dl_iterate_phdr` pass over the loaded objects' program headers, for all the
/// addresses at once: an address and the marker must fall in loadable segments of the
/// same object. (Not `dladdr`, which also looks for the nearest symbol by walking all of
/// glibc's symbol table: eight of those were a fifth of the time an exec of `/bin/true`
/// spent with the preload library.)
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
fn in_glibc<const N: usize>(addrs: [usize; N]) -> [bool; N] {
    /// The marker's address and the addresses asked about, the object each lies in once
    /// found (its place in the iteration), and the place of the object being looked at.
    struct Probe<'a> {
        addr: &'a [usize],
        found: &'a mut [Option<usize>],
        object: usize,
    }
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _: size_t,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: the loader passes a valid `dl_phdr_info` for the duration of the
        // call, and `data` is the `Probe` given to dl_iterate_phdr below.
        let (info, probe) = unsafe { (&*info, &mut *data.cast::<Probe<'_>>()) };
        let object = probe.object;
        probe.object = object.wrapping_add(1);
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
        let phdrs =
            unsafe { core::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        for ph in phdrs.iter().filter(|ph| ph.p_type == libc::PT_LOAD) {
            let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
            let end = start.wrapping_add(ph.p_memsz as usize);
            for (addr, found) in probe.addr.iter().zip(probe.found.iter_mut()) {
                if (start..end).contains(addr) {
                    *found = Some(object);
                }
            }
        }
        // Stop once all are placed.
        c_int::from(probe.found.iter().all(Option::is_some))
    }
    // The marker first, then the addresses asked about (the four functions at most).
    const { assert!(N <= 4) };
    let mut addr = [0; 5];
    let mut found = [None; 5];
    addr[0] = libc::gnu_get_libc_version as *const () as usize;
    addr[1..=N].copy_from_slice(&addrs);
    let mut probe = Probe {
        addr: &addr[..=N],
        found: &mut found[..=N],
        object: 0,
    };
    // SAFETY: the callback only reads what the loader passes and writes `probe`.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut probe).cast()) };
    let mut glibc = [false; N];
    for (i, g) in glibc.iter_mut().enumerate() {
        *g = found[0].is_some() && found[i + 1] == found[0];
    }
    glibc
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
fn in_glibc<const N: usize>(_: [usize; N]) -> [bool; N] {
    [false; N]
}

/// Resolves all four now. Called from the library's constructor, before main, so the
/// loader's lock is never taken later on a traced call (which may run in a signal handler).
pub fn resolve() {
    let p = [
        next(rshm_core::load_name!("shmget")),
        next(rshm_core::load_name!("shmat")),
        next(rshm_core::load_name!("shmdt")),
        next(rshm_core::load_name!("shmctl")),
    ];
    let glibc = in_glibc(p);
    for (i, s) in [&GET, &AT, &DT, &CTL].into_iter().enumerate() {
        s.store(slot_value(p[i], glibc[i]), Release);
    }
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
            #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
            MISSING | GLIBC => Syscall.shmget(key, size, flags),
            // SAFETY: the system call takes no pointers.
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
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
            #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
            // SAFETY: the caller upholds shmat's contract.
            MISSING | GLIBC => unsafe { Syscall.shmat(shmid, addr, flags) },
            // SAFETY: the caller upholds shmat's contract.
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
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
            #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
            // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
            MISSING | GLIBC => unsafe { Syscall.shmdt(addr) },
            // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
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
            #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
            // SAFETY: the caller guarantees `buf` fits `cmd`.
            MISSING | GLIBC => unsafe { Syscall.shmctl(shmid, cmd, buf) },
            // SAFETY: the caller guarantees `buf` fits `cmd`. (64-bit Linux takes the
            // command as it is: no IPC_64 bit, which it would reject.)
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
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

#[cfg(all(test, target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn glibcs_own_wrappers_are_recognised_and_nothing_else_is() {
        for name in [c"shmget", c"shmat", c"shmdt", c"shmctl"] {
            assert_eq!(lookup(name), GLIBC, "{name:?}");
        }
        assert_eq!(
            in_glibc([
                lookup as *const () as usize,
                0x1000,
                libc::getpid as *const () as usize
            ]),
            [false, false, true],
            "a function of this library, an address in no object, one of glibc's"
        );
    }

    #[test]
    fn the_inline_path_gives_glibcs_results() {
        // SAFETY: IPC_PRIVATE segment, removed at once; errno compared with libc's.
        unsafe {
            let id = Next.shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
            assert!(id >= 0);
            assert_eq!(Next.shmctl(id, libc::IPC_RMID, core::ptr::null_mut()), 0);
            assert_eq!(Next.shmat(id, 0, 0), rshm_core::__private::backend::FAILED);
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
            assert_eq!(Next.shmdt(0x1000), -1);
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
        }
    }
}
