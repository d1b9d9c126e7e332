//! Names for numbers: errno values, and the flag words of each call decoded to the
//! names a C programmer writes (`IPC_CREAT|IPC_EXCL|0600`).

use core::fmt::{self, Write};
use libc::c_int;

/// `IPC_CREAT`: create the segment if the key has none.
pub const IPC_CREAT: c_int = 0o1000;
/// `IPC_EXCL`: with `IPC_CREAT`, fail if the key has a segment.
pub const IPC_EXCL: c_int = 0o2000;
/// `SHM_HUGETLB`: back the segment with huge pages.
pub const SHM_HUGETLB: c_int = 0o4000;
/// `SHM_NORESERVE`: do not reserve swap for the segment.
pub const SHM_NORESERVE: c_int = 0o10000;
/// Where the huge page size field (log2 of the size) starts in shmget's flags.
pub const SHM_HUGE_SHIFT: u32 = 26;
/// Width mask of the huge page size field.
pub const SHM_HUGE_MASK: c_int = 0x3f;
/// `SHM_RDONLY`: attach read-only.
pub const SHM_RDONLY: c_int = 0o10000;
/// `SHM_RND`: round the attach address down to SHMLBA.
pub const SHM_RND: c_int = 0o20000;
/// `SHM_REMAP`: replace any mapping at the attach address.
pub const SHM_REMAP: c_int = 0o40000;
/// `SHM_EXEC`: attach with execute permission.
pub const SHM_EXEC: c_int = 0o100000;
/// `IPC_RMID`: mark the segment for removal.
pub const IPC_RMID: c_int = 0;
/// `IPC_SET`: change owner and mode.
pub const IPC_SET: c_int = 1;
/// `IPC_STAT`: read the segment's `shmid_ds`.
pub const IPC_STAT: c_int = 2;
/// `IPC_INFO`: read the system limits.
pub const IPC_INFO: c_int = 3;
/// `SHM_LOCK`: lock the segment in memory.
pub const SHM_LOCK: c_int = 11;
/// `SHM_UNLOCK`: unlock the segment.
pub const SHM_UNLOCK: c_int = 12;
/// `SHM_STAT`: `IPC_STAT` by index.
pub const SHM_STAT: c_int = 13;
/// `SHM_INFO`: read resource usage.
pub const SHM_INFO: c_int = 14;
/// `SHM_STAT_ANY`: `SHM_STAT` without the read permission check.
pub const SHM_STAT_ANY: c_int = 15;

