//! Configuration from the environment (`RSHM_LOG`, `RSHM_LOG_FILE`, `RSHM_LOG_FORMAT`,
//! `RSHM_STRICT`, `RSHM_REPORT`), read once and packed into one atomic word, so that
//! asking "is this level logged?" costs one atomic load. Also owns the log file
//! descriptor: opened once, and again in a forked child when the name holds `%p`.

use crate::buf::FixedBuf;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::*};
use libc::c_int;

/// How much is logged; each level includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Nothing.
    Off = 0,
    /// rshm's own trouble (a log write failed, a table was full).
    Error = 1,
    /// Failed calls and calls with a warning.
    Warn = 2,
    /// Every call.
    Info = 3,
    /// Every call, plus a first line with the configuration and the limits in use.
    Debug = 4,
    /// Everything rshm can say (at present the same lines as `Debug`).
    Trace = 5,
}

impl Level {
    fn from_bits(b: u64) -> Level {
        match b {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            5 => Level::Trace,
            _ => Level::Off,
        }
    }

    /// Parses `off`, `error`, `warn`, `info`, `debug` or `trace`.
    pub fn parse(s: &[u8]) -> Option<Level> {
        Some(match s {
            b"off" => Level::Off,
            b"error" => Level::Error,
            b"warn" => Level::Warn,
            b"info" => Level::Info,
            b"debug" => Level::Debug,
            b"trace" => Level::Trace,
            _ => return None,
        })
    }

    /// Upper-case name for the text format.
    pub fn upper(self) -> &'static str {
        ["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"][self as usize]
    }

    /// Lower-case name for JSON.
    pub fn lower(self) -> &'static str {
        ["off", "error", "warn", "info", "debug", "trace"][self as usize]
    }
}

/// The configuration in force, kept packed in one word as it is stored: asking for a
/// field is a shift and a mask, so a call that logs nothing does not unpack anything.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Config(u64);

/// The configuration's fields, unpacked (to build a [`Config`], and to show one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Lines at or below this level are written.
    pub level: Level,
    /// One JSON object a line instead of text.
    pub json: bool,
    /// `RSHM_STRICT=1`.
    pub strict: bool,
    /// `RSHM_REPORT=1`.
    pub report: bool,
    /// Where lines go (-1: nowhere).
    pub fd: c_int,
    /// The sink is a pipe or socket: a write to it may raise SIGPIPE, which the log
    /// must not let reach the program.
    pub pipe: bool,
}

const READY: u64 = 1 << 63;
const JSON: u64 = 1 << 8;
const STRICT: u64 = 1 << 9;
const REPORT: u64 = 1 << 10;
const PID_IN_NAME: u64 = 1 << 11;
const PIPE: u64 = 1 << 12;

fn pack(c: &Settings, pid_in_name: bool) -> u64 {
    READY
        | c.level as u64
        | if c.json { JSON } else { 0 }
        | if c.strict { STRICT } else { 0 }
        | if c.report { REPORT } else { 0 }
        | if pid_in_name { PID_IN_NAME } else { 0 }
        | if c.pipe { PIPE } else { 0 }
        | (u64::from(c.fd as u32) << 24)
}

impl Config {
    /// Nothing logged, nothing enforced beyond the library's own rules.
    const OFF: Config = Config(READY | ((-1i32 as u32 as u64) << 24));

    /// Lines at or below this level are written.
    #[inline]
    pub fn level(self) -> Level {
        Level::from_bits(self.0 & 0xff)
    }

    /// One JSON object a line instead of text.
    pub fn json(self) -> bool {
        self.0 & JSON != 0
    }

    /// `RSHM_STRICT=1`.
    #[inline]
    pub fn strict(self) -> bool {
        self.0 & STRICT != 0
    }

    /// `RSHM_REPORT=1`.
    #[inline]
    pub fn report(self) -> bool {
        self.0 & REPORT != 0
    }

    /// Where lines go (-1: nowhere).
    pub fn fd(self) -> c_int {
        ((self.0 >> 24) & 0xffff_ffff) as u32 as c_int
    }

    /// The sink is a pipe or socket (see [`Settings::pipe`]).
    pub fn pipe(self) -> bool {
        self.0 & PIPE != 0
    }

    /// The fields, unpacked.
    pub fn settings(self) -> Settings {
        Settings {
            level: self.level(),
            json: self.json(),
            strict: self.strict(),
            report: self.report(),
            fd: self.fd(),
            pipe: self.pipe(),
        }
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.settings().fmt(f)
    }
}

