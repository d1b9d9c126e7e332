//! Whether a command can be traced at all: a statically linked program has no dynamic
//! loader (no `PT_INTERP` program header), so `LD_PRELOAD` never loads into it.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `PT_INTERP`.
const PT_INTERP: u32 = 3;

/// The file `execvp(3)` would run for `name`.
pub fn resolve(name: &OsStr) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether running `p` is a secure execution: its set-user-ID bit changes this user's
/// effective user id, or its set-group-ID bit the group id. The loader then ignores
/// `LD_PRELOAD` given by path.
pub fn is_set_id(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid and getegid take no arguments and cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    p.metadata().is_ok_and(|m| {
        (m.mode() & 0o4000 != 0 && m.uid() != uid) || (m.mode() & 0o2000 != 0 && m.gid() != gid)
    })
}

/// Whether the program at `p` is an ELF file without a dynamic loader (following one
/// `#!` line to its interpreter). `None` when that cannot be told.
pub fn is_static(p: &Path) -> Option<bool> {
    let mut head = vec![0u8; 4096];
    let n = std::fs::File::open(p).ok()?.read(&mut head).ok()?;
    head.truncate(n);
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next()?;
        let interp = line
            .split(|&b| b == b' ' || b == b'\t')
            .find(|w| !w.is_empty())?;
        return is_static_elf(&std::fs::read(OsStr::from_bytes(interp)).ok()?);
    }
    is_static_elf(&std::fs::read(p).ok()?)
}

fn is_static_elf(f: &[u8]) -> Option<bool> {
    if f.len() < 52 || &f[..4] != b"\x7fELF" || f[5] != 1 {
        // Not ELF, or big-endian: cannot tell.
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(f.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(f.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(f.get(o..o + 8)?.try_into().ok()?));
    let (phoff, phentsize, phnum) = match f[4] {
        1 => (
            u32_at(28)? as usize,
            u16_at(42)? as usize,
            u16_at(44)? as usize,
        ),
        2 => (
            u64_at(32)? as usize,
            u16_at(54)? as usize,
            u16_at(56)? as usize,
        ),
        _ => return None,
    };
    let mut interp = false;
    for i in 0..phnum {
        interp |= u32_at(phoff + i * phentsize)? == PT_INTERP;
    }
    Some(!interp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_and_a_script_are_not_static() {
        let sh = resolve(OsStr::new("sh")).expect("sh is on PATH");
        assert_eq!(is_static(&sh), Some(false));
        assert_eq!(is_static(Path::new("/nonexistent")), None);
    }
}
