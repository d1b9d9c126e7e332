//! `RSHM_REPORT=1`: at exit, one report through the log sink of what this process leaves
//! behind: every segment it created that still exists and is not marked for removal (a
//! leak that outlives the process), and every attachment it made and never detached.

use crate::backend::{self, Backend};
use crate::clock::Wall;
use crate::config::{self, Level};
use crate::error::Msg;
use crate::log::{self, Args, Record, Ret};
use crate::names::{Addr, Key};
use crate::registry;
use crate::shm::Api;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// `SHM_DEST` in `shm_perm.mode`: marked for removal.
const SHM_DEST: u16 = 0o1000;

static DONE: AtomicBool = AtomicBool::new(false);

/// What rshm says when the process exits: the report if `RSHM_REPORT=1`, and how many log
/// lines the sink dropped, if any. Called from the library's and the preload library's
/// destructors (`.fini_array`), never registered from a call: atexit(3) takes a lock and
/// may allocate, and a call may run inside a signal handler.
pub fn at_exit<B: Backend>(api: &Api<B>) {
    if !config::ready() {
        // No call was made and no constructor ran: nothing to say.
        return;
    }
    run(api);
    let lost = crate::sink::lost_total();
    if lost > 0 {
        let c = config::get(api.default_level);
        let msg = Msg::from_fmt(format_args!(
            "{lost} log line(s) were dropped in this process (the log refused them, or could not take them within {} ms)",
            crate::sink::WAIT_MS
        ));
        line(&c, Level::Error, lost as usize, &msg);
        // The log itself may be what fails: then standard error hears it, once.
        if crate::sink::lost_pending() > 0 && crate::sink::kind() == "file" {
            config::say(format_args!("rshm: {}\n", msg.as_str()));
        }
    }
}

fn line(c: &config::Config, level: Level, count: usize, msg: &Msg) {
    let r = Record {
        call: "report",
        args: Args::Report,
        ret: Ret::Int(count as i64),
        errno: 0,
        msg: msg.as_str(),
        level,
        dur_ns: 0,
    };
    // Asked for by RSHM_REPORT=1 itself: shown at any RSHM_LOG level but off.
    if c.level() != Level::Off {
        log::emit_always(c, &r);
    }
}

/// Writes the report (once per process), if `RSHM_REPORT=1`. Returns the number of
/// segments made here that still exist and of attachments still held.
///
/// A process cannot know whether another will remove a segment after it exits, so the
/// report never says "leak": it lists, at info level, what outlives it or goes with it.
/// The verdict belongs to whoever sees the end (rshm-trace, after every traced process
/// has exited). The attachments come from the kernel's view (/proc/self/maps), so an
/// entry the kernel already dropped (munmap, exec, a failed shmdt that proved it) is not
/// listed, and attachments inherited from a parent are.
pub fn run<B: Backend>(api: &Api<B>) -> (usize, usize) {
    let c = config::get(api.default_level);
    // Shown at any level but off: with the log off, nothing is asked either.
    if !c.report() || c.level() == Level::Off || DONE.swap(true, Relaxed) {
        return (0, 0);
    }
    let pid = config::getpid();
    let mut outlive = 0;
    registry::each_segment(|s| {
        if !s.created || s.creator != pid || s.removed {
            return;
        }
        // Ask the kernel (directly: rshm's own question; SHM_STAT_ANY when the mode denies
        // read): another process may have removed it meanwhile, or marked it for removal,
        // and the id may now be another segment's (another key, or another maker).
        let (size, mode, state) = match backend::stat_any(&backend::Direct, s.shmid) {
            Ok(ds) if ds.shm_perm.mode & SHM_DEST != 0 => return,
            Ok(ds) if ds.shm_perm.__key != s.key || ds.shm_cpid != pid => return,
            Ok(ds) => (ds.shm_segsz as u64, u32::from(ds.shm_perm.mode) & 0o777, ""),
            Err(libc::EACCES) => (
                s.size,
                s.mode,
                " (its state is not readable to this process)",
            ),
            Err(_) => return,
        };
        outlive += 1;
        let msg = Msg::from_fmt(format_args!(
            "segment {} (key {}, {} bytes, mode 0{:03o}, created here at {}) still exists at exit{state}; \
             another process may still remove it",
            s.shmid,
            Key(s.key),
            size,
            mode,
            Wall(s.since)
        ));
        line(&c, Level::Info, 1, &msg);
    });
    let mut held = 0;
    crate::maps::each_attachment(registry::starts_at, |start, shmid| {
        let known = registry::attachment(start).filter(|a| a.shmid == shmid);
        held += 1;

        // (SHM_STAT_ANY when the mode denies this process read access.)
        let ds = backend::stat_any(&backend::Direct, shmid);
        // The segment's size as the kernel has it; the registry's if the kernel will not say.
        let size = ds.map_or(0, |ds| ds.shm_segsz as u64);
        let fate = match ds {
            Ok(ds) if ds.shm_perm.mode & SHM_DEST != 0 => {
                "; the segment is marked for removal: the kernel detaches it at exit and frees it with the last detach"
            }
            _ => "; the kernel detaches it at exit",
        };
        let msg = match known {
            Some(a) if a.pid == pid => Msg::from_fmt(format_args!(
                "segment {shmid} at {} ({} bytes, attached here at {}) is still attached{fate}",
                Addr(start),
                if size != 0 { size } else { a.size },
                Wall(a.attached)
            )),
            Some(a) => Msg::from_fmt(format_args!(
                "segment {shmid} at {} ({} bytes, inherited: attached by pid {} at {}) is still attached{fate}",
                Addr(start),
                if size != 0 { size } else { a.size },
                a.pid,
                Wall(a.attached)
            )),
            None => Msg::from_fmt(format_args!(
                "segment {shmid} at {} (attached without rshm) is still attached{fate}",
                Addr(start)
            )),
        };
        line(&c, Level::Info, 1, &msg);
    });
    let mut msg = Msg::from_fmt(format_args!(
        "at exit: {outlive} segment(s) made here still exist, {held} attachment(s) still held"
    ));
    let missed = registry::untracked();
    if missed > 0 {
        msg.push_fmt(format_args!(
            "; {missed} entr(ies) did not fit the registry, so this report may miss some"
        ));
    }
    line(&c, Level::Info, outlive + held, &msg);
    (outlive, held)
}
