//! Bytes that come from a process (its command, which it sets itself with PR_SET_NAME)
//! or from the passwd database, made safe for a terminal, as ps(1) does: the text output
//! shows control characters, escape sequences and bytes that are not UTF-8 as visible
//! escapes instead of passing them to the terminal. (The JSON output escapes by JSON's
//! rules instead, and shows bytes that are not UTF-8 as U+FFFD.)

use std::borrow::Cow;
use std::fmt::Write;

/// `bytes` for the text output: printable characters as they are; `\` as `\\`; newline
/// and tab as `\n` and `\t`; other control characters (C0, DEL, C1, so also ESC), the
/// invisible characters that reorder or hide text (U+200B to U+200F, U+202A to U+202E,
/// U+2066 to U+2069, U+FEFF) and bytes that are not UTF-8 as `\xHH` per byte.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        // Printable ASCII, nothing to escape (and valid UTF-8).
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() || hiding(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// Characters that draw nothing but can hide or reorder what follows them.
fn hiding(c: char) -> bool {
    matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff)
}

/// `bytes` for the JSON output: a string (which JSON escaping then makes safe), with
/// U+FFFD for bytes that are not UTF-8.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_terminal_would_act_on_is_shown_escaped() {
        assert_eq!(text(b"postgres"), "postgres");
        assert_eq!(text(b"a b(c)"), "a b(c)");
        assert_eq!(text(b"caf\xe9"), "caf\\xe9");
        assert_eq!(text("café".as_bytes()), "café");
        assert_eq!(text(b"a\"b\\c\nd\te"), "a\"b\\\\c\\nd\\te");
        assert_eq!(text(b"\x1b[2J\x1b[8m"), "\\x1b[2J\\x1b[8m");
        assert_eq!(text(b"\x7f\r"), "\\x7f\\x0d");
        assert_eq!(
            text("x\u{85}y\u{202e}z".as_bytes()),
            "x\\xc2\\x85y\\xe2\\x80\\xaez"
        );
        assert_eq!(lossy(b"caf\xe9"), "caf\u{fffd}");
    }
}
