//! One look at the namespace: the segment table, the attachers found in /proc, each
//! creator's fate, the states, the limits and the totals.

use crate::attachers;
use crate::limits::{self, Limits, Totals};
use crate::process::{self, Creator};
use crate::segments::{self, Segment, Source};
use crate::state::{self, State};
use crate::sys;
use std::collections::HashMap;

/// A process attaching a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attacher {
    /// Its pid.
    pub pid: i32,
    /// Its command.
    pub comm: String,
    /// Its effective uid, if readable.
    pub uid: Option<u32>,
    /// Where it maps the segment, one address per mapping.
    pub addrs: Vec<u64>,
}

/// One segment and what rshm-ls found out about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The kernel's description.
    pub seg: Segment,
    /// What became of its creator.
    pub creator: Creator,
    /// Its state.
    pub state: State,
    /// The processes of this namespace seen mapping it, by pid.
    pub attachers: Vec<Attacher>,
}

impl Entry {
    /// The mappings seen (to compare with nattch, which counts mappings).
    pub fn seen(&self) -> u64 {
        self.attachers.iter().map(|a| a.addrs.len() as u64).sum()
    }

    /// The command that would remove it.
    pub fn remove_command(&self) -> String {
        format!("ipcrm -m {}", self.seg.id)
    }
}

/// Everything one run shows.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When it was taken (seconds since the epoch).
    pub time: i64,
    /// The IPC namespace (/proc/self/ns/ipc's target, e.g. `ipc:[4026531839]`).
    pub namespace: String,
    /// Where the segment table came from.
    pub source: Source,
    /// Every segment, by id.
    pub entries: Vec<Entry>,
    /// Indexes of segments the table could not describe (SHM_STAT without read permission).
    pub unreadable_segments: Vec<i32>,
    /// The limits, if they could be read.
    pub limits: Option<Limits>,
    /// The totals over every segment.
    pub totals: Totals,
    /// Processes of this namespace whose maps were read.
    pub processes_read: usize,
    /// Processes whose namespace or maps could not be read.
    pub processes_unreadable: usize,
    /// Processes of other IPC namespaces (not looked into).
    pub processes_other_namespace: usize,
    /// rshm-ls ran as root (then what it could not read was refused even to root).
    pub root: bool,
}

/// This process's IPC namespace.
pub fn namespace() -> Result<std::path::PathBuf, String> {
    std::fs::read_link("/proc/self/ns/ipc").map_err(|e| format!("/proc/self/ns/ipc: {e}"))
}

/// Takes a snapshot; `forced` names the table's source (RSHM_LS_TABLE).
pub fn take(forced: Option<Source>) -> Result<Snapshot, String> {
    let ns = namespace()?;
    let table = segments::read(forced)?;
    let scan = attachers::scan(&ns)?;
    let mut creators: HashMap<(i32, i64), Creator> = HashMap::new();
    let entries = table
        .segments
        .iter()
        .map(|seg| {
            let creator = creators
                .entry((seg.cpid, seg.ctime))
                .or_insert_with(|| process::creator(seg.cpid, seg.ctime))
                .clone();
            let attachers = scan
                .of(seg.id, seg.key, seg.marked())
                .into_iter()
                .map(|(p, addrs)| Attacher {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    uid: p.uid,
                    addrs,
                })
                .collect();
            Entry {
                state: state::of(seg, &creator),
                seg: seg.clone(),
                creator,
                attachers,
            }
        })
        .collect();
    Ok(Snapshot {
        time: sys::now(),
        namespace: ns.to_string_lossy().into_owned(),
        source: table.source,
        entries,
        unreadable_segments: table.unreadable,
        limits: limits::read(),
        totals: limits::totals(&table.segments, sys::page_size()),
        processes_read: scan.read,
        processes_unreadable: scan.unreadable,
        processes_other_namespace: scan.other_namespace,
        root: sys::root(),
    })
}
