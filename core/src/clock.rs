//! Clocks (vDSO clock_gettime: no lock, no allocation), the stamps the call path takes,
//! and RFC 3339 timestamps.

use crate::buf::FixedBuf;
use crate::hot::HOT;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering::*};

fn now(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill in.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Wall-clock time, in nanoseconds since 1970.
pub fn realtime_ns() -> u64 {
    now(libc::CLOCK_REALTIME)
}

/// Monotonic time, in nanoseconds, for durations.
pub fn mono_ns() -> u64 {
    now(libc::CLOCK_MONOTONIC)
}

/// Monotonic time, in nanoseconds, asked of the kernel by the system call itself rather
/// than through libc and the vDSO: for the anchor, taken once (in the constructors, see
/// `shm::init_early`). libc's wrapper and the vDSO's pages would be two more page
/// faults in every exec under the preload library (about 2 us) than the two system
/// calls cost.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn mono_ns_direct() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let ret: i64;
    // SAFETY: clock_gettime(CLOCK_MONOTONIC, &ts) writes only `ts`, a valid timespec;
    // `syscall` clobbers rcx and r11 and nothing else, and does not touch the stack.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_clock_gettime => ret,
            in("rdi") libc::CLOCK_MONOTONIC as u64,
            in("rsi") &mut ts as *mut libc::timespec as u64,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret != 0 {
        return mono_ns();
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn mono_ns_direct() -> u64 {
    mono_ns()
}

/// A moment taken on the call path (for the registry and for a call's duration): TSC
/// ticks where the CPU's time-stamp counter is invariant (x86-64), else CLOCK_MONOTONIC
/// nanoseconds. Taking one is an RDTSC instruction, about 12 ns here, where a vDSO
/// clock_gettime right after a system call costs 30 to 65 ns and two more cold pages;
/// a stamp becomes time only when it is shown. `Stamp(0)` is "unknown".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp(pub u64);

/// What stamps count (`HOT.clock`; 0 until decided): TSC ticks, or monotonic ns.
const TICKS: u8 = 1;
const MONO: u8 = 2;

/// When ticks were chosen: a monotonic time and the TSC read beside it, against which
/// later ticks are turned into nanoseconds.
static ANCHOR_NS: AtomicU64 = AtomicU64::new(0);
static ANCHOR_TICKS: AtomicU64 = AtomicU64::new(0);

/// Now, as a stamp.
#[inline]
pub fn stamp() -> Stamp {
    match HOT.clock.load(Relaxed) {
        TICKS => Stamp(ticks()),
        MONO => Stamp(mono_ns()),
        _ => Stamp(if decide() == TICKS {
            ticks()
        } else {
            mono_ns()
        }),
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn ticks() -> u64 {
    // SAFETY: RDTSC exists on every x86-64 CPU and only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn ticks() -> u64 {
    mono_ns()
}

/// True where the TSC ticks at one rate whatever the CPU's power state (CPUID
/// 0x80000007, EDX bit 8: what Linux shows as `constant_tsc nonstop_tsc`).
#[cfg(target_arch = "x86_64")]
fn tsc_invariant() -> bool {
    use core::arch::x86_64::__cpuid;
    // Leaf 0x80000000 gives the highest extended leaf: 0x80000007 is read only if present.
    __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc_invariant() -> bool {
    false
}

/// Chooses what stamps count, once. Threads that race here store the same choice; the
/// anchor is set before the choice is published, and read only after it is seen.
#[cold]
fn decide() -> u8 {
    let how = if tsc_invariant() {
        let (ns, t) = now_pair_by(mono_ns_direct);
        ANCHOR_NS.store(ns, Relaxed);
        ANCHOR_TICKS.store(t, Relaxed);
        TICKS
    } else {
        MONO
    };
    HOT.clock.store(how, Release);
    how
}

/// The monotonic time and the TSC read at one moment: the TSC read between two clock
/// reads, placed at their middle. A pair whose clock reads lie far apart (the thread was
/// preempted between them) is read again.
fn now_pair() -> (u64, u64) {
    now_pair_by(mono_ns)
}

/// [`now_pair`], the monotonic time read by `mono`.
fn now_pair_by(mono: fn() -> u64) -> (u64, u64) {
    let mut best = (u64::MAX, 0, 0);
    for _ in 0..4 {
        let a = mono();
        let t = ticks();
        let b = mono();
        let gap = b.saturating_sub(a);
        if gap < best.0 {
            best = (gap, a + gap / 2, t);
        }
        if gap < 20_000 {
            break;
        }
    }
    (best.1, best.2)
}

/// Nanoseconds a tick (an f64's bits), and the ticks from the anchor it was measured
/// over (0: not yet).
static RATE: AtomicU64 = AtomicU64::new(0);
static RATE_SPAN: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds a tick, as measured from the anchor. Measured again (two clock reads)
/// whenever the time since the anchor has doubled since the last measure, so it keeps
/// getting truer and costs nothing in between; threads that race store near-equal values.
fn ns_per_tick(now_ticks: u64) -> f64 {
    let anchor_ticks = ANCHOR_TICKS.load(Relaxed);
    let span = now_ticks.saturating_sub(anchor_ticks);
    let measured = RATE_SPAN.load(Acquire);
    if measured != 0 && span < measured.saturating_mul(2) {
        return f64::from_bits(RATE.load(Relaxed));
    }
    let (ns, ticks) = now_pair();
    let span_ticks = ticks.saturating_sub(anchor_ticks);
    if span_ticks == 0 {
        return 0.0;
    }
    let rate = ns.saturating_sub(ANCHOR_NS.load(Relaxed)) as f64 / span_ticks as f64;
    RATE.store(rate.to_bits(), Relaxed);
    RATE_SPAN.store(span_ticks, Release);
    rate
}

/// `n` ticks in nanoseconds.
fn ticks_to_ns(n: u64, now_ticks: u64) -> u64 {
    (n as f64 * ns_per_tick(now_ticks)) as u64
}

impl Stamp {
    /// The monotonic time (ns) the stamp was taken at; 0 if unknown.
    pub fn mono_ns(self) -> u64 {
        if self.0 == 0 || HOT.clock.load(Acquire) != TICKS {
            return self.0;
        }
        let (now_ns, now_ticks) = now_pair();
        now_ns.saturating_sub(ticks_to_ns(now_ticks.saturating_sub(self.0), now_ticks))
    }

    /// Nanoseconds from the stamp until now (one RDTSC, once the rate is known).
    pub fn elapsed_ns(self) -> u64 {
        if HOT.clock.load(Acquire) != TICKS {
            return mono_ns().saturating_sub(self.0);
        }
        let now_ticks = ticks();
        ticks_to_ns(now_ticks.saturating_sub(self.0), now_ticks)
    }
}

/// A wall-clock time in nanoseconds, shown as `2026-11-26T18:40:10.123456Z`.
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = FixedBuf::<32>::new();
        push_rfc3339(&mut b, self.0);
        f.write_str(b.as_str())
    }
}

/// The last second formatted and its text (`2026-11-26T18:40:10`), for the whole
/// process: lines come many a second, and the calendar arithmetic is the costly part.
/// A sequence lock: `SEQ` is odd while a writer fills the words; a reader that sees it
/// change formats the second itself. Not a thread-local: a library loaded by dlopen
/// allocates those lazily, maybe inside a signal handler.
static SEQ: AtomicU64 = AtomicU64::new(0);
static SECOND: AtomicU64 = AtomicU64::new(u64::MAX);
static TEXT: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn cached_second(secs: u64) -> Option<[u8; 24]> {
    let s0 = SEQ.load(Acquire);
    if s0 & 1 != 0 || SECOND.load(Acquire) != secs {
        return None;
    }
    let mut text = [0u8; 24];
    for (i, w) in TEXT.iter().enumerate() {
        text[i * 8..i * 8 + 8].copy_from_slice(&w.load(Acquire).to_le_bytes());
    }
    (SEQ.load(Acquire) == s0).then_some(text)
}

fn cache_second(secs: u64, text: &[u8]) {
    let s0 = SEQ.load(Relaxed);
    if s0 & 1 != 0 || SEQ.compare_exchange(s0, s0 + 1, Acquire, Relaxed).is_err() {
        return;
    }
    let mut padded = [0u8; 24];
    padded[..text.len().min(24)].copy_from_slice(&text[..text.len().min(24)]);
    for (i, w) in TEXT.iter().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&padded[i * 8..i * 8 + 8]);
        w.store(u64::from_le_bytes(word), Release);
    }
    SECOND.store(secs, Release);
    SEQ.store(s0 + 2, Release);
}

/// Appends `ns` (wall clock) as `2026-11-26T18:40:10.123456Z`, without core::fmt.
pub fn push_rfc3339<const N: usize>(out: &mut FixedBuf<N>, ns: u64) {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1000;
    if let Some(text) = cached_second(secs) {
        out.push_ascii(&text[..19]);
    } else {
        let mut t = FixedBuf::<20>::new();
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        t.push_padded(y.max(0) as u64, 4);
        t.push_str("-");
        t.push_padded(m.into(), 2);
        t.push_str("-");
        t.push_padded(d.into(), 2);
        t.push_str("T");
        t.push_padded(rem / 3600, 2);
        t.push_str(":");
        t.push_padded(rem / 60 % 60, 2);
        t.push_str(":");
        t.push_padded(rem % 60, 2);
        if t.len() == 19 {
            cache_second(secs, t.as_bytes());
        }
        out.push_str(t.as_str());
    }
    out.push_str(".");
    out.push_padded(micros, 6);
    out.push_str("Z");
}

/// A stamp (as the registry keeps it) shown as the wall-clock time it was taken at:
/// `2026-11-26T18:40:10.123456Z`; `Stamp(0)` is "an unknown time".
pub struct Wall(pub Stamp);

impl fmt::Display for Wall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == Stamp(0) {
            return f.write_str("an unknown time");
        }
        let ago = mono_ns().saturating_sub(self.0.mono_ns());
        Rfc3339(realtime_ns().saturating_sub(ago)).fmt(f)
    }
}

