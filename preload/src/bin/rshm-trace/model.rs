//! What a run did, built from its events alone (never from the log lines, so it is the
//! same at any `--level`, with any `-o`): calls by kind and shmctl command, failures by
//! errno, the processes that made calls, and one row per segment the run touched.
//! Memory is bounded: counters, one entry per process and per segment, the live
//! attachments, and at most [`MAX_MARKS`] timeline marks and [`MAX_INCIDENTS`] incidents.

use rshm_core::__private::config::Level;
use rshm_core::__private::event::{Args, Decoded, Ret, errno_name};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The most attachment marks kept for the timeline (the counts are kept whatever).
pub const MAX_MARKS: usize = 100_000;
/// The most failures and warnings kept with their sentences (all are counted).
pub const MAX_INCIDENTS: usize = 10_000;

/// A process that made at least one call.
#[derive(Clone, Debug)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its name (`comm`) at its first call.
    pub comm: String,
    /// Calls it made.
    pub calls: u64,
    /// Its first and last call, wall clock ns.
    pub first_ns: u64,
    /// See `first_ns`.
    pub last_ns: u64,
}

/// How a segment's story ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Not decided yet (during the run).
    Open,
    /// Still there while processes of the run still run (`--no-wait`): no verdict.
    Pending,
    /// Removed by a traced IPC_RMID, and gone.
    Removed,
    /// Removed by a traced IPC_RMID, still attached by a process outside the run.
    RemovedAttached,
    /// Made during the run, not removed, still there after every traced process exited.
    Leaked,
    /// Gone, removed by something rshm-trace did not see (another program, a raw system
    /// call, its IPC namespace's end).
    Gone,
    /// Not made during the run, and still there: someone else's.
    Exists,
    /// In another IPC namespace than rshm-trace's: not checked.
    Unchecked,
}

impl End {
    /// The word in the table and in the JSON summary.
    pub fn word(self) -> &'static str {
        match self {
            End::Open => "open",
            End::Pending => "pending",
            End::Removed => "removed",
            End::RemovedAttached => "removed-attached",
            End::Leaked => "leaked",
            End::Gone => "gone",
            End::Exists => "exists",
            End::Unchecked => "unchecked",
        }
    }
}

/// One segment the run touched (a new row when an id is made again after a removal).
#[derive(Clone, Debug)]
pub struct Seg {
    /// Its shmid.
    pub id: i32,
    /// The IPC namespace it lives in (inode; 0: unknown).
    pub ipc_ns: u64,
    /// Its key (0: IPC_PRIVATE).
    pub key: i32,
    /// Its size in bytes (0: not known).
    pub size: u64,
    /// The traced process that made it, if one did.
    pub creator: Option<i32>,
    /// When it was made (by a traced call), or first seen.
    pub first_ns: u64,
    /// Successful attaches, per process.
    pub attaches: BTreeMap<i32, u64>,
    /// The most attachments it had at once, as the kernel counted them (`shm_nattch`) in
    /// two samples in a row (rshm-trace asks every 20 ms while events come, every 100 ms
    /// otherwise); at least 1 once a traced attach succeeded (0: no traced attach, and
    /// no count that lasted).
    pub peak_nattch: u64,
    /// Traced attachments live now (attached, not detached, their process not gone).
    pub live: u64,
    /// The highest `live` has been.
    pub live_high: u64,
    /// The kernel's attachment count at the last sample.
    pub last_sample: u64,
    /// The traced process whose IPC_RMID removed it (the first that succeeded), and when.
    pub removed_by: Option<(i32, u64)>,
    /// When it was destroyed: its removal, or the last traced detach after it (None: not
    /// seen; an attachment the run did not see ending may have kept it).
    pub destroyed_ns: Option<u64>,
    /// The names of its maker and its remover when they made those calls (a process may
    /// exec another program in between).
    pub creator_comm: String,
    /// See `creator_comm`.
    pub remover_comm: String,
    /// Processes that attached or detached it with a traced call.
    pub touched_by: BTreeSet<i32>,
    /// Its maker's pid is another PID namespace's (the kernel's `shm_cpid` is not it).
    pub creator_foreign: bool,
    /// How its story ends.
    pub end: End,
    /// Known only from the kernel: made by a call no traced process was seen making (its
    /// time of creation is the kernel's, in whole seconds).
    pub untraced: bool,
}

