//! A call rshm did not make, judged from outside. Under `rshm-trace --complete`, a traced
//! process that makes a shm system call without the library (a static binary, a raw
//! `syscall(2)`, a library bound to libc by `RTLD_DEEPBIND` or `dlsym`) is stopped there,
//! and rshm-trace judges the call with the library's own rules, its "created" decision
//! and its explanations, as the preload library would have judged it:
//!
//! - [`enter`], before the kernel runs it: the rules (a broken one is reported, or, in
//!   strict mode, refuses the call), and for a get-or-create on a named key, whether the
//!   key had a segment.
//! - [`leave`], with the kernel's result: whether shmget made the segment, the squatting
//!   warning, the still-attached note of IPC_RMID, or the explanation of a failure, all
//!   from the traced process's point of view ([`crate::subject`]).
//!
//! rshm-trace asks the kernel its questions directly: in its own IPC namespace, or in the
//! traced process's when its thread can enter it ([`Ns`]); in one it cannot, nothing is
//! asked, and a failure is named by its errno alone.

use crate::backend::{self, Direct};
use crate::error::{Error, Msg};
use crate::explain;
use crate::limits;
use crate::log::{Args, Ret};
use crate::names::{IPC_CREAT, IPC_EXCL, IPC_RMID, errno_name};
use crate::subject::{self, Subject};
use crate::validate::{self, Warnings};
use libc::{EACCES, EINVAL, c_int};

/// The names the log gives the four system calls.
pub const NAMES: [&str; 4] = ["shmget", "shmat", "shmdt", "shmctl"];

/// Which IPC namespace rshm-trace's questions about a call reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns {
    /// rshm-trace's own, which the traced process is in too.
    Mine,
    /// The traced process's, which rshm-trace's thread has entered for the call (setns):
    /// its limits are read anew, never kept.
    Entered,
    /// Another, which rshm-trace cannot enter: nothing is asked, no rule that rests on
    /// its limits is checked, and a failure is named by its errno alone.
    Unknown,
}

/// A call let through to the kernel, and what [`leave`] needs of its start.
#[derive(Clone, Debug)]
pub struct Trapped {
    /// Its arguments.
    pub args: Args,
    /// The rule it broke (reported with its result), if any.
    broken: Option<Msg>,
    warnings: Warnings,
    /// For a get-or-create on a named key: the key's segment before the call (None: it
    /// had none; not asked in another IPC namespace).
    found: Option<Option<c_int>>,
    strict: bool,
    ns: Ns,
}

/// What to do with a call, before the kernel runs it.
#[derive(Debug)]
pub enum Entry {
    /// Let it run.
    Go(Trapped),
    /// Strict mode: the call breaks a rule and fails with `errno` instead (not run).
    Refuse {
        /// The errno the call fails with.
        errno: c_int,
        /// Why.
        msg: Msg,
    },
}

/// What a finished call is, as its log line says it.
#[derive(Debug)]
pub struct Outcome {
    /// Its result.
    pub ret: Ret,
    /// Its errno (0: success).
    pub errno: c_int,
    /// The failure's explanation, or the warnings ("" for none).
    pub msg: Msg,
    /// True when the line is a warning (a failure, a broken rule, a warning).
    pub warns: bool,
    /// Strict mode: the kernel's success is turned into this failure (a squatted key).
    pub refuse: Option<c_int>,
}

/// The name the log gives a call with these arguments.
pub fn name(args: &Args) -> &'static str {
    match args {
        Args::Get { .. } => NAMES[0],
        Args::At { .. } => NAMES[1],
        Args::Dt { .. } => NAMES[2],
        _ => NAMES[3],
    }
}

/// Whether judging `t`'s success needs its caller's credentials (a get-or-create that
/// may have found another user's segment); a failure's explanation always does.
pub fn asks_creds(t: &Trapped) -> bool {
    t.found.is_some()
}

/// Checks a call before the kernel runs it (`strict`: a broken rule refuses it).
pub fn enter(args: Args, strict: bool, ns: Ns) -> Entry {
    let call = name(&args);
    // The limits of the process's namespace; those of one rshm-trace cannot enter are not
    // known: no rule that rests on them is checked there.
    let lim = match ns {
        Ns::Mine => limits::get(&Direct),
        Ns::Entered => limits::read_now(&Direct),
        Ns::Unknown => limits::Limits {
            shmmin: 1,
            shmmax: u64::MAX,
            shmall: u64::MAX,
            shmmni: u64::MAX,
            shmlba: limits::shmlba(&Direct),
        },
    };
    let lim = match args {
        // About to break a rule on a limit: the administrator may have raised it since
        // rshm-trace read it (as the library asks again).
        Args::Get { key, size, .. }
            if ns == Ns::Mine && validate::rests_on_limits(key, size, &lim) =>
        {
            limits::reread()
        }
        _ => lim,
    };
    let checked = match args {
        Args::Get { key, size, flags } => validate::get(call, key, size, flags, &lim),
        Args::At { shmid, addr, flags } => validate::at(call, shmid, addr, flags, lim.shmlba),
        Args::Dt { addr } => validate::dt(call, addr, lim.shmlba),
        Args::Ctl { shmid, cmd } if cmd == IPC_RMID => validate::rmid(call, shmid),
        _ => Ok(Warnings::default()),
    };
    let (warnings, broken) = match checked {
        Ok(w) => (w, None),
        Err(e) if strict => {
            return Entry::Refuse {
                errno: e.errno,
                msg: e.message(),
            };
        }
        Err(e) => (Warnings::default(), Some(e.message())),
    };
    if strict && warnings.world_writable() {
        return Entry::Refuse {
            errno: EINVAL,
            msg: Msg::from_fmt(format_args!(
                "{call}: RSHM_STRICT=1 refuses this: {warnings}"
            )),
        };
    }
    let found = match args {
        Args::Get { key, flags, .. }
            if ns != Ns::Unknown
                && key != libc::IPC_PRIVATE
                && flags & (IPC_CREAT | IPC_EXCL) == IPC_CREAT =>
        {
            Some(crate::created::before(key))
        }
        _ => None,
    };
    Entry::Go(Trapped {
        args,
        broken,
        warnings,
        found,
        strict,
        ns,
    })
}

