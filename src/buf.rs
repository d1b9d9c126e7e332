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

    /// Appends `s`; what does not fit is dropped.
    pub fn push_str(&mut self, s: &str) {
        let _ = fmt::Write::write_str(self, s);
    }

    /// Appends `n` in decimal (without core::fmt: log lines are built on the call path).
    pub fn push_u64(&mut self, n: u64) {
        let mut width = 1;
        let mut t = n;
        while t >= 10 {
            t /= 10;
            width += 1;
        }
        self.push_digits(n, width);
    }

    /// Writes the `width` low decimal digits of `n` straight into the buffer (a number
    /// that does not fit whole is left out).
    fn push_digits(&mut self, mut n: u64, width: usize) {
        if self.len + width > N.saturating_sub(1) {
            self.truncated = true;
            return;
        }
        let mut i = self.len + width;
        while i > self.len {
            i -= 1;
            self.bytes[i] = MaybeUninit::new(b'0' + (n % 10) as u8);
            n /= 10;
        }
        self.len += width;
        self.bytes[self.len] = MaybeUninit::new(0);
    }

    /// Appends `n` in decimal, with a minus sign when negative.
    pub fn push_i64(&mut self, n: i64) {
        if n < 0 {
            self.push_ascii(b"-");
        }
        self.push_u64(n.unsigned_abs());
    }

    /// Appends `n` in decimal, zero-padded to `width` digits (more if `n` needs them).
    pub fn push_padded(&mut self, n: u64, width: usize) {
        let mut need = 1;
        let mut t = n;
        while t >= 10 {
            t /= 10;
            need += 1;
        }
        self.push_digits(n, need.max(width.min(20)));
    }

    /// Appends `n` in lower-case hex with a `0x` prefix.
    pub fn push_hex(&mut self, mut n: u64) {
        let mut digits = [0u8; 18];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(n & 15) as usize];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        i -= 2;
        digits[i] = b'0';
        digits[i + 1] = b'x';
        self.push_ascii(&digits[i..]);
    }

    /// Appends ASCII bytes without UTF-8 validation; anything else is refused (the text
    /// must stay UTF-8, and a cut must fall on a character boundary).
    pub fn push_ascii(&mut self, b: &[u8]) {
        if b.is_ascii() {
            self.copy_in(b);
        }
    }

    /// Copies as much of `b` as fits (one byte is kept for the NUL) and terminates.
    /// `b` must be cut by the caller, if at all, at a character boundary.
    fn copy_in(&mut self, b: &[u8]) -> usize {
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let take = b.len().min(room);
        if take < b.len() {
            self.truncated = true;
        }
        // SAFETY: `take` bytes from `b` fit in bytes[len..N-1] (take <= room), the two
        // do not overlap (`b` is borrowed, `self` mutably), and MaybeUninit<u8> has u8's layout.
        unsafe {
            core::ptr::copy_nonoverlapping(
                b.as_ptr(),
                self.bytes.as_mut_ptr().add(self.len).cast::<u8>(),
                take,
            );
        }
        self.len += take;
        if N > 0 {
            self.bytes[self.len] = MaybeUninit::new(0);
        }
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

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
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
    fn cuts_long_text_at_a_character_boundary() {
        let b = FixedBuf::<6>::from_fmt(format_args!("abcdé"));
        // 5 bytes of room: "abcd" + half of 'é' must not be kept.
        assert_eq!(b.as_str(), "abcd");
        assert!(b.truncated());
        // SAFETY: the NUL after the text is initialised.
        assert_eq!(unsafe { b.bytes[4].assume_init() }, 0);
    }
}
