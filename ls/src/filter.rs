//! The filters: which segments to show.

use crate::args::Options;
use crate::procfs::View;
use crate::snapshot::Entry;
use crate::state::State;
use crate::{process, sys};
use std::io::ErrorKind;

/// Whether `e` passes every filter of `o` (a filter given several times takes any of them).
pub fn matches(e: &Entry, o: &Options) -> bool {
    let any = |list: &[i32], v: i32| list.is_empty() || list.contains(&v);
    (!o.orphans || e.state == State::Orphaned)
        && any(&o.ids, e.seg.id)
        && any(&o.keys, e.seg.key)
        && (o.uids.is_empty() || o.uids.contains(&e.seg.uid) || o.uids.contains(&e.seg.cuid))
        && (o.pids.is_empty() || e.attachers.iter().any(|a| o.pids.contains(&a.pid)))
}

/// The process a `--pid` names, and a note for standard error when it named one of its
/// threads. Refuses a `--pid` whose attachments cannot be known: no such process, another
/// IPC namespace's, one whose maps the caller may not read, or any when /proc is of
/// another pid namespace (its PID is another process).
pub fn check_pid(
    pid: i32,
    namespace: &std::path::Path,
    view: &View,
) -> Result<(i32, Option<String>), String> {
    if !view.own_pid_namespace {
        return Err(format!(
            "--pid {pid}: /proc is of another pid namespace than rshm-ls's, where {pid} is another process (mount this pid namespace's /proc)"
        ));
    }
    let (pid, note) = match process::tgid(pid) {
        Some(p) if p != pid => (
            p,
            Some(format!(
                "--pid {pid} is a thread of process {p}: the segments process {p} attaches"
            )),
        ),
        _ => (pid, None),
    };
    let refused = |e: std::io::Error| match e.kind() {
        ErrorKind::NotFound if sys::process_exists(pid) => format!(
            "--pid {pid}: /proc does not show this process (hidepid: another user's process; run as root)"
        ),
        ErrorKind::NotFound => format!("--pid {pid}: no such process"),
        ErrorKind::PermissionDenied => {
            format!("--pid {pid}: its maps are not readable (another user's process; run as root)")
        }
        _ => format!("--pid {pid}: {e}"),
    };
    // A process whose first thread exited is looked into through a thread still running.
    let dir = match process::stat(pid) {
        Some(st) if st.exited() => match process::live_task(pid) {
            Some(tid) => format!("/proc/{pid}/task/{tid}"),
            None => return Err(format!("--pid {pid}: the process has exited (a zombie)")),
        },
        _ => format!("/proc/{pid}"),
    };
    let ns = std::fs::read_link(format!("{dir}/ns/ipc")).map_err(refused)?;
    if ns != namespace {
        return Err(format!(
            "--pid {pid}: the process is in another IPC namespace ({}, this one is {}): its segments are not listed here",
            ns.display(),
            namespace.display()
        ));
    }
    std::fs::File::open(format!("{dir}/maps"))
        .map(drop)
        .map_err(refused)?;
    Ok((pid, note))
}
