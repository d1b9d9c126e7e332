//! The run's life: rshm-trace is the child subreaper of every process the command
//! starts, reads their events as they come (from their rings, see [`listen`]), passes on
//! the signals sent to it, and ends when the last descendant has exited (or, with
//! `--no-wait`, when the command has).
//!
//! Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to rshm-trace with kill(2) go to the
//! command (after it exited, to the descendants left; and when the command ends after
//! one, the descendants it left get it too); the same signals from the terminal
//! (its Ctrl-C) already reach the command, which is in the same process group, and are
//! not sent twice, unless the command has left that group (`setsid`, `timeout`). A
//! kill(2) of the whole process group reaches the command twice: directly, and through
//! rshm-trace, which cannot tell it from a kill of rshm-trace alone. A signal rshm-trace inherited as ignored stays ignored, for it and for
//! the command. The command starts with the signal mask rshm-trace was given.

use crate::Tracer;
use crate::listen::{self, Listener, Read, RingMap, ring};
use crate::model::Exit;
use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

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
    /// `--complete`: rshm-trace is the ptracer of every process of the run.
    pub ptrace: Option<crate::complete::Ptrace>,
}

/// How long rshm-trace keeps napping after the last event before it sleeps on the channel.
const IDLE: Duration = Duration::from_millis(2);
/// A nap between two looks at the rings while events come (a ring holds 1024 events: a
/// process waits only if it makes more calls than that in a nap). A wakeup on any
/// connection ends it early.
const NAP: Duration = Duration::from_micros(50);
/// The longest a line waits in rshm-trace's buffer while events keep coming.
const HOLD: Duration = Duration::from_millis(10);
/// How long a slot claimed but unpublished holds up the events after it (see the ring's
/// pending slots): about one nap, so two threads racing rarely swap lines.
const PATIENCE: Duration = Duration::from_micros(20);
/// How long a ring whose connections are all closed is still read, for a slot a live
/// process (one that closed its descriptors) is still writing.
const GRACE: Duration = Duration::from_millis(100);
/// How long a pending slot waits before rshm-trace asks whether its claimer is alive.
const STUCK: Duration = Duration::from_secs(1);

/// `--complete`: how long rshm-trace looks for a tracee's next stop after handling one,
/// before it sleeps (a wakeup costs more than the look).
const SPIN: Duration = Duration::from_micros(20);

/// `--complete`: the longest rshm-trace handles stops before it sees to the rest.
const BATCH: Duration = Duration::from_millis(5);

/// How often, at most, a sleeping rshm-trace wakes to ask the kernel how many
/// attachments the run's live segments have (five times as often while events come).
const SAMPLE_MS: i32 = 100;

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
        .map(|s| crate::model::comm_clean(s.strip_suffix('\n').unwrap_or(&s)))
        .unwrap_or_else(|_| "?".into())
}

