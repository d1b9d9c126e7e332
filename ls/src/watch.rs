//! `--watch SECS`: redraw like watch(1), marking what changed since the last redraw.
//! SIGINT and SIGTERM are blocked and waited for with sigtimedwait between redraws, so
//! either ends the loop cleanly (exit status 0) whenever it comes. While a redraw is
//! written they are unblocked, with a handler that ends the process at once with status 0:
//! a write blocked on a reader that does not read (a full pipe, a stopped terminal) does
//! not hold them off.

use crate::args::Options;
use crate::render::{self, Marks};
use crate::segments::Source;
use crate::snapshot::{self, Entry};
use crate::timefmt::local;
use crate::users::Users;
use crate::{output, sys};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Clears the screen and puts the cursor at its top left (on a terminal only).
const CLEAR: &str = "\x1b[H\x1b[2J";

/// SIGINT's and SIGTERM's handler while a redraw is written: the end, status 0.
extern "C" fn stop_now(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe; nothing needs to be flushed or undone.
    unsafe { libc::_exit(0) }
}

/// Sets `stop_now` as the handler of SIGINT and SIGTERM (it runs only while they are
/// unblocked, around a write).
fn handle_stop() -> Result<(), String> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with an empty mask and a valid handler is complete;
        // stop_now only calls _exit.
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = stop_now as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if r != 0 {
            return Err(format!("sigaction: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Writes one redraw with SIGINT and SIGTERM unblocked (`set` holds them): either ends
/// the process, even with the write blocked. False if nobody reads any more.
fn write_unblocked(set: &libc::sigset_t, text: &str) -> Result<bool, String> {
    // SAFETY: set is initialised; a pending signal is delivered here, to stop_now.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, set, std::ptr::null_mut()) };
    let written = output::write(text);
    // SAFETY: as above; blocked again until sigtimedwait takes them.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, set, std::ptr::null_mut()) };
    written
}

/// What changed from `before` to `now`: the marks, and the segments gone.
pub fn marks(before: &[Entry], now: &[Entry], color: bool) -> Marks {
    let old: HashMap<i32, &Entry> = before.iter().map(|e| (e.seg.id, e)).collect();
    let new: HashMap<i32, &Entry> = now.iter().map(|e| (e.seg.id, e)).collect();
    let mut m = Marks {
        color,
        ..Marks::default()
    };
    for e in now {
        match old.get(&e.seg.id) {
            None => {
                m.marks.insert(e.seg.id, '+');
            }
            Some(o) if o.state != e.state => {
                m.marks.insert(e.seg.id, '~');
            }
            Some(_) => {}
        }
    }
    m.gone = before
        .iter()
        .filter(|e| !new.contains_key(&e.seg.id))
        .cloned()
        .collect();
    m
}

/// A set holding SIGINT and SIGTERM.
fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Waits `d` for SIGINT or SIGTERM; true if one came.
fn wait_for_stop(set: &libc::sigset_t, d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as _,
        };
        // SAFETY: both pointers are valid; a null siginfo is allowed.
        let r = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) };
        if r > 0 {
            return true;
        }
        if sys::errno() != libc::EINTR || left.is_zero() {
            return false;
        }
    }
}

/// Redraws every `interval` until SIGINT or SIGTERM.
pub fn run(
    o: &Options,
    interval: Duration,
    forced: Option<Source>,
    users: &mut Users,
) -> Result<(), String> {
    let set = stop_signals();
    // SAFETY: set is initialised; blocking the two signals only defers them to sigtimedwait.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        return Err(format!("sigprocmask: {}", std::io::Error::last_os_error()));
    }
    handle_stop()?;
    let tty = sys::is_tty(1);
    let color = tty && std::env::var_os("NO_COLOR").is_none();
    let mut before: Option<Vec<Entry>> = None;
    let mut first = true;
    loop {
        // A terminal is cleared; elsewhere (a pipe, a file) the redraws follow each other,
        // an empty line between them.
        let mut screen = String::from(match (tty, first) {
            (true, _) => CLEAR,
            (false, true) => "",
            (false, false) => "\n",
        });
        first = false;
        screen.push_str(&format!(
            "rshm-ls --watch {}s  {}  (+ appeared, ~ changed state, - gone; Ctrl-C ends)\n\n",
            interval.as_secs_f64(),
            local(sys::now())
        ));
        match snapshot::take(forced) {
            Ok(snap) => {
                let m = before
                    .as_ref()
                    .map(|b| marks(b, &snap.entries, color))
                    .unwrap_or_default();
                screen.push_str(&render::text(&snap, o, Some(&m), users));
                before = Some(snap.entries);
            }
            // A failed look (say /proc gone for a moment) is shown; the next may work.
            Err(e) if before.is_some() => screen.push_str(&format!("rshm-ls: {e}\n")),
            Err(e) => return Err(e),
        }
        if !write_unblocked(&set, &screen)? || wait_for_stop(&set, interval) {
            return Ok(());
        }
    }
}
