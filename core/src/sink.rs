//! Where log lines go, and the rules that keep a sink from harming the program:
//!
//! - Opening never blocks: a FIFO is opened with `O_NONBLOCK` (no reader yet: the lines
//!   are dropped and counted until one opens it).
//! - A line the sink cannot take within [`WAIT_MS`] milliseconds (a full pipe whose reader
//!   stopped, a terminal held by ^S) is dropped and counted; the count goes out with the
//!   next line that gets through, and at exit.
//! - A line is whole in the file or absent: a short write to a regular file (a full disk)
//!   is taken back when nothing was appended after it.
//! - SIGPIPE never reaches the program: it is blocked around writes to pipes, FIFOs and
//!   sockets and taken back if the write raised it.
//! - rshm never closes, writes or keeps using a descriptor it does not own: before each
//!   line it checks that its descriptor still carries the flags it opened it with
//!   (`F_GETFL`), and after a fork, a failed write, a flag mismatch, or when the
//!   descriptor is below 512, that it is still the file it opened (`fstat`: device and
//!   inode). If the program closed it or reused the number, rshm leaves that descriptor
//!   alone and opens its file again by name, so a daemon that closes every descriptor
//!   keeps its trace. In a forked child with `%p` in the name, the child opens its own
//!   file and closes its inherited copy of the parent's only if it is still that file.
//! - Standard error (the default sink) is the program's: rshm writes to whatever
//!   descriptor 2 is at the time, with the same bounded wait and SIGPIPE rule.
//!
//! Everything here is async-signal-safe: no allocation, no lock, no stdio.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering::*};
use libc::c_int;

/// How long a line may wait for a sink that cannot take it, in milliseconds.
pub const WAIT_MS: i64 = 50;

/// The longest log file name rshm opens, NUL excluded (PATH_MAX - 1). A longer name is
/// refused whole, never cut.
pub const NAME_MAX: usize = 4095;

/// The lowest descriptor number the log file gets, out of the way of a program's own.
const HIGH_FD: c_int = 512;

const OFF: u8 = 0;
const STDERR: u8 = 1;
const FILE: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(STDERR);
/// rshm's own descriptor for the log file (-1: not open now; opened again by name).
static FD: AtomicI32 = AtomicI32::new(-1);
/// What FD is: the device and inode of the file rshm opened.
static DEV: AtomicU64 = AtomicU64::new(0);
static INO: AtomicU64 = AtomicU64::new(0);
/// The process that opened FD (a forked child with `%p` in the name opens its own).
static OPENED_BY: AtomicI32 = AtomicI32::new(0);
/// The file type of FD (S_IFREG, S_IFIFO, ...), as opened.
static FD_MODE: AtomicU32 = AtomicU32::new(0);
/// A write to FD failed: check that it is still rshm's before the next one.
static SUSPECT: AtomicBool = AtomicBool::new(false);
static PID_IN_NAME: AtomicBool = AtomicBool::new(false);
/// Lines dropped since the last line that got through, and in all.
static LOST: AtomicU64 = AtomicU64::new(0);
static LOST_TOTAL: AtomicU64 = AtomicU64::new(0);
/// Whether rshm said (once) that writing or reopening the log failed.
static SAID: AtomicBool = AtomicBool::new(false);
/// The last line timed out: until one gets through, lines do not wait (a stopped reader
/// must not cost the program the bound on every call).
static STUCK: AtomicBool = AtomicBool::new(false);

/// A file name as bytes, exactly as given (no UTF-8 required), NUL-terminated.
pub struct Name {
    bytes: [u8; NAME_MAX + 1],
    len: usize,
}

impl Name {
    /// An empty name.
    pub const fn new() -> Name {
        Name {
            bytes: [0; NAME_MAX + 1],
            len: 0,
        }
    }

    /// Appends `b`; false (and nothing appended) if the name would exceed [`NAME_MAX`].
    pub fn push(&mut self, b: &[u8]) -> bool {
        let Some(end) = self.len.checked_add(b.len()).filter(|&e| e <= NAME_MAX) else {
            return false;
        };
        self.bytes[self.len..end].copy_from_slice(b);
        self.len = end;
        self.bytes[end] = 0;
        true
    }

