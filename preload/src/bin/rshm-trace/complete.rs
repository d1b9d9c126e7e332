//! `--complete`: every shm system call of every traced process, whatever path it took.
//!
//! The preload library sees only the calls that bind to its exported names. The rest (a
//! static binary, a raw `syscall(2)`, a library loaded with `RTLD_DEEPBIND`, a `dlsym` on
//! a libc handle) reach the kernel unseen. Under `--complete`:
//!
//! - The command starts with a seccomp filter (installed between fork and exec,
//!   inherited by every descendant, never lifted) that returns `SECCOMP_RET_TRACE` for
//!   shmget, shmat, shmdt and shmctl, unless the call's fourth argument register, which
//!   those calls ignore, holds this run's token (from the channel's random name): the
//!   preload library's calls carry it once it has connected, and are reported as events
//!   already. It also stops seccomp(2), prctl(PR_SET_SECCOMP), unshare(2) and setns(2)
//!   ([`filter`]). Every other system call is allowed on its number alone, which the
//!   kernel's seccomp cache turns into no filter run at all.
//! - rshm-trace is the ptracer of the whole tree (`PTRACE_SEIZE`, with fork, vfork,
//!   clone and exec followed), and handles the stops the filter makes: at the entry it checks the
//!   call with the library's rules ([`observed::enter`]; in strict mode a broken rule
//!   fails the call, which the kernel then skips), at the exit it judges the result
//!   ([`observed::leave`]) and hands the Tracer an event like a preloaded call's. Every
//!   other stop (signals, group stops, new children) is passed through unchanged.
//!
//! The command is attached before its exec ([`Handshake`]): between fork and exec the
//! child installs the filter, says its pid on a pipe and waits; rshm-trace's main thread
//! (the tracer) seizes it while another thread spawns it (a seized tracee keeps job
//! control: `PTRACE_LISTEN`) and lets it go on. No stop, no signal: the program cannot
//! tell.

use crate::Tracer;
use rshm_core::__private::event::{Args, Origin, Record, Ret, Stamp, encode};
use rshm_core::__private::observed::{self, Entry, Ns, Subject, Trapped};
use std::collections::HashMap;
use std::io;
use std::time::Instant;

/// The events of calls seen at a stop are given to the Tracer with this id (no
/// connection or ring has it).
pub const TRAPPED: i32 = i32::MIN;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;

/// The options every tracee gets.
const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// `prctl(2)`'s PR_SET_SECCOMP.
const PR_SET_SECCOMP: u32 = 22;

/// The filter: shm system calls without `token` in their fourth argument stop for the
/// tracer; so do a process installing a seccomp filter of its own (whose refusals
/// outrank this filter's stops: the summary says so) and unshare(2) and setns(2) (a new
/// IPC namespace: what rshm-trace knows of the task is asked again); everything else
/// runs. (x86-64
/// system calls only: a 32-bit or x32 call is allowed, unseen.)
pub fn filter(token: u64) -> Vec<libc::sock_filter> {
    let ld = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    let ret = (libc::BPF_RET | libc::BPF_K) as u16;
    // struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8i (little-endian halves).
    // Jumps are relative: to instruction i + 1 + offset.
    vec![
        /* 0 */ stmt(ld, 4),
        /* 1 */ jump(AUDIT_ARCH_X86_64, 0, 16),
        /* 2 */ stmt(ld, 0),
        /* 3 */ jump(libc::SYS_shmget as u32, 9, 0),
        /* 4 */ jump(libc::SYS_shmat as u32, 8, 0),
        /* 5 */ jump(libc::SYS_shmctl as u32, 7, 0),
        /* 6 */ jump(libc::SYS_shmdt as u32, 6, 0),
        /* 7 */ jump(libc::SYS_seccomp as u32, 9, 0),
        /* 8 */ jump(libc::SYS_unshare as u32, 8, 0),
        /* 9 */ jump(libc::SYS_setns as u32, 7, 0),
        /* 10 */ jump(libc::SYS_prctl as u32, 0, 7),
        /* 11 */ stmt(ld, 16),
        /* 12 */ jump(PR_SET_SECCOMP, 4, 5),
        /* 13 */ stmt(ld, 16 + 3 * 8),
        /* 14 */ jump(token as u32, 0, 2),
        /* 15 */ stmt(ld, 16 + 3 * 8 + 4),
        /* 16 */ jump((token >> 32) as u32, 1, 0),
        /* 17 */ stmt(ret, SECCOMP_RET_TRACE),
        /* 18 */ stmt(ret, SECCOMP_RET_ALLOW),
    ]
}

