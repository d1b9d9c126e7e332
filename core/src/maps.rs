//! Reads /proc/self/maps: what is mapped at an address (for the explanation of a failed
//! shmat or shmdt) and the System V attachments the kernel holds (for the exit report).
//! The kernel names a System V mapping `/SYSV<key> (deleted)` and gives the segment's id
//! as its inode number. Reads with open/read/close into a stack buffer: no allocation,
//! safe in a signal handler. Never on a successful call's path: a read costs some 30
//! times a shmdt.

use crate::error::ErrnoGuard;

/// A mapping of the process, as an explanation names it.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// First address.
    pub start: usize,
    /// Address after the last.
    pub end: usize,
    /// The segment's id, if it is a System V attachment.
    pub shmid: Option<i32>,
    /// The path or `[name]` the maps show (cut to fit), empty for anonymous memory.
    name: [u8; 64],
    name_len: usize,
}

impl Region {
    /// The path or `[heap]`-style name, or "" for anonymous memory.
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("")
    }
}

/// The first mapping that overlaps `[start, end)`, if the maps list one.
pub fn overlapping(start: usize, end: usize) -> Option<Region> {
    let mut hit = None;
    each_line(|m, path| {
        if m.start < end && start < m.end {
            let mut name = [0u8; 64];
            let mut n = path.len().min(name.len());
            while n > 0 && !path.is_char_boundary(n) {
                n -= 1;
            }
            name[..n].copy_from_slice(&path.as_bytes()[..n]);
            hit = Some(Region {
                start: m.start,
                end: m.end,
                shmid: m.sysv.then_some(m.inode as i32),
                name,
                name_len: n,
            });
            return false;
        }
        // The maps are in address order: past `end`, nothing further can overlap.
        m.start < end
    });
    hit
}

/// How many mappings the process has (the lines of /proc/self/maps).
pub fn count() -> u64 {
    let mut n = 0;
    each_line(|_, _| {
        n += 1;
        true
    });
    n
}

/// The most mappings a process may have (/proc/sys/vm/max_map_count), if readable.
pub fn max_count() -> Option<u64> {
    let _errno = ErrnoGuard::save();
    // SAFETY: the path is a NUL-terminated literal.
    let fd = unsafe {
        libc::open(
            c"/proc/sys/vm/max_map_count".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 32];
    // SAFETY: reads at most buf.len() bytes into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: `fd` was opened above and is closed once.
    unsafe { libc::close(fd) };
    let digits = buf.get(..usize::try_from(n).ok()?)?;
    let digits = &digits[..digits.iter().take_while(|b| b.is_ascii_digit()).count()];
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// Calls `f` with each line of /proc/self/maps (or the traced process's: see
/// [`crate::subject`]; parsed, and its path field) until it
/// returns false.
fn each_line(mut f: impl FnMut(&MapLine, &str) -> bool) {
    let _errno = ErrnoGuard::save();
    // This process's, or the traced process's an explanation is about (crate::subject).
    let path = match crate::subject::other() {
        None => crate::buf::FixedBuf::<32>::from_fmt(format_args!("/proc/self/maps")),
        Some(pid) => crate::buf::FixedBuf::<32>::from_fmt(format_args!("/proc/{pid}/maps")),
    };
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_c_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut have = 0usize;
    'read: loop {
        // SAFETY: reads at most the free part of `buf`.
        let n = unsafe { libc::read(fd, buf[have..].as_mut_ptr().cast(), buf.len() - have) };
        if n <= 0 {
            break;
        }
        have += n as usize;
        let mut used = 0;
        while let Some(nl) = buf[used..have].iter().position(|&b| b == b'\n') {
            let line = &buf[used..used + nl];
            used += nl + 1;
            let Some((m, path)) = parse_with_path(line) else {
                continue;
            };
            if !f(&m, path) {
                break 'read;
            }
        }
        buf.copy_within(used..have, 0);
        have -= used;
        if have == buf.len() {
            // A line longer than the buffer: drop it.
            have = 0;
        }
    }
    // SAFETY: `fd` was opened above and is closed once.
    unsafe { libc::close(fd) };
}

struct MapLine {
    start: usize,
    end: usize,
    inode: u64,
    sysv: bool,
}

/// Parses `start-end perms offset dev inode path`.
#[cfg(test)]
fn parse(line: &[u8]) -> Option<MapLine> {
    parse_with_path(line).map(|(m, _)| m)
}

/// Parses a line, and gives its path field too ("" for anonymous memory).
fn parse_with_path(line: &[u8]) -> Option<(MapLine, &str)> {
    let text = core::str::from_utf8(line).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let inode = fields.nth(3)?.parse().ok()?;
    let path = fields.next().unwrap_or("");
    Some((
        MapLine {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            inode,
            sysv: path.starts_with("/SYSV"),
        },
        path,
    ))
}

/// Calls `f(start, end, shmid)` for each System V attachment the maps list (adjacent
/// pieces of one attachment come as separate calls), in address order.
pub fn each_sysv(mut f: impl FnMut(usize, usize, i32)) {
    each_line(|m, _| {
        if m.sysv {
            f(m.start, m.end, m.inode as i32);
        }
        true
    });
}

/// Calls `f(start, shmid)` once for each System V attachment the maps list, in address
/// order: the adjacent pieces of one attachment (split by mprotect) are one, unless
/// `starts(addr, shmid)` says an attachment of that segment starts at a piece (two
/// attachments of one segment side by side).
pub fn each_attachment(starts: impl Fn(usize, i32) -> bool, mut f: impl FnMut(usize, i32)) {
    let mut prev = (0usize, -1i32);
    each_sysv(|start, end, shmid| {
        let continues = start == prev.0 && shmid == prev.1 && !starts(start, shmid);
        prev = (end, shmid);
        if !continues {
            f(start, shmid);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sysv_line() {
        let m =
            parse(b"7f3a0c000000-7f3a0c001000 rw-s 00000000 00:01 32770   /SYSV0000162e (deleted)")
                .unwrap();
        assert_eq!(
            (m.start, m.end, m.inode, m.sysv),
            (0x7f3a0c000000, 0x7f3a0c001000, 32770, true)
        );
        let m = parse(b"7f3a0c000000-7f3a0c001000 r--p 00000000 08:01 1234 /usr/lib/libc.so.6")
            .unwrap();
        assert!(!m.sysv);
        assert!(parse(b"garbage").is_none());
    }

    #[test]
    fn finds_what_is_mapped_and_each_sysv_attachment() {
        // SAFETY: plain SysV calls on a private segment this test owns.
        unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, 3 * 4096, libc::IPC_CREAT | 0o600);
            assert!(id >= 0);
            let p = libc::shmat(id, core::ptr::null(), 0) as usize;
            libc::shmctl(id, libc::IPC_RMID, core::ptr::null_mut());
            assert_ne!(p, usize::MAX);
            let mut seen = vec![];
            each_sysv(|start, end, shmid| seen.push((start, end, shmid)));
            assert!(seen.contains(&(p, p + 3 * 4096, id)), "{seen:x?}");
            let r = overlapping(p + 4096, p + 8192).expect("the attachment");
            assert_eq!((r.start, r.end, r.shmid), (p, p + 3 * 4096, Some(id)));
            assert!(r.name().starts_with("/SYSV"));
            libc::shmdt(p as *const libc::c_void);
            let mut still = false;
            each_sysv(|start, _, _| still |= start == p);
            assert!(!still, "detached: no longer listed");
        }
    }
}