    /// The bytes, NUL excluded.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The name with each `%p` replaced by `pid`; false if that is too long.
    fn expand(&self, pid: i32, out: &mut Name) -> bool {
        out.len = 0;
        out.bytes[0] = 0;
        let mut digits = crate::buf::FixedBuf::<16>::new();
        digits.push_i64(pid.into());
        let mut rest = self.as_bytes();
        while let Some(i) = rest.windows(2).position(|w| w == b"%p") {
            if !out.push(&rest[..i]) || !out.push(digits.as_bytes()) {
                return false;
            }
            rest = &rest[i + 2..];
        }
        out.push(rest)
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::new()
    }
}

/// Shows a name's bytes as text: printable ASCII as is, every other byte as `\xNN`, so
/// the message names exactly the file rshm tried.
pub struct Shown<'a>(pub &'a [u8]);

impl core::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                f.write_str(core::str::from_utf8(&[b]).unwrap_or("?"))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// The log file's name with `%p` still in it: written once, by the thread that reads the
/// configuration, before the configuration is published (and read only after).
struct Template(UnsafeCell<Name>);
// SAFETY: written only by the single initialising thread before the configuration word is
// published with Release; read only after it is seen with Acquire.
unsafe impl Sync for Template {}
static TEMPLATE: Template = Template(UnsafeCell::new(Name::new()));

/// Where lines go, for the configuration line: "standard error", "file", "nowhere" or
/// "rshm-trace" (its channel).
pub fn kind() -> &'static str {
    if crate::channel::active() {
        return "rshm-trace";
    }
    match MODE.load(Relaxed) {
        OFF => "nowhere",
        STDERR => "standard error",
        _ => "file",
    }
}

/// Logs go nowhere.
pub fn set_off() {
    MODE.store(OFF, Release);
}

/// Logs go to standard error (the default).
pub fn set_stderr() {
    MODE.store(STDERR, Release);
}

/// Makes `path` the log file (relative names are taken against the current directory,
/// now) and opens it for `pid`. Says why on standard error and turns logging off when
/// the name is too long or the file cannot be opened; a FIFO with no reader yet is not
/// an error (its lines are dropped and counted until a reader comes).
///
/// Must be called by the one thread that reads the configuration, before any line.
pub fn set_file(path: &[u8], pid: i32) {
    // SAFETY: see Template: only the initialising thread writes it, and only now.
    let t = unsafe { &mut *TEMPLATE.0.get() };
    match absolute(t, path) {
        Ok(()) => {}
        Err(Unnamed::TooLong(len)) => {
            // The name itself would not fit the message: its start, and its length.
            crate::config::say(format_args!(
                "rshm: RSHM_LOG_FILE ({}...) is {len} bytes long once made absolute; the limit is {NAME_MAX}; logging is off\n",
                Shown(&path[..path.len().min(40)]),
            ));
            set_off();
            return;
        }
        Err(Unnamed::Cwd(e)) => {
            crate::config::say(format_args!(
                "rshm: RSHM_LOG_FILE ({}{}) is a relative name and the current directory cannot be named (getcwd: {}){}; logging is off\n",
                Shown(&path[..path.len().min(40)]),
                if path.len() > 40 { "..." } else { "" },
                crate::names::errno_name(e),
                if e == libc::ERANGE {
                    ": its path is longer than the limit of 4095 bytes"
                } else {
                    ""
                },
            ));
            set_off();
            return;
        }
    }
    PID_IN_NAME.store(t.as_bytes().windows(2).any(|w| w == b"%p"), Relaxed);
    MODE.store(FILE, Release);
    match open_named(pid) {
        Ok(_) => {}
        // ENXIO is also what opening a socket gives: that never changes.
        Err((e, name)) if e == libc::ENXIO && !is_socket(&name) => {
            crate::config::say(format_args!(
                "rshm: log file {} is a FIFO with no reader; lines are dropped and counted until one opens it\n",
                Shown(name.as_bytes())
            ))
        }
        Err((e, name)) if e == libc::ENXIO => {
            crate::config::say(format_args!(
                "rshm: log file {} is a socket, which cannot be opened as a file; logging is off\n",
                Shown(name.as_bytes())
            ));
            set_off();
        }
        Err((e, name)) => {
            crate::config::say(format_args!(
                "rshm: cannot open log file {}: {}; logging is off\n",
                Shown(name.as_bytes()),
                crate::names::errno_name(e)
            ));
            set_off();
        }
    }
}

