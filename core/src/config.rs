//! Configuration from the environment (`RSHM_LOG`, `RSHM_LOG_FILE`, `RSHM_LOG_FORMAT`,
//! `RSHM_STRICT`, `RSHM_REPORT`), read once and packed into one atomic word, so that
//! asking "is this level logged?" costs one atomic load. The log file itself is the
//! sink's ([`crate::sink`]).

use crate::buf::FixedBuf;
use core::ffi::CStr;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::*};

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

    /// The level numbered `b` (its `as u8`), if there is one.
    pub fn from_u8(b: u8) -> Option<Level> {
        (b <= 5).then(|| Level::from_bits(b.into()))
    }

    /// Parses `off`, `error`, `warn`, `info`, `debug` or `trace`, in any case.
    pub fn parse(s: &[u8]) -> Option<Level> {
        const NAMES: [&[u8]; 6] = [b"off", b"error", b"warn", b"info", b"debug", b"trace"];
        let i = NAMES.iter().position(|n| n.eq_ignore_ascii_case(s))?;
        Some(Level::from_bits(i as u64))
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
}

const READY: u64 = 1 << 63;
const JSON: u64 = 1 << 8;
const STRICT: u64 = 1 << 9;
const REPORT: u64 = 1 << 10;

fn pack(c: &Settings) -> u64 {
    READY
        | c.level as u64
        | if c.json { JSON } else { 0 }
        | if c.strict { STRICT } else { 0 }
        | if c.report { REPORT } else { 0 }
}

impl Config {
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

    /// Whether anything the process's history (the registry: what it attached and made,
    /// and whether it made it) can be shown under this configuration: a log line at `warn`
    /// or above (a failure's explanation, "already detached"; "created"; the squatting
    /// warning; at `info`, the note on a removal while attached), the exit report
    /// (`RSHM_REPORT=1`, shown at any level but `off`), or `RSHM_STRICT=1` (its refusal of
    /// a squatted key). Nothing else reads that history but the linkable library's own API
    /// (`rshm_attachment_count()`, `rshm_last_error()`), which the preload library does not
    /// have: see [`crate::shm::Api::records`]. The configuration is read once, so this
    /// never changes in a process (nor in its forked children).
    #[inline]
    pub fn shows_history(self) -> bool {
        self.level() >= Level::Warn
            || (self.report() && self.level() != Level::Off)
            || self.strict()
    }

    /// The fields, unpacked.
    pub fn settings(self) -> Settings {
        Settings {
            level: self.level(),
            json: self.json(),
            strict: self.strict(),
            report: self.report(),
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
/// 0: not read; 1: being read by the thread INIT_TID of process INIT_PID; 2: read.
static INIT: AtomicU32 = AtomicU32::new(0);
static INIT_TID: AtomicI32 = AtomicI32::new(0);
static INIT_PID: AtomicI32 = AtomicI32::new(0);

/// The configuration, read from the environment the first time (the library and the
/// preload library read it in their constructors, before main; this is the fallback).
/// `default` is the level used when `RSHM_LOG` is unset (error for the library, info for
/// the preload library).
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
    // Asked of the kernel: the pid cache is set up at the first call, not here (see
    // crate::pid), and this runs in the constructor.
    let pid = crate::pid::getpid();
    // SAFETY: gettid takes no arguments and cannot fail.
    let me = unsafe { libc::gettid() };
    loop {
        if INIT.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
            INIT_TID.store(me, Relaxed);
            INIT_PID.store(pid, Relaxed);
            let c = read_env(default);
            let w = pack(&c);
            WORD.store(w, Release);
            INIT.store(2, Release);
            return Config(w);
        }
        // Another thread is reading the environment. In a child forked while it was, that
        // thread does not exist here: take the reading over.
        if INIT_PID.load(Relaxed) != pid
            && INIT.load(Acquire) == 1
            && INIT.compare_exchange(1, 0, AcqRel, Relaxed).is_ok()
        {
            continue;
        }
        // If it is this very thread (a signal handler interrupted it), waiting would never
        // end: run with the defaults this once.
        if INIT_TID.load(Relaxed) == me && INIT_PID.load(Relaxed) == pid {
            return Config(pack(&defaults(default)));
        }
        for _ in 0..1000 {
            let w = WORD.load(Acquire);
            if w & READY != 0 {
                return Config(w);
            }
            core::hint::spin_loop();
        }
        // SAFETY: sched_yield takes no arguments.
        unsafe { libc::sched_yield() };
    }
}

/// True once the configuration has been read.
pub fn ready() -> bool {
    WORD.load(Acquire) & READY != 0
}

/// Reads the configuration now, if nothing has yet: the library's and the preload
/// library's constructors call this (through `shm::init_early`), so no call (in a signal
/// handler, or racing a fork) ever has to.
pub fn init_early(default: Level) -> Config {
    // This process is the one that may fill the pid cache: a child sharing its memory
    // (CLONE_VM) and calling first would otherwise fill it with the child's pid.
    crate::pid::at_load();
    get(default)
}

fn defaults(level: Level) -> Settings {
    Settings {
        level,
        json: false,
        strict: false,
        report: false,
    }
}

fn env(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns NULL or a NUL-terminated string that
    // lives in the environment, which rshm never modifies.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: non-NULL results of getenv are valid C strings.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// The words RSHM_STRICT and RSHM_REPORT take, in any case: yes, no, or neither (said
/// on standard error, unless `quiet`).
fn switch(name: &str, v: &[u8], quiet: bool) -> bool {
    const YES: [&[u8]; 4] = [b"1", b"yes", b"true", b"on"];
    const NO: [&[u8]; 4] = [b"0", b"no", b"false", b"off"];
    if YES.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        return true;
    }
    if !quiet && !NO.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        say(format_args!(
            "rshm: {name}={} is not one of 1 yes true on / 0 no false off; using off\n",
            crate::sink::Shown(v)
        ));
    }
    false
}

