//! The kernel's table of segments in the caller's IPC namespace: from /proc/sysvipc/shm
//! (readable by everyone), else by SHM_INFO and SHM_STAT_ANY on each index (no
//! permission needed, Linux 4.17), else by SHM_STAT (only what the caller may read).

use crate::sys;
use std::mem::MaybeUninit;

/// One segment, as the kernel describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// The shmid.
    pub id: i32,
    /// The key (IPC_PRIVATE is 0).
    pub key: i32,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits and the SHM_DEST / SHM_LOCKED flags.
    pub mode: u32,
    /// The creator's pid (0: in a pid namespace this one cannot see).
    pub cpid: i32,
    /// The pid of the last shmat or shmdt.
    pub lpid: i32,
    /// Attachments, as the kernel counts them (one per mapping).
    pub nattch: u64,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Creator uid.
    pub cuid: u32,
    /// Creator gid.
    pub cgid: u32,
    /// Last attach time (0: never).
    pub atime: i64,
    /// Last detach time (0: never).
    pub dtime: i64,
    /// Creation or last IPC_SET time.
    pub ctime: i64,
    /// Resident bytes (only /proc/sysvipc/shm says).
    pub rss: Option<u64>,
    /// Swapped-out bytes (only /proc/sysvipc/shm says).
    pub swap: Option<u64>,
}

impl Segment {
    /// Marked for removal: destroyed at its last detach.
    pub fn marked(&self) -> bool {
        self.mode & sys::SHM_DEST != 0
    }

    /// Locked in memory (SHM_LOCK).
    pub fn locked(&self) -> bool {
        self.mode & sys::SHM_LOCKED != 0
    }

    /// The permission bits alone.
    pub fn perms(&self) -> u32 {
        self.mode & 0o777
    }

    /// The key as ipcs prints it.
    pub fn key_hex(&self) -> String {
        format!("0x{:08x}", self.key as u32)
    }
}

/// Where the table came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// /proc/sysvipc/shm.
    Proc,
    /// shmctl(SHM_STAT_ANY) on every index up to SHM_INFO's highest.
    StatAny,
    /// shmctl(SHM_STAT): segments the caller may not read are not seen.
    Stat,
}

impl Source {
    /// The name used in the output and in RSHM_LS_TABLE.
    pub fn name(self) -> &'static str {
        match self {
            Source::Proc => "/proc/sysvipc/shm",
            Source::StatAny => "SHM_STAT_ANY",
            Source::Stat => "SHM_STAT",
        }
    }

    /// The source RSHM_LS_TABLE names (`proc`, `shm_stat_any`, `shm_stat`).
    pub fn from_env(v: &str) -> Option<Source> {
        match v {
            "proc" => Some(Source::Proc),
            "shm_stat_any" => Some(Source::StatAny),
            "shm_stat" => Some(Source::Stat),
            _ => None,
        }
    }
}

/// The table and what could not be seen of it.
#[derive(Clone, Debug)]
pub struct Table {
    /// The segments, by id.
    pub segments: Vec<Segment>,
    /// Where they came from.
    pub source: Source,
    /// Indexes of segments SHM_STAT refused to describe (no read permission).
    pub unreadable: Vec<i32>,
}

/// Reads the table: from `forced` alone if given, else from the first source that works.
pub fn read(forced: Option<Source>) -> Result<Table, String> {
    let mut t = match forced {
        Some(Source::Proc) => from_proc().map_err(|e| format!("/proc/sysvipc/shm: {e}"))?,
        Some(s) => by_index(s)?,
        None => match from_proc() {
            Ok(t) => t,
            Err(_) => match by_index(Source::StatAny)? {
                // SHM_STAT_ANY unknown to this kernel (before 4.17): it refuses every index.
                t if t.segments.is_empty() && used_ids() > 0 => by_index(Source::Stat)?,
                t => t,
            },
        },
    };
    t.segments.sort_by_key(|s| s.id);
    Ok(t)
}