/// The symbolic name of an errno value (`"EINVAL"`): every value Linux defines (1 to 133;
/// an alias such as EWOULDBLOCK or ENOTSUP shows as the name it aliases), or `"E?"` for a
/// number that is no errno.
pub fn errno_name(e: c_int) -> &'static str {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTBLK => "ENOTBLK",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::EDOM => "EDOM",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENOMSG => "ENOMSG",
        libc::EIDRM => "EIDRM",
        libc::ECHRNG => "ECHRNG",
        libc::EL2NSYNC => "EL2NSYNC",
        libc::EL3HLT => "EL3HLT",
        libc::EL3RST => "EL3RST",
        libc::ELNRNG => "ELNRNG",
        libc::EUNATCH => "EUNATCH",
        libc::ENOCSI => "ENOCSI",
        libc::EL2HLT => "EL2HLT",
        libc::EBADE => "EBADE",
        libc::EBADR => "EBADR",
        libc::EXFULL => "EXFULL",
        libc::ENOANO => "ENOANO",
        libc::EBADRQC => "EBADRQC",
        libc::EBADSLT => "EBADSLT",
        libc::EBFONT => "EBFONT",
        libc::ENOSTR => "ENOSTR",
        libc::ENODATA => "ENODATA",
        libc::ETIME => "ETIME",
        libc::ENOSR => "ENOSR",
        libc::ENONET => "ENONET",
        libc::ENOPKG => "ENOPKG",
        libc::EREMOTE => "EREMOTE",
        libc::ENOLINK => "ENOLINK",
        libc::EADV => "EADV",
        libc::ESRMNT => "ESRMNT",
        libc::ECOMM => "ECOMM",
        libc::EPROTO => "EPROTO",
        libc::EMULTIHOP => "EMULTIHOP",
        libc::EDOTDOT => "EDOTDOT",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOTUNIQ => "ENOTUNIQ",
        libc::EBADFD => "EBADFD",
        libc::EREMCHG => "EREMCHG",
        libc::ELIBACC => "ELIBACC",
        libc::ELIBBAD => "ELIBBAD",
        libc::ELIBSCN => "ELIBSCN",
        libc::ELIBMAX => "ELIBMAX",
        libc::ELIBEXEC => "ELIBEXEC",
        libc::EILSEQ => "EILSEQ",
        libc::ERESTART => "ERESTART",
        libc::ESTRPIPE => "ESTRPIPE",
        libc::EUSERS => "EUSERS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPFNOSUPPORT => "EPFNOSUPPORT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETRESET => "ENETRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::ETOOMANYREFS => "ETOOMANYREFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ESTALE => "ESTALE",
        libc::EUCLEAN => "EUCLEAN",
        libc::ENOTNAM => "ENOTNAM",
        libc::ENAVAIL => "ENAVAIL",
        libc::EISNAM => "EISNAM",
        libc::EREMOTEIO => "EREMOTEIO",
        libc::EDQUOT => "EDQUOT",
        libc::ENOMEDIUM => "ENOMEDIUM",
        libc::EMEDIUMTYPE => "EMEDIUMTYPE",
        libc::ECANCELED => "ECANCELED",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::EOWNERDEAD => "EOWNERDEAD",
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE",
        libc::ERFKILL => "ERFKILL",
        libc::EHWPOISON => "EHWPOISON",
        _ => "E?",
    }
}

/// Writes `n` in octal with a leading `0` (`0600`), at least `width` digits after it;
/// `0` alone for zero when `width` is 0. No core::fmt: this runs on the log path.
fn octal(out: &mut dyn Write, n: u32, width: usize) -> fmt::Result {
    let mut digits = [b'0'; 12];
    let mut at = digits.len();
    let mut t = n;
    while t != 0 {
        at -= 1;
        digits[at] = b'0' + (t & 7) as u8;
        t >>= 3;
    }
    at = at.min(digits.len().saturating_sub(width));
    out.write_str("0")?;
    // ASCII digits: always UTF-8.
    out.write_str(core::str::from_utf8(&digits[at..]).unwrap_or(""))
}

/// Writes `0600`-style permission bits (or `0`).
fn perms(out: &mut dyn Write, bits: c_int) -> fmt::Result {
    if bits == 0 {
        out.write_str("0")
    } else {
        octal(out, bits as u32, 3)
    }
}

/// Writes the name list of `flags` as `A|B|rest`, `rest` being the octal bits left over.
fn named(out: &mut dyn Write, flags: c_int, names: &[(c_int, &str)]) -> fmt::Result {
    let mut left = flags;
    let mut first = true;
    for &(bit, name) in names {
        if left & bit == bit && bit != 0 {
            if !first {
                out.write_char('|')?;
            }
            out.write_str(name)?;
            left &= !bit;
            first = false;
        }
    }
    if left != 0 || first {
        if !first {
            out.write_char('|')?;
        }
        octal(out, left as u32, 0)?;
    }
    Ok(())
}

/// shmget's flag word, e.g. `IPC_CREAT|IPC_EXCL|0600`; a huge page size field shows as
/// `SHM_HUGE_2MB` (and `SHM_HUGE_2^N` for sizes without a libc name).
pub struct GetFlags(pub c_int);

