//! The channel traced processes send their events on: a `SOCK_SEQPACKET` socket that
//! rshm-trace listens on, named in each traced process's environment
//! (`RSHM_TRACE_SOCKET`), and the ring of shared memory each process hands over on it.
//!
//! The name is not predictable: a directory made by mkdtemp(3) under `$TMPDIR` (or
//! `/tmp` when that name would be too long for a socket address), mode 0711 so that a
//! process which switched to another user can reach the socket but nobody can list the
//! directory, holding a socket named by 128 random bits, mode 0666 (connecting needs
//! write permission). Anyone who knows the name could connect; only processes given it
//! in their environment (readable by their own user and root) know it. Both are removed
//! when rshm-trace ends; a process that outlives it then finds no socket and stops
//! sending (see the core's `channel` module).
//!
//! What comes on a connection: the hello naming the process's ring (its token, and its
//! memfd when the ring is new: [`Read::Hello`]), one-byte wakeups ([`Read::Wake`]), and,
//! from a process without a ring, events ([`Read::Record`]).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The ring's layout and its consumer: the core's, so both sides read one description.
pub use rshm_core::__private::ring;

/// The listening socket and the names to remove.
pub struct Listener {
    /// The listening descriptor (non-blocking).
    pub fd: i32,
    /// The socket's name.
    pub path: PathBuf,
    dir: PathBuf,
}