/// The packed configuration, in the hot line (every call reads it).
const WORD: &AtomicU64 = &crate::hot::HOT.config;
static INIT: AtomicU32 = AtomicU32::new(0);
static INIT_TID: AtomicI32 = AtomicI32::new(0);
/// The pid the log file was opened for.
static FILE_PID: AtomicI32 = AtomicI32::new(0);

/// The absolute log file name with `%p` still in it; written once, by the thread that
/// initialises, before `WORD` is published (and read only after).
struct Template(UnsafeCell<FixedBuf<4096>>);
// SAFETY: written only by the single initialising thread before WORD is published with
// Release; read only after WORD is seen with Acquire.
unsafe impl Sync for Template {}
static TEMPLATE: Template = Template(UnsafeCell::new(FixedBuf::new()));

/// The configuration, read from the environment the first time. `default` is the level
/// used when `RSHM_LOG` is unset (warn for the library, info for the preload library).
#[inline]
pub fn get(default: Level) -> Config {
    let w = WORD.load(Acquire);
    if w & READY != 0 {
        Config(w)
    } else {
        init(default)
    }
}

#[cold]
fn init(default: Level) -> Config {
    // Reading the environment and opening the log file must not change the caller's errno.
    let _errno = crate::error::ErrnoGuard::save();
    let me = crate::log::gettid();
    if INIT.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
        INIT_TID.store(me, Relaxed);
        let (c, pid_in_name) = read_env(default);
        let w = pack(&c, pid_in_name);
        WORD.store(w, Release);
        INIT.store(2, Release);
        return Config(w);
    }
    // Another thread is reading the environment. If it is this very thread (a signal
    // handler interrupted it), waiting would never end: run unlogged this once.
    if INIT_TID.load(Relaxed) != me {
        for _ in 0..100_000 {
            let w = WORD.load(Acquire);
            if w & READY != 0 {
                return Config(w);
            }
            // SAFETY: sched_yield takes no arguments.
            unsafe { libc::sched_yield() };
        }
    }
    Config::OFF
}

fn env(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns NULL or a NUL-terminated string that
    // lives in the environment, which rshm never modifies.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: non-NULL results of getenv are valid C strings.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
}

fn read_env(default: Level) -> (Settings, bool) {
    let mut c = Settings {
        level: default,
        json: false,
        strict: false,
        report: false,
        fd: 2,
        pipe: false,
    };
    if let Some(v) = env(c"RSHM_LOG") {
        match Level::parse(v) {
            Some(l) => c.level = l,
            None => say(format_args!(
                "rshm: RSHM_LOG={} is not one of off, error, warn, info, debug, trace; using {}\n",
                String8(v),
                default.lower()
            )),
        }
    }
    match env(c"RSHM_LOG_FORMAT") {
        None | Some(b"text") => {}
        Some(b"json") => c.json = true,
        Some(v) => say(format_args!(
            "rshm: RSHM_LOG_FORMAT={} is not text or json; using text\n",
            String8(v)
        )),
    }
    c.strict = env(c"RSHM_STRICT") == Some(b"1");
    c.report = env(c"RSHM_REPORT") == Some(b"1");
    let mut pid_in_name = false;
    // SAFETY: getauxval takes no pointers.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    if let Some(path) = env(c"RSHM_LOG_FILE").filter(|p| !p.is_empty() && !secure) {
        // SAFETY: only this thread writes TEMPLATE, and only now, before WORD is published.
        let t = unsafe { &mut *TEMPLATE.0.get() };
        absolute(t, path);
        pid_in_name = t.as_str().contains("%p");
        c.fd = open_log(t, getpid());
    }
    c.pipe = is_pipe(c.fd);
    (c, pid_in_name)
}

/// Writes `path` into `t`, made absolute against the current directory.
fn absolute(t: &mut FixedBuf<4096>, path: &[u8]) {
    if path.first() != Some(&b'/') {
        let mut cwd = [0u8; 4096];
        // SAFETY: getcwd writes at most cwd.len() bytes, NUL included, into cwd.
        let p = unsafe { libc::getcwd(cwd.as_mut_ptr().cast(), cwd.len()) };
        if !p.is_null() {
            let n = cwd.iter().position(|&b| b == 0).unwrap_or(0);
            t.push_str(core::str::from_utf8(&cwd[..n]).unwrap_or(""));
            if n > 1 {
                t.push_str("/");
            }
        }
    }
    t.push_fmt(format_args!("{}", String8(path)));
}

