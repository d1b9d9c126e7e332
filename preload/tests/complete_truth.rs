//! `rshm-trace --complete`: what it says of a call it stopped at a seccomp stop (a raw
//! syscall(2)) must be what the preload library says of the same call made through libc,
//! and what the kernel did. Each test runs one program twice, once through libc
//! (preloaded) and once raw, and compares the two lines.
//!
//! Each run is made in a fresh private IPC namespace (`unshare --ipc`, after a setup
//! script), in a process group of its own killed whole after its deadline. The traced
//! programs are preload/c_progs/truth_* (and complete_call).
//!
//! Run: `cargo build --workspace && unshare -i cargo test -p rshm-preload --test
//! complete_truth`.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// In a fresh private IPC namespace: the shell script `setup`, then `rshm-trace OPTS --
/// ARGV`, killed whole (and the test failed) after 5 s.
fn traced_after(setup: &str, opts: &[&str], argv: &[&str]) -> Run {
    let ns = ipc_ns().expect("a private IPC namespace (unshare --ipc)");
    let script = format!("{setup}\nexec \"$@\"");
    let mut all = vec!["sh", "-c", &script, "sh", TRACER];
    all.extend(opts);
    all.push("--");
    all.extend(argv);
    let r = run(in_ns(ns, &all), Duration::from_secs(5), None);
    assert!(
        r.code.is_some(),
        "the run outlived its deadline:\n{}",
        r.stderr
    );
    r
}

