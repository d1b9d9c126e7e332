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

/// `1234 (postgres)`, or the pid alone when it made no call.
fn who(run: &Run, pid: i32) -> String {
    match run.comm(pid) {
        Some(c) => format!("{pid} ({c})"),
        None => pid.to_string(),
    }
}

/// How long a segment lived, as far as the run saw it.
fn lived(run: &Run, s: &Seg) -> Option<u64> {
    if s.untraced {
        return None;
    }
    match (s.created(), s.removed_by) {
        (true, Some((_, t))) => Some(t.saturating_sub(s.first_ns)),
        (true, None) if s.end == End::Leaked => Some(run.end_ns.saturating_sub(s.first_ns)),
        _ => None,
    }
}

/// The END column.
fn end(run: &Run, s: &Seg) -> String {
    match (s.end, s.removed_by) {
        (End::Removed, Some((p, _))) => format!("removed by {}", who(run, p)),
        (End::RemovedAttached, Some((p, _))) => {
            format!("removed by {}, still attached elsewhere", who(run, p))
        }
        (End::Leaked, _) => "LEAKED".into(),
        (End::Gone, _) => "gone (removed by a call not traced)".into(),
        (End::Exists, _) => "not made by the run, still there".into(),
        (End::Unchecked, _) => "in another IPC namespace (not checked)".into(),
        (e, _) => e.word().into(),
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
    let np = run.procs.len() as u64;
    let _ = writeln!(o, " in {}", plural(np, "process", "processes"));
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
                    s.creator.map_or("-".into(), |p| who(run, p)),
                    if s.attaches.is_empty() {
                        "-".into()
                    } else {
                        s.attaches
                            .iter()
                            .map(|(p, n)| format!("{p}x{n}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                    s.peak_nattch.to_string(),
                    lived(run, s).map_or("-".into(), dur),
                    end(run, s),
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

fn pid_comm(run: &Run, pid: i32) -> String {
    match run.comm(pid) {
        Some(c) => format!("{{\"pid\":{pid},\"comm\":{}}}", js(c)),
        None => format!("{{\"pid\":{pid},\"comm\":null}}"),
    }
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
    let _ = write!(o, ",\"processes\":[{}]", procs.join(","));
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
            "{{\"shmid\":{},\"ipc_ns\":{},\"key\":{},\"size\":{},\"creator\":{},\"first_ns\":{},\"attaches\":{{{}}},\"peak_nattch\":{},\"removed_by\":{},\"removed_ns\":{},\"lived_ns\":{},\"end\":{}}}",
            s.id,
            s.ipc_ns,
            js(&key(s.key)),
            s.size,
            s.creator.map_or("null".into(), |p| pid_comm(run, p)),
            s.first_ns,
            att.join(","),
            s.peak_nattch,
            s.removed_by
                .map_or("null".into(), |(p, _)| pid_comm(run, p)),
            s.removed_by.map_or("null".into(), |(_, t)| t.to_string()),
            lived(run, s).map_or("null".into(), |n| n.to_string()),
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
