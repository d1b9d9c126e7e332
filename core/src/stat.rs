//! What the kernel says about a segment (`shmctl(IPC_STAT)`), in Rust types.

/// A segment's state as the kernel keeps it (`struct shmid_ds`), read by
/// [`Segment::stat`](crate::Segment::stat).
///
/// # Example
/// ```
/// use rshm_core::Segment;
///
/// let seg = Segment::create_private(4096, 0o640)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// let a = seg.attach()?;
/// let st = seg.stat()?;
/// assert_eq!((st.size, st.nattch, st.mode), (4096, 1, 0o640));
/// assert_eq!(st.creator_pid, std::process::id() as i32);
/// assert!(!st.marked_for_removal);
/// drop(a);
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// The key (`IPC_PRIVATE` for a private segment, and for any once it is marked for
    /// removal).
    pub key: i32,
    /// Size in bytes, as asked of shmget (the mapping is rounded up to whole pages).
    pub size: usize,
    /// How many attachments it has, in every process.
    pub nattch: u64,
    /// The permission bits (`0o600`).
    pub mode: u32,
    /// Marked for removal: it is destroyed when its last attachment goes (Linux still
    /// lets it be attached until then, by id).
    pub marked_for_removal: bool,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
    /// The creator's user id.
    pub cuid: u32,
    /// The creator's group id.
    pub cgid: u32,
    /// The process that made it.
    pub creator_pid: i32,
    /// The process that last attached or detached it.
    pub last_pid: i32,
    /// The last attach, in seconds since the Unix epoch (0: never).
    pub attach_time: i64,
    /// The last detach, in seconds since the Unix epoch (0: never).
    pub detach_time: i64,
    /// The last change (creation, IPC_SET), in seconds since the Unix epoch.
    pub change_time: i64,
}

/// `SHM_DEST` of Linux's `shm_perm.mode` (not in the libc crate): marked for removal.
const SHM_DEST: u32 = 0o1000;

impl Stat {
    pub(crate) fn from_kernel(ds: &libc::shmid_ds) -> Self {
        let mode = u32::from(ds.shm_perm.mode);
        Self {
            key: ds.shm_perm.__key,
            size: ds.shm_segsz,
            nattch: ds.shm_nattch,
            mode: mode & 0o777,
            marked_for_removal: mode & SHM_DEST != 0,
            uid: ds.shm_perm.uid,
            gid: ds.shm_perm.gid,
            cuid: ds.shm_perm.cuid,
            cgid: ds.shm_perm.cgid,
            creator_pid: ds.shm_cpid,
            last_pid: ds.shm_lpid,
            attach_time: ds.shm_atime,
            detach_time: ds.shm_dtime,
            change_time: ds.shm_ctime,
        }
    }
}
