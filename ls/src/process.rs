//! What /proc says of one process: its command, user, state and start time, and whether
//! a segment's creator is still the process with that pid.
//!
//! Everything is read as bytes: a command is whatever a process put there with
//! PR_SET_NAME (any bytes but NUL), so a file holding it need not be UTF-8.

use crate::sys;
use std::sync::OnceLock;

/// The kernel-thread flag of /proc/PID/stat's flags field (PF_KTHREAD).
const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of /proc/PID/stat rshm-ls uses (readable for every process).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The command (/proc/PID/comm), as the bytes the process set.
    pub comm: Vec<u8>,
    /// The state letter (R, S, Z, ...).
    pub state: u8,
    /// The process flags (PF_*).
    pub flags: u64,
    /// When it started, in clock ticks after boot.
    pub start_ticks: u64,
}

impl Stat {
    /// Parses a /proc/PID/stat line. The command is in parentheses and may itself hold
    /// spaces, parentheses and any other byte: the fields start after the last `)`.
    pub fn parse(text: &[u8]) -> Option<Stat> {
        let open = text.iter().position(|&b| b == b'(')?;
        let close = text.iter().rposition(|&b| b == b')')?;
        let comm = text.get(open + 1..close)?.to_vec();
        let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
        let rest: Vec<&str> = rest.split_ascii_whitespace().collect();
        // rest[0] is field 3 (state); flags is field 9, starttime field 22.
        Some(Stat {
            comm,
            state: *rest.first()?.as_bytes().first()?,
            flags: rest.get(6)?.parse().ok()?,
            start_ticks: rest.get(19)?.parse().ok()?,
        })
    }

    /// A kernel thread: it has no memory map, so it attaches nothing.
    pub fn kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// This task has exited (a zombie waiting for its parent, or dead). For a process's
    /// first thread this does not say the process has: see [`live_task`].
    pub fn exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }

    /// When it started, in seconds since the epoch (boot time plus the start ticks).
    pub fn start_epoch(&self) -> Option<f64> {
        Some(boot_time()? as f64 + self.start_ticks as f64 / sys::clock_ticks() as f64)
    }
}

/// A whole file as bytes (for /proc files, which are small and read at once).
pub fn read_bytes(path: &str) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// /proc/PID/stat, or None if the process is gone or the file unreadable.
pub fn stat(pid: i32) -> Option<Stat> {
    Stat::parse(&read_bytes(&format!("/proc/{pid}/stat"))?)
}

/// The value of the line `name` (with its colon) of a /proc/PID/status text.
fn status_field<'a>(status: &'a [u8], name: &str) -> Option<&'a str> {
    status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(name.as_bytes()))
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// The real, effective, saved and filesystem uids of process `pid` (/proc/PID/status).
pub fn uids(pid: i32) -> Option<[u32; 4]> {
    let status = read_bytes(&format!("/proc/{pid}/status"))?;
    let mut f = status_field(&status, "Uid:")?.split_ascii_whitespace();
    let mut next = || f.next()?.parse().ok();
    Some([next()?, next()?, next()?, next()?])
}

/// The effective uid of process `pid`.
pub fn euid(pid: i32) -> Option<u32> {
    uids(pid).map(|u| u[1])
}

/// The process a task `tid` belongs to (its Tgid), if /proc/TID/status can be read.
pub fn tgid(tid: i32) -> Option<i32> {
    let status = read_bytes(&format!("/proc/{tid}/status"))?;
    status_field(&status, "Tgid:")?.trim().parse().ok()
}

/// A thread of process `pid` that has not exited, other than its first. When the first
/// thread ends with pthread_exit, /proc/PID/stat says Z while the others run on; the
/// process then still holds its attachments, seen only in /proc/PID/task/TID/maps.
pub fn live_task(pid: i32) -> Option<i32> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&tid| tid != pid)
        .find(|tid| {
            read_bytes(&format!("/proc/{pid}/task/{tid}/stat"))
                .and_then(|s| Stat::parse(&s))
                .is_some_and(|st| !st.exited())
        })
}

/// Whether process `pid`, whose first thread's stat is `st`, has exited: its first thread
/// has, and no other thread of it runs.
pub fn process_exited(pid: i32, st: &Stat) -> bool {
    st.exited() && live_task(pid).is_none()
}

/// The boot time, seconds since the epoch (/proc/stat's btime), read once.
fn boot_time() -> Option<i64> {
    static BTIME: OnceLock<Option<i64>> = OnceLock::new();
    *BTIME.get_or_init(|| {
        let s = std::fs::read_to_string("/proc/stat").ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
    })
}

/// Seconds of doubt when comparing a start time with a segment's ctime: ctime is whole
/// seconds and the boot time is rounded to a second.
const SLACK_SECS: f64 = 2.0;

