//! The system's shared-memory limits, read from the kernel (IPC_INFO) at the first call and
//! kept in atomics: reading them again costs a few loads and never blocks. A refusal that
//! rests on a limit reads them from the kernel again first ([`reread`]), so a limit an
//! administrator raised since is seen.

use crate::backend::{self, Backend};
use core::sync::atomic::{AtomicU64, Ordering::*};

/// SHMMIN, SHMMAX, SHMALL, SHMMNI and SHMLBA as this system sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Smallest size of a new segment, in bytes.
    pub shmmin: u64,
    /// Largest size of a new segment, in bytes.
    pub shmmax: u64,
    /// Most shared memory system-wide, in pages.
    pub shmall: u64,
    /// Most segments system-wide.
    pub shmmni: u64,
    /// Attach addresses must be multiples of this (the page size on Linux).
    pub shmlba: u64,
}

impl Limits {
    /// Linux's compiled-in defaults, used when IPC_INFO is refused.
    pub const LINUX_DEFAULTS: Limits = Limits {
        shmmin: 1,
        shmmax: u64::MAX - (1 << 24),
        shmall: u64::MAX - (1 << 24),
        shmmni: 4096,
        shmlba: 4096,
    };
}

/// The limits live in the hot line; SHMLBA is stored last and says they are there.
const SHMLBA: &AtomicU64 = &crate::hot::HOT.shmlba;
const SHMMIN: &AtomicU64 = &crate::hot::HOT.limits[0];
const SHMMAX: &AtomicU64 = &crate::hot::HOT.limits[1];
const SHMALL: &AtomicU64 = &crate::hot::HOT.limits[2];
const SHMMNI: &AtomicU64 = &crate::hot::HOT.limits[3];

/// The limits, read through `b` the first time. Threads that race here read the same
/// values and store the same values: no lock, no waiting.
#[inline]
pub fn get(b: &dyn Backend) -> Limits {
    if SHMLBA.load(Acquire) != 0 {
        return Limits {
            shmmin: SHMMIN.load(Relaxed),
            shmmax: SHMMAX.load(Relaxed),
            shmall: SHMALL.load(Relaxed),
            shmmni: SHMMNI.load(Relaxed),
            shmlba: SHMLBA.load(Relaxed),
        };
    }
    first(b)
}

#[cold]
fn first(b: &dyn Backend) -> Limits {
    store(read(b))
}

/// The limits as the kernel has them now, read again (IPC_INFO, made directly: see
/// [`backend::Direct`]) and kept for the calls that follow. For refusals that rest on a
/// limit (rshm's own, and the explanation of the kernel's), never for the success path.
#[cold]
pub fn reread() -> Limits {
    store(read(&backend::Direct))
}

/// The limits of the IPC namespace the calling thread is in now, read through `b` and
/// not kept (rshm-trace, asking about a traced process's namespace).
pub fn read_now(b: &dyn Backend) -> Limits {
    read(b)
}

fn store(l: Limits) -> Limits {
    SHMMIN.store(l.shmmin, Relaxed);
    SHMMAX.store(l.shmmax, Relaxed);
    SHMALL.store(l.shmall, Relaxed);
    SHMMNI.store(l.shmmni, Relaxed);
    SHMLBA.store(l.shmlba.max(1), Release);
    l
}

/// SHMLBA alone: one atomic load once the limits are read (the attach and detach
/// checks need nothing else).
#[inline]
pub fn shmlba(b: &dyn Backend) -> u64 {
    match SHMLBA.load(Relaxed) {
        0 => get(b).shmlba,
        v => v,
    }
}

// c_ulong is u64 here but u32 on 32-bit targets: the casts are needed there.
#[allow(clippy::unnecessary_cast)]
fn read(b: &dyn Backend) -> Limits {
    let _errno = crate::error::ErrnoGuard::save();
    let mut l = Limits::LINUX_DEFAULTS;
    if let Some(si) = backend::info(b) {
        l.shmmin = si.shmmin as u64;
        l.shmmax = si.shmmax as u64;
        l.shmall = si.shmall as u64;
        l.shmmni = si.shmmni as u64;
    }
    // x86-64 Linux has one page size, 4096 bytes (its SHMLBA): no libc call, whose code
    // page every exec under the preload library would fault in.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    let page: libc::c_long = 4096;
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    // SAFETY: sysconf takes no pointers; it reads the page size the kernel passed in auxv.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        l.shmlba = page as u64;
    }
    l
}
