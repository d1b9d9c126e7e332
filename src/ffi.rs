//! The C ABI: thin shells that convert arguments, call the core inside a panic
//! boundary, and turn an `Err` into errno + `rshm_last_error()`. No logic lives here.

use libc::{c_char, c_int, c_void, key_t, size_t};
use rshm_core::__private::boundary::boundary;
use rshm_core::__private::shm::{self, LIBRARY};
use rshm_core::__private::{error, registry};

/// Gets the identifier of the System V shared memory segment of `key`, creating it
/// with `IPC_CREAT` (see shmget(2)). Returns the id, or -1 with errno set;
/// `rshm_last_error()` then says why. Stricter than shmget: unknown flag bits and sizes
/// above SSIZE_MAX fail with EINVAL.
#[unsafe(no_mangle)]
pub extern "C" fn rshm_get(key: key_t, size: size_t, flags: c_int) -> c_int {
    boundary("rshm_get", -1, || shm::get(&LIBRARY, key, size, flags))
}

/// Attaches segment `shmid` at `addr` (NULL: the kernel chooses) with `flags`
/// (`SHM_RDONLY`, `SHM_RND`, `SHM_REMAP`, `SHM_EXEC`; see shmat(2)). Returns the address,
/// or `(void *)-1` with errno set. Stricter than shmat: unknown flag bits fail with EINVAL.
#[unsafe(no_mangle)]
pub extern "C" fn rshm_at(shmid: c_int, addr: *const c_void, flags: c_int) -> *mut c_void {
    boundary("rshm_at", usize::MAX as *mut c_void, || {
        // SAFETY: the C caller takes on shmat(2)'s contract for `addr`, as with shmat itself.
        unsafe { shm::attach(&LIBRARY, shmid, addr as usize, flags) }.map(|p| p as *mut c_void)
    })
}

/// Detaches the segment attached at `addr` (see shmdt(2)); `addr` is never read.
/// Returns 0, or -1 with errno set (EINVAL for NULL, an address not attached, or one
/// already detached).
#[unsafe(no_mangle)]
pub extern "C" fn rshm_dt(addr: *const c_void) -> c_int {
    // SAFETY: the C caller takes on shmdt(2)'s contract for `addr`, as with shmdt itself.
    boundary("rshm_dt", -1, || {
        unsafe { shm::detach(&LIBRARY, addr as usize) }.map(|()| 0)
    })
}

/// Marks segment `shmid` for removal (shmctl(2) with `IPC_RMID`); it is destroyed when
/// the last process detaches it. Returns 0, or -1 with errno set.
#[unsafe(no_mangle)]
pub extern "C" fn rshm_rmid(shmid: c_int) -> c_int {
    boundary("rshm_rmid", -1, || shm::rmid(&LIBRARY, shmid).map(|()| 0))
}

/// This thread's last failure as a sentence that names the call, the argument and the
/// rule, e.g. "rshm_get: size 0 is below SHMMIN (1) for a new segment". Never NULL; the
/// text changes at this thread's next failed rshm call.
#[unsafe(no_mangle)]
pub extern "C" fn rshm_last_error() -> *const c_char {
    error::last_ptr().cast()
}

/// The number of attachments this process holds through rshm (made by `rshm_at` and not
/// yet detached by `rshm_dt`, including those a forked child inherited), as the registry
/// counts them. It walks the whole registry: for checks and reports, not for hot loops.
#[unsafe(no_mangle)]
pub extern "C" fn rshm_attachment_count() -> size_t {
    registry::live_attachments()
}

/// The library's version, "MAJOR.MINOR.PATCH" (the header's `RSHM_VERSION_STRING` is the
/// version it was compiled against). A static string; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn rshm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Runs when the library is loaded (or the program starts, linked statically): reads the
/// configuration, so that no call has to, inside a signal handler or racing a fork.
extern "C" fn init() {
    shm::init_early(&LIBRARY);
}

/// Runs at exit (and at dlclose): the exit report (`RSHM_REPORT=1`) and the count of
/// dropped log lines. A destructor rather than atexit(3), which a call would have to
/// register, maybe inside a signal handler.
extern "C" fn fini() {
    LIBRARY.at_exit();
}

// In this module, so that the object a static link pulls in for the functions above
// carries them too.
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

#[used]
#[unsafe(link_section = ".fini_array")]
static FINI: extern "C" fn() = fini;
