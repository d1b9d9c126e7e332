//! What this process attached (address -> shmid, size, flags, when) and the segments it
//! knows (shmid -> key, size, mode, created here?, attachments held here).
//!
//! Both are fixed-size open-addressing hash tables in static memory. Every operation is
//! lock-free and bounded (at most `MAX_PROBE` slots; a count word's compare-and-swap is
//! tried again only when another thread's succeeded), allocates nothing and never waits,
//! so it is safe in a signal handler, from any thread, and in a child forked while another
//! thread was inside it (at worst that child sees one slot as busy and skips it).
//!
//! A slot's `tag` holds a generation and a state. Writers claim a slot by moving its tag
//! to BUSY with a compare-and-swap, fill it, and publish it with a new generation; readers
//! copy a slot and keep the copy only if the tag did not change meanwhile (a seqlock
//! without waiting). A detached address stays in its slot as DEAD, so a second detach of
//! it can be explained; DEAD slots are reused by later inserts.
//!
//! Counts cannot drift. A segment's count of attachments held here is one word (the id
//! and the count) updated by compare-and-swap apart from the slot's BUSY protocol, so a
//! busy slot never loses an update, and it moves with the attachment table alone: +1 just
//! before an attachment's entry is published LIVE, -1 by whoever moves that entry out of
//! LIVE (a compare-and-swap only one thread wins): its detach, or an attach the kernel gave
//! the same address (the old attachment is gone then, whether its detach has been recorded
//! yet or not), or the check each attach makes afterwards that no other LIVE entry has its
//! address (two threads attaching at one address with SHM_REMAP). An attachment that finds
//! no room is not counted on its segment but as untracked; while one is held, per-segment
//! counts are unknown rather than wrong.

use crate::clock::Stamp;
use core::sync::atomic::{AtomicU64, Ordering::*};

const EMPTY: u64 = 0;
const LIVE: u64 = 1;
const DEAD: u64 = 2;
const BUSY: u64 = 3;
const MAX_PROBE: usize = 32;
/// How often an insert starts over after another thread took the slot it chose.
const INSERT_TRIES: usize = 64;

/// Between two tries of an insert that met a slot another thread held: a pause, then,
/// from the eighth try, the processor given up (the holder may have been preempted).
/// Bounded: a signal handler that interrupted the holder on its own thread gives up after
/// INSERT_TRIES, and the entry is counted as one that did not fit.
fn backoff(attempt: usize) {
    if attempt < 8 {
        for _ in 0..(1 << attempt) {
            core::hint::spin_loop();
        }
    } else {
        // SAFETY: sched_yield takes no arguments.
        unsafe { libc::sched_yield() };
    }
}

/// Capacity of the attachment table: twice the mappings Linux allows a process by default
/// (vm.max_map_count, 65530), so that the table is at most half full and every attachment
/// the kernel allows finds a place within `MAX_PROBE` slots.
pub const ATTACH_SLOTS: usize = 1 << 17;
/// Capacity of the segment table: IPCMNI, the kernel's limit on segment indexes (unless
/// booted with ipcmni_extend; then ids whose index agrees mod 2^15 share a slot and the
/// newer one wins).
pub const SEGMENT_SLOTS: usize = 1 << 15;

/// One entry: 64 bytes, a cache line, so a lookup touches one line (the calls run right
/// after a system call has evicted most of the cache).
#[repr(align(64))]
struct Slot {
    tag: AtomicU64,
    key: AtomicU64,
    v: [AtomicU64; 5],
    /// Segment table only: attachments of the segment held here, as `id << 32 | count`,
    /// outside the BUSY protocol (see the module's documentation).
    held: AtomicU64,
}

impl Slot {
    const fn new() -> Self {
        Self {
            tag: AtomicU64::new(0),
            key: AtomicU64::new(0),
            v: [const { AtomicU64::new(0) }; 5],
            held: AtomicU64::new(0),
        }
    }

    /// The values, copied under `tag`; `None` if the slot changed meanwhile.
    fn copy(&self, tag: u64) -> Option<[u64; 5]> {
        let v = core::array::from_fn(|i| self.v[i].load(Acquire));
        (self.tag.load(Acquire) == tag).then_some(v)
    }
}

/// A copy of one slot, with the tag it was read under.
#[derive(Clone, Copy, Debug)]
struct Seen {
    idx: usize,
    tag: u64,
    v: [u64; 5],
}