impl Loop<'_> {
    /// Runs until the last descendant has exited (or the command, with `--no-wait`).
    pub fn run(mut self, t: &mut Tracer) -> Result<Reaped, String> {
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
        let mut rings = Rings::default();
        let mut reaped = Reaped {
            exit: Exit::Running,
            pids: HashMap::new(),
            still_running: vec![],
        };
        let mut buf = [0u8; 2048];
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let mut done = false;
        // While events keep coming, rshm-trace naps between looks at the rings instead of
        // sleeping: a process whose ring does not say rshm-trace sleeps makes no system
        // call for an event. After IDLE without an event it says so in every ring and
        // sleeps until a process wakes it.
        let mut busy = false;
        let mut last_event = Instant::now();
        let mut last_flush = Instant::now();
        let mut last_stuck = Instant::now();
        let mut last_sample = Instant::now();
        // The listener is out of the epoll set (rshm-trace ran out of descriptors).
        let mut listener_out = false;
        // A signal passed on to the command while it ran.
        let mut told = None;
        while !done {
            let timeout = if busy {
                0
            } else {
                rings.flush(t);
                last_flush = Instant::now();
                if rings.sleep() {
                    // Segments alive: wake now and then to ask the kernel their attachment
                    // counts (forked children inherit attachments without a call).
                    if t.has_live() { SAMPLE_MS } else { -1 }
                } else {
                    0
                }
            };
            // SAFETY: `evs` has room for evs.len() events.
            let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, timeout) };
            if timeout != 0 {
                rings.awake();
            }
            let mut check_children = false;
            for ev in &evs[..n.max(0) as usize] {
                match ev.u64 {
                    LISTEN => {
                        let why =
                            accept_all(self.listener, ep, &mut conns, &mut buf, t, &mut rings);
                        // Out of descriptors: the pending connection stays, and the
                        // listener would be ready at every look. It is left out until a
                        // connection closes.
                        if matches!(why, Some(libc::EMFILE | libc::ENFILE)) {
                            // SAFETY: removing rshm-trace's own listener from its epoll set.
                            unsafe {
                                libc::epoll_ctl(
                                    ep,
                                    libc::EPOLL_CTL_DEL,
                                    self.listener.fd,
                                    std::ptr::null_mut(),
                                )
                            };
                            listener_out = true;
                        }
                    }
                    SIGNALS => {
                        while let Some((sig, code)) = self.signals.next() {
                            if sig == libc::SIGCHLD {
                                check_children = true;
                            } else if code != SI_KERNEL || self.left_my_group(&reaped) {
                                if reaped.exit == Exit::Running {
                                    told = Some(sig);
                                }
                                self.forward(sig, &reaped);
                            }
                        }
                    }
                    c => {
                        let c = c as i32;
                        if drain(c, &mut buf, t, &mut rings) {
                            rings.conn_closed(c);
                            t.closed(c);
                            // SAFETY: rshm-trace's own connection; closing drops it from epoll.
                            unsafe { libc::close(c) };
                            conns.retain(|&x| x != c);
                            if listener_out {
                                epoll_add(ep, self.listener.fd, LISTEN);
                                listener_out = false;
                            }
                        }
                    }
                }
            }
            let took = rings.poll(t, PATIENCE);
            if n > 0 || took || timeout != 0 {
                busy = true;
                last_event = Instant::now();
            }
            // Lines a process waits for, and lines held too long, are written now.
            if t.waiting() || last_flush.elapsed() >= HOLD {
                rings.flush(t);
                last_flush = Instant::now();
            }
            rings.end_closed(t);
            if last_sample.elapsed() >= Duration::from_millis(SAMPLE_MS as u64 / 5) {
                t.sample();
                last_sample = Instant::now();
            }
            if last_stuck.elapsed() >= STUCK / 4 {
                rings.drop_stuck();
                last_stuck = Instant::now();
            }
            if check_children {
                done = if self.ptrace.is_some() {
                    // What a stopped process published before its stop comes first: its
                    // ring (and, for a process just started, its connection and hello).
                    let listener = self.listener;
                    let mut ptrace = self.ptrace.take();
                    let (done, flush) = reap_traced(
                        ptrace.as_mut(),
                        self.child,
                        &mut reaped,
                        t,
                        &mut |t, fresh| {
                            // A task's first stop in an image: its connection may be waiting.
                            if fresh {
                                accept_all(listener, ep, &mut conns, &mut buf, t, &mut rings);
                            }
                            rings.poll(t, Duration::ZERO);
                        },
                    );
                    self.ptrace = ptrace;
                    if flush {
                        rings.flush(t);
                        last_flush = Instant::now();
                    }
                    done
                } else {
                    self.reap(&mut reaped)
                };
                // The command was told to stop and is gone: what it left running (adopted
                // by now) is told too, or the run would wait for it.
                if reaped.exit != Exit::Running && !done {
                    if let Some(sig) = told.take() {
                        self.forward(sig, &reaped);
                    }
                }
            }
            if n <= 0 && !done {
                if last_event.elapsed() >= IDLE && !rings.closing() {
                    busy = false;
                } else {
                    nap(ep);
                }
            }
        }
        // Every sender has exited (or, with --no-wait, what was sent so far): the rest.
        while let Some(c) = self.listener.accept() {
            conns.push(c);
        }
        for &c in &conns {
            if drain(c, &mut buf, t, &mut rings) {
                rings.conn_closed(c);
            }
        }
        rings.finish(t);
        if self.no_wait {
            reaped.still_running = descendants();
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

    /// Whether the command has left rshm-trace's process group (`setsid`, `timeout`): a
    /// signal from the terminal (Ctrl-C) reached rshm-trace's group, not the command.
    fn left_my_group(&self, r: &Reaped) -> bool {
        // SAFETY: getpgid and getpgrp take no pointers.
        r.exit == Exit::Running && unsafe { libc::getpgid(self.child) != libc::getpgrp() }
    }

    /// Passes `sig` on: to the command while it runs, then to the descendants left.
    fn forward(&self, sig: i32, r: &Reaped) {
        if r.exit == Exit::Running {
            // SAFETY: kill takes no pointers.
            unsafe { libc::kill(self.child, sig) };
        } else {
            for (pid, _) in descendants() {
                // SAFETY: as above.
                unsafe { libc::kill(pid, sig) };
            }
        }
    }
}

