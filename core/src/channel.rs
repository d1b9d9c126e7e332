//! rshm-trace's channel, seen from a traced process. When `RSHM_TRACE_SOCKET` names the
//! socket rshm-trace listens on, every line this process would log goes to rshm-trace
//! instead, as an event ([`crate::event`]), and nothing goes to the program's own
//! descriptors:
//!
//! - A ring in shared memory carries the events ([`crate::ring`]): a call costs a copy and
//!   a few atomic operations. The process makes it when the library is loaded
//!   ([`at_load`], before main: a mapping made later could take an address the program
//!   has just freed with shmdt and means to attach at again), connects to the socket
//!   then and hands rshm-trace the ring's memfd. Forked children (and children sharing
//!   the memory) write into the same ring; an exec makes a new one.
//! - The socket stays for what memory cannot do: waking rshm-trace when it sleeps (one
//!   byte, only when the ring says it sleeps), and telling that rshm-trace is gone (the
//!   connection is closed). The ring itself needs no descriptor: a program that closes
//!   every descriptor is still traced. Before each use, rshm checks that its descriptor
//!   is still the socket it connected (`fstat`: device and inode), and connects again by
//!   name if not (naming the ring by its token); a descriptor that is not is left alone,
//!   never closed or written.
//! - Nothing is dropped: when the ring is full, the call waits for room. A failure or a
//!   warning also waits until rshm-trace has written its line (and freed its slot), so
//!   the program's own message about it comes after rshm's line.
//! - Without a ring (it could not be made, or rshm-trace closed it because no process it
//!   knew of still held it, as after a daemon closed every descriptor), each event is one
//!   record on the `SOCK_SEQPACKET` connection, and a failure waits for a one-byte
//!   acknowledgement.
//! - When rshm-trace is gone (the socket's name is removed, or the connection is closed),
//!   the process stops sending, silently, for the rest of its life; a wait notices it
//!   within [`WAIT_NS`].
//! - SIGPIPE never reaches the program (`MSG_NOSIGNAL`).
//!
//! Everything here is async-signal-safe: system calls on rshm's own descriptor and
//! mapping, no allocation, no lock.

use crate::event::{Event, Origin};
use crate::ring::{self, Full, Ring};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering::*};
use libc::c_int;

/// The longest socket name (`sun_path` is 108 bytes, NUL included).
pub const PATH_MAX: usize = 107;

static ON: AtomicBool = AtomicBool::new(false);
/// rshm-trace is gone: send nothing more.
static DEAD: AtomicBool = AtomicBool::new(false);
static FD: AtomicI32 = AtomicI32::new(-1);
static DEV: AtomicU64 = AtomicU64::new(0);
static INO: AtomicU64 = AtomicU64::new(0);
/// This process's ring (null: none; events go on the socket).
static RING: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

/// The longest a wait sleeps before it asks whether rshm-trace is still there.
pub const WAIT_NS: u64 = 20_000_000;

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
static PID_NS: AtomicU64 = AtomicU64::new(0);

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
    crate::backend::set_own_token(run_token(&a.sun_path));
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
    crate::sink::fstat(fd).map(|i| (i.dev, i.ino))
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

/// Connects to rshm-trace by name, and names this process's ring (if it has one, still
/// open) on the new connection.
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
    let fd = crate::sink::out_of_the_way(s).ok()?;
    let Some((dev, ino)) = ident(fd) else {
        // SAFETY: rshm's own socket.
        unsafe { libc::close(fd) };
        return None;
    };
    if let Some(r) = ring().filter(|r| !r.closed()) {
        if !hello(fd, &r, -1) {
            // SAFETY: rshm's own socket, not published.
            unsafe { libc::close(fd) };
            return None;
        }
    }
    // Another thread may have connected meanwhile: the first one stays.
    match FD.compare_exchange(-1, fd, AcqRel, Acquire) {
        Ok(_) => {
            DEV.store(dev, Relaxed);
            INO.store(ino, Relaxed);
            let t = peer_token(fd);
            crate::backend::set_own_token(t);
            crate::backend::set_token(t);
            Some(fd)
        }
        Err(_) => {
            // SAFETY: rshm's own socket, not published.
            unsafe { libc::close(fd) };
            own_fd_published()
        }
    }
}

/// The run's mark on this library's system calls: the first 16 hex digits of the last
/// component of the socket's name `path` (rshm-trace names it by 32 random ones; 0 for
/// another name). Under `rshm-trace --complete` a seccomp filter stops every shm system
/// call but those carrying it (see `crate::backend::token`). rshm's own questions carry
/// it as soon as a name is known ([`set`]), and, like the calls rshm makes for the
/// program, once rshm-trace is reached: then from the name rshm-trace bound, which the
/// kernel gives (`getpeername`), whatever name the process was given (a link to it). A
/// process that cannot reach rshm-trace reports nothing, so its calls must be stopped.
fn run_token(path: &[libc::c_char]) -> u64 {
    let len = path.iter().position(|&c| c == 0).unwrap_or(path.len());
    let name = &path[..len];
    let start = name
        .iter()
        .rposition(|&c| c as u8 == b'/')
        .map_or(0, |i| i + 1);
    name.get(start..start + 16)
        .and_then(|digits| {
            digits.iter().try_fold(0u64, |n, &c| {
                let d = (c as u8 as char).to_digit(16)?;
                Some(n << 4 | u64::from(d))
            })
        })
        .unwrap_or(0)
}