impl fmt::Display for GetFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl GetFlags {
    /// Writes the names into `f` (the log writes them straight into its line).
    pub fn write(&self, f: &mut dyn Write) -> fmt::Result {
        let huge = (self.0 >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK;
        let rest = self.0 & !(SHM_HUGE_MASK << SHM_HUGE_SHIFT);
        let table = [
            (IPC_CREAT, "IPC_CREAT"),
            (IPC_EXCL, "IPC_EXCL"),
            (SHM_HUGETLB, "SHM_HUGETLB"),
            (SHM_NORESERVE, "SHM_NORESERVE"),
        ];
        let known = rest & (IPC_CREAT | IPC_EXCL | SHM_HUGETLB | SHM_NORESERVE);
        if known != 0 {
            named(f, known, &table)?;
            f.write_char('|')?;
        }
        if huge != 0 {
            match huge {
                16 => f.write_str("SHM_HUGE_64KB|")?,
                19 => f.write_str("SHM_HUGE_512KB|")?,
                20 => f.write_str("SHM_HUGE_1MB|")?,
                21 => f.write_str("SHM_HUGE_2MB|")?,
                23 => f.write_str("SHM_HUGE_8MB|")?,
                24 => f.write_str("SHM_HUGE_16MB|")?,
                25 => f.write_str("SHM_HUGE_32MB|")?,
                28 => f.write_str("SHM_HUGE_256MB|")?,
                29 => f.write_str("SHM_HUGE_512MB|")?,
                30 => f.write_str("SHM_HUGE_1GB|")?,
                31 => f.write_str("SHM_HUGE_2GB|")?,
                34 => f.write_str("SHM_HUGE_16GB|")?,
                n => write!(f, "SHM_HUGE_2^{n}|")?,
            }
        }
        let other = rest & !known;
        if other & !0o777 != 0 {
            octal(f, other as u32, 0)
        } else {
            perms(f, other)
        }
    }
}

/// shmat's flag word, e.g. `SHM_RDONLY|SHM_RND`, or `0`.
pub struct AtFlags(pub c_int);

impl fmt::Display for AtFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl AtFlags {
    /// Writes the names into `f` (the log writes them straight into its line).
    pub fn write(&self, f: &mut dyn Write) -> fmt::Result {
        let table = [
            (SHM_RDONLY, "SHM_RDONLY"),
            (SHM_RND, "SHM_RND"),
            (SHM_REMAP, "SHM_REMAP"),
            (SHM_EXEC, "SHM_EXEC"),
        ];
        named(f, self.0, &table)
    }
}

/// A shmctl command's name (`IPC_RMID`), or its number when unknown.
pub struct Cmd(pub c_int);

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl Cmd {
    /// Writes the name into `f` (the log writes it straight into its line).
    pub fn write(&self, f: &mut dyn Write) -> fmt::Result {
        let name = match self.0 {
            IPC_RMID => "IPC_RMID",
            IPC_SET => "IPC_SET",
            IPC_STAT => "IPC_STAT",
            IPC_INFO => "IPC_INFO",
            SHM_LOCK => "SHM_LOCK",
            SHM_UNLOCK => "SHM_UNLOCK",
            SHM_STAT => "SHM_STAT",
            SHM_INFO => "SHM_INFO",
            SHM_STAT_ANY => "SHM_STAT_ANY",
            n => return write!(f, "{n}"),
        };
        f.write_str(name)
    }
}

/// A SysV key: `IPC_PRIVATE` or hex (`0x0000162e`).
pub struct Key(pub libc::key_t);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == libc::IPC_PRIVATE {
            f.write_str("IPC_PRIVATE")
        } else {
            write!(f, "{:#010x}", self.0 as u32)
        }
    }
}

