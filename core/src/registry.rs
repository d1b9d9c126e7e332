//! What this process attached (address -> shmid, size, flags, when) and the segments it
//! knows (shmid -> key, size, mode, created here?, attachments held here).
//!
//! Both are fixed-size open-addressing hash tables in static memory. Every operation is
//! lock-free and bounded (at most `MAX_PROBE` slots), allocates nothing and never waits,
//! so it is safe in a signal handler, from any thread, and in a child forked while another
//! thread was inside it (at worst that child sees one slot as busy and skips it).
//!
//! A slot's `tag` holds a generation and a state. Writers claim a slot by moving its tag
//! to BUSY with a compare-and-swap, fill it, and publish it with a new generation; readers
//! copy a slot and keep the copy only if the tag did not change meanwhile (a seqlock
//! without waiting). A detached address stays in its slot as DEAD, so a second detach of
//! it can be explained; DEAD slots are reused by later inserts.

use crate::clock::Stamp;
use core::sync::atomic::{AtomicU64, Ordering::*};

const EMPTY: u64 = 0;
const LIVE: u64 = 1;
const DEAD: u64 = 2;
const BUSY: u64 = 3;
const MAX_PROBE: usize = 32;

/// Capacity of the attachment table; Linux allows about 65530 mappings per process.
pub const ATTACH_SLOTS: usize = 1 << 16;
/// Capacity of the segment table: IPCMNI, the kernel's limit on segment indexes (unless
/// booted with ipcmni_extend; then ids whose index agrees mod 2^15 share a slot and the
/// newer one wins).
pub const SEGMENT_SLOTS: usize = 1 << 15;

/// One entry: 56 bytes, aligned to a cache line so a lookup touches one line (the calls
/// run right after a system call has evicted most of the cache).
#[repr(align(64))]
struct Slot {
    tag: AtomicU64,
    key: AtomicU64,
    v: [AtomicU64; 5],
}

impl Slot {
    const fn new() -> Self {
        Self {
            tag: AtomicU64::new(0),
            key: AtomicU64::new(0),
            v: [const { AtomicU64::new(0) }; 5],
        }
    }
}

/// A copy of one slot, with the tag it was read under.
#[derive(Clone, Copy, Debug)]
struct Seen {
    idx: usize,
    tag: u64,
    v: [u64; 5],
}

/// `DIRECT`: the key's low bits are its slot and there is no probing (the segment table:
/// the kernel never has two live segments whose ids agree in the low 15 bits, their index).
struct Table<const N: usize, const DIRECT: bool> {
    slots: [Slot; N],
}

fn state(tag: u64) -> u64 {
    tag & 3
}

fn with_state(tag: u64, s: u64) -> u64 {
    (tag & !3) | s
}

fn next_gen(tag: u64, s: u64) -> u64 {
    (tag & !3).wrapping_add(4) | s
}

impl<const N: usize, const DIRECT: bool> Table<N, DIRECT> {
    const fn new() -> Self {
        Self {
            slots: [const { Slot::new() }; N],
        }
    }

    fn home(key: u64) -> usize {
        if DIRECT {
            return key as usize & (N - 1);
        }
        // Fibonacci hashing: the top bits of key * 2^64/phi spread page-aligned keys well.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - N.trailing_zeros())) as usize
    }

    fn probe(key: u64) -> impl Iterator<Item = usize> {
        let h = Self::home(key);
        let len = if DIRECT { 1 } else { MAX_PROBE.min(N) };
        (0..len).map(move |i| (h + i) & (N - 1))
    }

