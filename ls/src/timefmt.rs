//! Times as people read them: local time, to the second.

/// `YYYY-MM-DD HH:MM:SS` in local time, or `-` for 0 (never).
pub fn local(t: i64) -> String {
    if t == 0 {
        return "-".into();
    }
    // SAFETY: a zeroed tm (integers, a null zone name) is valid; localtime_r fills it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let secs = t as libc::time_t;
    // SAFETY: both pointers are valid for the call; localtime_r keeps neither.
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return t.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_is_a_dash_and_a_time_has_nineteen_characters() {
        assert_eq!(local(0), "-");
        let s = local(1_764_257_213);
        assert_eq!(s.len(), 19, "{s}");
        assert!(s.starts_with("2025-11-2"), "{s}");
    }
}
