//! rshm-ls: every System V shared-memory segment of the caller's IPC namespace, the
//! processes attaching each (from /proc/PID/maps), its state, and the totals against the
//! limits. It reads; it never removes or changes a segment. See rshm-ls(1).

mod args;
mod attachers;
mod escape;
mod filter;
mod json;
mod limits;
mod output;
mod process;
mod procfs;
mod render;
mod segments;
mod snapshot;
mod state;
mod sys;
mod timefmt;
mod users;
mod watch;

use args::Command;
use std::process::ExitCode;

/// Runs, and turns an error into one line on standard error and exit status 2.
fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rshm-ls: {e}");
            ExitCode::from(2)
        }
    }
}

/// The exit status: 0, 1 for orphans found with --orphans; errors are 2 (in main).
fn run() -> Result<ExitCode, String> {
    let argv = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    let mut o =
        match args::parse(argv).map_err(|e| format!("{e} (rshm-ls --help lists the options)"))? {
            Command::Help => return print(args::HELP),
            Command::Version => return print(args::VERSION),
            Command::Run(o) => o,
        };
    let forced = match std::env::var("RSHM_LS_TABLE") {
        Ok(v) => Some(segments::Source::from_env(&v).ok_or_else(|| {
            format!("RSHM_LS_TABLE={v}: not one of proc, shm_stat_any, shm_stat")
        })?),
        Err(_) => None,
    };
    if !o.pids.is_empty() {
        let view = procfs::view();
        let ns = snapshot::namespace()?;
        for pid in o.pids.iter_mut() {
            let (process, note) = filter::check_pid(*pid, &ns, &view)?;
            if let Some(note) = note {
                eprintln!("rshm-ls: {note}");
            }
            *pid = process;
        }
    }
    let mut users = users::Users::default();
    if let Some(interval) = o.watch {
        watch::run(&o, interval, forced, &mut users)?;
        return Ok(ExitCode::SUCCESS);
    }
    let snap = snapshot::take(forced)?;
    let text = if o.json {
        json::document(&snap, &o, &mut users)
    } else {
        render::text(&snap, &o, None, &mut users)
    };
    output::write(&text)?;
    let orphans = snap
        .entries
        .iter()
        .any(|e| e.state == state::State::Orphaned && filter::matches(e, &o));
    // The process ends here: freeing what may be millions of attachers would only cost
    // time.
    std::mem::forget((snap, text));
    Ok(if o.orphans && orphans {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints `text` and a newline: the help or the version.
fn print(text: &str) -> Result<ExitCode, String> {
    output::write(&format!("{text}\n"))?;
    Ok(ExitCode::SUCCESS)
}