/// The handshake between rshm-trace and the command's child before its exec: the child
/// says its pid on one pipe and waits on the other until rshm-trace has seized it, so it
/// is traced from its first instruction, without a stop or a signal it could see. Plain
/// descriptors (copied into the child's closure); each side closes its own.
#[derive(Clone, Copy)]
pub struct Handshake {
    /// The child writes its pid here; rshm-trace reads it.
    said: [i32; 2],
    /// rshm-trace writes one byte here once it has seized the child.
    go: [i32; 2],
}

impl Handshake {
    /// Two close-on-exec pipes.
    pub fn new() -> io::Result<Handshake> {
        let mut said = [-1; 2];
        let mut go = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into each array.
        unsafe {
            if libc::pipe2(said.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
                let e = io::Error::last_os_error();
                libc::close(said[0]);
                libc::close(said[1]);
                return Err(e);
            }
        }
        Ok(Handshake { said, go })
    }

    /// In the child, between fork and exec: installs the filter (with `no_new_privs` when
    /// the process may not do so without: it lacks CAP_SYS_ADMIN), says its pid, and
    /// waits until rshm-trace has seized it.
    ///
    /// # Safety
    /// Only async-signal-safe system calls: callable between fork and exec.
    pub unsafe fn in_child(&self, filter: &[libc::sock_filter]) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr().cast_mut(),
        };
        let prog = &prog;
        // SAFETY: seccomp reads `prog` and the filter it points to, both alive for the
        // call; write and read use the pipes' descriptors and a local buffer.
        unsafe {
            let set = |p: &libc::sock_fprog| {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_SET_MODE_FILTER,
                    0,
                    p as *const libc::sock_fprog,
                )
            };
            if set(prog) < 0 {
                if io::Error::last_os_error().raw_os_error() != Some(libc::EACCES) {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || set(prog) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let pid = libc::getpid().to_ne_bytes();
            libc::close(self.said[0]);
            libc::close(self.go[1]);
            if libc::write(self.said[1], pid.as_ptr().cast(), 4) != 4 {
                return Err(io::Error::last_os_error());
            }
            let mut b = 0u8;
            loop {
                match libc::read(self.go[0], (&raw mut b).cast(), 1) {
                    1 => return Ok(()),
                    n if n < 0 && *libc::__errno_location() == libc::EINTR => continue,
                    // rshm-trace could not seize it: the command must not run untraced,
                    // its shm calls would fail (ENOSYS).
                    _ => return Err(io::Error::from_raw_os_error(libc::EPERM)),
                }
            }
        }
    }

    /// In rshm-trace's spawning thread, once the spawn has returned: closes rshm-trace's
    /// copies of the child's ends (so a child that never said its pid reads as EOF).
    pub fn spawned(&self) {
        // SAFETY: rshm-trace's own descriptors, closed once.
        unsafe {
            libc::close(self.said[1]);
            libc::close(self.go[0]);
        }
    }

    /// In rshm-trace, while another thread spawns the child: reads its pid, seizes it
    /// (this thread becomes its tracer) and lets it go on to its exec. None if the child
    /// never said its pid (the spawn failed before).
    pub fn seize(&self) -> Result<Option<i32>, String> {
        // SAFETY: reading 4 bytes into a local buffer from rshm-trace's own end.
        let pid = unsafe {
            let mut b = [0u8; 4];
            let mut got = 0;
            while got < 4 {
                let n = libc::read(self.said[0], b[got..].as_mut_ptr().cast(), 4 - got);
                if n < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                if n <= 0 {
                    break;
                }
                got += n as usize;
            }
            libc::close(self.said[0]);
            (got == 4).then(|| i32::from_ne_bytes(b))
        };
        let Some(pid) = pid else {
            // SAFETY: rshm-trace's own descriptor.
            unsafe { libc::close(self.go[1]) };
            return Ok(None);
        };
        // SAFETY: PTRACE_SEIZE takes the options as its data; no pointers. The write
        // sends one byte from a local.
        let seized = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, OPTIONS) } == 0;
        let e = io::Error::last_os_error();
        if seized {
            // SAFETY: as above.
            unsafe { libc::write(self.go[1], [1u8].as_ptr().cast(), 1) };
        }
        // SAFETY: rshm-trace's own descriptor; closing it without a byte tells a child
        // that could not be seized to give up.
        unsafe { libc::close(self.go[1]) };
        if seized {
            Ok(Some(pid))
        } else {
            Err(format!(
                "--complete: cannot trace the command (PTRACE_SEIZE): {}",
                crate::why(&e)
            ))
        }
    }
}

