//! System V shared memory for Rust, checked, logged and tracked: the core of rshm.
//!
//! Every call checks its arguments before the kernel sees them, fails with the errno libc
//! would set and a sentence that says why, logs one line (`RSHM_LOG`, quiet by default),
//! and is recorded in the process's registry of segments and attachments (the
//! `RSHM_REPORT=1` exit report). It is the same core, on the same path, as the C library
//! `librshm` and the `LD_PRELOAD` tracer `rshm-trace`.
//!
//! - [`Segment`]: make one ([`create`](Segment::create),
//!   [`create_private`](Segment::create_private)), find one by key
//!   ([`open`](Segment::open)), [`attach`](Segment::attach) it, ask the kernel about it
//!   ([`stat`](Segment::stat), a [`Stat`]) and [`remove`](Segment::remove) it.
//! - [`Attachment`]: the attached memory as a pointer and a length, copied in and out
//!   safely ([`read_at`](Attachment::read_at), [`write_at`](Attachment::write_at)) or
//!   borrowed as a slice where the caller vouches that is sound; detached on drop.
//! - [`Error`]: the errno and the sentence, kept with the error wherever it goes.
//! - [`flags`]: `IPC_PRIVATE`, `IPC_CREAT`, `SHM_RDONLY`, ...: no `libc` needed.
//! - [`get`], [`attach`], [`detach`], [`rmid`]: the C calls themselves, for raw ids and
//!   addresses.
//!
//! # Example
//! ```
//! use rshm_core::Segment;
//!
//! let seg = Segment::create_private(4096, 0o600)?;
//! # struct Rm(i32); impl Drop for Rm { fn drop(&mut self) { let _ = rshm_core::rmid(self.0); } }
//! # let _rm = Rm(seg.id());
//! let writer = seg.attach()?;
//! writer.write_at(0, b"hello");
//!
//! // Another process would find it by its id (or, made with a key, Segment::open).
//! let reader = rshm_core::Segment::from_id(seg.id()).attach()?;
//! let mut buf = [0; 5];
//! reader.read_at(0, &mut buf);
//! assert_eq!(&buf, b"hello");
//! assert_eq!(seg.stat()?.nattch, 2);
//!
//! drop((writer, reader)); // detached
//! seg.remove()?;
//! # core::mem::forget(_rm); // removed just above
//!
//! // A failure says why.
//! let e = Segment::create_private(0, 0o600).unwrap_err();
//! assert_eq!(e.errno_name(), "EINVAL");
//! assert_eq!(e.to_string(), "rshm_get: size 0 is below SHMMIN (1) for a new segment");
//! # Ok::<(), rshm_core::Error>(())
//! ```

mod api_error;
mod attachment;
mod calls;
pub mod flags;
mod segment;
mod stat;
#[cfg(test)]
mod testing;

pub(crate) mod backend;
pub(crate) mod boundary;
pub(crate) mod buf;
pub(crate) mod channel;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod created;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod explain;
pub(crate) mod hot;
pub(crate) mod limits;
pub(crate) mod load_name;
pub(crate) mod log;
pub(crate) mod maps;
pub(crate) mod names;
pub(crate) mod observed;
pub(crate) mod pid;
// Only registry.rs's own tests read `segment()` and `Attachment::flags`.
#[allow(dead_code)]
pub(crate) mod registry;
pub(crate) mod report;
pub(crate) mod ring;
pub(crate) mod shm;
pub(crate) mod sink;
pub(crate) mod subject;
pub(crate) mod validate;

pub use api_error::Error;
pub use attachment::Attachment;
pub use calls::{attach, detach, get, rmid};
pub use segment::Segment;
pub use stat::Stat;

/// For rshm's own C ABI (`rshm`) and preload (`rshm-preload`) crates only: the internals
/// they are thin shells over. Not a stable API: it changes whenever they need it to.
#[doc(hidden)]
pub mod __private {
    /// The check behind `load_name!`.
    pub mod load_name {
        pub use crate::load_name::is_c_string;
    }
    /// The backends that reach the real functions.
    pub mod backend {
        pub use crate::backend::{Backend, FAILED, OWN_QUESTION, Syscall};
    }
    /// The panic boundary of every exported function.
    pub mod boundary {
        pub use crate::boundary::boundary;
    }
    /// The configuration read from the environment.
    pub mod config {
        pub use crate::config::Level;
    }
    /// A call as rshm-trace receives it, and the log line it becomes.
    pub mod event {
        pub use crate::event::{Decoded, Origin, decode, encode};
        pub use crate::log::{Args, Line, Record, Ret, Stamp, json, text};
        pub use crate::names::errno_name;
    }
    /// A call rshm did not make, judged from outside (`rshm-trace --complete`).
    pub mod observed {
        pub use crate::observed::*;
        pub use crate::subject::Subject;
    }
    /// The thread's last error, behind `rshm_last_error()`.
    pub mod error {
        pub use crate::error::last_ptr;
    }
    /// The ring of events a traced process shares with rshm-trace: its layout, and the
    /// consumer rshm-trace reads it with.
    pub mod ring {
        pub use crate::ring::*;
    }
    /// What this process attached and created.
    pub mod registry {
        pub use crate::registry::live_attachments;
    }
    /// What rshm says at exit (`RSHM_REPORT=1`, dropped log lines).
    pub mod report {
        pub use crate::report::at_exit;
    }
    /// The four operations: validate -> backend -> registry -> log.
    pub mod shm {
        pub use crate::shm::{Api, LIBRARY, attach, ctl, detach, get, init_early, rmid};
    }
}
