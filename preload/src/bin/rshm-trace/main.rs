//! rshm-trace: runs a command with librshm_preload.so preloaded, shows every System V
//! shared-memory call it and every process it starts make, and sums the run up: calls,
//! failures, and one row per segment, with the leaks.
//!
//! The tracer owns the trace. Each traced process sends every call, whatever the level,
//! as an event, into a ring of shared memory it hands rshm-trace over a socket
//! rshm-trace listens on ([`listen`]); rshm-trace alone counts
//! ([`model`]), formats and writes the lines ([`out`]), so the summary is the same at any
//! `--level` and with any `-o`, and nothing is ever written through the traced program's
//! descriptors. rshm-trace is the child subreaper of the run: it waits for every
//! descendant, daemons and late children included ([`wait`]), then checks the segments
//! that are left with the kernel ([`verdict`]).

mod args;
mod complete;
mod elf;
mod html;
mod kernel;
mod listen;
mod model;
mod out;
mod summary;
mod verdict;
mod wait;

use args::{Ask, Options};
use rshm_core::__private::config::Level;
use rshm_core::__private::event::decode;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// An I/O error's sentence, without Rust's "(os error N)".
pub fn why(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            // SAFETY: strerror returns a NUL-terminated string that stays valid until the
            // next call on this thread; it is copied at once.
            let s = unsafe { std::ffi::CStr::from_ptr(libc::strerror(n)) };
            s.to_string_lossy().into_owned()
        }
        None => e.to_string(),
    }
}

/// The preload library: `RSHM_PRELOAD` if set, else beside this binary, else in `../lib/`,
/// `../lib64/` or `../lib/<arch>-linux-gnu/` of an installed prefix.
fn find_preload() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("RSHM_PRELOAD") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            preloadable(p)
        } else {
            Err(format!("RSHM_PRELOAD={} is not a file", p.display()))
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find my own path: {}", why(&e)))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let multiarch = format!(
        "../lib/{}-linux-gnu/librshm_preload.so",
        std::env::consts::ARCH
    );
    let candidates = [
        dir.join("librshm_preload.so"),
        dir.join("../lib/librshm_preload.so"),
        dir.join("../lib64/librshm_preload.so"),
        dir.join(multiarch),
    ];
    let found = candidates
        .iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p.clone()))
        .ok_or_else(|| {
            format!(
                "cannot find librshm_preload.so beside me ({}) or in ../lib, ../lib64 or ../lib/{}-linux-gnu \
                 (set RSHM_PRELOAD to its path)",
                dir.display(),
                std::env::consts::ARCH
            )
        })?;
    preloadable(found)
}

/// LD_PRELOAD splits its value at spaces and colons, and cannot quote: a path holding one
/// would make the loader try its pieces as libraries. Refused, with the reason.
fn preloadable(p: PathBuf) -> Result<PathBuf, String> {
    let s = p.to_string_lossy();
    if s.contains([' ', ':', '\t', '\n']) {
        return Err(format!(
            "the preload library's path {s:?} holds a space or a colon, which LD_PRELOAD cannot carry; \
             install rshm under a path without one, or set RSHM_PRELOAD to a copy at such a path"
        ));
    }
    Ok(p)
}

/// rshm-trace holds one connection per traced process: its soft descriptor limit is
/// raised to the hard one. The command gets the limit rshm-trace was given.
fn raise_nofile() -> libc::rlimit {
    // SAFETY: rlimit is plain integers; getrlimit and setrlimit read and write one.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        let old = r;
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        old
    }
}

/// The wall clock, ns.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A file named on the command line, made (or emptied) before the command runs, so a
/// name that cannot be written is said at once.
fn made(p: &Option<PathBuf>) -> Result<Option<std::fs::File>, String> {
    p.as_ref()
        .map(|p| out::open(p).map_err(|e| format!("cannot write {}: {}", p.display(), why(&e))))
        .transpose()
}

