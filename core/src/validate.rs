//! Pure checks of each call's arguments against the system limits: no syscalls, no
//! state. A rule either fails the call (`Err`, with the errno libc would set, or EINVAL
//! for the stricter rules the README lists) or lets it through with a warning.

use crate::error::Error;
use crate::limits::Limits;
use crate::names::*;
use libc::{EINVAL, c_int, key_t};

/// What a check lets through: the warnings to log (none, usually).
pub type Checked = Result<Warnings, Error>;

/// Warnings about a call that goes ahead: which ones, and the values they name. Small
/// and `Copy`, so the common case (no warning) costs nothing; the sentence is written
/// (by `Display`) only when a line is logged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    bits: u8,
    flags: c_int,
    addr: usize,
    shmid: c_int,
    held: u64,
    owner: u32,
    key: key_t,
}

const WORLD_WRITABLE: u8 = 1;
const EXCL_WITHOUT_CREAT: u8 = 2;
const FOREIGN_ADDRESS: u8 = 8;
const STILL_ATTACHED: u8 = 16;
const SQUATTED: u8 = 32;

/// Things worth saying that are no mistake: logged with the call at info level, never
/// as a warning (removing a segment still attached is the ordinary way to make sure it
/// goes when its last user does).
const NOTES: u8 = STILL_ATTACHED;

impl Warnings {
    /// True when there is nothing to say (no warning and no note).
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// True when there is a warning (not only a note).
    pub fn warns(&self) -> bool {
        self.bits & !NOTES != 0
    }

    /// `rshm_dt` of an address this process did not attach through rshm.
    pub fn foreign_address(&mut self, addr: usize) {
        self.bits |= FOREIGN_ADDRESS;
        self.addr = addr;
    }

    /// True if the permissions let every user write a segment being made (a failure under
    /// `RSHM_STRICT=1`).
    pub fn world_writable(&self) -> bool {
        self.bits & WORLD_WRITABLE != 0
    }

    /// `IPC_CREAT` without `IPC_EXCL` opened an existing segment of `key` that another
    /// user (`owner`) made: perhaps a squatter's (a failure under `RSHM_STRICT=1`).
    pub fn squatted(&mut self, key: key_t, owner: u32) {
        self.bits |= SQUATTED;
        self.key = key;
        self.owner = owner;
    }

    /// `rshm_rmid` of a segment this process still has attached `held` times.
    pub fn still_attached(&mut self, shmid: c_int, held: u64) {
        self.bits |= STILL_ATTACHED;
        self.shmid = shmid;
        self.held = held;
    }
}

impl core::fmt::Display for Warnings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut sep = "";
        let mut next = |f: &mut core::fmt::Formatter<'_>| {
            let s = sep;
            sep = "; ";
            f.write_str(s)
        };
        let flags = self.flags;
        if self.bits & WORLD_WRITABLE != 0 {
            next(f)?;
            write!(
                f,
                "permissions 0{:03o} let every user write the segment",
                flags & 0o777
            )?;
        }
        if self.bits & EXCL_WITHOUT_CREAT != 0 {
            next(f)?;
            f.write_str("IPC_EXCL without IPC_CREAT has no effect")?;
        }
        if self.bits & FOREIGN_ADDRESS != 0 {
            next(f)?;
            write!(
                f,
                "address {} was not attached through rshm (by other code, or before rshm was loaded)",
                Addr(self.addr)
            )?;
        }
        if self.bits & SQUATTED != 0 {
            next(f)?;
            write!(
                f,
                "key {} already had a segment, owned by uid {}: IPC_CREAT without IPC_EXCL opened \
                 another user's segment instead of making one (a squatter's?)",
                Key(self.key),
                self.owner
            )?;
        }
        if self.bits & STILL_ATTACHED != 0 {
            next(f)?;
            write!(
                f,
                "segment {} is still attached here ({} time{}); it is destroyed after the last detach",
                self.shmid,
                self.held,
                if self.held == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// Every bit shmget gives a meaning to.
pub const GET_VALID: c_int =
    0o777 | IPC_CREAT | IPC_EXCL | SHM_HUGETLB | SHM_NORESERVE | (SHM_HUGE_MASK << SHM_HUGE_SHIFT);
/// Every bit shmat gives a meaning to.
pub const AT_VALID: c_int = SHM_RDONLY | SHM_RND | SHM_REMAP | SHM_EXEC;

/// Checks shmget's arguments. `call` names the function the program called.
#[inline]
pub fn get(call: &str, key: key_t, size: usize, flags: c_int, l: &Limits) -> Checked {
    let unknown = flags & !GET_VALID;
    if unknown != 0 {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: unknown flag bits 0{unknown:o} in flags {}; valid are the permission bits, \
                 IPC_CREAT, IPC_EXCL, SHM_HUGETLB, SHM_NORESERVE and SHM_HUGE_*",
                GetFlags(flags)
            ),
        ));
    }
    if size > isize::MAX as usize {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: size {size} is above SSIZE_MAX; it looks like the negative number {} converted to size_t",
                size as isize
            ),
        ));
    }
    // Only a private key is certainly a new segment: for a named key the kernel reports
    // EEXIST or ENOENT before it looks at the size, and so must we.
    if key == libc::IPC_PRIVATE {
        new_size(call, size, l)?;
    }
    let mut w = Warnings {
        flags,
        ..Warnings::default()
    };
    let creating = key == libc::IPC_PRIVATE || flags & IPC_CREAT != 0;
    if creating && flags & 0o002 != 0 {
        w.bits |= WORLD_WRITABLE;
    }
    if flags & IPC_EXCL != 0 && flags & IPC_CREAT == 0 {
        w.bits |= EXCL_WITHOUT_CREAT;
    }
    // The execute bits are not warned about: they govern shmat(SHM_EXEC) (and, without
    // IPC_CREAT, ask for execute access to the segment found).
    Ok(w)
}