/// A traced task as its events name it: found from /proc at its first stopped call, and
/// again after an exec (as the preload library asks once per process image).
#[derive(Clone, Copy)]
struct Who {
    /// The thread group, in rshm-trace's PID namespace.
    tgid: i32,
    /// The pid and tid in the process's own PID namespace.
    ns_pid: i32,
    ns_tid: i32,
    pid_ns: u64,
    /// Its IPC namespace (the inode).
    ipc_ns: u64,
    /// Its main thread's name, NUL-padded.
    comm: [u8; 16],
}

/// A call between its entry and its exit.
struct Pending {
    trapped: Trapped,
    ts_ns: u64,
    t0: Instant,
}

/// The tracer's state.
pub struct Ptrace {
    strict: bool,
    /// rshm-trace's IPC namespace.
    my_ns: u64,
    pending: HashMap<i32, Pending>,
    who: HashMap<i32, Who>,
    /// rshm-trace's own IPC namespace (/proc/self/ns/ipc, open), to come back to.
    own_ns: i32,
    /// Tasks stopped at a seccomp(2) or prctl(PR_SET_SECCOMP) that installs a filter,
    /// until its exit.
    filters: std::collections::HashSet<i32>,
}

/// What a stop asks of the loop after it was handled.
pub enum Stop {
    /// Nothing more.
    Done,
    /// An event went to the Tracer that a waiting line depends on: write now.
    Flush,
}

fn regs(tid: i32) -> Option<libc::user_regs_struct> {
    // SAFETY: user_regs_struct is plain integers.
    let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    // SAFETY: PTRACE_GETREGS writes one user_regs_struct into `r`.
    let ok = unsafe { libc::ptrace(libc::PTRACE_GETREGS, tid, 0, &mut r) } == 0;
    ok.then_some(r)
}

fn set_regs(tid: i32, r: &libc::user_regs_struct) {
    // SAFETY: PTRACE_SETREGS reads one user_regs_struct from `r`.
    unsafe { libc::ptrace(libc::PTRACE_SETREGS, tid, 0, r) };
}

fn resume(req: libc::c_uint, tid: i32, sig: i32) {
    // SAFETY: a restart request with a signal number as data; no pointers. (ESRCH: the
    // tracee was killed meanwhile, nothing to do.)
    unsafe { libc::ptrace(req, tid, 0, sig as libc::c_long) };
}

/// The last field of a `NSpid:`/`NStgid:` line: the id in the process's own namespace.
fn last_field(line: &str) -> Option<i32> {
    line.split_whitespace().last()?.parse().ok()
}