/// A duration in nanoseconds, shown short: `850ns`, `2.1us`, `1.3ms`, `2.0s`.
pub struct Dur(pub u64);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = FixedBuf::<32>::new();
        self.push(&mut b);
        f.write_str(b.as_str())
    }
}

impl Dur {
    /// Appends the duration to `out` (without core::fmt: text log lines end with it).
    pub fn push<const N: usize>(&self, out: &mut FixedBuf<N>) {
        let n = self.0;
        let (unit, whole, tenths) = match n {
            0..1_000 => {
                out.push_u64(n);
                out.push_str("ns");
                return;
            }
            1_000..1_000_000 => ("us", n / 1_000, n / 100 % 10),
            1_000_000..1_000_000_000 => ("ms", n / 1_000_000, n / 100_000 % 10),
            _ => ("s", n / 1_000_000_000, n / 100_000_000 % 10),
        };
        out.push_u64(whole);
        out.push_str(".");
        out.push_u64(tenths);
        out.push_str(unit);
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_microseconds() {
        assert_eq!(Rfc3339(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // 2026-11-26T18:40:10.123456789Z
        assert_eq!(
            Rfc3339(1_795_718_410_123_456_789).to_string(),
            "2026-11-26T18:40:10.123456Z"
        );
        // a leap day
        assert_eq!(
            Rfc3339(951_782_400_000_000_000).to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Rfc3339(4_107_542_399_999_999_000).to_string(),
            "2100-02-28T23:59:59.999999Z"
        );
    }

    #[test]
    fn formats_durations_short() {
        assert_eq!(Dur(850).to_string(), "850ns");
        assert_eq!(Dur(2_150).to_string(), "2.1us");
        assert_eq!(Dur(1_390_000).to_string(), "1.3ms");
        assert_eq!(Dur(2_000_000_000).to_string(), "2.0s");
    }

    #[test]
    fn stamps_show_as_the_wall_clock_time_they_were() {
        let shown = Wall(stamp()).to_string();
        let now = Rfc3339(realtime_ns()).to_string();
        // Same second (or the next one, at a boundary).
        assert_eq!(shown.len(), now.len());
        assert_eq!(shown[..16], now[..16]);
        assert_eq!(Wall(Stamp(0)).to_string(), "an unknown time");
    }

    #[test]
    fn a_stamp_measures_the_time_since_it_was_taken() {
        // The stamp between two clock reads (read again if preempted in between).
        let (m0, s, m1) = loop {
            let (a, s, b) = (mono_ns(), stamp(), mono_ns());
            if b - a < 100_000 {
                break (a, s, b);
            }
        };
        std::thread::sleep(std::time::Duration::from_millis(5));
        let (n0, e, n1) = (mono_ns(), s.elapsed_ns(), mono_ns());
        // The stamp was taken in [m0, m1] and measured in [n0, n1]; the rate is good to
        // far better than 1%.
        let (lo, hi) = ((n0 - m1) as f64 * 0.99, (n1 - m0) as f64 * 1.01);
        assert!(e as f64 >= lo && e as f64 <= hi, "{e} not in {lo}..{hi}");
    }

    #[test]
    fn stamps_measure_time_as_the_monotonic_clock_does() {
        let _ = stamp();
        let (m0, t0) = now_pair();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (m1, t1) = now_pair();
        let (s0, s1) = if HOT.clock.load(Relaxed) == TICKS {
            (Stamp(t0), Stamp(t1))
        } else {
            (Stamp(m0), Stamp(m1))
        };
        let clock = m1 - m0;
        let stamped = s1.mono_ns() - s0.mono_ns();
        // Within 0.5% (the rate is measured from the anchor to now).
        assert!(
            stamped.abs_diff(clock) < clock / 200,
            "{stamped} vs {clock}"
        );
        assert!(
            s0.mono_ns().abs_diff(m0) < 100_000,
            "{} vs {m0}",
            s0.mono_ns()
        );
        assert!(s1.elapsed_ns() < 1_000_000_000);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            HOT.clock.load(Relaxed),
            if tsc_invariant() { TICKS } else { MONO }
        );
    }

    #[test]
    fn clocks_move_forward() {
        let a = mono_ns();
        let b = mono_ns();
        assert!(b >= a);
        assert!(realtime_ns() > 1_700_000_000_000_000_000);
    }
}
