//! A fixed-size text buffer that implements `fmt::Write`: messages and log lines are
//! formatted into it on the stack, so the call path never allocates.

use core::fmt;

/// Up to `N - 1` bytes of text plus a terminating NUL. Text that does not fit is cut at
/// a character boundary and the buffer remembers that it was cut.
/// `repr(C)` keeps `bytes` first, so a pointer to the buffer is a pointer to its text.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct FixedBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> FixedBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
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

    /// The text so far.
    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 characters are ever copied in (see `write_str`).
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// The text so far, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
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
            self.bytes[len] = 0;
        }
    }

    /// Pointer to the NUL-terminated text, valid while the buffer lives and is not changed.
    pub fn as_c_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the NUL terminator.
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let mut take = s.len().min(room);
        if take < s.len() {
            self.truncated = true;
            while take > 0 && !s.is_char_boundary(take) {
                take -= 1;
            }
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if N > 0 {
            self.bytes[self.len] = 0;
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
        assert_eq!(b.bytes[5], 0);
        assert!(!b.truncated());
    }

    #[test]
    fn cuts_long_text_at_a_character_boundary() {
        let b = FixedBuf::<6>::from_fmt(format_args!("abcdé"));
        // 5 bytes of room: "abcd" + half of 'é' must not be kept.
        assert_eq!(b.as_str(), "abcd");
        assert!(b.truncated());
        assert_eq!(b.bytes[4], 0);
    }
}