/// The columns of /proc/sysvipc/shm, found by their names in its header.
fn from_proc() -> std::io::Result<Table> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| std::io::Error::other(format!("no column {name} in its header")))
    };
    let c = [
        need("key")?,
        need("shmid")?,
        need("perms")?,
        need("size")?,
        need("cpid")?,
        need("lpid")?,
        need("nattch")?,
        need("uid")?,
        need("gid")?,
        need("cuid")?,
        need("cgid")?,
        need("atime")?,
        need("dtime")?,
        need("ctime")?,
    ];
    let (rss, swap) = (col("rss"), col("swap"));
    let mut segments = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
        let unum = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        let parsed = (|| {
            Some(Segment {
                key: num(c[0])? as i32,
                id: num(c[1])? as i32,
                mode: u32::from_str_radix(f.get(c[2])?, 8).ok()?,
                size: unum(c[3])?,
                cpid: num(c[4])? as i32,
                lpid: num(c[5])? as i32,
                nattch: unum(c[6])?,
                uid: unum(c[7])? as u32,
                gid: unum(c[8])? as u32,
                cuid: unum(c[9])? as u32,
                cgid: unum(c[10])? as u32,
                atime: num(c[11])?,
                dtime: num(c[12])?,
                ctime: num(c[13])?,
                rss: rss.and_then(unum),
                swap: swap.and_then(unum),
            })
        })();
        match parsed {
            Some(s) => segments.push(s),
            None => {
                return Err(std::io::Error::other(format!(
                    "cannot parse the line {line:?}"
                )));
            }
        }
    }
    Ok(Table {
        segments,
        source: Source::Proc,
        unreadable: Vec::new(),
    })
}

/// glibc's `struct shm_info`, what SHM_INFO fills in.
#[repr(C)]
#[derive(Default)]
struct ShmUsage {
    used_ids: libc::c_int,
    shm_tot: libc::c_ulong,
    shm_rss: libc::c_ulong,
    shm_swp: libc::c_ulong,
    swap_attempts: libc::c_ulong,
    swap_successes: libc::c_ulong,
}

/// SHM_INFO: the highest index in use (-1 if none) and the number of segments.
fn usage() -> Result<(i32, i32), String> {
    let mut u = ShmUsage::default();
    // SAFETY: SHM_INFO writes one struct shm_info, which ShmUsage mirrors; the pointer is
    // typed shmid_ds only because shmctl's prototype says so.
    let r = unsafe { libc::shmctl(0, sys::SHM_INFO, (&mut u as *mut ShmUsage).cast()) };
    if r < 0 {
        return Err(format!(
            "shmctl(SHM_INFO): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((r, u.used_ids))
}

/// The number of segments SHM_INFO counts (0 if it cannot say).
fn used_ids() -> i32 {
    usage().map(|(_, n)| n).unwrap_or(0)
}

/// Every index from 0 to SHM_INFO's highest, with SHM_STAT_ANY or SHM_STAT.
// c_ulong is u64 here but u32 on 32-bit targets: the casts are needed there.
#[allow(clippy::unnecessary_cast)]
fn by_index(source: Source) -> Result<Table, String> {
    let cmd = if source == Source::Stat {
        sys::SHM_STAT
    } else {
        sys::SHM_STAT_ANY
    };
    let (highest, _) = usage()?;
    let mut t = Table {
        segments: Vec::new(),
        source,
        unreadable: Vec::new(),
    };
    for index in 0..=highest {
        let mut ds = MaybeUninit::<libc::shmid_ds>::zeroed();
        // SAFETY: SHM_STAT and SHM_STAT_ANY write one shmid_ds into `ds`.
        let id = unsafe { libc::shmctl(index, cmd, ds.as_mut_ptr()) };
        if id < 0 {
            // EINVAL: no segment there (or removed since SHM_INFO). EACCES: no read permission.
            if sys::errno() == libc::EACCES {
                t.unreadable.push(index);
            }
            continue;
        }
        // SAFETY: zeroed is a valid shmid_ds (plain integers) and the kernel filled it in.
        let ds = unsafe { ds.assume_init() };
        let p = &ds.shm_perm;
        t.segments.push(Segment {
            id,
            key: p.__key,
            size: ds.shm_segsz as u64,
            mode: p.mode as u32,
            cpid: ds.shm_cpid,
            lpid: ds.shm_lpid,
            nattch: ds.shm_nattch as u64,
            uid: p.uid,
            gid: p.gid,
            cuid: p.cuid,
            cgid: p.cgid,
            atime: ds.shm_atime,
            dtime: ds.shm_dtime,
            ctime: ds.shm_ctime,
            rss: None,
            swap: None,
        });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_are_named_as_the_environment_names_them() {
        assert_eq!(Source::from_env("proc"), Some(Source::Proc));
        assert_eq!(Source::from_env("shm_stat_any"), Some(Source::StatAny));
        assert_eq!(Source::from_env("shm_stat"), Some(Source::Stat));
        assert_eq!(Source::from_env("SHM_STAT"), None);
    }

    #[test]
    fn flags_and_key_are_decoded() {
        let s = Segment {
            key: -1,
            mode: 0o3640,
            ..Segment::default()
        };
        assert!(s.marked() && s.locked());
        assert_eq!(s.perms(), 0o640);
        assert_eq!(s.key_hex(), "0xffffffff");
    }
}
