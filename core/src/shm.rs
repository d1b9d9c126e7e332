//! The four operations: validate -> backend -> registry -> log. Each returns a `Result`;
//! turning it into `-1` and errno is the C boundary's job.

use crate::backend::{self, Backend, FAILED, Syscall};
use crate::clock;
use crate::config::{self, Config, Level};
use crate::error::{self, Error, Msg, errno};
use crate::explain;
use crate::limits;
use crate::log::{self, Args, Record, Ret};
use crate::maps;
use crate::names::{IPC_CREAT, IPC_EXCL, IPC_RMID};
use crate::registry;
use crate::validate::{self, Warnings};
use libc::{EACCES, EINVAL, c_int, key_t};

/// Who is calling: which backend reaches the kernel, which names the log shows, and
/// whether a broken rule fails the call (the library) or is only reported (the preload
/// library, unless `RSHM_STRICT=1`).
///
/// Generic over the backend, so the system call is made inline in the exported function
/// (see [`Syscall`]) rather than through a vtable.
pub struct Api<B: 'static> {
    /// Reaches the real functions.
    pub backend: B,
    /// The names of get, at, dt and rmid as the program called them.
    pub names: [&'static str; 4],
    /// Log level when `RSHM_LOG` is unset.
    pub default_level: Level,
    /// Report broken rules and call the kernel anyway (unless `RSHM_STRICT=1`).
    pub observe: bool,
    /// Run at exit when `RSHM_REPORT=1` (it calls [`crate::report::run`]).
    pub at_exit: Option<extern "C" fn()>,
}

/// The linkable library: the system calls themselves ([`Syscall`]), `rshm_*` names, rules
/// enforced, `error` by default (quiet: a failure is told by errno and `rshm_last_error()`,
/// and only rshm's own trouble, such as a log file it cannot open, is written).
pub static LIBRARY: Api<Syscall> = Api {
    backend: Syscall,
    names: ["rshm_get", "rshm_at", "rshm_dt", "rshm_rmid"],
    default_level: Level::Error,
    observe: false,
    at_exit: Some(library_at_exit),
};

extern "C" fn library_at_exit() {
    crate::report::run(&LIBRARY);
}

impl<B> Api<B> {
    fn enforces(&self, c: &Config) -> bool {
        !self.observe || c.strict()
    }
}

/// The state of one call in progress: when it started and what it was asked.
struct Call<'a, B: 'static> {
    api: &'a Api<B>,
    cfg: Config,
    name: &'static str,
    args: Args,
    t0: clock::Stamp,
    /// The call broke a rule that is only reported (the preload library); the rule's
    /// sentence waits in this thread's last error.
    broken: bool,
}

impl<'a, B: Backend> Call<'a, B> {
    #[inline(always)]
    fn start(api: &'a Api<B>, which: usize, args: Args) -> Self {
        let cfg = config::get(api.default_level);
        if cfg.report() {
            crate::report::arm(api);
        }
        if cfg.level() >= Level::Debug {
            announce(api, &cfg);
        }
        // One stamp a call: the log's duration and the registry's times.
        let t0 = clock::stamp();
        Call {
            api,
            cfg,
            name: api.names[which],
            args,
            t0,
            broken: false,
        }
    }

    /// The rule's verdict: `Err` stops the call when rules are enforced; otherwise a
    /// broken rule is kept, to be logged as a warning with the call's result.
    // Inlined so the (large) `Err` side is not copied on the path where it is absent.
    #[inline(always)]
    fn check(&mut self, v: validate::Checked) -> Result<Warnings, Error> {
        match v {
            Ok(w) => Ok(w),
            Err(e) if self.api.enforces(&self.cfg) => Err(self.failed(e)),
            // The rule's sentence went to this thread's last error when `e` was made.
            Err(_) => {
                self.broken = true;
                Ok(Warnings::default())
            }
        }
    }

    fn log(&self, ret: Ret, errno: c_int, msg: &str, level: Level) {
        let dur_ns = self.t0.elapsed_ns();
        let r = Record {
            call: self.name,
            args: self.args,
            ret,
            errno,
            msg,
            level,
            dur_ns,
        };
        log::emit(&self.cfg, &r);
    }

    /// Logs the failure `e` (at warn) and hands it back.
    #[cold]
    #[inline(never)]
    fn failed(&self, e: Error) -> Error {
        if Level::Warn <= self.cfg.level() {
            self.log(Ret::Int(-1), e.errno, e.message().as_str(), Level::Warn);
        }
        e
    }

