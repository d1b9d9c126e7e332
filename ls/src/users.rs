//! User names from the passwd database (numeric when a uid has no entry), cached.

use std::collections::HashMap;
use std::ffi::{CStr, CString};

/// Names already looked up.
#[derive(Default)]
pub struct Users {
    names: HashMap<u32, Option<String>>,
}

impl Users {
    /// The name of `uid`, or None if it has no passwd entry.
    pub fn name(&mut self, uid: u32) -> Option<&str> {
        self.names
            .entry(uid)
            .or_insert_with(|| lookup_uid(uid))
            .as_deref()
    }

    /// The name of `uid`, or the number if it has none.
    pub fn display(&mut self, uid: u32) -> String {
        self.name(uid)
            .map_or_else(|| uid.to_string(), str::to_string)
    }
}

/// getpwuid_r: the name of `uid`.
fn lookup_uid(uid: u32) -> Option<String> {
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
    Some(
        unsafe { CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The uid of `user`: a name in the passwd database, else a number.
pub fn uid_of(user: &str) -> Option<u32> {
    lookup_name(user).or_else(|| user.parse().ok())
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
        let mut u = Users::default();
        assert_eq!(u.display(0), "root");
        assert_eq!(u.display(3_999_999), "3999999");
    }
}