/// What [`Table::insert`] did.
#[derive(Debug, PartialEq, Eq)]
enum Put {
    /// Published LIVE in slot `idx` under `tag`; `old` is the LIVE entry for the same key it
    /// replaced, if there was one.
    Done {
        idx: usize,
        tag: u64,
        old: Option<[u64; 5]>,
    },
    /// The key has a LIVE entry, and it was not to be replaced.
    Kept,
    /// No slot could be had.
    Full,
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
    // Inline: a call into code elsewhere costs a cold fetch right after the system call.
    #[inline(always)]
    fn find(&self, key: u64, want: u64) -> Option<Seen> {
        for idx in Self::probe(key) {
            let s = &self.slots[idx];
            // A slot rewritten while being read is read again (a few times: never waits).
            for _ in 0..4 {
                let tag = s.tag.load(Acquire);
                match state(tag) {
                    EMPTY => return None,
                    st if st == want && s.key.load(Acquire) == key => {
                        if let Some(v) = s.copy(tag) {
                            return Some(Seen { idx, tag, v });
                        }
                    }
                    _ => break,
                }
            }
        }
        None
    }

    /// Puts `key` -> `v` in as LIVE: over an entry for the same key if the chain has one
    /// (unless it is LIVE and `replace_live` is false), else in the first free or DEAD slot.
    /// With `seq_cst`, the publication is sequentially consistent, for
    /// [`Table::drop_duplicates`]; otherwise a release store.
    #[inline(always)]
    fn insert(&self, key: u64, v: [u64; 5], replace_live: bool, seq_cst: bool) -> Put {
        for attempt in 0..INSERT_TRIES {
            if attempt > 0 {
                backoff(attempt);
            }
            let mut same = None;
            let mut free = None;
            let mut busy = false;
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
                    BUSY => busy = true,
                    _ => {}
                }
            }
            if !replace_live && same.is_some_and(|(_, tag)| state(tag) == LIVE) {
                return Put::Kept;
            }
            let Some((idx, tag)) = same.or(free) else {
                // A slot another thread holds for a moment may be the one: wait for it.
                if busy {
                    continue;
                }
                return Put::Full;
            };
            let s = &self.slots[idx];
            if s.tag
                .compare_exchange(tag, with_state(tag, BUSY), Acquire, Relaxed)
                .is_ok()
            {
                // The slot is this thread's (BUSY): what it held cannot change under us.
                let old = (state(tag) == LIVE && s.key.load(Relaxed) == key)
                    .then(|| core::array::from_fn(|i| s.v[i].load(Relaxed)));
                s.key.store(key, Relaxed);
                for (a, x) in s.v.iter().zip(v) {
                    a.store(x, Relaxed);
                }
                let tag = next_gen(tag, LIVE);
                s.tag.store(tag, if seq_cst { SeqCst } else { Release });
                return Put::Done { idx, tag, old };
            }
        }
        Put::Full
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

    /// Moves the LIVE entry in slot `idx`, read under `tag`, to DEAD with `now` in its
    /// last value, and returns what it held; `None` if another thread changed it first
    /// (then that thread accounts for it).
    #[inline(always)]
    fn retire(&self, idx: usize, tag: u64, now: u64) -> Option<[u64; 5]> {
        if state(tag) != LIVE {
            return None;
        }
        let s = self.slots.get(idx)?;
        s.tag
            .compare_exchange(tag, with_state(tag, BUSY), Acquire, Relaxed)
            .ok()?;
        let v = core::array::from_fn(|i| s.v[i].load(Relaxed));
        s.v[4].store(now, Relaxed);
        s.tag.store(next_gen(tag, DEAD), Release);
        Some(v)
    }

    /// After publishing `key` in slot `idx` under `tag` (with attach stamp `stamp`): if
    /// another LIVE entry has the same key (two inserts of one key at once, each passing
    /// the other's slot while it was busy), one of the two is retired, the older by
    /// (stamp, slot), and `gone` is called with what it held. Both inserters check after
    /// publishing (sequentially consistent), so at least one of them sees the other; both
    /// pick the same one to retire, and only one retires it.
    #[inline(always)]
    fn drop_duplicates(
        &self,
        key: u64,
        idx: usize,
        tag: u64,
        stamp: u64,
        now: u64,
        mut gone: impl FnMut(&[u64; 5]),
    ) {
        for j in Self::probe(key) {
            if j == idx {
                continue;
            }
            let s = &self.slots[j];
            let t = s.tag.load(SeqCst);
            match state(t) {
                EMPTY => return,
                LIVE if s.key.load(Acquire) == key => {
                    // Changed meanwhile: its writer makes this check itself after publishing.
                    let Some(v) = s.copy(t) else { continue };
                    let (loser, loser_tag) = if (v[3], j) < (stamp, idx) {
                        (j, t)
                    } else {
                        (idx, tag)
                    };
                    if let Some(old) = self.retire(loser, loser_tag, now) {
                        gone(&old);
                    }
                    if loser == idx {
                        return;
                    }
                }
                _ => {}
            }
        }
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
                if let Some(v) = s.copy(tag) {
                    f(key, v);
                }
            }
        }
    }
}