/// What /proc/TID/status says of a task: its thread group, its ids in its own PID
/// namespace, and (for explanations) its credentials.
fn status(tid: i32) -> Option<(Who, Subject)> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let mut who = Who {
        tgid: tid,
        ns_pid: tid,
        ns_tid: tid,
        pid_ns: 0,
        ipc_ns: 0,
        comm: [0; 16],
    };
    let mut sub = Subject {
        rlimit_as: libc::RLIM_INFINITY,
        rlimit_memlock: libc::RLIM_INFINITY,
        ..Subject::default()
    };
    let second = |l: &str| l.split_whitespace().nth(2).and_then(|v| v.parse().ok());
    for l in s.lines() {
        if let Some(v) = l.strip_prefix("Tgid:") {
            who.tgid = v.trim().parse().ok()?;
        } else if l.starts_with("NStgid:") {
            who.ns_pid = last_field(l)?;
        } else if l.starts_with("NSpid:") {
            who.ns_tid = last_field(l)?;
        } else if l.starts_with("Uid:") {
            sub.euid = second(l).unwrap_or(0);
        } else if l.starts_with("Gid:") {
            sub.egid = second(l).unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("Groups:") {
            sub.groups = v
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect();
        }
    }
    sub.pid = who.tgid;
    who.pid_ns = crate::kernel::ns(&who.tgid.to_string(), "pid");
    who.ipc_ns = crate::kernel::ns(&who.tgid.to_string(), "ipc");
    who.comm = comm(who.tgid);
    for (res, slot) in [
        (libc::RLIMIT_AS, &mut sub.rlimit_as),
        (libc::RLIMIT_MEMLOCK, &mut sub.rlimit_memlock),
    ] {
        // SAFETY: rlimit is plain integers; prlimit only reads the limit into `r`.
        let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: as above; a new limit of NULL changes nothing.
        if unsafe { libc::prlimit(who.tgid, res, std::ptr::null(), &mut r) } == 0 {
            *slot = r.rlim_cur;
        }
    }
    Some((who, sub))
}

/// The name of process `pid` (its main thread's `comm`), NUL-padded.
fn comm(pid: i32) -> [u8; 16] {
    let mut out = [0u8; 16];
    if let Ok(s) = std::fs::read(format!("/proc/{pid}/comm")) {
        let s = s.strip_suffix(b"\n").unwrap_or(&s);
        let n = s.len().min(15);
        out[..n].copy_from_slice(&s[..n]);
    }
    out
}

impl Ptrace {
    /// The tracer of a run (`strict`: rules are enforced).
    pub fn new(strict: bool, my_ns: u64) -> Ptrace {
        Ptrace {
            strict,
            my_ns,
            pending: HashMap::new(),
            who: HashMap::new(),
            // SAFETY: a NUL-terminated path; rshm-trace's own descriptor, kept for the run.
            own_ns: unsafe {
                libc::open(
                    c"/proc/self/ns/ipc".as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC,
                )
            },
            filters: std::collections::HashSet::new(),
        }
    }

    /// Task `tid` has exited: what was known of it is dropped. Returns the pid its
    /// events named it by, if it is a process (not a thread) that made a trapped call.
    pub fn exited(&mut self, tid: i32) -> Option<i32> {
        self.pending.remove(&tid);
        self.filters.remove(&tid);
        let w = self.who.remove(&tid)?;
        (w.tgid == tid).then_some(w.ns_pid)
    }

