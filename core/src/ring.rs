//! A ring of events in memory shared by a family of traced processes (a process, the
//! children it forks and the threads and signal handlers of all of them) and rshm-trace:
//! a traced call costs a copy and a few atomic operations, not a system call.
//!
//! The memory is a memfd the process makes when the library is loaded and hands to
//! rshm-trace over its socket ([`crate::channel`]); both map it. This file is the only
//! description of the layout: rshm-trace compiles this same file (see its `listen`
//! module), so it holds nothing but the ring and uses nothing of the crate.
//!
//! Layout: a page of header, then `cap` slots of [`SLOT`] bytes.
//!
//! | bytes      | field                                                         |
//! |------------|---------------------------------------------------------------|
//! | 0..8       | [`MAGIC`]                                                     |
//! | 8..12      | [`VERSION`]                                                   |
//! | 12..16     | `cap`, the number of slots                                    |
//! | 16..20     | [`SLOT`]                                                      |
//! | 24..40     | the ring's token: 128 random bits that name it on a new connection |
//! | 64..72     | `tail`: the next position to claim; bit 63 [`CLOSED`]         |
//! | 128..132   | `sleeping`: 1 while rshm-trace sleeps until woken             |
//! | 192..196   | `released`: a futex word rshm-trace bumps when it frees slots |
//! | 196..200   | `waiters`: producers waiting on `released`                    |
//!
//! A slot: `seq` (8 bytes, stored minus the slot's index so that zeroed memory is a ring
//! of free slots), the claimer's thread id (4), the event's length (4), the event.
//!
//! It is Vyukov's bounded queue: position `p` lives in slot `p % cap`, whose sequence is
//! `p` while it is free for `p`, `p + 1` once the event at `p` is published, and
//! `p + cap` once the consumer has freed it for the next lap. Producers claim a position
//! with a compare-and-swap on `tail`, so they never wait for one another.
//!
//! The rules that make it safe for signal handlers and dead processes:
//!
//! - **Pending slots.** A thread that claimed `p` can be interrupted before it publishes
//!   by a handler that publishes at `p + 1` and then waits (for its acknowledgement, or
//!   for room). The consumer does not wait for `p` forever: a slot still unpublished at a
//!   later look ([`Consumer::next`]'s `patience`) while a later one is published is
//!   skipped and remembered as pending, and taken as soon as it is published (before any
//!   later event, so one thread's events stay in order). Its line may then come a little
//!   after lines of other threads. Should the handler make a ring's worth of calls, the
//!   room it waits for is that very slot ([`Ring::blocked_by`] names the thread): it then
//!   sends its events another way instead of waiting forever.
//! - **Acknowledgements.** A slot holding an event whose sender waits for its line is
//!   freed only once the line is written ([`Consumer::release`]); the sender waits for
//!   its own slot to be freed ([`Ring::done`]). No position has to mean "everything
//!   before here", which a pending slot would make untrue.
//! - **Waking the consumer.** It polls while events come; before it sleeps it sets
//!   `sleeping`, then looks at every claimed slot again ([`Consumer::sleep`]). A producer
//!   publishes, then reads `sleeping` ([`Ring::take_sleeping`]). Each side stores, issues
//!   a sequentially consistent fence, then loads: of the two fences, the later one's side
//!   sees the other's store. So either the consumer sees the event and stays awake, or
//!   the producer sees the flag and wakes it: no wakeup is lost.
//! - **Waiting producers** (for room, or for their acknowledgement) announce themselves in
//!   `waiters`, fence, read `released`, check their condition, and sleep on `released`
//!   only if it has not changed (a futex). The consumer frees slots, fences, and bumps
//!   `released` and wakes the futex when it sees a waiter: the same argument.
//! - **Dead claimers.** A slot claimed by a thread that died before publishing it
//!   (SIGKILL, or another thread's exec) would hold the ring up a lap later. The consumer
//!   drops a pending slot whose claimer it finds gone ([`Consumer::stuck`],
//!   [`Consumer::drop_pending`]), and every unpublished slot of a ring whose processes
//!   are all gone ([`Consumer::drop_unpublished`]).
//! - **Closing.** The consumer sets [`CLOSED`] in `tail` when nothing it knows of holds
//!   the ring any more; a producer that finds it set sends its events another way.

// Each crate that compiles this file uses one half: the core the producer's, rshm-trace
// the consumer's (the tests both).
#![allow(dead_code)]

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::*, fence};

