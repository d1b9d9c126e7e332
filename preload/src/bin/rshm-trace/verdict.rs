//! The end of the run, checked with the kernel after every traced process has exited:
//! which segments the run made are still there (leaked), which a traced IPC_RMID
//! removed, and what the kernel shows that no traced call did (a statically linked
//! program, a raw system call, a process whose `LD_PRELOAD` was removed goes around the
//! preload library).

use crate::kernel;
use crate::model::{End, Run, Seg};
use std::collections::{BTreeMap, HashMap};

/// Settles every open row, and notes in `run.blind` what was not seen.
/// `reaped` is every process rshm-trace reaped (its own children and the orphans it
/// adopted), with its name; `static_note` the sentence for a statically linked command.
/// With processes of the run still running (`--no-wait`), a segment still there gets no
/// verdict: one of them may remove it yet.
pub fn settle(
    run: &mut Run,
    my_ns: u64,
    reaped: &HashMap<i32, String>,
    static_note: Option<String>,
) {
    let running = !run.still_running.is_empty();
    for i in run.open_rows() {
        let s = &run.segs[i];
        let here = s.ipc_ns == my_ns && my_ns != 0;
        let end = match (here, s.removed_by) {
            // Removed by a traced call in a namespace rshm-trace cannot ask.
            (false, Some(_)) => End::Removed,
            (false, None) => End::Unchecked,
            (true, _) => match kernel::stat(s.id).filter(|k| same(s, k)) {
                Some(k) if s.removed_by.is_some() => {
                    if k.marked {
                        End::RemovedAttached
                    } else {
                        // Removed, then made again under the same id and key.
                        End::Removed
                    }
                }
                Some(_) if running => End::Pending,
                Some(k) if s.created() && !k.marked => End::Leaked,
                Some(_) if s.created() => End::Gone,
                Some(_) => End::Exists,
                None if s.removed_by.is_some() => End::Removed,
                None => End::Gone,
            },
        };
        run.segs[i].end = end;
    }
    if let Some(n) = static_note {
        run.blind.push(n);
    }
    unseen(run, my_ns, reaped, running);
    if !run.foreign_pids.is_empty() {
        run.blind.push(format!(
            "{} of the processes that made calls ran in another PID namespace: their pids here \
             are that namespace's (pid 1 may be several processes), and the kernel's record of \
             who made a segment could not be matched to them",
            run.foreign_pids.len()
        ));
    }
    if run.total_calls() == 0 && run.blind.is_empty() && run.trapped.is_some() {
        run.blind.push(format!(
            "no shm call was seen: {} and the processes it started made no shm system call, \
             by any path",
            run.command.first().map_or("the command", String::as_str)
        ));
    } else if run.total_calls() == 0 && run.blind.is_empty() {
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
        // A pid of another PID namespace: only the key can tell.
        Some(_) if s.creator_foreign => k.marked || k.key == s.key,
        Some(c) => k.cpid == c && (k.marked || k.key == s.key),
        None => k.marked || s.key == 0 || k.key == s.key,
    }
}

/// Segments of rshm-trace's namespace made, attached or detached during the run with no
/// traced call: the kernel names the process (`shm_cpid`, `shm_lpid`), and the run saw no
/// such call of it.
fn unseen(run: &mut Run, my_ns: u64, reaped: &HashMap<i32, String>, running: bool) {
    let start_s = (run.start_ns / 1_000_000_000) as i64;
    let mut names: BTreeMap<i32, String> = reaped.iter().map(|(p, c)| (*p, c.clone())).collect();
    for p in run.procs.values() {
        names.insert(p.pid, p.comm.clone());
    }
    for k in kernel::all() {
        let made_here = run.segs.iter().any(|s| {
            s.id == k.id && s.created() && (s.creator == Some(k.cpid) || s.creator_foreign)
        });
        // Made (or last changed: IPC_SET) since the run began, by no traced call. The
        // kernel keeps whole seconds, from a clock that may lag the one the run's start
        // was read from by a tick: by a process of the run, the second before the start
        // counts too; by an unknown process, only a second after the start's (in the
        // run's first second it may have been made just before).
        let maker = names.get(&k.cpid);
        let since = if maker.is_some() {
            k.ctime >= start_s - 1
        } else {
            k.ctime > start_s
        };
        if !made_here && since && !k.marked {
            match maker {
                Some(name) => {
                    let why = if run.trapped.is_some() {
                        "a 32-bit system call, which --complete does not see"
                    } else {
                        "a statically linked program, or a raw system call, goes around the \
                         preload library"
                    };
                    run.blind.push(format!(
                        "segment {} ({}, {} bytes) was made by process {} ({name}) of this run \
                         with a call rshm-trace did not see: the kernel names it as the maker, \
                         and no traced call made it ({why})",
                        k.id,
                        crate::summary::key(k.key),
                        k.size,
                        k.cpid
                    ));
                    // A row of the run's (attached by a traced call) is this segment.
                    let i = match run
                        .segs
                        .iter()
                        .position(|s| s.id == k.id && s.ipc_ns == my_ns && s.creator.is_none())
                    {
                        Some(i) => i,
                        None => {
                            let t = (k.ctime.max(0) as u64) * 1_000_000_000;
                            run.segs.push(Seg::new(k.id, my_ns, t));
                            run.segs.len() - 1
                        }
                    };
                    let row = &mut run.segs[i];
                    row.key = k.key;
                    row.size = k.size;
                    row.creator = Some(k.cpid);
                    row.creator_comm = name.clone();
                    row.peak_nattch = row.peak_nattch.max(k.nattch);
                    row.end = if running { End::Pending } else { End::Leaked };
                    row.untraced = true;
                }
                None => run.blind.push(format!(
                    "segment {} ({}, {} bytes) was made or changed during the run by process {}, \
                     which made no traced call: {}",
                    k.id,
                    crate::summary::key(k.key),
                    k.size,
                    k.cpid,
                    if run.trapped.is_some() {
                        "another program, outside the run (--complete sees every process of the run)"
                    } else {
                        "another program, or a process of the run that was not traced \
                         (statically linked, or its LD_PRELOAD removed)"
                    }
                )),
            }
            continue;
        }
        let touched = k.atime.max(k.dtime) >= start_s;
        let traced = run
            .segs
            .iter()
            .any(|s| s.id == k.id && s.touched_by.contains(&k.lpid));
        if let Some(name) = names.get(&k.lpid).filter(|_| touched && !traced) {
            run.blind.push(format!(
                "process {} ({name}) of this run attached or detached segment {} ({}) with a call \
                 rshm-trace did not see: the kernel names it as the last to do so, and it made no \
                 traced attach or detach of it",
                k.lpid,
                k.id,
                crate::summary::key(k.key)
            ));
        }
    }
}
