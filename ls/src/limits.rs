//! The namespace's limits (SHMMNI, SHMALL, SHMMAX) and the totals measured against them.

use crate::segments::Segment;
use crate::sys;
use std::collections::BTreeMap;

/// The limits shmget checks, for this IPC namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most segments.
    pub shmmni: u64,
    /// Most pages of all segments together.
    pub shmall: u64,
    /// Largest segment, in bytes.
    pub shmmax: u64,
}

/// glibc's `struct shminfo`, what IPC_INFO fills in.
#[repr(C)]
#[derive(Default)]
struct ShmInfo {
    shmmax: libc::c_ulong,
    shmmin: libc::c_ulong,
    shmmni: libc::c_ulong,
    shmseg: libc::c_ulong,
    shmall: libc::c_ulong,
    unused: [libc::c_ulong; 4],
}

/// From /proc/sys/kernel/shm{mni,all,max} (this namespace's), else IPC_INFO.
// c_ulong is u64 here but u32 on 32-bit targets: the casts are needed there.
#[allow(clippy::unnecessary_cast)]
pub fn read() -> Option<Limits> {
    let file = |n: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{n}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if let (Some(shmmni), Some(shmall), Some(shmmax)) =
        (file("shmmni"), file("shmall"), file("shmmax"))
    {
        return Some(Limits {
            shmmni,
            shmall,
            shmmax,
        });
    }
    let mut si = ShmInfo::default();
    // SAFETY: IPC_INFO writes one struct shminfo, which ShmInfo mirrors; the pointer is
    // typed shmid_ds only because shmctl's prototype says so.
    let r = unsafe { libc::shmctl(0, sys::IPC_INFO, (&mut si as *mut ShmInfo).cast()) };
    (r >= 0).then_some(Limits {
        shmmni: si.shmmni as u64,
        shmall: si.shmall as u64,
        shmmax: si.shmmax as u64,
    })
}

/// One user's share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserTotal {
    /// Segments the user owns.
    pub segments: u64,
    /// Their bytes (a sum of sizes up to 2^64 each: wider than u64).
    pub bytes: u128,
}

/// The whole table, counted as shmget counts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Segments (against SHMMNI).
    pub segments: u64,
    /// Pages: each segment's size rounded up to a page (against SHMALL).
    pub pages: u128,
    /// Bytes of all segments (sizes are up to 2^64 each, so the sum is wider).
    pub bytes: u128,
    /// The largest segment, in bytes (against SHMMAX).
    pub largest: u64,
    /// The page size used.
    pub page_size: u64,
    /// By owner uid.
    pub users: BTreeMap<u32, UserTotal>,
}

/// Counts `segments` with pages of `page_size` bytes.
pub fn totals(segments: &[Segment], page_size: u64) -> Totals {
    let mut t = Totals {
        page_size,
        ..Totals::default()
    };
    for s in segments {
        t.segments += 1;
        t.pages += u128::from(s.size.div_ceil(page_size));
        t.bytes += u128::from(s.size);
        t.largest = t.largest.max(s.size);
        let u = t.users.entry(s.uid).or_default();
        u.segments += 1;
        u.bytes += u128::from(s.size);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_each_segment_up_and_users_add_up() {
        let seg = |uid, size| Segment {
            uid,
            size,
            ..Segment::default()
        };
        let t = totals(&[seg(0, 1), seg(0, 4096), seg(7, 4097)], 4096);
        assert_eq!(
            (t.segments, t.pages, t.bytes, t.largest),
            (3, 4, 8194, 4097)
        );
        assert_eq!(
            t.users[&0],
            UserTotal {
                segments: 2,
                bytes: 4097
            }
        );
        assert_eq!(
            t.users[&7],
            UserTotal {
                segments: 1,
                bytes: 4097
            }
        );
    }

    #[test]
    fn sizes_beyond_two_to_the_64_add_up() {
        let seg = |size| Segment {
            size,
            ..Segment::default()
        };
        let t = totals(&[seg(u64::MAX), seg(u64::MAX), seg(1 << 62)], 4096);
        assert_eq!(t.bytes, 2 * u128::from(u64::MAX) + (1 << 62));
        assert_eq!(t.users[&0].bytes, t.bytes);
        assert_eq!(t.pages, 2 * (1u128 << 52) + (1 << 50));
    }

    #[test]
    fn the_limits_are_read() {
        let l = read().unwrap();
        assert!(l.shmmni > 0 && l.shmall > 0 && l.shmmax > 0);
    }
}
