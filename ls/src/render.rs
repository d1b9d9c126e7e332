//! The text output: a row per segment with its attachers under it, the totals against
//! the limits, and a last line saying what could not be seen.

use crate::args::Options;
use crate::filter;
use crate::process::Creator;
use crate::snapshot::{Entry, Snapshot};
use crate::state::State;
use crate::timefmt::local;
use crate::users::Users;
use std::collections::HashMap;
use std::fmt::Write;

/// What `--watch` marks: `+` appeared, `~` changed state, by id; and the segments gone.
#[derive(Default)]
pub struct Marks {
    /// The mark of each segment that appeared or changed state.
    pub marks: HashMap<i32, char>,
    /// Segments that were there at the last redraw and are gone.
    pub gone: Vec<Entry>,
    /// Colour the marked rows (ANSI).
    pub color: bool,
}

/// The column names.
const HEADER: [&str; 13] = [
    "ID", "KEY", "SIZE", "OWNER", "CREATOR", "MODE", "NATTCH", "CPID", "LPID", "ATTACHED",
    "DETACHED", "CHANGED", "STATE",
];
/// Columns aligned to the right (numbers).
const RIGHT: [bool; 13] = [
    true, false, true, false, false, false, true, false, true, false, false, false, false,
];

/// The creator's pid and fate, as the CPID column shows it.
pub fn creator_cell(cpid: i32, c: &Creator) -> String {
    match c {
        Creator::Unknown => "unknown (another pid namespace)".into(),
        Creator::Alive { comm } => format!("{cpid} {comm} (running)"),
        Creator::Exited => format!("{cpid} (exited)"),
        Creator::Reused { comm } => format!("{cpid} (exited; pid reused by {comm})"),
    }
}

/// The cells of a segment's row, its state column saying `state`.
fn cells(e: &Entry, state: &str, users: &mut Users) -> Vec<String> {
    let s = &e.seg;
    vec![
        s.id.to_string(),
        s.key_hex(),
        s.size.to_string(),
        users.display(s.uid),
        users.display(s.cuid),
        format!("{:04o}", s.perms()),
        s.nattch.to_string(),
        creator_cell(s.cpid, &e.creator),
        s.lpid.to_string(),
        local(s.atime),
        local(s.dtime),
        local(s.ctime),
        state.to_string(),
    ]
}

/// The lines under a row: one per attaching process, the count when some are not seen,
/// and with --orphans the command that would remove it.
fn details(e: &Entry, o: &Options, users: &mut Users) -> Vec<String> {
    let mut out = Vec::new();
    for a in &e.attachers {
        let user = a.uid.map_or_else(|| "?".into(), |u| users.display(u));
        let addrs: Vec<String> = a.addrs.iter().map(|x| format!("{x:#x}")).collect();
        let times = if a.addrs.len() > 1 {
            format!(" {} times", a.addrs.len())
        } else {
            String::new()
        };
        out.push(format!(
            "attached by pid {} {} ({user}){times} at {}",
            a.pid,
            a.comm,
            addrs.join(", ")
        ));
    }
    let (seen, nattch) = (e.seen(), e.seg.nattch);
    if seen < nattch {
        out.push(format!("{seen} of {nattch} attachments visible"));
    } else if seen > nattch {
        out.push(format!(
            "{seen} attachments seen, nattch {nattch} (they changed during the scan)"
        ));
    }
    if o.orphans {
        out.push(format!("remove with: {}", e.remove_command()));
    }
    out
}

/// The whole text output of one snapshot.
pub fn text(snap: &Snapshot, o: &Options, marks: Option<&Marks>, users: &mut Users) -> String {
    let shown: Vec<&Entry> = snap
        .entries
        .iter()
        .filter(|e| filter::matches(e, o))
        .collect();
    let mut rows: Vec<(char, Vec<String>, Vec<String>)> = Vec::new();
    for e in &shown {
        let mark = marks
            .and_then(|m| m.marks.get(&e.seg.id))
            .copied()
            .unwrap_or(' ');
        rows.push((mark, cells(e, e.state.name(), users), details(e, o, users)));
    }
    if let Some(m) = marks {
        for e in m.gone.iter().filter(|e| filter::matches(e, o)) {
            rows.push((
                '-',
                cells(e, &format!("gone (was {})", e.state.name()), users),
                Vec::new(),
            ));
        }
    }
    let mut out = String::new();
    if rows.is_empty() {
        let what = if o.orphans {
            "no orphaned segment"
        } else {
            "no segment"
        };
        let filtered = o
            != &Options {
                orphans: o.orphans,
                json: o.json,
                watch: o.watch,
                ..Options::default()
            };
        let _ = writeln!(
            out,
            "{what}{}",
            if filtered {
                " matches"
            } else {
                " in this IPC namespace"
            }
        );
    } else {
        table(&mut out, &rows, marks);
    }
    out.push('\n');
    if o.orphans {
        orphan_summary(&mut out, snap, shown.len());
    } else {
        totals(&mut out, snap, shown.len(), users);
    }
    visibility(&mut out, snap);
    out
}