/// The header's first 8 bytes.
pub const MAGIC: u64 = u64::from_le_bytes(*b"rshmring");
/// The layout's version.
pub const VERSION: u32 = 1;
/// Bytes of the header: one page, so the slots start page-aligned.
pub const HEADER: usize = 4096;
/// Bytes of a slot.
pub const SLOT: usize = 640;
/// Bytes of an event a slot can hold (the longest event is 598).
pub const DATA: usize = SLOT - 16;
/// Slots in the ring a traced process makes: bursts of 1024 calls between two looks.
pub const CAP: u32 = 1024;
/// The most slots a ring may have (what rshm-trace accepts).
pub const MAX_CAP: u32 = 1 << 16;
/// Bit 63 of `tail`: the ring takes no more events.
pub const CLOSED: u64 = 1 << 63;
/// The hello a process sends on each new connection: these 8 bytes, then the token.
pub const HELLO: [u8; 8] = *b"RSHMRING";
/// Bytes of the hello.
pub const HELLO_LEN: usize = 24;

/// The header, as laid out in the first page.
#[repr(C)]
struct Header {
    magic: u64,
    version: u32,
    cap: u32,
    slot: u32,
    _pad0: u32,
    token: [u8; 16],
    _pad1: [u8; 24],
    tail: AtomicU64,
    _pad2: [u8; 56],
    sleeping: AtomicU32,
    _pad3: [u8; 60],
    released: AtomicU32,
    waiters: AtomicU32,
}

/// A slot, as laid out after the header.
#[repr(C)]
struct Slot {
    /// The sequence minus the slot's index.
    seq: AtomicU64,
    owner: AtomicI32,
    len: AtomicU32,
    data: [u8; DATA],
}

const _: () = assert!(core::mem::size_of::<Slot>() == SLOT);
const _: () = assert!(core::mem::size_of::<Header>() <= HEADER);
const _: () = assert!(core::mem::offset_of!(Header, tail) == 64);
const _: () = assert!(core::mem::offset_of!(Header, sleeping) == 128);
const _: () = assert!(core::mem::offset_of!(Header, released) == 192);

/// Why an event could not be claimed a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    /// The ring takes no more events ([`CLOSED`]).
    Closed,
    /// The slot for this position is not free yet: wait for [`Ring::free`].
    At(u64),
}

/// A mapped ring. Copyable: it is only a pointer and a size; whoever maps it keeps it
/// mapped as long as any copy is used.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    base: *mut u8,
    cap: u32,
}

// SAFETY: everything shared through the pointer is accessed atomically, or (the slots'
// events) only by the side that owns the slot by the protocol above.
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

/// The bytes a ring of `cap` slots takes.
pub const fn bytes(cap: u32) -> usize {
    HEADER + cap as usize * SLOT
}

impl Ring {
    /// Writes a new ring's header into `base`, zeroed memory of [`bytes`]`(cap)`.
    ///
    /// # Safety
    /// `base` is page-aligned, zeroed, writable for `bytes(cap)` and not yet shared.
    pub unsafe fn init(base: *mut u8, cap: u32, token: [u8; 16]) -> Ring {
        let h = base.cast::<Header>();
        // SAFETY: the caller vouches `base` holds a header nobody else sees yet.
        unsafe {
            (&raw mut (*h).magic).write(MAGIC);
            (&raw mut (*h).version).write(VERSION);
            (&raw mut (*h).cap).write(cap);
            (&raw mut (*h).slot).write(SLOT as u32);
            (&raw mut (*h).token).write(token);
        }
        Ring { base, cap }
    }

    /// The ring mapped at `base` for `len` bytes, if its header describes a ring of
    /// exactly that size.
    ///
    /// # Safety
    /// `base` is page-aligned and mapped readable and writable for `len` bytes.
    pub unsafe fn open(base: *mut u8, len: usize) -> Option<Ring> {
        if len < HEADER {
            return None;
        }
        let h = base.cast::<Header>();
        // SAFETY: the caller vouches for HEADER bytes at `base`; volatile: another
        // process may write them.
        let (magic, version, cap, slot) = unsafe {
            (
                (&raw const (*h).magic).read_volatile(),
                (&raw const (*h).version).read_volatile(),
                (&raw const (*h).cap).read_volatile(),
                (&raw const (*h).slot).read_volatile(),
            )
        };
        let ok = magic == MAGIC
            && version == VERSION
            && slot as usize == SLOT
            && (1..=MAX_CAP).contains(&cap)
            && bytes(cap) == len;
        ok.then_some(Ring { base, cap })
    }

    /// The ring of `cap` slots at `base`, as [`init`](Self::init) made it.
    ///
    /// # Safety
    /// `base` is a mapping of a ring of `cap` slots, kept mapped while the ring is used.
    pub unsafe fn at(base: *mut u8, cap: u32) -> Ring {
        Ring { base, cap }
    }

    /// The start of the mapping.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// The number of slots.
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// The ring's token.
    pub fn token(&self) -> [u8; 16] {
        // SAFETY: the header is mapped; volatile: another process may write it.
        unsafe { (&raw const (*self.hdr_ptr()).token).read_volatile() }
    }

