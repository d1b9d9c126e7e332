//! The channel traced processes send their events on: a `SOCK_SEQPACKET` socket that
//! rshm-trace listens on, named in each traced process's environment
//! (`RSHM_TRACE_SOCKET`).
//!
//! The name is not predictable: a directory made by mkdtemp(3) under `$TMPDIR` (or
//! `/tmp` when that name would be too long for a socket address), mode 0711 so that a
//! process which switched to another user can reach the socket but nobody can list the
//! directory, holding a socket named by 128 random bits, mode 0666 (connecting needs
//! write permission). Anyone who knows the name could connect; only processes given it
//! in their environment (readable by their own user and root) know it. Both are removed
//! when rshm-trace ends; a process that outlives it then finds no socket and stops
//! sending (see the core's `channel` module).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
    /// Makes the directory and the socket, and listens.
    pub fn new() -> io::Result<Listener> {
        let tmp = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.as_os_str().len() + 60 < 108)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let dir = mkdtemp(&tmp)?;
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
    /// One record, of this many bytes.
    Record(usize),
    /// Nothing more for now.
    Empty,
    /// The connection is closed (every process holding it has exited or closed it).
    Closed,
}

/// Reads one record from connection `fd` into `buf`.
pub fn read(fd: i32, buf: &mut [u8]) -> Read {
    loop {
        // SAFETY: recv writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n > 0 {
            return Read::Record(n as usize);
        }
        if n == 0 {
            return Read::Closed;
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Read::Empty,
            _ => return Read::Closed,
        }
    }
}

/// Tells the process at the other end of `fd` that its line is written.
pub fn ack(fd: i32) {
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