/// A log line from its level on, without the time stamp, pid and duration.
fn gist(line: &str) -> String {
    let from = line
        .find(" INFO ")
        .or_else(|| line.find(" WARN "))
        .unwrap_or(0);
    let s = &line[from + 1..];
    match s.rfind(" [") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Whether the program can unshare its IPC namespace (it runs as root, or as root of a
/// user namespace).
fn can_unshare() -> bool {
    ipc_ns().is_some_and(|ns| works(&[ns, &["unshare", "--ipc", "true"][..]].concat()))
}

/// A process in an IPC namespace other than rshm-trace's (it unshared its own, whose
/// SHMMAX is the kernel's default) makes shmget(IPC_PRIVATE, 2 MiB) where rshm-trace's
/// namespace has SHMMAX = 1 MiB. The kernel allows it, and through libc the preload
/// library says nothing and `--strict` lets it through (it rereads the limits of the
/// process's own namespace). Made raw, rshm-trace judges it against its own namespace's
/// SHMMAX: "size 2097152 is above SHMMAX (1048576)", and with `--strict` refuses it with
/// EINVAL, a call the kernel and the preload library allow.
#[test]
fn a_raw_call_in_another_ipc_namespace_is_judged_by_that_namespaces_limits() {
    if !can_unshare() {
        eprintln!("skipped: the program cannot unshare its IPC namespace");
        return;
    }
    let prog = build("truth_ns");
    let prog = prog.to_str().unwrap();
    let setup = "echo 1048576 > /proc/sys/kernel/shmmax";
    for strict in [false, true] {
        let opts: &[&str] = if strict {
            &["--complete", "--strict"]
        } else {
            &["--complete"]
        };
        let mut said = vec![];
        for mode in ["libc0", "raw0"] {
            let r = traced_after(setup, opts, &[prog, mode, "size:2097152"]);
            assert!(
                r.stdout.contains("size:2097152 = 0"),
                "{mode} strict={strict}: the call was refused\n{}\n{}",
                r.stdout,
                r.stderr
            );
            let l = lines(&r.stderr, "size=2097152");
            assert_eq!(l.len(), 1, "{mode}: {}", r.stderr);
            said.push(gist(l[0]));
        }
        assert_eq!(said[0], said[1], "strict={strict}: libc, then raw");
    }
}

/// A process makes a call rshm-trace stops (so rshm-trace knows it), then unshares its
/// IPC namespace, then get-or-creates key 0x1234, which rshm-trace's namespace has (id 0,
/// owned by uid 65534 when it can be made so) but its new namespace has not: the kernel
/// makes a segment (id 0 there). Through libc: "(created)", no warning. Raw, rshm-trace
/// still takes the process for one of its own namespace and asks its questions there: no
/// "(created)", a squatting warning naming uid 65534, and with `--strict` an EACCES for a
/// call that made a segment (left behind, unreported).
#[test]
fn a_raw_call_after_unshare_is_judged_in_the_processs_new_ipc_namespace() {
    if !can_unshare() {
        eprintln!("skipped: the program cannot unshare its IPC namespace");
        return;
    }
    let prog = build("truth_ns");
    let prog = prog.to_str().unwrap();
    let call = build("complete_call");
    let call = call.to_str().unwrap();
    let other = works(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "true",
    ]);
    let setup = if other {
        format!(
            "setpriv --reuid=65534 --regid=65534 --clear-groups {call} get:0x1234:4096:01666 >/dev/null"
        )
    } else {
        format!("{call} get:0x1234:4096:01666 >/dev/null")
    };
    for strict in [false, true] {
        let opts: &[&str] = if strict {
            &["--complete", "--strict"]
        } else {
            &["--complete"]
        };
        let mut said = vec![];
        for mode in ["libc", "raw"] {
            let r = traced_after(&setup, opts, &[prog, mode, "goc:0x1234"]);
            assert!(
                r.stdout.contains("goc:0x1234 = 0"),
                "{mode} strict={strict}: the call was refused\n{}\n{}",
                r.stdout,
                r.stderr
            );
            let l = lines(&r.stderr, "key=0x00001234");
            assert_eq!(l.len(), 1, "{mode}: {}", r.stderr);
            assert!(
                l[0].contains("(created)"),
                "{mode} strict={strict}: {}",
                l[0]
            );
            said.push(gist(l[0]));
        }
        assert_eq!(said[0], said[1], "strict={strict}: libc, then raw");
    }
}

/// A process attaches one 64 KiB segment twice (the kernel places the two attachments
/// side by side) and removes it while both are held: nattch is 2. Through libc the note
/// says "still attached here (2 times)"; raw, rshm-trace merges the two adjacent
/// attachments of /proc/PID/maps into one and says "(1 time)".
#[test]
fn a_raw_rmid_counts_two_adjacent_attachments_of_one_segment_as_two() {
    let prog = build("truth_twice");
    let prog = prog.to_str().unwrap();
    let mut said = vec![];
    for mode in ["libc", "raw"] {
        let r = traced_after("", &["--complete"], &[prog, mode]);
        assert!(r.stdout.contains("nattch 2"), "{mode}: {}", r.stdout);
        let l = lines(&r.stderr, "cmd=IPC_RMID");
        assert_eq!(l.len(), 1, "{mode}: {}", r.stderr);
        assert!(l[0].contains("(2 times)"), "{mode}: {}", l[0]);
        said.push(gist(l[0]));
    }
    assert_eq!(said[0], said[1], "libc, then raw");
}

/// SHMMAX is raised during the run, after rshm-trace read the limits for a first stopped
/// call: a raw shmget above the old limit and below the new one is allowed by the kernel,
/// and rshm-trace must neither warn that it is above SHMMAX nor, with `--strict`, refuse
/// it (it reads the limits again before a rule that rests on one breaks, as the library
/// does).
#[test]
fn a_limit_raised_during_the_run_is_the_one_a_raw_call_is_judged_by() {
    let call = build("complete_call");
    let call = call.to_str().unwrap();
    let setup = "echo 1048576 > /proc/sys/kernel/shmmax";
    let script = format!(
        "{call} get:0:4096:01600 && echo 4194304 > /proc/sys/kernel/shmmax && \
         {call} get:0:2097152:01600 rm:0 rm:1"
    );
    for opts in [&["--complete"][..], &["--complete", "--strict"]] {
        let r = traced_after(setup, opts, &["sh", "-c", &script]);
        assert!(
            r.stdout.contains("get = 1"),
            "{opts:?}: {}\n{}",
            r.stdout,
            r.stderr
        );
        let l = lines(&r.stderr, "size=2097152");
        assert_eq!(l.len(), 1, "{opts:?}: {}", r.stderr);
        assert!(
            l[0].contains(" INFO ") && l[0].contains("= 1 (created)") && !l[0].contains("SHMMAX"),
            "{opts:?}: {}",
            l[0]
        );
    }
}

/// A raw get-or-create by uid 65534 on a key whose segment root made (mode 0666, so the
/// kernel lets it open it): the squatting warning names the owner, uid 0, as the
/// preload library's does; with `--strict` the call fails with EACCES, and no segment
/// is made (the key's segment is the one there was).
#[test]
fn a_raw_get_or_create_that_opens_another_users_segment_is_called_a_squat() {
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 || !works(&["setpriv", "--version"]) {
        may_skip("switching users needs root and setpriv");
        return;
    }
    let call = build("complete_call");
    let call = call.to_str().unwrap();
    let setup = format!("{call} get:0x4321:4096:01666 >/dev/null");
    let script = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {call} get:0x4321:4096:01600 used"
    );
    for (opts, got) in [
        (&["--complete"][..], "get = 0"),
        (&["--complete", "--strict"], "get = -1 EACCES"),
    ] {
        let r = traced_after(&setup, opts, &["sh", "-c", &script]);
        assert!(
            r.stdout.contains(got),
            "{opts:?}: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert!(r.stdout.contains("used = 1"), "{opts:?}: {}", r.stdout);
        let l = lines(&r.stderr, "key=0x00004321");
        assert_eq!(l.len(), 1, "{opts:?}: {}", r.stderr);
        assert!(
            l[0].contains(" WARN ")
                && l[0].contains(
                    "key 0x00004321 already had a segment, owned by uid 0: IPC_CREAT without \
                     IPC_EXCL opened another user's segment instead of making one (a squatter's?)"
                ),
            "{opts:?}: {}",
            l[0]
        );
        assert_eq!(
            l[0].contains("RSHM_STRICT=1 refuses this"),
            opts.len() == 2,
            "{}",
            l[0]
        );
    }
}

/// A 64-bit program that makes a segment with the 32-bit system call (`int $0x80`): the
/// filter stops x86-64 calls only, so --complete does not see it, as documented; the
/// summary must name the maker and say why, and count the segment leaked.
#[test]
fn a_32_bit_system_call_is_unseen_and_the_summary_says_so() {
    let prog = build("complete_int80");
    let r = traced(
        &["--complete"],
        &[prog.to_str().unwrap()],
        &[],
        Duration::from_secs(5),
    );
    if r.code == Some(1) && r.stdout.starts_with("seg -") {
        may_skip("this kernel has no 32-bit system calls (IA32 emulation)");
        return;
    }
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let pid = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .unwrap();
    assert_eq!(calls(&r.stderr), 0, "{}", r.stderr);
    let want = format!(
        "rshm-trace: segment 0 (IPC_PRIVATE, 4096 bytes) was made by process {pid} \
         (complete_int80) of this run with a call rshm-trace did not see: the kernel names \
         it as the maker, and no traced call made it (a 32-bit system call, which \
         --complete does not see)"
    );
    assert!(r.stderr.lines().any(|l| l == want), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("segments: 0 created, 0 removed, 1 leaked"),
        "{}",
        r.stderr
    );
}

/// A segment made during a --complete run by a program outside it (in the same IPC
/// namespace): the summary names its maker as another program, not as an untraced
/// process of the run (--complete traces every one).
#[test]
fn a_segment_made_outside_the_run_is_said_made_by_another_program() {
    let ns = ipc_ns().expect("a private IPC namespace (unshare --ipc)");
    let script =
        format!("{TRACER} --complete -c -- sleep 2.5 & sleep 1.3; ipcmk -M 100 >/dev/null; wait");
    let r = run(
        in_ns(ns, &["sh", "-c", &script]),
        Duration::from_secs(10),
        None,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let said = r
        .stderr
        .lines()
        .find(|l| l.starts_with("rshm-trace: segment 0 (") && l.contains("100 bytes"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(
        said.contains("was made or changed during the run by process ")
            && said.ends_with(
                "which made no traced call: another program, outside the run (--complete \
                 sees every process of the run)"
            ),
        "{said}"
    );
}

/// rshm-trace run under another tracer (strace -f follows it to its child): it cannot
/// seize the command, says so in one line, and the command does not run untraced (exit
/// status 126).
#[test]
fn a_command_that_cannot_be_seized_does_not_run() {
    if !works(&["strace", "-V"]) {
        may_skip("strace is not installed");
        return;
    }
    let dir = Dir::new("seize");
    let ran = dir.file_str("ran");
    let ns = ipc_ns().expect("a private IPC namespace (unshare --ipc)");
    let r = run(
        in_ns(
            ns,
            &[
                "strace",
                "-f",
                "-o",
                "/dev/null",
                TRACER,
                "--complete",
                "--",
                "touch",
                &ran,
            ],
        ),
        Duration::from_secs(10),
        None,
    );
    assert_eq!(r.code, Some(126), "{}", r.stderr);
    assert_eq!(
        r.stderr.trim_end(),
        "rshm-trace: cannot run touch: --complete: cannot trace the command (PTRACE_SEIZE): \
         Operation not permitted"
    );
    assert!(!Path::new(&ran).exists(), "the command ran untraced");
}