/// Opens the log file named by `template` with `%p` replaced by `pid`: append-only,
/// close-on-exec, created 0600. Says so once on standard error and returns -1 if it can't.
fn open_log(template: &FixedBuf<4096>, pid: i32) -> c_int {
    let mut name = FixedBuf::<4200>::new();
    let mut parts = template.as_str().split("%p");
    name.push_str(parts.next().unwrap_or(""));
    for rest in parts {
        name.push_fmt(format_args!("{pid}{rest}"));
    }
    FILE_PID.store(pid, Relaxed);
    // SAFETY: `name` is NUL-terminated (FixedBuf keeps a NUL after the text).
    let fd = unsafe {
        libc::open(
            name.as_c_ptr().cast(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        let e = crate::error::errno();
        say(format_args!(
            "rshm: cannot open log file {}: {}; logging is off\n",
            name,
            crate::names::errno_name(e)
        ));
        return fd;
    }
    // Move it out of the way of the program's own descriptors: a program that closes a
    // low fd and opens a file of its own must not find rshm's lines in it.
    // SAFETY: duplicating the fd just opened.
    let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, HIGH_FD) };
    if high < 0 {
        return fd;
    }
    // SAFETY: closing the original of the duplicate just made.
    unsafe { libc::close(fd) };
    high
}

/// The lowest descriptor number the log file gets.
const HIGH_FD: c_int = 512;

/// True if `fd` is a pipe or a socket (where a write can raise SIGPIPE).
fn is_pipe(fd: c_int) -> bool {
    if fd < 0 {
        return false;
    }
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes one struct stat into `st`.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: zeroed is a valid struct stat and fstat filled it in.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    mode == libc::S_IFIFO || mode == libc::S_IFSOCK
}

/// The log descriptor for this process. In a forked child whose log file name holds
/// `%p`, the first call opens the child's own file and closes the parent's copy.
pub fn fd_for(pid: i32, c: &Config) -> c_int {
    let w = WORD.load(Acquire);
    if w & PID_IN_NAME == 0 {
        return c.fd();
    }
    let owner = FILE_PID.load(Relaxed);
    if owner == pid
        || FILE_PID
            .compare_exchange(owner, pid, Relaxed, Relaxed)
            .is_err()
    {
        return Config(WORD.load(Acquire)).fd();
    }
    // SAFETY: TEMPLATE was written before WORD was published, and is never written again.
    let t = unsafe { &*TEMPLATE.0.get() };
    let fd = open_log(t, pid);
    let pipe = is_pipe(fd);
    let mut cur = w;
    loop {
        let mut n = Config(cur).settings();
        n.fd = fd;
        n.pipe = pipe;
        match WORD.compare_exchange(cur, pack(&n, true), AcqRel, Acquire) {
            Ok(_) => break,
            Err(x) => cur = x,
        }
    }
    let old = Config(cur).fd();
    if old >= 0 && old != fd {
        // SAFETY: `old` is the parent's log fd, inherited, used by nobody else here now.
        unsafe { libc::close(old) };
    }
    fd
}

/// This process's pid (cached; see [`crate::pid`]).
pub fn getpid() -> i32 {
    crate::pid::current()
}

/// Writes a message of rshm's own to standard error with one write(2).
pub fn say(args: core::fmt::Arguments<'_>) {
    let _errno = crate::error::ErrnoGuard::save();
    let line = FixedBuf::<512>::from_fmt(args);
    crate::log::write_no_sigpipe(2, line.as_bytes());
}

/// Bytes from the environment shown as text (invalid UTF-8 as `?`).
struct String8<'a>(&'a [u8]);

impl core::fmt::Display for String8<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("?")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_word_round_trips() {
        for c in [
            Settings {
                level: Level::Trace,
                json: true,
                strict: true,
                report: false,
                fd: 7,
                pipe: true,
            },
            Settings {
                level: Level::Off,
                json: false,
                strict: false,
                report: true,
                fd: -1,
                pipe: false,
            },
            Settings {
                level: Level::Warn,
                json: false,
                strict: false,
                report: false,
                fd: 2,
                pipe: false,
            },
        ] {
            assert_eq!(Config(pack(&c, false)).settings(), c);
        }
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse(b"debug"), Some(Level::Debug));
        assert_eq!(Level::parse(b"WARN"), None);
        assert!(Level::Info > Level::Warn && Level::Error > Level::Off);
    }

    #[test]
    fn relative_log_names_are_made_absolute() {
        let mut t = FixedBuf::<4096>::new();
        absolute(&mut t, b"/var/log/x.%p");
        assert_eq!(t.as_str(), "/var/log/x.%p");
        let mut t = FixedBuf::<4096>::new();
        absolute(&mut t, b"rel.log");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(t.as_str(), format!("{}/rel.log", cwd.display()));
    }
}