fn run(o: Options) -> Result<ExitCode, String> {
    let preload = find_preload()?;
    let dest = out::Dest::new(&o).map_err(|e| {
        format!(
            "cannot write {}: {}",
            o.output
                .as_deref()
                .unwrap_or(Path::new("standard error"))
                .display(),
            why(&e)
        )
    })?;
    let mut summary_json = made(&o.summary_json)?;
    let mut html_file = made(&o.html)?;
    let listener = listen::Listener::new().map_err(|e| {
        format!(
            "cannot make the channel for the traced processes: {}",
            why(&e)
        )
    })?;
    let command: Vec<String> = o
        .command
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let name = command[0].clone();

    let mut ld: OsString = preload.into_os_string();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        ld.push(":");
        ld.push(old);
    }
    let nofile = raise_nofile();
    let signals = wait::Signals::take();
    wait::become_subreaper();
    let mut cmd = Command::new(&o.command[0]);
    cmd.args(&o.command[1..])
        .env("LD_PRELOAD", ld)
        .env("RSHM_TRACE_SOCKET", &listener.path)
        // Every call is an event whatever is shown; the configuration line too at debug.
        .env("RSHM_LOG", o.level().max(Level::Info).lower())
        .env_remove("RSHM_LOG_FILE");
    if o.strict {
        cmd.env("RSHM_STRICT", "1");
    }
    if o.report {
        cmd.env("RSHM_REPORT", "1");
    }
    // --complete: the filter, built here (no allocation between fork and exec), lets
    // through the calls the preload library marks as its own (it reports them).
    let filter = o.complete.then(|| complete::filter(listener.token()));
    let handshake = match o.complete.then(complete::Handshake::new).transpose() {
        Ok(h) => h,
        Err(e) => return Err(format!("--complete: cannot make a pipe: {}", why(&e))),
    };
    let mask = signals.original_mask();
    // SAFETY: between fork and exec the child only restores the signal mask and the
    // descriptor limit it would have had without rshm-trace, and with --complete asks to
    // be traced and installs the filter (sigprocmask, setrlimit, ptrace, prctl and
    // seccomp are async-signal-safe system calls; the filter was built before the fork).
    unsafe {
        cmd.pre_exec(move || {
            libc::sigprocmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
            libc::setrlimit(libc::RLIMIT_NOFILE, &nofile);
            if let (Some(f), Some(h)) = (&filter, &handshake) {
                h.in_child(f)?;
            }
            Ok(())
        });
    }
    let start_ns = now_ns();
    // With --complete, another thread spawns (spawn returns only after the exec) while
    // this one, the tracer of the run, seizes the child before its exec.
    let spawned = match handshake {
        None => cmd.spawn(),
        Some(h) => std::thread::scope(|s| {
            let spawner = s.spawn(move || {
                let r = cmd.spawn();
                h.spawned();
                r
            });
            let seized = h.seize();
            let r = spawner
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the spawning thread panicked")));
            match seized {
                Err(e) => Err(io::Error::other(e)),
                Ok(_) => r,
            }
        }),
    };
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("rshm-trace: cannot run {name}: {}", why(&e));
            return Ok(ExitCode::from(code));
        }
    };
    // --complete sees the calls of static and set-id programs at their stops.
    let blind = (!o.complete).then(|| elf::resolve(&o.command[0])).flatten();
    let static_note = blind.and_then(|p| {
        if elf::is_set_id(&p) {
            Some(format!(
                "{} is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it (secure execution), so none of its own calls can be seen",
                p.display()
            ))
        } else if elf::is_static(&p) == Some(true) {
            Some(format!(
                "{} is statically linked: the preload library cannot load into it, so none of its own calls can be seen (--complete sees them)",
                p.display()
            ))
        } else {
            None
        }
    });

    let mut t = Tracer {
        run: model::Run::new(command, start_ns),
        shown: out::Shown::new(&o),
        dest,
        my_ns: kernel::ns("self", "ipc"),
        acks: vec![],
        write_error: None,
        senders: HashMap::new(),
    };
    t.run.my_pid_ns = kernel::ns("self", "pid");
    if o.complete {
        t.run.trapped = Some(0);
    }
    let reaped = wait::Loop {
        listener: &listener,
        signals,
        child: child.id() as i32,
        no_wait: o.no_wait,
        ptrace: o
            .complete
            .then(|| complete::Ptrace::new(o.strict, kernel::ns("self", "ipc"))),
    }
    .run(&mut t)?;
    listener.unlink();
    let Tracer {
        mut run,
        mut dest,
        my_ns,
        write_error,
        ..
    } = t;
    // The run ends when its last process has (a leak lives to here).
    run.end_ns = run.end_ns.max(now_ns());
    run.exit = reaped.exit;
    run.still_running = reaped.still_running;
    verdict::settle(&mut run, my_ns, &reaped.pids, static_note);

    if let Some(e) = write_error {
        eprintln!("rshm-trace: {e}");
    }
    // The summary goes where the trace went (standard error with -ff).
    let text = if o.json {
        summary::json(&run) + "\n"
    } else {
        summary::text(&run)
    };
    let written = match (&mut dest, o.per_process) {
        (out::Dest::One(w), false) => w.write_all(text.as_bytes()).and_then(|_| w.flush()),
        _ => dest
            .flush()
            .and_then(|_| io::stderr().write_all(text.as_bytes())),
    };
    if let Err(e) = written {
        eprintln!("rshm-trace: cannot write the summary: {}", why(&e));
    }
    if let (Some(f), Some(p)) = (summary_json.as_mut(), &o.summary_json) {
        if let Err(e) = f.write_all((summary::json(&run) + "\n").as_bytes()) {
            eprintln!("rshm-trace: cannot write {}: {}", p.display(), why(&e));
        }
    }
    if let (Some(f), Some(p)) = (html_file.as_mut(), &o.html) {
        let mut w = io::BufWriter::new(f);
        if let Err(e) = html::write(&run, &mut w).and_then(|_| w.flush()) {
            eprintln!("rshm-trace: cannot write {}: {}", p.display(), why(&e));
        }
    }
    let code = match run.exit {
        model::Exit::Code(c) => c,
        model::Exit::Signal(s) => 128 + s,
        model::Exit::Running => 0,
    };
    Ok(ExitCode::from(code as u8))
}

