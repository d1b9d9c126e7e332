//! rshm: System V shared memory, checked, logged and tracked.
//!
//! Each call (`get`, `attach`, `detach`, `rmid` in [`shm`]) checks its arguments before
//! the kernel sees them, logs one line, and keeps the registry of what this process made
//! and attached. The C ABI (`rshm_get`, `rshm_at`, `rshm_dt`, `rshm_rmid`,
//! `rshm_last_error`) is in `ffi`, behind the `capi` feature.

pub mod backend;
pub mod boundary;
pub mod buf;
pub mod clock;
pub mod config;
pub mod error;
pub mod explain;
pub mod hot;
pub mod limits;
pub mod log;
pub mod maps;
pub mod names;
pub mod pid;
pub mod registry;
pub mod report;
pub mod shm;
pub mod validate;

pub use error::Error;
