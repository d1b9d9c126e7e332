//! The few libc calls rshm-ls makes outside the segment table: errno, sysconf, kill,
//! isatty, and the System V commands libc does not name.

use libc::c_int;

/// `IPC_INFO`: the system limits (`struct shminfo`).
pub const IPC_INFO: c_int = 3;
/// `SHM_STAT`: `IPC_STAT` by index into the kernel's table; needs read permission.
pub const SHM_STAT: c_int = 13;
/// `SHM_INFO`: usage (`struct shm_info`); returns the highest index in use.
pub const SHM_INFO: c_int = 14;
/// `SHM_STAT_ANY`: `SHM_STAT` without the read permission check (Linux 4.17).
pub const SHM_STAT_ANY: c_int = 15;
/// The mode bit of a segment marked for removal (`IPC_RMID` while attached).
pub const SHM_DEST: u32 = 0o1000;
/// The mode bit of a segment locked in memory (`SHM_LOCK`).
pub const SHM_LOCKED: u32 = 0o2000;

/// The calling thread's errno.
pub fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The size of a page, in bytes (what SHMALL counts in).
pub fn page_size() -> u64 {
    // SAFETY: sysconf takes a constant and has no other effect.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}

/// Clock ticks a second, the unit of a process's start time in /proc/PID/stat.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf takes a constant and has no other effect.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if n > 0 { n as u64 } else { 100 }
}

/// Whether a process `pid` exists, by `kill(pid, 0)`: EPERM (not ours to signal) means it
/// does, ESRCH that it does not. Sends nothing.
pub fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || errno() == libc::EPERM
}

/// Whether this process runs as root (effective uid 0).
pub fn root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The current time, in seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether file descriptor `fd` is a terminal.
pub fn is_tty(fd: c_int) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}
