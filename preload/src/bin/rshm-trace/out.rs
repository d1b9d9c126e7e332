//! Where the trace lines go, opened once by rshm-trace (never by a traced process):
//! standard error, `-o FILE` (made or emptied; `/dev/stdout`, `/dev/stderr` and
//! `/dev/fd/N` are rshm-trace's own descriptors, shared with the command's, so the lines
//! and the command's output go to the same place in order and nothing is emptied), or
//! with `-ff` one file per process, `PREFIX.PID`. And which lines are shown: the level
//! and the `-e` filters.

use crate::args::Options;
use rshm_core::__private::config::Level;
use rshm_core::__private::event::{Args, Decoded, Line, json, text};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};

/// The most per-process files kept open at once with `-ff` (others are opened again, to
/// append, when their process logs again).
const MAX_OPEN: usize = 64;

/// The trace's destination.
pub enum Dest {
    /// One stream (standard error, or `-o`).
    One(BufWriter<File>),
    /// `-ff -o PREFIX`.
    PerProcess {
        /// The prefix.
        prefix: PathBuf,
        /// Open files by pid.
        files: HashMap<i32, BufWriter<File>>,
        /// Processes whose file was made already (opened again to append).
        made: BTreeSet<i32>,
    },
}

/// rshm-trace's own copy of its descriptor `fd`.
fn dup(fd: i32) -> io::Result<File> {
    // SAFETY: F_DUPFD_CLOEXEC takes no pointer; the copy is rshm-trace's own.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if d < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `d` was just made and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(d) })
}

/// The descriptor a name like `/dev/stdout` or `/dev/fd/3` means, if it is one.
fn std_name(p: &Path) -> Option<i32> {
    match p.to_str()? {
        "/dev/stdout" | "/proc/self/fd/1" => Some(1),
        "/dev/stderr" | "/proc/self/fd/2" => Some(2),
        s => s
            .strip_prefix("/dev/fd/")
            .or_else(|| s.strip_prefix("/proc/self/fd/"))
            .and_then(|n| n.parse().ok()),
    }
}

/// Opens `p` for the trace or the summary.
pub fn open(p: &Path) -> io::Result<File> {
    match std_name(p) {
        Some(fd) => dup(fd),
        None => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(p),
    }
}

impl Dest {
    /// The destination the options ask for.
    pub fn new(o: &Options) -> io::Result<Dest> {
        Ok(match (&o.output, o.per_process) {
            (Some(prefix), true) => Dest::PerProcess {
                prefix: prefix.clone(),
                files: HashMap::new(),
                made: BTreeSet::new(),
            },
            (Some(p), false) => Dest::One(BufWriter::with_capacity(1 << 16, open(p)?)),
            // Standard error closed (`2>&-`): the trace goes nowhere, the command runs.
            (None, _) => Dest::One(BufWriter::with_capacity(
                1 << 16,
                dup(2).or_else(|_| File::create("/dev/null"))?,
            )),
        })
    }

    /// Writes a line of process `pid`.
    pub fn write(&mut self, pid: i32, line: &[u8]) -> io::Result<()> {
        match self {
            Dest::One(w) => w.write_all(line),
            Dest::PerProcess {
                prefix,
                files,
                made,
            } => {
                if !files.contains_key(&pid) {
                    if files.len() >= MAX_OPEN {
                        let (&old, _) = files.iter().next().expect("not empty");
                        if let Some(mut f) = files.remove(&old) {
                            f.flush()?;
                        }
                    }
                    let mut name = prefix.clone().into_os_string();
                    name.push(format!(".{pid}"));
                    let first = made.insert(pid);
                    let f = OpenOptions::new()
                        .write(true)
                        .create(true)
                        .append(!first)
                        .truncate(first)
                        .open(PathBuf::from(&name))
                        .map_err(|e| {
                            io::Error::new(
                                e.kind(),
                                format!(
                                    "cannot write {}: {}",
                                    name.to_string_lossy(),
                                    crate::why(&e)
                                ),
                            )
                        })?;
                    files.insert(pid, BufWriter::new(f));
                }
                files.get_mut(&pid).expect("just made").write_all(line)
            }
        }
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Dest::One(w) => w.flush(),
            Dest::PerProcess { files, .. } => files.values_mut().try_for_each(|f| f.flush()),
        }
    }
}

/// The libc function a call corresponds to: a program linked with librshm makes
/// `rshm_get` and the others, which `-e trace=shmget` and the rest also select.
fn libc_name(call: &str) -> &str {
    match call {
        "rshm_get" => "shmget",
        "rshm_at" => "shmat",
        "rshm_dt" => "shmdt",
        "rshm_rmid" => "shmctl",
        c => c,
    }
}

/// Which events become lines, and how they look.
pub struct Shown {
    level: Level,
    json: bool,
    calls: BTreeSet<String>,
    commands: BTreeSet<String>,
    none: bool,
}

impl Shown {
    /// The options' choice.
    pub fn new(o: &Options) -> Shown {
        Shown {
            level: o.level(),
            json: o.json,
            calls: o.calls.clone(),
            commands: o.commands.clone(),
            none: o.summary_only,
        }
    }

    /// The line for `d`, if it is shown.
    pub fn line(&self, d: &Decoded<'_>) -> Option<Line> {
        let r = &d.record;
        if self.none || r.level > self.level || self.level == Level::Off {
            return None;
        }
        let filtered = !self.calls.is_empty() || !self.commands.is_empty();
        match r.args {
            // rshm's own lines (the exit report, the configuration) go with no filter.
            Args::Report if filtered => return None,
            Args::Report => {}
            _ if !self.calls.is_empty() && !self.calls.contains(libc_name(r.call)) => return None,
            // `-e cmd=` alone shows shmctl calls only.
            Args::Ctl { .. } | Args::Get { .. } | Args::At { .. } | Args::Dt { .. }
                if self.calls.is_empty()
                    && !self.commands.is_empty()
                    && !matches!(r.args, Args::Ctl { .. }) =>
            {
                return None;
            }
            Args::Ctl { cmd, .. }
                if !self.commands.is_empty()
                    && !self.commands.contains(&crate::model::cmd_name(cmd)) =>
            {
                return None;
            }
            _ => {}
        }
        let mut l = Line::new();
        if self.json {
            json(&mut l, &d.stamp, r)
        } else {
            text(&mut l, &d.stamp, r)
        }
        Some(l)
    }
}
