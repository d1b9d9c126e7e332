//! The only place that calls the real shmget/shmat/shmdt/shmctl. The linkable library
//! uses [`Libc`]; the preload library supplies a backend that reaches the next
//! definition through `dlsym(RTLD_NEXT)`.

use crate::error::ErrnoGuard;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use libc::{c_int, key_t, shmid_ds, size_t};

/// The mark rshm puts on its own system calls under `rshm-trace --complete` (0: none).
///
/// Under `--complete`, a seccomp filter stops every shm system call of the traced
/// processes for rshm-trace to see, except those whose fourth argument register (which
/// shmget, shmat, shmdt and shmctl ignore) holds the run's token: the calls this library
/// makes itself, which it reports as events already. Set once this process has reached
/// rshm-trace (see `channel::mark_own_calls`).
static TOKEN: AtomicU64 = AtomicU64::new(0);

/// The same mark on rshm's own questions to the kernel ([`Direct`]), from the moment the
/// channel's name is known, reached or not: they are never the program's calls.
static OWN: AtomicU64 = AtomicU64::new(0);

/// Marks the calls this library makes for the program with `token` from now on (see
/// [`TOKEN`]): once it reports them to rshm-trace.
pub fn set_token(token: u64) {
    TOKEN.store(token, Relaxed);
}

/// Marks rshm's own questions to the kernel with `token` from now on (see [`OWN`]).
pub fn set_own_token(token: u64) {
    OWN.store(token, Relaxed);
}

/// The mark for the calls this library makes for the program (0: none).
#[inline(always)]
pub fn token() -> u64 {
    TOKEN.load(Relaxed)
}

/// What rshm's own questions carry in their fifth argument register (which these calls
/// ignore), always: a process whose preload library does not report to rshm-trace (it
/// lost `RSHM_TRACE_SOCKET`) has them stopped by `--complete`'s filter, and rshm-trace
/// then knows them for rshm's, not the program's ("rshmown\0").
pub const OWN_QUESTION: u64 = u64::from_le_bytes(*b"rshmown\0");

/// What a system call of rshm's carries in its fourth and fifth argument registers:
/// the run's token (0: none) and [`OWN_QUESTION`] (rshm's own questions) or 0.
#[derive(Clone, Copy)]
pub(crate) struct Mark(pub u64, pub u64);

/// The mark for rshm's own questions (0: none).
#[inline(always)]
pub fn own_token() -> u64 {
    OWN.load(Relaxed)
}

/// What shmat returns on failure, as an address.
pub const FAILED: usize = usize::MAX;

/// The four system calls, with libc's conventions (-1 / `FAILED` and errno).
pub trait Backend: Sync {
    /// shmget(2).
    fn shmget(&self, key: key_t, size: size_t, flags: c_int) -> c_int;

    /// shmat(2); returns the address or [`FAILED`].
    ///
    /// # Safety
    /// As shmat(2): with a fixed address and `SHM_REMAP` the kernel replaces whatever
    /// the process had mapped there.
    unsafe fn shmat(&self, shmid: c_int, addr: usize, flags: c_int) -> usize;

    /// shmdt(2).
    ///
    /// # Safety
    /// As shmdt(2): memory of the segment at `addr` must not be used afterwards.
    unsafe fn shmdt(&self, addr: usize) -> c_int;

    /// shmctl(2).
    ///
    /// # Safety
    /// `buf` must be valid for what `cmd` reads or writes (nothing for `IPC_RMID`).
    unsafe fn shmctl(&self, shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int;
}

/// The backend of the linkable library: the system calls themselves.
///
/// On x86-64 Linux each is made inline, with the `syscall` instruction, as glibc's
/// wrappers make it (same arguments, -1 / `FAILED` and errno on failure), so no call
/// frame is live across the system call. One costs more than its instructions: a
/// return right after the kernel has run is mispredicted, and `make bench` measured
/// the two frames rshm had there (its backend and libc's wrapper) at about 2% of a
/// shmat+shmdt pair. Elsewhere these are libc's functions.
pub struct Syscall;

impl Backend for Syscall {
    #[inline(always)]
    fn shmget(&self, key: key_t, size: size_t, flags: c_int) -> c_int {
        sys::shmget(key, size, flags, Mark(token(), 0))
    }

    #[inline(always)]
    unsafe fn shmat(&self, shmid: c_int, addr: usize, flags: c_int) -> usize {
        // SAFETY: the caller upholds shmat's contract (see the trait).
        unsafe { sys::shmat(shmid, addr, flags, Mark(token(), 0)) }
    }

    #[inline(always)]
    unsafe fn shmdt(&self, addr: usize) -> c_int {
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        unsafe { sys::shmdt(addr, Mark(token(), 0)) }
    }