/// What the event loop feeds: the run's model and the trace's lines.
pub struct Tracer {
    run: model::Run,
    shown: out::Shown,
    dest: out::Dest,
    /// rshm-trace's own IPC namespace (the kernel it can ask).
    my_ns: u64,
    /// Connections (or rings, by negative ids) waiting for the acknowledgement that their
    /// line is written.
    acks: Vec<i32>,
    /// The first failure to write the trace (said once, at the end).
    write_error: Option<String>,
    /// The processes that sent on each connection.
    senders: HashMap<i32, BTreeSet<i32>>,
}

impl Tracer {
    /// One record from connection `fd`.
    pub fn event(&mut self, fd: i32, bytes: &[u8]) {
        let Some(d) = decode(bytes) else {
            return;
        };
        let ns = d.origin.ipc_ns;
        self.senders.entry(fd).or_default().insert(d.stamp.pid);
        if let Some(i) = self.run.add(&d) {
            if ns != 0 && ns == self.my_ns {
                let id = self.run.segs[i].id;
                if let Some(k) = kernel::stat(id) {
                    let s = &mut self.run.segs[i];
                    if s.size == 0 {
                        s.size = k.size;
                    }
                    if s.key == 0 && !s.created() {
                        s.key = k.key;
                    }
                }
            }
        }
        if let Some(line) = self.shown.line(&d) {
            if let Err(e) = self.dest.write(d.stamp.pid, line.as_bytes()) {
                self.write_error
                    .get_or_insert(format!("cannot write the trace: {}", why(&e)));
            }
        }
        if d.acked {
            self.acks.push(fd);
        }
    }

    /// The event of a call seen at a stop (`--complete`): a call the preload library did
    /// not make.
    pub fn trapped(&mut self, bytes: &[u8]) {
        *self.run.trapped.get_or_insert(0) += 1;
        self.event(complete::TRAPPED, bytes);
    }

    /// Process `pid` (its events' pid) installs a seccomp filter of its own: a shm call
    /// that filter refuses never reaches rshm-trace's (said once per process).
    pub fn own_filter(&mut self, pid: i32, comm: &str) {
        let note = format!(
            "{pid} ({comm}) installed a seccomp filter of its own: a shm system call that \
             filter refuses (with an errno, or by killing) never reaches --complete, and is not counted"
        );
        if !self.run.blind.contains(&note) {
            self.run.blind.push(note);
        }
    }

    /// A process seen only at stops has exited (`pid` as its events name it).
    pub fn exited(&mut self, pid: i32) {
        self.run.gone(pid, now_ns());
    }

    /// Connection `fd` is closed: every process that held it has exited (or exec'd).
    pub fn closed(&mut self, fd: i32) {
        let now = now_ns();
        for pid in self.senders.remove(&fd).unwrap_or_default() {
            self.run.gone(pid, now);
        }
    }

    /// Whether the run has segments it has not seen destroyed.
    pub fn has_live(&self) -> bool {
        self.run.has_live()
    }

    /// Asks the kernel how many attachments each live segment of rshm-trace's namespace
    /// has (at most 1,024 of them): a forked child inherits its parent's attachments
    /// without a call, and PEAK is the kernel's count (see [`model::Run::sampled`]).
    pub fn sample(&mut self) {
        for i in self.run.live_rows(1024) {
            let s = &self.run.segs[i];
            if s.ipc_ns == 0 || s.ipc_ns != self.my_ns {
                continue;
            }
            let still = kernel::stat(s.id).filter(|k| match s.creator {
                Some(c) => k.cpid == c,
                None => s.key == 0 || k.key == s.key || k.marked,
            });
            if let Some(k) = still {
                self.run.sampled(i, k.nattch);
            }
        }
    }

    /// Whether a process waits for its line to be written.
    pub fn waiting(&self) -> bool {
        !self.acks.is_empty()
    }

    /// Writes what is buffered, then tells the processes waiting for it.
    pub fn flush(&mut self) {
        if let Err(e) = self.dest.flush() {
            self.write_error
                .get_or_insert(format!("cannot write the trace: {}", why(&e)));
        }
        for fd in self.acks.drain(..) {
            listen::ack(fd);
        }
    }
}

fn main() -> ExitCode {
    let o = match args::parse(std::env::args_os().skip(1)) {
        Ok(Ask::Run(o)) => o,
        Ok(Ask::Help) => {
            println!("{}", args::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(Ask::Version) => {
            println!("rshm-trace {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rshm-trace: {e} (try 'rshm-trace --help')");
            return ExitCode::from(2);
        }
    };
    match run(*o) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rshm-trace: {e}");
            ExitCode::from(2)
        }
    }
}