/// The two tables and the count of what did not fit.
///
/// The two counters come first (`repr(C)`): the preload library's link places this table
/// right after the small statics every call writes, so reading them (each shmdt and
/// shmctl does) touches no page of its own (see preload/layout.ld).
#[repr(C)]
struct Registry<const A: usize, const S: usize> {
    /// Entries that did not fit, ever (for the exit report).
    untracked: AtomicU64,
    /// Attachments that did not fit and have not been seen detached since: while there is
    /// one, per-segment counts are unknown.
    untracked_live: AtomicU64,
    attachments: Table<A, false>,
    segments: Table<S, true>,
}

static REGISTRY: Registry<ATTACH_SLOTS, SEGMENT_SLOTS> = Registry::new();

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
    /// Attachments of it this process holds (as recorded: see [`attach_count`]).
    pub attached: u64,
}

impl Segment {
    fn from(shmid: u64, v: [u64; 5], attached: u64) -> Self {
        Self {
            shmid: shmid as i32,
            key: v[0] as u32 as i32,
            size: v[1],
            mode: (v[2] & 0o777) as u32,
            created: v[2] & CREATED != 0,
            removed: v[2] & REMOVED != 0,
            creator: (v[2] >> 32) as i32,
            since: Stamp(v[3]),
            attached,
        }
    }
}

fn seg_key(shmid: i32) -> u64 {
    shmid as u32 as u64
}

const COUNT: u64 = 0xffff_ffff;

impl<const A: usize, const S: usize> Registry<A, S> {
    const fn new() -> Self {
        Self {
            attachments: Table::new(),
            segments: Table::new(),
            untracked: AtomicU64::new(0),
            untracked_live: AtomicU64::new(0),
        }
    }

    /// The count word of `shmid`: in its segment slot, whatever the slot's state.
    #[inline(always)]
    fn held_word(&self, shmid: i32) -> &AtomicU64 {
        &self.segments.slots[Table::<S, true>::home(seg_key(shmid))].held
    }

    /// Attachments of `shmid` recorded LIVE.
    #[inline(always)]
    fn held(&self, shmid: i32) -> u64 {
        let w = self.held_word(shmid).load(Acquire);
        if w >> 32 == seg_key(shmid) {
            w & COUNT
        } else {
            0
        }
    }

    /// One more attachment of `shmid`. A word that names another id is stale (the kernel
    /// reused the index, so that segment is gone) and starts over.
    #[inline(always)]
    fn held_add(&self, shmid: i32) {
        let id = seg_key(shmid) << 32;
        let w = self.held_word(shmid);
        // A compare-and-swap fails only when another thread's succeeded: lock-free.
        let _ = w.fetch_update(AcqRel, Acquire, |cur| {
            Some(if cur & !COUNT == id {
                id | (cur & COUNT).saturating_add(1).min(COUNT)
            } else {
                id | 1
            })
        });
    }

    /// One attachment of `shmid` fewer; the count left (0 if the word names another id).
    #[inline(always)]
    fn held_sub(&self, shmid: i32) -> u64 {
        let id = seg_key(shmid) << 32;
        let r = self.held_word(shmid).fetch_update(AcqRel, Acquire, |cur| {
            (cur & !COUNT == id && cur & COUNT > 0).then(|| cur - 1)
        });
        r.map_or(0, |was| (was & COUNT) - 1)
    }