/// Why a relative log file name could not be made absolute.
enum Unnamed {
    /// The absolute name would be this many bytes, over [`NAME_MAX`].
    TooLong(usize),
    /// getcwd failed with this errno (the directory was removed; ERANGE: its path alone is
    /// longer than [`NAME_MAX`]).
    Cwd(c_int),
}

/// Writes `path` into `t`, made absolute against the current directory.
fn absolute(t: &mut Name, path: &[u8]) -> Result<(), Unnamed> {
    t.len = 0;
    let mut n = 0;
    let mut cwd = [0u8; NAME_MAX + 1];
    if path.first() != Some(&b'/') {
        // SAFETY: getcwd writes at most cwd.len() bytes, NUL included, into cwd.
        let p = unsafe { libc::getcwd(cwd.as_mut_ptr().cast(), cwd.len()) };
        if p.is_null() {
            return Err(Unnamed::Cwd(crate::error::errno()));
        }
        n = cwd.iter().position(|&b| b == 0).unwrap_or(0);
    }
    let sep = usize::from(n > 1);
    if n + sep + path.len() > NAME_MAX {
        return Err(Unnamed::TooLong(n + sep + path.len()));
    }
    let fits = t.push(&cwd[..n]) && (sep == 0 || t.push(b"/")) && t.push(path);
    debug_assert!(fits, "checked against NAME_MAX above");
    Ok(())
}

