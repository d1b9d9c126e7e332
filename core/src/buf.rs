//! A fixed-size text buffer that implements `fmt::Write`: messages and log lines are
//! formatted into it on the stack, so the call path never allocates.

use core::fmt;
use core::mem::MaybeUninit;

/// Up to `N - 1` bytes of text plus a terminating NUL. Text that does not fit is cut at
/// a character boundary and the buffer remembers that it was cut.
/// `repr(C)` keeps `bytes` first, so a pointer to the buffer is a pointer to its text.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct FixedBuf<const N: usize> {
    /// Only `bytes[..=len]` is initialised: the text, then a NUL.
    bytes: [MaybeUninit<u8>; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> FixedBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        let mut bytes = [MaybeUninit::uninit(); N];
        if N > 0 {
            bytes[0] = MaybeUninit::new(0);
        }
        Self {
            bytes,
            len: 0,
            truncated: false,
        }
    }

    /// A buffer holding `args`, formatted.
    pub fn from_fmt(args: fmt::Arguments<'_>) -> Self {
        let mut b = Self::new();
        b.push_fmt(args);
        b
    }

    /// Appends `args`, formatted; what does not fit is dropped.
    pub fn push_fmt(&mut self, args: fmt::Arguments<'_>) {
        // Our `write_str` never fails, so neither does `write_fmt` (Display impls of
        // integers and strings do not fail on their own).
        let _ = fmt::Write::write_fmt(self, args);
    }

    /// Appends `s`; what does not fit is dropped (cut at a character boundary). Inline,
    /// so a constant piece of a log line is copied with a few moves, not a memcpy call.
    #[inline(always)]
    pub fn push_str(&mut self, s: &str) {
        if self.len + s.len() < N {
            // SAFETY: `s` is UTF-8, and it fits whole with the NUL after it.
            unsafe { self.append(s.as_bytes()) }
        } else {
            self.push_str_cut(s);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_str_cut(&mut self, s: &str) {
        let _ = fmt::Write::write_str(self, s);
    }

    /// Copies `b` in after the text, and the NUL after it.
    ///
    /// # Safety
    /// `b` is UTF-8 that fits whole: `self.len + b.len() < N`.
    #[inline(always)]
    unsafe fn append(&mut self, b: &[u8]) {
        // SAFETY: the caller guarantees b.len() bytes and a NUL fit at `len`; `b` is
        // borrowed and `self` mutably, so they do not overlap; MaybeUninit<u8> has u8's
        // layout.
        unsafe {
            let at = self.bytes.as_mut_ptr().add(self.len).cast::<u8>();
            core::ptr::copy_nonoverlapping(b.as_ptr(), at, b.len());
            *at.add(b.len()) = 0;
        }
        self.len += b.len();
    }

    /// Appends `n` in decimal (without core::fmt: log lines are built on the call path).
    pub fn push_u64(&mut self, n: u64) {
        self.push_decimal(false, n, digits(n));
    }

    /// Appends `n` in decimal, with a minus sign when negative.
    pub fn push_i64(&mut self, n: i64) {
        let m = n.unsigned_abs();
        self.push_decimal(n < 0, m, digits(m));
    }

    /// Appends `n` in decimal, zero-padded to `width` digits (more if `n` needs them;
    /// `width` is at most 20).
    pub fn push_padded(&mut self, n: u64, width: usize) {
        self.push_decimal(false, n, digits(n).max(width.min(20)));
    }

    /// Writes `-` (if `minus`) and the `width` low decimal digits of `n` straight into
    /// the buffer, two at a time; a number that does not fit whole is left out, and the
    /// buffer remembers that it was cut.
    #[inline(always)]
    fn push_decimal(&mut self, minus: bool, mut n: u64, width: usize) {
        let sign = usize::from(minus);
        if self.len + sign + width >= N {
            self.truncated = true;
            return;
        }
        let start = self.len + sign;
        // SAFETY: bytes[len..=start + width] is inside the buffer (checked above), and
        // only ASCII is written there.
        unsafe {
            let p = self.bytes.as_mut_ptr().cast::<u8>();
            if minus {
                *p.add(self.len) = b'-';
            }
            let mut at = start + width;
            *p.add(at) = 0;
            while at >= start + 2 {
                let pair = (n % 100) as usize * 2;
                n /= 100;
                at -= 2;
                core::ptr::copy_nonoverlapping(PAIRS.as_ptr().add(pair), p.add(at), 2);
            }
            if at > start {
                *p.add(start) = b'0' + (n % 10) as u8;
            }
        }
        self.len = start + width;
    }

    /// Appends `n` in lower-case hex with a `0x` prefix (left out whole if it does not
    /// fit).
    pub fn push_hex(&mut self, n: u64) {
        let width = (64 - n.leading_zeros() as usize).div_ceil(4).max(1);
        if self.len + 2 + width >= N {
            self.truncated = true;
            return;
        }
        // SAFETY: bytes[len..=len + 2 + width] is inside the buffer (checked above), and
        // only ASCII is written there.
        unsafe {
            let p = self.bytes.as_mut_ptr().cast::<u8>().add(self.len);
            *p = b'0';
            *p.add(1) = b'x';
            for i in 0..width {
                let nibble = (n >> (4 * (width - 1 - i))) & 15;
                *p.add(2 + i) = b"0123456789abcdef"[nibble as usize];
            }
            *p.add(2 + width) = 0;
        }
        self.len += 2 + width;
    }

    /// Appends ASCII bytes without UTF-8 validation; anything else is refused (the text
    /// must stay UTF-8, and a cut must fall on a character boundary).
    #[inline]
    pub fn push_ascii(&mut self, b: &[u8]) {
        if !b.is_ascii() {
            return;
        }
        if self.len + b.len() < N {
            // SAFETY: ASCII is UTF-8, and it fits whole with the NUL after it.
            unsafe { self.append(b) }
        } else {
            self.copy_in(b);
        }
    }

    /// Copies as much of `b` as fits (one byte is kept for the NUL) and terminates.
    /// `b` must be cut by the caller, if at all, at a character boundary.
    fn copy_in(&mut self, b: &[u8]) -> usize {
        if N == 0 {
            // No room even for the NUL.
            self.truncated |= !b.is_empty();
            return 0;
        }
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let take = b.len().min(room);
        if take < b.len() {
            self.truncated = true;
        }
        // SAFETY: `take` bytes of `b` and the NUL fit (take <= room), and `b[..take]` is
        // cut by the caller at a character boundary.
        unsafe { self.append(&b[..take]) };
        take
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        // SAFETY: only whole UTF-8 characters are ever copied in (`write_str` cuts at a
        // character boundary, `push_ascii` copies ASCII), so the prefix is UTF-8.
        unsafe { core::str::from_utf8_unchecked(self.as_bytes()) }
    }

    /// The text so far, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: bytes[..len] is initialised (see the field), and MaybeUninit<u8> has
        // u8's layout.
        unsafe { core::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), self.len) }
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when some text did not fit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Drops everything after the first `len` bytes (`len` must be a character boundary).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len && self.as_str().is_char_boundary(len) {
            self.len = len;
            self.bytes[len] = MaybeUninit::new(0);
        }
    }

    /// Pointer to the NUL-terminated text, valid while the buffer lives and is not changed.
    pub fn as_c_ptr(&self) -> *const u8 {
        self.bytes.as_ptr().cast()
    }
}