    /// An attachment entry of `v` left LIVE (retired by one thread, so once): its segment
    /// counts one fewer, and a segment marked for removal goes with its last one.
    #[inline(always)]
    fn attachment_gone(&self, v: &[u64; 5]) {
        let shmid = v[0] as u32 as i32;
        if self.held_sub(shmid) == 0 {
            self.forget_if_removed(shmid);
        }
    }

    /// Drops the entry of `shmid` if it is marked for removal and no attachment is held.
    #[inline(always)]
    fn forget_if_removed(&self, shmid: i32) {
        let Some(seen) = self.segments.find(seg_key(shmid), LIVE) else {
            return;
        };
        if seen.v[2] & REMOVED != 0 && self.held(shmid) == 0 {
            self.segments.update(&seen, DEAD, |_| {});
        }
    }

    // The seven arguments of the public `segment_got`, and the registry.
    #[allow(clippy::too_many_arguments)]
    fn segment_got(
        &self,
        shmid: i32,
        key: i32,
        size: u64,
        mode: u32,
        created: bool,
        pid: i32,
        now: Stamp,
    ) {
        let k = seg_key(shmid);
        let flags = u64::from(mode & 0o777)
            | if created {
                CREATED | ((pid as u32 as u64) << 32)
            } else {
                0
            };
        for _ in 0..INSERT_TRIES {
            // Known already (got twice, attached before, or claimed by another thread just
            // now): keep what it knows, learn what is new.
            let known = self.segments.modify(
                k,
                |_| LIVE,
                |v| {
                    v[0].store(key as u32 as u64, Relaxed);
                    if v[1].load(Relaxed) == 0 || created {
                        v[1].store(size, Relaxed);
                    }
                    if created {
                        v[2].store(flags | (v[2].load(Relaxed) & REMOVED), Relaxed);
                    }
                },
            );
            if known {
                return;
            }
            // Never over a live entry of this id: another thread may have put it there since
            // (with its claim of the segment), and it is then modified instead.
            let v = [key as u32 as u64, size, flags, now.0, 0];
            match self.segments.insert(k, v, false, false) {
                Put::Done { .. } => return,
                Put::Full => break,
                Put::Kept => {}
            }
        }
        self.untracked.fetch_add(1, Relaxed);
    }

    /// Marks `shmid` (of `key`) as created by this process unless it already is: true for
    /// the one call that marks it. The segment table has one place per index, so two
    /// threads claiming one id meet in it. An entry of an earlier segment with that id
    /// (another key) is replaced. When the table cannot tell (the place stays busy), true.
    fn claim_created(
        &self,
        shmid: i32,
        key: i32,
        size: u64,
        mode: u32,
        pid: i32,
        now: Stamp,
    ) -> bool {
        let k = seg_key(shmid);
        let marked = u64::from(mode & 0o777) | CREATED | ((pid as u32 as u64) << 32);
        for _ in 0..INSERT_TRIES {
            match self.segments.find(k, LIVE) {
                Some(seen) if seen.v[2] & CREATED != 0 && seen.v[0] == key as u32 as u64 => {
                    return false;
                }
                Some(seen) => {
                    let done = self.segments.update(&seen, LIVE, |v| {
                        v[0].store(key as u32 as u64, Relaxed);
                        v[1].store(size, Relaxed);
                        v[2].store(marked | (v[2].load(Relaxed) & REMOVED), Relaxed);
                    });
                    if done {
                        return true;
                    }
                }
                None => {
                    let v = [key as u32 as u64, size, marked, now.0, 0];
                    match self.segments.insert(k, v, false, false) {
                        Put::Done { .. } => return true,
                        Put::Full => return true,
                        // Another thread put it there meanwhile: look again.
                        Put::Kept => {}
                    }
                }
            }
        }
        true
    }

    fn segment(&self, shmid: i32) -> Option<Segment> {
        let k = seg_key(shmid);
        self.segments
            .find(k, LIVE)
            .map(|s| Segment::from(k, s.v, self.held(shmid)))
    }

    fn segment_removed(&self, shmid: i32) {
        // The slot is this thread's (BUSY) until published: no atomic RMW needed.
        self.segments.modify(
            seg_key(shmid),
            |_| LIVE,
            |v| v[2].store(v[2].load(Relaxed) | REMOVED, Relaxed),
        );
        self.forget_if_removed(shmid);
    }