/// Whether the file named `name` is a socket (it cannot be opened: ENXIO, like a FIFO
/// without a reader).
fn is_socket(name: &Name) -> bool {
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `name` is NUL-terminated; stat writes one struct stat into `st`.
    if unsafe { libc::stat(name.bytes.as_ptr().cast(), st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: zeroed is a valid struct stat and stat filled it in.
    unsafe { st.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFSOCK
}

/// What an open descriptor is.
pub(crate) struct Ident {
    /// Its device.
    pub dev: u64,
    /// Its inode.
    pub ino: u64,
    /// Its file type (S_IFREG, S_IFSOCK, ...).
    pub mode: u32,
}

/// What descriptor `fd` is, if it is open.
pub(crate) fn fstat(fd: c_int) -> Option<Ident> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes one struct stat into `st`.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: zeroed is a valid struct stat and fstat filled it in.
    let st = unsafe { st.assume_init() };
    Some(Ident {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode & libc::S_IFMT,
    })
}

/// Opens the log file for `pid` and makes it rshm's descriptor (replacing `FD`'s value
/// only if it is still `-1` or the descriptor this call found stale).
fn open_named(pid: i32) -> Result<(c_int, u32), (c_int, Name)> {
    // SAFETY: TEMPLATE was written before the configuration was published, never again.
    let t = unsafe { &*TEMPLATE.0.get() };
    let mut name = Name::new();
    if !t.expand(pid, &mut name) {
        return Err((libc::ENAMETOOLONG, name));
    }
    // SAFETY: `name` is NUL-terminated.
    let fd = unsafe {
        libc::open(
            name.bytes.as_ptr().cast(),
            libc::O_WRONLY
                | libc::O_CREAT
                | libc::O_APPEND
                | libc::O_CLOEXEC
                | libc::O_NONBLOCK
                | libc::O_NOCTTY,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err((crate::error::errno(), name));
    }
    let fd = match out_of_the_way(fd) {
        Ok(fd) => fd,
        Err(e) => return Err((e, name)),
    };
    let Some(id) = fstat(fd) else {
        let e = crate::error::errno();
        // SAFETY: rshm's own descriptor, just opened.
        unsafe { libc::close(fd) };
        return Err((e, name));
    };
    DEV.store(id.dev, Relaxed);
    INO.store(id.ino, Relaxed);
    OPENED_BY.store(pid, Relaxed);
    FD_MODE.store(id.mode, Relaxed);
    SUSPECT.store(false, Relaxed);
    FD.store(fd, Release);
    Ok((fd, id.mode))
}

/// Moves rshm's own new descriptor `fd` out of the way of the program's: to HIGH_FD and
/// up where the limit allows; where it does not, it stays where it is (the identity
/// check before each use keeps rshm out of the program's files), but never on 0, 1 or 2
/// (the lowest free numbers after a daemon closed everything: the program's next open
/// would not get the standard descriptor it expects). On failure `fd` is closed and the
/// errno returned.
pub(crate) fn out_of_the_way(fd: c_int) -> Result<c_int, c_int> {
    // SAFETY: duplicating rshm's own descriptor.
    let mut high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, HIGH_FD) };
    if high < 0 && fd <= 2 {
        // SAFETY: as above, to the lowest free number from 3.
        high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if high < 0 {
            let e = crate::error::errno();
            // SAFETY: rshm's own descriptor, just made; no standard one may stay rshm's.
            unsafe { libc::close(fd) };
            return Err(e);
        }
    }
    if high < 0 {
        return Ok(fd);
    }
    // SAFETY: closing the original of the duplicate just made; both are rshm's.
    unsafe { libc::close(fd) };
    Ok(high)
}

/// rshm's descriptor for the log file and what it is, checked to still be the file rshm
/// opened; opened again by name if the program closed or reused it, or if this is a
/// forked child with `%p` in the name.
fn own_fd(pid: i32) -> Option<(c_int, u32)> {
    let fd = FD.load(Acquire);
    // The common case costs one cheap system call: a descriptor out of the program's way
    // (HIGH_FD and up), opened by this process, whose last write went well, and whose
    // status flags are still rshm's own signature (O_WRONLY|O_APPEND|O_NONBLOCK, which a
    // program's file at that number would hardly carry). Anything else gets the full
    // check (fstat: the device and inode rshm opened).
    if fd >= HIGH_FD
        && OPENED_BY.load(Relaxed) == pid
        && !SUSPECT.load(Relaxed)
        && has_our_flags(fd)
    {
        return Some((fd, FD_MODE.load(Relaxed)));
    }
    if fd >= 0 {
        if let Some(id) = fstat(fd) {
            if id.dev == DEV.load(Relaxed) && id.ino == INO.load(Relaxed) {
                if OPENED_BY.load(Relaxed) == pid || !PID_IN_NAME.load(Relaxed) {
                    // Still rshm's, in this process too (a forked child keeps its parent's
                    // file when the name has no %p): the fast path again from now on.
                    OPENED_BY.store(pid, Relaxed);
                    SUSPECT.store(false, Relaxed);
                    return Some((fd, id.mode));
                }
                // A forked child: its own file. The inherited descriptor is rshm's (it is
                // still the parent's file), so the child's copy is closed.
                if FD.compare_exchange(fd, -1, AcqRel, Acquire).is_ok() {
                    // SAFETY: rshm's inherited copy, checked above to be the log file.
                    unsafe { libc::close(fd) };
                }
                return reopen(pid);
            }
        }
        // Not rshm's any more (closed, or the number reused by the program): forget it,
        // never close it.
        let _ = FD.compare_exchange(fd, -1, AcqRel, Acquire);
    }
    reopen(pid)
}

/// The open file description's flags rshm gives its own: write-only, append, non-blocking.
const SIGNATURE: c_int = libc::O_WRONLY | libc::O_APPEND | libc::O_NONBLOCK;

fn has_our_flags(fd: c_int) -> bool {
    // SAFETY: F_GETFL reads the descriptor's flags; no pointer is passed.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    fl >= 0 && fl & (libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK) == SIGNATURE
}

fn reopen(pid: i32) -> Option<(c_int, u32)> {
    match open_named(pid) {
        Ok(r) => Some(r),
        Err((e, name)) => {
            if e != libc::ENXIO && !SAID.swap(true, Relaxed) {
                crate::config::say(format_args!(
                    "rshm: cannot open log file {} again: {}; log lines are being lost\n",
                    Shown(name.as_bytes()),
                    crate::names::errno_name(e)
                ));
            }
            None
        }
    }
}

/// What became of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written whole.
    Written,
    /// Dropped (and counted).
    Lost,
    /// Logging is off: nothing to write to.
    Off,
}

/// Lines dropped since the last line that got through: the next line reports them.
pub fn lost_pending() -> u64 {
    LOST.load(Relaxed)
}

/// Lines dropped in this process's life.
pub fn lost_total() -> u64 {
    LOST_TOTAL.load(Relaxed)
}

