//! The error every operation returns (an errno; its sentence waits in the thread's last
//! error), errno access, and the per-thread last error behind `rshm_last_error()`.
//!
//! This is the C path's error: allocation-free, and not reachable from outside the crate
//! (the sibling crates only pass it to `boundary`). The Rust API's public
//! `rshm_core::Error` (api_error.rs) copies the sentence out of it the moment a call
//! fails, so that one keeps its sentence after later failures and across threads.

use crate::buf::FixedBuf;
use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering::*};
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
        set_last(Last {
            seq,
            msg: Msg::from_fmt(args),
        });
        Self { errno, seq }
    }

    /// The sentence, e.g. `rshm_get: size 0 is below SHMMIN (1) for a new segment`.
    /// Kept once per thread, as `rshm_last_error()` keeps it: read after a later failure
    /// in this thread, or in another thread, it says only that it was replaced (it never
    /// gives another failure's sentence).
    #[cold]
    pub fn message(&self) -> Msg {
        let last = last_entry();
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

/// The last errors, one slot per thread that has failed a call, found by its kernel
/// thread id. Not a thread-local: in a library loaded by dlopen, glibc allocates a
/// thread's thread-locals on first use, and that first use may be inside a signal handler
/// that interrupted malloc. Slots are claimed with a compare-and-swap and only the owning
/// thread writes its slot; a slot whose thread is gone (after it exited, or in a forked
/// child, where only the forking thread lives on) is taken over when no free one is left.
const SLOTS: usize = 512;

struct Slot {
    /// The owning thread's kernel id; 0: free.
    tid: AtomicI32,
    last: UnsafeCell<Last>,
}

// SAFETY: `last` is written only by the thread whose id is in `tid` (claimed by CAS), and
// read by that thread, or after it is gone.
unsafe impl Sync for Slot {}

#[allow(clippy::declare_interior_mutable_const)] // the initialiser of each element, no more
const FREE: Slot = Slot {
    tid: AtomicI32::new(0),
    last: UnsafeCell::new(Last {
        msg: Msg::new(),
        seq: 0,
    }),
};

static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

/// With more threads alive that have failed calls than there are slots, the rest share
/// this one (their sentences may then be each other's).
static SHARED: Slot = FREE;

fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Whether thread `tid` of this process still exists.
fn alive(tid: i32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists; nothing is sent.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) };
    r == 0 || crate::error::errno() != libc::ESRCH
}

/// This thread's slot, claimed if it has none yet (a fresh slot reads as "no failure").
fn slot() -> &'static Slot {
    let _errno = ErrnoGuard::save();
    let me = gettid();
    let start = (me as u32 as usize).wrapping_mul(0x9E37_79B9) % SLOTS;
    // Its own slot, or a free one.
    for i in 0..SLOTS {
        let s = &TABLE[(start + i) % SLOTS];
        match s.tid.load(Acquire) {
            t if t == me => return s,
            0 => {
                if s.tid.compare_exchange(0, me, AcqRel, Acquire).is_ok() {
                    return fresh(s);
                }
                if s.tid.load(Acquire) == me {
                    return s;
                }
            }
            _ => {}
        }
    }
    // None free: take over the slot of a thread that is gone.
    for i in 0..SLOTS {
        let s = &TABLE[(start + i) % SLOTS];
        let t = s.tid.load(Acquire);
        if !alive(t) && s.tid.compare_exchange(t, me, AcqRel, Acquire).is_ok() {
            return fresh(s);
        }
    }
    &SHARED
}

fn fresh(s: &'static Slot) -> &'static Slot {
    // SAFETY: this thread has just claimed the slot; nobody else writes it now.
    unsafe {
        *s.last.get() = Last {
            msg: Msg::new(),
            seq: 0,
        }
    };
    s
}

/// Pointer to this thread's last failure as a NUL-terminated string; it stays valid
/// until this thread's next failed call (and after the thread exits, until another thread
/// takes its slot over).
pub fn last_ptr() -> *const u8 {
    let s = slot();
    // SAFETY: the slot is this thread's: only this thread writes it.
    let last = unsafe { &mut *s.last.get() };
    if last.msg.is_empty() {
        last.msg = Msg::from_fmt(format_args!("{NO_ERROR}"));
    }
    // `Last` is repr(C) with the message first, and a `Msg` starts with its text.
    s.last.get() as *const u8
}

/// This thread's last failure, as text (for Rust callers and tests).
pub fn last() -> Msg {
    // SAFETY: the slot is this thread's: only this thread writes it.
    let m = unsafe { (*slot().last.get()).msg };
    if m.is_empty() {
        Msg::from_fmt(format_args!("{NO_ERROR}"))
    } else {
        m
    }
}

fn last_entry() -> Last {
    // SAFETY: the slot is this thread's: only this thread writes it.
    unsafe { *slot().last.get() }
}

fn set_last(l: Last) {
    // SAFETY: the slot is this thread's: only this thread writes it.
    unsafe { *slot().last.get() = l };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_keeps_its_own_last_error_and_gone_threads_give_their_slots_back() {
        // More threads, one after another, than there are slots: the later ones take over
        // the slots of the ones that have exited.
        for i in 0..SLOTS + 100 {
            let ok = std::thread::spawn(move || {
                let fresh = last().as_str() == NO_ERROR;
                let e = Error::new(libc::EINVAL, format_args!("rshm_at: thread {i}"));
                fresh && e.message().as_str() == format!("rshm_at: thread {i}")
            })
            .join()
            .unwrap();
            assert!(ok, "thread {i}");
        }
        // Two live threads at once never see each other's sentence.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let run = |n: u32, b: std::sync::Arc<std::sync::Barrier>| {
            std::thread::spawn(move || {
                let _ = Error::new(libc::EINVAL, format_args!("rshm_dt: mine is {n}"));
                b.wait();
                let _ = Error::new(libc::EINVAL, format_args!("rshm_dt: mine is {n}!"));
                b.wait();
                last().as_str() == format!("rshm_dt: mine is {n}!")
            })
        };
        let (a, b) = (run(1, barrier.clone()), run(2, barrier));
        assert!(a.join().unwrap() && b.join().unwrap());
    }

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