/// The size of a segment about to be made, against SHMMIN and SHMMAX: the kernel's own rule
/// (EINVAL), so an explanation of its refusal uses it too.
pub fn new_size(call: &str, size: usize, l: &Limits) -> Result<(), Error> {
    if (size as u64) < l.shmmin {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: size {size} is below SHMMIN ({}) for a new segment",
                l.shmmin
            ),
        ));
    }
    if size as u64 > l.shmmax {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: size {size} is above SHMMAX ({}) for a new segment",
                l.shmmax
            ),
        ));
    }
    Ok(())
}

/// True if [`get`] would refuse these arguments because of SHMMIN or SHMMAX alone: the
/// caller then reads the limits again before refusing (an administrator may have raised
/// them since they were read).
#[inline]
pub fn rests_on_limits(key: key_t, size: usize, l: &Limits) -> bool {
    key == libc::IPC_PRIVATE
        && size <= isize::MAX as usize
        && ((size as u64) < l.shmmin || size as u64 > l.shmmax)
}

/// Checks shmat's arguments (`shmlba`: the attach alignment, SHMLBA).
#[inline]
pub fn at(call: &str, shmid: c_int, addr: usize, flags: c_int, shmlba: u64) -> Checked {
    negative_id(call, shmid)?;
    let unknown = flags & !AT_VALID;
    if unknown != 0 {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: unknown flag bits 0{unknown:o} in flags {}; valid are SHM_RDONLY, SHM_RND, SHM_REMAP and SHM_EXEC",
                AtFlags(flags)
            ),
        ));
    }
    at_address(call, addr, flags, shmlba)?;
    Ok(Warnings::default())
}

/// A negative shmid: the kernel's own rule (EINVAL) for shmat and shmctl.
pub fn negative_id(call: &str, shmid: c_int) -> Result<(), Error> {
    if shmid < 0 {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: shmid {shmid} is negative, so it names no segment (a failed shmget's -1?)"
            ),
        ));
    }
    Ok(())
}

/// shmat's address against SHMLBA and SHM_RND/SHM_REMAP: the kernel's own rules (EINVAL),
/// checked in its order, so an explanation of its refusal uses them too.
pub fn at_address(call: &str, addr: usize, flags: c_int, shmlba: u64) -> Result<(), Error> {
    // SHMLBA is a power of two (the page size on Linux).
    let mask = (shmlba.max(1) as usize) - 1;
    let lba = mask + 1;
    let rounded = if flags & SHM_RND != 0 {
        addr & !mask
    } else {
        addr
    };
    if addr & mask != 0 && flags & SHM_RND == 0 {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: address {} is not a multiple of SHMLBA ({lba}); pass SHM_RND to round it down",
                Addr(addr)
            ),
        ));
    }
    if rounded == 0 && flags & SHM_REMAP != 0 {
        return Err(if addr == 0 {
            Error::new(
                EINVAL,
                format_args!(
                    "{call}: SHM_REMAP needs an address to replace, and the address is NULL"
                ),
            )
        } else {
            Error::new(
                EINVAL,
                format_args!(
                    "{call}: SHM_REMAP needs an address to replace, and address {} rounds down \
                     (SHM_RND) to NULL",
                    Addr(addr)
                ),
            )
        });
    }
    Ok(())
}