/// Writes one whole line (at most PIPE_BUF bytes) to the sink. `reported` is the
/// [`lost_pending`] count the line carries: once it is written, those are reported.
pub fn write(line: &[u8], pid: i32, reported: u64) -> Outcome {
    let (fd, mode) = match MODE.load(Acquire) {
        OFF => return Outcome::Off,
        STDERR => match fstat(2) {
            Some(id) => (2, id.mode),
            // Standard error is closed: nowhere to write, and nothing lost to report.
            None => return Outcome::Off,
        },
        _ => match own_fd(pid) {
            Some(r) => r,
            None => return lost(),
        },
    };
    let mut r = write_whole(fd, mode, line);
    if matches!(r, Err(e) if e != 0) && fd != 2 {
        // The descriptor may no longer be rshm's (a daemon closed it): check, open the
        // file again if so, and try the line once more.
        SUSPECT.store(true, Relaxed);
        r = match own_fd(pid) {
            Some((fd, mode)) => write_whole(fd, mode, line),
            None => return lost(),
        };
    }
    match r {
        Ok(()) => {
            STUCK.store(false, Relaxed);
            if reported > 0 {
                LOST.fetch_sub(reported.min(LOST.load(Relaxed)), Relaxed);
            }
            Outcome::Written
        }
        Err(e) => {
            if e != 0 {
                failed(e);
            }
            lost()
        }
    }
}

fn lost() -> Outcome {
    LOST.fetch_add(1, Relaxed);
    LOST_TOTAL.fetch_add(1, Relaxed);
    Outcome::Lost
}

/// Writes rshm's own message to standard error, bounded like a log line.
pub fn say(bytes: &[u8]) {
    if let Some(id) = fstat(2) {
        let _ = write_whole(2, id.mode, bytes);
    }
}

/// Milliseconds on the monotonic clock.
fn now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec
        .saturating_mul(1000)
        .saturating_add(ts.tv_nsec / 1_000_000)
}

/// Waits until `fd` can take bytes, at most until `deadline` (ms; [`WAIT_MS`] from the
/// first wait, or none at all while the sink is stuck). False on time-out.
fn wait_writable(fd: c_int, deadline: &mut Option<i64>) -> bool {
    let budget = if STUCK.load(Relaxed) { 0 } else { WAIT_MS };
    let end = *deadline.get_or_insert_with(|| now_ms().saturating_add(budget));
    loop {
        let left = end.saturating_sub(now_ms()).max(0);
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        let r = unsafe { libc::poll(&mut p, 1, left.min(i64::from(c_int::MAX)) as c_int) };
        if r > 0 {
            // POLLERR / POLLHUP: the write will fail at once and say why.
            return true;
        }
        if r == 0 || left == 0 {
            STUCK.store(true, Relaxed);
            return false;
        }
        if crate::error::errno() != libc::EINTR {
            return false;
        }
    }
}

/// Writes all of `line` to `fd` within the bounded wait, or none of it where the sink
/// allows taking a part back. `Err(errno)` if it failed, `Err(0)` if the wait ran out.
fn write_whole(fd: c_int, mode: u32, line: &[u8]) -> Result<(), c_int> {
    let regular = mode == libc::S_IFREG;
    let pipe = mode == libc::S_IFIFO;
    let socket = mode == libc::S_IFSOCK;
    let mut deadline = None;
    let mut done = 0usize;
    while done < line.len() {
        // A regular file never makes a writer wait long; anything else (a pipe, a FIFO, a
        // terminal, a socket) may, so it is polled first.
        if !regular && !wait_writable(fd, &mut deadline) {
            return Err(0);
        }
        let rest = &line[done..];
        let n = if socket {
            // SAFETY: the buffer is valid for rest.len() bytes.
            unsafe {
                libc::send(
                    fd,
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            }
        } else if pipe {
            write_no_sigpipe(fd, rest)
        } else {
            // SAFETY: the buffer is valid for rest.len() bytes.
            unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) }
        };
        if n < 0 {
            match crate::error::errno() {
                libc::EINTR => continue,
                // Full (a descriptor of rshm's own is non-blocking): wait, within the bound.
                libc::EAGAIN => {
                    if !wait_writable(fd, &mut deadline) {
                        return Err(0);
                    }
                    continue;
                }
                e => return Err(e),
            }
        }
        let n = n as usize;
        if regular && n < rest.len() {
            // A full disk or a file size limit: the rest will not go either (its errno
            // says why); take the part back, so the file never holds a cut line glued
            // to the next.
            // SAFETY: the buffer is valid for the bytes after the first n.
            let m = unsafe { libc::write(fd, rest[n..].as_ptr().cast(), rest.len() - n) };
            if m >= 0 && m as usize == rest.len() - n {
                done += rest.len();
                continue;
            }
            let e = if m < 0 {
                crate::error::errno()
            } else {
                libc::ENOSPC
            };
            take_back(fd, n + m.max(0) as usize);
            return Err(e);
        }
        done += n;
    }
    Ok(())
}

