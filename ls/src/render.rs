//! The text output: a row per segment with its attachers under it, the totals against
//! the limits, and a last line saying what could not be seen.

use crate::args::Options;
use crate::escape;
use crate::filter;
use crate::process::{Creator, Doubt};
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
        Creator::Alive { comm } => format!("{cpid} {} (running)", escape::text(comm)),
        Creator::Unsure { comm, why } => match (why, comm) {
            (Doubt::StartedLater, Some(comm)) => format!(
                "{cpid} {} (running; started after the segment, as its creator's user)",
                escape::text(comm)
            ),
            (Doubt::OtherPidNamespace, _) => {
                format!("{cpid} (exists; /proc is of another pid namespace)")
            }
            _ => format!("{cpid} (exists; /proc hides it)"),
        },
        Creator::Exited => format!("{cpid} (exited)"),
        Creator::Reused { comm } => {
            format!("{cpid} (exited; pid reused by {})", escape::text(comm))
        }
    }
}

/// The STATE cell: the state, and `(locked)` for a segment locked in memory (SHM_LOCK),
/// which ipcs shows as `locked`.
fn state_cell(e: &Entry) -> String {
    if e.seg.locked() {
        format!("{} (locked)", e.state.name())
    } else {
        e.state.name().to_string()
    }
}

/// The cells of a segment's row, its state column saying `state`.
fn cells(e: &Entry, state: String, users: &mut Users) -> Vec<String> {
    let s = &e.seg;
    vec![
        s.id.to_string(),
        s.key_hex(),
        s.size.to_string(),
        users.display(s.uid).to_string(),
        users.display(s.cuid).to_string(),
        format!("{:04o}", s.perms()),
        s.nattch.to_string(),
        creator_cell(s.cpid, &e.creator),
        s.lpid.to_string(),
        local(s.atime),
        local(s.dtime),
        local(s.ctime),
        state,
    ]
}

/// The lines under a row, each after `indent`: one per attaching process, the count when
/// some are not seen (or more are seen than nattch counts), and with --orphans the command
/// that would remove it. Written straight into `out`: there may be millions.
fn details(out: &mut String, indent: &str, e: &Entry, o: &Options, users: &mut Users) {
    for a in &e.attachers {
        out.push_str(indent);
        out.push_str("attached by pid ");
        push_decimal(out, a.pid as u64);
        out.push(' ');
        out.push_str(&escape::text(&a.comm));
        out.push_str(" (");
        match a.uid {
            Some(u) => out.push_str(users.display(u)),
            None => out.push('?'),
        }
        out.push(')');
        if a.addrs.len() > 1 {
            let _ = write!(out, " {} times", a.addrs.len());
        }
        out.push_str(" at ");
        for (i, &x) in a.addrs.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str("0x");
            push_hex(out, x);
        }
        out.push('\n');
    }
    let (seen, nattch) = (e.seen(), e.seg.nattch);
    if seen < nattch {
        let _ = writeln!(
            out,
            "{indent}{seen} of {} visible",
            plural(nattch, "attachment")
        );
    } else if seen > nattch && e.steady {
        let _ = writeln!(
            out,
            "{indent}{} seen but nattch is {nattch}: mappings beyond nattch are of another IPC namespace's segment with this id (a process that moved here after attaching it) or made without shmat",
            plural(seen, "mapping")
        );
    } else if seen > nattch {
        let _ = writeln!(
            out,
            "{indent}{} seen, nattch {nattch} (it changed during the scan)",
            plural(seen, "mapping")
        );
    }
    if o.orphans {
        let _ = writeln!(out, "{indent}remove with: {}", e.remove_command());
    }
}

/// `n` in decimal, without the formatting machinery: the lines under the rows may be
/// millions.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// `n` in lower-case hex, as `push_decimal`.
fn push_hex(out: &mut String, n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// One row of the table: its mark, its cells, and the segment whose lines go under it
/// (none for a segment gone since the last redraw).
type Row<'a> = (char, Vec<String>, Option<&'a Entry>);