    /// Logs success: at info, or at warn with the sentence of a broken rule and of the
    /// warnings. Only the level test is inline: at the default level nothing is written.
    #[inline(always)]
    fn done(&self, ret: Ret, w: &Warnings) {
        let level = if w.is_empty() && !self.broken {
            Level::Info
        } else {
            Level::Warn
        };
        if level <= self.cfg.level() {
            self.log_done(ret, w, level);
        }
    }

    #[cold]
    #[inline(never)]
    fn log_done(&self, ret: Ret, w: &Warnings, level: Level) {
        let mut msg = if self.broken {
            error::last()
        } else {
            Msg::new()
        };
        if !w.is_empty() {
            if !msg.is_empty() {
                msg.push_str("; ");
            }
            msg.push_fmt(format_args!("{w}"));
        }
        self.log(ret, 0, msg.as_str(), level);
    }
}

/// At `debug` and `trace`, the first call of the process logs the configuration and the
/// limits rshm works with.
#[cold]
fn announce<B: Backend>(api: &Api<B>, cfg: &Config) {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.load(Relaxed) || DONE.swap(true, Relaxed) {
        return;
    }
    let l = limits::get(&api.backend);
    let msg = Msg::from_fmt(format_args!(
        "level={} format={} strict={} report={} log fd {}; limits SHMMIN={} SHMMAX={} SHMALL={} pages SHMMNI={} SHMLBA={}",
        cfg.level().lower(),
        if cfg.json() { "json" } else { "text" },
        u8::from(cfg.strict()),
        u8::from(cfg.report()),
        cfg.fd(),
        l.shmmin,
        l.shmmax,
        l.shmall,
        l.shmmni,
        l.shmlba
    ));
    let r = Record {
        call: "config",
        args: Args::Report,
        ret: Ret::Int(0),
        errno: 0,
        msg: msg.as_str(),
        level: Level::Debug,
        dur_ns: 0,
    };
    log::emit(cfg, &r);
}

/// shmget: gets (and with `IPC_CREAT`, makes) the segment of `key`.
#[inline(always)]
pub fn get<B: Backend>(
    api: &Api<B>,
    key: key_t,
    size: usize,
    flags: c_int,
) -> Result<c_int, Error> {
    let mut call = Call::start(api, 0, Args::Get { key, size, flags });
    let lim = limits::get(&api.backend);
    let mut warning = call.check(validate::get(call.name, key, size, flags, &lim))?;
    if call.cfg.strict() && warning.world_writable() {
        let e = Error::new(
            EINVAL,
            format_args!("{}: RSHM_STRICT=1 refuses this: {warning}", call.name),
        );
        return Err(call.failed(e));
    }
    let id = api.backend.shmget(key, size, flags);
    if id < 0 {
        let e = explain::get(&api.backend, call.name, key, size, flags, &lim, errno());
        return Err(call.failed(e));
    }
    let pid = config::getpid();
    let created = if key == libc::IPC_PRIVATE
        || flags & (IPC_CREAT | IPC_EXCL) == IPC_CREAT | IPC_EXCL
    {
        true
    } else if flags & IPC_CREAT != 0 {
        // Made now or found? The kernel knows who made it, and who owns it: a segment of
        // another user found where one was to be made may be a squatter's.
        match backend::stat_any(&api.backend, id) {
            Ok(ds) if ds.shm_cpid == pid => true,
            Ok(ds) => {
                let me = euid();
                if ds.shm_perm.uid != me && ds.shm_perm.cuid != me {
                    warning.squatted(key, ds.shm_perm.uid);
                    if call.cfg.strict() {
                        let e = Error::new(
                            EACCES,
                            format_args!("{}: RSHM_STRICT=1 refuses this: {warning}", call.name),
                        );
                        return Err(call.failed(e));
                    }
                }
                false
            }
            Err(_) => false,
        }
    } else {
        false
    };
    registry::segment_got(
        id,
        key,
        size as u64,
        (flags & 0o777) as u32,
        created,
        pid,
        call.t0,
    );
    call.done(Ret::Created(id.into(), created), &warning);
    Ok(id)
}

fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// shmat: attaches segment `shmid` at `addr` (0: where the kernel likes) and returns the
/// address.
///
/// # Safety
/// As shmat(2): with a fixed address and `SHM_REMAP` the kernel replaces whatever the
/// process had mapped there, so no live Rust reference may point into that range.
#[inline(always)]
pub unsafe fn attach<B: Backend>(
    api: &Api<B>,
    shmid: c_int,
    addr: usize,
    flags: c_int,
) -> Result<usize, Error> {
    let mut call = Call::start(api, 1, Args::At { shmid, addr, flags });
    let lba = limits::shmlba(&api.backend);
    let warning = call.check(validate::at(call.name, shmid, addr, flags, lba))?;
    // SAFETY: the caller upholds shmat's contract (see this function's Safety section).
    let p = unsafe { api.backend.shmat(shmid, addr, flags) };
    if p == FAILED {
        let e = explain::at(&api.backend, call.name, shmid, addr, flags, errno());
        return Err(call.failed(e));
    }
    registry::attached(p, shmid, flags, config::getpid(), call.t0, || {
        size_from_kernel(api, shmid)
    });
    call.done(Ret::Addr(p), &warning);
    Ok(p)
}

/// The size of a segment this process has not seen yet (0 if the kernel will not say).
#[cold]
#[inline(never)]
fn size_from_kernel<B: Backend>(api: &Api<B>, shmid: c_int) -> u64 {
    backend::stat(&api.backend, shmid).map_or(0, |ds| ds.shm_segsz as u64)
}

/// shmdt: detaches the segment attached at `addr`. The address is never read.
///
/// # Safety
/// As shmdt(2): the segment's memory at `addr` must not be used afterwards.
#[inline(always)]
pub unsafe fn detach<B: Backend>(api: &Api<B>, addr: usize) -> Result<(), Error> {
    let mut call = Call::start(api, 2, Args::Dt { addr });
    let lba = limits::shmlba(&api.backend);
    let mut warning = call.check(validate::dt(call.name, addr, lba))?;
    let seen = registry::attachment(addr).or_else(|| recognise(addr));
    if seen.is_none() && registry::detached_attachment(addr).is_none() {
        warning.foreign_address(addr);
    }
    // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
    if unsafe { api.backend.shmdt(addr) } < 0 {
        return Err(call.failed(explain::dt(call.name, addr, errno())));
    }
    if let Some(a) = seen {
        registry::detached(&a, call.t0);
    }
    call.done(Ret::Int(0), &warning);
    Ok(())
}

/// An attachment the registry missed (made before rshm was loaded, or by a raw syscall)
/// but that /proc/self/maps shows at `addr`: recorded now, so it is not called foreign.
fn recognise(addr: usize) -> Option<registry::Attachment> {
    let found = maps::sysv_at(addr)?;
    registry::attached(
        addr,
        found.shmid,
        0,
        config::getpid(),
        clock::Stamp(0),
        || found.size,
    );
    registry::attachment(addr)
}

/// shmctl(IPC_RMID): marks segment `shmid` for removal; it is destroyed after the last
/// detach.
#[inline(always)]
pub fn rmid<B: Backend>(api: &Api<B>, shmid: c_int) -> Result<(), Error> {
    let mut call = Call::start(
        api,
        3,
        Args::Ctl {
            shmid,
            cmd: IPC_RMID,
        },
    );
    let mut warning = call.check(validate::rmid(call.name, shmid))?;
    let held = registry::attach_count(shmid);
    if held > 0 {
        warning.still_attached(shmid, held);
    }
    // SAFETY: IPC_RMID reads no buffer.
    if unsafe { api.backend.shmctl(shmid, IPC_RMID, core::ptr::null_mut()) } < 0 {
        return Err(call.failed(explain::rmid(&api.backend, call.name, shmid, errno())));
    }
    registry::segment_removed(shmid);
    call.done(Ret::Int(0), &warning);
    Ok(())
}

/// shmctl: IPC_RMID goes through [`rmid`]; every other command is forwarded unchanged and
/// logged (IPC_INFO and SHM_INFO return an index, SHM_STAT and SHM_STAT_ANY take one).
///
/// # Safety
/// As shmctl(2): `buf` must be valid for what `cmd` reads or writes.
#[inline]
pub unsafe fn ctl<B: Backend>(
    api: &Api<B>,
    shmid: c_int,
    cmd: c_int,
    buf: *mut libc::shmid_ds,
) -> Result<c_int, Error> {
    if cmd == IPC_RMID {
        return rmid(api, shmid).map(|()| 0);
    }
    let call = Call::start(api, 3, Args::Ctl { shmid, cmd });
    // SAFETY: the caller guarantees `buf` fits `cmd`.
    let r = unsafe { api.backend.shmctl(shmid, cmd, buf) };
    if r < 0 {
        return Err(call.failed(explain::ctl(call.name, shmid, cmd, errno())));
    }
    call.done(Ret::Int(r.into()), &Warnings::default());
    Ok(r)
}