/// An address as hex (`0x7f3a0c000000`), `NULL` for zero.
pub struct Addr(pub usize);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("NULL")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: impl fmt::Display) -> String {
        d.to_string()
    }

    #[test]
    fn get_flags_decode_to_c_names() {
        assert_eq!(
            s(GetFlags(IPC_CREAT | IPC_EXCL | 0o600)),
            "IPC_CREAT|IPC_EXCL|0600"
        );
        assert_eq!(s(GetFlags(IPC_CREAT | 0o666)), "IPC_CREAT|0666");
        assert_eq!(s(GetFlags(0)), "0");
        assert_eq!(s(GetFlags(0o600)), "0600");
        assert_eq!(s(GetFlags(IPC_CREAT)), "IPC_CREAT|0");
        assert_eq!(
            s(GetFlags(SHM_HUGETLB | (21 << SHM_HUGE_SHIFT) | 0o600)),
            "SHM_HUGETLB|SHM_HUGE_2MB|0600"
        );
        assert_eq!(s(GetFlags(SHM_NORESERVE | 0o640)), "SHM_NORESERVE|0640");
        assert_eq!(s(GetFlags(0o100000 | 0o600)), "0100600");
        assert_eq!(s(GetFlags(0o7)), "0007");
        assert_eq!(s(GetFlags(0o40000000 | 0o1)), "040000001");
    }

    #[test]
    fn at_flags_and_commands_decode() {
        assert_eq!(s(AtFlags(0)), "0");
        assert_eq!(s(AtFlags(SHM_RDONLY | SHM_RND)), "SHM_RDONLY|SHM_RND");
        assert_eq!(s(AtFlags(SHM_EXEC | 0o4)), "SHM_EXEC|04");
        assert_eq!(s(AtFlags(0o200000 | SHM_RND)), "SHM_RND|0200000");
        assert_eq!(s(Cmd(IPC_RMID)), "IPC_RMID");
        assert_eq!(s(Cmd(SHM_STAT_ANY)), "SHM_STAT_ANY");
        assert_eq!(s(Cmd(99)), "99");
    }

    #[test]
    fn keys_and_addresses() {
        assert_eq!(s(Key(0)), "IPC_PRIVATE");
        assert_eq!(s(Key(0x162e)), "0x0000162e");
        assert_eq!(s(Key(-1)), "0xffffffff");
        assert_eq!(s(Addr(0)), "NULL");
        assert_eq!(s(Addr(0x7f3a0c000000)), "0x7f3a0c000000");
        assert_eq!(errno_name(libc::EIDRM), "EIDRM");
    }

    #[test]
    fn every_errno_linux_defines_has_its_name() {
        // 41 and 58 are unused on Linux.
        let mut seen = std::collections::BTreeSet::new();
        for e in (1..=133).filter(|e| ![41, 58].contains(e)) {
            let name = errno_name(e);
            assert_ne!(name, "E?", "errno {e}");
            assert!(seen.insert(name), "{name} twice");
        }
        assert_eq!(errno_name(0), "E?");
        assert_eq!(errno_name(4095), "E?");
        for (e, name) in [
            (libc::EISDIR, "EISDIR"),
            (libc::ENOTDIR, "ENOTDIR"),
            (libc::ENAMETOOLONG, "ENAMETOOLONG"),
            (libc::ELOOP, "ELOOP"),
            (libc::ENXIO, "ENXIO"),
            (libc::EROFS, "EROFS"),
            (libc::EMFILE, "EMFILE"),
            (libc::ENFILE, "ENFILE"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::EINTR, "EINTR"),
            (libc::EPIPE, "EPIPE"),
            (libc::ENOSPC, "ENOSPC"),
            (libc::EDQUOT, "EDQUOT"),
            (libc::EBADF, "EBADF"),
        ] {
            assert_eq!(errno_name(e), name);
        }
    }

    /// The names agree with glibc's own (strerrorname_np, glibc 2.32 and later).
    #[cfg(target_env = "gnu")]
    #[test]
    fn errno_names_agree_with_glibc() {
        unsafe extern "C" {
            fn strerrorname_np(errnum: c_int) -> *const libc::c_char;
        }
        for e in 1..=133 {
            // SAFETY: strerrorname_np returns NULL or a static NUL-terminated string.
            let p = unsafe { strerrorname_np(e) };
            if p.is_null() {
                continue;
            }
            // SAFETY: checked non-NULL above; glibc's string is static.
            let glibc = unsafe { core::ffi::CStr::from_ptr(p) }.to_str().unwrap();
            assert_eq!(errno_name(e), glibc, "errno {e}");
        }
    }
}
