//! Sentences for the failures the kernel reports, each naming the cause behind the errno.
//! Runs only on a failed call. It checks the causes in the order the kernel does: first the
//! rules that need no question (the same sentences as the checks in [`crate::validate`], so
//! the preload library, which lets a broken rule through to the kernel, explains its
//! refusal the same way), then it may ask the kernel a question or two (IPC_STAT,
//! SHM_STAT_ANY, SHM_INFO, IPC_INFO, `shmget(key, 0, 0)`) or read /proc/self/maps. The
//! callers pass [`crate::backend::Direct`], so no other interposer sees those questions.
//! It never changes errno.

use crate::backend::{self, Backend};
use crate::buf::FixedBuf;
use crate::clock::Wall;
use crate::error::{ErrnoGuard, Error};
use crate::limits::Limits;
use crate::maps;
use crate::names::{
    Addr, Cmd, IPC_CREAT, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, Key, SHM_EXEC, SHM_HUGE_MASK,
    SHM_HUGE_SHIFT, SHM_HUGETLB, SHM_INFO, SHM_LOCK, SHM_RDONLY, SHM_STAT, SHM_STAT_ANY,
    SHM_UNLOCK, errno_name,
};
use crate::registry;
use crate::validate;
use libc::{EACCES, EEXIST, EIDRM, EINVAL, ENFILE, ENOENT, ENOMEM, ENOSPC, EPERM, c_int, key_t};

/// glibc's `struct shm_info`, what `shmctl(0, SHM_INFO, ...)` fills in.
#[repr(C)]
#[derive(Default)]
struct ShmUsage {
    used_ids: c_int,
    shm_tot: libc::c_ulong,
    shm_rss: libc::c_ulong,
    shm_swp: libc::c_ulong,
    swap_attempts: libc::c_ulong,
    swap_successes: libc::c_ulong,
}

impl ShmUsage {
    /// Pages of shared memory in use, system-wide.
    // c_ulong is u64 here but u32 on 32-bit targets: the cast is needed there.
    #[allow(clippy::unnecessary_cast)]
    fn pages(&self) -> u64 {
        self.shm_tot as u64
    }
}

fn usage(b: &dyn Backend) -> Option<ShmUsage> {
    let _errno = ErrnoGuard::save();
    let mut u = ShmUsage::default();
    // SAFETY: SHM_INFO writes a struct shm_info, which ShmUsage mirrors.
    let r = unsafe { b.shmctl(0, SHM_INFO, (&mut u as *mut ShmUsage).cast()) };
    (r >= 0).then_some(u)
}

/// The highest index in use in the kernel's table of segments (IPC_INFO's result).
fn highest_index(b: &dyn Backend) -> Option<c_int> {
    let _errno = ErrnoGuard::save();
    let mut si = backend::ShmInfo::default();
    // SAFETY: IPC_INFO writes a struct shminfo, which ShmInfo mirrors.
    let r = unsafe { b.shmctl(0, IPC_INFO, (&mut si as *mut backend::ShmInfo).cast()) };
    (r >= 0).then_some(r)
}

use crate::subject::{euid, in_group};

/// Which of read (4), write (2) and execute (1) in `want` the segment `ds` does not grant
/// this process, by the kernel's rule (ipcperms): the owner's bits if the effective uid is
/// the owner or creator, else the group's if it is in the segment's group or its creator's,
/// else everyone's.
fn missing(ds: &libc::shmid_ds, want: u32) -> u32 {
    let mode = u32::from(ds.shm_perm.mode);
    let me = euid();
    let granted = if me == ds.shm_perm.uid || me == ds.shm_perm.cuid {
        mode >> 6
    } else if in_group(ds.shm_perm.gid) || in_group(ds.shm_perm.cgid) {
        mode >> 3
    } else {
        mode
    };
    want & !granted & 7
}

/// "read", "write and execute", ...: the access bits (4 read, 2 write, 1 execute) in words.
fn access_words(bits: u32) -> &'static str {
    match bits & 7 {
        4 => "read",
        2 => "write",
        1 => "execute",
        6 => "read and write",
        5 => "read and execute",
        3 => "write and execute",
        7 => "read, write and execute",
        _ => "no",
    }
}

/// The id of the segment `key` names, if the kernel tells us.
fn id_of(b: &dyn Backend, key: key_t) -> Option<c_int> {
    let _errno = ErrnoGuard::save();
    let id = b.shmget(key, 0, 0);
    (id >= 0).then_some(id)
}

