//! The words every call reads, kept together in one cache line. A call runs right after
//! a system call has pushed most of the process out of the cache, so each further line
//! it touches costs more than the work done with it. Each word belongs to the module
//! named in its comment, which alone reads and writes it.

use core::sync::atomic::{AtomicU8, AtomicU64};

/// The hot words (see the module comment).
#[repr(C, align(64))]
pub struct Hot {
    /// [`crate::config`]: the configuration, packed (0 until the environment is read).
    pub config: AtomicU64,
    /// [`crate::limits`]: SHMLBA (0 until the limits are read; stored last).
    pub shmlba: AtomicU64,
    /// [`crate::limits`]: SHMMIN, SHMMAX, SHMALL and SHMMNI (shmget's checks).
    pub limits: [AtomicU64; 4],
    /// [`crate::clock`]: what a stamp counts (0 until decided).
    pub clock: AtomicU8,
    /// [`crate::pid`]: whether the pid page is wiped on fork (0 until set up).
    pub pid_page: AtomicU8,
}

const _: () = assert!(
    core::mem::size_of::<Hot>() == 64,
    "the hot words fill one line"
);

/// The one instance.
pub static HOT: Hot = Hot {
    config: AtomicU64::new(0),
    shmlba: AtomicU64::new(0),
    limits: [const { AtomicU64::new(0) }; 4],
    clock: AtomicU8::new(0),
    pid_page: AtomicU8::new(0),
};
