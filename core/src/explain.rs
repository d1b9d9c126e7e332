//! Sentences for the failures the kernel reports. Runs only on a failed call; it may ask
//! the kernel a question or two (IPC_STAT, SHM_INFO) to name the real cause, and it never
//! changes errno.

use crate::backend::{self, Backend};
use crate::clock::Wall;
use crate::error::{ErrnoGuard, Error};
use crate::limits::Limits;
use crate::names::{Addr, Cmd, Key, SHM_HUGETLB, SHM_INFO, SHM_RDONLY, errno_name};
use crate::registry;
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

fn usage(b: &dyn Backend) -> Option<ShmUsage> {
    let _errno = ErrnoGuard::save();
    let mut u = ShmUsage::default();
    // SAFETY: SHM_INFO writes a struct shm_info, which ShmUsage mirrors.
    let r = unsafe { b.shmctl(0, SHM_INFO, (&mut u as *mut ShmUsage).cast()) };
    (r >= 0).then_some(u)
}

fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// The id of the segment `key` names, if the kernel tells us.
fn id_of(b: &dyn Backend, key: key_t) -> Option<c_int> {
    let _errno = ErrnoGuard::save();
    let id = b.shmget(key, 0, 0);
    (id >= 0).then_some(id)
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
            match existing.map(|id| (id, backend::stat(b, id))) {
                Some((id, Ok(ds))) if size > ds.shm_segsz => e(format_args!(
                    "{call}: size {size} is larger than the existing segment of key {k} (shmid {id}, {} bytes)",
                    ds.shm_segsz
                )),
                None if (size as u64) < l.shmmin => e(format_args!(
                    "{call}: size {size} is below SHMMIN ({}) for a new segment",
                    l.shmmin
                )),
                None if size as u64 > l.shmmax => e(format_args!(
                    "{call}: size {size} is above SHMMAX ({}) for a new segment",
                    l.shmmax
                )),
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
        ENOSPC => match usage(b) {
            Some(u) if u.used_ids as u64 >= l.shmmni => e(format_args!(
                "{call}: all SHMMNI ({}) segment ids are in use; no new segment can be made",
                l.shmmni
            )),
            Some(u) => e(format_args!(
                "{call}: {size} more bytes would exceed SHMALL ({} pages in all; {} in use)",
                l.shmall, u.shm_tot
            )),
            None => e(format_args!(
                "{call}: a system-wide limit is reached: SHMMNI ({} segments) or SHMALL ({} pages)",
                l.shmmni, l.shmall
            )),
        },
        EACCES => {
            let hint = if flags & 0o111 != 0 {
                "; the execute bits in flags ask for access no segment grants"
            } else {
                ""
            };
            e(format_args!(
                "{call}: the segment of key {k} does not grant uid {} the access flags 0{:03o} ask for{hint}",
                euid(),
                flags & 0o777
            ))
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

/// Why shmat failed with `errno`.
#[cold]
pub fn at(
    b: &dyn Backend,
    call: &str,
    shmid: c_int,
    addr: usize,
    flags: c_int,
    errno: c_int,
) -> Error {
    let e = |args| Error::new(errno, args);
    match errno {
        EINVAL => match backend::stat(b, shmid) {
            Err(EINVAL) => e(format_args!(
                "{call}: no segment has id {shmid} (never made, or removed and destroyed)"
            )),
            _ if addr != 0 => e(format_args!(
                "{call}: address {} overlaps a mapping already there; SHM_REMAP replaces it",
                Addr(addr)
            )),
            _ => e(format_args!(
                "{call}: the kernel refused to attach segment {shmid}"
            )),
        },
        EIDRM => e(format_args!("{call}: segment {shmid} was removed")),
        EACCES => {
            let want = if flags & SHM_RDONLY != 0 {
                "read"
            } else {
                "read and write"
            };
            match backend::stat_any(b, shmid) {
                Ok(ds) => e(format_args!(
                    "{call}: segment {shmid} (mode 0{:03o}, owner uid {}) does not grant uid {} {want} access",
                    ds.shm_perm.mode & 0o777,
                    ds.shm_perm.uid,
                    euid()
                )),
                Err(_) => e(format_args!(
                    "{call}: segment {shmid} does not grant uid {} {want} access",
                    euid()
                )),
            }
        }
        ENOMEM => e(format_args!(
            "{call}: no room in the address space to attach segment {shmid}"
        )),
        _ => e(format_args!(
            "{call}: the kernel refused with {}",
            errno_name(errno)
        )),
    }
}

/// Why shmdt failed with `errno`.
#[cold]
pub fn dt(call: &str, addr: usize, errno: c_int) -> Error {
    let a = Addr(addr);
    match (errno, registry::detached_attachment(addr)) {
        (EINVAL, Some(d)) => Error::new(
            errno,
            format_args!(
                "{call}: address {a} was already detached (at {}; it held segment {})",
                Wall(d.detached),
                d.shmid
            ),
        ),
        (EINVAL, None) => Error::new(
            errno,
            format_args!("{call}: address {a} is not the start of an attached segment"),
        ),
        _ => Error::new(
            errno,
            format_args!("{call}: the kernel refused with {}", errno_name(errno)),
        ),
    }
}

/// Why shmctl(IPC_RMID) failed with `errno`.
#[cold]
pub fn rmid(b: &dyn Backend, call: &str, shmid: c_int, errno: c_int) -> Error {
    let e = |args| Error::new(errno, args);
    match errno {
        EINVAL | EIDRM => e(format_args!(
            "{call}: no segment has id {shmid} (never made, or already removed and destroyed)"
        )),
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

/// Why shmctl with a command other than IPC_RMID failed with `errno`.
#[cold]
pub fn ctl(call: &str, shmid: c_int, cmd: c_int, errno: c_int) -> Error {
    let c = Cmd(cmd);
    let e = |args| Error::new(errno, args);
    match errno {
        EINVAL => e(format_args!(
            "{call}: no segment has id {shmid}, or {c} is not a command this kernel knows"
        )),
        EACCES => e(format_args!(
            "{call}: {c} needs read permission on segment {shmid}"
        )),
        EPERM => e(format_args!(
            "{call}: {c} on segment {shmid} needs its owner, its creator or a privileged process"
        )),
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
    use crate::names::{IPC_STAT, SHM_STAT_ANY};
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
        assert!(get_msg(&existing, 0x10, 0, 0o700, EACCES).ends_with(
            "the access flags 0700 ask for; the execute bits in flags ask for access no segment grants"
        ));
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
            seg: Some((4096, 0o600, 0, 0)),
            stat_denied: true,
            ..NONE
        };
        let e = at(&denied, "shmat", 32776, 0, 0, EACCES);
        let uid = euid();
        assert_eq!(
            e.message().as_str(),
            format!(
                "shmat: segment 32776 (mode 0600, owner uid 0) does not grant uid {uid} read and write access"
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
            at(&NONE, "shmat", 9, 0, 0, EINVAL).message().as_str(),
            "shmat: no segment has id 9 (never made, or removed and destroyed)"
        );
        let live = Fake {
            seg: Some((4096, 0o600, 0, 0)),
            ..NONE
        };
        assert_eq!(
            at(&live, "shmat", 9, 0x7000_0000_0000, 0, EINVAL)
                .message()
                .as_str(),
            "shmat: address 0x700000000000 overlaps a mapping already there; SHM_REMAP replaces it"
        );
        assert_eq!(
            at(&NONE, "shmat", 9, 0, 0, EIDRM).message().as_str(),
            "shmat: segment 9 was removed"
        );
        assert_eq!(
            at(&NONE, "shmat", 9, 0, 0, ENOMEM).message().as_str(),
            "shmat: no room in the address space to attach segment 9"
        );
        assert_eq!(
            rmid(&NONE, "rshm_rmid", 9, EINVAL).message().as_str(),
            "rshm_rmid: no segment has id 9 (never made, or already removed and destroyed)"
        );
    }

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
            EACCES,
        );
        assert_eq!(crate::error::errno(), 12345);
    }
}
