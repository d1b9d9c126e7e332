//! The panic boundary every exported function (the C ABI and the preload hooks) runs
//! its body in: an `Err` becomes errno + this thread's last error, and a panic never
//! unwinds into C.

use crate::error::{self, Error};
use core::panic::AssertUnwindSafe;

/// Runs `f`; on `Err` (or a panic, which is caught here) sets errno and returns `fail`
/// (the sentence is this thread's last error from the moment the `Error` was made).
/// `call` names the function for the panic's message.
#[inline(always)]
pub fn boundary<T>(call: &str, fail: T, f: impl FnOnce() -> Result<T, Error>) -> T {
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        #[cfg(feature = "panic-injection")]
        injected_panic(call);
        f()
    }))
    .unwrap_or_else(|_| {
        Err(Error::new(
            libc::EINVAL,
            format_args!("{call}: internal error in rshm (a bug; please report it)"),
        ))
    });
    match r {
        Ok(v) => v,
        // The sentence is in this thread's last error already: it went there when the
        // `Error` was made.
        Err(e) => {
            error::set_errno(e.errno);
            fail
        }
    }
}

/// Tests only (the `panic-injection` feature): panics if `RSHM_TEST_PANIC` names `call`,
/// as a bug inside rshm would.
#[cfg(feature = "panic-injection")]
fn injected_panic(call: &str) {
    if std::env::var_os("RSHM_TEST_PANIC").is_some_and(|n| n == call) {
        panic!("RSHM_TEST_PANIC={call}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_einval_and_a_last_error_not_an_unwind() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = boundary("rshm_get", -1, || -> Result<i32, Error> { panic!("boom") });
        std::panic::set_hook(prev);
        assert_eq!(r, -1);
        assert_eq!(error::errno(), libc::EINVAL);
        assert_eq!(
            error::last().as_str(),
            "rshm_get: internal error in rshm (a bug; please report it)"
        );
    }

    #[test]
    fn an_err_sets_errno_and_the_last_error() {
        let r = boundary("rshm_dt", -1, || {
            Err(Error::new(libc::ENOENT, format_args!("rshm_dt: why")))
        });
        assert_eq!((r, error::errno()), (-1, libc::ENOENT));
        assert_eq!(error::last().as_str(), "rshm_dt: why");
    }
}