impl Seg {
    /// A row for segment `id` of namespace `ipc_ns`, first seen at `first_ns`, of which
    /// nothing else is known yet.
    pub fn new(id: i32, ipc_ns: u64, first_ns: u64) -> Seg {
        Seg {
            id,
            ipc_ns,
            key: 0,
            size: 0,
            creator: None,
            first_ns,
            attaches: BTreeMap::new(),
            peak_nattch: 0,
            live: 0,
            live_high: 0,
            last_sample: 0,
            removed_by: None,
            destroyed_ns: None,
            creator_comm: String::new(),
            remover_comm: String::new(),
            touched_by: BTreeSet::new(),
            creator_foreign: false,
            end: End::Open,
            untraced: false,
        }
    }

    /// After a removal, the kernel destroys the segment at its last detach: notes when
    /// that was, as far as the run's own count of attachments tells.
    fn note_destroyed(&mut self, ts: u64) {
        if self.removed_by.is_some() && self.live == 0 && self.destroyed_ns.is_none() {
            self.destroyed_ns = Some(ts);
        }
    }

    /// Whether a traced call made it.
    pub fn created(&self) -> bool {
        self.creator.is_some() && !self.untraced
    }
}

/// What a timeline mark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A successful shmat.
    Attach,
    /// A successful shmdt.
    Detach,
}

/// An attachment or detachment, for the timeline.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    /// When, wall clock ns.
    pub ts_ns: u64,
    /// Who.
    pub pid: i32,
    /// Which segment (an index into [`Run::segs`]).
    pub seg: usize,
    /// What.
    pub kind: MarkKind,
}