    #[inline(always)]
    unsafe fn shmctl(&self, shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int {
        // SAFETY: the caller guarantees `buf` fits `cmd`.
        unsafe { sys::shmctl(shmid, cmd, buf, Mark(token(), 0)) }
    }
}

/// rshm's own questions to the kernel (IPC_STAT, IPC_INFO, SHM_INFO, `shmget(key, 0, 0)`):
/// always the system call itself, never a function another library may interpose, so an
/// interposer loaded after the preload library sees only the program's calls. The README
/// lists each question and when it is asked.
pub struct Direct;

impl Backend for Direct {
    #[inline]
    fn shmget(&self, key: key_t, size: size_t, flags: c_int) -> c_int {
        direct::shmget(key, size, flags, Mark(own_token(), OWN_QUESTION))
    }

    #[inline]
    unsafe fn shmat(&self, shmid: c_int, addr: usize, flags: c_int) -> usize {
        // SAFETY: the caller upholds shmat's contract (see the trait).
        unsafe { direct::shmat(shmid, addr, flags, Mark(own_token(), OWN_QUESTION)) }
    }

    #[inline]
    unsafe fn shmdt(&self, addr: usize) -> c_int {
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        unsafe { direct::shmdt(addr, Mark(own_token(), OWN_QUESTION)) }
    }

    #[inline]
    unsafe fn shmctl(&self, shmid: c_int, cmd: c_int, buf: *mut shmid_ds) -> c_int {
        // SAFETY: the caller guarantees `buf` fits `cmd`.
        unsafe { direct::shmctl(shmid, cmd, buf, Mark(own_token(), OWN_QUESTION)) }
    }
}

/// On x86-64 Linux, [`Syscall`]'s inline system calls.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use sys as direct;

/// Elsewhere on Linux, syscall(2): libc's `shmget` & co. may be interposed (the preload
/// library itself exports them). 64-bit Linux takes shmctl's command as it is.
#[cfg(all(target_os = "linux", not(target_arch = "x86_64")))]
mod direct {
    use super::Mark;
    use libc::{c_int, key_t, shmid_ds, size_t};

    pub(super) fn shmget(key: key_t, size: size_t, flags: c_int, mark: Mark) -> c_int {
        // SAFETY: shmget takes no pointers.
        unsafe { libc::syscall(libc::SYS_shmget, key, size, flags, mark.0, mark.1) as c_int }
    }

    /// # Safety
    /// As shmat(2).
    pub(super) unsafe fn shmat(shmid: c_int, addr: usize, flags: c_int, mark: Mark) -> usize {
        // SAFETY: the caller upholds shmat's contract.
        unsafe { libc::syscall(libc::SYS_shmat, shmid, addr, flags, mark.0, mark.1) as usize }
    }

    /// # Safety
    /// As shmdt(2).
    pub(super) unsafe fn shmdt(addr: usize, mark: Mark) -> c_int {
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        unsafe { libc::syscall(libc::SYS_shmdt, addr, 0, 0, mark.0, mark.1) as c_int }
    }

    /// # Safety
    /// `buf` must fit `cmd`.
    pub(super) unsafe fn shmctl(shmid: c_int, cmd: c_int, buf: *mut shmid_ds, mark: Mark) -> c_int {
        // SAFETY: the caller guarantees `buf` fits `cmd`.
        unsafe { libc::syscall(libc::SYS_shmctl, shmid, cmd, buf, mark.0, mark.1) as c_int }
    }
}

/// Not Linux: libc's functions (no preload library is built there).
#[cfg(not(target_os = "linux"))]
use sys as direct;

/// The four system calls made with the `syscall` instruction (x86-64 Linux), with the
/// kernel's result put in libc's terms.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod sys {
    use super::Mark;
    use libc::{c_int, key_t, shmid_ds, size_t};

