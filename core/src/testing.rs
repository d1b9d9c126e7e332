//! Test helpers: a guard that removes a test's segment, also when the test fails, and
//! keys no other program uses.

use core::sync::atomic::{AtomicI32, Ordering::Relaxed};

/// Removes segment `.0` when dropped (straight through libc, so a bug in rshm cannot
/// leave it behind); a segment already removed just makes the call fail.
pub(crate) struct Removes(pub(crate) i32);

impl Drop for Removes {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID reads no buffer.
        unsafe { libc::shmctl(self.0, libc::IPC_RMID, core::ptr::null_mut()) };
    }
}

/// A key of this test process (0x7e, 16 bits of the pid, a counter) that has no segment.
pub(crate) fn unused_key() -> i32 {
    static NEXT: AtomicI32 = AtomicI32::new(0);
    loop {
        let n = NEXT.fetch_add(1, Relaxed);
        assert!(n < 256, "no unused key left for this process");
        let key = 0x7e00_0000 | ((std::process::id() as i32 & 0xffff) << 8) | n;
        // SAFETY: shmget takes no pointers; flags 0 only looks the key up.
        if unsafe { libc::shmget(key, 0, 0) } < 0 {
            return key;
        }
    }
}
