//! Clocks (vDSO clock_gettime: no lock, no allocation) and RFC 3339 timestamps.

use core::fmt;

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

/// A wall-clock time in nanoseconds, shown as `2026-11-26T18:40:10.123456Z`.
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let micros = (self.0 % 1_000_000_000) / 1000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// A duration in nanoseconds, shown short: `850ns`, `2.1us`, `1.3ms`, `2.0s`.
pub struct Dur(pub u64);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match n {
            0..1_000 => write!(f, "{n}ns"),
            1_000..1_000_000 => write!(f, "{}.{}us", n / 1_000, n / 100 % 10),
            1_000_000..1_000_000_000 => write!(f, "{}.{}ms", n / 1_000_000, n / 100_000 % 10),
            _ => write!(f, "{}.{}s", n / 1_000_000_000, n / 100_000_000 % 10),
        }
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
    fn clocks_move_forward() {
        let a = mono_ns();
        let b = mono_ns();
        assert!(b >= a);
        assert!(realtime_ns() > 1_700_000_000_000_000_000);
    }
}