/// A failure or a warning, with its sentence.
#[derive(Clone, Debug)]
pub struct Incident {
    /// When, wall clock ns.
    pub ts_ns: u64,
    /// Who.
    pub pid: i32,
    /// The call (`shmat`).
    pub call: String,
    /// The errno's name (`EINVAL`), or empty for a warning on a call that succeeded.
    pub errno: String,
    /// rshm's sentence.
    pub msg: String,
    /// The segment it concerns, when one is known (an index into [`Run::segs`]).
    pub seg: Option<usize>,
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Still running (`--no-wait` after it was left behind: never for the command).
    Running,
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// Everything rshm-trace knows about a run.
#[derive(Debug)]
pub struct Run {
    /// The command, as given.
    pub command: Vec<String>,
    /// When rshm-trace started it, and when the last traced process ended (wall ns).
    pub start_ns: u64,
    /// See `start_ns`.
    pub end_ns: u64,
    /// How the command ended.
    pub exit: Exit,
    /// Processes that made calls, by pid.
    pub procs: BTreeMap<i32, Proc>,
    /// Calls by function name.
    pub calls: BTreeMap<String, u64>,
    /// `--complete`: calls seen at a stop, which the preload library did not make (None
    /// without `--complete`).
    pub trapped: Option<u64>,
    /// shmctl calls by command.
    pub commands: BTreeMap<String, u64>,
    /// Failed calls by errno.
    pub failures: BTreeMap<String, u64>,
    /// Calls that succeeded with a warning.
    pub warnings: u64,
    /// Segments the run touched, in the order it first touched them.
    pub segs: Vec<Seg>,
    /// Attachments and detachments, for the timeline (at most [`MAX_MARKS`]).
    pub marks: Vec<Mark>,
    /// Marks not kept.
    pub marks_dropped: u64,
    /// Failures and warnings with their sentences (at most [`MAX_INCIDENTS`]).
    pub incidents: Vec<Incident>,
    /// Incidents not kept.
    pub incidents_dropped: u64,
    /// What rshm-trace knows it did not see, one sentence each.
    pub blind: Vec<String>,
    /// Processes still running when rshm-trace left (`--no-wait`): pid and name.
    pub still_running: Vec<(i32, String)>,
    /// rshm-trace's own PID namespace (inode; 0: unknown).
    pub my_pid_ns: u64,
    /// Processes that made calls from another PID namespace: their pids are that
    /// namespace's, not the kernel's view from here.
    pub foreign_pids: BTreeSet<(u64, i32)>,
    /// Processes of rshm-trace's PID namespace that made calls.
    local_pids: BTreeSet<i32>,
    /// The live segment row of each (namespace, id).
    live: HashMap<(u64, i32), usize>,
    /// Live attachments: (pid, address) -> segment row.
    attached: HashMap<(i32, usize), usize>,
    /// The last segment attached at each address, whoever attached it (a forked child
    /// detaching what its parent attached).
    at_addr: HashMap<usize, usize>,
}

/// A process's name from an event's NUL-padded `comm`.
/// Control characters (a newline in a name could forge a summary line) are shown as `?`.
pub fn comm_str(c: &[u8; 16]) -> String {
    let n = c.iter().position(|&b| b == 0).unwrap_or(16);
    comm_clean(&String::from_utf8_lossy(&c[..n]))
}

/// A process name with its control characters shown as `?`.
pub fn comm_clean(name: &str) -> String {
    name.chars()
        .map(|ch| if ch.is_control() { '?' } else { ch })
        .collect()
}

impl Run {
    /// An empty run of `command`, started at `start_ns`.
    pub fn new(command: Vec<String>, start_ns: u64) -> Run {
        Run {
            command,
            start_ns,
            end_ns: start_ns,
            exit: Exit::Running,
            procs: BTreeMap::new(),
            calls: BTreeMap::new(),
            commands: BTreeMap::new(),
            failures: BTreeMap::new(),
            warnings: 0,
            segs: vec![],
            marks: vec![],
            marks_dropped: 0,
            incidents: vec![],
            incidents_dropped: 0,
            blind: vec![],
            still_running: vec![],
            trapped: None,
            my_pid_ns: 0,
            foreign_pids: BTreeSet::new(),
            local_pids: BTreeSet::new(),
            live: HashMap::new(),
            attached: HashMap::new(),
            at_addr: HashMap::new(),
        }
    }

    /// Processes that made calls (two processes of two PID namespaces with the same pid
    /// are two).
    pub fn process_count(&self) -> usize {
        self.local_pids.len() + self.foreign_pids.len()
    }

    /// Total calls.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    /// Total failed calls.
    pub fn total_failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Segments made during the run.
    pub fn created(&self) -> usize {
        self.segs.iter().filter(|s| s.created()).count()
    }

    /// Segments a traced IPC_RMID removed.
    pub fn removed(&self) -> usize {
        self.segs.iter().filter(|s| s.removed_by.is_some()).count()
    }

    /// Segments made during the run and still there at its end.
    pub fn leaked(&self) -> usize {
        self.segs.iter().filter(|s| s.end == End::Leaked).count()
    }

    /// The row of the live segment `id` in namespace `ns`, made if this is its first sight.
    fn row(&mut self, ns: u64, id: i32, ts: u64) -> usize {
        if let Some(&i) = self.live.get(&(ns, id)) {
            return i;
        }
        self.segs.push(Seg::new(id, ns, ts));
        let i = self.segs.len() - 1;
        self.live.insert((ns, id), i);
        i
    }

