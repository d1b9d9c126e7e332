//! The end of the run, checked with the kernel after every traced process has exited:
//! which segments the run made are still there (leaked), which a traced IPC_RMID
//! removed, and what the kernel shows that no traced call did (a statically linked
//! program, or a raw system call, goes around the preload library).

use crate::kernel;
use crate::model::{End, Run, Seg};
use std::collections::{BTreeMap, HashMap};

/// Settles every open row, and notes in `run.blind` what was not seen.
/// `reaped` is every process rshm-trace reaped (its own children and the orphans it
/// adopted), with its name; `static_note` the sentence for a statically linked command.
pub fn settle(
    run: &mut Run,
    my_ns: u64,
    reaped: &HashMap<i32, String>,
    static_note: Option<String>,
) {
    for i in run.open_rows() {
        let s = &run.segs[i];
        let end = if s.ipc_ns != 0 && s.ipc_ns != my_ns {
            End::Unchecked
        } else {
            match kernel::stat(s.id).filter(|k| same(s, k)) {
                Some(k) if s.removed_by.is_some() => {
                    if k.marked {
                        End::RemovedAttached
                    } else {
                        // Removed, then made again under the same id and key.
                        End::Removed
                    }
                }
                Some(k) if s.created() && !k.marked => End::Leaked,
                Some(_) if s.created() => End::Gone,
                Some(_) => End::Exists,
                None if s.removed_by.is_some() => End::Removed,
                None => End::Gone,
            }
        };
        run.segs[i].end = end;
    }
    if let Some(n) = static_note {
        run.blind.push(n);
    }
    unseen(run, reaped);
    if run.total_calls() == 0 && run.blind.is_empty() {
        run.blind.push(format!(
            "no shm call was seen: {} made none through libc's shmget, shmat, shmdt or shmctl \
             (a statically linked program, or a raw system call, would not be seen)",
            run.command.first().map_or("the command", String::as_str)
        ));
    }
}

/// Whether the kernel's segment `k` is still the row `s` (not an id reused by another).
fn same(s: &Seg, k: &kernel::KStat) -> bool {
    match s.creator {
        Some(c) => k.cpid == c && (k.marked || k.key == s.key),
        None => k.marked || s.key == 0 || k.key == s.key,
    }
}

/// Segments of rshm-trace's namespace that a process of the run made, attached or
/// detached with no traced call: the kernel names the process (`shm_cpid`, `shm_lpid`),
/// and the run saw no such call of it.
fn unseen(run: &mut Run, reaped: &HashMap<i32, String>) {
    let start_s = (run.start_ns / 1_000_000_000) as i64;
    let mut names: BTreeMap<i32, String> = reaped.iter().map(|(p, c)| (*p, c.clone())).collect();
    for p in run.procs.values() {
        names.insert(p.pid, p.comm.clone());
    }
    for k in kernel::all() {
        let made_here = run
            .segs
            .iter()
            .any(|s| s.id == k.id && s.created() && s.creator == Some(k.cpid));
        if let Some(name) = names
            .get(&k.cpid)
            .filter(|_| !made_here && k.ctime >= start_s)
        {
            run.blind.push(format!(
                "segment {} ({}, {} bytes) was made by process {} ({name}) of this run with a call \
                 rshm-trace did not see: the kernel names it as the maker, and no traced call made it \
                 (a statically linked program, or a raw system call, goes around the preload library)",
                k.id,
                crate::summary::key(k.key),
                k.size,
                k.cpid
            ));
            if !k.marked {
                run.segs.push(Seg {
                    id: k.id,
                    ipc_ns: 0,
                    key: k.key,
                    size: k.size,
                    creator: Some(k.cpid),
                    first_ns: (k.ctime.max(0) as u64) * 1_000_000_000,
                    attaches: BTreeMap::new(),
                    peak_nattch: k.nattch,
                    live: 0,
                    removed_by: None,
                    end: End::Leaked,
                    untraced: true,
                });
            }
            continue;
        }
        let touched = k.atime.max(k.dtime) >= start_s;
        let traced = run.procs.contains_key(&k.lpid);
        if let Some(name) = names.get(&k.lpid).filter(|_| touched && !traced) {
            run.blind.push(format!(
                "process {} ({name}) of this run attached or detached segment {} ({}) with a call \
                 rshm-trace did not see: the kernel names it as the last to do so",
                k.lpid,
                k.id,
                crate::summary::key(k.key)
            ));
        }
    }
}
