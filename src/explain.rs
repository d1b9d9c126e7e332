//! Sentences for the failures the kernel reports. Runs only on a failed call; it may ask
//! the kernel a question or two (IPC_STAT, SHM_INFO) to name the real cause, and it never
//! changes errno.

use crate::backend::{self, Backend};
use crate::clock::Rfc3339;
use crate::error::{ErrnoGuard, Error};
use crate::limits::Limits;
use crate::names::{Addr, Key, SHM_HUGETLB, SHM_INFO, SHM_RDONLY, errno_name};
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
            let existing = id_of(b, key).filter(|_| key != libc::IPC_PRIVATE);
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
pub fn dt(call: &str, addr: usize, errno: c_int) -> Error {
    let a = Addr(addr);
    match (errno, registry::detached_attachment(addr)) {
        (EINVAL, Some(d)) => Error::new(
            errno,
            format_args!(
                "{call}: address {a} was already detached (at {}; it held segment {})",
                Rfc3339(d.detached_ns),
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
