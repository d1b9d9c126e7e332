//! A segment, by its id: make or find one, attach it, ask the kernel about it, remove it.

use crate::api_error::{Error, caught};
use crate::attachment::Attachment;
use crate::backend;
use crate::flags::{IPC_CREAT, IPC_EXCL, IPC_PRIVATE};
use crate::names::errno_name;
use crate::shm::{self, LIBRARY};
use crate::stat::Stat;

/// A System V shared memory segment, named by its id (what shmget returns).
///
/// A `Segment` is only the id: dropping it changes nothing, as a segment outlives the
/// processes that use it until it is [removed](Segment::remove). Every call goes through
/// the same core as the C library: its arguments are checked, the call is logged and the
/// process's registry of segments and attachments is kept.
///
/// # Example
/// ```
/// use rshm_core::Segment;
///
/// let seg = Segment::create_private(4096, 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// let a = seg.attach()?;
/// a.write_at(0, b"hello");
/// let mut buf = [0; 5];
/// a.read_at(0, &mut buf);
/// assert_eq!(&buf, b"hello");
/// drop(a); // detaches
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    id: i32,
}

impl Segment {
    /// Makes a new segment of `size` bytes (zero-filled) for `key`, with permission bits
    /// `mode` (`0o600`: read and write for the owner), and fails with `EEXIST` if `key`
    /// has one already (shmget with `IPC_CREAT | IPC_EXCL`). With
    /// [`IPC_PRIVATE`](crate::flags::IPC_PRIVATE) as the key, the segment has no key and
    /// is reached only by its id.
    ///
    /// `mode` may hold only the permission bits (`0o777`); other flags go through
    /// [`get`](crate::get).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    /// # let key = 0x7e00_0000 | (std::process::id() as i32 & 0xffff) << 8 | 2;
    ///
    /// let seg = Segment::create(key, 4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let taken = Segment::create(key, 4096, 0o600).unwrap_err();
    /// assert_eq!(taken.errno_name(), "EEXIST");
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn create(key: i32, size: usize, mode: u32) -> Result<Segment, Error> {
        if mode & !0o777 != 0 {
            return Err(Error::new(
                libc::EINVAL,
                format!(
                    "Segment::create: mode {mode:#o} has bits besides the permission bits \
                     (0o777); pass flags through rshm_core::get"
                ),
            ));
        }
        let flags = IPC_CREAT | IPC_EXCL | mode as i32;
        caught(shm::get(&LIBRARY, key, size, flags)).map(Segment::from_id)
    }