fn read_env(default: Level) -> Settings {
    let mut c = defaults(default);
    // Under rshm-trace, the tracer decides what is shown: every call is an event whatever
    // RSHM_LOG says (a traced program may set it for its children), and nothing of rshm's
    // is written on the program's standard error.
    let socket = env(crate::load_name!("RSHM_TRACE_SOCKET")).filter(|p| !p.is_empty());
    let traced = socket.is_some();
    let say = |args: core::fmt::Arguments<'_>| {
        if !traced {
            say(args)
        }
    };
    if let Some(v) = env(crate::load_name!("RSHM_LOG")) {
        match Level::parse(v) {
            Some(l) => c.level = l,
            None => say(format_args!(
                "rshm: RSHM_LOG={} is not one of off, error, warn, info, debug, trace; using {}\n",
                crate::sink::Shown(v),
                default.lower()
            )),
        }
    }
    match env(crate::load_name!("RSHM_LOG_FORMAT")) {
        None => {}
        Some(v) if v.eq_ignore_ascii_case(b"text") => {}
        Some(v) if v.eq_ignore_ascii_case(b"json") => c.json = true,
        Some(v) => say(format_args!(
            "rshm: RSHM_LOG_FORMAT={} is not text or json; using text\n",
            crate::sink::Shown(v)
        )),
    }
    c.strict =
        env(crate::load_name!("RSHM_STRICT")).is_some_and(|v| switch("RSHM_STRICT", v, traced));
    c.report =
        env(crate::load_name!("RSHM_REPORT")).is_some_and(|v| switch("RSHM_REPORT", v, traced));
    // Asked only when a file is named (one libc call fewer in every exec).
    // SAFETY: getauxval takes no pointers.
    let secure = || unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    // rshm-trace's channel comes first: its events are the trace, whatever the level.
    if let Some(path) = socket {
        c.level = c.level.max(Level::Info);
        crate::sink::set_off();
        // A set-user-id program is not made to wait on a socket its caller chose.
        if !secure() && !crate::channel::set(path) {
            say(format_args!(
                "rshm: RSHM_TRACE_SOCKET ({}) is not a socket name of at most {} bytes; nothing is traced\n",
                crate::sink::Shown(&path[..path.len().min(120)]),
                crate::channel::PATH_MAX
            ));
        }
        return c;
    }
    match env(crate::load_name!("RSHM_LOG_FILE")).filter(|p| !p.is_empty() && !secure()) {
        // Nothing to open when nothing is logged.
        Some(path) if c.level != Level::Off => crate::sink::set_file(path, crate::pid::getpid()),
        _ => crate::sink::set_stderr(),
    }
    c
}

/// This process's pid (cached; see [`crate::pid`]).
pub fn getpid() -> i32 {
    crate::pid::current()
}

/// Writes a message of rshm's own to standard error with one write(2), bounded and
/// without SIGPIPE like a log line.
pub fn say(args: core::fmt::Arguments<'_>) {
    let _errno = crate::error::ErrnoGuard::save();
    let line = FixedBuf::<512>::from_fmt(args);
    crate::sink::say(line.as_bytes());
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
            },
            Settings {
                level: Level::Off,
                json: false,
                strict: false,
                report: true,
            },
            Settings {
                level: Level::Warn,
                json: false,
                strict: false,
                report: false,
            },
        ] {
            assert_eq!(Config(pack(&c)).settings(), c);
        }
    }

    #[test]
    fn levels_parse_in_any_case_and_order() {
        assert_eq!(Level::parse(b"debug"), Some(Level::Debug));
        assert_eq!(Level::parse(b"WARN"), Some(Level::Warn));
        assert_eq!(Level::parse(b"Trace"), Some(Level::Trace));
        assert_eq!(Level::parse(b"off"), Some(Level::Off));
        assert_eq!(Level::parse(b"warning"), None);
        assert_eq!(Level::parse(b""), None);
        assert!(Level::Info > Level::Warn && Level::Error > Level::Off);
    }

    #[test]
    fn a_child_forked_while_another_thread_read_the_configuration_reads_it_itself() {
        let _ = get(Level::Warn);
        // SAFETY: the child only touches this module's statics and exits with _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // As the child of a fork made while some thread of the parent was in init():
            // "being read" by a process that is not this one, the word not yet published.
            INIT.store(1, Relaxed);
            INIT_PID.store(getpid() + 1, Relaxed);
            INIT_TID.store(-1, Relaxed);
            WORD.store(0, Relaxed);
            let c = get(Level::Info);
            let ok = ready() && INIT.load(Relaxed) == 2 && INIT_PID.load(Relaxed) == getpid();
            // SAFETY: leaving the child without running the test harness.
            unsafe { libc::_exit(if ok && c.level() >= Level::Off { 0 } else { 1 }) };
        }
        let mut st = 0;
        // SAFETY: waiting for the child just forked.
        unsafe { libc::waitpid(child, &mut st, 0) };
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "the child read it itself"
        );
    }

    #[test]
    fn switches_take_the_documented_words_in_any_case() {
        for w in ["1", "yes", "YES", "true", "True", "on", "ON"] {
            assert!(switch("RSHM_STRICT", w.as_bytes(), false), "{w}");
        }
        for w in ["0", "no", "No", "false", "FALSE", "off", "Off"] {
            assert!(!switch("RSHM_STRICT", w.as_bytes(), false), "{w}");
        }
    }
}
