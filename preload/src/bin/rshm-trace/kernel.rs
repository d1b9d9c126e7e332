//! What rshm-trace asks the kernel itself, in its own process (never in a traced one):
//! a segment's state by `SHM_STAT_ANY`, which needs no read permission (an unprivileged
//! user's mode-0200 segment is seen), and this process's IPC namespace.

/// `SHM_STAT_ANY` (Linux 4.17), not in the libc crate.
const SHM_STAT_ANY: i32 = 15;
/// `SHM_INFO`.
const SHM_INFO: i32 = 14;
/// `SHM_DEST` in `shm_perm.mode`: marked for removal.
const SHM_DEST: u32 = 0o1000;

/// A segment as the kernel sees it.
#[derive(Clone, Copy, Debug)]
pub struct KStat {
    /// Its id.
    pub id: i32,
    /// Its key (IPC_PRIVATE, 0, once marked for removal).
    pub key: i32,
    /// Its size.
    pub size: u64,
    /// Its attachments, in every process.
    pub nattch: u64,
    /// Its maker.
    pub cpid: i32,
    /// The last process to attach or detach it.
    pub lpid: i32,
    /// When it was made or last changed, seconds.
    pub ctime: i64,
    /// Its last attach and detach, seconds.
    pub atime: i64,
    /// See `atime`.
    pub dtime: i64,
    /// Marked for removal.
    pub marked: bool,
}

fn stat_index(index: i32) -> Option<KStat> {
    // SAFETY: shmid_ds is plain integers, for which all zeroes is a valid value.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: SHM_STAT_ANY writes one shmid_ds into `ds`.
    let id = unsafe { libc::shmctl(index, SHM_STAT_ANY, &mut ds) };
    if id < 0 {
        return None;
    }
    Some(KStat {
        id,
        key: ds.shm_perm.__key,
        size: ds.shm_segsz as u64,
        nattch: ds.shm_nattch,
        cpid: ds.shm_cpid,
        lpid: ds.shm_lpid,
        ctime: ds.shm_ctime,
        atime: ds.shm_atime,
        dtime: ds.shm_dtime,
        marked: u32::from(ds.shm_perm.mode) & SHM_DEST != 0,
    })
}

/// The segment `id`, if it exists in rshm-trace's IPC namespace. Its index is the id's
/// low 15 bits (24 with `ipcmni_extend`).
pub fn stat(id: i32) -> Option<KStat> {
    if id < 0 {
        return None;
    }
    [id & 0x7fff, id & 0xff_ffff]
        .into_iter()
        .filter_map(stat_index)
        .find(|k| k.id == id)
}

/// Every segment of rshm-trace's IPC namespace.
pub fn all() -> Vec<KStat> {
    // SAFETY: shm_info is plain integers, for which all zeroes is a valid value.
    let mut info: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: SHM_INFO writes a struct shm_info, smaller than a shmid_ds, into `info`.
    let highest = unsafe { libc::shmctl(0, SHM_INFO, &mut info) };
    (0..=highest).filter_map(stat_index).collect()
}

/// The inode of a process's namespace `kind` (`ipc`, `pid`) (`who`: `self` or a pid),
/// 0 if unknown.
pub fn ns(who: &str, kind: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{who}/ns/{kind}"))
        .map(|m| m.ino())
        .unwrap_or(0)
}