/// Checks shmdt's argument (`shmlba`: the page size).
#[inline]
pub fn dt(call: &str, addr: usize, shmlba: u64) -> Checked {
    if addr == 0 {
        return Err(Error::new(
            EINVAL,
            format_args!("{call}: address is NULL; nothing is attached there"),
        ));
    }
    let mask = (shmlba.max(1) as usize) - 1;
    if addr & mask != 0 {
        return Err(Error::new(
            EINVAL,
            format_args!(
                "{call}: address {} is not page-aligned, so it is not the start of an attached segment",
                Addr(addr)
            ),
        ));
    }
    Ok(Warnings::default())
}

/// Checks shmctl(IPC_RMID)'s argument.
#[inline]
pub fn rmid(call: &str, shmid: c_int) -> Checked {
    negative_id(call, shmid)?;
    Ok(Warnings::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        shmmin: 1,
        shmmax: 1 << 40,
        shmall: 1 << 30,
        shmmni: 4096,
        shmlba: 4096,
    };

    /// (result, expected errno or 0, expected text): text must be the whole message or warning.
    fn check(r: Checked, errno: c_int, text: &str) {
        match r {
            Ok(w) => {
                assert_eq!(errno, 0, "expected errno {errno}, got Ok({w:?})");
                assert_eq!(w.to_string(), text);
            }
            Err(e) => {
                assert_eq!(e.errno, errno, "{e:?}");
                assert_eq!(e.message().as_str(), text);
            }
        }
    }

    #[test]
    fn get_rules() {
        let table: &[(key_t, usize, c_int, c_int, &str)] = &[
            (0, 4096, IPC_CREAT | 0o600, 0, ""),
            (0, 4096, 0o600, 0, ""),
            (42, 0, 0o600, 0, ""),
            (42, 0, IPC_CREAT | IPC_EXCL | 0o600, 0, ""),
            (42, 1 << 41, IPC_CREAT | 0o600, 0, ""),
            (
                0,
                0,
                IPC_CREAT | 0o600,
                EINVAL,
                "rshm_get: size 0 is below SHMMIN (1) for a new segment",
            ),
            (
                0,
                (1 << 40) + 1,
                0o600,
                EINVAL,
                "rshm_get: size 1099511627777 is above SHMMAX (1099511627776) for a new segment",
            ),
            (
                0,
                usize::MAX,
                0o600,
                EINVAL,
                "rshm_get: size 18446744073709551615 is above SSIZE_MAX; it looks like the negative number -1 converted to size_t",
            ),
            (
                42,
                1usize << 63,
                0,
                EINVAL,
                "rshm_get: size 9223372036854775808 is above SSIZE_MAX; it looks like the negative number -9223372036854775808 converted to size_t",
            ),
            (42, isize::MAX as usize, 0, 0, ""),
            (
                0,
                4096,
                0o100000 | 0o600,
                EINVAL,
                "rshm_get: unknown flag bits 0100000 in flags 0100600; valid are the permission bits, IPC_CREAT, IPC_EXCL, SHM_HUGETLB, SHM_NORESERVE and SHM_HUGE_*",
            ),
            (
                0,
                4096,
                SHM_HUGETLB | SHM_NORESERVE | (21 << SHM_HUGE_SHIFT) | 0o600,
                0,
                "",
            ),
            (
                0,
                4096,
                1 << 25,
                EINVAL,
                "rshm_get: unknown flag bits 0200000000 in flags 0200000000; valid are the permission bits, IPC_CREAT, IPC_EXCL, SHM_HUGETLB, SHM_NORESERVE and SHM_HUGE_*",
            ),
            (
                0,
                4096,
                IPC_CREAT | 0o666,
                0,
                "permissions 0666 let every user write the segment",
            ),
            (42, 4096, 0o666, 0, ""),
            (
                42,
                4096,
                IPC_EXCL | 0o600,
                0,
                "IPC_EXCL without IPC_CREAT has no effect",
            ),
            // Execute bits govern shmat(SHM_EXEC): no warning.
            (42, 4096, 0o100 | 0o600, 0, ""),
            (42, 4096, IPC_CREAT | 0o755, 0, ""),
            (
                0,
                4096,
                IPC_EXCL | 0o777,
                0,
                "permissions 0777 let every user write the segment; IPC_EXCL without IPC_CREAT has no effect",
            ),
        ];
        for &(key, size, flags, errno, text) in table {
            check(get("rshm_get", key, size, flags, &L), errno, text);
        }
    }

    #[test]
    fn only_a_size_refused_by_shmmin_or_shmmax_rests_on_the_limits() {
        assert!(rests_on_limits(0, 0, &L));
        assert!(rests_on_limits(0, (1 << 40) + 1, &L));
        assert!(!rests_on_limits(0, 4096, &L));
        // A named key may name an existing segment: the kernel decides.
        assert!(!rests_on_limits(42, 0, &L));
        // Above SSIZE_MAX is refused whatever the limits.
        assert!(!rests_on_limits(0, usize::MAX, &L));
    }

    #[test]
    fn every_single_get_flag_bit_is_sorted_into_valid_or_unknown() {
        for bit in 0..32 {
            let flags = 1i32 << bit;
            let r = get("shmget", 0, 4096, flags, &L);
            // permissions 0-8, IPC_CREAT 9, IPC_EXCL 10, SHM_HUGETLB 11, SHM_NORESERVE 12, SHM_HUGE_* 26-31
            let valid = bit <= 12 || (26..32).contains(&bit);
            assert_eq!(r.is_ok(), valid, "bit {bit}");
        }
    }

    #[test]
    fn at_rules() {
        let table: &[(c_int, usize, c_int, c_int, &str)] = &[
            (3, 0, 0, 0, ""),
            (3, 0, SHM_RDONLY | SHM_EXEC, 0, ""),
            (3, 0x7000_0000_0000, SHM_REMAP, 0, ""),
            (3, 0x7000_0000_0123, SHM_RND, 0, ""),
            (
                -1,
                0,
                0,
                EINVAL,
                "rshm_at: shmid -1 is negative, so it names no segment (a failed shmget's -1?)",
            ),
            (
                i32::MIN,
                0,
                0,
                EINVAL,
                "rshm_at: shmid -2147483648 is negative, so it names no segment (a failed shmget's -1?)",
            ),
            (
                3,
                0,
                0o1000,
                EINVAL,
                "rshm_at: unknown flag bits 01000 in flags 01000; valid are SHM_RDONLY, SHM_RND, SHM_REMAP and SHM_EXEC",
            ),
            (
                3,
                0x7000_0000_0123,
                0,
                EINVAL,
                "rshm_at: address 0x700000000123 is not a multiple of SHMLBA (4096); pass SHM_RND to round it down",
            ),
            (
                3,
                0,
                SHM_REMAP,
                EINVAL,
                "rshm_at: SHM_REMAP needs an address to replace, and the address is NULL",
            ),
            (
                3,
                0x123,
                SHM_RND | SHM_REMAP,
                EINVAL,
                "rshm_at: SHM_REMAP needs an address to replace, and address 0x123 rounds down (SHM_RND) to NULL",
            ),
        ];
        for &(id, addr, flags, errno, text) in table {
            check(at("rshm_at", id, addr, flags, L.shmlba), errno, text);
        }
    }

    #[test]
    fn call_site_warnings_read_as_sentences() {
        let mut w = Warnings::default();
        assert!(w.is_empty());
        w.foreign_address(0x7000_0000_0000);
        w.still_attached(5, 2);
        assert_eq!(
            w.to_string(),
            "address 0x700000000000 was not attached through rshm (by other code, or before rshm was loaded); \
             segment 5 is still attached here (2 times); it is destroyed after the last detach"
        );
    }

    #[test]
    fn dt_and_rmid_rules() {
        check(
            dt("rshm_dt", 0, L.shmlba),
            EINVAL,
            "rshm_dt: address is NULL; nothing is attached there",
        );
        check(
            dt("shmdt", 0x1001, L.shmlba),
            EINVAL,
            "shmdt: address 0x1001 is not page-aligned, so it is not the start of an attached segment",
        );
        check(dt("rshm_dt", 0x7000_0000_0000, L.shmlba), 0, "");
        check(dt("rshm_dt", usize::MAX & !0xfff, L.shmlba), 0, "");
        check(rmid("rshm_rmid", 0), 0, "");
        check(
            rmid("rshm_rmid", -5),
            EINVAL,
            "rshm_rmid: shmid -5 is negative, so it names no segment (a failed shmget's -1?)",
        );
    }
}