    /// Makes a new segment of `size` bytes with permission bits `mode` and no key
    /// (`IPC_PRIVATE`): only its id reaches it, so it is shared with the processes it is
    /// handed to (or that fork from this one).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(1 << 20, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// assert_eq!(seg.stat()?.size, 1 << 20);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn create_private(size: usize, mode: u32) -> Result<Segment, Error> {
        Segment::create(IPC_PRIVATE, size, mode)
    }

    /// Finds the existing segment of `key` (shmget with no flags); fails with `ENOENT` if
    /// there is none. Access is checked when it is attached.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    /// # let key = 0x7e00_0000 | (std::process::id() as i32 & 0xffff) << 8 | 3;
    ///
    /// let made = Segment::create(key, 4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(made.id());
    /// let found = Segment::open(key)?;
    /// assert_eq!(found, made);
    /// found.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// assert_eq!(Segment::open(key).unwrap_err().errno_name(), "ENOENT");
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn open(key: i32) -> Result<Segment, Error> {
        if key == IPC_PRIVATE {
            // shmget(IPC_PRIVATE, ...) always makes a segment: there is nothing to find.
            return Err(Error::new(
                libc::EINVAL,
                "Segment::open: IPC_PRIVATE names no existing segment; pass the id \
                 (Segment::from_id) or make one (Segment::create_private)"
                    .to_owned(),
            ));
        }
        caught(shm::get(&LIBRARY, key, 0, 0)).map(Segment::from_id)
    }

    /// The segment of id `shmid`, e.g. one made by another process or by
    /// [`get`](crate::get). Nothing is checked until it is used.
    ///
    /// # Example
    /// ```
    /// use rshm_core::{Segment, flags::{IPC_CREAT, IPC_PRIVATE}};
    ///
    /// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)?;
    /// let seg = Segment::from_id(id);
    /// assert_eq!(seg.id(), id);
    /// seg.remove()?;
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn from_id(shmid: i32) -> Segment {
        Segment { id: shmid }
    }

    /// The id, as shmget returned it (what other processes need to attach a private
    /// segment, and what the C library's calls take).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// assert!(seg.id() >= 0);
    /// rshm_core::rmid(seg.id())?;
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Attaches the segment for reading and writing, where the kernel chooses; the
    /// [`Attachment`] detaches it when dropped.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// assert_eq!((a.len(), a.is_read_only()), (4096, false));
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn attach(&self) -> Result<Attachment, Error> {
        self.attach_with(0)
    }

    /// Attaches the segment with shmat `flags` ([`SHM_RDONLY`](crate::flags::SHM_RDONLY),
    /// [`SHM_EXEC`](crate::flags::SHM_EXEC); `0` for read and write), where the kernel
    /// chooses. Asks the kernel the segment's size once (IPC_STAT), for
    /// [`Attachment::len`].
    ///
    /// # Example
    /// ```
    /// use rshm_core::{Segment, flags::SHM_RDONLY};
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let writer = seg.attach()?;
    /// let reader = seg.attach_with(SHM_RDONLY)?;
    /// writer.write_at(100, &[7]);
    /// let mut b = [0];
    /// reader.read_at(100, &mut b);
    /// assert_eq!(b, [7]);
    /// drop((writer, reader));
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn attach_with(&self, flags: i32) -> Result<Attachment, Error> {
        // SAFETY: no address is given, so the kernel picks a free range and replaces no
        // mapping (SHM_REMAP without an address is refused).
        let addr = caught(unsafe { shm::attach(&LIBRARY, self.id, 0, flags) })?;
        // The kernel's size, not the registry's: a stale or smaller size there must not
        // become the length of the memory handed out.
        match backend::stat(&LIBRARY.backend, self.id) {
            Ok(ds) => {
                // SAFETY: `addr` was attached just now with `flags`, and maps at least
                // `shm_segsz` bytes of segment `id`; the attachment owns it from here.
                Ok(unsafe { Attachment::from_raw(addr, ds.shm_segsz, self.id, flags) })
            }
            Err(errno) => {
                // SAFETY: attached just above; nothing has seen the address.
                let _ = unsafe { shm::detach(&LIBRARY, addr) };
                Err(Error::new(
                    errno,
                    format!(
                        "Segment::attach: segment {} was attached at {addr:#x}, but IPC_STAT \
                         then failed with {}, so its size is unknown; it was detached again",
                        self.id,
                        errno_name(errno)
                    ),
                ))
            }
        }
    }

    /// What the kernel says about the segment (`shmctl(IPC_STAT)`: size, attachments,
    /// mode, owner, creator, times). A query of the kernel only: not logged, and the
    /// registry is not changed. Needs read permission.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(8192, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let st = seg.stat()?;
    /// assert_eq!((st.size, st.nattch, st.mode), (8192, 0, 0o600));
    /// seg.clone().remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// assert_eq!(seg.stat().unwrap_err().errno_name(), "EINVAL");
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn stat(&self) -> Result<Stat, Error> {
        let id = self.id;
        // The kernel asked directly, and a refusal explained as any IPC_STAT is.
        caught(
            backend::stat(&backend::Direct, id)
                .map(|ds| Stat::from_kernel(&ds))
                .map_err(|errno| {
                    crate::explain::ctl(
                        &backend::Direct,
                        "Segment::stat",
                        id,
                        libc::IPC_STAT,
                        errno,
                    )
                }),
        )
    }

    /// Marks the segment for removal (`shmctl(IPC_RMID)`): the kernel destroys it when
    /// its last attachment, in any process, goes. Until then the attachments keep
    /// working; its key is free at once.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// seg.clone().remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// assert!(seg.stat()?.marked_for_removal); // still there: `a` holds it
    /// a.write_at(0, b"still usable");
    /// drop(a); // the last attachment: now it is destroyed
    /// assert_eq!(seg.stat().unwrap_err().errno_name(), "EINVAL");
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn remove(self) -> Result<(), Error> {
        caught(shm::rmid(&LIBRARY, self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::SHM_RDONLY;
    use crate::testing::{Removes, unused_key};

    #[test]
    fn create_attach_write_read_and_drop_detaches() {
        let seg = Segment::create_private(10_000, 0o600).unwrap();
        let _removes = Removes(seg.id());
        assert_eq!(seg.stat().unwrap().nattch, 0);
        let a = seg.attach().unwrap();
        assert_eq!((a.len(), a.is_read_only()), (10_000, false));
        assert_eq!(seg.stat().unwrap().nattch, 1);
        a.write_at(9_995, b"tail!");
        a.write_at(0, b"head");
        let mut buf = [0u8; 5];
        a.read_at(9_995, &mut buf);
        assert_eq!(&buf, b"tail!");
        let b = seg.attach_with(SHM_RDONLY).unwrap();
        assert_eq!(seg.stat().unwrap().nattch, 2);
        let mut head = [0u8; 4];
        b.read_at(0, &mut head);
        assert_eq!(&head, b"head");
        drop(b);
        assert_eq!(seg.stat().unwrap().nattch, 1);
        drop(a);
        assert_eq!(seg.stat().unwrap().nattch, 0);
    }

    #[test]
    fn open_by_key_sees_what_another_attachment_wrote() {
        let key = unused_key();
        let made = Segment::create(key, 4096, 0o600).unwrap();
        let _removes = Removes(made.id());
        let writer = made.attach().unwrap();
        writer.write_at(123, b"through the writer");
        let found = Segment::open(key).unwrap();
        assert_eq!(found.id(), made.id());
        let reader = found.attach_with(SHM_RDONLY).unwrap();
        assert_ne!(reader.as_ptr(), writer.as_ptr());
        let mut buf = [0u8; 18];
        reader.read_at(123, &mut buf);
        assert_eq!(&buf, b"through the writer");
        let st = found.stat().unwrap();
        assert_eq!((st.key, st.size, st.nattch, st.mode), (key, 4096, 2, 0o600));
        assert_eq!(st.creator_pid, std::process::id() as i32);
    }

    #[test]
    fn create_twice_is_eexist_and_open_of_a_missing_key_is_enoent() {
        let key = unused_key();
        let made = Segment::create(key, 4096, 0o600).unwrap();
        let _removes = Removes(made.id());
        let e = Segment::create(key, 4096, 0o600).unwrap_err();
        assert_eq!(e.errno(), libc::EEXIST);
        assert_eq!(
            e.message(),
            format!(
                "rshm_get: key {key:#010x} already has a segment (shmid {}) and IPC_EXCL asks for a new one",
                made.id()
            )
        );
        made.remove().unwrap();
        let e = Segment::open(key).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        assert_eq!(
            e.message(),
            format!("rshm_get: no segment has key {key:#010x} and IPC_CREAT was not given")
        );
    }

    #[test]
    fn remove_then_stat_is_einval_and_says_no_segment() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let id = seg.id();
        seg.clone().remove().unwrap();
        let e = seg.stat().unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(
            e.message(),
            format!("Segment::stat: no segment has id {id} (never made, or removed and destroyed)")
        );
        let e = seg.remove().unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(
            e.message(),
            format!(
                "rshm_rmid: no segment has id {id} (never made, or already removed and destroyed)"
            )
        );
    }

    #[test]
    fn a_removed_segment_lives_until_its_last_detach() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let a = seg.attach().unwrap();
        seg.clone().remove().unwrap();
        let st = seg.stat().unwrap();
        assert!(st.marked_for_removal);
        assert_eq!((st.key, st.nattch), (IPC_PRIVATE, 1));
        a.write_at(0, b"x");
        a.detach().unwrap();
        assert_eq!(seg.stat().unwrap_err().errno(), libc::EINVAL);
    }

    #[test]
    fn mode_with_flag_bits_and_open_of_ipc_private_are_einval() {
        let e = Segment::create_private(4096, 0o4600).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(
            e.message(),
            "Segment::create: mode 0o4600 has bits besides the permission bits (0o777); \
             pass flags through rshm_core::get"
        );
        let e = Segment::open(IPC_PRIVATE).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
    }
}
