//! This process's pid without a system call per use. The pid is cached in a page of
//! this library's static memory that the kernel wipes in a forked child
//! (`MADV_WIPEONFORK`), so a child reads 0 and asks again: no pthread_atfork handler, no
//! lock, safe in a signal handler. The page is static, not mapped on demand: a mapping
//! made in the middle of a program could land in a hole the program has just made by
//! detaching a segment, and take the address it means to attach at again. Where the
//! kernel refuses (before 4.14), every use asks the kernel.

use core::sync::atomic::{AtomicI32, AtomicU8, Ordering::*};

/// A page of its own, in zero-initialised (anonymous) static memory.
#[repr(C, align(4096))]
struct Page {
    pid: AtomicI32,
    _rest: [u8; 4092],
}

static PAGE: Page = Page {
    pid: AtomicI32::new(0),
    _rest: [0; 4092],
};

/// 0: not set up; 1: the page is wiped on fork; 2: it could not be (ask every time).
/// (A word of the hot line: every call reads it.)
const STATE: &AtomicU8 = &crate::hot::HOT.pid_page;

fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::getpid() }
}

#[cold]
fn setup() -> u8 {
    let _errno = crate::error::ErrnoGuard::save();
    let addr = &PAGE as *const Page as *mut libc::c_void;
    // SAFETY: PAGE is a whole, page-aligned page of this library's static memory;
    // MADV_WIPEONFORK changes only what a forked child sees of it.
    let ok = unsafe { libc::madvise(addr, 4096, libc::MADV_WIPEONFORK) } == 0;
    let state = if ok { 1 } else { 2 };
    // Racing threads make the same madvise call and store the same state.
    STATE.store(state, Release);
    state
}

/// This process's pid.
#[inline]
pub fn current() -> i32 {
    let state = match STATE.load(Acquire) {
        0 => setup(),
        s => s,
    };
    if state != 1 {
        return getpid();
    }
    match PAGE.pid.load(Relaxed) {
        0 => {
            let pid = getpid();
            PAGE.pid.store(pid, Relaxed);
            pid
        }
        pid => pid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_page_is_wiped_on_fork() {
        assert_eq!(current(), getpid());
        assert_eq!(STATE.load(Relaxed), 1, "MADV_WIPEONFORK on the static page");
    }

    #[test]
    fn matches_getpid_here_and_in_a_forked_child() {
        assert_eq!(current(), getpid());
        // SAFETY: the child only calls async-signal-safe functions and _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let ok = current() == getpid();
            // SAFETY: leaving the child without running the parent's test harness.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut st = 0;
        // SAFETY: waiting for the child just forked.
        unsafe { libc::waitpid(child, &mut st, 0) };
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "the child saw its own pid"
        );
        assert_eq!(current(), getpid());
    }
}
