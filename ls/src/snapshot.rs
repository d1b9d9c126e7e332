//! One look at the namespace: the segment table, the attachers found in /proc, each
//! creator's fate, the states, the limits and the totals.

pub use crate::attachers::Attacher;
use crate::attachers::{self, Scan};
use crate::limits::{self, Limits, Totals};
use crate::process::{self, Creator};
use crate::procfs::{self, View};
use crate::segments::{self, Segment, Source};
use crate::state::{self, State};
use crate::sys;
use std::collections::HashMap;

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
    /// Its nattch, attach and detach times were the same before and after the scan of
    /// /proc: mappings beyond nattch are then not attaches made during the scan.
    pub steady: bool,
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
    /// What kind of /proc it looked at.
    pub view: View,
    /// The scan of /proc was left out: /proc does not show rshm-ls itself, so its IPC
    /// namespace cannot be compared with the processes'.
    pub no_scan: bool,
}

impl Snapshot {
    /// (attachments not found, attachments the kernel counts), over every segment.
    pub fn attachments_missing(&self) -> (u64, u64) {
        self.entries.iter().fold((0, 0), |(missing, all), e| {
            (
                missing + e.seg.nattch.saturating_sub(e.seen()),
                all + e.seg.nattch,
            )
        })
    }
}

/// This process's IPC namespace.
pub fn namespace() -> Result<std::path::PathBuf, String> {
    std::fs::read_link("/proc/self/ns/ipc").map_err(|e| format!("/proc/self/ns/ipc: {e}"))
}

/// Takes a snapshot; `forced` names the table's source (RSHM_LS_TABLE).
pub fn take(forced: Option<Source>) -> Result<Snapshot, String> {
    let view = procfs::view();
    // A /proc that does not show rshm-ls cannot say which processes share its IPC
    // namespace: then nobody is looked into (the last line says so).
    let ns = namespace().ok();
    let table = segments::read(forced)?;
    let scan = match &ns {
        Some(ns) => attachers::scan(ns)?,
        None => Scan::default(),
    };
    // The table again: a segment whose counts did not move was not attached or detached
    // while the maps were read.
    let after: HashMap<i32, (u64, i64, i64)> = segments::read(Some(table.source))
        .map(|t| {
            t.segments
                .iter()
                .map(|s| (s.id, (s.nattch, s.atime, s.dtime)))
                .collect()
        })
        .unwrap_or_default();
    let mut creators: HashMap<(i32, i64, u32), Creator> = HashMap::new();
    let entries = table
        .segments
        .iter()
        .map(|seg| {
            let creator = creators
                .entry((seg.cpid, seg.ctime, seg.cuid))
                .or_insert_with(|| {
                    process::creator(seg.cpid, seg.ctime, seg.cuid, view.own_pid_namespace)
                })
                .clone();
            let attachers = scan.of(seg.id, seg.key, seg.marked());
            Entry {
                state: state::of(seg, &creator, !attachers.is_empty()),
                seg: seg.clone(),
                creator,
                attachers,
                steady: after.get(&seg.id) == Some(&(seg.nattch, seg.atime, seg.dtime)),
            }
        })
        .collect();
    Ok(Snapshot {
        time: sys::now(),
        namespace: ns
            .as_deref()
            .map_or_else(|| "?".to_string(), |n| n.to_string_lossy().into_owned()),
        source: table.source,
        entries,
        unreadable_segments: table.unreadable,
        limits: limits::read(),
        totals: limits::totals(&table.segments, sys::page_size()),
        processes_read: scan.read,
        processes_unreadable: scan.unreadable,
        processes_other_namespace: scan.other_namespace,
        root: sys::root(),
        view,
        no_scan: ns.is_none(),
    })
}
