//! The four operations: validate -> backend -> registry -> log. Each returns a `Result`;
//! turning it into `-1` and errno is the C boundary's job. Where nothing of a call but its
//! result can be seen (the preload library with nothing shown: `Api::records`), the call
//! goes straight to the backend.

use crate::backend::{self, Backend, Direct, FAILED, Syscall};
use crate::clock;
use crate::config::{self, Config, Level};
use crate::created;
use crate::error::{self, Error, Msg, errno};
use crate::explain;
use crate::limits;
use crate::log::{self, Args, Record, Ret};
use crate::names::{IPC_CREAT, IPC_EXCL, IPC_RMID};
use crate::registry;
use crate::validate::{self, Warnings};
use libc::{EACCES, EINVAL, ENOSPC, c_int, key_t};

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
}

/// The linkable library: the system calls themselves ([`Syscall`]), `rshm_*` names, rules
/// enforced, `error` by default (quiet: a failure is told by errno and `rshm_last_error()`,
/// and only rshm's own trouble, such as a log file it cannot open, is written).
pub static LIBRARY: Api<Syscall> = Api {
    backend: Syscall,
    names: ["rshm_get", "rshm_at", "rshm_dt", "rshm_rmid"],
    default_level: Level::Error,
    observe: false,
};

impl<B> Api<B> {
    fn enforces(&self, c: &Config) -> bool {
        !self.observe || c.strict()
    }

    /// Whether a call under `c` does what can be seen besides its result: checks its
    /// arguments (against the limits), records what it did in the registry (with the pid
    /// and a time stamp), and explains a failure; if not, it only hands the call to the
    /// backend. The linkable library always does: it enforces its rules, and its API shows
    /// the registry and the explanations whatever the log level (`rshm_attachment_count()`,
    /// `rshm_last_error()`'s "already detached at ..."). The preload library exports
    /// nothing but the four libc names and only reports broken rules, so there all of that
    /// is seen only through what `c` shows ([`Config::shows_history`]); when that is
    /// nothing (`RSHM_LOG=off` or `error`, no shown report, no `RSHM_STRICT`), a call
    /// touches none of the registry's pages (a forked child making a few calls faults none
    /// of them in) and asks the kernel nothing of its own. The configuration is read once
    /// per process, so a process does this for all its calls or for none (but for a call
    /// in a signal handler that interrupted the reading of the configuration itself, which
    /// runs with the defaults, and records).
    #[inline(always)]
    pub(crate) fn records(&self, c: &Config) -> bool {
        !self.observe || c.shows_history()
    }
}

impl<B: Backend> Api<B> {
    /// What the destructor does: the exit report and the count of dropped log lines
    /// (`report::at_exit`), entered only when there is something to say. The report's own
    /// frame is large (its lines are built on the stack, and the stack is probed a page
    /// down at its entry), so a process with nothing to report, the common case, does not
    /// touch that page: in a forked child, a copy-on-write fault fewer at exit.
    #[inline(always)]
    pub fn at_exit(&self) {
        // Not read yet: no call was made and no constructor ran, nothing to say (and the
        // configuration is not read here).
        if !config::ready() {
            return;
        }
        let c = config::get(self.default_level);
        if (c.report() && c.level() != Level::Off) || crate::sink::lost_total() > 0 {
            exit_report(self);
        }
    }
}

/// [`Api::at_exit`]'s slow side, out of line.
#[cold]
#[inline(never)]
fn exit_report<B: Backend>(api: &Api<B>) {
    crate::report::at_exit(api);
}

/// What the library's and the preload library's constructors do, so that no call has to
/// (inside a signal handler, or in each forked child): read the configuration and note
/// which process loaded the library (for the pid cache); then, if calls will check and
/// record (`Api::records`), decide what time stamps count (two CPUIDs and an anchor of
/// two clock reads) and read the limits (IPC_INFO, asked directly), both inherited by
/// forked children, which would otherwise each do it again at their first call. The
/// preload library with nothing shown (`RSHM_LOG=off`) needs neither, ever: an exec under
/// it then asks the kernel nothing about shared memory.
pub fn init_early<B>(api: &Api<B>) {
    let cfg = config::init_early(api.default_level);
    crate::channel::at_load();
    if api.records(&cfg) {
        let _ = clock::stamp();
        let _ = limits::get(&Direct);
    }
}

