//! The run's life: rshm-trace is the child subreaper of every process the command
//! starts, reads their events as they come, passes on the signals sent to it, and ends
//! when the last descendant has exited (or, with `--no-wait`, when the command has).
//!
//! Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to rshm-trace with kill(2) go to the
//! command (after it exited, to the descendants left); the same signals from the terminal
//! (its Ctrl-C) already reach the command, which is in the same process group, and are
//! not sent twice. A signal rshm-trace inherited as ignored stays ignored, for it and for
//! the command. The command starts with the signal mask rshm-trace was given.

use crate::Tracer;
use crate::listen::{self, Listener, Read};
use crate::model::Exit;
use std::collections::HashMap;
use std::io;

/// The signals rshm-trace passes on.
const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// `SI_KERNEL`: a signal the kernel sent (a terminal's Ctrl-C to its foreground group).
const SI_KERNEL: i32 = 0x80;

/// The signals rshm-trace reads from a signalfd instead of being killed by them.
pub struct Signals {
    fd: i32,
    original: libc::sigset_t,
}

impl Signals {
    /// Blocks SIGCHLD and the forwarded signals that are not ignored, and reads them from
    /// a signalfd from now on.
    pub fn take() -> Signals {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut original: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: the sets are valid; sigaction only reads the current action into `old`.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            for s in FORWARDED {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(s, std::ptr::null(), &mut old);
                if old.sa_sigaction != libc::SIG_IGN {
                    libc::sigaddset(&mut set, s);
                }
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, &mut original);
        }
        // SAFETY: `set` is initialised.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        Signals { fd, original }
    }

    /// The mask rshm-trace was started with (the command's).
    pub fn original_mask(&self) -> libc::sigset_t {
        self.original
    }

    /// The next pending signal: its number and si_code.
    fn next(&self) -> Option<(i32, i32)> {
        // SAFETY: signalfd_siginfo is plain integers.
        let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let n = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reads one signalfd_siginfo into `si`.
        let r = unsafe { libc::read(self.fd, (&raw mut si).cast(), n) };
        (r == n as isize).then_some((si.ssi_signo as i32, si.ssi_code))
    }
}

/// Makes rshm-trace the parent of every orphaned descendant.
pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// How the run ended.
pub struct Reaped {
    /// The command's end.
    pub exit: Exit,
    /// Every process rshm-trace reaped, with its name.
    pub pids: HashMap<i32, String>,
    /// With `--no-wait`, the descendants still running.
    pub still_running: Vec<(i32, String)>,
}

/// The event loop.
pub struct Loop<'a> {
    /// The channel.
    pub listener: &'a Listener,
    /// The signals.
    pub signals: Signals,
    /// The command's pid.
    pub child: i32,
    /// `--no-wait`.
    pub no_wait: bool,
}

/// How long rshm-trace keeps napping after the last event before it sleeps on the channel.
const IDLE: std::time::Duration = std::time::Duration::from_millis(2);
/// A nap between two looks at the channel while events come (the socket buffers hold a
/// few hundred events: a sender waits only if it makes more calls than that in a nap).
const NAP: std::time::Duration = std::time::Duration::from_micros(50);
/// The longest a line waits in rshm-trace's buffer while events keep coming.
const HOLD: std::time::Duration = std::time::Duration::from_millis(10);

const LISTEN: u64 = u64::MAX;
const SIGNALS: u64 = u64::MAX - 1;

fn epoll_add(ep: i32, fd: i32, token: u64) {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
        u64: token,
    };
    // SAFETY: `ev` is a valid epoll_event.
    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
}

/// The name of process `pid` (`comm`), or "?".
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

