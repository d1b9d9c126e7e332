//! The summary of a run, as text (the end of the trace) and as JSON (`--summary-json`,
//! and the last object of a `--json` trace). The JSON schema is documented in
//! rshm-trace(1) and README.md; its `schema` field changes when a field changes meaning.

use crate::model::{End, Exit, Run, Seg};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The JSON schema's name and version.
pub const SCHEMA: &str = "rshm-trace-summary/1";

/// `a 2, b 1`: each name with its count, in name order.
fn counts(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `IPC_PRIVATE` or `0x0000abcd`.
pub fn key(k: i32) -> String {
    if k == 0 {
        "IPC_PRIVATE".into()
    } else {
        format!("{:#010x}", k as u32)
    }
}

/// A duration in ns, as a person reads it.
pub fn dur(ns: u64) -> String {
    match ns {
        n if n < 1_000 => format!("{n} ns"),
        n if n < 1_000_000 => format!("{:.1} us", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.1} ms", n as f64 / 1e6),
        n => format!("{:.2} s", n as f64 / 1e9),
    }
}

/// How long a segment lived, as far as the run saw it: from its creation by a traced
/// call to its destruction (its removal, or the last detach after it), or to the end of
/// the run for a leak. `true` when the run saw the removal but not the last detach: a
/// lower bound.
pub fn lived(run: &Run, s: &Seg) -> Option<(u64, bool)> {
    if !s.created() {
        return None;
    }
    match (s.destroyed_ns, s.removed_by) {
        (Some(t), _) => Some((t.saturating_sub(s.first_ns), false)),
        (None, Some((_, t))) => Some((t.saturating_sub(s.first_ns), true)),
        (None, None) if s.end == End::Leaked => {
            Some((run.end_ns.saturating_sub(s.first_ns), false))
        }
        _ => None,
    }
}

/// `1.2 ms`, or `>= 1.2 ms` when only a lower bound is known.
pub fn lived_text(l: Option<(u64, bool)>) -> String {
    match l {
        Some((n, true)) => format!(">= {}", dur(n)),
        Some((n, false)) => dur(n),
        None => "-".into(),
    }
}

/// The maker, as `pid (name)` with the name it had when it made the segment.
pub fn creator(s: &Seg) -> Option<String> {
    s.creator.map(|p| named(p, &s.creator_comm))
}

/// The remover, as `pid (name)` with the name it had when it removed the segment.
pub fn remover(s: &Seg) -> Option<String> {
    s.removed_by.map(|(p, _)| named(p, &s.remover_comm))
}

fn named(pid: i32, comm: &str) -> String {
    if comm.is_empty() {
        pid.to_string()
    } else {
        format!("{pid} ({comm})")
    }
}

/// The END column.
pub fn end(s: &Seg) -> String {
    let by = remover(s).unwrap_or_default();
    match s.end {
        End::Removed => format!("removed by {by}"),
        End::RemovedAttached => format!("removed by {by}, still attached outside the run"),
        End::Leaked => "LEAKED".into(),
        End::Pending => "still there while processes of the run still run".into(),
        End::Gone => "gone (removed by a call not traced)".into(),
        End::Exists => "still there, not made by a traced call".into(),
        End::Unchecked => "in another IPC namespace (not checked)".into(),
        e => e.word().into(),
    }
}

/// The summary as text lines, each beginning `rshm-trace: `.
pub fn text(run: &Run) -> String {
    let mut o = String::new();
    let total = run.total_calls();
    let _ = write!(o, "rshm-trace: {}", plural(total, "call", "calls"));
    if !run.calls.is_empty() {
        let _ = write!(o, ": {}", counts(&run.calls));
    }
    if !run.commands.is_empty() {
        let _ = write!(o, " (shmctl: {})", counts(&run.commands));
    }
    let np = run.process_count() as u64;
    let _ = writeln!(o, " in {}", plural(np, "process", "processes"));
    if let Some(n) = run.trapped {
        let _ = writeln!(
            o,
            "rshm-trace: --complete: {n} of them made without the preload library (seen at a seccomp stop)"
        );
    }
    let failed = run.total_failed();
    if failed == 0 {
        let _ = writeln!(o, "rshm-trace: no call failed");
    } else {
        let _ = writeln!(o, "rshm-trace: {failed} failed: {}", counts(&run.failures));
    }
    if run.warnings > 0 {
        let _ = writeln!(
            o,
            "rshm-trace: {} with a warning",
            plural(run.warnings, "call succeeded", "calls succeeded")
        );
    }
    let _ = writeln!(
        o,
        "rshm-trace: segments: {} created, {} removed, {} leaked",
        run.created(),
        run.removed(),
        run.leaked()
    );
    if !run.segs.is_empty() {
        let rows: Vec<[String; 8]> = run
            .segs
            .iter()
            .map(|s| {
                [
                    s.id.to_string(),
                    key(s.key),
                    if s.size > 0 {
                        s.size.to_string()
                    } else {
                        "?".into()
                    },
                    creator(s).unwrap_or_else(|| "-".into()),
                    if s.attaches.is_empty() {
                        "-".into()
                    } else {
                        s.attaches
                            .iter()
                            .map(|(p, n)| format!("{p}x{n}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                    peak(s).map_or("-".into(), |n| n.to_string()),
                    lived_text(lived(run, s)),
                    end(s),
                ]
            })
            .collect();
        let head = [
            "SHMID", "KEY", "SIZE", "CREATOR", "ATTACHES", "PEAK", "LIVED", "END",
        ];
        let mut w = head.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut l = String::from("rshm-trace:  ");
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    let _ = write!(l, "{c:<width$}  ", width = w[i]);
                }
            }
            l.truncate(l.trim_end().len());
            l
        };
        let _ = writeln!(o, "{}", line(&head));
        for r in &rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            let _ = writeln!(o, "{}", line(&cells));
        }
    }
    for b in &run.blind {
        let _ = writeln!(o, "rshm-trace: {b}");
    }
    if !run.still_running.is_empty() {
        let l: Vec<String> = run
            .still_running
            .iter()
            .map(|(p, c)| format!("{p} ({c})"))
            .collect();
        let _ = writeln!(
            o,
            "rshm-trace: still running, not waited for (their later calls are not counted): {}",
            l.join(", ")
        );
    }
    o
}