/// Why a process with the creator's pid exists but cannot be shown to be the creator or
/// not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doubt {
    /// kill(pid, 0) finds it but /proc does not show it (hidepid, or gone in between).
    Hidden,
    /// /proc is of another pid namespace than rshm-ls's: its PID is another process.
    OtherPidNamespace,
    /// It started after the segment's ctime, but runs as the creator's user: a pid
    /// reused by that user, or the creator with the wall clock stepped forward since.
    StartedLater,
}

/// What became of a segment's creator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Creator {
    /// cpid is 0: the creator is in a pid namespace this one cannot see.
    Unknown,
    /// A process with that pid runs and started before the segment's ctime.
    Alive {
        /// Its command.
        comm: Vec<u8>,
    },
    /// A process with that pid exists, but whether it is the creator cannot be told.
    Unsure {
        /// Its command, if /proc shows it.
        comm: Option<Vec<u8>>,
        /// Why it cannot be told.
        why: Doubt,
    },
    /// No process has that pid (or only a zombie).
    Exited,
    /// A process of another user has that pid and started after the segment's ctime: a
    /// new process.
    Reused {
        /// The new process's command.
        comm: Vec<u8>,
    },
}

impl Creator {
    /// Whether the creator is known to be gone.
    pub fn gone(&self) -> bool {
        matches!(self, Creator::Exited | Creator::Reused { .. })
    }
}

/// Whether the process `cpid` is still the creator (user `cuid`) of a segment changed
/// last at `ctime`; `proc_ok` says /proc is of rshm-ls's own pid namespace.
///
/// `kill(cpid, 0)` says whether the pid exists in rshm-ls's pid namespace (where the
/// kernel numbered cpid): ESRCH means the creator is gone, whatever /proc says. Then,
/// since shm_ctime is set at creation (and by IPC_SET, only ever later), a process with
/// that pid that started after it is not the creator: the pid was reused. Start times
/// are boot-time based and ctime is wall-clock time, so a wall clock stepped forward since
/// the segment was made makes the creator look younger than its segment: a later start
/// counts as a reuse only when the process runs as none of the creator's uids.
pub fn creator(cpid: i32, ctime: i64, cuid: u32, proc_ok: bool) -> Creator {
    if cpid <= 0 {
        return Creator::Unknown;
    }
    if !sys::process_exists(cpid) {
        return Creator::Exited;
    }
    if !proc_ok {
        return Creator::Unsure {
            comm: None,
            why: Doubt::OtherPidNamespace,
        };
    }
    let Some(st) = stat(cpid) else {
        return if sys::process_exists(cpid) {
            Creator::Unsure {
                comm: None,
                why: Doubt::Hidden,
            }
        } else {
            Creator::Exited
        };
    };
    if process_exited(cpid, &st) {
        return Creator::Exited;
    }
    match st.start_epoch() {
        Some(start) if start > ctime as f64 + SLACK_SECS => match uids(cpid) {
            Some(u) if !u.contains(&cuid) => Creator::Reused { comm: st.comm },
            _ => Creator::Unsure {
                comm: Some(st.comm),
                why: Doubt::StartedLater,
            },
        },
        _ => Creator::Alive { comm: st.comm },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_with_spaces_and_parentheses_is_read_whole() {
        let line = b"42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        let st = Stat::parse(line).unwrap();
        assert_eq!(st.comm, b"a (b) c");
        assert_eq!(st.state, b'S');
        assert_eq!(st.flags, 4194560);
        assert_eq!(st.start_ticks, 123456);
        assert!(!st.kernel_thread() && !st.exited());
    }

    #[test]
    fn a_command_that_is_not_utf8_is_kept_as_bytes() {
        let line = b"42 (caf\xe9) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 7 1000 10";
        let st = Stat::parse(line).unwrap();
        assert_eq!((st.comm.as_slice(), st.start_ticks), (&b"caf\xe9"[..], 7));
    }

    #[test]
    fn this_process_is_alive_and_its_own_creator_until_it_started() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap();
        let start = st.start_epoch().unwrap() as i64;
        let uid = euid(me).unwrap();
        assert!(matches!(
            creator(me, start, uid, true),
            Creator::Alive { .. }
        ));
        // A segment changed last well before this process started, by this user: the
        // clock may have been stepped, so it cannot be told.
        assert!(matches!(
            creator(me, start - 10, uid, true),
            Creator::Unsure {
                why: Doubt::StartedLater,
                ..
            }
        ));
        // By another user: a reused pid.
        assert!(matches!(
            creator(me, start - 10, uid.wrapping_add(12345), true),
            Creator::Reused { .. }
        ));
        assert_eq!(creator(0, start, uid, true), Creator::Unknown);
        assert_eq!(
            creator(me, start, uid, false),
            Creator::Unsure {
                comm: None,
                why: Doubt::OtherPidNamespace
            }
        );
    }
}
