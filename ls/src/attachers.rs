//! Who attaches what: every process whose /proc/PID/ns/ipc is ours, its /proc/PID/maps
//! read once, and of it only the System V lines (`/SYSV%08x`, the inode is the shmid).
//! A process in another IPC namespace is skipped before its maps are opened: there a
//! segment with the same id is another segment.

use crate::process;
use std::io::{ErrorKind, Read};

/// One mapping of a System V segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The segment's id (the inode column).
    pub id: i32,
    /// Its key (the name's hex digits).
    pub key: i32,
    /// The first address of the mapping.
    pub addr: u64,
}

/// Parses one maps line; None unless it maps a System V segment.
pub fn parse_line(line: &[u8]) -> Option<Mapping> {
    let line = std::str::from_utf8(line).ok()?;
    let mut f = line.split_ascii_whitespace();
    let range = f.next()?;
    let (_perms, _offset, _dev) = (f.next()?, f.next()?, f.next()?);
    let inode: u64 = f.next()?.parse().ok()?;
    let name = f.next()?;
    let hex = name.strip_prefix("/SYSV")?;
    match f.next() {
        None => {}
        Some("(deleted)") if f.next().is_none() => {}
        Some(_) => return None,
    }
    if hex.len() != 8 {
        return None;
    }
    let key = u32::from_str_radix(hex, 16).ok()? as i32;
    let addr = u64::from_str_radix(range.split('-').next()?, 16).ok()?;
    Some(Mapping {
        id: i32::try_from(inode).ok()?,
        key,
        addr,
    })
}

/// The System V mappings of a whole maps file.
pub fn parse_maps(text: &[u8]) -> Vec<Mapping> {
    text.split(|&b| b == b'\n')
        .filter(|l| contains(l, b"/SYSV"))
        .filter_map(parse_line)
        .collect()
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One process's attachments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: i32,
    /// Its command (/proc/PID/comm).
    pub comm: String,
    /// Its effective uid, if /proc/PID/status could be read.
    pub uid: Option<u32>,
    /// Its System V mappings, in address order.
    pub mappings: Vec<Mapping>,
}

/// What the scan of /proc found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The processes of this IPC namespace that map at least one segment, by pid.
    pub processes: Vec<Process>,
    /// Processes whose namespace or maps could not be read (EACCES).
    pub unreadable: usize,
    /// Processes of this IPC namespace whose maps were read.
    pub read: usize,
    /// Processes skipped as members of another IPC namespace.
    pub other_namespace: usize,
}

impl Scan {
    /// The mappings of segment `id`, as (process, addresses) pairs. The name of a mapping
    /// holds the key the segment had when it was attached: it must be `key`, unless the
    /// segment is `marked` (IPC_RMID makes the key IPC_PRIVATE; the names keep the old one).
    pub fn of(&self, id: i32, key: i32, marked: bool) -> Vec<(&Process, Vec<u64>)> {
        self.processes
            .iter()
            .filter_map(|p| {
                let addrs: Vec<u64> = p
                    .mappings
                    .iter()
                    .filter(|m| m.id == id && (m.key == key || marked))
                    .map(|m| m.addr)
                    .collect();
                (!addrs.is_empty()).then_some((p, addrs))
            })
            .collect()
    }
}

/// What became of one process during the scan.
enum Seen {
    Mappings(Vec<Mapping>),
    OtherNamespace,
    Unreadable,
    Gone,
}

/// Reads /proc: every process in `namespace` (the target of /proc/self/ns/ipc).
pub fn scan(namespace: &std::path::Path) -> Result<Scan, String> {
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut s = Scan::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        match look(pid, namespace, &mut buf) {
            Seen::Mappings(mappings) => {
                s.read += 1;
                if !mappings.is_empty() {
                    let comm = process::stat(pid)
                        .map(|st| st.comm)
                        .unwrap_or_else(|| "?".into());
                    s.processes.push(Process {
                        pid,
                        comm,
                        uid: process::euid(pid),
                        mappings,
                    });
                }
            }
            Seen::OtherNamespace => s.other_namespace += 1,
            Seen::Unreadable => s.unreadable += 1,
            Seen::Gone => {}
        }
    }
    s.processes.sort_by_key(|p| p.pid);
    Ok(s)
}

/// One process: its namespace first (a readlink), then its maps.
fn look(pid: i32, namespace: &std::path::Path, buf: &mut Vec<u8>) -> Seen {
    match std::fs::read_link(format!("/proc/{pid}/ns/ipc")) {
        Ok(ns) if ns == namespace => {}
        Ok(_) => return Seen::OtherNamespace,
        Err(e) => return refused(pid, e.kind()),
    }
    buf.clear();
    let read =
        std::fs::File::open(format!("/proc/{pid}/maps")).and_then(|mut f| f.read_to_end(buf));
    match read {
        Ok(_) => Seen::Mappings(parse_maps(buf)),
        Err(e) => refused(pid, e.kind()),
    }
}

/// A failed look: gone (ENOENT, ESRCH), a kernel thread (it attaches nothing), or unreadable.
fn refused(pid: i32, kind: ErrorKind) -> Seen {
    if kind == ErrorKind::NotFound {
        return Seen::Gone;
    }
    match process::stat(pid) {
        None => Seen::Gone,
        Some(st) if st.kernel_thread() || st.exited() => Seen::Gone,
        Some(_) => Seen::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_system_v_lines_are_taken_with_their_inode_key_and_address() {
        let maps = b"55e32b984000-55e32b986000 r--p 00000000 fe:00 247282   /usr/bin/head
7f1bdf693000-7f1bdf694000 rw-s 00000000 00:01 3801095                    /SYSV52534d31 (deleted)
7f1bdf695000-7f1bdf696000 r--s 00000000 00:01 7                          /SYSV00000000
7f1bdf697000-7f1bdf698000 rw-s 00000000 fe:00 12                         /SYSV00000000.bak
7f1bdf699000-7f1bdf69a000 rw-p 00000000 00:00 0                          [heap]
";
        assert_eq!(
            parse_maps(maps),
            vec![
                Mapping {
                    id: 3801095,
                    key: 0x52534d31,
                    addr: 0x7f1bdf693000
                },
                Mapping {
                    id: 7,
                    key: 0,
                    addr: 0x7f1bdf695000
                },
            ]
        );
    }

    #[test]
    fn a_file_named_like_a_segment_with_more_after_it_is_not_one() {
        assert_eq!(
            parse_line(b"1000-2000 rw-s 0 00:01 5 /SYSV00000001 (deleted) x"),
            None
        );
        assert_eq!(parse_line(b"1000-2000 rw-s 0 00:01 5 /SYSV0001"), None);
        assert_eq!(
            parse_line(b"1000-2000 rw-s 0 00:01 5 /tmp/SYSV00000001"),
            None
        );
    }
}
