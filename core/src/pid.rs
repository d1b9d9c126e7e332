//! This process's pid without a system call per use. The pid is cached in a page of
//! this library's static memory that the kernel wipes in a forked child
//! (`MADV_WIPEONFORK`), so a child reads 0 and asks again: no pthread_atfork handler, no
//! lock, safe in a signal handler. The page is static, not mapped on demand: a mapping
//! made in the middle of a program could land in a hole the program has just made by
//! detaching a segment, and take the address it means to attach at again. Where the
//! kernel refuses (before 4.14), every use asks the kernel.
//!
//! The page is set up (the madvise, which splits the library's zero-initialised mapping
//! in two: about 10 us) at the first use, not when the library is loaded: most programs
//! the preload library is loaded into never make a call. The constructors only note which
//! process loaded the library ([`at_load`]); only that process sets the page up and fills
//! it, so a child sharing its memory (vfork, posix_spawn, CLONE_VM) that calls first
//! never leaves its own pid there. A child of that process that calls before it has set
//! the page up asks the kernel at each use.

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

/// The pid of the process whose constructor ran ([`at_load`]); 0 if none did (a Rust
/// program using this crate directly). Not wiped: a forked child reads its parent's.
static LOADER: AtomicI32 = AtomicI32::new(0);

/// This process's pid, asked of the kernel (no cache).
///
/// On x86-64 Linux the system call is made inline rather than through libc's wrapper:
/// the constructor asks in every exec ([`at_load`]), and libc's `getpid` lies on a page
/// of libc's code that most programs never touch (one more fault, and 64 KiB more of
/// libc mapped, in every exec under the preload library).
pub fn getpid() -> i32 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let pid: libc::c_long;
        // SAFETY: getpid takes no arguments, cannot fail and touches no memory; `syscall`
        // clobbers rcx and r11 and nothing else, and does not touch the stack.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") libc::SYS_getpid => pid,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        pid as i32
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe {
        libc::getpid()
    }
}

/// Called by the library's and the preload library's constructors, before main: notes
/// that this process loaded the library, the one that may set up and fill the page.
pub fn at_load() {
    LOADER.store(getpid(), Relaxed);
}

/// The first use in this memory: sets the page up if this is the process that loaded the
/// library (or no constructor ran), else answers without touching it.
#[cold]
fn first() -> i32 {
    let pid = getpid();
    let loader = LOADER.load(Relaxed);
    if loader != 0 && loader != pid {
        // A child of the loading process, made before that process's first use: its
        // memory may be the parent's (vfork, CLONE_VM), so the page is left alone.
        return pid;
    }
    setup(pid);
    pid
}

/// Asks for the page to be wiped on fork and fills it with `pid` before saying it is set
/// up, so that no use ever sees it set up and empty in this process.
#[cold]
fn setup(pid: i32) {
    let _errno = crate::error::ErrnoGuard::save();
    let addr = &PAGE as *const Page as *mut libc::c_void;
    // SAFETY: PAGE is a whole, page-aligned page of this library's static memory;
    // MADV_WIPEONFORK changes only what a forked child sees of it.
    let ok = unsafe { libc::madvise(addr, 4096, libc::MADV_WIPEONFORK) } == 0;
    if ok {
        PAGE.pid.store(pid, Relaxed);
    }
    // Racing threads make the same madvise call and store the same values.
    STATE.store(if ok { 1 } else { 2 }, Release);
}

/// This process's pid.
#[inline]
pub fn current() -> i32 {
    let state = match STATE.load(Acquire) {
        0 => return first(),
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