/// `Loop::reap` for `--complete`: the children's state changes are ptrace stops
/// too (handled, and the tracee let go on), and threads' exits (forgotten). True when
/// the run is over; and whether a line a stopped call waits for must be written.
/// `before` runs before each stop is handled (it takes what the rings hold, and, when
/// the task is new to the tracer, the connections waiting).
fn reap_traced(
    p: Option<&mut crate::complete::Ptrace>,
    child: i32,
    r: &mut Reaped,
    t: &mut Tracer,
    before: &mut dyn FnMut(&mut Tracer, bool),
) -> (bool, bool) {
    let mut flush = false;
    let Some(p) = p else {
        return (true, false);
    };
    let mut handled = false;
    let mut spun = Instant::now();
    let began = Instant::now();
    loop {
        // Tracees that never stop stopping do not keep the loop from the rest of its work
        // (signals to pass on, lines to write, rings to read): back to it after BATCH.
        // Their stops stay reported: each sent a SIGCHLD the loop has not read yet.
        if began.elapsed() >= BATCH {
            return (false, flush);
        }
        // SAFETY: siginfo_t is plain data; waitid fills it in.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `si` is a valid siginfo_t. (A tracee's stops are reported without
        // WSTOPPED; __WALL: threads too.)
        let w = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut si,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
            )
        };
        if w != 0 {
            return (true, flush);
        }
        // SAFETY: waitid filled si in for a child state change (or left it zero).
        let pid = unsafe { si.si_pid() };
        if pid == 0 {
            // A tracee just let go on often stops again within microseconds (a
            // call's exit, its next call, a new child's first stop): looked for a
            // little longer (yielding) before the loop goes back to sleep.
            if handled && spun.elapsed() < SPIN {
                // SAFETY: sched_yield takes no arguments.
                unsafe { libc::sched_yield() };
                continue;
            }
            return (false, flush);
        }
        let code = si.si_code;
        let mut status = 0;
        if code == libc::CLD_TRAPPED {
            // A ptrace stop: si_status is the whole stop code (signal | event << 8),
            // as waitpid would give it. Not taken: resuming the tracee ends the stop.
            // SAFETY: waitid filled si in for a stopped child.
            let stop = unsafe { si.si_status() };
            let status = (stop << 8) | 0x7f;
            handled = true;
            spun = Instant::now();
            if stop >> 8 == libc::PTRACE_EVENT_EXEC {
                // After an exec by a thread other than the leader, the kernel refuses
                // every ptrace request until this stop is taken by a wait (it cannot
                // tell the tracer means the new leader, not the old one).
                let mut st = 0;
                // SAFETY: `st` is a valid int.
                unsafe { libc::waitpid(pid, &mut st, libc::__WALL | libc::WNOHANG) };
            }
            before(t, !p.knows(pid));
            flush |= matches!(p.stopped(pid, status, t), crate::complete::Stop::Flush);
            continue;
        }
        if code == libc::CLD_STOPPED {
            // Not a tracee's (cannot be, every descendant is one): taken, or it would be
            // reported again.
            // SAFETY: `status` is a valid int.
            unsafe { libc::waitpid(pid, &mut status, libc::__WALL | libc::WNOHANG) };
            continue;
        }
        let thread = p.is_thread(pid);
        if !thread {
            r.pids.insert(pid, comm(pid));
        }
        // SAFETY: `status` is a valid int.
        unsafe { libc::waitpid(pid, &mut status, libc::__WALL | libc::WNOHANG) };
        if let Some(ns_pid) = p.exited(pid) {
            t.exited(ns_pid);
        }
        if pid == child {
            r.exit = if libc::WIFSIGNALED(status) {
                Exit::Signal(libc::WTERMSIG(status))
            } else {
                Exit::Code(libc::WEXITSTATUS(status))
            };
        }
    }
}

