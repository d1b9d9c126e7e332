//! The four calls of the C library as Rust functions, for code that works with raw ids
//! and addresses (e.g. shared with C). They are the same core calls as `rshm_get`,
//! `rshm_at`, `rshm_dt` and `rshm_rmid`, with the failure as an [`Error`] instead of -1
//! and errno. [`Segment`](crate::Segment) and [`Attachment`](crate::Attachment) are the
//! safe way to do the same.

use crate::api_error::{Error, caught};
use crate::shm::{self, LIBRARY};
use core::ffi::c_void;

/// shmget(2), checked and logged: the id of the segment of `key`, made when `flags` has
/// [`IPC_CREAT`](crate::flags::IPC_CREAT) (plus the permission bits, e.g. `0o600`).
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE};
///
/// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)?;
/// assert!(id >= 0);
/// rshm_core::rmid(id)?;
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub fn get(key: i32, size: usize, flags: i32) -> Result<i32, Error> {
    caught(shm::get(&LIBRARY, key, size, flags))
}

/// shmat(2), checked, logged and recorded: attaches segment `shmid` at `addr` (null:
/// where the kernel chooses) and returns the address. Detach it with [`detach`]; nothing
/// does it for you.
///
/// # Safety
/// As shmat(2): with an address and [`SHM_REMAP`](crate::flags::SHM_REMAP), whatever this
/// process had mapped in the range is replaced, so no Rust value or reference may live
/// there. A null `addr` without `SHM_REMAP` replaces nothing.
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE};
///
/// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(id);
/// // SAFETY: no address: the kernel picks a free range.
/// let p = unsafe { rshm_core::attach(id, std::ptr::null(), 0)? };
/// // SAFETY: attached just above, read-write, 4096 bytes; only this thread uses it.
/// unsafe { p.cast::<u8>().write(1) };
/// // SAFETY: nothing refers to the memory any more.
/// unsafe { rshm_core::detach(p)? };
/// rshm_core::rmid(id)?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub unsafe fn attach(shmid: i32, addr: *const c_void, flags: i32) -> Result<*mut c_void, Error> {
    // SAFETY: the caller upholds shmat's contract (see this function's Safety section).
    caught(unsafe { shm::attach(&LIBRARY, shmid, addr as usize, flags) }).map(|p| p as *mut c_void)
}

/// shmdt(2), checked, logged and recorded: detaches the segment attached at `addr`
/// (which is never read).
///
/// # Safety
/// As shmdt(2): the memory at `addr` must not be used afterwards, and it must not belong
/// to an [`Attachment`](crate::Attachment) (which would detach it again, or detach
/// whatever is attached there by then).
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE};
///
/// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)?;
/// # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
/// # let _rm = Rm(id);
/// // SAFETY: no address: the kernel picks a free range.
/// let p = unsafe { rshm_core::attach(id, std::ptr::null(), 0)? };
/// // SAFETY: nothing refers to the memory.
/// unsafe { rshm_core::detach(p)? };
/// // SAFETY: as above; the address is no longer attached, which rshm says.
/// let again = unsafe { rshm_core::detach(p) }.unwrap_err();
/// assert_eq!(again.errno_name(), "EINVAL");
/// assert!(again.message().contains("was already detached"), "{again}");
/// rshm_core::rmid(id)?;
/// # core::mem::forget(_rm); // removed just above
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub unsafe fn detach(addr: *const c_void) -> Result<(), Error> {
    // SAFETY: the caller upholds shmdt's contract (see this function's Safety section).
    caught(unsafe { shm::detach(&LIBRARY, addr as usize) })
}

/// shmctl(2) with `IPC_RMID`, checked and logged: marks segment `shmid` for removal; the
/// kernel destroys it when its last attachment goes.
///
/// # Example
/// ```
/// use rshm_core::flags::{IPC_CREAT, IPC_PRIVATE};
///
/// let id = rshm_core::get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)?;
/// rshm_core::rmid(id)?;
/// assert_eq!(rshm_core::rmid(id).unwrap_err().errno_name(), "EINVAL");
/// # Ok::<(), rshm_core::Error>(())
/// ```
pub fn rmid(shmid: i32) -> Result<(), Error> {
    caught(shm::rmid(&LIBRARY, shmid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{IPC_CREAT, IPC_PRIVATE};
    use crate::testing::Removes;

    #[test]
    fn the_free_functions_round_trip_like_the_c_calls() {
        let id = get(IPC_PRIVATE, 4096, IPC_CREAT | 0o600).unwrap();
        let _removes = Removes(id);
        // SAFETY: no address: the kernel picks a free range.
        let p = unsafe { attach(id, core::ptr::null(), 0) }.unwrap();
        // SAFETY: a fresh read-write attachment of 4096 bytes, used by this thread only.
        unsafe { p.cast::<u8>().add(4095).write_volatile(5) };
        let seg = crate::Segment::from_id(id);
        assert_eq!(seg.stat().unwrap().nattch, 1);
        // SAFETY: nothing refers to the memory any more.
        unsafe { detach(p) }.unwrap();
        assert_eq!(seg.stat().unwrap().nattch, 0);
        rmid(id).unwrap();
        let e = rmid(id).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(
            e.message(),
            format!(
                "rshm_rmid: no segment has id {id} (never made, or already removed and destroyed)"
            )
        );
    }

    #[test]
    fn detach_of_null_is_einval_and_says_so() {
        // SAFETY: the kernel never reads the address; null is refused before it.
        let e = unsafe { detach(core::ptr::null()) }.unwrap_err();
        assert_eq!(
            (e.errno(), e.message()),
            (
                libc::EINVAL,
                "rshm_dt: address is NULL; nothing is attached there"
            )
        );
    }
}
