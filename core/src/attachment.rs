//! An attached segment: its memory as a pointer and a length, detached on drop.
//!
//! Why there is no safe `&[u8]` or `&mut [u8]`: a reference promises the compiler that
//! the bytes do not change while it lives (`&[u8]`) or that nobody else reads or writes
//! them (`&mut [u8]`). Shared memory breaks both promises whenever another process, or
//! another attachment in this one, writes it, and nothing in this process can rule that
//! out: any process with write permission may attach the segment at any time. So slices
//! are `unsafe` and the caller vouches for the sharing, while the safe
//! [`read_at`](Attachment::read_at) and [`write_at`](Attachment::write_at) copy bytes with
//! relaxed atomic accesses, which may race with any other access (the bytes read may be a
//! mix of old and new, as with any unsynchronised sharing) without undefined behaviour.

use crate::api_error::{Error, caught};
use crate::flags::SHM_RDONLY;
use crate::segment::Segment;
use crate::shm::{self, LIBRARY};
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// A segment attached to this process: `len()` bytes at `as_ptr()`, detached when the
/// `Attachment` is dropped (or by [`detach`](Attachment::detach), which reports a
/// failure).
///
/// Made by [`Segment::attach`] and [`Segment::attach_with`]. It may be sent to and shared
/// with other threads: an attachment belongs to the process, and its safe methods touch
/// the memory only atomically.
///
/// # Example
/// ```
/// use rshm_core::Segment;
///
/// let seg = Segment::create_private(4096, 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// let a = seg.attach()?;
/// a.write_at(0, &42u32.to_ne_bytes());
/// let mut n = [0; 4];
/// a.read_at(0, &mut n);
/// assert_eq!(u32::from_ne_bytes(n), 42);
/// drop(a);
/// assert_eq!(seg.stat()?.nattch, 0);
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub struct Attachment {
    addr: usize,
    len: usize,
    shmid: i32,
    read_only: bool,
}

// SAFETY: an attachment belongs to the process, not to a thread: any thread may use or
// detach it, and the registry it is recorded in is thread-safe.
unsafe impl Send for Attachment {}
// SAFETY: the safe methods taking `&self` access the memory only through atomics; the
// unsafe ones leave the sharing to their caller.
unsafe impl Sync for Attachment {}

impl Attachment {
    /// Takes ownership of the attachment at `addr`.
    ///
    /// # Safety
    /// `addr` is an attachment of segment `shmid` made with `flags`, that maps at least
    /// `len` bytes, and that nothing else will detach.
    pub(crate) unsafe fn from_raw(addr: usize, len: usize, shmid: i32, flags: i32) -> Self {
        Self {
            addr,
            len,
            shmid,
            read_only: flags & SHM_RDONLY != 0,
        }
    }

    /// The address of the first byte. The pointer is valid for `len()` bytes until the
    /// attachment is dropped; writes through it need a read-write attachment (they fault
    /// on a read-only one) and are unsynchronised with other processes.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// assert_eq!(a.as_ptr() as usize % 4096, 0); // page-aligned
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *const u8 {
        self.addr as *const u8
    }