    #[inline(always)]
    fn attached(&self, addr: usize, shmid: i32, flags: i32, pid: i32, now: Stamp, known_size: u64) {
        let k = seg_key(shmid);
        let seg = self.segments.find(k, LIVE);
        let mut size = seg.map_or(0, |s| s.v[1]);
        if size == 0 && known_size != 0 {
            size = known_size;
            if seg.is_some() {
                self.segments
                    .modify(k, |_| LIVE, |v| v[1].store(size, Relaxed));
            }
        }
        if seg.is_none()
            && self
                .segments
                .insert(k, [0, size, 0, now.0, 0], false, false)
                == Put::Full
        {
            self.untracked.fetch_add(1, Relaxed);
        }
        // Counted before the entry is LIVE: whoever retires it, at once or not, subtracts
        // from a count that already has it.
        self.held_add(shmid);
        let packed = flags as u32 as u64 | ((pid as u32 as u64) << 32);
        let v = [shmid as u32 as u64, size, packed, now.0, 0];
        // Two live entries for one address need two inserts of it at once: the kernel hands
        // an address to two attaches in a row only with SHM_REMAP (without it, a mapping
        // must be gone before its address is given again, and the second insert finds the
        // first's entry and replaces it). Only SHM_REMAP attaches pay for the check.
        let remap = flags & libc::SHM_REMAP != 0;
        match self.attachments.insert(addr as u64, v, true, remap) {
            Put::Done { idx, tag, old } => {
                // The kernel gave this address again: what the entry held is gone (its
                // detach not yet recorded, or the mapping replaced with SHM_REMAP, or
                // unmapped without rshm).
                if let Some(old) = old {
                    self.attachment_gone(&old);
                }
                if remap {
                    let gone = |old: &[u64; 5]| self.attachment_gone(old);
                    self.attachments
                        .drop_duplicates(addr as u64, idx, tag, now.0, now.0, gone);
                }
            }
            Put::Kept | Put::Full => {
                self.held_sub(shmid);
                self.untracked.fetch_add(1, Relaxed);
                self.untracked_live.fetch_add(1, Relaxed);
            }
        }
    }

    #[inline(always)]
    fn detached(&self, a: &Attachment, now: Stamp) {
        if let Some(v) = self.attachments.retire(a.seen.idx, a.seen.tag, now.0) {
            self.attachment_gone(&v);
        }
    }