/// "00" to "99": numbers are written two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// How many decimal digits `n` has (log lines hold small numbers: a few compares).
#[inline(always)]
fn digits(n: u64) -> usize {
    let mut d = 1;
    let mut t = n;
    while t >= 10_000 {
        t /= 10_000;
        d += 4;
    }
    d + usize::from(t >= 10) + usize::from(t >= 100) + usize::from(t >= 1000)
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() < N {
            // SAFETY: `s` is UTF-8, and it fits whole with the NUL after it.
            unsafe { self.append(s.as_bytes()) };
            return Ok(());
        }
        // Keep one byte for the NUL terminator; cut at a character boundary.
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let mut take = s.len().min(room);
        while take > 0 && !s.is_char_boundary(take) {
            take -= 1;
        }
        self.copy_in(&s.as_bytes()[..take]);
        if take < s.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Display for FixedBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for FixedBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_terminates_with_nul() {
        let b = FixedBuf::<16>::from_fmt(format_args!("id {}", 42));
        assert_eq!(b.as_str(), "id 42");
        // SAFETY: the NUL after the text is initialised.
        assert_eq!(unsafe { b.bytes[5].assume_init() }, 0);
        assert!(!b.truncated());
    }

    #[test]
    fn pushes_numbers_without_core_fmt() {
        let mut b = FixedBuf::<128>::new();
        b.push_u64(0);
        b.push_str(" ");
        b.push_u64(u64::MAX);
        b.push_str(" ");
        b.push_i64(i64::MIN);
        b.push_str(" ");
        b.push_i64(-1);
        b.push_str(" ");
        b.push_hex(0);
        b.push_str(" ");
        b.push_hex(0x7f3a_0c00_0000);
        b.push_str(" ");
        b.push_hex(u64::MAX);
        b.push_str(" ");
        b.push_padded(7, 2);
        b.push_padded(123456, 6);
        b.push_padded(5, 6);
        assert_eq!(
            b.as_str(),
            "0 18446744073709551615 -9223372036854775808 -1 0x0 0x7f3a0c000000 0xffffffffffffffff 07123456000005"
        );
    }

    #[test]
    fn numbers_match_core_fmt_at_every_digit_count() {
        let mut n: u64 = 1;
        for _ in 0..20 {
            for v in [n - 1, n, n + 1, n.wrapping_mul(7) / 3] {
                let mut b = FixedBuf::<128>::new();
                b.push_u64(v);
                b.push_str(" ");
                b.push_i64(-(v as i64));
                b.push_str(" ");
                b.push_hex(v);
                b.push_str(" ");
                b.push_padded(v, 7);
                assert_eq!(
                    b.as_str(),
                    format!("{v} {} {v:#x} {v:07}", -(v as i64)),
                    "{v}"
                );
            }
            n = n.saturating_mul(10);
        }
    }

    #[test]
    fn a_number_that_does_not_fit_is_left_out_whole() {
        let mut b = FixedBuf::<8>::new();
        b.push_str("abc");
        b.push_u64(12345);
        assert_eq!((b.as_str(), b.truncated()), ("abc", true));
        let mut b = FixedBuf::<8>::new();
        b.push_i64(-123456);
        assert_eq!((b.as_str(), b.truncated()), ("-123456", false));
        b.push_hex(1);
        assert_eq!((b.as_str(), b.truncated()), ("-123456", true));
        let mut b = FixedBuf::<8>::new();
        b.push_str("1234567");
        assert_eq!((b.as_str(), b.truncated()), ("1234567", false));
        b.push_str("8");
        assert_eq!((b.as_str(), b.truncated()), ("1234567", true));
    }

    #[test]
    fn cuts_long_text_at_a_character_boundary() {
        let b = FixedBuf::<6>::from_fmt(format_args!("abcdé"));
        // 5 bytes of room: "abcd" + half of 'é' must not be kept.
        assert_eq!(b.as_str(), "abcd");
        assert!(b.truncated());
        // SAFETY: the NUL after the text is initialised.
        assert_eq!(unsafe { b.bytes[4].assume_init() }, 0);
    }
}
