//! The error of the Rust API: an errno and its own sentence, owned.
//!
//! The C path keeps a failure's sentence in the thread's last error (no heap; see
//! `error.rs`). A Rust [`Error`] copies it out the moment a core call returns `Err`, on
//! the same thread and before anything else can fail, so it keeps its own sentence
//! wherever it goes. Only this copy allocates, and only on a failure.

use crate::error as core_error;
use crate::names::errno_name;
use core::fmt;
use std::io;

/// Why a call failed: the errno libc would have set, and a sentence that names the call,
/// the argument and the rule broken.
///
/// The sentence is the one `rshm_last_error()` gives a C caller, copied into the `Error`
/// when the call failed: it stays the same after later failures in the same thread, and
/// when the `Error` is sent to another thread.
///
/// # Example
/// ```
/// use rshm_core::Segment;
///
/// let e = Segment::from_id(-1).remove().unwrap_err();
/// assert_eq!(e.errno(), 22); // EINVAL
/// assert_eq!(e.errno_name(), "EINVAL");
/// assert_eq!(
///     e.to_string(),
///     "rshm_rmid: shmid -1 is negative, so it names no segment (a failed shmget's -1?)"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    errno: i32,
    message: Box<str>,
}

impl Error {
    /// A failure of the Rust layer itself (a check made before the core is called).
    #[cold]
    pub(crate) fn new(errno: i32, message: String) -> Self {
        Self {
            errno,
            message: message.into_boxed_str(),
        }
    }

    /// Copies the sentence of a core failure. Must run on the thread that made `e`, before
    /// anything else can fail there: the sentence lives in that thread's last error.
    #[cold]
    #[inline(never)]
    fn from_core(e: core_error::Error) -> Self {
        Self::new(e.errno, e.message().as_str().to_owned())
    }

    /// The errno value (`EINVAL` is 22 on Linux), as libc would have set it.
    ///
    /// # Example
    /// ```
    /// use rshm_core::{Segment, flags::IPC_PRIVATE};
    ///
    /// let e = Segment::open(IPC_PRIVATE).unwrap_err();
    /// assert_eq!(e.errno(), 22); // EINVAL
    /// ```
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The errno's symbolic name (`"EINVAL"`), or `"E?"` for one rshm does not know.
    ///
    /// # Example
    /// ```
    /// let e = rshm_core::rmid(-1).unwrap_err();
    /// assert_eq!(e.errno_name(), "EINVAL");
    /// ```
    pub fn errno_name(&self) -> &'static str {
        errno_name(self.errno)
    }

    /// The sentence, e.g. `rshm_get: size 0 is below SHMMIN (1) for a new segment`
    /// (what `Display` writes).
    ///
    /// # Example
    /// ```
    /// let e = rshm_core::rmid(-1).unwrap_err();
    /// assert!(e.message().starts_with("rshm_rmid: shmid -1 is negative"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The [`io::ErrorKind`] of the errno (`InvalidInput` for `EINVAL`, `NotFound` for
    /// `ENOENT`, ...), as `std::io::Error` maps it.
    ///
    /// # Example
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let e = rshm_core::rmid(-1).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        io::Error::from_raw_os_error(self.errno).kind()
    }
}

/// An `std::io::Error` of the same [kind](Error::kind) that keeps the `Error` (and so its
/// sentence) inside; get it back, errno and all, with `get_ref` and `downcast_ref`.
///
/// # Example
/// ```
/// let io: std::io::Error = rshm_core::rmid(-1).unwrap_err().into();
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
/// let inner = io.get_ref().and_then(|e| e.downcast_ref::<rshm_core::Error>());
/// assert_eq!(inner.map(|e| e.errno()), Some(22));
/// ```
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        io::Error::new(e.kind(), e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field(
                "errno",
                &format_args!("{} ({})", self.errno_name(), self.errno),
            )
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for Error {}

/// A core call's result, its failure copied into an [`Error`] at once. Wrap the core call
/// itself in it: nothing may run in between.
#[inline(always)]
pub(crate) fn caught<T>(r: Result<T, core_error::Error>) -> Result<T, Error> {
    r.map_err(Error::from_core)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Removes, unused_key};
    use crate::{Segment, rmid};

    #[test]
    fn an_error_keeps_its_own_sentence_after_a_later_failure_in_the_thread() {
        let key = unused_key();
        let first = Segment::open(key).unwrap_err();
        let second = rmid(-7).unwrap_err();
        let missing =
            format!("rshm_get: no segment has key {key:#010x} and IPC_CREAT was not given");
        assert_eq!((first.errno(), first.to_string()), (libc::ENOENT, missing));
        assert_eq!(
            (second.errno(), second.message()),
            (
                libc::EINVAL,
                "rshm_rmid: shmid -7 is negative, so it names no segment (a failed shmget's -1?)"
            )
        );
        // The C path's sentence has moved on; the Rust error has not.
        assert_eq!(
            crate::error::last().as_str(),
            "rshm_rmid: shmid -7 is negative, so it names no segment (a failed shmget's -1?)"
        );
    }

    #[test]
    fn an_error_sent_to_another_thread_keeps_its_sentence_and_errno() {
        let seg = Segment::create_private(4096, 0o600).unwrap();
        let _removes = Removes(seg.id());
        let id = seg.id();
        let e = Segment::create(crate::flags::IPC_PRIVATE, 0, 0o600).unwrap_err();
        let made = std::thread::spawn(move || {
            // A failure of that thread's own first, then ours, moved there.
            let other = rmid(-2).unwrap_err();
            (other.errno(), e.errno(), e.to_string())
        })
        .join()
        .unwrap();
        assert_eq!(
            made,
            (
                libc::EINVAL,
                libc::EINVAL,
                "rshm_get: size 0 is below SHMMIN (1) for a new segment".to_owned()
            )
        );
        // And one made in another thread comes back intact.
        let back = std::thread::spawn(move || Segment::from_id(id).attach_with(0o4).unwrap_err())
            .join()
            .unwrap();
        assert_eq!(back.errno(), libc::EINVAL);
        assert_eq!(
            back.message(),
            "rshm_at: unknown flag bits 04 in flags 04; valid are SHM_RDONLY, SHM_RND, SHM_REMAP and SHM_EXEC"
        );
    }

    #[test]
    fn debug_names_the_errno_and_kind_follows_it() {
        let e = Error::new(libc::ENOENT, "why".into());
        assert_eq!(
            format!("{e:?}"),
            r#"Error { errno: ENOENT (2), message: "why" }"#
        );
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let io: io::Error = e.clone().into();
        assert_eq!(io.to_string(), "why");
        assert_eq!(io.get_ref().unwrap().downcast_ref::<Error>(), Some(&e));
    }
}