    fn hdr_ptr(&self) -> *mut Header {
        self.base.cast()
    }

    fn hdr(&self) -> &Header {
        // SAFETY: the header is mapped while the ring is; its shared fields are atomics.
        unsafe { &*self.hdr_ptr() }
    }

    fn index(&self, pos: u64) -> u64 {
        pos % self.cap as u64
    }

    fn slot(&self, pos: u64) -> &Slot {
        // SAFETY: the index is below cap, and the ring maps HEADER + cap * SLOT bytes.
        unsafe {
            &*self
                .base
                .add(HEADER + self.index(pos) as usize * SLOT)
                .cast::<Slot>()
        }
    }

    /// The sequence of `pos`'s slot.
    fn seq(&self, pos: u64) -> u64 {
        self.slot(pos)
            .seq
            .load(Acquire)
            .wrapping_add(self.index(pos))
    }

    fn set_seq(&self, pos: u64, seq: u64) {
        self.slot(pos)
            .seq
            .store(seq.wrapping_sub(self.index(pos)), Release);
    }

    /// Claims the next position (Vyukov's enqueue, without the write).
    pub fn claim(&self) -> Result<u64, Full> {
        let tail = &self.hdr().tail;
        let mut pos = tail.load(Relaxed);
        loop {
            if pos & CLOSED != 0 {
                return Err(Full::Closed);
            }
            let seq = self.seq(pos);
            if seq == pos {
                match tail.compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed) {
                    Ok(_) => return Ok(pos),
                    Err(now) => pos = now,
                }
            } else if seq < pos {
                return Err(Full::At(pos));
            } else {
                pos = tail.load(Relaxed);
            }
        }
    }

    /// Notes `owner` (a thread id) as the claimer of `pos`, so that rshm-trace can tell a
    /// slot a dead thread claimed (its process killed, or exec'd by another thread) from
    /// one a live thread is still writing.
    pub fn own(&self, pos: u64, owner: i32) {
        self.slot(pos).owner.store(owner, Relaxed);
    }

    /// Writes `event` (cut to [`DATA`] bytes) into the claimed `pos` and publishes it.
    /// False if the slot is no longer this producer's: rshm-trace dropped it while the
    /// producer was held up (stopped, or a signal handler ran long) between its claim
    /// and now; the event must go another way.
    pub fn publish(&self, pos: u64, event: &[u8]) -> bool {
        let s = self.slot(pos);
        if self.seq(pos) != pos {
            return false;
        }
        let n = event.len().min(DATA);
        // SAFETY: the slot is this producer's from its claim to this publication (checked
        // just above; rshm-trace drops a claim only after it has been stuck for a second);
        // `event` is valid for n bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(event.as_ptr(), (&raw const s.data).cast_mut().cast(), n)
        };
        s.len.store(n as u32, Relaxed);
        let idx = self.index(pos);
        s.seq
            .compare_exchange(
                pos.wrapping_sub(idx),
                (pos + 1).wrapping_sub(idx),
                Release,
                Relaxed,
            )
            .is_ok()
    }

    /// Claims, writes and publishes `event` (claimed by thread `owner`).
    pub fn push(&self, event: &[u8], owner: i32) -> Result<u64, Full> {
        let pos = self.claim()?;
        self.own(pos, owner);
        if !self.publish(pos, event) {
            return Err(Full::Closed);
        }
        Ok(pos)
    }

    /// After a publication: whether the consumer sleeps and this producer is the one to
    /// wake it (the flag is cleared: one wakeup is enough).
    pub fn take_sleeping(&self) -> bool {
        // Pairs with the fence in Consumer::sleep (see the module's documentation).
        fence(SeqCst);
        let s = &self.hdr().sleeping;
        s.load(Relaxed) != 0 && s.swap(0, SeqCst) != 0
    }

    /// Whether the event at `pos` has been taken and freed by the consumer (for an event
    /// whose sender waits: its line is written).
    pub fn done(&self, pos: u64) -> bool {
        self.seq(pos) >= pos + self.cap as u64
    }

    /// Whether the slot for `pos` is free, or the ring closed: claiming again may work.
    pub fn free(&self, pos: u64) -> bool {
        self.hdr().tail.load(Relaxed) & CLOSED != 0 || self.seq(pos) >= pos
    }

    /// The thread that the slot for `pos` waits on: its claimer (0: not noted yet), if it
    /// holds a claim of the lap before that it has not published (None if not). When that is
    /// the caller itself (a signal handler interrupted it between claim and publication),
    /// waiting for room would never end.
    pub fn blocked_by(&self, pos: u64) -> Option<i32> {
        let cap = self.cap as u64;
        (pos >= cap && self.seq(pos) == pos - cap).then(|| self.slot(pos).owner.load(Relaxed))
    }

    /// Whether the ring is closed.
    pub fn closed(&self) -> bool {
        self.hdr().tail.load(Acquire) & CLOSED != 0
    }

    /// Sleeps until `ready()` or until the consumer frees something, at most `timeout_ns`.
    /// Returns `ready()`.
    pub fn wait(&self, ready: impl Fn() -> bool, timeout_ns: u64) -> bool {
        let h = self.hdr();
        h.waiters.fetch_add(1, SeqCst);
        // Pairs with the fence in Consumer::wake_waiters.
        fence(SeqCst);
        let seen = h.released.load(SeqCst);
        if !ready() {
            futex_wait(&h.released, seen, timeout_ns);
        }
        h.waiters.fetch_sub(1, SeqCst);
        ready()
    }
}

