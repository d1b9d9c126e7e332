//! The error every operation returns ({errno, sentence}), errno access, and the
//! per-thread last error behind `rshm_last_error()`.

use crate::buf::FixedBuf;
use core::cell::Cell;
use core::fmt;
use libc::c_int;

/// Room for one error sentence, NUL included.
pub const MSG_CAP: usize = 256;

/// A sentence in a fixed buffer: no heap, so it can be built inside a signal handler.
pub type Msg = FixedBuf<MSG_CAP>;

/// Why a call failed: the errno the caller sees and a sentence that names the call,
/// the argument and the rule.
#[derive(Clone, Copy)]
pub struct Error {
    /// The errno value (`EINVAL`, `ENOENT`, ...).
    pub errno: c_int,
    /// The sentence, e.g. `rshm_get: size 0 is below SHMMIN (1) for a new segment`.
    pub msg: Msg,
}

impl Error {
    /// An error with `errno` and the formatted sentence.
    pub fn new(errno: c_int, args: fmt::Arguments<'_>) -> Self {
        Self {
            errno,
            msg: Msg::from_fmt(args),
        }
    }

    /// The sentence.
    pub fn message(&self) -> &str {
        self.msg.as_str()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.msg, crate::names::errno_name(self.errno))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// This thread's errno.
pub fn errno() -> c_int {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's errno.
pub fn set_errno(value: c_int) {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = value }
}

/// Restores errno to what it was when the guard was made: logging and bookkeeping run
/// inside one, so the caller never sees an errno they did not cause.
pub struct ErrnoGuard(c_int);

impl ErrnoGuard {
    /// Remembers the current errno.
    pub fn save() -> Self {
        Self(errno())
    }
}

impl Drop for ErrnoGuard {
    fn drop(&mut self) {
        set_errno(self.0);
    }
}

const NO_ERROR: &str = "no rshm call has failed in this thread";

thread_local! {
    // A Copy type in a Cell with a const initialiser: no destructor, no lazy
    // registration, no allocation, so it may be touched inside a signal handler.
    static LAST: Cell<Msg> = const { Cell::new(Msg::new()) };
}

/// Records `msg` as this thread's last failure.
pub fn set_last(msg: &Msg) {
    LAST.with(|c| c.set(*msg));
}

/// Pointer to this thread's last failure as a NUL-terminated string; it stays valid
/// for the life of the thread and its text changes at the next failed call.
pub fn last_ptr() -> *const u8 {
    LAST.with(|c| {
        if c.get().is_empty() {
            c.set(Msg::from_fmt(format_args!("{NO_ERROR}")));
        }
        c.as_ptr() as *const u8
    })
}

/// This thread's last failure, as text (for Rust callers and tests).
pub fn last() -> Msg {
    let m = LAST.with(|c| c.get());
    if m.is_empty() {
        Msg::from_fmt(format_args!("{NO_ERROR}"))
    } else {
        m
    }
}