    /// The entry for `key` in state `want`, copied consistently.
    fn find(&self, key: u64, want: u64) -> Option<Seen> {
        for idx in Self::probe(key) {
            let s = &self.slots[idx];
            let tag = s.tag.load(Acquire);
            match state(tag) {
                EMPTY => return None,
                st if st == want && s.key.load(Acquire) == key => {
                    let v = core::array::from_fn(|i| s.v[i].load(Acquire));
                    if s.tag.load(Acquire) == tag {
                        return Some(Seen { idx, tag, v });
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Puts `key` -> `v` in as LIVE: over an entry for the same key if the chain has one,
    /// else in the first free or DEAD slot. False if no slot could be had.
    fn insert(&self, key: u64, v: [u64; 5]) -> bool {
        for _attempt in 0..4 {
            let mut same = None;
            let mut free = None;
            for idx in Self::probe(key) {
                let s = &self.slots[idx];
                let tag = s.tag.load(Acquire);
                match state(tag) {
                    EMPTY => {
                        free.get_or_insert((idx, tag));
                        break;
                    }
                    LIVE | DEAD if s.key.load(Acquire) == key => {
                        same = Some((idx, tag));
                        break;
                    }
                    DEAD => {
                        free.get_or_insert((idx, tag));
                    }
                    // A direct slot held by another id is stale: the kernel reused its index.
                    LIVE if DIRECT => {
                        free.get_or_insert((idx, tag));
                    }
                    _ => {}
                }
            }
            let Some((idx, tag)) = same.or(free) else {
                return false;
            };
            let s = &self.slots[idx];
            if s.tag
                .compare_exchange(tag, with_state(tag, BUSY), Acquire, Relaxed)
                .is_ok()
            {
                s.key.store(key, Relaxed);
                for (a, x) in s.v.iter().zip(v) {
                    a.store(x, Relaxed);
                }
                s.tag.store(next_gen(tag, LIVE), Release);
                return true;
            }
        }
        false
    }

    /// Runs `f` on the values of the slot `seen` was read from, if it has not changed
    /// since, and leaves the slot in state `to`. False if the slot changed.
    fn update(&self, seen: &Seen, to: u64, f: impl FnOnce(&[AtomicU64; 5])) -> bool {
        let s = &self.slots[seen.idx];
        if s.tag
            .compare_exchange(seen.tag, with_state(seen.tag, BUSY), Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        f(&s.v);
        s.tag.store(next_gen(seen.tag, to), Release);
        true
    }

    /// Finds the LIVE entry for `key` and updates it as `update` does, trying again (a
    /// bounded number of times) when another thread changed it in between. `to` picks the
    /// state to leave it in from what was read. False if there is no such entry.
    fn modify(
        &self,
        key: u64,
        to: impl Fn(&[u64; 5]) -> u64,
        mut f: impl FnMut(&[AtomicU64; 5]),
    ) -> bool {
        for _attempt in 0..8 {
            let Some(seen) = self.find(key, LIVE) else {
                return false;
            };
            if self.update(&seen, to(&seen.v), &mut f) {
                return true;
            }
        }
        false
    }

    fn count(&self, want: u64) -> usize {
        self.slots
            .iter()
            .filter(|s| state(s.tag.load(Relaxed)) == want)
            .count()
    }

    fn each(&self, want: u64, mut f: impl FnMut(u64, [u64; 5])) {
        for s in &self.slots {
            let tag = s.tag.load(Acquire);
            if state(tag) == want {
                let key = s.key.load(Acquire);
                let v = core::array::from_fn(|i| s.v[i].load(Acquire));
                if s.tag.load(Acquire) == tag {
                    f(key, v);
                }
            }
        }
    }
}

static ATTACHMENTS: Table<ATTACH_SLOTS, false> = Table::new();
static SEGMENTS: Table<SEGMENT_SLOTS, true> = Table::new();
static UNTRACKED: AtomicU64 = AtomicU64::new(0);

/// One attachment, as the registry holds it.
#[derive(Clone, Copy, Debug)]
pub struct Attachment {
    seen: Seen,
    /// The attach address.
    pub addr: usize,
    /// The segment attached.
    pub shmid: i32,
    /// Its size in bytes (0 if unknown).
    pub size: u64,
    /// The shmat flags used.
    pub flags: i32,
    /// The process that attached it (a forked child inherits its parent's attachments).
    pub pid: i32,
    /// When it was attached (`Stamp(0)` if unknown).
    pub attached: Stamp,
    /// When it was detached (`Stamp(0)` while attached).
    pub detached: Stamp,
}

impl Attachment {
    fn from(addr: usize, seen: Seen) -> Self {
        Self {
            seen,
            addr,
            shmid: seen.v[0] as i32,
            size: seen.v[1],
            flags: seen.v[2] as u32 as i32,
            pid: (seen.v[2] >> 32) as i32,
            attached: Stamp(seen.v[3]),
            detached: Stamp(seen.v[4]),
        }
    }
}

const CREATED: u64 = 1 << 16;
const REMOVED: u64 = 1 << 17;

/// One segment, as the registry knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its id.
    pub shmid: i32,
    /// Its key (`IPC_PRIVATE` is 0).
    pub key: i32,
    /// Its size in bytes (0 if unknown).
    pub size: u64,
    /// Its permission bits.
    pub mode: u32,
    /// True if this process created it.
    pub created: bool,
    /// True once this process marked it for removal.
    pub removed: bool,
    /// The pid that created it (when `created`).
    pub creator: i32,
    /// When this process first saw it.
    pub since: Stamp,
    /// Attachments of it this process holds.
    pub attached: u64,
}

impl Segment {
    fn from(shmid: u64, v: [u64; 5]) -> Self {
        Self {
            shmid: shmid as i32,
            key: v[0] as u32 as i32,
            size: v[1],
            mode: (v[2] & 0o777) as u32,
            created: v[2] & CREATED != 0,
            removed: v[2] & REMOVED != 0,
            creator: (v[2] >> 32) as i32,
            since: Stamp(v[3]),
            attached: v[4],
        }
    }
}

fn seg_key(shmid: i32) -> u64 {
    shmid as u32 as u64
}

/// Records a segment this process got from shmget. `created` says the call made it.
pub fn segment_got(
    shmid: i32,
    key: i32,
    size: u64,
    mode: u32,
    created: bool,
    pid: i32,
    now: Stamp,
) {
    let k = seg_key(shmid);
    // Known already (got twice, or attached before): keep its counts, learn what is new.
    let known = SEGMENTS.modify(
        k,
        |_| LIVE,
        |v| {
            v[0].store(key as u32 as u64, Relaxed);
            if v[1].load(Relaxed) == 0 || created {
                v[1].store(size, Relaxed);
            }
            if created {
                v[2].store(
                    u64::from(mode & 0o777) | CREATED | ((pid as u32 as u64) << 32),
                    Relaxed,
                );
            }
        },
    );
    if known {
        return;
    }
    let flags = u64::from(mode & 0o777)
        | if created {
            CREATED | ((pid as u32 as u64) << 32)
        } else {
            0
        };
    if !SEGMENTS.insert(k, [key as u32 as u64, size, flags, now.0, 0]) {
        UNTRACKED.fetch_add(1, Relaxed);
    }
}

/// The segment `shmid`, if this process knows it.
pub fn segment(shmid: i32) -> Option<Segment> {
    SEGMENTS
        .find(seg_key(shmid), LIVE)
        .map(|s| Segment::from(seg_key(shmid), s.v))
}

/// Records that this process marked `shmid` for removal; the entry goes when the last
/// attachment held here goes (or now, if there is none).
pub fn segment_removed(shmid: i32) {
    SEGMENTS.modify(
        seg_key(shmid),
        |v| if v[4] == 0 { DEAD } else { LIVE },
        |v| {
            // The slot is this thread's (BUSY) until published: no atomic RMW needed.
            v[2].store(v[2].load(Relaxed) | REMOVED, Relaxed);
        },
    );
}

/// Records an attachment at `addr` of segment `shmid`, made by process `pid`, and counts
/// it on the segment. The segment's size comes from the segment table, or from
/// `size_unknown` (asked only when the table does not know it).
pub fn attached(
    addr: usize,
    shmid: i32,
    flags: i32,
    pid: i32,
    now: Stamp,
    size_unknown: impl FnOnce() -> u64,
) {
    let k = seg_key(shmid);
    let mut size = 0;
    // The slot is this thread's (BUSY) inside `modify`: plain loads and stores suffice.
    let counted = SEGMENTS.modify(
        k,
        |_| LIVE,
        |v| {
            v[4].store(v[4].load(Relaxed) + 1, Relaxed);
            size = v[1].load(Relaxed);
        },
    );
    if size == 0 {
        size = size_unknown();
        if counted && size != 0 {
            SEGMENTS.modify(k, |_| LIVE, |v| v[1].store(size, Relaxed));
        }
    }
    if !counted && !SEGMENTS.insert(k, [0, size, 0, now.0, 1]) {
        UNTRACKED.fetch_add(1, Relaxed);
    }
    let packed = flags as u32 as u64 | ((pid as u32 as u64) << 32);
    if !ATTACHMENTS.insert(addr as u64, [shmid as u32 as u64, size, packed, now.0, 0]) {
        UNTRACKED.fetch_add(1, Relaxed);
    }
}

/// The live attachment at `addr`.
pub fn attachment(addr: usize) -> Option<Attachment> {
    ATTACHMENTS
        .find(addr as u64, LIVE)
        .map(|s| Attachment::from(addr, s))
}

/// The most recent detached attachment at `addr`, if the registry still remembers it.
pub fn detached_attachment(addr: usize) -> Option<Attachment> {
    ATTACHMENTS
        .find(addr as u64, DEAD)
        .map(|s| Attachment::from(addr, s))
}

/// Records that `a` (as read before the detach) was detached. If the address was attached
/// again meanwhile by another thread, that newer entry is left alone.
pub fn detached(a: &Attachment, now: Stamp) {
    let done = ATTACHMENTS.update(&a.seen, DEAD, |v| v[4].store(now.0, Relaxed));
    if !done {
        return;
    }
    SEGMENTS.modify(
        seg_key(a.shmid),
        |v| {
            if v[4] <= 1 && v[2] & REMOVED != 0 {
                DEAD
            } else {
                LIVE
            }
        },
        |v| {
            let n = v[4].load(Relaxed);
            v[4].store(n.saturating_sub(1), Relaxed);
        },
    );
}

/// Attachments of `shmid` this process holds.
pub fn attach_count(shmid: i32) -> u64 {
    SEGMENTS.find(seg_key(shmid), LIVE).map_or(0, |s| s.v[4])
}

/// How many attachments the registry holds (a scan: for reports and tests, not hot paths).
pub fn live_attachments() -> usize {
    ATTACHMENTS.count(LIVE)
}

/// Calls `f` for every live attachment (a scan).
pub fn each_attachment(mut f: impl FnMut(&Attachment)) {
    ATTACHMENTS.each(LIVE, |k, v| {
        let seen = Seen { idx: 0, tag: 0, v };
        f(&Attachment::from(k as usize, seen))
    });
}

/// Calls `f` for every known segment (a scan).
pub fn each_segment(mut f: impl FnMut(&Segment)) {
    SEGMENTS.each(LIVE, |k, v| f(&Segment::from(k, v)));
}

/// Entries that did not fit (the tables were full along their probe chain).
pub fn untracked() -> u64 {
    UNTRACKED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The tables are process-wide; each test uses its own address range and ids.

    #[test]
    fn attach_then_detach_keeps_a_dead_record() {
        let addr = 0x5000_0000_0000;
        attached(addr, 900_001, 0, 1, Stamp(11), || 4096);
        let a = attachment(addr).expect("live");
        assert_eq!((a.shmid, a.size, a.attached), (900_001, 4096, Stamp(11)));
        assert_eq!(attach_count(900_001), 1);
        detached(&a, Stamp(22));
        assert!(attachment(addr).is_none());
        let d = detached_attachment(addr).expect("dead record");
        assert_eq!((d.shmid, d.detached), (900_001, Stamp(22)));
        assert_eq!(attach_count(900_001), 0);
    }

    #[test]
    fn reattach_at_same_address_replaces_the_entry_and_a_stale_detach_is_ignored() {
        let addr = 0x5100_0000_0000;
        attached(addr, 900_010, 0, 1, Stamp(1), || 4096);
        let old = attachment(addr).unwrap();
        // Another thread detaches, the kernel hands the address out again, and the new
        // attach is recorded before the first thread records its detach.
        attached(addr, 900_011, 0, 1, Stamp(2), || 8192);
        detached(&old, Stamp(3));
        let now = attachment(addr).expect("the new attachment survives");
        assert_eq!((now.shmid, now.size), (900_011, 8192));
    }

    #[test]
    fn removal_while_attached_keeps_the_segment_until_the_last_detach() {
        let id = 900_020;
        segment_got(id, 0x1234, 4096, 0o600, true, 77, Stamp(5));
        attached(0x5200_0000_0000, id, 0, 1, Stamp(6), || 4096);
        attached(0x5200_0001_0000, id, 0, 1, Stamp(6), || 4096);
        assert_eq!(attach_count(id), 2);
        segment_removed(id);
        let s = segment(id).unwrap();
        assert!(s.removed && s.created);
        assert_eq!(
            (s.key, s.size, s.mode, s.creator),
            (0x1234, 4096, 0o600, 77)
        );
        detached(&attachment(0x5200_0000_0000).unwrap(), Stamp(7));
        assert_eq!(segment(id).map(|s| s.attached), Some(1));
        detached(&attachment(0x5200_0001_0000).unwrap(), Stamp(8));
        assert!(segment(id).is_none());
    }

    #[test]
    fn thousands_of_entries_colliding_or_not_are_all_found() {
        let base = 0x6000_0000_0000usize;
        for i in 0..5000 {
            attached(base + i * 4096, 910_000 + i as i32, 0, 1, Stamp(1), || 4096);
        }
        for i in 0..5000 {
            assert_eq!(
                attachment(base + i * 4096).map(|a| a.shmid),
                Some(910_000 + i as i32)
            );
        }
        for i in 0..5000 {
            detached(&attachment(base + i * 4096).unwrap(), Stamp(2));
        }
        assert!((0..5000).all(|i| attachment(base + i * 4096).is_none()));
    }
}