/// Sleeps while `word` holds `val`, at most `timeout_ns` (a futex shared between
/// processes: the word is in a shared mapping).
fn futex_wait(word: &AtomicU32, val: u32, timeout_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: the word is a valid, aligned u32 for the whole call; `ts` is a timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            val,
            &raw const ts,
            core::ptr::null::<u32>(),
            0,
        )
    };
}

/// Wakes every process sleeping on `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: the word is a valid, aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            core::ptr::null::<libc::timespec>(),
            core::ptr::null::<u32>(),
            0,
        )
    };
}

/// The most slots the consumer skips and remembers at once.
const PENDING: usize = 64;

/// The consumer's side: rshm-trace's, one per ring.
pub struct Consumer {
    ring: Ring,
    /// The next position to look at.
    head: u64,
    /// Skipped positions, claimed but not yet published, oldest first.
    pending: [(u64, std::time::Instant); PENDING],
    npending: usize,
    /// The position found unpublished at `head`, and when it first was.
    stall: Option<(u64, std::time::Instant)>,
}

/// An event taken from the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// Its position: [`Consumer::release`] it.
    pub pos: u64,
    /// Its length in the buffer given.
    pub len: usize,
}

impl Consumer {
    /// Consumes `ring` from its start.
    pub fn new(ring: Ring) -> Consumer {
        Consumer {
            ring,
            head: 0,
            pending: [(0, std::time::Instant::now()); PENDING],
            npending: 0,
            stall: None,
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The end of the claimed positions (never more than a lap past `head`, whatever a
    /// process wrote there).
    fn tail(&self) -> u64 {
        (self.ring.hdr().tail.load(Acquire) & !CLOSED).min(self.head + self.ring.cap as u64)
    }

    fn published(&self, pos: u64) -> bool {
        self.ring.seq(pos) == pos + 1
    }

    fn copy(&self, pos: u64, out: &mut [u8; DATA]) -> Taken {
        let s = self.ring.slot(pos);
        let len = (s.len.load(Relaxed) as usize).min(DATA);
        // SAFETY: the slot is published: the consumer's until released. Another process
        // could still scribble on it, which only spoils this event.
        unsafe {
            core::ptr::copy_nonoverlapping((&raw const s.data).cast::<u8>(), out.as_mut_ptr(), len)
        };
        Taken { pos, len }
    }

    /// The next event, copied into `out`; the caller then [`release`](Self::release)s its
    /// slot (at once, or, for a sender that waits, once its line is written).
    ///
    /// Pending slots that are published come first, also before an event at `head`
    /// published after them (one thread's next event, say). A slot claimed but
    /// unpublished at `head` for at least `patience` while a later one is published is
    /// skipped into the pending list (`patience` zero: skipped at once, for a ring whose
    /// processes are gone).
    pub fn next(&mut self, out: &mut [u8; DATA], patience: std::time::Duration) -> Option<Taken> {
        loop {
            if let Some(t) = self.next_pending(out) {
                return Some(t);
            }
            let tail = self.tail();
            if self.head >= tail {
                return None;
            }
            let pos = self.head;
            if self.published(pos) {
                // Seeing `pos` published (acquire) shows every publication that came
                // before it: a pending slot published meanwhile is taken first.
                if let Some(t) = self.next_pending(out) {
                    return Some(t);
                }
                self.head += 1;
                self.stall = None;
                return Some(self.copy(pos, out));
            }
            let now = std::time::Instant::now();
            let since = match self.stall {
                Some((p, t)) if p == pos => t,
                _ => {
                    self.stall = Some((pos, now));
                    now
                }
            };
            if self.npending == PENDING
                || now.duration_since(since) < patience
                || !(pos + 1..tail).any(|p| self.published(p))
            {
                return None;
            }
            self.pending[self.npending] = (pos, since);
            self.npending += 1;
            self.head += 1;
            self.stall = None;
        }
    }

    /// The oldest pending slot that is published now, taken out of the list.
    fn next_pending(&mut self, out: &mut [u8; DATA]) -> Option<Taken> {
        let i = (0..self.npending).find(|&i| self.published(self.pending[i].0))?;
        let pos = self.pending[i].0;
        self.pending.copy_within(i + 1..self.npending, i);
        self.npending -= 1;
        Some(self.copy(pos, out))
    }

    /// Frees the slot of a taken event for the next lap.
    pub fn release(&self, pos: u64) {
        self.ring.slot(pos).owner.store(0, Relaxed);
        self.ring.set_seq(pos, pos + self.ring.cap as u64);
    }

    /// After releases: wakes the producers waiting for room or for their
    /// acknowledgement, if any (a system call only then).
    pub fn wake_waiters(&self) {
        let h = self.ring.hdr();
        // Pairs with the fence in Ring::wait.
        fence(SeqCst);
        if h.waiters.load(Relaxed) != 0 {
            h.released.fetch_add(1, SeqCst);
            futex_wake(&h.released);
        }
    }

    /// Whether an event can be taken now, or soon (a slot waiting for its patience).
    pub fn ready(&self) -> bool {
        self.pending[..self.npending]
            .iter()
            .any(|&(p, _)| self.published(p))
            || (self.head..self.tail()).any(|p| self.published(p))
    }

    /// Before the consumer sleeps: says so in the ring, then whether it must not sleep
    /// after all (something came meanwhile: the flag is cleared again).
    pub fn sleep(&self) -> bool {
        let s = &self.ring.hdr().sleeping;
        s.store(1, Relaxed);
        // Pairs with the fence in Ring::take_sleeping.
        fence(SeqCst);
        if self.ready() {
            s.store(0, Relaxed);
            return true;
        }
        false
    }

    /// The consumer is awake: producers need not wake it.
    pub fn awake(&self) {
        self.ring.hdr().sleeping.store(0, Relaxed);
    }

    /// Takes no more events: producers that try find [`Full::Closed`], and those waiting
    /// for room are woken to find it.
    pub fn close(&self) {
        let h = self.ring.hdr();
        h.tail.fetch_or(CLOSED, SeqCst);
        h.released.fetch_add(1, SeqCst);
        futex_wake(&h.released);
    }

    /// Whether slots are claimed and not published (pending, or at and after `head`).
    pub fn unpublished(&self) -> bool {
        self.npending > 0 || self.head < self.tail()
    }

    /// Pending slots unpublished for at least `age`, with the thread id that claimed each
    /// (0: not known).
    pub fn stuck(&self, age: std::time::Duration) -> impl Iterator<Item = (u64, i32)> + '_ {
        let now = std::time::Instant::now();
        self.pending[..self.npending]
            .iter()
            .filter(move |&&(_, t)| now.duration_since(t) >= age)
            .map(|&(p, _)| (p, self.ring.slot(p).owner.load(Relaxed)))
    }

    /// Drops the pending slot `pos`, stuck unpublished: frees it unread. Its claimer, if
    /// it is alive after all, finds the slot gone when it publishes ([`Ring::publish`])
    /// and sends its event another way.
    pub fn drop_pending(&mut self, pos: u64) {
        if let Some(i) = self.pending[..self.npending]
            .iter()
            .position(|&(p, _)| p == pos)
        {
            self.pending.copy_within(i + 1..self.npending, i);
            self.npending -= 1;
            self.release(pos);
        }
    }

    /// Drops every slot claimed and not published, when nobody can publish them any
    /// more (the ring is closed and its processes are gone). Returns how many.
    pub fn drop_unpublished(&mut self) -> usize {
        let mut n = 0;
        while self.npending > 0 {
            let pos = self.pending[0].0;
            self.drop_pending(pos);
            n += 1;
        }
        let tail = self.tail();
        while self.head < tail {
            if !self.published(self.head) {
                self.release(self.head);
                n += 1;
            } else {
                // Published but not taken: the caller drains first; keep it.
                break;
            }
            self.head += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    /// A ring in a shared anonymous mapping (kept by forked children too).
    struct Mapped {
        ring: Ring,
        len: usize,
    }

    impl Mapped {
        fn new(cap: u32) -> Mapped {
            let len = bytes(cap);
            // SAFETY: a fresh shared anonymous mapping.
            let p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            // SAFETY: zeroed, page-aligned, `len` bytes, not shared yet.
            let ring = unsafe { Ring::init(p.cast(), cap, [7; 16]) };
            Mapped { ring, len }
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            // SAFETY: the mapping made in new, no longer used.
            unsafe { libc::munmap(self.ring.base().cast(), self.len) };
        }
    }

    /// An event naming its producer and its number.
    fn ev(who: u32, i: u32) -> [u8; 8] {
        let mut b = [0; 8];
        b[..4].copy_from_slice(&who.to_le_bytes());
        b[4..].copy_from_slice(&i.to_le_bytes());
        b
    }

    fn parse(b: &[u8]) -> (u32, u32) {
        (
            u32::from_le_bytes(b[..4].try_into().unwrap()),
            u32::from_le_bytes(b[4..8].try_into().unwrap()),
        )
    }

    /// Pushes, waiting for room as a producer does.
    fn push_waiting(r: &Ring, e: &[u8]) -> u64 {
        loop {
            match r.push(e, 1) {
                Ok(p) => return p,
                Err(Full::At(p)) => {
                    r.wait(|| r.free(p), 10_000_000);
                }
                Err(Full::Closed) => panic!("closed"),
            }
        }
    }

    /// Consumes until `stop` and nothing is left; checks each producer's order; returns
    /// the number of events of each producer.
    fn consume(r: Ring, producers: usize, stop: &AtomicBool) -> Vec<u32> {
        let mut c = Consumer::new(r);
        let mut seen = vec![0u32; producers];
        let mut buf = [0; DATA];
        loop {
            let stopping = stop.load(SeqCst);
            let mut any = false;
            while let Some(t) = c.next(&mut buf, Duration::from_micros(20)) {
                let (who, i) = parse(&buf[..t.len]);
                assert_eq!(i, seen[who as usize], "producer {who} in order");
                seen[who as usize] += 1;
                c.release(t.pos);
                any = true;
            }
            c.wake_waiters();
            if stopping && !any && !c.ready() {
                return seen;
            }
            std::hint::spin_loop();
        }
    }

    #[test]
    fn zeroed_memory_is_a_ring_of_free_slots_and_events_come_out_as_they_went_in() {
        let m = Mapped::new(4);
        let r = m.ring;
        // SAFETY: the mapping of m, of this size.
        let opened = unsafe { Ring::open(r.base(), m.len) }.unwrap();
        assert_eq!(opened.token(), [7; 16]);
        // SAFETY: as above, with a wrong size.
        assert!(unsafe { Ring::open(r.base(), m.len - SLOT) }.is_none());
        let mut c = Consumer::new(opened);
        let mut buf = [0; DATA];
        for lap in 0..3 {
            for i in 0..4 {
                assert_eq!(r.push(&ev(0, lap * 4 + i), 1), Ok((lap * 4 + i) as u64));
            }
            assert_eq!(r.push(&ev(0, 99), 1), Err(Full::At((lap * 4 + 4) as u64)));
            for i in 0..4 {
                let t = c.next(&mut buf, Duration::ZERO).unwrap();
                assert_eq!(parse(&buf[..t.len]), (0, lap * 4 + i));
                assert!(!r.done(t.pos));
                c.release(t.pos);
                assert!(r.done(t.pos));
            }
            assert!(c.next(&mut buf, Duration::ZERO).is_none());
        }
        c.close();
        assert_eq!(r.push(&ev(0, 0), 1), Err(Full::Closed));
    }

    #[test]
    fn threads_producing_at_once_lose_nothing_and_keep_each_ones_order() {
        let m = Mapped::new(64);
        let r = m.ring;
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let stop = stop.clone();
            std::thread::spawn(move || consume(r, 4, &stop))
        };
        let producers: Vec<_> = (0..4)
            .map(|who| {
                std::thread::spawn(move || {
                    for i in 0..50_000 {
                        push_waiting(&r, &ev(who, i));
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        stop.store(true, SeqCst);
        assert_eq!(consumer.join().unwrap(), vec![50_000; 4]);
    }

    #[test]
    fn forked_processes_producing_at_once_lose_nothing_and_keep_each_ones_order() {
        let m = Mapped::new(32);
        let r = m.ring;
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let stop = stop.clone();
            std::thread::spawn(move || consume(r, 3, &stop))
        };
        let mut kids = vec![];
        for who in 0..3 {
            // SAFETY: the child only pushes into the shared ring and leaves with _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                for i in 0..20_000 {
                    push_waiting(&r, &ev(who, i));
                }
                // SAFETY: leaving the child without running the test harness.
                unsafe { libc::_exit(0) };
            }
            kids.push(pid);
        }
        for pid in kids {
            let mut st = 0;
            // SAFETY: waiting for a child just forked.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
        }
        stop.store(true, SeqCst);
        assert_eq!(consumer.join().unwrap(), vec![20_000; 3]);
    }

    /// The ring of the signal-handler test, and what its handler did.
    static HANDLER_RING: AtomicU64 = AtomicU64::new(0);
    static HANDLER_DONE: AtomicBool = AtomicBool::new(false);

    extern "C" fn handler(_: libc::c_int) {
        let p = HANDLER_RING.load(SeqCst) as usize as *mut u8;
        // SAFETY: the test's ring, mapped for the whole test (cap 4).
        let r = unsafe { Ring::open(p, bytes(4)) }.unwrap();
        // The handler's event, which it waits on as an acknowledged event does.
        let pos = r.push(&ev(1, 0), 1).unwrap();
        while !r.done(pos) {
            r.wait(|| r.done(pos), 10_000_000);
        }
        HANDLER_DONE.store(true, SeqCst);
    }

    #[test]
    fn a_handler_that_waits_on_its_event_while_its_thread_holds_an_earlier_slot_is_served() {
        let m = Mapped::new(4);
        let r = m.ring;
        HANDLER_RING.store(r.base() as usize as u64, SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let order = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Consumer::new(r);
                let mut buf = [0; DATA];
                let mut order = vec![];
                while !stop.load(SeqCst) || c.ready() {
                    while let Some(t) = c.next(&mut buf, Duration::from_micros(50)) {
                        order.push(parse(&buf[..t.len]));
                        c.release(t.pos);
                    }
                    c.wake_waiters();
                    std::thread::sleep(Duration::from_micros(20));
                }
                order
            })
        };
        // SAFETY: installing a handler for SIGUSR1, which nothing else in the tests uses.
        unsafe {
            libc::signal(
                libc::SIGUSR1,
                handler as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
        // The thread claims slot 0 and is interrupted before it publishes it.
        let pos = r.claim().unwrap();
        r.own(pos, 1);
        // SAFETY: raise runs the handler on this thread before it returns.
        unsafe { libc::raise(libc::SIGUSR1) };
        assert!(HANDLER_DONE.load(SeqCst), "the handler's event was taken");
        assert!(r.publish(pos, &ev(0, 0)));
        stop.store(true, SeqCst);
        let order = order.join().unwrap();
        assert_eq!(order, vec![(1, 0), (0, 0)]);
    }

    #[test]
    fn a_handler_whose_room_is_held_by_its_own_thread_is_told_so() {
        let m = Mapped::new(2);
        let r = m.ring;
        // The thread claims slot 0; its handler fills the rest and finds no room.
        let k = r.claim().unwrap();
        r.own(k, 42);
        r.push(&ev(1, 0), 42).unwrap();
        assert_eq!(r.push(&ev(1, 1), 42), Err(Full::At(2)));
        assert_eq!(r.blocked_by(2), Some(42), "waiting would never end");
        assert!(r.publish(k, &ev(0, 0)));
        assert_eq!(r.blocked_by(2), None, "published: the consumer frees it");
    }

    #[test]
    fn a_thread_s_next_event_never_overtakes_its_pending_one() {
        let m = Mapped::new(8);
        let r = m.ring;
        let mut c = Consumer::new(r);
        let mut buf = [0; DATA];
        let a = r.claim().unwrap();
        r.push(&ev(1, 0), 1).unwrap();
        // Seen unpublished once, then skipped at the next look.
        let t = c.next(&mut buf, Duration::ZERO).unwrap();
        assert_eq!(parse(&buf[..t.len]), (1, 0));
        c.release(t.pos);
        assert!(c.next(&mut buf, Duration::ZERO).is_none());
        assert!(c.unpublished());
        // Thread 0 publishes a and then its next event: a comes first.
        assert!(r.publish(a, &ev(0, 0)));
        r.push(&ev(0, 1), 1).unwrap();
        for want in [(0, 0), (0, 1)] {
            let t = c.next(&mut buf, Duration::ZERO).unwrap();
            assert_eq!(parse(&buf[..t.len]), want);
            c.release(t.pos);
        }
        assert!(!c.unpublished());
    }

    #[test]
    fn a_slot_stays_unskipped_for_its_patience() {
        let m = Mapped::new(8);
        let r = m.ring;
        let mut c = Consumer::new(r);
        let mut buf = [0; DATA];
        let a = r.claim().unwrap();
        r.push(&ev(1, 0), 1).unwrap();
        assert!(c.next(&mut buf, Duration::from_secs(60)).is_none());
        assert!(c.ready(), "a later event waits: not a time to sleep");
        assert!(r.publish(a, &ev(0, 0)));
        for want in [(0, 0), (1, 0)] {
            let t = c.next(&mut buf, Duration::from_secs(60)).unwrap();
            assert_eq!(parse(&buf[..t.len]), want);
            c.release(t.pos);
        }
    }

    #[test]
    fn a_slot_claimed_by_a_dead_process_is_dropped_and_frees_the_ring() {
        let m = Mapped::new(2);
        let r = m.ring;
        let mut c = Consumer::new(r);
        let mut buf = [0; DATA];
        // SAFETY: the child claims a slot and dies without publishing it.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let p = r.claim().unwrap();
            // SAFETY: gettid takes no arguments (a single-threaded child: its pid).
            r.own(p, unsafe { libc::gettid() });
            // SAFETY: dying at once, as SIGKILL would have it.
            unsafe { libc::_exit(0) };
        }
        let mut st = 0;
        // SAFETY: waiting for the child just forked.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        r.push(&ev(0, 0), 1).unwrap();
        assert_eq!(r.push(&ev(0, 1), 1), Err(Full::At(2)));
        let t = c.next(&mut buf, Duration::ZERO).unwrap();
        assert_eq!(parse(&buf[..t.len]), (0, 0));
        c.release(t.pos);
        assert_eq!(c.stuck(Duration::ZERO).collect::<Vec<_>>(), vec![(0, pid)]);
        c.drop_pending(0);
        assert_eq!(r.push(&ev(0, 1), 1), Ok(2));
        assert!(c.next(&mut buf, Duration::ZERO).is_some());
        // A claim left at the head when the ring closes is dropped too.
        let _ = r.claim().unwrap();
        c.close();
        assert_eq!(c.drop_unpublished(), 1);
        assert!(!c.unpublished());
    }

    #[test]
    fn a_claimer_held_up_past_its_drop_finds_its_slot_gone_and_overwrites_nothing() {
        let m = Mapped::new(2);
        let r = m.ring;
        let mut c = Consumer::new(r);
        let mut buf = [0; DATA];
        // A live thread claims slot 0 and is held up (owner not even noted yet).
        let held = r.claim().unwrap();
        r.push(&ev(1, 0), 1).unwrap();
        let t = c.next(&mut buf, Duration::ZERO).unwrap();
        assert_eq!(parse(&buf[..t.len]), (1, 0));
        c.release(t.pos);
        // Its claim is stuck: rshm-trace drops it, and another producer takes the room.
        assert_eq!(c.stuck(Duration::ZERO).collect::<Vec<_>>(), vec![(0, 0)]);
        c.drop_pending(held);
        let again = r.push(&ev(2, 0), 1).unwrap();
        assert_eq!(again, 2, "slot 0's next lap");
        // The held-up thread resumes: its publication is refused, the slot untouched.
        assert!(
            !r.publish(held, &ev(9, 9)),
            "the slot is no longer its claim"
        );
        let t = c.next(&mut buf, Duration::ZERO).unwrap();
        assert_eq!((t.pos, parse(&buf[..t.len])), (2, (2, 0)));
        c.release(t.pos);
        // A claim whose room is held by an unpublished slot of unknown claimer says so.
        let p = r.claim().unwrap();
        let q = r.claim().unwrap();
        assert_eq!(r.claim(), Err(Full::At(p + 2)));
        assert_eq!(r.blocked_by(p + 2), Some(0), "claimed, owner not noted");
        assert!(r.publish(p, &ev(3, 0)) && r.publish(q, &ev(3, 1)));
    }

    #[test]
    fn a_sleeping_consumer_is_woken_by_exactly_the_producer_that_finds_it_asleep() {
        let m = Mapped::new(8);
        let r = m.ring;
        let c = Consumer::new(r);
        assert!(!c.sleep(), "nothing to do: it may sleep");
        r.push(&ev(0, 0), 1).unwrap();
        assert!(r.take_sleeping(), "the first producer wakes it");
        r.push(&ev(0, 1), 1).unwrap();
        assert!(!r.take_sleeping(), "once is enough");
        assert!(c.sleep(), "events wait: it does not sleep");
        assert!(!r.take_sleeping());
    }

    #[test]
    fn producer_and_consumer_racing_on_sleep_never_lose_a_wakeup() {
        let m = Mapped::new(1024);
        let r = m.ring;
        let woken = Arc::new(AtomicU32::new(0));
        let producer = {
            let woken = woken.clone();
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    push_waiting(&r, &ev(0, i));
                    if r.take_sleeping() {
                        woken.fetch_add(1, SeqCst);
                        futex_wake(&woken);
                    }
                    for _ in 0..(i % 7) * 50 {
                        std::hint::spin_loop();
                    }
                }
                woken.fetch_add(1, SeqCst);
                futex_wake(&woken);
            })
        };
        let mut c = Consumer::new(r);
        let mut buf = [0; DATA];
        let mut got = 0;
        while got < 20_000 {
            while let Some(t) = c.next(&mut buf, Duration::ZERO) {
                assert_eq!(parse(&buf[..t.len]), (0, got));
                got += 1;
                c.release(t.pos);
            }
            c.wake_waiters();
            if got == 20_000 {
                break;
            }
            let w = woken.load(SeqCst);
            if !c.sleep() {
                // A lost wakeup would sleep here until the timeout.
                let t0 = std::time::Instant::now();
                futex_wait(&woken, w, 5_000_000_000);
                assert!(t0.elapsed() < Duration::from_secs(4), "a wakeup was lost");
            }
            c.awake();
        }
        producer.join().unwrap();
    }
}