    /// Adds one event. Returns the segment row whose live attachments reached a new high
    /// (the caller asks the kernel for its nattch), if any.
    pub fn add(&mut self, d: &Decoded<'_>) -> Option<usize> {
        let r = &d.record;
        let (pid, ts, ns) = (d.stamp.pid, d.stamp.ts_ns, d.origin.ipc_ns);
        let foreign =
            d.origin.pid_ns != 0 && self.my_pid_ns != 0 && d.origin.pid_ns != self.my_pid_ns;
        if !matches!(r.args, Args::Report) {
            if foreign {
                self.foreign_pids.insert((d.origin.pid_ns, pid));
            } else {
                self.local_pids.insert(pid);
            }
        }
        self.end_ns = self.end_ns.max(ts);
        // rshm's own lines (the exit report, the configuration) are not calls.
        if matches!(r.args, Args::Report) {
            return None;
        }
        let p = self.procs.entry(pid).or_insert_with(|| Proc {
            pid,
            comm: comm_str(&d.origin.comm),
            calls: 0,
            first_ns: ts,
            last_ns: ts,
        });
        p.calls += 1;
        p.last_ns = p.last_ns.max(ts);
        *self.calls.entry(r.call.to_string()).or_default() += 1;
        if let Args::Ctl { cmd, .. } = r.args {
            *self.commands.entry(cmd_name(cmd)).or_default() += 1;
        }
        let failed = matches!(r.ret, Ret::Int(-1)) && r.errno != 0;
        let mut seg = None;
        let mut sampled = None;
        if failed {
            *self
                .failures
                .entry(errno_name(r.errno).to_string())
                .or_default() += 1;
        } else {
            match (r.args, r.ret) {
                (Args::Get { key, size, .. }, Ret::Created(id, created)) => {
                    let id = id as i32;
                    if created {
                        // A new segment under an id seen before: the old one is gone.
                        if let Some(old) = self.live.remove(&(ns, id)) {
                            let o = &mut self.segs[old];
                            if o.end == End::Open {
                                o.end = if o.removed_by.is_some() {
                                    End::Removed
                                } else {
                                    End::Gone
                                };
                            }
                        }
                    }
                    let i = self.row(ns, id, ts);
                    let s = &mut self.segs[i];
                    s.key = key;
                    if created {
                        s.creator_foreign = foreign;
                        s.creator = Some(pid);
                        s.creator_comm = comm_str(&d.origin.comm);
                        s.first_ns = ts;
                        s.size = size as u64;
                    } else if s.size == 0 {
                        s.size = size as u64;
                    }
                    seg = Some(i);
                }
                (Args::At { shmid, .. }, Ret::Addr(addr)) => {
                    let i = self.row(ns, shmid, ts);
                    let s = &mut self.segs[i];
                    *s.attaches.entry(pid).or_default() += 1;
                    s.touched_by.insert(pid);
                    if let Some(old) = self.attached.insert((pid, addr), i) {
                        // SHM_REMAP over an attachment of this process.
                        self.segs[old].live = self.segs[old].live.saturating_sub(1);
                    }
                    let s = &mut self.segs[i];
                    // The kernel counted this attachment at least, whenever it is asked.
                    s.peak_nattch = s.peak_nattch.max(1);
                    s.live += 1;
                    if s.live > s.live_high {
                        s.live_high = s.live;
                        sampled = Some(i);
                    }
                    self.at_addr.insert(addr, i);
                    self.mark(ts, pid, i, MarkKind::Attach);
                    seg = Some(i);
                }
                (Args::Dt { addr }, _) => {
                    let own = self.attached.remove(&(pid, addr));
                    if let Some(o) = own {
                        self.segs[o].live = self.segs[o].live.saturating_sub(1);
                        self.segs[o].note_destroyed(ts);
                    }
                    // Or one inherited through fork (not counted live: its attach was the
                    // parent's, and the parent's own is still there).
                    let i = own.or_else(|| self.at_addr.get(&addr).copied());
                    if let Some(i) = i {
                        self.segs[i].touched_by.insert(pid);
                        self.mark(ts, pid, i, MarkKind::Detach);
                        seg = Some(i);
                    }
                }
                (Args::Ctl { shmid, cmd }, _) if cmd == libc::IPC_RMID => {
                    let i = self.row(ns, shmid, ts);
                    let s = &mut self.segs[i];
                    // A second IPC_RMID of a marked segment succeeds too: the first removed it.
                    if s.removed_by.is_none() {
                        s.removed_by = Some((pid, ts));
                        s.remover_comm = comm_str(&d.origin.comm);
                        s.note_destroyed(ts);
                    }
                    // Its key is free again; its id lives on until the last detach.
                    seg = Some(i);
                }
                _ => {}
            }
        }
        if failed || r.level == Level::Warn {
            if !failed {
                self.warnings += 1;
            }
            if seg.is_none() {
                seg = match r.args {
                    Args::At { shmid, .. } | Args::Ctl { shmid, .. } => {
                        self.live.get(&(ns, shmid)).copied()
                    }
                    _ => None,
                };
            }
            if self.incidents.len() < MAX_INCIDENTS {
                self.incidents.push(Incident {
                    ts_ns: ts,
                    pid,
                    call: r.call.to_string(),
                    errno: if failed {
                        errno_name(r.errno).to_string()
                    } else {
                        String::new()
                    },
                    msg: r.msg.to_string(),
                    seg,
                });
            } else {
                self.incidents_dropped += 1;
            }
        }
        sampled
    }