/// The whole text output of one snapshot.
pub fn text(snap: &Snapshot, o: &Options, marks: Option<&Marks>, users: &mut Users) -> String {
    let shown: Vec<&Entry> = snap
        .entries
        .iter()
        .filter(|e| filter::matches(e, o))
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    for e in &shown {
        let mark = marks
            .and_then(|m| m.marks.get(&e.seg.id))
            .copied()
            .unwrap_or(' ');
        rows.push((mark, cells(e, state_cell(e), users), Some(e)));
    }
    if let Some(m) = marks {
        for e in m.gone.iter().filter(|e| filter::matches(e, o)) {
            rows.push((
                '-',
                cells(e, format!("gone (was {})", e.state.name()), users),
                None,
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
        table(&mut out, &rows, marks, o, users);
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
fn table(out: &mut String, rows: &[Row], marks: Option<&Marks>, o: &Options, users: &mut Users) {
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
    let indent = format!("{}    ", prefix(' '));
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(out, "{}{}", prefix(' '), line(&header));
    for (mark, c, entry) in rows {
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
        if let Some(e) = entry {
            details(out, &indent, e, o, users);
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
    if !snap.unreadable_segments.is_empty() {
        let _ = writeln!(
            out,
            "(the totals leave out the {} {} could not describe)",
            plural(snap.unreadable_segments.len() as u64, "segment"),
            snap.source.name()
        );
    }
}

/// Segments nobody attaches whose creator is unknown (cpid 0): rshm-ls cannot call them
/// orphans.
pub fn unknown_creators(snap: &Snapshot) -> usize {
    snap.entries
        .iter()
        .filter(|e| e.state == State::Idle && e.creator == Creator::Unknown)
        .count()
}

/// `has` or `have`, `it is` or `they are`, for `n` segments.
fn verbs(n: usize) -> (&'static str, &'static str) {
    if n == 1 {
        ("has", "it is")
    } else {
        ("have", "they are")
    }
}

/// What makes a creator uncheckable, in words.
fn doubt(why: Doubt) -> &'static str {
    match why {
        Doubt::Hidden => "its pid exists but /proc hides the process",
        Doubt::OtherPidNamespace => "its pid exists but /proc is of another pid namespace",
        Doubt::StartedLater => {
            "the process with its pid started after the segment, as the creator's user (a reused pid, or the creator with the clock stepped forward)"
        }
    }
}

/// With --orphans: how many, and the segments that cannot be judged.
fn orphan_summary(out: &mut String, snap: &Snapshot, shown: usize) {
    let _ = writeln!(out, "{} orphaned", plural(shown as u64, "segment"));
    let unknown = unknown_creators(snap);
    if unknown > 0 {
        let (has, it_is) = verbs(unknown);
        let _ = writeln!(
            out,
            "{} nobody attaches {has} a creator in another pid namespace (cpid 0): whether {it_is} orphaned cannot be told",
            plural(unknown as u64, "segment"),
        );
    }
    let mut whys: Vec<Doubt> = Vec::new();
    let mut unsure = 0;
    for e in snap.entries.iter().filter(|e| e.state == State::Idle) {
        if let Creator::Unsure { why, .. } = e.creator {
            unsure += 1;
            if !whys.contains(&why) {
                whys.push(why);
            }
        }
    }
    if unsure > 0 {
        let (has, it_is) = verbs(unsure);
        let whys: Vec<&str> = whys.into_iter().map(doubt).collect();
        let _ = writeln!(
            out,
            "{} nobody attaches {has} a creator rshm-ls cannot check ({}): whether {it_is} orphaned cannot be told",
            plural(unsure as u64, "segment"),
            whys.join("; ")
        );
    }
    let mapped = snap
        .entries
        .iter()
        .filter(|e| e.state == State::Idle && e.creator.gone() && !e.attachers.is_empty())
        .count();
    if mapped > 0 {
        let _ = writeln!(
            out,
            "{} with nattch 0 and {} creator gone {} still mapped by a process: not orphaned",
            plural(mapped as u64, "segment"),
            if mapped == 1 { "its" } else { "their" },
            if mapped == 1 { "is" } else { "are" }
        );
    }
}

/// The last line: what could not be seen, or that everything was: every process of the
/// namespace read, every attachment the kernel counts found, every creator checked.
fn visibility(out: &mut String, snap: &Snapshot) {
    let mut hidden = Vec::new();
    if snap.no_scan {
        hidden.push(
            "every process: /proc is of a pid namespace rshm-ls is not in (mount this pid namespace's /proc)"
                .to_string(),
        );
    } else if !snap.view.own_pid_namespace {
        hidden.push(
            "/proc is of another pid namespace: the attachers' pids are its numbers, and a creator whose pid exists cannot be checked (mount this pid namespace's /proc)"
                .to_string(),
        );
    }
    if let Some(h) = &snap.view.hidepid {
        hidden.push(format!(
            "/proc hides other users' processes (hidepid={h}): their attachments are not seen"
        ));
    }
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
    let explained = !hidden.is_empty();
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
    let (missing, all) = snap.attachments_missing();
    if missing > 0 {
        hidden.push(format!(
            "{missing} of {} not found{}",
            plural(all, "attachment"),
            if explained {
                ""
            } else {
                " (held by processes this /proc does not show, as of another pid namespace sharing this IPC namespace, or attached during the scan)"
            }
        ));
    }
    let count =
        |f: &dyn Fn(&Creator) -> bool| snap.entries.iter().filter(|e| f(&e.creator)).count() as u64;
    let unknown = count(&|c| *c == Creator::Unknown);
    if unknown > 0 {
        hidden.push(format!(
            "the creator of {} (another pid namespace)",
            plural(unknown, "segment")
        ));
    }
    let unsure = count(&|c| matches!(c, Creator::Unsure { .. }));
    if unsure > 0 {
        hidden.push(format!(
            "whether the creator of {} still runs (a process has its pid; which, cannot be checked)",
            plural(unsure, "segment")
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
