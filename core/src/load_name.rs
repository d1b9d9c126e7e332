//! The names the code run at load reads (environment variables, the four function names
//! looked up with `dlsym`), kept together in a section of their own, `.rshm_load_names`.
//!
//! Every exec of every program under the preload library reads them. Among the rest of
//! the read-only data they lay on three pages of their own, each fault of which maps up to
//! 16 neighbouring pages (the kernel's fault-around). The preload library's link
//! (preload/layout.ld) puts the section beside the loader's own tables, on a page the
//! loader has read already. Elsewhere (librshm, rshm-trace) the section is only one more
//! place for a few bytes of read-only data.

/// True if `b` ends in a NUL and has no other: a C string.
#[doc(hidden)]
pub const fn is_c_string(b: &[u8]) -> bool {
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == 0 {
            return false;
        }
        i += 1;
    }
    !b.is_empty() && b[b.len() - 1] == 0
}

/// `load_name!("RSHM_LOG")`: a `&'static CStr` whose bytes live in `.rshm_load_names`
/// (see the module's documentation). A name with a NUL inside does not build.
#[macro_export]
#[doc(hidden)]
macro_rules! load_name {
    ($name:literal) => {{
        const BYTES: &[u8] = concat!($name, "\0").as_bytes();
        const _: () = assert!($crate::__private::load_name::is_c_string(BYTES));
        #[unsafe(link_section = ".rshm_load_names")]
        static NAME: [u8; BYTES.len()] = {
            let mut a = [0u8; BYTES.len()];
            let mut i = 0;
            while i < a.len() {
                a[i] = BYTES[i];
                i += 1;
            }
            a
        };
        // SAFETY: NAME holds BYTES, which end in their only NUL (asserted above).
        unsafe { ::core::ffi::CStr::from_bytes_with_nul_unchecked(&NAME) }
    }};
}

#[cfg(test)]
mod tests {
    use super::is_c_string;

    #[test]
    fn c_strings_are_told_apart() {
        assert!(is_c_string(b"RSHM_LOG\0"));
        assert!(is_c_string(b"\0"));
        assert!(!is_c_string(b""));
        assert!(!is_c_string(b"RSHM_LOG"));
        assert!(!is_c_string(b"RSHM\0LOG\0"));
    }

    #[test]
    fn the_name_is_its_literal() {
        let name = load_name!("RSHM_LOG");
        assert_eq!(name.to_bytes(), b"RSHM_LOG");
        assert_eq!(name, load_name!("RSHM_LOG"));
    }
}
