//! `rshm-trace --complete` broken, second review: each test reproduces a call counted
//! twice, a call of rshm's own counted as the program's, or a sentence of the summary the
//! kernel contradicts, against README.md ("Every call: rshm-trace --complete") and
//! rshm-trace(1).
//!
//! Each run is made in a fresh private IPC namespace (`unshare --ipc`), in a process group
//! of its own killed whole after its deadline. The traced programs are
//! preload/c_progs/break2_* (and break_libc).
//!
//! Run: `cargo build --workspace && unshare -i cargo test -p rshm-preload --test
//! complete_breaks2`.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

// Sentences the kernel contradicts ---------------------------------------------------------

/// A program that only asks the kernel about seccomp, as libseccomp's API probe does:
/// seccomp(SECCOMP_GET_ACTION_AVAIL) and prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL)
/// (EFAULT). Neither installs anything (/proc/PID/status would say `Seccomp_filters: 1`,
/// rshm-trace's own), but rshm-trace names the process at the entry stop of either call:
/// "installed a seccomp filter of its own: a shm system call that filter refuses ... is
/// not counted". Nothing was installed, nothing can be refused: no such note.
#[test]
fn a_seccomp_probe_that_installs_nothing_is_not_named_as_a_filter_of_its_own() {
    let prog = build("break2_seccomp_probe");
    let r = traced(
        &["--complete"],
        &[prog.to_str().unwrap()],
        &[],
        Duration::from_secs(5),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("probe = -1 EFAULT"), "{}", r.stdout);
    assert_eq!(calls(&r.stderr), 2, "{}", r.stderr);
    assert!(
        !r.stderr.contains("seccomp filter of its own"),
        "no filter was installed:\n{}",
        r.stderr
    );
}

/// A segment made in rshm-trace's namespace just before the run begins, in the same
/// wall-clock second: the summary says it "was made or changed during the run by process
/// N, which made no traced call: ... a process of the run that was not traced
/// (statically linked, or its LD_PRELOAD removed)". It was made before the run (the
/// check compares shm_ctime, whole seconds, with the run's start truncated to its
/// second), and under --complete a statically linked process is traced. Nothing must be
/// said of it. (The run starts in the first half of a second, so the two share it.)
#[test]
fn a_segment_made_just_before_the_run_is_not_said_made_during_it() {
    let mk = build("break2_mk");
    let ns = ipc_ns().expect("a private IPC namespace (unshare --ipc)");
    let script = format!("'{}' && exec '{}' --complete -- true", mk.display(), TRACER);
    // Start just after a second begins: the segment and the run share that second.
    loop {
        let ns_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        if (5..300).contains(&ns_now) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut c = Command::new(ns[0]);
    c.args(&ns[1..]).args(["sh", "-c", &script]);
    for (k, _) in std::env::vars() {
        if (k.starts_with("RSHM_") && !k.starts_with("RSHM_TEST_")) || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    c.env("RSHM_PRELOAD", preload_so()).stdin(Stdio::null());
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("mk = 0"));
    assert!(
        !stderr.contains("during the run"),
        "segment 0 was made before the run:\n{stderr}"
    );
}

// Counted twice, or counted as the program's ------------------------------------------

/// A command that reaches rshm-trace's socket by another name (a symbolic link, as a
/// container's bind mount or a wrapper's own directory would give it) and hands its child
/// that name in RSHM_TRACE_SOCKET: the child's preload library connects and reports its
/// calls, but the token is taken from the name's first 16 characters, which are not the
/// run's, so every call is also stopped. Each call is counted twice (4 calls, "2 created",
/// a segment "removed by a call not traced"), and rshm's own IPC_INFO question shows as a
/// call of the program. Each call must be counted once.
#[test]
fn a_child_reaching_the_socket_by_another_name_is_not_counted_twice() {
    let prog = build("break_libc");
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = tmp().join(format!(
        "brk2-link-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("sock");
    let _ = std::fs::remove_file(&link);
    let script = format!(
        "ln -s \"$RSHM_TRACE_SOCKET\" '{l}' && RSHM_TRACE_SOCKET='{l}' exec '{p}'",
        l = link.display(),
        p = prog.display()
    );
    let r = traced(
        &["--complete"],
        &["sh", "-c", &script],
        &[],
        Duration::from_secs(5),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("rm = 0"), "{}", r.stdout);
    assert_eq!(
        lines(&r.stderr, "size=20480").len(),
        1,
        "the shmget is counted twice:\n{}",
        r.stderr
    );
    assert!(lines(&r.stderr, "IPC_INFO").is_empty(), "{}", r.stderr);
    assert_eq!(calls(&r.stderr), 2, "{}", r.stderr);
}

/// A command that drops RSHM_TRACE_SOCKET from a child's environment but keeps
/// LD_PRELOAD (an allow-list that keeps LD_*): the child's calls are stopped and counted
/// once, but the preload library, which now has no token at all, asks the kernel its own
/// question (shmctl IPC_INFO) unmarked, and rshm-trace shows and counts it as a call of
/// the program ("3 calls ... IPC_INFO 1"), which it never made. README.md: "the preload
/// library puts [the token] on its own questions to the kernel". Only the program's two
/// calls must be counted.
#[test]
fn a_child_without_the_socket_variable_has_no_question_of_rshms_counted() {
    let prog = build("break_libc");
    let r = traced(
        &["--complete"],
        &["env", "-u", "RSHM_TRACE_SOCKET", prog.to_str().unwrap()],
        &[],
        Duration::from_secs(5),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("rm = 0"), "{}", r.stdout);
    assert_eq!(calls(&r.stderr), 2, "{}", r.stderr);
    assert!(
        !r.stderr
            .lines()
            .any(|l| l.starts_with("rshm-trace: ") && l.contains("IPC_INFO")),
        "rshm's own question counted as the program's:\n{}",
        r.stderr
    );
}