    /// System call `n` with three arguments (each passed as the kernel reads its
    /// register: an `int` sign-extended, as glibc passes it), and rshm's marks in the
    /// fourth and fifth registers, which these calls ignore (see [`super::TOKEN`] and
    /// [`super::OWN_QUESTION`]).
    ///
    /// # Safety
    /// As the system call itself: the memory its arguments name must be what it reads
    /// or writes.
    #[inline(always)]
    unsafe fn call3(n: libc::c_long, a: u64, b: u64, c: u64, mark: u64, own: u64) -> i64 {
        let ret: i64;
        // SAFETY: the caller vouches for the memory the call touches; `syscall` clobbers
        // rcx and r11 and nothing else, and does not touch the stack.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") n => ret,
                in("rdi") a,
                in("rsi") b,
                in("rdx") c,
                in("r10") mark,
                in("r8") own,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// The kernel returns -errno (-4095..-1) on failure: that becomes -1 and errno, as
    /// glibc's wrappers do; anything else is the result.
    #[inline(always)]
    pub(super) fn result(ret: i64) -> i64 {
        if (-4095..0).contains(&ret) {
            crate::error::set_errno(-ret as c_int);
            -1
        } else {
            ret
        }
    }

    #[inline(always)]
    pub(super) fn shmget(key: key_t, size: size_t, flags: c_int, mark: Mark) -> c_int {
        // SAFETY: shmget takes no pointers.
        result(unsafe {
            call3(
                libc::SYS_shmget,
                key as u64,
                size as u64,
                flags as u64,
                mark.0,
                mark.1,
            )
        }) as c_int
    }

    /// # Safety
    /// As shmat(2).
    #[inline(always)]
    pub(super) unsafe fn shmat(shmid: c_int, addr: usize, flags: c_int, mark: Mark) -> usize {
        // SAFETY: the caller upholds shmat's contract.
        result(unsafe {
            call3(
                libc::SYS_shmat,
                shmid as u64,
                addr as u64,
                flags as u64,
                mark.0,
                mark.1,
            )
        }) as usize
    }

    /// # Safety
    /// As shmdt(2).
    #[inline(always)]
    pub(super) unsafe fn shmdt(addr: usize, mark: Mark) -> c_int {
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        result(unsafe { call3(libc::SYS_shmdt, addr as u64, 0, 0, mark.0, mark.1) }) as c_int
    }

    /// 64-bit Linux takes the command as it is (glibc adds no IPC_64 bit there), and
    /// libc's `shmid_ds` is the kernel's.
    ///
    /// # Safety
    /// `buf` must fit `cmd`.
    #[inline(always)]
    pub(super) unsafe fn shmctl(shmid: c_int, cmd: c_int, buf: *mut shmid_ds, mark: Mark) -> c_int {
        // SAFETY: the caller guarantees `buf` fits `cmd`.
        result(unsafe {
            call3(
                libc::SYS_shmctl,
                shmid as u64,
                cmd as u64,
                buf as u64,
                mark.0,
                mark.1,
            )
        }) as c_int
    }
}

/// Elsewhere: libc's functions.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod sys {
    use super::Mark;
    use libc::{c_int, c_void, key_t, shmid_ds, size_t};

    pub(super) fn shmget(key: key_t, size: size_t, flags: c_int, _mark: Mark) -> c_int {
        // SAFETY: shmget takes no pointers.
        unsafe { libc::shmget(key, size, flags) }
    }

    /// # Safety
    /// As shmat(2).
    pub(super) unsafe fn shmat(shmid: c_int, addr: usize, flags: c_int, _mark: Mark) -> usize {
        // SAFETY: the caller upholds shmat's contract.
        unsafe { libc::shmat(shmid, addr as *const c_void, flags) as usize }
    }

    /// # Safety
    /// As shmdt(2).
    pub(super) unsafe fn shmdt(addr: usize, _mark: Mark) -> c_int {
        // SAFETY: the caller upholds shmdt's contract; the kernel never reads `addr`.
        unsafe { libc::shmdt(addr as *const c_void) }
    }

    /// # Safety
    /// `buf` must fit `cmd`.
    pub(super) unsafe fn shmctl(
        shmid: c_int,
        cmd: c_int,
        buf: *mut shmid_ds,
        _mark: Mark,
    ) -> c_int {
        // SAFETY: the caller guarantees `buf` fits `cmd`.
        unsafe { libc::shmctl(shmid, cmd, buf) }
    }
}

/// glibc's `struct shminfo`, what `shmctl(0, IPC_INFO, ...)` fills in.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct ShmInfo {
    /// Largest segment, in bytes.
    pub shmmax: libc::c_ulong,
    /// Smallest segment, in bytes.
    pub shmmin: libc::c_ulong,
    /// Most segments system-wide.
    pub shmmni: libc::c_ulong,
    /// Most attachments per process (unused by Linux).
    pub shmseg: libc::c_ulong,
    /// Most pages of shared memory system-wide.
    pub shmall: libc::c_ulong,
    unused: [libc::c_ulong; 4],
}

/// The segment's `shmid_ds`, or the errno of IPC_STAT. Never changes the caller's errno.
pub fn stat(b: &dyn Backend, shmid: c_int) -> Result<shmid_ds, c_int> {
    let _errno = ErrnoGuard::save();
    let mut ds = MaybeUninit::<shmid_ds>::zeroed();
    // SAFETY: IPC_STAT writes one shmid_ds into `ds`, which is large enough.
    let r = unsafe { b.shmctl(shmid, crate::names::IPC_STAT, ds.as_mut_ptr()) };
    if r < 0 {
        return Err(crate::error::errno());
    }
    // SAFETY: zeroed is a valid shmid_ds (plain integers) and the kernel filled it in.
    Ok(unsafe { ds.assume_init() })
}