/// Naps NAP, or less if a descriptor becomes ready (a wakeup on a connection).
fn nap(ep: i32) {
    let mut p = libc::pollfd {
        fd: ep,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: NAP.as_nanos() as libc::c_long,
    };
    // SAFETY: one pollfd and a timespec, alive for the call; no signal mask.
    unsafe { libc::ppoll(&mut p, 1, &ts, std::ptr::null()) };
}

/// Accepts every pending connection, adds it to the epoll set `ep` and `conns`, and reads
/// what it holds at once (its hello names its ring, whose events may be older than a stop
/// about to be handled). Returns the errno that ended the accepting (EAGAIN: none left).
fn accept_all(
    listener: &Listener,
    ep: i32,
    conns: &mut Vec<i32>,
    buf: &mut [u8],
    t: &mut Tracer,
    rings: &mut Rings,
) -> Option<i32> {
    loop {
        let Some(c) = listener.accept() else {
            return io::Error::last_os_error().raw_os_error();
        };
        epoll_add(ep, c, c as u64);
        conns.push(c);
        if drain(c, buf, t, rings) {
            rings.conn_closed(c);
            t.closed(c);
            // SAFETY: rshm-trace's own connection; closing drops it from epoll.
            unsafe { libc::close(c) };
            conns.retain(|&x| x != c);
        }
    }
}

/// Reads every record waiting on connection `c`. True when it is closed.
fn drain(c: i32, buf: &mut [u8], t: &mut Tracer, rings: &mut Rings) -> bool {
    loop {
        match listen::read(c, buf) {
            Read::Record(n) => t.event(c, &buf[..n]),
            Read::Hello { token, memfd } => rings.hello(c, token, memfd),
            Read::Wake => {}
            Read::Empty => return false,
            Read::Closed => return true,
        }
    }
}

/// A ring and the connections that named it: a process, the children it forked (which
/// write into the same ring), and their later connections.
struct Family {
    /// The id its events are given to the Tracer with (negative: not a descriptor).
    id: i32,
    token: [u8; 16],
    map: RingMap,
    conns: Vec<i32>,
    /// Events taken whose senders wait until their lines are written: freed after the
    /// next flush.
    held: Vec<u64>,
    /// When its last connection closed: every process that held one has exited (or
    /// closed it, and then sends on a new connection).
    closed_at: Option<Instant>,
}

/// Every ring rshm-trace reads.
#[derive(Default)]
struct Rings {
    families: Vec<Family>,
    /// The last id given.
    last_id: i32,
}

impl Rings {
    /// Connection `c` names the ring `token`: a new ring (with its memfd), or one
    /// already known (a process that connected again).
    fn hello(&mut self, c: i32, token: [u8; 16], memfd: Option<i32>) {
        if let Some(f) = self
            .families
            .iter_mut()
            .find(|f| f.token == token && f.closed_at.is_none())
        {
            if let Some(m) = memfd {
                // SAFETY: a descriptor rshm-trace received and owns.
                unsafe { libc::close(m) };
            }
            if !f.conns.contains(&c) {
                f.conns.push(c);
            }
            return;
        }
        // A ring that cannot be mapped is closed by RingMap::map when it can be: its
        // processes then send on their connections.
        if let Some(map) = memfd.and_then(|m| RingMap::map(m, &token).ok()) {
            self.last_id -= 1;
            self.families.push(Family {
                id: self.last_id,
                token,
                map,
                conns: vec![c],
                held: vec![],
                closed_at: None,
            });
        }
    }

    /// Connection `c` is closed; when it was the last of its ring's, the ring is closed:
    /// read to its end, then forgotten ([`end_closed`](Self::end_closed)).
    fn conn_closed(&mut self, c: i32) {
        for f in &mut self.families {
            if f.conns.contains(&c) {
                f.conns.retain(|&x| x != c);
                if f.conns.is_empty() && f.closed_at.is_none() {
                    f.map.consumer.close();
                    f.closed_at = Some(Instant::now());
                }
            }
        }
    }

