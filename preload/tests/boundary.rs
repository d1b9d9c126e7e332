//! A panic inside the preload library (a bug in rshm) never reaches the program: the call
//! fails with EINVAL, and the program goes on. The panic is
//! made to order by a build of the library with the `panic-injection` feature
//! (`RSHM_TEST_PANIC=<function>`), which `make test` builds in target/panic-injection: it
//! unwinds through the same code, unwinding tables and layout (preload/layout.ld) as the
//! library that ships, which has no such switch.

mod common;

use common::{build, in_ns, ipc_ns_or_skip, may_skip, target_dir};
use std::path::PathBuf;

/// The preload library built with the `panic-injection` feature, if there is one.
fn panicking_so() -> Option<PathBuf> {
    let so = target_dir().join("panic-injection/release/librshm_preload.so");
    so.is_file().then_some(so)
}

#[test]
fn a_panic_in_any_of_the_four_functions_is_einval_and_the_program_goes_on() {
    let Some(so) = panicking_so() else {
        if may_skip("no preload library built with panic-injection (make test builds it)") {
            return;
        }
        unreachable!()
    };
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let prog = build("panicked");
    let prog = prog.to_str().unwrap();
    for call in ["shmget", "shmat", "shmdt", "shmctl"] {
        let out = in_ns(ns, &[prog])
            .env("LD_PRELOAD", &so)
            .env("RSHM_LOG", "error")
            .env("RSHM_TEST_PANIC", call)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{call}: {stdout}{stderr}");
        let want: Vec<String> = ["shmget", "shmat", "shmdt", "shmctl"]
            .iter()
            .map(|c| {
                let r = if *c == call { "-1 22" } else { "0 0" };
                format!("{c} {r}")
            })
            .chain(["alive".to_string()])
            .collect();
        assert_eq!(stdout.lines().collect::<Vec<_>>(), want, "{call}: {stderr}");
        // It did panic (the standard library's message; rshm writes no line of its own
        // for it: the sentence is the thread's last error, which a traced program never
        // reads).
        assert!(
            stderr.contains(&format!("RSHM_TEST_PANIC={call}")),
            "{call}: {stderr}"
        );
    }
}
