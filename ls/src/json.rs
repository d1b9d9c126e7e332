//! `--json`: one document, the schema of rshm-ls(1) and ls/schema.json (version 1).

use crate::args::Options;
use crate::escape::lossy;
use crate::filter;
use crate::process::Creator;
use crate::snapshot::{Entry, Snapshot};
use crate::users::Users;

/// The schema version; a change that is not an addition raises it.
pub const VERSION: i128 = 1;

/// A JSON value.
pub enum J {
    /// null.
    Null,
    /// true or false.
    Bool(bool),
    /// An integer (every number rshm-ls writes is one).
    Int(i128),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, its keys in this order.
    Obj(Vec<(&'static str, J)>),
}

impl J {
    /// The value as JSON text, on one line.
    pub fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(n) => out.push_str(&n.to_string()),
            J::Str(s) => string(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// `s` as a JSON string, escaped.
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An integer value.
fn int(n: impl Into<i128>) -> J {
    J::Int(n.into())
}

/// A sum that may pass 2^64 (it cannot pass 2^127: sizes are below 2^64 and there are
/// fewer than 2^32 segments).
fn wide(n: u128) -> J {
    J::Int(i128::try_from(n).unwrap_or(i128::MAX))
}

/// An integer, or null.
fn opt<T: Into<i128>>(v: Option<T>) -> J {
    v.map_or(J::Null, int)
}

/// A time: null for 0 (never).
fn time(t: i64) -> J {
    if t == 0 { J::Null } else { int(t) }
}

/// An owner or creator: uid, gid and name (null if the uid has no passwd entry).
fn user(uid: u32, gid: u32, users: &mut Users) -> J {
    J::Obj(vec![
        ("uid", int(uid)),
        ("gid", int(gid)),
        (
            "name",
            users.name(uid).map_or(J::Null, |n| J::Str(n.into())),
        ),
    ])
}

/// One segment's object.
fn segment(e: &Entry, users: &mut Users) -> J {
    let s = &e.seg;
    let (creator_state, creator_command) = match &e.creator {
        Creator::Unknown => ("unknown", J::Null),
        Creator::Alive { comm } => ("running", J::Str(lossy(comm))),
        Creator::Unsure { comm, .. } => (
            "exists",
            comm.as_deref().map_or(J::Null, |c| J::Str(lossy(c))),
        ),
        Creator::Exited => ("exited", J::Null),
        Creator::Reused { .. } => ("pid reused", J::Null),
    };
    let attachers = e
        .attachers
        .iter()
        .map(|a| {
            J::Obj(vec![
                ("pid", int(a.pid)),
                ("command", J::Str(lossy(&a.comm))),
                ("uid", opt(a.uid)),
                (
                    "user",
                    a.uid
                        .and_then(|u| users.name(u).map(|n| J::Str(n.into())))
                        .unwrap_or(J::Null),
                ),
                (
                    "addresses",
                    J::Arr(a.addrs.iter().map(|x| J::Str(format!("{x:#x}"))).collect()),
                ),
            ])
        })
        .collect();
    J::Obj(vec![
        ("id", int(s.id)),
        ("key", J::Str(s.key_hex())),
        ("size", int(s.size)),
        ("mode", J::Str(format!("{:04o}", s.perms()))),
        ("marked", J::Bool(s.marked())),
        ("locked", J::Bool(s.locked())),
        ("owner", user(s.uid, s.gid, users)),
        ("creator", user(s.cuid, s.cgid, users)),
        ("cpid", int(s.cpid)),
        ("creator_state", J::Str(creator_state.into())),
        ("creator_command", creator_command),
        ("lpid", int(s.lpid)),
        ("nattch", int(s.nattch)),
        ("atime", time(s.atime)),
        ("dtime", time(s.dtime)),
        ("ctime", time(s.ctime)),
        ("rss", opt(s.rss)),
        ("swap", opt(s.swap)),
        ("state", J::Str(e.state.name().into())),
        ("attachers", J::Arr(attachers)),
        ("attachments_visible", int(e.seen())),
        (
            "remove_command",
            if e.state == crate::state::State::Orphaned {
                J::Str(e.remove_command())
            } else {
                J::Null
            },
        ),
    ])
}

/// The document for `snap`, with the segments `o` selects.
pub fn document(snap: &Snapshot, o: &Options, users: &mut Users) -> String {
    let segments = snap
        .entries
        .iter()
        .filter(|e| filter::matches(e, o))
        .map(|e| segment(e, users))
        .collect();
    let t = &snap.totals;
    let by_user = t
        .users
        .iter()
        .map(|(uid, u)| {
            J::Obj(vec![
                ("uid", int(*uid)),
                (
                    "name",
                    users.name(*uid).map_or(J::Null, |n| J::Str(n.into())),
                ),
                ("segments", int(u.segments)),
                ("bytes", wide(u.bytes)),
            ])
        })
        .collect();
    let limits = snap.limits.map_or(J::Null, |l| {
        J::Obj(vec![
            ("shmmni", int(l.shmmni)),
            ("shmall", int(l.shmall)),
            ("shmmax", int(l.shmmax)),
        ])
    });
    let doc = J::Obj(vec![
        ("version", J::Int(VERSION)),
        ("time", int(snap.time)),
        ("namespace", J::Str(snap.namespace.clone())),
        ("source", J::Str(snap.source.name().into())),
        ("segments", J::Arr(segments)),
        (
            "unreadable_segments",
            J::Arr(snap.unreadable_segments.iter().map(|i| int(*i)).collect()),
        ),
        ("limits", limits),
        (
            "totals",
            J::Obj(vec![
                ("segments", int(t.segments)),
                ("pages", wide(t.pages)),
                ("bytes", wide(t.bytes)),
                ("largest", int(t.largest)),
                ("page_size", int(t.page_size)),
                ("users", J::Arr(by_user)),
            ]),
        ),
        (
            "processes",
            J::Obj(vec![
                ("read", int(snap.processes_read as u64)),
                ("unreadable", int(snap.processes_unreadable as u64)),
                (
                    "other_namespace",
                    int(snap.processes_other_namespace as u64),
                ),
            ]),
        ),
    ]);
    let mut out = String::new();
    doc.write(&mut out);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        J::Obj(vec![
            ("a\"b", J::Str("x\\y\n\u{1}".into())),
            ("n", J::Arr(vec![J::Null, J::Bool(true), J::Int(-3)])),
        ])
        .write(&mut out);
        assert_eq!(out, r#"{"a\"b":"x\\y\n\u0001","n":[null,true,-3]}"#);
    }
}
