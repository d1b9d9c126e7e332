//! The error every operation returns (an errno; its sentence waits in the thread's last
//! error), errno access, and the per-thread last error behind `rshm_last_error()`.

use crate::buf::FixedBuf;
use core::cell::Cell;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use libc::c_int;

/// Room for one error sentence, NUL included.
pub const MSG_CAP: usize = 256;

/// A sentence in a fixed buffer: no heap, so it can be built inside a signal handler.
pub type Msg = FixedBuf<MSG_CAP>;

/// Why a call failed: the errno the caller sees, and (through [`Error::message`]) a
/// sentence that names the call, the argument and the rule.
///
/// The sentence is not carried in the value: making an `Error` writes it into this
/// thread's last error, where `rshm_last_error()` reads it, and the `Error` keeps only a
/// number saying which failure it is. So an `Error` is 16 bytes, and the call path never
/// moves a 256-byte sentence around just in case one is needed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// The errno value (`EINVAL`, `ENOENT`, ...).
    pub errno: c_int,
    /// Which failure of the process this is (see [`Error::message`]).
    seq: u64,
}

/// Numbers the failures of the process, so an `Error` can tell whether its thread's last
/// error is still its own sentence.
static SEQ: AtomicU64 = AtomicU64::new(1);

impl Error {
    /// An error with `errno`; `args`, formatted, becomes this thread's last error.
    #[cold]
    pub fn new(errno: c_int, args: fmt::Arguments<'_>) -> Self {
        let seq = SEQ.fetch_add(1, Relaxed);
        LAST.with(|c| {
            c.set(Last {
                seq,
                msg: Msg::from_fmt(args),
            })
        });
        Self { errno, seq }
    }

    /// The sentence, e.g. `rshm_get: size 0 is below SHMMIN (1) for a new segment`.
    /// Kept once per thread, as `rshm_last_error()` keeps it: read after a later failure
    /// in this thread, or in another thread, it says only that it was replaced (it never
    /// gives another failure's sentence).
    #[cold]
    pub fn message(&self) -> Msg {
        let last = LAST.with(|c| c.get());
        if last.seq == self.seq {
            last.msg
        } else {
            Msg::from_fmt(format_args!(
                "{} (the sentence was replaced by a later failure in this thread, or the \
                 error was made in another thread)",
                crate::names::errno_name(self.errno)
            ))
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.message(),
            crate::names::errno_name(self.errno)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().as_str())
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

/// A thread's last failure: its sentence and which failure it was (0: none yet).
#[derive(Clone, Copy)]
#[repr(C)]
struct Last {
    msg: Msg,
    seq: u64,
}

thread_local! {
    // A Copy type in a Cell with a const initialiser: no destructor, no lazy
    // registration, no allocation, so it may be touched inside a signal handler.
    static LAST: Cell<Last> = const { Cell::new(Last { msg: Msg::new(), seq: 0 }) };
}

/// Pointer to this thread's last failure as a NUL-terminated string; it stays valid
/// for the life of the thread and its text changes at the next failed call.
pub fn last_ptr() -> *const u8 {
    LAST.with(|c| {
        let mut last = c.get();
        if last.msg.is_empty() {
            last.msg = Msg::from_fmt(format_args!("{NO_ERROR}"));
            c.set(last);
        }
        // `Last` is repr(C) with the message first, and a `Msg` starts with its text.
        c.as_ptr() as *const u8
    })
}

/// This thread's last failure, as text (for Rust callers and tests).
pub fn last() -> Msg {
    let m = LAST.with(|c| c.get()).msg;
    if m.is_empty() {
        Msg::from_fmt(format_args!("{NO_ERROR}"))
    } else {
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_small_and_its_sentence_is_the_last_error() {
        assert_eq!(core::mem::size_of::<Error>(), 16);
        assert_eq!(core::mem::size_of::<Result<usize, Error>>(), 24);
        let e = Error::new(
            libc::ENOENT,
            format_args!("rshm_get: no segment has key 0x{:x}", 7),
        );
        assert_eq!(e.errno, libc::ENOENT);
        assert_eq!(e.message().as_str(), "rshm_get: no segment has key 0x7");
        assert_eq!(last().as_str(), "rshm_get: no segment has key 0x7");
    }

    #[test]
    fn a_replaced_sentence_is_never_passed_off_as_another_failures() {
        let first = Error::new(libc::EINVAL, format_args!("rshm_at: first"));
        let second = Error::new(libc::EACCES, format_args!("rshm_at: second"));
        assert_eq!(second.message().as_str(), "rshm_at: second");
        assert_eq!(
            first.message().as_str(),
            "EINVAL (the sentence was replaced by a later failure in this thread, or the \
             error was made in another thread)"
        );
        let moved = std::thread::spawn(move || second.message()).join().unwrap();
        assert!(
            moved
                .as_str()
                .starts_with("EACCES (the sentence was replaced")
        );
    }
}
