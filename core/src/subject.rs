//! Whose point of view an explanation takes: this process (always, inside a program), or
//! a traced process that rshm-trace's `--complete` mode stopped at a system call rshm did
//! not make. An explanation names the caller's uid and groups, reads its mappings and its
//! resource limits; [`as_seen_by`] makes those the traced process's for the length of one
//! explanation.
//!
//! Plain atomics, read with no lock and no allocation: safe in a signal handler, where a
//! program's own explanations run (with "this process", which is what they always are
//! there: only rshm-trace, single-threaded, ever sets another subject).

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};

/// A traced process as explanations see it.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    /// Its pid (in the caller's PID namespace).
    pub pid: i32,
    /// Its effective uid and gid.
    pub euid: u32,
    /// Its effective gid.
    pub egid: u32,
    /// Its supplementary groups (the first 32).
    pub groups: Vec<u32>,
    /// Its RLIMIT_AS and RLIMIT_MEMLOCK (soft; `RLIM_INFINITY` when unknown).
    pub rlimit_as: u64,
    /// Its RLIMIT_MEMLOCK (soft).
    pub rlimit_memlock: u64,
}

static OTHER: AtomicBool = AtomicBool::new(false);
static PID: AtomicI32 = AtomicI32::new(0);
static EUID: AtomicU32 = AtomicU32::new(0);
static EGID: AtomicU32 = AtomicU32::new(0);
static NGROUPS: AtomicU32 = AtomicU32::new(0);
static GROUPS: [AtomicU32; 32] = [const { AtomicU32::new(0) }; 32];
static RLIMIT_AS: AtomicU64 = AtomicU64::new(0);
static RLIMIT_MEMLOCK: AtomicU64 = AtomicU64::new(0);

/// Runs `f` (an explanation) from `s`'s point of view.
pub fn as_seen_by<R>(s: &Subject, f: impl FnOnce() -> R) -> R {
    PID.store(s.pid, Relaxed);
    EUID.store(s.euid, Relaxed);
    EGID.store(s.egid, Relaxed);
    let n = s.groups.len().min(GROUPS.len());
    for (slot, g) in GROUPS.iter().zip(&s.groups[..n]) {
        slot.store(*g, Relaxed);
    }
    NGROUPS.store(n as u32, Relaxed);
    RLIMIT_AS.store(s.rlimit_as, Relaxed);
    RLIMIT_MEMLOCK.store(s.rlimit_memlock, Relaxed);
    OTHER.store(true, Relaxed);
    let r = f();
    OTHER.store(false, Relaxed);
    r
}

/// The traced process explained, or None for this process.
pub fn other() -> Option<i32> {
    OTHER.load(Relaxed).then(|| PID.load(Relaxed))
}

/// The caller's effective uid.
pub fn euid() -> u32 {
    if OTHER.load(Relaxed) {
        return EUID.load(Relaxed);
    }
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// True if the caller is in group `gid` (as the kernel's in_group_p: the effective group
/// or a supplementary one; only the first 256 supplementary groups are looked at).
pub fn in_group(gid: u32) -> bool {
    if OTHER.load(Relaxed) {
        let n = NGROUPS.load(Relaxed) as usize;
        return EGID.load(Relaxed) == gid || GROUPS[..n].iter().any(|g| g.load(Relaxed) == gid);
    }
    let _errno = crate::error::ErrnoGuard::save();
    // SAFETY: getegid takes no arguments and cannot fail.
    if unsafe { libc::getegid() } == gid {
        return true;
    }
    let mut groups = [0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most 256 entries into `groups`.
    let n = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
    n > 0 && groups[..n as usize].contains(&gid)
}

/// The caller's soft limit on `resource` (RLIMIT_AS or RLIMIT_MEMLOCK).
pub fn rlimit(resource: libc::__rlimit_resource_t) -> u64 {
    if OTHER.load(Relaxed) {
        return if resource == libc::RLIMIT_AS {
            RLIMIT_AS.load(Relaxed)
        } else {
            RLIMIT_MEMLOCK.load(Relaxed)
        };
    }
    let mut lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit writes one struct rlimit, which `lim` is.
    unsafe { libc::getrlimit(resource, &mut lim) };
    lim.rlim_cur
}