    fn mark(&mut self, ts_ns: u64, pid: i32, seg: usize, kind: MarkKind) {
        if self.marks.len() < MAX_MARKS {
            self.marks.push(Mark {
                ts_ns,
                pid,
                seg,
                kind,
            });
        } else {
            self.marks_dropped += 1;
        }
    }

    /// Notes the kernel's attachment count of row `i`, asked now. A count counts only
    /// once the next sample shows at least as many: a shmat in progress shows one more
    /// for a moment (the kernel counts the mapping twice while it makes it), and a peak
    /// is what lasted from one sample to the next.
    pub fn sampled(&mut self, i: usize, n: u64) {
        let s = &mut self.segs[i];
        s.peak_nattch = s.peak_nattch.max(n.min(s.last_sample));
        s.last_sample = n;
    }

    /// Process `pid` is gone (its channel closed) at `ts`: its attachments with it.
    pub fn gone(&mut self, pid: i32, ts: u64) {
        let segs = &mut self.segs;
        self.attached.retain(|&(p, _), &mut i| {
            if p == pid {
                segs[i].live = segs[i].live.saturating_sub(1);
                segs[i].note_destroyed(ts);
            }
            p != pid
        });
    }

    /// Whether process `pid` (its events' pid) has an attachment of segment `shmid` that
    /// the run saw made at `addr`.
    pub fn attached_at(&self, pid: i32, addr: usize, shmid: i32) -> bool {
        self.attached
            .get(&(pid, addr))
            .is_some_and(|&i| self.segs[i].id == shmid)
    }

    /// The name of a process of the run, if it made calls.
    pub fn comm(&self, pid: i32) -> Option<&str> {
        self.procs.get(&pid).map(|p| p.comm.as_str())
    }

    /// Whether some segment of the run may still exist (a row not known destroyed).
    pub fn has_live(&self) -> bool {
        self.live
            .values()
            .any(|&i| self.segs[i].destroyed_ns.is_none())
    }

    /// Up to `max` rows of segments that may still exist.
    pub fn live_rows(&self, max: usize) -> Vec<usize> {
        self.live
            .values()
            .copied()
            .filter(|&i| self.segs[i].destroyed_ns.is_none())
            .take(max)
            .collect()
    }

    /// The live rows (to be settled at the end), with their namespace and id.
    pub fn open_rows(&self) -> Vec<usize> {
        (0..self.segs.len())
            .filter(|&i| self.segs[i].end == End::Open)
            .collect()
    }
}

/// A shmctl command's name (`IPC_RMID`), or its number.
pub fn cmd_name(cmd: i32) -> String {
    match cmd {
        libc::IPC_RMID => "IPC_RMID".into(),
        libc::IPC_SET => "IPC_SET".into(),
        libc::IPC_STAT => "IPC_STAT".into(),
        libc::IPC_INFO => "IPC_INFO".into(),
        libc::SHM_LOCK => "SHM_LOCK".into(),
        libc::SHM_UNLOCK => "SHM_UNLOCK".into(),
        13 => "SHM_STAT".into(),
        14 => "SHM_INFO".into(),
        15 => "SHM_STAT_ANY".into(),
        n => n.to_string(),
    }
}