    /// The address of the first byte, for writing (see [`as_ptr`](Attachment::as_ptr);
    /// writing through it on a read-only attachment faults).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// // SAFETY: a read-write attachment of at least 1 byte, that nothing else uses.
    /// unsafe { a.as_mut_ptr().write_volatile(9) };
    /// let mut b = [0];
    /// a.read_at(0, &mut b);
    /// assert_eq!(b, [9]);
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.addr as *mut u8
    }

    /// The segment's size in bytes, as the kernel gave it when it was attached.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(5000, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// assert_eq!(a.len(), 5000);
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the segment has no bytes (never, for a segment Linux made: SHMMIN is 1).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(1, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// assert!(!a.is_empty());
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if it was attached with [`SHM_RDONLY`]: then [`write_at`](Attachment::write_at)
    /// panics, and writes through the pointer fault.
    ///
    /// # Example
    /// ```
    /// use rshm_core::{Segment, flags::SHM_RDONLY};
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// assert!(seg.attach_with(SHM_RDONLY)?.is_read_only());
    /// assert!(!seg.attach()?.is_read_only());
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The segment attached.
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// assert_eq!(a.segment(), seg);
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn segment(&self) -> Segment {
        Segment::from_id(self.shmid)
    }

    /// Copies `buf.len()` bytes from offset `offset` of the segment into `buf`, each with
    /// a relaxed atomic load: sound whatever other threads and processes do meanwhile,
    /// but bytes written concurrently may be seen old or new (synchronise through other
    /// means, e.g. a flag written last and read first).
    ///
    /// # Panics
    /// If `offset + buf.len()` exceeds [`len`](Attachment::len).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// let mut fresh = [1; 8];
    /// a.read_at(4088, &mut fresh);
    /// assert_eq!(fresh, [0; 8]); // a new segment is zero-filled
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) {
        for (i, b) in self.bytes(offset, buf.len()).zip(buf) {
            *b = i.load(Relaxed);
        }
    }

    /// Copies `data` into the segment at offset `offset`, each byte with a relaxed atomic
    /// store (see [`read_at`](Attachment::read_at) for what that does and does not
    /// promise).
    ///
    /// # Panics
    /// If `offset + data.len()` exceeds [`len`](Attachment::len), or the attachment is
    /// [read-only](Attachment::is_read_only).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let (a, b) = (seg.attach()?, seg.attach()?);
    /// a.write_at(10, b"shared");
    /// let mut seen = [0; 6];
    /// b.read_at(10, &mut seen); // another mapping of the same memory
    /// assert_eq!(&seen, b"shared");
    /// drop((a, b));
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn write_at(&self, offset: usize, data: &[u8]) {
        assert!(
            !self.read_only,
            "write_at on a read-only attachment of segment {}",
            self.shmid
        );
        for (i, b) in self.bytes(offset, data.len()).zip(data) {
            i.store(*b, Relaxed);
        }
    }

    /// The bytes `offset..offset + n` as atomics; panics if they are not all inside.
    fn bytes(&self, offset: usize, n: usize) -> impl Iterator<Item = &AtomicU8> {
        let inside = offset.checked_add(n).is_some_and(|end| end <= self.len);
        assert!(
            inside,
            "bytes {offset}..{offset}+{n} are outside the {} bytes of segment {}",
            self.len, self.shmid
        );
        (offset..offset + n).map(move |i| {
            // SAFETY: `i < len`, so the byte is mapped for as long as `self` is borrowed
            // (the attachment is detached only by drop or `detach(self)`); AtomicU8 has
            // u8's size and alignment, and shared memory may be accessed atomically by
            // any number of threads and processes.
            unsafe { AtomicU8::from_ptr((self.addr + i) as *mut u8) }
        })
    }

    /// The memory as a byte slice.
    ///
    /// # Safety
    /// While the slice lives, nobody may write the segment: not another thread, not
    /// another attachment of it (in this process or any other), not a write through
    /// [`as_mut_ptr`](Attachment::as_mut_ptr) or [`write_at`](Attachment::write_at).
    /// Typically: a segment filled once before other processes may attach it, or one
    /// every writer of which is known and has finished (e.g. guarded by a lock or
    /// semaphore the writers also take).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// a.write_at(0, b"abc");
    /// // SAFETY: the segment is private and only `a` is attached: nobody writes it now.
    /// let bytes = unsafe { a.as_slice() };
    /// assert_eq!(&bytes[..3], b"abc");
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes are mapped while `self` is borrowed; the caller guarantees
        // nobody writes them meanwhile.
        unsafe { core::slice::from_raw_parts(self.as_ptr(), self.len) }
    }

    /// The memory as a mutable byte slice.
    ///
    /// # Safety
    /// While the slice lives, nobody else may read or write the segment: not another
    /// thread, not another attachment of it (in this process or any other). The
    /// attachment must not be read-only (writing faults).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let mut a = seg.attach()?;
    /// // SAFETY: the segment is private and only `a` is attached: nobody else uses it.
    /// unsafe { a.as_mut_slice() }.fill(0xff);
    /// let mut last = [0];
    /// a.read_at(4095, &mut last);
    /// assert_eq!(last, [0xff]);
    /// drop(a);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes are mapped while `self` is borrowed; the caller guarantees
        // nobody else uses them meanwhile and that the mapping is writable.
        unsafe { core::slice::from_raw_parts_mut(self.as_mut_ptr(), self.len) }
    }

    /// Detaches now, and says if that failed (dropping the attachment detaches too, but
    /// a failure there can only be logged).
    ///
    /// # Example
    /// ```
    /// use rshm_core::Segment;
    ///
    /// let seg = Segment::create_private(4096, 0o600)?;
    /// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
    /// # let _rm = Rm(seg.id());
    /// let a = seg.attach()?;
    /// a.detach()?;
    /// assert_eq!(seg.stat()?.nattch, 0);
    /// seg.remove()?;
    /// # core::mem::forget(_rm); // removed just above
    /// # Ok::<(), rshm_core::Error>(())
    /// ```
    pub fn detach(self) -> Result<(), Error> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` owns the attachment and is consumed: no borrow of its memory is
        // left, and drop will not detach it again.
        caught(unsafe { shm::detach(&LIBRARY, this.addr) })
    }
}

impl core::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attachment")
            .field("addr", &format_args!("{:#x}", self.addr))
            .field("len", &self.len)
            .field("shmid", &self.shmid)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // SAFETY: the attachment is owned and about to go: no borrow of its memory is
        // left. A failure is logged and left in the thread's last error.
        let _ = unsafe { shm::detach(&LIBRARY, self.addr) };
    }
}

#[cfg(test)]
mod tests {
    use crate::Segment;
    use crate::flags::SHM_RDONLY;
    use crate::testing::Removes;

    #[test]
    fn reads_and_writes_outside_the_segment_panic_and_touch_nothing() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let a = seg.attach().unwrap();
        let past = std::panic::catch_unwind(|| a.write_at(4090, b"1234567"));
        assert!(past.is_err());
        let wrap = std::panic::catch_unwind(|| a.read_at(usize::MAX, &mut [0; 2]));
        assert!(wrap.is_err());
        let mut tail = [1u8; 6];
        a.read_at(4090, &mut tail);
        assert_eq!(tail, [0; 6]);
    }

    #[test]
    fn write_at_on_a_read_only_attachment_panics_instead_of_faulting() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let r = seg.attach_with(SHM_RDONLY).unwrap();
        let msg = std::panic::catch_unwind(|| r.write_at(0, b"x"))
            .unwrap_err()
            .downcast::<String>()
            .unwrap();
        assert_eq!(
            *msg,
            format!("write_at on a read-only attachment of segment {}", seg.id())
        );
    }

    #[test]
    fn an_attachment_moved_to_another_thread_detaches_there() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let a = seg.attach().unwrap();
        a.write_at(0, b"from main");
        let seen = std::thread::spawn(move || {
            let mut buf = [0u8; 9];
            a.read_at(0, &mut buf);
            buf
        })
        .join()
        .unwrap();
        assert_eq!(&seen, b"from main");
        assert_eq!(seg.stat().unwrap().nattch, 0);
    }

    #[test]
    fn detach_detaches_at_once_and_the_registry_knew_it() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let a = seg.attach().unwrap();
        let addr = a.as_ptr() as usize;
        assert!(crate::registry::attachment(addr).is_some());
        a.detach().unwrap();
        assert_eq!(seg.stat().unwrap().nattch, 0);
    }
}
