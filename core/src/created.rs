//! Whether a shmget made the segment ("created" in the log, the registry and the exit
//! report), decided around the program's own call, which goes to the backend exactly as
//! the program made it: an interposer loaded after rshm sees only the program's calls.
//!
//! - `IPC_PRIVATE`, and `IPC_CREAT|IPC_EXCL` that succeeds: made by this call (the kernel's
//!   rule). A call without `IPC_CREAT` never makes one.
//! - Get-or-create (`IPC_CREAT` alone, on a named key): before the call, rshm asks the
//!   kernel directly whether the key has a segment (`shmget(key, 0, 0)`). If it had one and
//!   the call returns that id, the call found it. Otherwise the segment was made after the
//!   question, by this process or by another: rshm asks its creator's pid (`SHM_STAT_ANY`,
//!   no read permission needed). Another pid: found (a pid reused from the segment's dead
//!   maker cannot match, since the maker made it while this process was alive). This pid:
//!   made by this call, unless another creating call of this process (another thread, or a
//!   signal handler) ran at the same moment; such overlapping calls share a window and each
//!   that sees this process as the maker claims the id there: the first claim is logged as
//!   the maker, so the process logs exactly one creation of the segment.
//!
//! What is not exact: two threads of one process that make a creating call for the same
//! key at the same moment are told apart by their claims, not by which of the two the
//! kernel served first; and when one of them is `IPC_CREAT|IPC_EXCL`, both may be logged
//! as the maker. A segment the process makes with a raw system call, bypassing rshm, at
//! that same moment is not seen.
//!
//! The window and the claims are lock-free words: a signal handler may make a call in the
//! middle of another. A forked child starts a window of its own (the words carry the pid).

use crate::backend::{self, Backend, Direct};
use core::sync::atomic::{AtomicU64, Ordering::*};
use libc::{c_int, key_t, shmid_ds};

/// The creating calls in flight in this process: pid (high 32 bits), window number (16),
/// calls in flight (low 16). A window opens when the count leaves 0.
static WINDOW: AtomicU64 = AtomicU64::new(0);

/// Claims made in the current window: pid (low 16 bits) and window number, then the id.
static CLAIMS: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

/// The tag of a window state: its pid's low 16 bits and its number.
fn tag_of(window: u64) -> u64 {
    (window >> 32 & 0xffff) << 16 | (window >> 16) & 0xffff
}

/// A creating call's place in the window; closing it leaves the window.
pub struct Window {
    /// The pid and window number the claims of this window carry (upper 32 bits of a claim).
    tag: u64,
}

impl Window {
    /// Enters the window of the creating calls in flight (opens one if none is).
    pub fn enter(pid: i32) -> Window {
        let me = pid as u32 as u64;
        let mut v = WINDOW.load(Relaxed);
        loop {
            let (owner, number, count) = (v >> 32, (v >> 16) & 0xffff, v & 0xffff);
            // A window of this pid with calls in flight is joined; otherwise (none, or one
            // inherited from the parent across fork) a new one opens.
            let n = if owner == me && count > 0 && count < 0xffff {
                v + 1
            } else {
                me << 32 | ((number + 1) & 0xffff) << 16 | 1
            };
            match WINDOW.compare_exchange_weak(v, n, AcqRel, Relaxed) {
                Ok(_) => return Window { tag: tag_of(n) },
                Err(now) => v = now,
            }
        }
    }

    /// Claims `id` as made by the caller: true for the first claim of `id` in this window.
    pub fn claim(&self, id: c_int) -> bool {
        let entry = self.tag << 32 | id as u32 as u64;
        let start = (id as u32).wrapping_mul(0x9e37_79b1) as usize >> 28;
        for i in 0..CLAIMS.len() {
            let slot = &CLAIMS[(start + i) % CLAIMS.len()];
            let mut v = slot.load(Acquire);
            loop {
                if v == entry {
                    return false;
                }
                if v >> 32 == self.tag {
                    break; // another id of this window: the next slot
                }
                // A claim of an earlier window: taken.
                match slot.compare_exchange(v, entry, AcqRel, Acquire) {
                    Ok(_) => return true,
                    Err(now) => v = now,
                }
            }
        }
        // Sixteen other segments made in one window: this one is not told apart.
        true
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let mut v = WINDOW.load(Relaxed);
        loop {
            // A window replaced meanwhile (a forked child's own) is left alone.
            if tag_of(v) != self.tag || v & 0xffff == 0 {
                return;
            }
            match WINDOW.compare_exchange_weak(v, v - 1, AcqRel, Relaxed) {
                Ok(_) => return,
                Err(now) => v = now,
            }
        }
    }
}

/// What a get-or-create found before its call: the key's segment then, if it had one.
pub fn before(key: key_t) -> Option<c_int> {
    let _errno = crate::error::ErrnoGuard::save();
    let id = Direct.shmget(key, 0, 0);
    // ENOENT: no segment. (Another refusal cannot come from a lookup of size 0 and no
    // permission bits; were it to, the call is not taken for a maker.)
    (id >= 0 || crate::error::errno() != libc::ENOENT).then_some(id)
}

/// Whether the get-or-create that returned `id` made it, given what [`before`] found; with
/// the segment's state when rshm had to ask for it (its owner serves the squatting warning).
pub fn decide(w: &Window, found: Option<c_int>, id: c_int) -> (bool, Option<shmid_ds>) {
    if found == Some(id) {
        return (false, None);
    }
    let ds = backend::stat_any(&Direct, id).ok();
    // SAFETY: getpid takes no arguments and cannot fail (the kernel's answer, not a cache: a
    // CLONE_VM child shares this library's memory).
    let me = unsafe { libc::getpid() };
    let made = ds.is_some_and(|ds| ds.shm_cpid == me) && w.claim(id);
    (made, ds)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn pid() -> i32 {
        // SAFETY: getpid takes no arguments and cannot fail.
        unsafe { libc::getpid() }
    }

    // Ids no kernel gives in these tests (other tests may share the window meanwhile).
    const ID: c_int = 0x7fff_ff00;

    #[test]
    fn the_first_claim_of_an_id_in_a_window_wins() {
        let a = Window::enter(pid());
        let b = Window::enter(pid());
        assert_eq!(a.tag, b.tag, "overlapping calls share a window");
        assert!(a.claim(ID));
        assert!(!b.claim(ID), "the second claim of the id loses");
        assert!(!a.claim(ID), "whoever makes it");
        assert!(b.claim(ID + 1), "another id is claimed apart");
        // More ids than places (in the same test: a full table takes every claim, so it
        // would disturb the checks above in a test running beside it).
        for i in 0..40 {
            assert!(a.claim(ID + 0x10 + i), "id {i}");
        }
    }

    #[test]
    fn a_forked_child_opens_a_window_of_its_own() {
        let parent = Window::enter(pid());
        assert!(parent.claim(ID + 0x80));
        // SAFETY: the child only touches atomics, calls getpid and _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // The parent's call in flight is in a thread the child does not have: the
            // child's calls neither join its window nor see its claims.
            let w = Window::enter(pid());
            let ok = w.tag != parent.tag && w.claim(ID + 0x80);
            // SAFETY: leaving the child without running the test harness.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut st = 0;
        // SAFETY: waiting for the child just forked.
        unsafe { libc::waitpid(child, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
        assert!(!parent.claim(ID + 0x80), "the parent's claim stands");
    }
}
