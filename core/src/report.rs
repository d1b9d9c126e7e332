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

static ARMED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicBool = AtomicBool::new(false);

/// Registers `api.at_exit` with atexit(3), once, when the report is asked for.
pub fn arm<B>(api: &Api<B>) {
    if let Some(f) = api.at_exit {
        if !ARMED.load(Relaxed) && !ARMED.swap(true, Relaxed) {
            // SAFETY: `f` is a plain extern "C" function that lives as long as the program.
            unsafe { libc::atexit(f) };
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
    log::emit(c, &r);
}

/// Writes the report (once per process), if `RSHM_REPORT=1`. Returns the number of
/// leaked segments and of attachments never detached.
pub fn run<B: Backend>(api: &Api<B>) -> (usize, usize) {
    let c = config::get(api.default_level);
    if !c.report() || DONE.swap(true, Relaxed) {
        return (0, 0);
    }
    let pid = config::getpid();
    let mut leaked = 0;
    registry::each_segment(|s| {
        if !s.created || s.creator != pid || s.removed {
            return;
        }
        // Ask the kernel: another process may have removed it meanwhile.
        match backend::stat(&api.backend, s.shmid) {
            Ok(ds) if ds.shm_perm.mode & SHM_DEST == 0 => {
                leaked += 1;
                let msg = Msg::from_fmt(format_args!(
                    "leak: segment {} (key {}, {} bytes, mode 0{:03o}, created {}) outlives this process; nothing removed it",
                    s.shmid,
                    Key(s.key),
                    s.size,
                    s.mode,
                    Wall(s.since)
                ));
                line(&c, Level::Warn, 1, &msg);
            }
            _ => {}
        }
    });
    let mut attached = 0;
    registry::each_attachment(|a| {
        if a.pid != pid {
            return;
        }
        attached += 1;
        let msg = Msg::from_fmt(format_args!(
            "leak: segment {} attached at {} ({} bytes, since {}) was never detached",
            a.shmid,
            Addr(a.addr),
            a.size,
            Wall(a.attached)
        ));
        line(&c, Level::Warn, 1, &msg);
    });
    let mut msg = Msg::from_fmt(format_args!(
        "{leaked} segment(s) created here outlive the process, {attached} attachment(s) never detached"
    ));
    let missed = registry::untracked();
    if missed > 0 {
        msg.push_fmt(format_args!(
            "; {missed} entr(ies) did not fit the registry, so this report may miss some"
        ));
    }
    let level = if leaked + attached > 0 {
        Level::Warn
    } else {
        Level::Info
    };
    line(&c, level, leaked + attached, &msg);
    (leaked, attached)
}