/// Removes the last `n` bytes of the regular file behind `fd`, if they are still its end
/// (another writer may have appended since; then they stay, and the line is cut).
fn take_back(fd: c_int, n: usize) {
    // SAFETY: lseek and fstat on a descriptor; neither dereferences anything of ours.
    let end = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes one struct stat into `st`.
    if end < 0 || unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return;
    }
    // SAFETY: zeroed is a valid struct stat and fstat filled it in.
    if unsafe { st.assume_init() }.st_size == end {
        // SAFETY: shortening the file by the bytes this very write added.
        unsafe { libc::ftruncate(fd, end - n as libc::off_t) };
    }
}

fn failed(e: c_int) {
    if !SAID.swap(true, Relaxed) {
        let msg = crate::buf::FixedBuf::<160>::from_fmt(format_args!(
            "rshm: writing the log failed ({}); lines are dropped and counted\n",
            crate::names::errno_name(e)
        ));
        // Not through `say` when the log is standard error itself: it just failed.
        if MODE.load(Relaxed) != STDERR {
            say(msg.as_bytes());
        }
    }
}

/// write(2) to a pipe or FIFO without letting SIGPIPE reach the program: the signal is
/// blocked for this thread around the write and, if the write raised it (and it was not
/// already pending), taken back before it is unblocked.
pub fn write_no_sigpipe(fd: c_int, bytes: &[u8]) -> isize {
    // SAFETY: sigset_t is plain data; each call gets valid pointers to locals.
    unsafe {
        let mut pipe_only: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        let mut pending: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut pipe_only);
        libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, &mut old);
        // A SIGPIPE can be pending for this thread only if the program had it blocked.
        let was_pending = libc::sigismember(&old, libc::SIGPIPE) == 1
            && libc::sigpending(&mut pending) == 0
            && libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let e = crate::error::errno();
        if n < 0 && e == libc::EPIPE && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe_only, core::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
        crate::error::set_errno(e);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_byte_for_byte_and_refused_whole_when_too_long() {
        let mut n = Name::new();
        assert!(n.push(b"/tmp/\xff\xfe-log.%p"));
        let mut out = Name::new();
        assert!(n.expand(4242, &mut out));
        assert_eq!(out.as_bytes(), b"/tmp/\xff\xfe-log.4242");
        let long = [b'a'; NAME_MAX];
        let mut n = Name::new();
        assert!(n.push(&long));
        assert!(!n.push(b"b"), "one byte over is refused");
        assert_eq!(n.as_bytes().len(), NAME_MAX, "and nothing was appended");
        let mut t = Name::new();
        let cwd_len = std::env::current_dir().unwrap().as_os_str().len();
        assert!(
            matches!(absolute(&mut t, &long), Err(Unnamed::TooLong(n)) if n == cwd_len + 1 + NAME_MAX),
            "relative: the directory makes it too long, and the length says by how much"
        );
    }

    #[test]
    fn shown_names_escape_every_byte_that_is_not_printable_ascii() {
        let s = format!("{}", Shown(b"/tmp/a b\xff\\\n"));
        assert_eq!(s, "/tmp/a b\\xff\\x5c\\x0a");
    }

    #[test]
    fn a_pid_in_the_name_is_expanded_everywhere() {
        let mut n = Name::new();
        assert!(n.push(b"%p/x.%p.log%"));
        let mut out = Name::new();
        assert!(n.expand(7, &mut out));
        assert_eq!(out.as_bytes(), b"7/x.7.log%");
    }
}