/// The rows under a header, each column as wide as its widest cell, with the lines under
/// each row; with `marks`, a first column holds the mark.
fn table(out: &mut String, rows: &[(char, Vec<String>, Vec<String>)], marks: Option<&Marks>) {
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for (_, c, _) in rows {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            let last = i == cells.len() - 1;
            if RIGHT[i] {
                l.extend(std::iter::repeat_n(' ', pad));
                l.push_str(cell);
            } else {
                l.push_str(cell);
                if !last {
                    l.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                l.push_str("  ");
            }
        }
        l
    };
    let prefix = |mark: char| {
        if marks.is_some() {
            format!("{mark} ")
        } else {
            String::new()
        }
    };
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(out, "{}{}", prefix(' '), line(&header));
    for (mark, c, sub) in rows {
        let color = match mark {
            '+' => "\x1b[1;32m",
            '~' => "\x1b[1;33m",
            '-' => "\x1b[1;31m",
            _ => "",
        };
        let (on, off) = if marks.is_some_and(|m| m.color) && !color.is_empty() {
            (color, "\x1b[0m")
        } else {
            ("", "")
        };
        let _ = writeln!(out, "{on}{}{}{off}", prefix(*mark), line(c));
        for s in sub {
            let _ = writeln!(out, "{}    {s}", prefix(' '));
        }
    }
}

/// `1 segment`, `2 segments`; `1 process`, `2 processes`.
fn plural(n: u64, one: &str) -> String {
    let many = if one.ends_with('s') { "es" } else { "s" };
    format!("{n} {one}{}", if n == 1 { "" } else { many })
}

/// The totals against the limits, and each owner's share.
fn totals(out: &mut String, snap: &Snapshot, shown: usize, users: &mut Users) {
    let t = &snap.totals;
    if shown as u64 != t.segments {
        let _ = writeln!(out, "shown: {shown} of {}", plural(t.segments, "segment"));
    }
    let limit = |f: fn(&crate::limits::Limits) -> u64| {
        snap.limits
            .as_ref()
            .map_or("?".into(), |l| f(l).to_string())
    };
    let _ = writeln!(
        out,
        "segments: {} of {} (SHMMNI)",
        t.segments,
        limit(|l| l.shmmni)
    );
    let _ = writeln!(
        out,
        "pages: {} of {} (SHMALL; {}-byte pages)",
        t.pages,
        limit(|l| l.shmall),
        t.page_size
    );
    let _ = writeln!(
        out,
        "largest: {} bytes of {} (SHMMAX)",
        t.largest,
        limit(|l| l.shmmax)
    );
    for (uid, u) in &t.users {
        let _ = writeln!(
            out,
            "user {}: {}, {} bytes",
            users.display(*uid),
            plural(u.segments, "segment"),
            u.bytes
        );
    }
}

/// Segments with nobody attached whose creator is unknown: rshm-ls cannot call them orphans.
pub fn unknown_creators(snap: &Snapshot) -> usize {
    snap.entries
        .iter()
        .filter(|e| e.state == State::Idle && e.creator == Creator::Unknown)
        .count()
}

/// With --orphans: how many, and the segments that cannot be judged.
fn orphan_summary(out: &mut String, snap: &Snapshot, shown: usize) {
    let _ = writeln!(out, "{} orphaned", plural(shown as u64, "segment"));
    let unknown = unknown_creators(snap);
    if unknown > 0 {
        let _ = writeln!(
            out,
            "{} nobody attaches {} a creator in another pid namespace (cpid 0): whether {} orphaned cannot be told",
            plural(unknown as u64, "segment"),
            if unknown == 1 { "has" } else { "have" },
            if unknown == 1 { "it is" } else { "they are" }
        );
    }
}

/// The last line: what could not be seen, or that everything was.
fn visibility(out: &mut String, snap: &Snapshot) {
    let mut hidden = Vec::new();
    if snap.processes_unreadable > 0 {
        let why = if snap.root {
            "refused even to root: processes of a parent user namespace, CAP_SYS_PTRACE dropped, or a security module"
        } else {
            "run as root to see their attachments"
        };
        hidden.push(format!(
            "maps of {} not readable ({why})",
            plural(snap.processes_unreadable as u64, "process")
        ));
    }
    if !snap.unreadable_segments.is_empty() {
        let idx: Vec<String> = snap
            .unreadable_segments
            .iter()
            .map(i32::to_string)
            .collect();
        hidden.push(format!(
            "{} {} could not describe (no read permission; index {})",
            plural(idx.len() as u64, "segment"),
            snap.source.name(),
            idx.join(", ")
        ));
    }
    let unknown = snap
        .entries
        .iter()
        .filter(|e| e.creator == Creator::Unknown)
        .count();
    if unknown > 0 {
        hidden.push(format!(
            "the creator of {} (another pid namespace)",
            plural(unknown as u64, "segment")
        ));
    }
    if hidden.is_empty() {
        let _ = writeln!(
            out,
            "all visible: the maps of {} of this IPC namespace were read ({} in other IPC namespaces not looked into)",
            plural(snap.processes_read as u64, "process"),
            snap.processes_other_namespace
        );
    } else {
        let _ = writeln!(out, "not visible: {}", hidden.join("; "));
    }
}
