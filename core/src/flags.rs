//! The constants of shmget(2) and shmat(2), so a Rust program needs no `libc` to pass
//! them. Their values are Linux's (and libc's); combine them with `|`, and add the
//! permission bits (`0o600`) to shmget's flags.

use crate::names;

/// The key that names no segment: [`get`](crate::get) with it always makes a new one,
/// which only its id reaches (hand the id to the processes that should share it).
///
/// # Example
/// ```
/// use rshm_core::{Segment, flags::IPC_PRIVATE};
///
/// let seg = Segment::create(IPC_PRIVATE, 4096, 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// assert_eq!(seg.stat()?.key, IPC_PRIVATE);
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const IPC_PRIVATE: i32 = 0;

/// shmget: make the segment if the key has none.
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE};
///
/// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)?;
/// rshm_core::rmid(id)?;
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const IPC_CREAT: i32 = names::IPC_CREAT;

/// shmget: with [`IPC_CREAT`], fail with `EEXIST` if the key has a segment already
/// (so the caller knows it made the segment).
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_EXCL};
/// # let key = 0x7e00_0000 | (std::process::id() as i32 & 0xffff) << 8 | 1;
///
/// let id = rshm_core::get(key, 4096, IPC_CREAT | IPC_EXCL | 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(id);
/// let again = rshm_core::get(key, 4096, IPC_CREAT | IPC_EXCL | 0o600).unwrap_err();
/// assert_eq!(again.errno_name(), "EEXIST");
/// rshm_core::rmid(id)?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const IPC_EXCL: i32 = names::IPC_EXCL;

/// shmget: back the segment with huge pages (needs `CAP_IPC_LOCK` or the group in
/// `/proc/sys/vm/hugetlb_shm_group`, and free huge pages).
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE, SHM_HUGETLB};
///
/// // Where no huge pages are free, this fails with ENOMEM (or EPERM) and says why.
/// match rshm_core::get(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | 0o600) {
///     Ok(id) => rshm_core::rmid(id)?,
///     Err(e) => assert!(matches!(e.errno_name(), "ENOMEM" | "EPERM" | "EINVAL"), "{e}"),
/// }
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const SHM_HUGETLB: i32 = names::SHM_HUGETLB;

/// shmget: reserve no swap for the segment (writes may then fail with `SIGSEGV` when
/// memory runs out).
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE, SHM_NORESERVE};
///
/// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | SHM_NORESERVE | 0o600)?;
/// rshm_core::rmid(id)?;
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const SHM_NORESERVE: i32 = names::SHM_NORESERVE;

/// shmat: attach read-only (needs only read permission; writes are refused).
///
/// # Example
/// ```
/// use rshm_core::{Segment, flags::SHM_RDONLY};
///
/// let seg = Segment::create_private(4096, 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// let view = seg.attach_with(SHM_RDONLY)?;
/// assert!(view.is_read_only());
/// drop(view);
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const SHM_RDONLY: i32 = names::SHM_RDONLY;

/// shmat: round a given attach address down to a multiple of SHMLBA (the page size on
/// Linux). Meaningful only with an address (the unsafe [`attach`](crate::attach)).
///
/// # Example
/// ```
/// use rshm_core::{Segment, flags::SHM_RND};
///
/// let seg = Segment::create_private(4096, 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// // Without an address it changes nothing: the kernel picks one.
/// let a = seg.attach_with(SHM_RND)?;
/// assert_eq!(a.len(), 4096);
/// drop(a);
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const SHM_RND: i32 = names::SHM_RND;

/// shmat: replace whatever is mapped at the given attach address. Only with an address,
/// so only through the unsafe [`attach`](crate::attach): any Rust value in that range is
/// gone.
///
/// # Example
/// ```
/// use rshm_core::{Segment, flags::SHM_REMAP};
///
/// let seg = Segment::create_private(4096, 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// // Without an address there is nothing to replace: the kernel refuses.
/// assert_eq!(seg.attach_with(SHM_REMAP).unwrap_err().errno_name(), "EINVAL");
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const SHM_REMAP: i32 = names::SHM_REMAP;

/// shmat: map the segment executable too (needs execute as well as read permission on
/// the segment).
///
/// # Example
/// ```
/// use rshm_core::{Segment, flags::{SHM_EXEC, SHM_RDONLY}};
///
/// let seg = Segment::create_private(4096, 0o700)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(seg.id());
/// let code = seg.attach_with(SHM_EXEC | SHM_RDONLY)?;
/// assert_eq!(code.len(), 4096);
/// drop(code);
/// seg.remove()?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub const SHM_EXEC: i32 = names::SHM_EXEC;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_have_libcs_values() {
        assert_eq!(IPC_PRIVATE, libc::IPC_PRIVATE);
        assert_eq!(IPC_CREAT, libc::IPC_CREAT);
        assert_eq!(IPC_EXCL, libc::IPC_EXCL);
        assert_eq!(SHM_HUGETLB, libc::SHM_HUGETLB);
        assert_eq!(SHM_NORESERVE, libc::SHM_NORESERVE);
        assert_eq!(SHM_RDONLY, libc::SHM_RDONLY);
        assert_eq!(SHM_RND, libc::SHM_RND);
        assert_eq!(SHM_REMAP, libc::SHM_REMAP);
        assert_eq!(SHM_EXEC, libc::SHM_EXEC);
    }
}