/// True if the huge page size SHM_HUGE_* in shmget's `flags` asks for (0: the default)
/// is one this system has (a directory in /sys/kernel/mm/hugepages).
fn huge_size_exists(flags: c_int) -> bool {
    let log2 = (flags >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK;
    if log2 == 0 {
        return true;
    }
    if !(10..64).contains(&log2) {
        return false;
    }
    let _errno = ErrnoGuard::save();
    let path = FixedBuf::<96>::from_fmt(format_args!(
        "/sys/kernel/mm/hugepages/hugepages-{}kB",
        1u64 << (log2 - 10)
    ));
    // SAFETY: `path` is NUL-terminated; access only reads it.
    unsafe { libc::access(path.as_c_ptr().cast(), libc::F_OK) == 0 }
}

/// Why shmget failed with `errno`.
#[cold]
pub fn get(
    b: &dyn Backend,
    call: &str,
    key: key_t,
    size: usize,
    flags: c_int,
    l: &Limits,
    errno: c_int,
) -> Error {
    let k = Key(key);
    let e = |args| Error::new(errno, args);
    match errno {
        ENOENT => e(format_args!(
            "{call}: no segment has key {k} and IPC_CREAT was not given"
        )),
        EEXIST => match id_of(b, key) {
            Some(id) => e(format_args!(
                "{call}: key {k} already has a segment (shmid {id}) and IPC_EXCL asks for a new one"
            )),
            None => e(format_args!(
                "{call}: key {k} already has a segment and IPC_EXCL asks for a new one"
            )),
        },
        EINVAL => {
            // (Never shmget(IPC_PRIVATE, ...) here: that would make a segment.)
            let existing = if key == libc::IPC_PRIVATE {
                None
            } else {
                id_of(b, key)
            };
            match existing.map(|id| (id, backend::stat_any(b, id))) {
                Some((id, Ok(ds))) if size > ds.shm_segsz => e(format_args!(
                    "{call}: size {size} is larger than the existing segment of key {k} (shmid {id}, {} bytes)",
                    ds.shm_segsz
                )),
                None => match validate::new_size(call, size, l) {
                    // The kernel's own size rule, in the check's words (errno is EINVAL).
                    Err(rule) => rule,
                    Ok(()) if flags & SHM_HUGETLB != 0 && !huge_size_exists(flags) => {
                        e(format_args!(
                            "{call}: huge pages of 2^{} bytes, which the SHM_HUGE_* bits in flags ask for, are not a size this system has (see /sys/kernel/mm/hugepages)",
                            (flags >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK
                        ))
                    }
                    Ok(()) => e(format_args!(
                        "{call}: the kernel refused size {size} for key {k}"
                    )),
                },
                _ => e(format_args!(
                    "{call}: the kernel refused size {size} for key {k}"
                )),
            }
        }
        ENOMEM if flags & SHM_HUGETLB != 0 => e(format_args!(
            "{call}: not enough free huge pages for {size} bytes (see /proc/sys/vm/nr_hugepages)"
        )),
        ENOMEM => e(format_args!(
            "{call}: the kernel could not allocate {size} bytes for a new segment (out of memory, or the overcommit limit)"
        )),
        ENOSPC => {
            // The kernel checks SHMALL, then SHMMNI.
            let page = l.shmlba.max(1);
            let pages = (size as u64).div_ceil(page);
            match usage(b) {
                Some(u) if u.pages().saturating_add(pages) > l.shmall => e(format_args!(
                    "{call}: {size} more bytes would exceed SHMALL ({} pages in all; {} in use)",
                    l.shmall, u.shm_tot
                )),
                Some(u) if u.used_ids as u64 >= l.shmmni => e(format_args!(
                    "{call}: all SHMMNI ({}) segment ids are in use; no new segment can be made",
                    l.shmmni
                )),
                _ => e(format_args!(
                    "{call}: a system-wide limit is reached: SHMMNI ({} segments) or SHMALL ({} pages)",
                    l.shmmni, l.shmall
                )),
            }
        }
        EACCES => {
            let f = flags & 0o777;
            // The kernel folds the three classes of the flags into one request.
            let want = ((f >> 6) | (f >> 3) | f) as u32 & 7;
            let seg = id_of(b, key).and_then(|id| backend::stat_any(b, id).ok().map(|ds| (id, ds)));
            match seg.map(|(id, ds)| (id, ds, missing(&ds, want))) {
                Some((id, ds, lacking)) if lacking != 0 => {
                    let hint = if lacking & 1 != 0 && flags & 0o100 != 0 && flags & IPC_CREAT == 0 {
                        "; 0100 in flags is the owner's execute bit (IPC_CREAT is 01000)"
                    } else {
                        ""
                    };
                    e(format_args!(
                        "{call}: the segment of key {k} does not grant uid {} the access flags 0{f:03o} ask for: {} (shmid {id}, mode 0{:03o}, owner uid {}){hint}",
                        euid(),
                        access_words(lacking),
                        ds.shm_perm.mode & 0o777,
                        ds.shm_perm.uid
                    ))
                }
                _ => e(format_args!(
                    "{call}: the segment of key {k} does not grant uid {} the access flags 0{f:03o} ask for",
                    euid()
                )),
            }
        }
        EPERM if flags & SHM_HUGETLB != 0 => e(format_args!(
            "{call}: SHM_HUGETLB needs CAP_IPC_LOCK or the group in /proc/sys/vm/hugetlb_shm_group"
        )),
        ENFILE => e(format_args!(
            "{call}: the system-wide limit on open files is reached"
        )),
        _ => e(format_args!(
            "{call}: the kernel refused with {}",
            errno_name(errno)
        )),
    }
}

/// The top of the user address space on x86-64: 47 bits, or 56 with 5-level paging.
#[cfg(target_arch = "x86_64")]
const USER_TOP: (u64, u64) = (0x7fff_ffff_f000, 0x00ff_ffff_ffff_f000);

/// Why shmat failed with `errno` (`shmlba`: the attach alignment).
#[cold]
pub fn at(
    b: &dyn Backend,
    call: &str,
    shmid: c_int,
    addr: usize,
    flags: c_int,
    shmlba: u64,
    errno: c_int,
) -> Error {
    let e = |args| Error::new(errno, args);
    match errno {
        EINVAL => {
            // The kernel's order: the shmid's sign, the address rules, the segment, the range.
            if let Err(rule) = validate::negative_id(call, shmid)
                .and_then(|()| validate::at_address(call, addr, flags, shmlba))
            {
                return rule;
            }
            let ds = match backend::stat_any(b, shmid) {
                Err(EINVAL | EIDRM) => {
                    return e(format_args!(
                        "{call}: no segment has id {shmid} (never made, or removed and destroyed)"
                    ));
                }
                Err(_) => None,
                Ok(ds) => Some(ds),
            };
            let mask = (shmlba.max(1) as usize) - 1;
            let start = if flags & crate::names::SHM_RND != 0 {
                addr & !mask
            } else {
                addr
            };
            let size = ds.map_or(0, |ds| ds.shm_segsz);
            if start != 0 && flags & crate::names::SHM_REMAP == 0 {
                if start.checked_add(size).is_none() {
                    return e(format_args!(
                        "{call}: segment {shmid} ({size} bytes) at {} would wrap past the end of the address space",
                        Addr(start)
                    ));
                }
                if let Some(r) = maps::overlapping(start, start + size.max(1)) {
                    let what = match (r.shmid, r.name()) {
                        (Some(id), _) => {
                            Msg64::from_fmt(format_args!("an attachment of segment {id}"))
                        }
                        (None, "") => Msg64::from_fmt(format_args!("anonymous memory")),
                        (None, name) => Msg64::from_fmt(format_args!("{name}")),
                    };
                    return e(format_args!(
                        "{call}: address {} overlaps a mapping already there ({} at {}-{}); SHM_REMAP replaces it",
                        Addr(start),
                        what.as_str(),
                        Addr(r.start),
                        Addr(r.end)
                    ));
                }
            }
            e(format_args!(
                "{call}: the kernel refused to attach segment {shmid}"
            ))
        }
        EIDRM => e(format_args!(
            "{call}: segment {shmid} was destroyed while this call attached it (it was removed, and no attachment was left)"
        )),
        EACCES => {
            let want =
                4 | if flags & SHM_RDONLY != 0 { 0 } else { 2 } | u32::from(flags & SHM_EXEC != 0);
            let exec = |lacking: u32| {
                if lacking & 1 != 0 {
                    ", which SHM_EXEC asks for"
                } else {
                    ""
                }
            };
            match backend::stat_any(b, shmid) {
                Ok(ds) if missing(&ds, want) != 0 => {
                    let lacking = missing(&ds, want);
                    e(format_args!(
                        "{call}: segment {shmid} (mode 0{:03o}, owner uid {}) does not grant uid {} {} access{}",
                        ds.shm_perm.mode & 0o777,
                        ds.shm_perm.uid,
                        euid(),
                        access_words(lacking),
                        exec(lacking)
                    ))
                }
                _ => e(format_args!(
                    "{call}: segment {shmid} does not grant uid {} {} access{}",
                    euid(),
                    access_words(want),
                    exec(want)
                )),
            }
        }
        ENOMEM => {
            let size = backend::stat_any(b, shmid).map_or(0, |ds| ds.shm_segsz as u64);
            let end = (addr as u64).saturating_add(size);
            #[cfg(target_arch = "x86_64")]
            if addr != 0 && end > USER_TOP.0 {
                return if end > USER_TOP.1 {
                    e(format_args!(
                        "{call}: segment {shmid} ({size} bytes) at {} would reach past the top of the user address space ({})",
                        Addr(addr),
                        Addr(USER_TOP.1 as usize)
                    ))
                } else {
                    e(format_args!(
                        "{call}: segment {shmid} ({size} bytes) at {} would reach past the top of the user address space ({}, without 5-level paging)",
                        Addr(addr),
                        Addr(USER_TOP.0 as usize)
                    ))
                };
            }
            let _ = end;
            // The process may have as many mappings as the kernel allows: an attachment is
            // one more.
            if let Some(max) = maps::max_count() {
                let n = maps::count();
                if n + 1 >= max {
                    return e(format_args!(
                        "{call}: no room for one more mapping to attach segment {shmid}: this process has {n}, and vm.max_map_count allows {max}"
                    ));
                }
            }
            let as_limit = crate::subject::rlimit(libc::RLIMIT_AS);
            let capped = as_limit != libc::RLIM_INFINITY;
            // The size when the kernel says it, the limit when there is one.
            let mut more = FixedBuf::<128>::new();
            if size != 0 {
                more.push_fmt(format_args!(" ({size} bytes)"));
            }
            if capped {
                more.push_fmt(format_args!(
                    " within this process's RLIMIT_AS ({} bytes)",
                    as_limit
                ));
            }
            e(format_args!(
                "{call}: no room in the address space to attach segment {shmid}{}",
                more.as_str()
            ))
        }
        _ => e(format_args!(
            "{call}: the kernel refused with {}",
            errno_name(errno)
        )),
    }
}

/// A short phrase, formatted on the stack.
type Msg64 = FixedBuf<80>;

/// Why shmdt failed with `errno` (`shmlba`: the page size).
#[cold]
pub fn dt(call: &str, addr: usize, shmlba: u64, errno: c_int) -> Error {
    let a = Addr(addr);
    if errno != EINVAL {
        return Error::new(
            errno,
            format_args!("{call}: the kernel refused with {}", errno_name(errno)),
        );
    }
    // The kernel's own rules first (alignment), in the same words as the check.
    if let Err(rule) = validate::dt(call, addr, shmlba) {
        return rule;
    }
    // The registry is this process's: of a traced process rshm-trace has none.
    let seen = crate::subject::other()
        .is_none()
        .then(|| registry::detached_attachment(addr))
        .flatten();
    if let Some(d) = seen {
        return Error::new(
            errno,
            format_args!(
                "{call}: address {a} was already detached (at {}; it held segment {})",
                Wall(d.detached),
                d.shmid
            ),
        );
    }
    match maps::overlapping(addr, addr.saturating_add(1)) {
        Some(r) => match (r.shmid, r.name()) {
            (Some(id), _) => Error::new(
                errno,
                format_args!(
                    "{call}: address {a} is not the start of an attached segment: it is inside an attachment of segment {id} ({}-{})",
                    Addr(r.start),
                    Addr(r.end)
                ),
            ),
            (None, name) => Error::new(
                errno,
                format_args!(
                    "{call}: address {a} is not the start of an attached segment: it is in {} ({}-{})",
                    if name.is_empty() {
                        "anonymous memory"
                    } else {
                        name
                    },
                    Addr(r.start),
                    Addr(r.end)
                ),
            ),
        },
        None => Error::new(
            errno,
            format_args!(
                "{call}: address {a} is not the start of an attached segment: nothing is mapped there"
            ),
        ),
    }
}

/// Why shmctl(IPC_RMID) failed with `errno`.
#[cold]
pub fn rmid(b: &dyn Backend, call: &str, shmid: c_int, errno: c_int) -> Error {
    let e = |args| Error::new(errno, args);
    match errno {
        EINVAL | EIDRM => {
            if let Err(rule) = validate::negative_id(call, shmid) {
                return rule;
            }
            e(format_args!(
                "{call}: no segment has id {shmid} (never made, or already removed and destroyed)"
            ))
        }
        EPERM => match backend::stat_any(b, shmid) {
            Ok(ds) => e(format_args!(
                "{call}: only the owner (uid {}), the creator (uid {}) or a privileged process may remove segment {shmid}; this process is uid {}",
                ds.shm_perm.uid,
                ds.shm_perm.cuid,
                euid()
            )),
            Err(_) => e(format_args!(
                "{call}: only the owner, the creator or a privileged process may remove segment {shmid}; this process is uid {}",
                euid()
            )),
        },
        _ => e(format_args!(
            "{call}: the kernel refused with {}",
            errno_name(errno)
        )),
    }
}

/// This process's RLIMIT_MEMLOCK (soft), in bytes.
fn memlock_limit() -> u64 {
    crate::subject::rlimit(libc::RLIMIT_MEMLOCK)
}

/// Whether this process's effective uid owns or created segment `shmid`.
fn owner_or_creator(b: &dyn Backend, shmid: c_int) -> bool {
    let me = euid();
    backend::stat_any(b, shmid).is_ok_and(|ds| ds.shm_perm.uid == me || ds.shm_perm.cuid == me)
}

/// True for the commands Linux's shmctl knows.
fn known_cmd(cmd: c_int) -> bool {
    matches!(
        cmd,
        IPC_RMID
            | IPC_SET
            | IPC_STAT
            | IPC_INFO
            | SHM_LOCK
            | SHM_UNLOCK
            | SHM_STAT
            | SHM_INFO
            | SHM_STAT_ANY
    )
}

/// Why shmctl with a command other than IPC_RMID failed with `errno`. SHM_STAT and
/// SHM_STAT_ANY take an index into the kernel's table of segments, not a shmid.
#[cold]
pub fn ctl(b: &dyn Backend, call: &str, shmid: c_int, cmd: c_int, errno: c_int) -> Error {
    let c = Cmd(cmd);
    let e = |args| Error::new(errno, args);
    let index = matches!(cmd, SHM_STAT | SHM_STAT_ANY);
    match errno {
        EINVAL if !known_cmd(cmd) => e(format_args!(
            "{call}: {c} is not a shmctl command this kernel knows"
        )),
        EINVAL if index => match highest_index(b) {
            Some(top) if usage(b).is_some_and(|u| u.used_ids > 0) => e(format_args!(
                "{call}: no segment is at index {shmid} ({c} takes an index into the kernel's table, 0 to {top} now, not a shmid)"
            )),
            _ => e(format_args!(
                "{call}: no segment is at index {shmid} (there is no segment at all; {c} takes an index into the kernel's table, not a shmid)"
            )),
        },
        EINVAL => {
            if let Err(rule) = validate::negative_id(call, shmid) {
                return rule;
            }
            if cmd == IPC_SET && backend::stat_any(b, shmid).is_ok() {
                return e(format_args!(
                    "{call}: IPC_SET on segment {shmid}: the uid or gid in the buffer is not valid here"
                ));
            }
            e(format_args!(
                "{call}: no segment has id {shmid} (never made, or removed and destroyed)"
            ))
        }
        EACCES if index => e(format_args!(
            "{call}: {c} needs read permission on the segment at index {shmid} (SHM_STAT_ANY does not)"
        )),
        EACCES => e(format_args!(
            "{call}: {c} needs read permission on segment {shmid}"
        )),
        // SHM_LOCK without CAP_IPC_LOCK: the owner or creator may lock, if RLIMIT_MEMLOCK is
        // not 0 (a limit too small for the segment gives ENOMEM instead).
        EPERM if cmd == SHM_LOCK && owner_or_creator(b, shmid) => match memlock_limit() {
            0 => e(format_args!(
                "{call}: SHM_LOCK on segment {shmid} needs CAP_IPC_LOCK or a RLIMIT_MEMLOCK above 0, and this process's is 0"
            )),
            // Not the kernel's own rule then (a security module's, say): only what is known.
            lim => e(format_args!(
                "{call}: the kernel refused SHM_LOCK on segment {shmid} with EPERM, though this process's user owns or made it and its RLIMIT_MEMLOCK is {lim} bytes"
            )),
        },
        EPERM => e(format_args!(
            "{call}: {c} on segment {shmid} needs its owner, its creator or a privileged process"
        )),
        ENOMEM if cmd == SHM_LOCK => {
            let size = backend::stat_any(b, shmid).map_or(0, |ds| ds.shm_segsz);
            e(format_args!(
                "{call}: SHM_LOCK on segment {shmid} ({size} bytes) would lock more than this process's RLIMIT_MEMLOCK ({} bytes) allows its user",
                memlock_limit()
            ))
        }
        libc::EFAULT => e(format_args!(
            "{call}: {c}'s buffer is not in the address space"
        )),
        EIDRM => e(format_args!("{call}: segment {shmid} was removed")),
        libc::EOVERFLOW => e(format_args!(
            "{call}: a value of segment {shmid} does not fit the buffer of {c}"
        )),
        _ => e(format_args!(
            "{call}: the kernel refused {c} with {}",
            errno_name(errno)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{SHM_REMAP, SHM_RND};
    use libc::shmid_ds;

    /// Answers the questions explain asks, from fixed facts.
    struct Fake {
        /// What shmget(key, 0, 0) returns.
        id_of_key: c_int,
        /// Segment size, mode, owner and creator for IPC_STAT (None: EINVAL).
        seg: Option<(usize, u16, u32, u32)>,
        /// IPC_STAT needs read permission: refuse it with EACCES (SHM_STAT_ANY still answers).
        stat_denied: bool,
        /// (used ids, pages in use) for SHM_INFO.
        usage: (c_int, u64),
    }

    impl Backend for Fake {
        fn shmget(&self, _key: key_t, _size: usize, _flags: c_int) -> c_int {
            self.id_of_key
        }
        unsafe fn shmat(&self, _shmid: c_int, _addr: usize, _flags: c_int) -> usize {
            unreachable!()
        }
        unsafe fn shmdt(&self, _addr: usize) -> c_int {
            unreachable!()
        }
        unsafe fn shmctl(&self, _shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int {
            match cmd {
                IPC_STAT | SHM_STAT_ANY => {
                    if cmd == IPC_STAT && self.stat_denied {
                        crate::error::set_errno(EACCES);
                        return -1;
                    }
                    let Some((size, mode, uid, cuid)) = self.seg else {
                        crate::error::set_errno(EINVAL);
                        return -1;
                    };
                    // SAFETY: the callers pass a valid shmid_ds.
                    let ds = unsafe { &mut *buf };
                    ds.shm_segsz = size;
                    ds.shm_perm.mode = mode;
                    ds.shm_perm.uid = uid;
                    ds.shm_perm.cuid = cuid;
                    // A group this test process is not in.
                    ds.shm_perm.gid = FOREIGN;
                    ds.shm_perm.cgid = FOREIGN;
                    if cmd == SHM_STAT_ANY { 32776 } else { 0 }
                }
                SHM_INFO => {
                    // SAFETY: explain passes a ShmUsage for SHM_INFO.
                    let u = unsafe { &mut *(buf as *mut ShmUsage) };
                    u.used_ids = self.usage.0;
                    u.shm_tot = self.usage.1;
                    0
                }
                _ => -1,
            }
        }
    }

    /// A uid and gid that are not the test's.
    const FOREIGN: u32 = 54321;

    const NONE: Fake = Fake {
        id_of_key: -1,
        seg: None,
        stat_denied: false,
        usage: (0, 0),
    };
    const L: Limits = Limits {
        shmmin: 1,
        shmmax: 1 << 40,
        shmall: 1000,
        shmmni: 4096,
        shmlba: 4096,
    };

    fn get_msg(b: &Fake, key: key_t, size: usize, flags: c_int, errno: c_int) -> String {
        let e = get(b, "shmget", key, size, flags, &L, errno);
        assert_eq!(e.errno, errno);
        e.message().to_string()
    }

    #[test]
    fn every_shmget_errno_gets_a_sentence() {
        let existing = Fake {
            id_of_key: 7,
            seg: Some((4096, 0o600, 0, 0)),
            ..NONE
        };
        assert_eq!(
            get_msg(&NONE, 0x10, 1, 0, ENOENT),
            "shmget: no segment has key 0x00000010 and IPC_CREAT was not given"
        );
        assert_eq!(
            get_msg(&existing, 0x10, 1, 0o3600, EEXIST),
            "shmget: key 0x00000010 already has a segment (shmid 7) and IPC_EXCL asks for a new one"
        );
        assert_eq!(
            get_msg(&existing, 0x10, 8192, 0o600, EINVAL),
            "shmget: size 8192 is larger than the existing segment of key 0x00000010 (shmid 7, 4096 bytes)"
        );
        assert_eq!(
            get_msg(&NONE, 0x10, 0, 0o1600, EINVAL),
            "shmget: size 0 is below SHMMIN (1) for a new segment"
        );
        assert_eq!(
            get_msg(&NONE, 0x10, (1 << 40) + 1, 0o1600, EINVAL),
            "shmget: size 1099511627777 is above SHMMAX (1099511627776) for a new segment"
        );
        assert_eq!(
            get_msg(&NONE, 0, 1 << 40, 0o1600, ENOMEM),
            "shmget: the kernel could not allocate 1099511627776 bytes for a new segment (out of memory, or the overcommit limit)"
        );
        assert_eq!(
            get_msg(
                &Fake {
                    usage: (4096, 10),
                    ..NONE
                },
                0,
                4096,
                0o1600,
                ENOSPC
            ),
            "shmget: all SHMMNI (4096) segment ids are in use; no new segment can be made"
        );
        assert_eq!(
            get_msg(
                &Fake {
                    usage: (3, 999),
                    ..NONE
                },
                0,
                8192,
                0o1600,
                ENOSPC
            ),
            "shmget: 8192 more bytes would exceed SHMALL (1000 pages in all; 999 in use)"
        );
        let theirs = Fake {
            id_of_key: 7,
            seg: Some((4096, 0o606, FOREIGN, FOREIGN)),
            ..NONE
        };
        assert_eq!(
            get_msg(&theirs, 0x10, 0, 0o700, EACCES),
            format!(
                "shmget: the segment of key 0x00000010 does not grant uid {} the access flags 0700 ask for: execute (shmid 7, mode 0606, owner uid {FOREIGN}); 0100 in flags is the owner's execute bit (IPC_CREAT is 01000)",
                euid()
            )
        );
        let readable = Fake {
            id_of_key: 7,
            seg: Some((4096, 0o604, FOREIGN, FOREIGN)),
            ..NONE
        };
        // The kernel folds the classes of the flags into one request: 0640 asks for rw.
        assert_eq!(
            get_msg(&readable, 0x10, 0, 0o1640, EACCES),
            format!(
                "shmget: the segment of key 0x00000010 does not grant uid {} the access flags 0640 ask for: write (shmid 7, mode 0604, owner uid {FOREIGN})",
                euid()
            )
        );
        assert_eq!(
            get_msg(&NONE, 0, 4096, 0o1600 | crate::names::SHM_HUGETLB, EPERM),
            "shmget: SHM_HUGETLB needs CAP_IPC_LOCK or the group in /proc/sys/vm/hugetlb_shm_group"
        );
        assert_eq!(
            get_msg(
                &NONE,
                0,
                1 << 21,
                0o1600 | crate::names::SHM_HUGETLB,
                ENOMEM
            ),
            "shmget: not enough free huge pages for 2097152 bytes (see /proc/sys/vm/nr_hugepages)"
        );
        assert_eq!(
            get_msg(&NONE, 0, 4096, 0, ENFILE),
            "shmget: the system-wide limit on open files is reached"
        );
        assert_eq!(
            get_msg(&NONE, 0, 4096, 0, libc::EFAULT),
            "shmget: the kernel refused with EFAULT"
        );
    }

    #[test]
    fn shmat_and_rmid_errors_name_mode_and_owner_even_without_read_permission() {
        let denied = Fake {
            seg: Some((4096, 0o600, FOREIGN, FOREIGN)),
            stat_denied: true,
            ..NONE
        };
        let e = at(&denied, "shmat", 32776, 0, 0, 4096, EACCES);
        let uid = euid();
        assert_eq!(
            e.message().as_str(),
            format!(
                "shmat: segment 32776 (mode 0600, owner uid {FOREIGN}) does not grant uid {uid} read and write access"
            )
        );
        let exec_only = Fake {
            seg: Some((4096, 0o606, FOREIGN, FOREIGN)),
            ..NONE
        };
        assert_eq!(
            at(&exec_only, "shmat", 5, 0, SHM_EXEC, 4096, EACCES)
                .message()
                .as_str(),
            format!(
                "shmat: segment 5 (mode 0606, owner uid {FOREIGN}) does not grant uid {uid} execute access, which SHM_EXEC asks for"
            )
        );
        let e = rmid(
            &Fake {
                seg: Some((4096, 0o600, 5, 6)),
                ..NONE
            },
            "shmctl",
            32776,
            EPERM,
        );
        assert_eq!(
            e.message().as_str(),
            format!(
                "shmctl: only the owner (uid 5), the creator (uid 6) or a privileged process may remove segment 32776; this process is uid {uid}"
            )
        );
        assert_eq!(
            at(&NONE, "shmat", 9, 0, 0, 4096, EINVAL).message().as_str(),
            "shmat: no segment has id 9 (never made, or removed and destroyed)"
        );
        let live = Fake {
            seg: Some((4096, 0o600, 0, 0)),
            ..NONE
        };
        // The kernel's address rules come first, in the check's words.
        assert_eq!(
            at(&live, "shmat", 9, 0x7000_0000_0123, 0, 4096, EINVAL)
                .message()
                .as_str(),
            "shmat: address 0x700000000123 is not a multiple of SHMLBA (4096); pass SHM_RND to round it down"
        );
        assert_eq!(
            at(&live, "shmat", 9, 0x123, SHM_RND | SHM_REMAP, 4096, EINVAL)
                .message()
                .as_str(),
            "shmat: SHM_REMAP needs an address to replace, and address 0x123 rounds down (SHM_RND) to NULL"
        );
        assert_eq!(
            at(&live, "shmat", -1, 0x123, 0, 4096, EINVAL)
                .message()
                .as_str(),
            "shmat: shmid -1 is negative, so it names no segment (a failed shmget's -1?)"
        );
        // A mapping really there (this test's own stack).
        let here = &live as *const Fake as usize & !4095;
        let msg = at(&live, "shmat", 9, here, 0, 4096, EINVAL).message();
        assert!(
            msg.as_str().starts_with(&format!(
                "shmat: address {here:#x} overlaps a mapping already there ("
            )) && msg.as_str().ends_with("; SHM_REMAP replaces it"),
            "{msg}"
        );
        assert_eq!(
            at(&live, "shmat", 9, usize::MAX & !4095, 0, 4096, EINVAL)
                .message()
                .as_str(),
            "shmat: segment 9 (4096 bytes) at 0xfffffffffffff000 would wrap past the end of the address space"
        );
        assert_eq!(
            at(&NONE, "shmat", 9, 0, 0, 4096, EIDRM).message().as_str(),
            "shmat: segment 9 was destroyed while this call attached it (it was removed, and no attachment was left)"
        );
        assert_eq!(
            at(&NONE, "shmat", 9, 0, 0, 4096, ENOMEM).message().as_str(),
            "shmat: no room in the address space to attach segment 9"
        );
        assert_eq!(
            rmid(&NONE, "rshm_rmid", 9, EINVAL).message().as_str(),
            "rshm_rmid: no segment has id 9 (never made, or already removed and destroyed)"
        );
        assert_eq!(
            rmid(&NONE, "shmctl", -3, EINVAL).message().as_str(),
            "shmctl: shmid -3 is negative, so it names no segment (a failed shmget's -1?)"
        );
    }

    #[test]
    fn an_index_command_speaks_of_an_index() {
        let msg = ctl(&NONE, "shmctl", 40, SHM_STAT, EINVAL).message();
        assert!(
            msg.as_str()
                .starts_with("shmctl: no segment is at index 40 ("),
            "{msg}"
        );
        assert!(!msg.as_str().contains("no segment has id"), "{msg}");
        assert_eq!(
            ctl(&NONE, "shmctl", 40, SHM_STAT, EACCES)
                .message()
                .as_str(),
            "shmctl: SHM_STAT needs read permission on the segment at index 40 (SHM_STAT_ANY does not)"
        );
        assert_eq!(
            ctl(&NONE, "shmctl", 40, IPC_STAT, EINVAL)
                .message()
                .as_str(),
            "shmctl: no segment has id 40 (never made, or removed and destroyed)"
        );
        assert_eq!(
            ctl(&NONE, "shmctl", 40, 99, EINVAL).message().as_str(),
            "shmctl: 99 is not a shmctl command this kernel knows"
        );
    }

    #[test]
    fn a_failed_detach_says_what_is_at_the_address() {
        assert_eq!(
            dt("shmdt", 0x1001, 4096, EINVAL).message().as_str(),
            "shmdt: address 0x1001 is not page-aligned, so it is not the start of an attached segment"
        );
        assert_eq!(
            dt("shmdt", 0, 4096, EINVAL).message().as_str(),
            "shmdt: address is NULL; nothing is attached there"
        );
        assert_eq!(
            dt("shmdt", 0xffff_8000_0000_0000, 4096, EINVAL)
                .message()
                .as_str(),
            "shmdt: address 0xffff800000000000 is not the start of an attached segment: nothing is mapped there"
        );
        let here = here_marker as fn() as usize & !4095;
        let msg = dt("shmdt", here, 4096, EINVAL).message();
        assert!(
            msg.as_str().starts_with(&format!(
                "shmdt: address {here:#x} is not the start of an attached segment: it is in "
            )),
            "{msg}"
        );
    }

    fn here_marker() {}

    #[test]
    fn explaining_never_changes_errno() {
        crate::error::set_errno(12345);
        let _ = get(&NONE, "shmget", 0x10, 8192, 0o600, &L, EINVAL);
        let _ = at(
            &Fake {
                stat_denied: true,
                ..NONE
            },
            "shmat",
            9,
            0,
            0,
            4096,
            EACCES,
        );
        let _ = dt("shmdt", 0x7000_0000_0000, 4096, EINVAL);
        let _ = ctl(&NONE, "shmctl", 3, SHM_STAT, EINVAL);
        assert_eq!(crate::error::errno(), 12345);
    }
}