/// 16 random bytes as 32 hex digits.
fn random_hex() -> io::Result<String> {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        return Err(io::Error::last_os_error());
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn mkdtemp(base: &Path) -> io::Result<PathBuf> {
    let t = CString::new(base.join("rshm-trace.XXXXXX").as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut t = t.into_bytes_with_nul();
    // SAFETY: `t` is a NUL-terminated template that mkdtemp rewrites in place.
    if unsafe { libc::mkdtemp(t.as_mut_ptr().cast()) }.is_null() {
        return Err(io::Error::last_os_error());
    }
    t.pop();
    Ok(PathBuf::from(std::ffi::OsString::from_vec(t)))
}

use std::os::unix::ffi::OsStringExt;

impl Listener {
    /// The mark the preload library puts on its own system calls once it has connected:
    /// the first 16 of the 32 hex digits of the socket's name (see the core's channel).
    pub fn token(&self) -> u64 {
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.get(..16)
            .and_then(|d| u64::from_str_radix(d, 16).ok())
            .unwrap_or(0)
    }

    /// Makes the directory and the socket, and listens.
    pub fn new() -> io::Result<Listener> {
        let tmp = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.as_os_str().len() + 60 < 108);
        // TMPDIR if it will do, else /tmp.
        let dir = match tmp.map(|t| mkdtemp(&t)) {
            Some(Ok(d)) => d,
            _ => mkdtemp(Path::new("/tmp"))
                .map_err(|e| io::Error::new(e.kind(), format!("/tmp: {}", crate::why(&e))))?,
        };
        let l = Listener {
            fd: -1,
            path: dir.join(random_hex()?),
            dir,
        };
        // Reachable by any user (to connect), listable by none but its owner.
        std::fs::set_permissions(&l.dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))?;
        // SAFETY: socket takes no pointers.
        let fd = unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut l = l;
        l.fd = fd;
        // SAFETY: sockaddr_un is plain bytes, for which all zeroes is a valid value.
        let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        a.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let name = l.path.as_os_str().as_bytes();
        if name.len() >= a.sun_path.len() {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        for (d, s) in a.sun_path.iter_mut().zip(name) {
            *d = *s as libc::c_char;
        }
        // SAFETY: `a` is a filled-in sockaddr_un of the size given.
        let r = unsafe {
            libc::bind(
                fd,
                (&raw const a).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        std::fs::set_permissions(&l.path, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
        // SAFETY: listen takes no pointers.
        if unsafe { libc::listen(fd, 4096) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(l)
    }

    /// A pending connection, if any (non-blocking, close-on-exec).
    pub fn accept(&self) -> Option<i32> {
        // SAFETY: no address is asked for.
        let c = unsafe {
            libc::accept4(
                self.fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        (c >= 0).then_some(c)
    }

    /// Removes the socket's name: a process that connects from now on finds nothing.
    pub fn unlink(&self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.unlink();
        if self.fd >= 0 {
            // SAFETY: rshm-trace's own listening socket.
            unsafe { libc::close(self.fd) };
        }
    }
}

/// What reading a connection gave.
pub enum Read {
    /// One event, of this many bytes (a process without a ring).
    Record(usize),
    /// A process names its ring: by its token, with the ring's memfd when it is new.
    Hello {
        /// The ring's token.
        token: [u8; 16],
        /// The memfd (rshm-trace's descriptor now), if one came.
        memfd: Option<i32>,
    },
    /// A process woke rshm-trace (its ring has events).
    Wake,
    /// Nothing more for now.
    Empty,
    /// The connection is closed (every process holding it has exited or closed it).
    Closed,
}

/// Reads one record from connection `fd` into `buf`, and the descriptor passed with it.
pub fn read(fd: i32, buf: &mut [u8]) -> Read {
    loop {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for a few descriptors, aligned for a cmsghdr.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data, for which all zeroes is a valid value.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        h.msg_iov = &mut iov;
        h.msg_iovlen = 1;
        h.msg_control = control.as_mut_ptr().cast();
        h.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `h` describes `buf` and `control`, both alive for the call.
        let n = unsafe { libc::recvmsg(fd, &mut h, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Read::Empty,
                _ => return Read::Closed,
            }
        }
        let memfd = descriptors(&h);
        let n = n as usize;
        if n == 0 {
            memfd.into_iter().for_each(close);
            return Read::Closed;
        }
        if n == ring::HELLO_LEN && buf[..8] == ring::HELLO {
            let mut token = [0; 16];
            token.copy_from_slice(&buf[8..ring::HELLO_LEN]);
            return Read::Hello { token, memfd };
        }
        memfd.into_iter().for_each(close);
        return if n == 1 { Read::Wake } else { Read::Record(n) };
    }
}

fn close(fd: i32) {
    // SAFETY: a descriptor rshm-trace received and owns.
    unsafe { libc::close(fd) };
}

/// The first descriptor passed in `h`'s control messages; any other is closed.
fn descriptors(h: &libc::msghdr) -> Option<i32> {
    let mut first = None;
    // SAFETY: `h` was filled in by recvmsg; the CMSG macros walk its control buffer
    // within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c).cast::<i32>();
                let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                for i in 0..n {
                    let fd = data.add(i).read_unaligned();
                    if first.is_none() {
                        first = Some(fd);
                    } else {
                        close(fd);
                    }
                }
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    first
}

/// Tells the process at the other end of `fd` that its line is written (a process
/// without a ring). Ring ids (negative) have no descriptor: their slots are freed instead.
pub fn ack(fd: i32) {
    if fd < 0 {
        return;
    }
    let b = [1u8];
    // SAFETY: sends one byte from `b`; MSG_NOSIGNAL: a gone peer raises no SIGPIPE here.
    unsafe {
        libc::send(
            fd,
            b.as_ptr().cast(),
            1,
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
}

/// A process's ring, mapped into rshm-trace, with its consumer.
pub struct RingMap {
    /// The consumer.
    pub consumer: ring::Consumer,
    len: usize,
}

impl RingMap {
    /// Maps the ring in `memfd` (then closed) if it is one: sealed against shrinking (a
    /// process cannot pull the memory away under rshm-trace), of a ring's size, with
    /// `token` in its header. If it is not, the processes writing it are told to send
    /// their events on the socket instead, where that can be done safely.
    pub fn map(memfd: i32, token: &[u8; 16]) -> io::Result<RingMap> {
        let r = Self::map_checked(memfd, token);
        if r.is_err() {
            refuse(memfd);
        }
        close(memfd);
        r
    }

    fn map_checked(memfd: i32, token: &[u8; 16]) -> io::Result<RingMap> {
        let len = sealed_len(memfd)?;
        if len < ring::HEADER || len > ring::bytes(ring::MAX_CAP) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let base = map(memfd, len)?;
        // SAFETY: `base` is a fresh mapping of `len` bytes, page-aligned.
        match unsafe { ring::Ring::open(base, len) } {
            Some(r) if r.token() == *token => Ok(RingMap {
                consumer: ring::Consumer::new(r),
                len,
            }),
            _ => {
                // SAFETY: the mapping just made.
                unsafe { libc::munmap(base.cast(), len) };
                Err(io::Error::from_raw_os_error(libc::EINVAL))
            }
        }
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in map, used only through this consumer.
        unsafe { libc::munmap(self.consumer.ring().base().cast(), self.len) };
    }
}

/// The size of `memfd`, if it is sealed against shrinking.
fn sealed_len(memfd: i32) -> io::Result<usize> {
    // SAFETY: F_GET_SEALS takes no pointer.
    let seals = unsafe { libc::fcntl(memfd, libc::F_GET_SEALS) };
    if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    // SAFETY: stat is plain data; fstat fills it in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one struct stat into `st`.
    if unsafe { libc::fstat(memfd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.st_size as usize)
}

fn map(memfd: i32, len: usize) -> io::Result<*mut u8> {
    // SAFETY: a new shared mapping of `len` bytes of the memfd.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            memfd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// Closes the ring in `memfd` without reading it (it could not be mapped whole): its
/// processes then send their events on the socket. Only the header is touched, and only
/// when the memfd is sealed (nobody can shrink it away).
fn refuse(memfd: i32) {
    if !sealed_len(memfd).is_ok_and(|len| len >= ring::HEADER) {
        return;
    }
    if let Ok(base) = map(memfd, ring::HEADER) {
        // SAFETY: the header is mapped; `close` touches nothing else.
        ring::Consumer::new(unsafe { ring::Ring::at(base, 1) }).close();
        // SAFETY: the mapping just made.
        unsafe { libc::munmap(base.cast(), ring::HEADER) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memfd of a ring of `cap` slots, sealed when `seal`, with the producer's mapping.
    fn memfd_ring(cap: u32, seal: bool) -> (i32, ring::Ring) {
        let len = ring::bytes(cap);
        // SAFETY: the name is NUL-terminated.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_memfd_create,
                c"test-ring".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        } as i32;
        assert!(fd >= 0);
        // SAFETY: sizing and sealing the memfd just made.
        unsafe {
            assert_eq!(libc::ftruncate(fd, len as libc::off_t), 0);
            if seal {
                assert_eq!(libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK), 0);
            }
        }
        let base = map(fd, len).unwrap();
        // SAFETY: a fresh zeroed mapping of the ring's size (left mapped: a test).
        (fd, unsafe { ring::Ring::init(base, cap, [9; 16]) })
    }

    /// Sends `msg` on `fd` with descriptor `pass`.
    fn send_with(fd: i32, msg: &[u8], pass: i32) {
        let mut iov = libc::iovec {
            iov_base: msg.as_ptr() as *mut _,
            iov_len: msg.len(),
        };
        let mut control = [0u64; 4];
        // SAFETY: msghdr is plain data.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        h.msg_iov = &mut iov;
        h.msg_iovlen = 1;
        h.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes; the control buffer holds one descriptor.
        unsafe {
            h.msg_controllen = libc::CMSG_SPACE(4) as _;
            let c = libc::CMSG_FIRSTHDR(&h);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            libc::CMSG_DATA(c).cast::<i32>().write_unaligned(pass);
            assert_eq!(libc::sendmsg(fd, &h, 0), msg.len() as isize);
        }
    }

    fn pair() -> [i32; 2] {
        let mut sv = [0; 2];
        // SAFETY: socketpair writes two descriptors into sv.
        let r =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, sv.as_mut_ptr()) };
        assert_eq!(r, 0);
        sv
    }

    #[test]
    fn a_hello_brings_the_ring_which_rshm_trace_maps_and_reads() {
        let sv = pair();
        let (memfd, producer) = memfd_ring(8, true);
        let mut hello = ring::HELLO.to_vec();
        hello.extend_from_slice(&producer.token());
        send_with(sv[0], &hello, memfd);
        // SAFETY: sends one byte.
        unsafe { libc::send(sv[0], [0u8].as_ptr().cast(), 1, 0) };
        let mut buf = [0u8; 2048];
        let Read::Hello {
            token,
            memfd: Some(got),
        } = read(sv[1], &mut buf)
        else {
            panic!("a hello with its memfd");
        };
        assert_eq!(token, [9; 16]);
        assert!(matches!(read(sv[1], &mut buf), Read::Wake));
        assert!(matches!(read(sv[1], &mut buf), Read::Empty));
        let mut m = RingMap::map(got, &token).unwrap();
        producer.push(b"an event", 1).unwrap();
        let mut slot = [0u8; ring::DATA];
        let t = m
            .consumer
            .next(&mut slot, std::time::Duration::ZERO)
            .unwrap();
        assert_eq!(&slot[..t.len], b"an event");
        // SAFETY: closing the test's descriptors.
        unsafe {
            libc::close(sv[0]);
            libc::close(memfd);
        }
        assert!(matches!(read(sv[1], &mut buf), Read::Closed));
        close(sv[1]);
    }

    #[test]
    fn a_ring_that_could_be_shrunk_under_rshm_trace_is_refused() {
        let (memfd, _) = memfd_ring(8, false);
        assert!(RingMap::map(memfd, &[9; 16]).is_err());
        let (memfd, producer) = memfd_ring(8, true);
        assert!(RingMap::map(memfd, &[1; 16]).is_err(), "not its token");
        assert!(
            producer.closed(),
            "its processes are told to use the socket"
        );
    }
}