/// The token of the socket `fd` is connected to (the name rshm-trace bound).
fn peer_token(fd: c_int) -> u64 {
    let mut a = libc::sockaddr_un {
        sun_family: 0,
        sun_path: [0; 108],
    };
    let mut len = core::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: getpeername writes at most `len` bytes of address into `a`.
    let r = unsafe { libc::getpeername(fd, (&raw mut a).cast(), &mut len) };
    if r == 0 { run_token(&a.sun_path) } else { 0 }
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

/// Sends `e` to rshm-trace, waiting as long as the channel needs, and until its line is
/// written when the event asks for that. Returns whether it was sent.
pub fn send(e: &Event) -> bool {
    if DEAD.load(Relaxed) {
        return false;
    }
    if let Some(r) = ring() {
        if let Some(sent) = push(&r, e) {
            return sent;
        }
    }
    send_socket(e)
}

/// This process's ring, if it has one.
#[inline]
fn ring() -> Option<Ring> {
    let p = RING.load(Acquire);
    // SAFETY: RING holds only a mapping made by at_load, never unmapped.
    (!p.is_null()).then(|| unsafe { Ring::at(p, ring::CAP) })
}

/// Puts `e` in the ring. None when it cannot take it (closed, or its room held by this
/// thread's own unpublished slot): send it on the socket.
fn push(r: &Ring, e: &Event) -> Option<bool> {
    let b = e.as_bytes();
    // The sender's thread id, from the event (bytes 20..24): who claims the slot.
    let tid = i32::from_le_bytes([b[20], b[21], b[22], b[23]]);
    let pos = loop {
        match r.claim() {
            Ok(pos) => break pos,
            Err(Full::Closed) => return None,
            // The room this waits for is a slot this very thread claimed and did not
            // publish yet (a signal handler interrupted it, and has made a ring's worth of
            // calls since), or one whose claimer is not noted yet (it may be this thread,
            // interrupted between its claim and noting it): waiting might never end. The
            // socket takes this event.
            Err(Full::At(p)) if matches!(r.blocked_by(p), Some(t) if t == tid || t == 0) => {
                return None;
            }
            Err(Full::At(p)) => {
                if !wait_for(r, || r.free(p)) {
                    return Some(false);
                }
            }
        }
    };
    r.own(pos, tid);
    if !r.publish(pos, b) {
        // rshm-trace dropped the claim while this thread was held up: the socket.
        return None;
    }
    let sleeping = r.take_sleeping();
    if e.acked() {
        // rshm-trace may be napping: a byte on the socket ends its nap at once.
        wake();
        return Some(wait_for(r, || r.done(pos)));
    }
    if sleeping {
        wake();
    }
    Some(true)
}

/// Waits until `ready()`: woken by rshm-trace when it frees slots, and asking every
/// [`WAIT_NS`] whether it is still there. False if it is gone.
fn wait_for(r: &Ring, ready: impl Fn() -> bool) -> bool {
    loop {
        if r.wait(&ready, WAIT_NS) {
            return true;
        }
        if DEAD.load(Relaxed) {
            return false;
        }
        if r.take_sleeping() {
            wake();
        }
        if !tracer_alive() {
            return false;
        }
    }
}

/// Whether rshm-trace still holds the other end of rshm's connection.
fn tracer_alive() -> bool {
    let Some(fd) = own_fd() else {
        return false;
    };
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one pollfd, no waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n == 1 && p.revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR) != 0 {
        DEAD.store(true, Relaxed);
        return false;
    }
    true
}

