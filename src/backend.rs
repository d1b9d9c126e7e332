//! The only place that calls the real shmget/shmat/shmdt/shmctl. The linkable library
//! uses [`Libc`]; the preload library supplies a backend that reaches the next
//! definition through `dlsym(RTLD_NEXT)`.

use crate::error::ErrnoGuard;
use core::mem::MaybeUninit;
use libc::{c_int, c_void, key_t, shmid_ds, size_t};

/// What shmat returns on failure, as an address.
pub const FAILED: usize = usize::MAX;

/// The four system calls, with libc's conventions (-1 / `FAILED` and errno).
pub trait Backend: Sync {
    /// shmget(2).
    fn shmget(&self, key: key_t, size: size_t, flags: c_int) -> c_int;

    /// shmat(2); returns the address or [`FAILED`].
    ///
    /// # Safety
    /// As shmat(2): with a fixed address and `SHM_REMAP` the kernel replaces whatever
    /// the process had mapped there.
    unsafe fn shmat(&self, shmid: c_int, addr: usize, flags: c_int) -> usize;

    /// shmdt(2).
    ///
    /// # Safety
    /// As shmdt(2): memory of the segment at `addr` must not be used afterwards.
    unsafe fn shmdt(&self, addr: usize) -> c_int;

    /// shmctl(2).
    ///
    /// # Safety
    /// `buf` must be valid for what `cmd` reads or writes (nothing for `IPC_RMID`).
    unsafe fn shmctl(&self, shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int;
}

/// The backend of the linkable library: libc's functions themselves.
pub struct Libc;

impl Backend for Libc {
    fn shmget(&self, key: key_t, size: size_t, flags: c_int) -> c_int {
        // SAFETY: shmget takes no pointers.
        unsafe { libc::shmget(key, size, flags) }
    }

    unsafe fn shmat(&self, shmid: c_int, addr: usize, flags: c_int) -> usize {
        // SAFETY: the caller upholds shmat's contract (see the trait).
        unsafe { libc::shmat(shmid, addr as *const c_void, flags) as usize }
    }

    unsafe fn shmdt(&self, addr: usize) -> c_int {
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        unsafe { libc::shmdt(addr as *const c_void) }
    }

    unsafe fn shmctl(&self, shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int {
        // SAFETY: the caller guarantees `buf` fits `cmd`.
        unsafe { libc::shmctl(shmid, cmd, buf) }
    }
}

/// glibc's `struct shminfo`, what `shmctl(0, IPC_INFO, ...)` fills in.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct ShmInfo {
    /// Largest segment, in bytes.
    pub shmmax: libc::c_ulong,
    /// Smallest segment, in bytes.
    pub shmmin: libc::c_ulong,
    /// Most segments system-wide.
    pub shmmni: libc::c_ulong,
    /// Most attachments per process (unused by Linux).
    pub shmseg: libc::c_ulong,
    /// Most pages of shared memory system-wide.
    pub shmall: libc::c_ulong,
    unused: [libc::c_ulong; 4],
}

/// The segment's `shmid_ds`, or the errno of IPC_STAT. Never changes the caller's errno.
pub fn stat(b: &dyn Backend, shmid: c_int) -> Result<shmid_ds, c_int> {
    let _errno = ErrnoGuard::save();
    let mut ds = MaybeUninit::<shmid_ds>::zeroed();
    // SAFETY: IPC_STAT writes one shmid_ds into `ds`, which is large enough.
    let r = unsafe { b.shmctl(shmid, crate::names::IPC_STAT, ds.as_mut_ptr()) };
    if r < 0 {
        return Err(crate::error::errno());
    }
    // SAFETY: zeroed is a valid shmid_ds (plain integers) and the kernel filled it in.
    Ok(unsafe { ds.assume_init() })
}

/// Like [`stat`], but when read permission is missing (EACCES) it asks again with
/// SHM_STAT_ANY, which takes the segment's index (the low bits of its id) and needs no
/// permission: an explanation of EACCES or EPERM can then still name mode and owner.
pub fn stat_any(b: &dyn Backend, shmid: c_int) -> Result<shmid_ds, c_int> {
    let e = match stat(b, shmid) {
        Err(libc::EACCES) => libc::EACCES,
        other => return other,
    };
    let _errno = ErrnoGuard::save();
    // The index is id % IPCMNI: 32768, or 16M with the ipcmni_extend boot option.
    for mask in [0x7fff, 0xff_ffff] {
        let mut ds = MaybeUninit::<shmid_ds>::zeroed();
        // SAFETY: SHM_STAT_ANY writes one shmid_ds into `ds`, which is large enough.
        let r = unsafe { b.shmctl(shmid & mask, crate::names::SHM_STAT_ANY, ds.as_mut_ptr()) };
        if r == shmid {
            // SAFETY: zeroed is a valid shmid_ds (plain integers) and the kernel filled it in.
            return Ok(unsafe { ds.assume_init() });
        }
    }
    Err(e)
}

/// The system's shared-memory limits (IPC_INFO), or None if the kernel refuses.
pub fn info(b: &dyn Backend) -> Option<ShmInfo> {
    let _errno = ErrnoGuard::save();
    let mut si = ShmInfo::default();
    // SAFETY: IPC_INFO writes a struct shminfo, which ShmInfo mirrors; the kernel reads
    // the pointer as `struct shmid_ds *` only by type, it writes sizeof(shminfo) bytes.
    let r = unsafe { b.shmctl(0, crate::names::IPC_INFO, (&mut si as *mut ShmInfo).cast()) };
    (r >= 0).then_some(si)
}
