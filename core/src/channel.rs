//! rshm-trace's channel, seen from a traced process. When `RSHM_TRACE_SOCKET` names the
//! socket rshm-trace listens on, every line this process would log goes there instead, as
//! an event ([`crate::event`]), and nothing goes to the program's own descriptors:
//!
//! - The connection is made at the process's first event, not when the library is loaded
//!   (an exec that makes no call costs nothing), and again by name whenever the program
//!   has closed rshm's descriptor or reused its number (a daemon that closes every
//!   descriptor is still traced). Before each event, rshm checks that its descriptor is
//!   still the socket it connected (`fstat`: device and inode); a descriptor that is not
//!   is left alone, never closed or written.
//! - A `SOCK_SEQPACKET` connection: each event is one record, so the events of threads,
//!   of signal handlers and of forked children (which share their parent's connection)
//!   never interleave.
//! - Nothing is dropped: when rshm-trace is slow to read, the call waits (the bounded wait
//!   of the log sinks does not apply). A failure or a warning also waits for rshm-trace's
//!   one-byte acknowledgement that its line is written, so the program's own message about
//!   it comes after rshm's line.
//! - When rshm-trace is gone (the socket's name is removed, or the connection is closed),
//!   the process stops sending, silently, for the rest of its life.
//! - SIGPIPE never reaches the program (`MSG_NOSIGNAL`).
//!
//! Everything here is async-signal-safe: system calls on rshm's own descriptor, no
//! allocation, no lock.

use crate::event::{Event, Origin};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::*};
use libc::c_int;

/// The lowest descriptor number rshm's socket gets, out of the way of the program's.
const HIGH_FD: c_int = 512;

/// The longest socket name (`sun_path` is 108 bytes, NUL included).
pub const PATH_MAX: usize = 107;

static ON: AtomicBool = AtomicBool::new(false);
/// rshm-trace is gone: send nothing more.
static DEAD: AtomicBool = AtomicBool::new(false);
static FD: AtomicI32 = AtomicI32::new(-1);
static DEV: AtomicU64 = AtomicU64::new(0);
static INO: AtomicU64 = AtomicU64::new(0);

/// The socket's address, written once by the thread that reads the configuration,
/// before [`ON`] is published.
struct Addr(UnsafeCell<libc::sockaddr_un>);
// SAFETY: written only before ON is stored with Release; read only after ON is loaded
// with Acquire.
unsafe impl Sync for Addr {}
static ADDR: Addr = Addr(UnsafeCell::new(libc::sockaddr_un {
    sun_family: 0,
    sun_path: [0; 108],
}));

/// Who this process is, asked once per process (see [`origin`]).
static ORIGIN_PID: AtomicI32 = AtomicI32::new(0);
static COMM: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static IPC_NS: AtomicU64 = AtomicU64::new(0);

/// Sends this process's events to the socket `path`. False (and nothing changed) if the
/// name does not fit a socket address.
///
/// Must be called by the one thread that reads the configuration, before any event.
pub fn set(path: &[u8]) -> bool {
    if path.is_empty() || path.len() > PATH_MAX || path.contains(&0) {
        return false;
    }
    // SAFETY: see Addr: only the initialising thread writes it, and only now.
    let a = unsafe { &mut *ADDR.0.get() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in a.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    ON.store(true, Release);
    true
}

/// Whether events go to rshm-trace (`RSHM_TRACE_SOCKET` was set).
#[inline]
pub fn active() -> bool {
    ON.load(Acquire)
}

/// Device and inode of a descriptor, if it is open.
fn ident(fd: c_int) -> Option<(u64, u64)> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes one struct stat into `st`.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: zeroed is a valid struct stat and fstat filled it in.
    let st = unsafe { st.assume_init() };
    Some((st.st_dev, st.st_ino))
}

/// rshm's connected socket, checked to still be the one it connected; connected again
/// by name if not. None when rshm-trace is gone or cannot be reached.
fn own_fd() -> Option<c_int> {
    let fd = FD.load(Acquire);
    if fd >= 0 {
        if ident(fd) == Some((DEV.load(Relaxed), INO.load(Relaxed))) {
            return Some(fd);
        }
        // Closed by the program, or its number reused: forget it, never close it.
        let _ = FD.compare_exchange(fd, -1, AcqRel, Acquire);
    }
    connect()
}

