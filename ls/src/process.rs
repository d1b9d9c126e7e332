//! What /proc says of one process: its command, user, state and start time, and whether
//! a segment's creator is still the process with that pid.

use crate::sys;
use std::sync::OnceLock;

/// The kernel-thread flag of /proc/PID/stat's flags field (PF_KTHREAD).
const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of /proc/PID/stat rshm-ls uses (readable for every process).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The command (/proc/PID/comm).
    pub comm: String,
    /// The state letter (R, S, Z, ...).
    pub state: char,
    /// The process flags (PF_*).
    pub flags: u64,
    /// When it started, in clock ticks after boot.
    pub start_ticks: u64,
}

impl Stat {
    /// Parses a /proc/PID/stat line. The command is in parentheses and may itself hold
    /// spaces and parentheses: the fields start after the last `)`.
    pub fn parse(text: &str) -> Option<Stat> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let comm = text.get(open + 1..close)?.to_string();
        let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
        // rest[0] is field 3 (state); flags is field 9, starttime field 22.
        Some(Stat {
            comm,
            state: rest.first()?.chars().next()?,
            flags: rest.get(6)?.parse().ok()?,
            start_ticks: rest.get(19)?.parse().ok()?,
        })
    }

    /// A kernel thread: it has no memory map, so it attaches nothing.
    pub fn kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// Exited (a zombie waiting for its parent, or dead): it holds no attachment and can
    /// detach nothing.
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// When it started, in seconds since the epoch (boot time plus the start ticks).
    pub fn start_epoch(&self) -> Option<f64> {
        Some(boot_time()? as f64 + self.start_ticks as f64 / sys::clock_ticks() as f64)
    }
}

/// /proc/PID/stat, or None if the process is gone or the file unreadable.
pub fn stat(pid: i32) -> Option<Stat> {
    Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The effective uid of process `pid` (from /proc/PID/status).
pub fn euid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
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

/// What became of a segment's creator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Creator {
    /// cpid is 0: the creator is in a pid namespace this one cannot see.
    Unknown,
    /// A process with that pid runs and started before the segment's ctime.
    Alive {
        /// Its command.
        comm: String,
    },
    /// No process has that pid (or it is a zombie).
    Exited,
    /// A process has that pid but started after the segment's ctime: a new process.
    Reused {
        /// The new process's command.
        comm: String,
    },
}

impl Creator {
    /// Whether the creator is known to be gone.
    pub fn gone(&self) -> bool {
        matches!(self, Creator::Exited | Creator::Reused { .. })
    }
}

/// Whether the process `cpid` is still the creator of a segment changed last at `ctime`.
/// `kill(cpid, 0)` says whether the pid exists; then, since shm_ctime is set at creation
/// (and by IPC_SET, only ever later), a process with that pid that started after it
/// cannot be the creator: the pid was reused.
pub fn creator(cpid: i32, ctime: i64) -> Creator {
    if cpid <= 0 {
        return Creator::Unknown;
    }
    if !sys::process_exists(cpid) {
        return Creator::Exited;
    }
    let Some(st) = stat(cpid) else {
        // Gone between the two looks.
        return Creator::Exited;
    };
    if st.exited() {
        return Creator::Exited;
    }
    match st.start_epoch() {
        Some(start) if start > ctime as f64 + SLACK_SECS => Creator::Reused { comm: st.comm },
        _ => Creator::Alive { comm: st.comm },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_with_spaces_and_parentheses_is_read_whole() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        let st = Stat::parse(line).unwrap();
        assert_eq!(st.comm, "a (b) c");
        assert_eq!(st.state, 'S');
        assert_eq!(st.flags, 4194560);
        assert_eq!(st.start_ticks, 123456);
        assert!(!st.kernel_thread() && !st.exited());
    }

    #[test]
    fn this_process_is_alive_and_its_own_creator_until_it_started() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap();
        let start = st.start_epoch().unwrap() as i64;
        assert!(matches!(creator(me, start), Creator::Alive { .. }));
        // A segment changed last well before this process started: not its creator.
        assert!(matches!(creator(me, start - 10), Creator::Reused { .. }));
        assert_eq!(creator(0, start), Creator::Unknown);
    }
}