    /// Takes every event the rings hold (a slot unpublished for `patience` while later
    /// ones are published is skipped, and taken when it is). True if there was any.
    fn poll(&mut self, t: &mut Tracer, patience: Duration) -> bool {
        let mut took = false;
        let mut slot = [0u8; ring::DATA];
        for f in &mut self.families {
            let c = &mut f.map.consumer;
            let mut freed = false;
            while let Some(e) = c.next(&mut slot, patience) {
                took = true;
                let bytes = &slot[..e.len];
                // Byte 85 of an event: its sender waits for the line (see the core's event).
                let acked = bytes.get(85) == Some(&1);
                if acked {
                    f.held.push(e.pos);
                } else {
                    c.release(e.pos);
                    freed = true;
                }
                t.event(f.id, bytes);
            }
            if freed {
                c.wake_waiters();
            }
        }
        took
    }

    /// Writes what the Tracer holds, then frees the slots of the events whose senders
    /// wait for that.
    fn flush(&mut self, t: &mut Tracer) {
        t.flush();
        for f in &mut self.families {
            if !f.held.is_empty() {
                for pos in f.held.drain(..) {
                    f.map.consumer.release(pos);
                }
                f.map.consumer.wake_waiters();
            }
        }
    }

    /// Whether a closed ring is still being read.
    fn closing(&self) -> bool {
        self.families.iter().any(|f| f.closed_at.is_some())
    }

    /// Forgets the closed rings that are read to their end (after GRACE, a slot still
    /// unpublished is dropped: its process is gone), telling the Tracer.
    fn end_closed(&mut self, t: &mut Tracer) {
        let mut i = 0;
        while i < self.families.len() {
            let f = &mut self.families[i];
            let Some(at) = f.closed_at else {
                i += 1;
                continue;
            };
            if f.map.consumer.unpublished() && at.elapsed() >= GRACE {
                f.map.consumer.drop_unpublished();
            }
            if f.map.consumer.unpublished() || !f.held.is_empty() {
                i += 1;
                continue;
            }
            let f = self.families.swap_remove(i);
            t.closed(f.id);
        }
    }

    /// Drops the pending slots unpublished for STUCK, whoever claimed them (killed
    /// between claiming a slot and publishing it, with their process or by another
    /// thread's exec): the ring would be stuck on them.
    fn drop_stuck(&mut self) {
        for f in &mut self.families {
            let c = &mut f.map.consumer;
            let stuck: Vec<(u64, i32)> = c.stuck(STUCK).collect();
            // Whoever claimed it (a thread that died, was killed by an exec, is stopped,
            // or is in a PID namespace where its tid means nothing here) has held it a
            // second: dropped. A claimer still alive finds it gone when it publishes, and
            // sends its event on the socket.
            for (pos, _) in stuck {
                c.drop_pending(pos);
            }
        }
    }

    /// Before sleeping: says so in every ring. False (and the rings told again that
    /// rshm-trace is awake) if one has events already.
    fn sleep(&mut self) -> bool {
        if self.families.iter().any(|f| f.map.consumer.sleep()) {
            self.awake();
            return false;
        }
        true
    }

    /// After sleeping: processes need not wake rshm-trace.
    fn awake(&mut self) {
        for f in &self.families {
            f.map.consumer.awake();
        }
    }

    /// At the end of the run: every event left, slots unpublished dropped, lines
    /// written, waiting processes (with `--no-wait`) released.
    fn finish(&mut self, t: &mut Tracer) {
        self.poll(t, Duration::ZERO);
        for f in &mut self.families {
            f.map.consumer.drop_unpublished();
        }
        self.poll(t, Duration::ZERO);
        self.flush(t);
    }
}

/// Every process rshm-trace leads to, still running (not a zombie), with its name: its
/// children, theirs, and so on, from /proc.
pub fn descendants() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    // (pid, ppid, running, name) of every process.
    let mut all = vec![];
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
        let name = stat[stat.find('(').map_or(0, |o| o + 1)..close].to_string();
        all.push((pid, ppid, state != "Z", name));
    }
    let mut out = vec![];
    let mut parents = vec![me];
    while let Some(parent) = parents.pop() {
        for (pid, ppid, running, name) in &all {
            if *ppid == parent {
                parents.push(*pid);
                if *running {
                    out.push((*pid, crate::model::comm_clean(name)));
                }
            }
        }
    }
    out.sort();
    out
}
