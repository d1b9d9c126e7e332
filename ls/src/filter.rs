//! The filters: which segments to show.

use crate::args::Options;
use crate::snapshot::Entry;
use crate::state::State;
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

/// Refuses a `--pid` whose attachments cannot be known: no such process, another IPC
/// namespace's, or one whose maps the caller may not read.
pub fn check_pid(pid: i32, namespace: &std::path::Path) -> Result<(), String> {
    let refused = |e: std::io::Error| match e.kind() {
        ErrorKind::NotFound => format!("--pid {pid}: no such process"),
        ErrorKind::PermissionDenied => {
            format!("--pid {pid}: its maps are not readable (another user's process; run as root)")
        }
        _ => format!("--pid {pid}: {e}"),
    };
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/ipc")).map_err(refused)?;
    if ns != namespace {
        return Err(format!(
            "--pid {pid}: the process is in another IPC namespace ({}, this one is {}): its segments are not listed here",
            ns.display(),
            namespace.display()
        ));
    }
    std::fs::File::open(format!("/proc/{pid}/maps"))
        .map(drop)
        .map_err(refused)
}
