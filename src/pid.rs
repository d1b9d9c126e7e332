//! This process's pid without a system call per use. The pid is cached in a page the
//! kernel wipes in a forked child (`MADV_WIPEONFORK`), so a child reads 0 and asks
//! again: no pthread_atfork handler, no lock, safe in a signal handler. Where the kernel
//! lacks `MADV_WIPEONFORK` (before 4.14) every use asks the kernel.

use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering::*};

/// The cache page; null until the first use, `UNSUPPORTED` if it could not be set up.
static PAGE: AtomicPtr<AtomicI32> = AtomicPtr::new(core::ptr::null_mut());
const UNSUPPORTED: *mut AtomicI32 = core::ptr::dangling_mut();

fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::getpid() }
}

#[cold]
fn setup() -> *mut AtomicI32 {
    let _errno = crate::error::ErrnoGuard::save();
    // SAFETY: a fresh private anonymous page; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    let page = if p == libc::MAP_FAILED {
        UNSUPPORTED
    // SAFETY: `p` is the page just mapped.
    } else if unsafe { libc::madvise(p, 4096, libc::MADV_WIPEONFORK) } != 0 {
        // SAFETY: unmapping the page just mapped, which nothing else uses.
        unsafe { libc::munmap(p, 4096) };
        UNSUPPORTED
    } else {
        p.cast()
    };
    match PAGE.compare_exchange(core::ptr::null_mut(), page, AcqRel, Acquire) {
        Ok(_) => page,
        Err(winner) => {
            if page != UNSUPPORTED {
                // SAFETY: another thread's page won; this one was never published.
                unsafe { libc::munmap(page.cast(), 4096) };
            }
            winner
        }
    }
}

/// This process's pid.
#[inline]
pub fn current() -> i32 {
    let mut page = PAGE.load(Acquire);
    if page.is_null() {
        page = setup();
    }
    if page == UNSUPPORTED {
        return getpid();
    }
    // SAFETY: `page` is a live, never unmapped page holding an AtomicI32 at its start
    // (all zeroes after mmap or a fork, which is a valid AtomicI32).
    let cached = unsafe { &*page };
    match cached.load(Relaxed) {
        0 => {
            let pid = getpid();
            cached.store(pid, Relaxed);
            pid
        }
        pid => pid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
