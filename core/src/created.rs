//! Whether a shmget made the segment ("created" in the log, the registry and the exit
//! report), decided around the program's own call, which goes to the backend exactly as
//! the program made it: an interposer loaded after rshm sees only the program's calls.
//!
//! - `IPC_PRIVATE`, and `IPC_CREAT|IPC_EXCL` that succeeds: made by this call (the kernel's
//!   rule). A call without `IPC_CREAT` never makes one.
//! - Get-or-create (`IPC_CREAT` alone, on a named key): before the call, rshm asks the
//!   kernel directly whether the key has a segment (`shmget(key, 0, 0)`). If it had one and
//!   the call returns that id, the call found it. Otherwise the segment was made after the
//!   question, by this process or by another: rshm asks its creator's pid (`SHM_STAT_ANY`
//!   when read is denied). Another pid: found (a pid reused from the segment's dead maker
//!   cannot match, since the maker made it while this process was alive). This pid: made
//!   by this process, by this call or by another thread's (or a signal handler's) call at
//!   the same moment; each such call claims the segment in the registry, and the first
//!   claim is logged as the maker, so the process logs exactly one creation of it.
//!
//! What is not exact: of two threads of one process that make a creating call for the
//! same key at the same moment, the one logged as the maker is the first to claim, not
//! necessarily the one the kernel served first; when one of them is `IPC_CREAT|IPC_EXCL`,
//! both may be logged as the maker. A segment the process makes with a raw system call,
//! bypassing rshm, at that same moment is not seen.

use crate::backend::{self, Backend, Direct};
use libc::{c_int, key_t, shmid_ds};

/// What a get-or-create found before its call: the key's segment then, if it had one.
pub fn before(key: key_t) -> Option<c_int> {
    let _errno = crate::error::ErrnoGuard::save();
    let id = Direct.shmget(key, 0, 0);
    // ENOENT: no segment. (Another refusal cannot come from a lookup of size 0 and no
    // permission bits; were it to, the creator's pid decides, as for a new segment.)
    (id >= 0 || crate::error::errno() != libc::ENOENT).then_some(id)
}

/// Whether the get-or-create of process `pid` that returned `id` made it, given what
/// [`before`] found and `claim` (the registry's, true for the first claim of `id`); with
/// the segment's state when rshm had to ask for it (its owner serves the squatting
/// warning, see [`squatted`]).
pub fn decide(
    found: Option<c_int>,
    id: c_int,
    pid: c_int,
    claim: impl FnOnce() -> bool,
) -> (bool, Option<shmid_ds>) {
    if found == Some(id) {
        return (false, None);
    }
    let ds = backend::stat_any(&Direct, id).ok();
    let made = ds.is_some_and(|ds| ds.shm_cpid == pid) && claim();
    (made, ds)
}

/// Whether a segment a get-or-create found, `ds`, is another user's: neither owned nor
/// made by effective uid `me` (perhaps a squatter's).
pub fn squatted(ds: &shmid_ds, me: u32) -> bool {
    ds.shm_perm.uid != me && ds.shm_perm.cuid != me
}
