//! Who attaches what: every process whose /proc/PID/ns/ipc is ours, its /proc/PID/maps
//! read once, and of it only the System V lines (`/SYSV%08x`, the inode is the shmid),
//! indexed by segment id. A process in another IPC namespace is skipped before its maps
//! are opened: there a segment with the same id is another segment.
//!
//! Reading the maps is most of the time rshm-ls takes (the kernel writes each line), so
//! the processes are shared out among a few threads, each reading with a large buffer.

use crate::process;
use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The value of a field of hex digits (at most 16).
fn hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |v, &b| {
        let d = (b as char).to_digit(16)?;
        Some(v << 4 | d as u64)
    })
}

/// The value of a field of decimal digits.
fn dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |v, &b| {
        let d = (b as char).to_digit(10)?;
        v.checked_mul(10)?.checked_add(d as u64)
    })
}

/// Parses one maps line; None unless it maps a System V segment: shared (the fourth
/// letter of its permissions `s`), and named `/SYSV` and eight hex digits, optionally
/// followed by ` (deleted)`, after the inode column and spaces. Read from its end, which
/// rejects other lines after a few bytes.
pub fn parse_line(line: &[u8]) -> Option<Mapping> {
    let body = line.strip_suffix(b" (deleted)").unwrap_or(line);
    let split = body.len().checked_sub(13)?;
    let (head, name) = body.split_at(split);
    let digits = name.strip_prefix(b"/SYSV")?;
    let key = hex(digits)? as u32 as i32;
    let head = head.strip_suffix(b" ")?;
    let head = &head[..head.iter().rposition(|&b| b != b' ')? + 1];
    let inode_at = head.iter().rposition(|&b| b == b' ')? + 1;
    let inode = dec(&head[inode_at..])?;
    let dash = line.iter().position(|&b| b == b'-')?;
    let space = dash + line[dash..].iter().position(|&b| b == b' ')?;
    if line.get(space + 4) != Some(&b's') || space + 5 >= inode_at {
        return None;
    }
    Some(Mapping {
        id: i32::try_from(inode).ok()?,
        key,
        addr: hex(&line[..dash])?,
    })
}

/// The position of the first newline in `s`, eight bytes at a time.
fn newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(word) ^ NL;
        // A byte of w is 0 where s has a newline; the lowest such sets the lowest bit.
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == b'\n').map(|p| i + p)
}

/// The System V mappings of a whole maps file, added to `out`.
pub fn parse_maps(text: &[u8], out: &mut Vec<Mapping>) {
    let mut rest = text;
    while !rest.is_empty() {
        let end = newline(rest).unwrap_or(rest.len());
        let line = &rest[..end];
        if let Some(m) = parse_line(line) {
            out.push(m);
        }
        rest = rest.get(end + 1..).unwrap_or_default();
    }
}

/// One process's attachments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: i32,
    /// Its command (/proc/PID/comm), as bytes.
    pub comm: Arc<[u8]>,
    /// Its effective uid, if /proc/PID/status could be read.
    pub uid: Option<u32>,
    /// Its System V mappings, in address order.
    pub mappings: Vec<Mapping>,
}

/// A process attaching a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attacher {
    /// Its pid.
    pub pid: i32,
    /// Its command, as bytes.
    pub comm: Arc<[u8]>,
    /// Its effective uid, if readable.
    pub uid: Option<u32>,
    /// Where it maps the segment, one address per mapping.
    pub addrs: Vec<u64>,
}

/// One mapping in the index: (index in `Scan::processes`, the mapping's key, its address).
type Indexed = (u32, i32, u64);

/// What the scan of /proc found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The processes of this IPC namespace that map at least one segment, by pid.
    pub processes: Vec<Process>,
    /// Segment id: its mappings, by pid then address.
    index: HashMap<i32, Vec<Indexed>>,
    /// Processes whose namespace or maps could not be read (EACCES).
    pub unreadable: usize,
    /// Processes of this IPC namespace whose maps were read.
    pub read: usize,
    /// Processes skipped as members of another IPC namespace.
    pub other_namespace: usize,
}

impl Scan {
    /// The processes mapping segment `id`, each with its addresses. The name of a mapping
    /// holds the key the segment had when it was made: it must be `key`, unless the
    /// segment is `marked` (IPC_RMID makes the key IPC_PRIVATE; the names keep the old one).
    pub fn of(&self, id: i32, key: i32, marked: bool) -> Vec<Attacher> {
        let mut out: Vec<Attacher> = Vec::new();
        let Some(list) = self.index.get(&id) else {
            return out;
        };
        let mut last: Option<u32> = None;
        for &(pi, mkey, addr) in list {
            if mkey != key && !marked {
                continue;
            }
            if last == Some(pi) {
                if let Some(a) = out.last_mut() {
                    a.addrs.push(addr);
                    continue;
                }
            }
            last = Some(pi);
            let p = &self.processes[pi as usize];
            out.push(Attacher {
                pid: p.pid,
                comm: p.comm.clone(),
                uid: p.uid,
                addrs: vec![addr],
            });
        }
        out
    }
}

/// What became of one process during the scan.
enum Seen {
    Mappings(Vec<Mapping>),
    OtherNamespace,
    Unreadable,
    Gone,
}

/// One look into a directory of /proc (a process's, or one of its threads').
enum Looked {
    Maps(Vec<Mapping>),
    OtherNamespace,
    Failed(ErrorKind),
}

/// The most threads that read maps at once.
const MAX_THREADS: usize = 4;