fn connect() -> Option<c_int> {
    // SAFETY: socket takes no pointers.
    let s = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return None;
    }
    let a = ADDR.0.get();
    loop {
        // SAFETY: `a` is a filled-in sockaddr_un (ON was seen set); connect reads it.
        let r = unsafe {
            libc::connect(
                s,
                a.cast(),
                core::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if r == 0 {
            break;
        }
        let e = crate::error::errno();
        if e == libc::EINTR {
            continue;
        }
        // SAFETY: rshm's own socket, just made.
        unsafe { libc::close(s) };
        if matches!(e, libc::ENOENT | libc::ECONNREFUSED | libc::ENOTDIR) {
            DEAD.store(true, Relaxed);
        }
        return None;
    }
    // Out of the way of the program's descriptors where the limit allows; never 0, 1 or 2.
    // SAFETY: duplicating the socket just made.
    let mut high = unsafe { libc::fcntl(s, libc::F_DUPFD_CLOEXEC, HIGH_FD) };
    if high < 0 && s <= 2 {
        // SAFETY: as above, to the lowest free number from 3.
        high = unsafe { libc::fcntl(s, libc::F_DUPFD_CLOEXEC, 3) };
        if high < 0 {
            // SAFETY: rshm's own socket.
            unsafe { libc::close(s) };
            return None;
        }
    }
    let fd = if high >= 0 {
        // SAFETY: the original of the duplicate just made; both are rshm's.
        unsafe { libc::close(s) };
        high
    } else {
        s
    };
    let Some((dev, ino)) = ident(fd) else {
        // SAFETY: rshm's own socket.
        unsafe { libc::close(fd) };
        return None;
    };
    // Another thread may have connected meanwhile: the first one stays.
    match FD.compare_exchange(-1, fd, AcqRel, Acquire) {
        Ok(_) => {
            DEV.store(dev, Relaxed);
            INO.store(ino, Relaxed);
            Some(fd)
        }
        Err(_) => {
            // SAFETY: rshm's own socket, not published.
            unsafe { libc::close(fd) };
            own_fd_published()
        }
    }
}

/// The descriptor another thread published (waiting for its identity to be stored).
fn own_fd_published() -> Option<c_int> {
    for _ in 0..1000 {
        let fd = FD.load(Acquire);
        if fd >= 0 && ident(fd) == Some((DEV.load(Relaxed), INO.load(Relaxed))) {
            return Some(fd);
        }
        core::hint::spin_loop();
    }
    None
}

/// Sends `e` to rshm-trace, waiting as long as the channel needs, and for the
/// acknowledgement when the event asks for one. Returns whether it was sent.
pub fn send(e: &Event) -> bool {
    if DEAD.load(Relaxed) {
        return false;
    }
    let b = e.as_bytes();
    for _ in 0..2 {
        let Some(fd) = own_fd() else {
            return false;
        };
        let r = loop {
            // SAFETY: `b` is valid for its length; MSG_NOSIGNAL: no SIGPIPE.
            let n = unsafe { libc::send(fd, b.as_ptr().cast(), b.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                break Ok(());
            }
            let err = crate::error::errno();
            if err != libc::EINTR {
                break Err(err);
            }
        };
        match r {
            Ok(()) => {
                if e.acked() {
                    wait_ack(fd);
                }
                return true;
            }
            Err(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN) => {
                DEAD.store(true, Relaxed);
                return false;
            }
            // The descriptor stopped being rshm's between the check and the send: again.
            Err(_) => {
                let _ = FD.compare_exchange(fd, -1, AcqRel, Acquire);
            }
        }
    }
    false
}

/// Waits for rshm-trace's one-byte acknowledgement.
fn wait_ack(fd: c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::recv(fd, (&raw mut byte).cast(), 1, 0) };
        if n > 0 {
            return;
        }
        if n == 0 || crate::error::errno() != libc::EINTR {
            // The connection is closed: rshm-trace is gone.
            DEAD.store(true, Relaxed);
            return;
        }
    }
}

/// This process's name and IPC namespace, asked of the kernel once per process: the
/// name of its main thread (`PR_GET_NAME` there; `/proc/self/comm` from another thread)
/// and the inode of `/proc/self/ns/ipc`.
pub fn origin(pid: i32, tid: i32) -> Origin {
    if ORIGIN_PID.load(Acquire) != pid {
        let mut comm = [0u8; 16];
        if tid == pid {
            // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into `comm`.
            unsafe { libc::prctl(libc::PR_GET_NAME, comm.as_mut_ptr()) };
        } else {
            read_comm(&mut comm);
        }
        comm[15] = 0;
        let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: the name is NUL-terminated; stat writes one struct stat into `st`.
        let ns = if unsafe { libc::stat(c"/proc/self/ns/ipc".as_ptr(), st.as_mut_ptr()) } == 0 {
            // SAFETY: zeroed is a valid struct stat and stat filled it in.
            unsafe { st.assume_init() }.st_ino
        } else {
            0
        };
        COMM[0].store(
            u64::from_le_bytes(comm[..8].try_into().unwrap_or([0; 8])),
            Relaxed,
        );
        COMM[1].store(
            u64::from_le_bytes(comm[8..].try_into().unwrap_or([0; 8])),
            Relaxed,
        );
        IPC_NS.store(ns, Relaxed);
        ORIGIN_PID.store(pid, Release);
    }
    let mut comm = [0u8; 16];
    comm[..8].copy_from_slice(&COMM[0].load(Relaxed).to_le_bytes());
    comm[8..].copy_from_slice(&COMM[1].load(Relaxed).to_le_bytes());
    Origin {
        comm,
        ipc_ns: IPC_NS.load(Relaxed),
    }
}

/// The main thread's name, from `/proc/self/comm` (without its newline).
fn read_comm(out: &mut [u8; 16]) {
    // SAFETY: the name is NUL-terminated.
    let fd = unsafe {
        libc::open(
            c"/proc/self/comm".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    // SAFETY: reads at most 15 bytes into `out`.
    let n = unsafe { libc::read(fd, out.as_mut_ptr().cast(), 15) };
    // SAFETY: the descriptor just opened.
    unsafe { libc::close(fd) };
    for b in out.iter_mut().skip(n.max(0) as usize) {
        *b = 0;
    }
    if let Some(nl) = out.iter().position(|&b| b == b'\n') {
        out[nl] = 0;
    }
}