    /// Runs `f` (judging a call of `tid`) with rshm-trace's questions reaching `tid`'s
    /// IPC namespace: its own if they share it; else `tid`'s, entered by this thread for
    /// the length of `f` (setns, which needs CAP_SYS_ADMIN over that namespace); else none.
    fn in_ns_of<R>(&mut self, tid: i32, f: impl FnOnce(Ns) -> R) -> R {
        if self.who(tid).is_none_or(|(w, _)| w.ipc_ns == self.my_ns) {
            return f(Ns::Mine);
        }
        let Ok(path) = std::ffi::CString::new(format!("/proc/{tid}/ns/ipc")) else {
            return f(Ns::Unknown);
        };
        // SAFETY: a NUL-terminated path; the descriptors are rshm-trace's own, closed here
        // (setns keeps no reference to them).
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            let entered = self.own_ns >= 0 && fd >= 0 && libc::setns(fd, libc::CLONE_NEWIPC) == 0;
            if fd >= 0 {
                libc::close(fd);
            }
            if !entered {
                return f(Ns::Unknown);
            }
            let r = f(Ns::Entered);
            if libc::setns(self.own_ns, libc::CLONE_NEWIPC) != 0 {
                // Never stay in another namespace: the run's own questions (leaks,
                // samples) would go there.
                eprintln!(
                    "rshm-trace: cannot return to my own IPC namespace: {}",
                    crate::why(&io::Error::last_os_error())
                );
                std::process::abort();
            }
            r
        }
    }

    /// Whether task `tid` has made a stopped call in its present image (what it is is
    /// known): a task that has not may have a preload library's connection not yet read.
    pub fn knows(&self, tid: i32) -> bool {
        self.who.contains_key(&tid)
    }

    /// Whether task `tid` is a thread (not a thread group's leader), by what was learnt
    /// of it or, for a zombie not yet reaped, from /proc.
    pub fn is_thread(&self, tid: i32) -> bool {
        match self.who.get(&tid) {
            Some(w) => w.tgid != tid,
            None => std::fs::read_to_string(format!("/proc/{tid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Tgid:").map(|v| v.trim().parse().ok()))
                        .flatten()
                })
                .is_some_and(|tgid: i32| tgid != tid),
        }
    }

    /// Handles the stop of task `tid` with wait status `status`, and lets it go on.
    pub fn stopped(&mut self, tid: i32, status: i32, t: &mut Tracer) -> Stop {
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        match event {
            libc::PTRACE_EVENT_SECCOMP => return self.entry(tid, t),
            libc::PTRACE_EVENT_STOP => {
                if matches!(
                    sig,
                    libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
                ) {
                    // A group stop: it stays stopped until SIGCONT, as without a tracer.
                    resume(libc::PTRACE_LISTEN as libc::c_uint, tid, 0);
                } else {
                    // A new child's first stop, or an interrupt.
                    resume(libc::PTRACE_CONT, tid, 0);
                }
            }
            0 if sig == libc::SIGTRAP | 0x80 => return self.exit(tid, t),
            libc::PTRACE_EVENT_EXEC => {
                // A new image: its name changed (and a thread that exec'd took the
                // leader's tid); asked again at its next stopped call.
                let mut former: libc::c_ulong = 0;
                // SAFETY: PTRACE_GETEVENTMSG writes one unsigned long into `former`.
                unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, tid, 0, &mut former) };
                self.who.remove(&(former as i32));
                self.who.remove(&tid);
                resume(libc::PTRACE_CONT, tid, 0);
            }
            // fork, vfork, clone (the child is seized already), vfork-done.
            e if e != 0 => resume(libc::PTRACE_CONT, tid, 0),
            // A signal on its way to the tracee: delivered as it was.
            _ => resume(libc::PTRACE_CONT, tid, sig),
        }
        Stop::Done
    }

    fn who(&mut self, tid: i32) -> Option<(Who, Option<Subject>)> {
        if let Some(w) = self.who.get(&tid) {
            return Some((*w, None));
        }
        let (w, s) = status(tid)?;
        self.who.insert(tid, w);
        Some((w, Some(s)))
    }

    /// A shm system call stopped by the filter, before the kernel runs it.
    fn entry(&mut self, tid: i32, t: &mut Tracer) -> Stop {
        let Some(mut r) = regs(tid) else {
            resume(libc::PTRACE_CONT, tid, 0);
            return Stop::Done;
        };
        let ts_ns = crate::now_ns();
        // One of rshm's own questions, from a preload library that does not report to
        // this rshm-trace (its process lost RSHM_TRACE_SOCKET): not the program's call.
        if r.r8 == rshm_core::__private::backend::OWN_QUESTION {
            resume(libc::PTRACE_CONT, tid, 0);
            return Stop::Done;
        }
        let args = match r.orig_rax as libc::c_long {
            libc::SYS_shmget => Args::Get {
                key: r.rdi as i32,
                size: r.rsi as usize,
                flags: r.rdx as i32,
            },
            libc::SYS_shmat => Args::At {
                shmid: r.rdi as i32,
                addr: r.rsi as usize,
                flags: r.rdx as i32,
            },
            libc::SYS_shmdt => Args::Dt {
                addr: r.rdi as usize,
            },
            libc::SYS_shmctl => Args::Ctl {
                shmid: r.rdi as i32,
                cmd: r.rsi as i32,
            },
            libc::SYS_unshare | libc::SYS_setns => {
                // Its namespaces may change: asked again at its next stopped call.
                self.who.remove(&tid);
                resume(libc::PTRACE_CONT, tid, 0);
                return Stop::Done;
            }
            libc::SYS_seccomp | libc::SYS_prctl => {
                // Installing a filter of its own (what it refuses never stops here):
                // named once the kernel has said yes, at the call's exit. A probe
                // (SECCOMP_GET_ACTION_AVAIL, ...) is let go on.
                let installs = if r.orig_rax as libc::c_long == libc::SYS_seccomp {
                    r.rdi <= 1 // SECCOMP_SET_MODE_STRICT, SECCOMP_SET_MODE_FILTER
                } else {
                    r.rdi == u64::from(PR_SET_SECCOMP)
                };
                if installs {
                    self.filters.insert(tid);
                    resume(libc::PTRACE_SYSCALL, tid, 0);
                } else {
                    resume(libc::PTRACE_CONT, tid, 0);
                }
                return Stop::Done;
            }
            _ => {
                resume(libc::PTRACE_CONT, tid, 0);
                return Stop::Done;
            }
        };
        let strict = self.strict;
        match self.in_ns_of(tid, |ns| observed::enter(args, strict, ns)) {
            Entry::Go(trapped) => {
                self.pending.insert(
                    tid,
                    Pending {
                        trapped,
                        ts_ns,
                        t0: Instant::now(),
                    },
                );
                // On to the exit of this system call: its stop comes through the loop
                // (waiting for it here would hang on a call that waits for another task
                // the tracer must let go on: a thread's exit, an exec, a userfaultfd).
                resume(libc::PTRACE_SYSCALL, tid, 0);
                Stop::Done
            }
            Entry::Refuse { errno, msg } => {
                // The kernel skips a call whose number is -1, and returns what rax holds.
                r.orig_rax = u64::MAX;
                r.rax = (-i64::from(errno)) as u64;
                set_regs(tid, &r);
                self.emit(
                    tid,
                    t,
                    args,
                    Ret::Int(-1),
                    errno,
                    msg.as_str(),
                    true,
                    ts_ns,
                    0,
                );
                // The line is written before the program can say anything about it.
                t.flush();
                resume(libc::PTRACE_CONT, tid, 0);
                Stop::Flush
            }
        }
    }

    /// The exit of a call [`entry`](Self::entry) let through.
    fn exit(&mut self, tid: i32, t: &mut Tracer) -> Stop {
        if self.filters.remove(&tid) {
            // seccomp(2) or prctl(PR_SET_SECCOMP) returned: 0 if a filter is in place.
            if regs(tid).is_some_and(|r| r.rax == 0) {
                if let Some((w, _)) = self.who(tid) {
                    let n = w.comm.iter().position(|&b| b == 0).unwrap_or(16);
                    let name = crate::model::comm_clean(&String::from_utf8_lossy(&w.comm[..n]));
                    t.own_filter(w.ns_pid, &name);
                }
            }
            resume(libc::PTRACE_CONT, tid, 0);
            return Stop::Done;
        }
        let (Some(p), Some(mut r)) = (self.pending.remove(&tid), regs(tid)) else {
            resume(libc::PTRACE_CONT, tid, 0);
            return Stop::Done;
        };
        let dur = p.t0.elapsed().as_nanos() as u64;
        let raw = r.rax as i64;
        // Its credentials and limits serve an explanation or the squatting warning only.
        let needs_creds = (-4095..0).contains(&raw) || observed::asks_creds(&p.trapped);
        let sub = match self.who(tid) {
            Some((_, Some(s))) => s,
            Some((w, None)) if !needs_creds => Subject {
                pid: w.tgid,
                ..Subject::default()
            },
            _ => status(tid).map(|(_, s)| s).unwrap_or_default(),
        };
        let pid = self.who.get(&tid).map_or(0, |w| w.ns_pid);
        let run = &t.run;
        let o = self.in_ns_of(tid, |_| {
            observed::leave(&p.trapped, raw, &sub, &|addr, shmid| {
                run.attached_at(pid, addr, shmid)
            })
        });
        if let Some(errno) = o.refuse {
            r.rax = (-i64::from(errno)) as u64;
            set_regs(tid, &r);
        }
        let args = p.trapped.args;
        self.emit(
            tid,
            t,
            args,
            o.ret,
            o.errno,
            o.msg.as_str(),
            o.warns,
            p.ts_ns,
            dur,
        );
        if o.warns {
            // The line is written before the program can say anything about it.
            t.flush();
        }
        resume(libc::PTRACE_CONT, tid, 0);
        if o.warns { Stop::Flush } else { Stop::Done }
    }

    /// Hands the Tracer the event of a call of `tid`.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        tid: i32,
        t: &mut Tracer,
        args: Args,
        ret: Ret,
        errno: i32,
        msg: &str,
        warns: bool,
        ts_ns: u64,
        dur_ns: u64,
    ) {
        let Some((w, _)) = self.who(tid) else {
            return;
        };
        let level = if warns {
            rshm_core::__private::config::Level::Warn
        } else {
            rshm_core::__private::config::Level::Info
        };
        let record = Record {
            call: observed::name(&args),
            args,
            ret,
            errno,
            msg,
            level,
            dur_ns,
        };
        let stamp = Stamp {
            ts_ns,
            pid: w.ns_pid,
            tid: w.ns_tid,
            lost: 0,
        };
        let origin = Origin {
            comm: w.comm,
            ipc_ns: w.ipc_ns,
            pid_ns: w.pid_ns,
        };
        let e = encode(&stamp, &record, &origin);
        t.trapped(e.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter on one system call, as the kernel's classic BPF would.
    fn run(f: &[libc::sock_filter], nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let s = f[pc];
            match s.code as u32 {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    let k = s.k as usize;
                    acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    let off = if acc == s.k { s.jt } else { s.jf };
                    pc += 1 + off as usize;
                }
                c if c == libc::BPF_RET | libc::BPF_K => return s.k,
                c => panic!("unexpected instruction {c:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_stops_unmarked_shm_calls_and_own_filters_only() {
        let token = 0x1122_3344_5566_7788u64;
        let f = filter(token);
        let (stop, go) = (SECCOMP_RET_TRACE, SECCOMP_RET_ALLOW);
        for nr in [
            libc::SYS_shmget,
            libc::SYS_shmat,
            libc::SYS_shmdt,
            libc::SYS_shmctl,
        ] {
            let nr = nr as u32;
            assert_eq!(run(&f, nr, [0; 6]), stop, "{nr}");
            assert_eq!(run(&f, nr, [0, 0, 0, token, 0, 0]), go, "{nr} marked");
            // Half a token is no token.
            assert_eq!(run(&f, nr, [0, 0, 0, token & 0xffff_ffff, 0, 0]), stop);
            assert_eq!(run(&f, nr, [0, 0, 0, token | 0xffff_ffff, 0, 0]), stop);
        }
        assert_eq!(run(&f, libc::SYS_seccomp as u32, [1, 0, 0, 0, 0, 0]), stop);
        assert_eq!(run(&f, libc::SYS_prctl as u32, [22, 2, 0, 0, 0, 0]), stop);
        assert_eq!(run(&f, libc::SYS_prctl as u32, [15, 0, 0, 0, 0, 0]), go);
        assert_eq!(
            run(&f, libc::SYS_unshare as u32, [0x0800_0000, 0, 0, 0, 0, 0]),
            stop
        );
        assert_eq!(run(&f, libc::SYS_setns as u32, [3, 0, 0, 0, 0, 0]), stop);
        for nr in [
            libc::SYS_getppid,
            libc::SYS_read,
            libc::SYS_mmap,
            libc::SYS_semget,
        ] {
            assert_eq!(run(&f, nr as u32, [0, 0, 0, 0, 0, 0]), go, "{nr}");
        }
    }
}