/// A JSON string.
pub fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn obj(m: &BTreeMap<String, u64>) -> String {
    let f: Vec<String> = m.iter().map(|(k, v)| format!("{}:{v}", js(k))).collect();
    format!("{{{}}}", f.join(","))
}

fn pid_comm(pid: i32, comm: &str) -> String {
    if comm.is_empty() {
        format!("{{\"pid\":{pid},\"comm\":null}}")
    } else {
        format!("{{\"pid\":{pid},\"comm\":{}}}", js(comm))
    }
}

/// The kernel's peak attachment count, if it was ever asked.
pub fn peak(s: &Seg) -> Option<u64> {
    (s.peak_nattch > 0).then_some(s.peak_nattch)
}

/// The summary as one JSON object (no newline).
pub fn json(run: &Run) -> String {
    let mut o = String::new();
    let _ = write!(o, "{{\"schema\":{}", js(SCHEMA));
    let cmd: Vec<String> = run.command.iter().map(|c| js(c)).collect();
    let _ = write!(o, ",\"command\":[{}]", cmd.join(","));
    let _ = match run.exit {
        Exit::Code(c) => write!(o, ",\"exit\":{{\"code\":{c},\"signal\":null}}"),
        Exit::Signal(s) => write!(o, ",\"exit\":{{\"code\":{},\"signal\":{s}}}", 128 + s),
        Exit::Running => write!(o, ",\"exit\":null"),
    };
    let _ = write!(
        o,
        ",\"start_ns\":{},\"end_ns\":{},\"calls\":{{\"total\":{},\"by_call\":{},\"shmctl_by_cmd\":{}}}",
        run.start_ns,
        run.end_ns,
        run.total_calls(),
        obj(&run.calls),
        obj(&run.commands)
    );
    let _ = write!(
        o,
        ",\"failures\":{{\"total\":{},\"by_errno\":{}}},\"warnings\":{}",
        run.total_failed(),
        obj(&run.failures),
        run.warnings
    );
    let _ = match run.trapped {
        Some(n) => write!(o, ",\"complete\":{{\"stopped_calls\":{n}}}"),
        None => write!(o, ",\"complete\":null"),
    };
    let procs: Vec<String> = run
        .procs
        .values()
        .map(|p| {
            format!(
                "{{\"pid\":{},\"comm\":{},\"calls\":{},\"first_ns\":{},\"last_ns\":{}}}",
                p.pid,
                js(&p.comm),
                p.calls,
                p.first_ns,
                p.last_ns
            )
        })
        .collect();
    let _ = write!(
        o,
        ",\"process_count\":{},\"processes\":[{}]",
        run.process_count(),
        procs.join(",")
    );
    let _ = write!(
        o,
        ",\"segments\":{{\"created\":{},\"removed\":{},\"leaked\":{},\"rows\":[",
        run.created(),
        run.removed(),
        run.leaked()
    );
    for (i, s) in run.segs.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let att: Vec<String> = s
            .attaches
            .iter()
            .map(|(p, n)| format!("\"{p}\":{n}"))
            .collect();
        let _ = write!(
            o,
            "{{\"shmid\":{},\"ipc_ns\":{},\"key\":{},\"size\":{},\"creator\":{},\"traced_creation\":{},\"first_ns\":{},\"attaches\":{{{}}},\"peak_nattch\":{},\"removed_by\":{},\"removed_ns\":{},\"destroyed_ns\":{},\"lived_ns\":{},\"lived_at_least\":{},\"end\":{}}}",
            s.id,
            s.ipc_ns,
            js(&key(s.key)),
            s.size,
            s.creator
                .map_or("null".into(), |p| pid_comm(p, &s.creator_comm)),
            s.created(),
            s.first_ns,
            att.join(","),
            peak(s).map_or("null".into(), |n| n.to_string()),
            s.removed_by
                .map_or("null".into(), |(p, _)| pid_comm(p, &s.remover_comm)),
            s.removed_by.map_or("null".into(), |(_, t)| t.to_string()),
            s.destroyed_ns.map_or("null".into(), |t| t.to_string()),
            lived(run, s).map_or("null".into(), |(n, _)| n.to_string()),
            lived(run, s).is_some_and(|(_, b)| b),
            js(s.end.word())
        );
    }
    o.push_str("]}");
    let blind: Vec<String> = run.blind.iter().map(|b| js(b)).collect();
    let _ = write!(o, ",\"not_seen\":[{}]", blind.join(","));
    let still: Vec<String> = run
        .still_running
        .iter()
        .map(|(p, c)| format!("{{\"pid\":{p},\"comm\":{}}}", js(c)))
        .collect();
    let _ = write!(o, ",\"still_running\":[{}]}}", still.join(","));
    o
}