impl Loop<'_> {
    /// Runs until the last descendant has exited (or the command, with `--no-wait`).
    pub fn run(self, t: &mut Tracer) -> Result<Reaped, String> {
        // SAFETY: epoll_create1 takes no pointers.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(format!(
                "epoll: {}",
                crate::why(&io::Error::last_os_error())
            ));
        }
        epoll_add(ep, self.listener.fd, LISTEN);
        epoll_add(ep, self.signals.fd, SIGNALS);
        let mut conns: Vec<i32> = vec![];
        let mut reaped = Reaped {
            exit: Exit::Running,
            pids: HashMap::new(),
            still_running: vec![],
        };
        let mut buf = [0u8; 2048];
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let mut done = false;
        // While events keep coming, rshm-trace naps between looks instead of sleeping on
        // the channel: a sender whose reader is not waiting on it wakes nobody, and the
        // wakeup is most of what a traced call costs. After IDLE without an event it
        // sleeps until the next one.
        let mut busy = false;
        let mut last_event = std::time::Instant::now();
        let mut last_flush = std::time::Instant::now();
        while !done {
            let timeout = if busy {
                0
            } else {
                t.flush();
                last_flush = std::time::Instant::now();
                -1
            };
            // SAFETY: `evs` has room for evs.len() events.
            let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, timeout) };
            if n == 0 {
                if last_event.elapsed() >= IDLE {
                    busy = false;
                } else {
                    if t.waiting() || last_flush.elapsed() >= HOLD {
                        t.flush();
                        last_flush = std::time::Instant::now();
                    }
                    std::thread::sleep(NAP);
                }
                continue;
            }
            if n > 0 {
                busy = true;
                last_event = std::time::Instant::now();
            }
            let mut check_children = false;
            for ev in &evs[..n as usize] {
                match ev.u64 {
                    LISTEN => {
                        while let Some(c) = self.listener.accept() {
                            epoll_add(ep, c, c as u64);
                            conns.push(c);
                        }
                    }
                    SIGNALS => {
                        while let Some((sig, code)) = self.signals.next() {
                            if sig == libc::SIGCHLD {
                                check_children = true;
                            } else if code != SI_KERNEL {
                                self.forward(sig, &reaped);
                            }
                        }
                    }
                    c => {
                        let c = c as i32;
                        if drain(c, &mut buf, t) {
                            t.closed(c);
                            // SAFETY: rshm-trace's own connection; closing drops it from epoll.
                            unsafe { libc::close(c) };
                            conns.retain(|&x| x != c);
                        }
                    }
                }
            }
            // Lines a process waits for, and lines held too long, are written now.
            if t.waiting() || last_flush.elapsed() >= HOLD {
                t.flush();
                last_flush = std::time::Instant::now();
            }
            if check_children {
                done = self.reap(&mut reaped);
            }
        }
        // Every sender has exited (or, with --no-wait, what was sent so far): the rest.
        while let Some(c) = self.listener.accept() {
            conns.push(c);
        }
        for &c in &conns {
            drain(c, &mut buf, t);
        }
        t.flush();
        if self.no_wait {
            reaped.still_running = children();
        }
        for c in conns {
            // SAFETY: rshm-trace's own connections.
            unsafe { libc::close(c) };
        }
        // SAFETY: rshm-trace's own epoll descriptor.
        unsafe { libc::close(ep) };
        Ok(reaped)
    }

    /// Reaps every child that has exited. True when the run is over.
    fn reap(&self, r: &mut Reaped) -> bool {
        loop {
            // SAFETY: siginfo_t is plain data; waitid fills it in.
            let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // Look first (WNOWAIT): the name is readable until the process is reaped.
            // SAFETY: `si` is a valid siginfo_t.
            let w = unsafe {
                libc::waitid(
                    libc::P_ALL,
                    0,
                    &mut si,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            if w != 0 {
                // ECHILD: no descendant is left.
                return true;
            }
            // SAFETY: waitid filled si in for a child state change (or left it zero).
            let pid = unsafe { si.si_pid() };
            if pid == 0 {
                return false;
            }
            r.pids.insert(pid, comm(pid));
            let mut status = 0;
            // SAFETY: `status` is a valid int.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if pid == self.child {
                r.exit = if libc::WIFSIGNALED(status) {
                    Exit::Signal(libc::WTERMSIG(status))
                } else {
                    Exit::Code(libc::WEXITSTATUS(status))
                };
                if self.no_wait {
                    return true;
                }
            }
        }
    }

    /// Passes `sig` on: to the command while it runs, then to the descendants left.
    fn forward(&self, sig: i32, r: &Reaped) {
        if r.exit == Exit::Running {
            // SAFETY: kill takes no pointers.
            unsafe { libc::kill(self.child, sig) };
        } else {
            for (pid, _) in children() {
                // SAFETY: as above.
                unsafe { libc::kill(pid, sig) };
            }
        }
    }
}

/// Reads every record waiting on connection `c`. True when it is closed.
fn drain(c: i32, buf: &mut [u8], t: &mut Tracer) -> bool {
    loop {
        match listen::read(c, buf) {
            Read::Record(n) => t.event(c, &buf[..n]),
            Read::Empty => return false,
            Read::Closed => return true,
        }
    }
}

/// rshm-trace's children (the descendants it adopted), with their names.
pub fn children() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let mut out = vec![];
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the name may hold anything, up to the last ')'.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().unwrap_or("");
        let ppid: i32 = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == me && state != "Z" {
            let name = stat[stat.find('(').map_or(0, |o| o + 1)..close].to_string();
            out.push((pid, name));
        }
    }
    out.sort();
    out
}