    fn untracked_detached(&self) -> bool {
        self.untracked_live
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    fn attach_count(&self, shmid: i32) -> Option<u64> {
        (self.untracked_live.load(Relaxed) == 0).then(|| self.held(shmid))
    }

    fn live_attachments(&self) -> usize {
        self.attachments.count(LIVE) + self.untracked_live.load(Relaxed) as usize
    }
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
    REGISTRY.segment_got(shmid, key, size, mode, created, pid, now);
}

/// Marks segment `shmid` (of `key`) as made by this process, unless it already is: true
/// for the one call that marks it, so one segment is logged as created once, whichever
/// threads race to say so.
pub fn claim_created(shmid: i32, key: i32, size: u64, mode: u32, pid: i32, now: Stamp) -> bool {
    REGISTRY.claim_created(shmid, key, size, mode, pid, now)
}

/// Whether the registry knows an attachment of `shmid` starting at `addr`.
pub fn starts_at(addr: usize, shmid: i32) -> bool {
    attachment(addr).is_some_and(|a| a.shmid == shmid)
}

/// How many attachments of `shmid` this process holds, as the kernel lists them
/// (/proc/self/maps): exact where the registry's count may hold entries the kernel has
/// already dropped (munmap, or a mapping placed over an attachment).
#[cold]
pub fn held_in_maps(shmid: i32) -> u64 {
    let mut n = 0;
    crate::maps::each_attachment(starts_at, |_, id| n += u64::from(id == shmid));
    n
}

/// The segment `shmid`, if this process knows it.
pub fn segment(shmid: i32) -> Option<Segment> {
    REGISTRY.segment(shmid)
}

/// Records that this process marked `shmid` for removal; the entry goes when the last
/// attachment held here goes (or now, if there is none).
pub fn segment_removed(shmid: i32) {
    REGISTRY.segment_removed(shmid);
}

/// Records an attachment at `addr` of segment `shmid`, made by process `pid`, and counts
/// it on the segment. The segment's size comes from the segment table, or is
/// `known_size` when the table does not know it (0: unknown; the call path does not ask
/// the kernel, the exit report does when it needs it). An entry still LIVE at
/// `addr` is an attachment the kernel no longer has (the address was given again): it is
/// retired and uncounted.
#[inline(always)]
pub fn attached(addr: usize, shmid: i32, flags: i32, pid: i32, now: Stamp, known_size: u64) {
    REGISTRY.attached(addr, shmid, flags, pid, now, known_size);
}

/// The live attachment at `addr`.
#[inline(always)]
pub fn attachment(addr: usize) -> Option<Attachment> {
    REGISTRY
        .attachments
        .find(addr as u64, LIVE)
        .map(|s| Attachment::from(addr, s))
}

/// The most recent detached attachment at `addr`, if the registry still remembers it.
pub fn detached_attachment(addr: usize) -> Option<Attachment> {
    REGISTRY
        .attachments
        .find(addr as u64, DEAD)
        .map(|s| Attachment::from(addr, s))
}

/// Records that `a` (as read before the detach) was detached. If its entry changed
/// meanwhile (another thread got the address from the kernel and recorded it), the thread
/// that changed it has uncounted it already, and the newer entry is left alone.
#[inline(always)]
pub fn detached(a: &Attachment, now: Stamp) {
    REGISTRY.detached(a, now);
}

/// Records a successful detach of an address the registry does not know. True if it may
/// have been one of the attachments that did not fit (one fewer is then held); false if
/// none is held, so the address was attached without rshm.
pub fn untracked_detached() -> bool {
    REGISTRY.untracked_detached()
}

/// Attachments of `shmid` this process holds, or `None` while an attachment that did not
/// fit the registry is held (it may be of this segment: the count is then unknown).
pub fn attach_count(shmid: i32) -> Option<u64> {
    REGISTRY.attach_count(shmid)
}

/// How many attachments the registry holds, those that did not fit included (a scan: for
/// reports and tests, not hot paths).
pub fn live_attachments() -> usize {
    REGISTRY.live_attachments()
}

/// Calls `f` for every live attachment (a scan).
pub fn each_attachment(mut f: impl FnMut(&Attachment)) {
    REGISTRY.attachments.each(LIVE, |k, v| {
        let seen = Seen { idx: 0, tag: 0, v };
        f(&Attachment::from(k as usize, seen))
    });
}

/// Calls `f` for every known segment (a scan).
pub fn each_segment(mut f: impl FnMut(&Segment)) {
    REGISTRY.segments.each(LIVE, |k, v| {
        f(&Segment::from(k, v, REGISTRY.held(k as u32 as i32)))
    });
}

/// Entries that did not fit (the tables were full along their probe chain).
pub fn untracked() -> u64 {
    REGISTRY.untracked.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    // REGISTRY is process-wide; tests of it use their own address ranges and ids. The
    // others make a registry of their own.

    /// A registry of its own, on the heap (the full-size one is 10 MB: too big for a stack).
    fn own<const A: usize, const S: usize>() -> Box<Registry<A, S>> {
        // SAFETY: a registry is atomics only, and all-zero atomics are empty tables
        // (`Registry::new()` is all zeros too).
        unsafe { Box::<Registry<A, S>>::new_zeroed().assume_init() }
    }

    impl<const A: usize, const S: usize> Registry<A, S> {
        fn attachment(&self, addr: usize) -> Option<Attachment> {
            self.attachments
                .find(addr as u64, LIVE)
                .map(|s| Attachment::from(addr, s))
        }

        fn live_at(&self, addr: usize) -> usize {
            let mut n = 0;
            self.attachments
                .each(LIVE, |k, _| n += usize::from(k == addr as u64));
            n
        }
    }

    #[test]
    fn attach_then_detach_keeps_a_dead_record() {
        let addr = 0x5000_0000_0000;
        attached(addr, 900_001, 0, 1, Stamp(11), 4096);
        let a = attachment(addr).expect("live");
        assert_eq!((a.shmid, a.size, a.attached), (900_001, 4096, Stamp(11)));
        assert_eq!(attach_count(900_001), Some(1));
        detached(&a, Stamp(22));
        assert!(attachment(addr).is_none());
        let d = detached_attachment(addr).expect("dead record");
        assert_eq!((d.shmid, d.detached), (900_001, Stamp(22)));
        assert_eq!(attach_count(900_001), Some(0));
    }

    #[test]
    fn reattach_at_same_address_replaces_the_entry_and_a_stale_detach_is_ignored() {
        let addr = 0x5100_0000_0000;
        attached(addr, 900_010, 0, 1, Stamp(1), 4096);
        let old = attachment(addr).unwrap();
        // Another thread detaches, the kernel hands the address out again, and the new
        // attach is recorded before the first thread records its detach.
        attached(addr, 900_011, 0, 1, Stamp(2), 8192);
        detached(&old, Stamp(3));
        let now = attachment(addr).expect("the new attachment survives");
        assert_eq!((now.shmid, now.size), (900_011, 8192));
    }

    #[test]
    fn a_reattach_before_the_detach_is_recorded_uncounts_the_old_segment() {
        let r = own::<256, 64>();
        let addr = 0x5180_0000_0000;
        r.attached(addr, 7, 0, 1, Stamp(1), 4096);
        let old = r.attachment(addr).unwrap();
        // The kernel detached 7 and gave the address to 8 before the detach was recorded.
        r.attached(addr, 8, 0, 1, Stamp(2), 4096);
        assert_eq!((r.attach_count(7), r.attach_count(8)), (Some(0), Some(1)));
        r.detached(&old, Stamp(3));
        assert_eq!((r.attach_count(7), r.attach_count(8)), (Some(0), Some(1)));
        assert_eq!(r.live_attachments(), 1);
        r.detached(&r.attachment(addr).unwrap(), Stamp(4));
        assert_eq!((r.attach_count(8), r.live_attachments()), (Some(0), 0));
    }

    #[test]
    fn one_claim_of_a_segment_wins_and_a_lookup_keeps_it() {
        let r = own::<1024, 1024>();
        let claim = |id| r.claim_created(id, 0x1234, 4096, 0o600, 77, Stamp(1));
        assert!(claim(40), "the first claim");
        // Another thread found it (its lookup saw the segment): it records it as found,
        // which must not undo the claim.
        r.segment_got(40, 0x1234, 4096, 0o600, false, 77, Stamp(2));
        assert!(!claim(40), "a second claim loses");
        let s = r.segment(40).unwrap();
        assert!(s.created && s.creator == 77);
        // An entry of an earlier segment with this id (another key) is not a claim.
        r.segment_got(41, 0x9999, 4096, 0o600, true, 77, Stamp(3));
        assert!(r.claim_created(41, 0x1235, 4096, 0o600, 77, Stamp(4)));
        // Found first, then claimed: the claim wins once.
        r.segment_got(42, 0x1236, 4096, 0o600, false, 77, Stamp(5));
        assert!(r.claim_created(42, 0x1236, 4096, 0o600, 77, Stamp(6)));
        assert!(!r.claim_created(42, 0x1236, 4096, 0o600, 77, Stamp(7)));
    }

    #[test]
    fn removal_while_attached_keeps_the_segment_until_the_last_detach() {
        let id = 900_020;
        segment_got(id, 0x1234, 4096, 0o600, true, 77, Stamp(5));
        attached(0x5200_0000_0000, id, 0, 1, Stamp(6), 4096);
        attached(0x5200_0001_0000, id, 0, 1, Stamp(6), 4096);
        assert_eq!(attach_count(id), Some(2));
        segment_removed(id);
        let s = segment(id).unwrap();
        assert!(s.removed && s.created);
        assert_eq!(
            (s.key, s.size, s.mode, s.creator, s.attached),
            (0x1234, 4096, 0o600, 77, 2)
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
            attached(base + i * 4096, 910_000 + i as i32, 0, 1, Stamp(1), 4096);
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

    #[test]
    fn attachments_that_do_not_fit_make_counts_unknown_not_wrong() {
        let r = own::<64, 64>();
        let base = 0x5300_0000_0000usize;
        let addrs: Vec<usize> = (0..100).map(|i| base + i * 4096).collect();
        for &a in &addrs {
            r.attached(a, 5, 0, 1, Stamp(1), 4096);
        }
        let missed = r.untracked.load(Relaxed);
        assert!(missed >= 36, "a table of 64 holds at most 64");
        assert_eq!(
            r.live_attachments(),
            100,
            "those that did not fit are counted"
        );
        assert_eq!(r.attach_count(5), None, "the count of segment 5 is unknown");
        assert_eq!(
            r.held(5),
            100 - missed,
            "and what it knows is not counted twice"
        );
        for &a in &addrs {
            match r.attachment(a) {
                Some(x) => r.detached(&x, Stamp(2)),
                None => assert!(r.untracked_detached()),
            }
        }
        assert!(!r.untracked_detached(), "no untracked attachment is left");
        assert_eq!((r.attach_count(5), r.live_attachments()), (Some(0), 0));
    }

    #[test]
    fn the_table_holds_every_attachment_the_kernel_allows_by_default() {
        // More than vm.max_map_count's default (65530) allows, in the layouts mmap gives
        // (pages next to each other, top down; 2 MB apart) and at random places.
        let layouts: [&dyn Fn(usize) -> usize; 3] = [
            &|i| 0x7f00_0000_0000 - i * 4096,
            &|i| 0x7000_0000_0000 - i * (2 << 20),
            &|i| {
                let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                x ^= x >> 29;
                x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                x ^= x >> 32;
                ((x & 0x7fff_ffff_f000) | 0x1000) as usize
            },
        ];
        for (n, at) in layouts.iter().enumerate() {
            let r = own::<ATTACH_SLOTS, 64>();
            for i in 0..65_536 {
                r.attached(at(i), 3, 0, 1, Stamp(1), 4096);
            }
            assert_eq!(r.untracked.load(Relaxed), 0, "layout {n}");
            assert_eq!(
                (r.attach_count(3), r.live_attachments()),
                (Some(65_536), 65_536)
            );
            for i in 0..65_536 {
                r.detached(&r.attachment(at(i)).expect("found"), Stamp(2));
            }
            assert_eq!((r.attach_count(3), r.live_attachments()), (Some(0), 0));
        }
    }

    /// Threads attach and detach through a model kernel that hands out a few addresses,
    /// so an address is given again while its detach is being recorded, over and over.
    #[test]
    fn threads_reusing_addresses_keep_the_count_exact() {
        let r = own::<1024, 64>();
        let base = 0x5400_0000_0000usize;
        let taken: [AtomicBool; 3] = Default::default();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (r, taken) = (&r, &taken);
                s.spawn(move || {
                    for n in 0..50_000u64 {
                        let shmid = 40 + (n % 2) as i32;
                        // shmat: the first free address.
                        let Some(i) = taken
                            .iter()
                            .position(|b| b.compare_exchange(false, true, AcqRel, Acquire).is_ok())
                        else {
                            continue;
                        };
                        let addr = base + i * 4096;
                        r.attached(addr, shmid, 0, t, Stamp(n + 1), 4096);
                        let seen = r.attachment(addr).expect("its own attachment is found");
                        assert_eq!(seen.shmid, shmid);
                        // shmdt: the kernel lets the address go before it is recorded.
                        taken[i].store(false, Release);
                        r.detached(&seen, Stamp(n + 2));
                    }
                });
            }
        });
        assert_eq!(r.live_attachments(), 0);
        assert_eq!((r.attach_count(40), r.attach_count(41)), (Some(0), Some(0)));
        assert_eq!(r.untracked.load(Relaxed), 0);
    }

    /// Threads attach at one address with SHM_REMAP (each replacing the last): however
    /// their records interleave, one attachment is left, counted once.
    #[test]
    fn threads_remapping_one_address_leave_one_attachment() {
        let r = own::<1024, 64>();
        let addr = 0x5500_0000_0000usize;
        for round in 0..200u64 {
            std::thread::scope(|s| {
                for t in 0..4u64 {
                    let r = &r;
                    s.spawn(move || {
                        for n in 0..50 {
                            let shmid = 50 + (t % 2) as i32;
                            r.attached(
                                addr,
                                shmid,
                                libc::SHM_REMAP,
                                1,
                                Stamp(round * 1000 + n),
                                4096,
                            );
                        }
                    });
                }
            });
            assert_eq!(r.live_at(addr), 1, "round {round}");
            let held = r.held(50) + r.held(51);
            assert_eq!((held, r.live_attachments()), (1, 1), "round {round}");
        }
        r.detached(&r.attachment(addr).unwrap(), Stamp(1));
        assert_eq!((r.held(50), r.held(51), r.live_attachments()), (0, 0, 0));
    }
}