/// Reads /proc: every process in `namespace` (the target of /proc/self/ns/ipc).
pub fn scan(namespace: &Path) -> Result<Scan, String> {
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let pids: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(pids.len() / 32 + 1);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut buf = Vec::with_capacity(1 << 20);
        let mut found = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&pid) = pids.get(i) else {
                return found;
            };
            found.push((pid, look(pid, namespace, &mut buf)));
        }
    };
    let mut seen: Vec<(i32, Seen)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    seen.sort_by_key(|(pid, _)| *pid);
    let mut s = Scan::default();
    for (pid, what) in seen {
        match what {
            Seen::Mappings(mappings) => {
                s.read += 1;
                if !mappings.is_empty() {
                    let comm = process::stat(pid).map_or_else(|| b"?".to_vec(), |st| st.comm);
                    s.processes.push(Process {
                        pid,
                        comm: comm.into(),
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
    for (pi, p) in s.processes.iter().enumerate() {
        // A process's mappings of one segment are often next to each other: one lookup.
        let mut at: Option<(i32, &mut Vec<Indexed>)> = None;
        for m in &p.mappings {
            let list = match at.take() {
                Some((id, list)) if id == m.id => list,
                _ => s.index.entry(m.id).or_default(),
            };
            list.push((pi as u32, m.key, m.addr));
            at = Some((m.id, list));
        }
    }
    Ok(s)
}

/// The namespace, then the maps, of the process or thread whose /proc directory is `dir`.
fn look_at(dir: &str, namespace: &Path, buf: &mut Vec<u8>) -> Looked {
    match std::fs::read_link(format!("{dir}/ns/ipc")) {
        Ok(ns) if ns == namespace => {}
        Ok(_) => return Looked::OtherNamespace,
        Err(e) => return Looked::Failed(e.kind()),
    }
    match std::fs::File::open(format!("{dir}/maps")).and_then(|mut f| {
        buf.clear();
        f.read_to_end(buf).map(drop)
    }) {
        Ok(_) => {
            let mut mappings = Vec::new();
            parse_maps(buf, &mut mappings);
            Looked::Maps(mappings)
        }
        Err(e) => Looked::Failed(e.kind()),
    }
}

/// One process. If it maps nothing or cannot be looked into, its stat says why: a kernel
/// thread (it attaches nothing), gone, a first thread that exited while others run on
/// (then one of those is looked into: they share the memory map), or unreadable.
fn look(pid: i32, namespace: &Path, buf: &mut Vec<u8>) -> Seen {
    let first = look_at(&format!("/proc/{pid}"), namespace, buf);
    match first {
        Looked::Maps(m) if !m.is_empty() => return Seen::Mappings(m),
        Looked::OtherNamespace => return Seen::OtherNamespace,
        _ => {}
    }
    let Some(st) = process::stat(pid) else {
        return Seen::Gone;
    };
    if st.kernel_thread() {
        return match first {
            Looked::Maps(m) => Seen::Mappings(m),
            _ => Seen::Gone,
        };
    }
    if st.exited() {
        let Some(tid) = process::live_task(pid) else {
            return Seen::Gone;
        };
        return match look_at(&format!("/proc/{pid}/task/{tid}"), namespace, buf) {
            Looked::Maps(m) => Seen::Mappings(m),
            Looked::OtherNamespace => Seen::OtherNamespace,
            Looked::Failed(ErrorKind::NotFound) => Seen::Gone,
            Looked::Failed(_) => Seen::Unreadable,
        };
    }
    match first {
        Looked::Maps(m) => Seen::Mappings(m),
        Looked::Failed(ErrorKind::NotFound) => Seen::Gone,
        _ => Seen::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(text: &[u8]) -> Vec<Mapping> {
        let mut out = Vec::new();
        parse_maps(text, &mut out);
        out
    }

    #[test]
    fn only_system_v_lines_are_taken_with_their_inode_key_and_address() {
        let text = b"55e32b984000-55e32b986000 r--p 00000000 fe:00 247282   /usr/bin/head
7f1bdf693000-7f1bdf694000 rw-s 00000000 00:01 3801095                    /SYSV52534d31 (deleted)
7f1bdf695000-7f1bdf696000 r--s 00000000 00:01 7                          /SYSV00000000
7f1bdf697000-7f1bdf698000 rw-s 00000000 fe:00 12                         /SYSV00000000.bak
7f1bdf699000-7f1bdf69a000 rw-p 00000000 00:00 0                          [heap]
7f1bdf69b000-7f1bdf69c000 rw-p 00000000 00:01 9                          /SYSV00000009";
        assert_eq!(
            maps(text),
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
        assert_eq!(parse_line(b"1000-2000 rw-s 0 00:01 5 /SYSV0000000g"), None);
        assert_eq!(
            parse_line(b"1000-2000 rw-s 0 00:01 5 /tmp/SYSV00000001"),
            None
        );
        assert_eq!(parse_line(b"/SYSV00000001"), None);
        assert_eq!(parse_line(b"1000-2000 rw-s 0 00:01 x /SYSV00000001"), None);
        assert_eq!(parse_line(b"1000-2000 rw-p 0 00:01 5 /SYSV00000001"), None);
        assert_eq!(
            parse_line(b"1000-2000 r--s 00000000 00:01 5   /SYSV0000000a"),
            Some(Mapping {
                id: 5,
                key: 10,
                addr: 0x1000
            })
        );
    }

    #[test]
    fn newlines_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut s = vec![b'a'; len];
                s[at] = b'\n';
                assert_eq!(newline(&s), Some(at), "{len} {at}");
            }
            assert_eq!(newline(&vec![b'\x8a'; len]), None);
        }
    }
}