/// Like [`stat`], but when read permission is missing (EACCES) it asks again with
/// SHM_STAT_ANY, which takes the segment's index (the low bits of its id) and needs no
/// permission: an explanation of EACCES or EPERM can then still name mode and owner.
pub fn stat_any(b: &dyn Backend, shmid: c_int) -> Result<shmid_ds, c_int> {
    let e = match stat(b, shmid) {
        Err(libc::EACCES) => libc::EACCES,
        other => return other,
    };
    let _errno = ErrnoGuard::save();
    // The index is id % IPCMNI: 32768, or 16M with the ipcmni_extend boot option.
    for mask in [0x7fff, 0xff_ffff] {
        let mut ds = MaybeUninit::<shmid_ds>::zeroed();
        // SAFETY: SHM_STAT_ANY writes one shmid_ds into `ds`, which is large enough.
        let r = unsafe { b.shmctl(shmid & mask, crate::names::SHM_STAT_ANY, ds.as_mut_ptr()) };
        if r == shmid {
            // SAFETY: zeroed is a valid shmid_ds (plain integers) and the kernel filled it in.
            return Ok(unsafe { ds.assume_init() });
        }
    }
    Err(e)
}

/// The system's shared-memory limits (IPC_INFO), or None if the kernel refuses.
pub fn info(b: &dyn Backend) -> Option<ShmInfo> {
    let _errno = ErrnoGuard::save();
    let mut si = ShmInfo::default();
    // SAFETY: IPC_INFO writes a struct shminfo, which ShmInfo mirrors; the kernel reads
    // the pointer as `struct shmid_ds *` only by type, it writes sizeof(shminfo) bytes.
    let r = unsafe { b.shmctl(0, crate::names::IPC_INFO, (&mut si as *mut ShmInfo).cast()) };
    (r >= 0).then_some(si)
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    use super::*;
    use crate::error::{errno, set_errno};

    #[test]
    fn a_kernel_error_becomes_minus_one_and_errno_like_glibc() {
        set_errno(0);
        assert_eq!(sys::result(-i64::from(libc::EINVAL)), -1);
        assert_eq!(errno(), libc::EINVAL);
        set_errno(0);
        assert_eq!(sys::result(-4095), -1);
        assert_eq!(errno(), 4095);
        set_errno(7);
        assert_eq!(
            sys::result(-4096),
            -4096,
            "below -4095 is a value, not an error"
        );
        assert_eq!(sys::result(0x7f00_0000_0000), 0x7f00_0000_0000);
        assert_eq!(errno(), 7, "success leaves errno alone");
    }

    /// Removes the segment when the test ends, also when it fails.
    struct Removed(c_int);

    impl Drop for Removed {
        fn drop(&mut self) {
            // SAFETY: IPC_RMID reads no buffer (a second removal just fails).
            unsafe { libc::shmctl(self.0, libc::IPC_RMID, core::ptr::null_mut()) };
        }
    }

    #[test]
    fn the_inline_calls_agree_with_libc() {
        // SAFETY: IPC_PRIVATE segment, removed below; shmat/shmdt on it only.
        unsafe {
            let id = Syscall.shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
            assert!(id >= 0);
            let _removed = Removed(id);
            let p = Syscall.shmat(id, 0, 0);
            assert_ne!(p, FAILED);
            *(p as *mut u8) = 42;
            let q = libc::shmat(id, core::ptr::null(), libc::SHM_RDONLY) as usize;
            assert_eq!(*(q as *const u8), 42);
            assert_eq!(Syscall.shmdt(p), 0);
            assert_eq!(libc::shmdt(q as *const libc::c_void), 0);
            let mut ds: shmid_ds = core::mem::zeroed();
            assert_eq!(Syscall.shmctl(id, libc::IPC_STAT, &mut ds), 0);
            assert_eq!(ds.shm_segsz, 4096);
            assert_eq!(Syscall.shmctl(id, libc::IPC_RMID, core::ptr::null_mut()), 0);
            set_errno(0);
            assert_eq!(Syscall.shmat(id, 0, 0), FAILED);
            let e = errno();
            assert_eq!(libc::shmat(id, core::ptr::null(), 0) as usize, FAILED);
            assert_eq!((e, errno()), (libc::EINVAL, libc::EINVAL));
            assert_eq!(Syscall.shmdt(0x1000), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(Syscall.shmget(0x7fff_0123, 4096, 0), -1);
            assert_eq!(errno(), libc::ENOENT);
        }
    }
}