/// Wakes rshm-trace: one byte on the connection (a new connection wakes it too).
fn wake() {
    let Some(fd) = own_fd() else {
        return;
    };
    let b = [0u8];
    loop {
        // SAFETY: sends one byte from `b`; never blocks, never raises SIGPIPE.
        let n = unsafe {
            libc::send(
                fd,
                b.as_ptr().cast(),
                1,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return;
        }
        match crate::error::errno() {
            libc::EINTR => continue,
            libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN => {
                DEAD.store(true, Relaxed);
                return;
            }
            // EAGAIN: bytes wait unread already, which wake it as well.
            _ => return,
        }
    }
}

/// Says on connection `fd` which ring this process writes (its token), with the ring's
/// memfd when `memfd` is one.
fn hello(fd: c_int, r: &Ring, memfd: c_int) -> bool {
    let mut msg = [0u8; ring::HELLO_LEN];
    msg[..8].copy_from_slice(&ring::HELLO);
    msg[8..].copy_from_slice(&r.token());
    let mut iov = libc::iovec {
        iov_base: msg.as_mut_ptr().cast(),
        iov_len: msg.len(),
    };
    // Room for one descriptor, aligned for a cmsghdr.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain data, for which all zeroes is a valid value.
    let mut h: libc::msghdr = unsafe { core::mem::zeroed() };
    h.msg_iov = &mut iov;
    h.msg_iovlen = 1;
    if memfd >= 0 {
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(core::mem::size_of::<c_int>() as u32) } as usize;
        h.msg_control = control.as_mut_ptr().cast();
        h.msg_controllen = space.min(core::mem::size_of_val(&control)) as _;
        // SAFETY: the control buffer holds one cmsghdr and its descriptor (space bytes).
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&h);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<c_int>() as u32) as _;
            libc::CMSG_DATA(c).cast::<c_int>().write_unaligned(memfd);
        }
    }
    loop {
        // SAFETY: `h` describes `msg` and the control buffer, both alive for the call.
        let n = unsafe { libc::sendmsg(fd, &h, libc::MSG_NOSIGNAL) };
        if n == msg.len() as isize {
            return true;
        }
        if n >= 0 || crate::error::errno() != libc::EINTR {
            return false;
        }
    }
}

/// Called by the library's and the preload library's constructors (before main), after
/// the configuration: when events go to rshm-trace, makes this process's ring, connects
/// and hands it over. Without it (it could not be made), events go on the socket.
pub fn at_load() {
    if !active() || DEAD.load(Relaxed) || !RING.load(Acquire).is_null() {
        return;
    }
    let _errno = crate::error::ErrnoGuard::save();
    let len = ring::bytes(ring::CAP);
    // SAFETY: the name is NUL-terminated; memfd_create takes no other pointer.
    let memfd = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            c"rshm-trace".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    } as c_int;
    if memfd < 0 {
        return;
    }
    // rshm-trace maps it too: no process may shrink it under its feet.
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: sizing and sealing the memfd just made.
    let sized = unsafe {
        libc::ftruncate(memfd, len as libc::off_t) == 0
            && libc::fcntl(memfd, libc::F_ADD_SEALS, seals) == 0
    };
    let base = if sized {
        // SAFETY: a new shared mapping of the whole memfd.
        unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                memfd,
                0,
            )
        }
    } else {
        libc::MAP_FAILED
    };
    if base == libc::MAP_FAILED {
        // SAFETY: the memfd just made.
        unsafe { libc::close(memfd) };
        return;
    }
    // SAFETY: a new mapping of zeroed memory of the ring's size, not yet shared.
    let r = unsafe { Ring::init(base.cast(), ring::CAP, token()) };
    // On the connection a call made already (in another library's constructor), if any.
    let handed = own_fd().is_some_and(|fd| hello(fd, &r, memfd));
    // SAFETY: the memfd just made: rshm-trace has its own copy now, the mapping stays.
    unsafe { libc::close(memfd) };
    if handed {
        RING.store(r.base(), Release);
    } else {
        // SAFETY: the mapping just made, never published.
        unsafe { libc::munmap(base, len) };
    }
}

/// 128 random bits (from the clock and the pid if the kernel has none to give yet).
fn token() -> [u8; 16] {
    let mut t = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into `t`.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            t.as_mut_ptr(),
            t.len(),
            libc::GRND_NONBLOCK,
        )
    };
    if n != t.len() as libc::c_long {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let a = (ts.tv_sec as u64) ^ ((ts.tv_nsec as u64) << 32);
        // SAFETY: getpid takes no arguments.
        let b = (unsafe { libc::getpid() } as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ a;
        t[..8].copy_from_slice(&a.to_le_bytes());
        t[8..].copy_from_slice(&b.to_le_bytes());
    }
    t
}

/// Sends `e` as one record on the socket (no ring), waiting for the acknowledgement when
/// the event asks for one.
fn send_socket(e: &Event) -> bool {
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

/// This process's name and namespaces, asked of the kernel once per process: the name of
/// its main thread (`PR_GET_NAME` there; `/proc/self/comm` from another thread) and the
/// inodes of `/proc/self/ns/ipc` and `/proc/self/ns/pid`.
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
        let ns = inode(c"/proc/self/ns/ipc");
        PID_NS.store(inode(c"/proc/self/ns/pid"), Relaxed);
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
        pid_ns: PID_NS.load(Relaxed),
    }
}

/// The inode of the file `name` (0 if it cannot be read: no /proc).
fn inode(name: &core::ffi::CStr) -> u64 {
    let mut st = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: the name is NUL-terminated; stat writes one struct stat into `st`.
    if unsafe { libc::stat(name.as_ptr(), st.as_mut_ptr()) } == 0 {
        // SAFETY: zeroed is a valid struct stat and stat filled it in.
        unsafe { st.assume_init() }.st_ino
    } else {
        0
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