/// Judges the kernel's result `raw` (a value, or -errno) of the call `t`, made by `who`.
/// `starts(addr, shmid)`: whether the caller knows an attachment of `shmid` made at
/// `addr` (two attachments side by side look like one in /proc/PID/maps).
pub fn leave(
    t: &Trapped,
    raw: i64,
    who: &Subject,
    starts: &dyn Fn(usize, c_int) -> bool,
) -> Outcome {
    subject::as_seen_by(who, || judge(t, raw, who.pid, starts))
}

fn judge(t: &Trapped, raw: i64, pid: i32, starts: &dyn Fn(usize, c_int) -> bool) -> Outcome {
    let call = name(&t.args);
    if (-4095..0).contains(&raw) {
        let errno = -raw as c_int;
        let e = if t.ns != Ns::Unknown {
            explained(t, errno)
        } else {
            Error::new(
                errno,
                format_args!("{call}: the kernel refused with {}", errno_name(errno)),
            )
        };
        return Outcome {
            ret: Ret::Int(-1),
            errno,
            msg: e.message(),
            warns: true,
            refuse: None,
        };
    }
    let mut w = t.warnings;
    let mut refuse = None;
    let ret = match t.args {
        Args::Get { key, flags, .. } => {
            let id = raw as c_int;
            let named = key != libc::IPC_PRIVATE;
            let (made, ds) = match t.found {
                // Each stopped call is its own claim: the kernel's creator pid decides.
                Some(before) => crate::created::decide(before, id, pid, || true),
                None => (
                    !named || flags & (IPC_CREAT | IPC_EXCL) == IPC_CREAT | IPC_EXCL,
                    None,
                ),
            };
            // Found where one was to be made: another user's segment may be a squatter's.
            let found_ds = if t.found.is_some() && !made {
                ds.or_else(|| backend::stat_any(&Direct, id).ok())
            } else {
                None
            };
            if let Some(ds) = found_ds.filter(|ds| crate::created::squatted(ds, subject::euid())) {
                w.squatted(key, ds.shm_perm.uid);
                if t.strict {
                    refuse = Some(EACCES);
                }
            }
            Ret::Created(raw, made)
        }
        Args::At { .. } => Ret::Addr(raw as usize),
        Args::Ctl { shmid, cmd } if cmd == IPC_RMID => {
            if t.ns != Ns::Unknown {
                // The kernel's count of this process's attachments, before the removal
                // (the call does not detach them).
                let mut held = 0;
                crate::maps::each_attachment(starts, |_, id| held += u64::from(id == shmid));
                if held > 0 {
                    w.still_attached(shmid, held);
                }
            }
            Ret::Int(raw)
        }
        _ => Ret::Int(raw),
    };
    let mut msg = t.broken.unwrap_or_default();
    if let Some(errno) = refuse {
        let m = Msg::from_fmt(format_args!("{call}: RSHM_STRICT=1 refuses this: {w}"));
        return Outcome {
            ret: Ret::Int(-1),
            errno,
            msg: m,
            warns: true,
            refuse,
        };
    }
    if !w.is_empty() {
        if !msg.is_empty() {
            msg.push_str("; ");
        }
        msg.push_fmt(format_args!("{w}"));
    }
    Outcome {
        ret,
        errno: 0,
        msg,
        warns: t.broken.is_some() || w.warns(),
        refuse: None,
    }
}

/// The explanation of a failure with `errno`.
fn explained(t: &Trapped, errno: c_int) -> Error {
    let call = name(&t.args);
    match t.args {
        Args::Get { key, size, flags } => {
            let lim = match t.ns {
                Ns::Mine => limits::reread(),
                _ => limits::read_now(&Direct),
            };
            explain::get(&Direct, call, key, size, flags, &lim, errno)
        }
        Args::At { shmid, addr, flags } => {
            let lba = limits::shmlba(&Direct);
            explain::at(&Direct, call, shmid, addr, flags, lba, errno)
        }
        Args::Dt { addr } => explain::dt(call, addr, limits::shmlba(&Direct), errno),
        Args::Ctl { shmid, cmd } if cmd == IPC_RMID => explain::rmid(&Direct, call, shmid, errno),
        Args::Ctl { shmid, cmd } => explain::ctl(&Direct, call, shmid, cmd, errno),
        Args::Report => Error::new(errno, format_args!("{call}")),
    }
}