/// The state of one call in progress: when it started and what it was asked.
struct Call<'a, B: 'static> {
    api: &'a Api<B>,
    cfg: Config,
    name: &'static str,
    args: Args,
    /// When the kernel call began (the registry's time of the call).
    t0: clock::Stamp,
    /// How long the kernel call took (measured only when a line may be logged): the log's
    /// duration, which leaves out rshm's own checks, lookups and explanations.
    dur_ns: u64,
    /// The call broke a rule that is only reported (the preload library); the rule's
    /// sentence waits in this thread's last error.
    broken: bool,
    /// The call is checked, recorded and explained ([`Api::records`]), not only forwarded.
    records: bool,
}

impl<'a, B: Backend> Call<'a, B> {
    #[inline(always)]
    fn start(api: &'a Api<B>, which: usize, args: Args) -> Self {
        let cfg = config::get(api.default_level);
        if cfg.level() >= Level::Debug {
            announce(&cfg);
        }
        Call {
            api,
            cfg,
            name: api.names[which],
            args,
            t0: clock::Stamp(0),
            dur_ns: 0,
            broken: false,
            records: api.records(&cfg),
        }
    }

    /// Makes the kernel call `f`, stamping its start when the call records (one stamp a
    /// call: the registry's time) and, when a line may be logged (which implies that it
    /// records), measuring it: the duration a line shows is the kernel's time alone.
    #[inline(always)]
    fn kernel<T>(&mut self, f: impl FnOnce() -> T) -> T {
        if self.records {
            self.t0 = clock::stamp();
        }
        let r = f();
        if Level::Warn <= self.cfg.level() {
            let _errno = crate::error::ErrnoGuard::save();
            self.dur_ns = self.t0.elapsed_ns();
        }
        r
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
        let dur_ns = self.dur_ns;
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

    /// The kernel's refusal (this thread's errno), unexplained: for a call of which nothing
    /// can be seen but its result ([`Api::records`] false), where no explanation would be
    /// shown, so none of the questions an explanation asks the kernel is asked.
    #[cold]
    #[inline(never)]
    fn refused(&self) -> Error {
        let e = errno();
        Error::new(
            e,
            format_args!(
                "{}: the kernel refused with {}",
                self.name,
                crate::names::errno_name(e)
            ),
        )
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
        let level = if !w.warns() && !self.broken {
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
fn announce(cfg: &Config) {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.load(Relaxed) || DONE.swap(true, Relaxed) {
        return;
    }
    let l = limits::get(&Direct);
    let msg = Msg::from_fmt(format_args!(
        "level={} format={} strict={} report={} log to {}; limits SHMMIN={} SHMMAX={} SHMALL={} pages SHMMNI={} SHMLBA={}",
        cfg.level().lower(),
        if cfg.json() { "json" } else { "text" },
        u8::from(cfg.strict()),
        u8::from(cfg.report()),
        crate::sink::kind(),
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
///
/// The program's call reaches the backend exactly as it was made. Whether it made the
/// segment ("created") is decided around it (the `created` module), with rshm's own direct
/// questions, and only when something shows it (a log line at warn or above, the exit
/// report, `RSHM_STRICT`); otherwise nothing is asked and it is recorded as found. When a
/// get-or-create finds another user's segment, its owner (asked directly, unless already
/// known) serves the squatting warning.
#[inline(always)]
pub fn get<B: Backend>(
    api: &Api<B>,
    key: key_t,
    size: usize,
    flags: c_int,
) -> Result<c_int, Error> {
    let mut call = Call::start(api, 0, Args::Get { key, size, flags });
    if !call.records {
        // Nothing of this call can be seen but its result (see `Api::records`).
        let id = call.kernel(|| api.backend.shmget(key, size, flags));
        if id < 0 {
            return Err(call.refused());
        }
        return Ok(id);
    }
    let lim = limits::get(&Direct);
    let lim = if validate::rests_on_limits(key, size, &lim) {
        // About to refuse on a limit: the administrator may have raised it since.
        limits::reread()
    } else {
        lim
    };
    let mut warning = call.check(validate::get(call.name, key, size, flags, &lim))?;
    if call.cfg.strict() && warning.world_writable() {
        let e = Error::new(
            EINVAL,
            format_args!("{}: RSHM_STRICT=1 refuses this: {warning}", call.name),
        );
        return Err(call.failed(e));
    }
    let named = key != libc::IPC_PRIVATE;
    let excl = flags & (IPC_CREAT | IPC_EXCL) == IPC_CREAT | IPC_EXCL;
    let get_or_create = named && flags & (IPC_CREAT | IPC_EXCL) == IPC_CREAT;
    // "created" is shown by a log line at warn or above, the exit report (shown at any
    // level but off) and strict mode's squatting check; otherwise nothing is asked.
    let shown = call.cfg.shows_history();
    // A get-or-create first asks whether the key has a segment.
    let found = (shown && get_or_create).then(|| created::before(key));
    let id = call.kernel(|| api.backend.shmget(key, size, flags));
    if id < 0 {
        return Err(get_failed(&call, key, size, flags, errno()));
    }
    let pid = config::getpid();
    let mode = (flags & 0o777) as u32;
    // The first claim of a segment in this process is its maker's (see `created`).
    let claim = || registry::claim_created(id, key, size as u64, mode, pid, call.t0);
    let (made, mut ds) = match found {
        // The kernel's pid, not the cache: a CLONE_VM child shares this library's memory.
        Some(found) => created::decide(found, id, crate::pid::getpid(), claim),
        // IPC_CREAT|IPC_EXCL succeeds only by making one: its claim keeps an overlapping
        // get-or-create of this process from taking the segment for its own.
        None if shown && named && excl => {
            claim();
            (true, None)
        }
        // A private key always makes a segment; without IPC_CREAT one is only looked up.
        None => (!named || excl, None),
    };
    if get_or_create && !made && (Level::Warn <= call.cfg.level() || call.cfg.strict()) {
        // Found where one was to be made: another user's segment may be a squatter's. (Not
        // asked when this process made the segment, nor when the warning would go nowhere.)
        let made_here = registry::segment(id).is_some_and(|s| s.created);
        let me = euid();
        if ds.is_none() && !made_here {
            ds = backend::stat_any(&Direct, id).ok();
        }
        let owner = ds.filter(|_| !made_here);
        if let Some(ds) = owner.filter(|ds| created::squatted(ds, me)) {
            warning.squatted(key, ds.shm_perm.uid);
            if call.cfg.strict() {
                let e = Error::new(
                    EACCES,
                    format_args!("{}: RSHM_STRICT=1 refuses this: {warning}", call.name),
                );
                return Err(call.failed(e));
            }
        }
    }
    registry::segment_got(id, key, size as u64, mode, made, pid, call.t0);
    call.done(Ret::Created(id.into(), made), &warning);
    Ok(id)
}

/// A shmget the kernel refused with `errno`: explained (and logged at warn).
#[cold]
#[inline(never)]
fn get_failed<B: Backend>(
    call: &Call<'_, B>,
    key: key_t,
    size: usize,
    flags: c_int,
    errno: c_int,
) -> Error {
    let lim = if matches!(errno, EINVAL | ENOSPC) {
        // The explanation names limits: as they are now.
        limits::reread()
    } else {
        limits::get(&Direct)
    };
    call.failed(explain::get(
        &Direct, call.name, key, size, flags, &lim, errno,
    ))
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
    if !call.records {
        // Nothing of this call can be seen but its result (see `Api::records`).
        // SAFETY: the caller upholds shmat's contract (see this function's Safety section).
        let p = call.kernel(|| unsafe { api.backend.shmat(shmid, addr, flags) });
        if p == FAILED {
            return Err(call.refused());
        }
        return Ok(p);
    }
    let lba = limits::shmlba(&Direct);
    let warning = call.check(validate::at(call.name, shmid, addr, flags, lba))?;
    // SAFETY: the caller upholds shmat's contract (see this function's Safety section).
    let p = call.kernel(|| unsafe { api.backend.shmat(shmid, addr, flags) });
    if p == FAILED {
        let e = explain::at(&Direct, call.name, shmid, addr, flags, lba, errno());
        return Err(call.failed(e));
    }
    // The size is the registry's if it knows the segment; not asked of the kernel
    // otherwise (the exit report asks it when it needs it).
    registry::attached(p, shmid, flags, config::getpid(), call.t0, 0);
    call.done(Ret::Addr(p), &warning);
    Ok(p)
}

/// shmdt: detaches the segment attached at `addr`. The address is never read.
///
/// # Safety
/// As shmdt(2): the segment's memory at `addr` must not be used afterwards.
#[inline(always)]
pub unsafe fn detach<B: Backend>(api: &Api<B>, addr: usize) -> Result<(), Error> {
    let mut call = Call::start(api, 2, Args::Dt { addr });
    if !call.records {
        // Nothing of this call can be seen but its result (see `Api::records`).
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        if call.kernel(|| unsafe { api.backend.shmdt(addr) }) < 0 {
            return Err(call.refused());
        }
        return Ok(());
    }
    let lba = limits::shmlba(&Direct);
    let mut warning = call.check(validate::dt(call.name, addr, lba))?;
    let seen = registry::attachment(addr);
    // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
    if call.kernel(|| unsafe { api.backend.shmdt(addr) }) < 0 {
        return Err(call.failed(explain::dt(call.name, addr, lba, errno())));
    }
    match seen {
        Some(a) => registry::detached(&a, call.t0),
        // One the registry had no room for: one fewer is held, and nothing to say.
        None if registry::untracked_detached() => {}
        // The kernel detached an attachment rshm did not see being made (a raw system
        // call, other code's shmat). Not looked up in /proc/self/maps: that read costs some
        // 30 times the call. The library says so (the program mixes shmat and rshm_dt); the
        // preload library, which observes a program whose raw system calls are its own
        // business, does not.
        None if !api.observe => warning.foreign_address(addr),
        None => {}
    }
    call.done(Ret::Int(0), &warning);
    Ok(())
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
    if !call.records {
        // Nothing of this call can be seen but its result (see `Api::records`).
        // SAFETY: IPC_RMID reads no buffer.
        let r =
            call.kernel(|| unsafe { api.backend.shmctl(shmid, IPC_RMID, core::ptr::null_mut()) });
        if r < 0 {
            return Err(call.refused());
        }
        return Ok(());
    }
    let mut warning = call.check(validate::rmid(call.name, shmid))?;
    // Unknown (None) while an attachment that did not fit the registry is held: then
    // nothing is said rather than a number that may be wrong. The note (info) says what
    // the kernel has: the registry may still count an attachment the kernel dropped
    // (munmap, a mapping placed over it), so /proc/self/maps gives the number.
    if Level::Info <= call.cfg.level() && registry::attach_count(shmid).is_some_and(|n| n > 0) {
        let held = registry::held_in_maps(shmid);
        if held > 0 {
            warning.still_attached(shmid, held);
        }
    }
    // SAFETY: IPC_RMID reads no buffer.
    if call.kernel(|| unsafe { api.backend.shmctl(shmid, IPC_RMID, core::ptr::null_mut()) }) < 0 {
        return Err(call.failed(explain::rmid(&Direct, call.name, shmid, errno())));
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
    let mut call = Call::start(api, 3, Args::Ctl { shmid, cmd });
    // SAFETY: the caller guarantees `buf` fits `cmd`.
    let r = call.kernel(|| unsafe { api.backend.shmctl(shmid, cmd, buf) });
    if r < 0 && !call.records {
        return Err(call.refused());
    }
    if r < 0 {
        return Err(call.failed(explain::ctl(&Direct, call.name, shmid, cmd, errno())));
    }
    call.done(Ret::Int(r.into()), &Warnings::default());
    Ok(r)
}
