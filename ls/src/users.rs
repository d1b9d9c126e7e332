//! User names from the passwd database (numeric when a uid has no entry), cached.

use std::collections::HashMap;
use std::ffi::{CStr, CString};

/// A name looked up: as JSON shows it (None: no passwd entry), and as the text shows it.
struct Name {
    json: Option<String>,
    text: String,
}

/// Names already looked up.
#[derive(Default)]
pub struct Users {
    names: HashMap<u32, Name>,
}

impl Users {
    /// The entry of `uid`, looked up once.
    fn entry(&mut self, uid: u32) -> &Name {
        self.names.entry(uid).or_insert_with(|| {
            let raw = lookup_uid(uid);
            Name {
                json: raw.as_deref().map(crate::escape::lossy),
                text: raw.map_or_else(|| uid.to_string(), |n| crate::escape::text(&n).into_owned()),
            }
        })
    }

    /// The name of `uid` for JSON (not UTF-8 made U+FFFD), or None if it has no passwd
    /// entry.
    pub fn name(&mut self, uid: u32) -> Option<&str> {
        self.entry(uid).json.as_deref()
    }

    /// The name of `uid` for the text output (escaped), or the number if it has none.
    pub fn display(&mut self, uid: u32) -> &str {
        &self.entry(uid).text
    }
}

/// getpwuid_r: the name of `uid`, as bytes.
fn lookup_uid(uid: u32) -> Option<Vec<u8>> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd (pointers null, integers 0) is valid; getpwuid_r fills it.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the lengths given; the strings it stores point into buf.
    let r = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if r != 0 || out.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points at a NUL-terminated string inside buf, which is still alive.
    Some(unsafe { CStr::from_ptr(pw.pw_name) }.to_bytes().to_vec())
}

/// The uid of `user`: a name in the passwd database, else a number of decimal digits
/// from 0 to 4294967294 (4294967295 is (uid_t) -1, no uid).
pub fn uid_of(user: &str) -> Option<u32> {
    lookup_name(user).or_else(|| {
        user.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| user.parse().ok())
            .flatten()
            .filter(|&u| u != u32::MAX)
    })
}

/// getpwnam_r: the uid of the name.
fn lookup_name(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd (pointers null, integers 0) is valid; getpwnam_r fills it.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: cname is NUL-terminated; the other pointers are valid for the lengths given.
    let r = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
        )
    };
    (r == 0 && !out.is_null()).then_some(pw.pw_uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_uid_0_and_a_number_is_taken_as_a_uid() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("4000000"), Some(4000000));
        assert_eq!(uid_of("no-such-user-rshm"), None);
        assert_eq!(uid_of("4294967295"), None);
        assert_eq!(uid_of("+7"), None);
        let mut u = Users::default();
        assert_eq!(u.display(0), "root");
        assert_eq!(u.display(3_999_999), "3999999");
    }
}
