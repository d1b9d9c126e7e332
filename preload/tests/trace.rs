//! rshm-trace as a user runs it: the failures it had before it owned its trace, each
//! one a test. The traced programs are preload/c_progs/trace_*.c, util-linux's ipcmk and
//! ipcrm, and sh. Every segment a test makes is removed by a guard, also when it fails.
//!
//! Run in a private IPC namespace, as `make test` does:
//! `unshare -i cargo test --release -p rshm-preload --test trace`.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Segments a test must remove whatever happens.
#[derive(Default)]
struct Cleanup(Vec<i32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &id in &self.0 {
            // SAFETY: IPC_RMID reads no buffer.
            unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
}

/// rshm-trace with ARGS, the preload library of this build, and none of the test's own
/// RSHM_* variables (RSHM_TEST_* aside) or LD_PRELOAD.
fn tracer(args: &[&str]) -> Command {
    let mut c = Command::new(TRACER);
    c.args(args);
    clean_env(&mut c);
    c.env("RSHM_PRELOAD", preload_so());
    c
}

fn clean_env(c: &mut Command) {
    for (k, _) in std::env::vars() {
        if (k.starts_with("RSHM_") && !k.starts_with("RSHM_TEST_")) || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
}

fn trace(args: &[&str]) -> Output {
    tracer(args).stdin(Stdio::null()).output().unwrap()
}

/// `sh -c SCRIPT TRACER ARGS...`: the script finds rshm-trace in $0.
fn sh(script: &str, args: &[&str]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).arg(TRACER).args(args);
    clean_env(&mut c);
    c.env("RSHM_PRELOAD", preload_so());
    c.stdin(Stdio::null()).output().unwrap()
}

/// Segment ids a program printed as "seg N" lines.
fn segs(s: &str) -> Vec<i32> {
    s.lines()
        .filter_map(|l| l.strip_prefix("seg "))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// Segment ids the trace shows made: "... = N (created)".
fn created_ids(s: &str) -> Vec<i32> {
    s.lines()
        .filter(|l| l.starts_with("rshm "))
        .filter_map(|l| l.split_once(") = ")?.1.split_once(" (created)"))
        .filter_map(|(n, _)| n.parse().ok())
        .collect()
}

/// The trace lines (rshm's, one a call) of a text trace.
fn rshm_lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| l.starts_with("rshm ")).collect()
}

/// The summary's line that starts with `prefix`, or a panic showing everything.
fn line<'a>(s: &'a str, prefix: &str) -> &'a str {
    s.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{s}"))
}

/// The summary table's row of segment `id`.
fn row(s: &str, id: i32) -> &str {
    line(s, &format!("rshm-trace:  {id} "))
}

/// What a JSON summary counts, in one comparable line (no pids, ids or times).
fn counts(json: &str) -> String {
    assert!(
        json.starts_with("{\"schema\":\"rshm-trace-summary/1\""),
        "not a summary: {json}"
    );
    let segments = value(json, "segments");
    format!(
        "calls={} failures={} warnings={} processes={} created={} removed={} leaked={}",
        value(json, "calls"),
        value(json, "failures"),
        value(json, "warnings"),
        value(json, "processes").matches("{\"pid\":").count(),
        value(segments, "created"),
        value(segments, "removed"),
        value(segments, "leaked"),
    )
}

/// trace_mix's counts, whatever is shown.
const MIX_COUNTS: &str = "calls={\"total\":11,\"by_call\":{\"shmat\":3,\"shmctl\":3,\"shmdt\":2,\"shmget\":3},\
\"shmctl_by_cmd\":{\"IPC_RMID\":2,\"IPC_STAT\":1}} failures={\"total\":1,\"by_errno\":{\"EINVAL\":1}} \
warnings=1 processes=2 created=3 removed=2 leaked=1";
/// trace_mix's text summary, its first lines.
const MIX_CALLS: &str = "rshm-trace: 11 calls: shmat 3, shmctl 3, shmdt 2, shmget 3 \
(shmctl: IPC_RMID 2, IPC_STAT 1) in 2 processes";

/// Makes a segment and removes it in two processes (ipcmk, ipcrm); prints "before",
/// "removed ID" and "after".
const MAKE_REMOVE: &str = "echo before; id=$(ipcmk -M 4096 | sed 's/.*: //'); \
ipcrm -m \"$id\" && echo removed \"$id\"; echo after";
const MAKE_REMOVE_CALLS: &str =
    "rshm-trace: 2 calls: shmctl 1, shmget 1 (shmctl: IPC_RMID 1) in 2 processes";
const MAKE_REMOVE_SEGMENTS: &str = "rshm-trace: segments: 1 created, 1 removed, 0 leaked";

// 1 -------------------------------------------------------------------------------------

#[test]
fn a_program_run_as_another_user_is_traced_and_its_leak_seen_with_nothing_in_its_output() {
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 {
        may_skip("switching users needs root");
        return;
    }
    let probe = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "true",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        may_skip("setpriv cannot switch to uid 65534 here");
        return;
    }
    // Where user 65534 can read the library and run the program.
    let dir = Dir::under(Path::new("/tmp"), "user");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let so = dir.file("librshm_preload.so");
    let prog = dir.file("trace_leak_user");
    std::fs::copy(preload_so(), &so).unwrap();
    std::fs::copy(build("trace_leak_user"), &prog).unwrap();
    for f in [&so, &prog] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out_dir = Dir::new("user-out");
    let log = out_dir.file("trace.log");
    let summary = out_dir.file("summary.json");
    let out = tracer(&[
        "-o",
        log.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        "--",
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        prog.to_str().unwrap(),
    ])
    .env("RSHM_PRELOAD", &so)
    .stdin(Stdio::null())
    .output()
    .unwrap();
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{trace}{}", text(&out.stderr));
    let ids = segs(&stdout);
    assert_eq!(ids.len(), 1, "the program prints its segment: {stdout:?}");
    let id = ids[0];
    assert_eq!(
        stdout,
        format!("seg {id}\n"),
        "nothing of rshm's in the program's stdout"
    );
    assert_eq!(
        text(&out.stderr),
        "",
        "nothing of rshm's in the program's stderr (the trace goes to -o)"
    );
    let calls = rshm_lines(&trace);
    assert_eq!(calls.len(), 1, "{trace}");
    assert!(
        calls[0].contains(" INFO shmget(key=IPC_PRIVATE, size=4096, flags=IPC_CREAT|0200) = ")
            && calls[0].contains(&format!(" = {id} (created) [")),
        "{trace}"
    );
    assert_eq!(
        line(&trace, "rshm-trace: 1 call"),
        "rshm-trace: 1 call: shmget 1 in 1 process"
    );
    assert_eq!(
        line(&trace, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 0 removed, 1 leaked"
    );
    let r = row(&trace, id);
    assert!(
        r.contains(" (trace_leak_user) ") && r.ends_with("LEAKED"),
        "{r}"
    );
    let json = std::fs::read_to_string(&summary).unwrap();
    assert!(json.contains("\"end\":\"leaked\""), "{json}");
}

// 2 -------------------------------------------------------------------------------------

#[test]
fn the_summary_counts_the_same_at_any_level_and_with_any_output() {
    let prog = build("trace_mix");
    let prog = prog.to_str().unwrap();
    let dir = Dir::new("levels");
    let mut cleanup = Cleanup::default();
    let runs: [&[&str]; 6] = [
        &[],
        &["--level=warn"],
        &["--level=off"],
        &["-o", "/dev/null"],
        &["-c"],
        &["--json", "--level=debug"],
    ];
    for (i, opts) in runs.iter().enumerate() {
        let sj = dir.file(&format!("summary-{i}.json"));
        let sj_arg = format!("--summary-json={}", sj.display());
        let mut args: Vec<&str> = opts.to_vec();
        args.extend([sj_arg.as_str(), "--", prog]);
        let out = trace(&args);
        let stdout = text(&out.stdout);
        cleanup.0.extend(segs(&stdout));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{opts:?}: {stderr}");
        let json = std::fs::read_to_string(&sj).unwrap();
        assert_eq!(counts(json.trim_end()), MIX_COUNTS, "{opts:?}");
        let shown = rshm_lines(&stderr);
        match *opts {
            [] => {
                assert_eq!(shown.len(), 11, "{stderr}");
                assert_eq!(line(&stderr, "rshm-trace: 11 calls"), MIX_CALLS);
            }
            ["--level=warn"] => {
                assert_eq!(shown.len(), 2, "the failure and the warning: {stderr}");
                assert!(shown.iter().all(|l| l.contains(" WARN ")), "{stderr}");
                assert_eq!(line(&stderr, "rshm-trace: 11 calls"), MIX_CALLS);
            }
            ["--level=off"] | ["-c"] => {
                assert!(shown.is_empty(), "{opts:?}: {stderr}");
                assert_eq!(line(&stderr, "rshm-trace: 11 calls"), MIX_CALLS);
                assert_eq!(
                    line(&stderr, "rshm-trace: 1 failed"),
                    "rshm-trace: 1 failed: EINVAL 1"
                );
                assert_eq!(
                    line(&stderr, "rshm-trace: segments:"),
                    "rshm-trace: segments: 3 created, 2 removed, 1 leaked"
                );
            }
            ["-o", "/dev/null"] => assert_eq!(stderr, "", "the summary goes where the trace goes"),
            _ => {
                // The configuration line is sent and shown at debug, and is not a call.
                let lines: Vec<&str> = stderr.lines().collect();
                assert!(
                    lines.iter().any(|l| l.contains("\"call\":\"config\"")),
                    "{stderr}"
                );
                let calls = lines
                    .iter()
                    .filter(|l| l.starts_with("{\"ts\":") && !l.contains("\"call\":\"config\""))
                    .count();
                assert_eq!(calls, 11, "{stderr}");
                let summary: Vec<&str> = lines
                    .iter()
                    .copied()
                    .filter(|l| l.starts_with("{\"schema\":\"rshm-trace-summary/1\""))
                    .collect();
                assert_eq!(summary.len(), 1, "{stderr}");
                assert_eq!(counts(summary[0]), MIX_COUNTS);
                assert_eq!(lines.last(), summary.last(), "the summary comes last");
            }
        }
    }
}

// 3 -------------------------------------------------------------------------------------

#[test]
fn dev_stdout_into_a_pipe_carries_the_commands_output_and_the_trace() {
    let out = sh(r#""$0" -o /dev/stdout -- sh -c "$1" | cat"#, &[MAKE_REMOVE]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(created_ids(&stdout));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "{stdout}");
    for want in ["before\n", "after\n"] {
        assert!(stdout.contains(want), "{want:?} in {stdout}");
    }
    assert!(
        stdout.lines().any(|l| l.starts_with("removed ")),
        "{stdout}"
    );
    assert_eq!(rshm_lines(&stdout).len(), 2, "{stdout}");
    assert_eq!(line(&stdout, "rshm-trace: 2 calls"), MAKE_REMOVE_CALLS);
    assert_eq!(line(&stdout, "rshm-trace: segments:"), MAKE_REMOVE_SEGMENTS);
}

#[test]
fn dev_stdout_into_a_file_keeps_the_trace_out_of_a_command_substitution() {
    let dir = Dir::new("stdout-file");
    let file = dir.file("out.txt");
    let out = sh(
        r#""$0" -o /dev/stdout -- sh -c "$1" > "$2""#,
        &[MAKE_REMOVE, file.to_str().unwrap()],
    );
    let got = std::fs::read_to_string(&file).unwrap_or_default();
    let _cleanup = Cleanup(created_ids(&got));
    assert_eq!(out.status.code(), Some(0), "{}{got}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "ipcrm got a clean id: {got}");
    assert_eq!(text(&out.stdout), "");
    let ids = created_ids(&got);
    assert_eq!(ids.len(), 1, "{got}");
    assert_eq!(line(&got, "removed "), format!("removed {}", ids[0]));
    // The command's output and the trace share the file, neither over the other.
    assert!(got.starts_with("before\n"), "{got}");
    assert!(got.contains("\nafter\n"), "{got}");
    assert_eq!(rshm_lines(&got).len(), 2, "{got}");
    assert_eq!(line(&got, "rshm-trace: 2 calls"), MAKE_REMOVE_CALLS);
    assert_eq!(line(&got, "rshm-trace: segments:"), MAKE_REMOVE_SEGMENTS);
}

#[test]
fn dev_stderr_redirected_keeps_the_trace_and_the_summary_together() {
    let dir = Dir::new("stderr-file");
    let file = dir.file("err.txt");
    let out = sh(
        r#""$0" -o /dev/stderr -- sh -c "$1" 2> "$2""#,
        &[MAKE_REMOVE, file.to_str().unwrap()],
    );
    let got = std::fs::read_to_string(&file).unwrap_or_default();
    let _cleanup = Cleanup(created_ids(&got));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{got}");
    assert_eq!(text(&out.stderr), "", "everything went to err.txt");
    assert!(
        stdout.starts_with("before\nremoved ") && stdout.ends_with("\nafter\n"),
        "only the command's output on stdout: {stdout}"
    );
    assert_eq!(rshm_lines(&got).len(), 2, "{got}");
    assert_eq!(line(&got, "rshm-trace: 2 calls"), MAKE_REMOVE_CALLS);
    assert_eq!(line(&got, "rshm-trace: segments:"), MAKE_REMOVE_SEGMENTS);
}

#[test]
fn dev_fd_n_is_the_descriptor_rshm_trace_was_given() {
    let dir = Dir::new("devfd");
    let file = dir.file("fd3.txt");
    let out = sh(
        r#""$0" -o /dev/fd/3 -- sh -c "$1" 3> "$2""#,
        &[MAKE_REMOVE, file.to_str().unwrap()],
    );
    let got = std::fs::read_to_string(&file).unwrap_or_default();
    let _cleanup = Cleanup(created_ids(&got));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert!(!text(&out.stdout).contains("rshm"), "{}", text(&out.stdout));
    assert_eq!(rshm_lines(&got).len(), 2, "{got}");
    assert_eq!(line(&got, "rshm-trace: 2 calls"), MAKE_REMOVE_CALLS);
    assert_eq!(line(&got, "rshm-trace: segments:"), MAKE_REMOVE_SEGMENTS);
}

#[test]
fn dev_null_output_still_gives_the_summary_json() {
    let dir = Dir::new("devnull");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "-o",
        "/dev/null",
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        MAKE_REMOVE,
    ]);
    let stdout = text(&out.stdout);
    let json = std::fs::read_to_string(&sj).unwrap_or_default();
    let _cleanup = Cleanup(
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("removed ")?.parse().ok())
            .collect(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert!(!stdout.contains("rshm"), "{stdout}");
    assert_eq!(
        counts(json.trim_end()),
        "calls={\"total\":2,\"by_call\":{\"shmctl\":1,\"shmget\":1},\"shmctl_by_cmd\":{\"IPC_RMID\":1}} \
         failures={\"total\":0,\"by_errno\":{}} warnings=0 processes=2 created=1 removed=1 leaked=0"
    );
}

#[test]
fn ff_writes_one_file_per_process_that_made_calls_and_none_named_prefix() {
    let dir = Dir::new("ff");
    let prefix = dir.file("trace");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "-ff",
        "-o",
        prefix.to_str().unwrap(),
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        MAKE_REMOVE,
    ]);
    let mut files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "summary.json")
        .collect();
    files.sort();
    let all: String = files
        .iter()
        .map(|f| std::fs::read_to_string(dir.file(f)).unwrap_or_default())
        .collect();
    let _cleanup = Cleanup(created_ids(&all));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!prefix.exists(), "no file named the prefix itself");
    let json = std::fs::read_to_string(&sj).unwrap();
    let mut pids: Vec<String> = value(&json, "processes")
        .split("{\"pid\":")
        .skip(1)
        .map(|p| p.split(',').next().unwrap().to_string())
        .collect();
    pids.sort();
    // Sorted as the pids are: the same prefix before each.
    let want: Vec<String> = pids.iter().map(|p| format!("trace.{p}")).collect();
    assert_eq!(files, want, "one file per process that made calls");
    for (f, pid) in want.iter().zip(&pids) {
        let body = std::fs::read_to_string(dir.file(f)).unwrap();
        let lines = rshm_lines(&body);
        assert_eq!(lines.len(), 1, "{f}: {body}");
        assert_eq!(lines.len(), body.lines().count(), "{f}: only trace lines");
        assert!(
            lines[0].contains(&format!(" {pid}/{pid} INFO ")),
            "{f}: {body}"
        );
    }
    // With -ff the summary goes to standard error.
    assert_eq!(line(&stderr, "rshm-trace: 2 calls"), MAKE_REMOVE_CALLS);
    assert_eq!(line(&stderr, "rshm-trace: segments:"), MAKE_REMOVE_SEGMENTS);
}

// 4 -------------------------------------------------------------------------------------

#[test]
fn a_daemon_that_closes_every_descriptor_is_still_traced() {
    let prog = build("trace_daemon");
    let dir = Dir::new("daemon");
    let log = dir.file("trace.log");
    let result = dir.file("result");
    let out = trace(&[
        "-o",
        log.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
        result.to_str().unwrap(),
    ]);
    let said = std::fs::read_to_string(&result).unwrap_or_default();
    let _cleanup = Cleanup(segs(&said));
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let id = *segs(&said).first().unwrap_or_else(|| panic!("{said:?}"));
    assert_eq!(
        said,
        format!("seg {id}\npipe 0\n"),
        "rshm wrote nothing into the program's descriptor 512"
    );
    let lines = rshm_lines(&trace);
    assert_eq!(lines.len(), 4, "{trace}");
    let pid = lines[0].split(' ').nth(2).unwrap();
    assert!(
        lines.iter().all(|l| l.split(' ').nth(2) == Some(pid)),
        "{trace}"
    );
    for (l, call) in lines.iter().zip(["shmget(", "shmat(", "shmdt(", "shmctl("]) {
        assert!(l.contains(&format!(" INFO {call}")), "{l}");
    }
    assert_eq!(
        line(&trace, "rshm-trace: 4 calls"),
        "rshm-trace: 4 calls: shmat 1, shmctl 1, shmdt 1, shmget 1 (shmctl: IPC_RMID 1) in 1 process"
    );
    assert_eq!(
        line(&trace, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 1 removed, 0 leaked"
    );
}

// 5 -------------------------------------------------------------------------------------

#[test]
fn a_late_background_child_is_waited_for_and_its_leak_counted() {
    let dir = Dir::new("late");
    let sj = dir.file("summary.json");
    let start = Instant::now();
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "(sleep 0.5; ipcmk -M 4096) &",
    ]);
    let took = start.elapsed();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let json = std::fs::read_to_string(&sj).unwrap_or_default();
    let mut cleanup = Cleanup(created_ids(&stderr));
    cleanup.0.extend(
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("Shared memory id: ")?.parse::<i32>().ok()),
    );
    if !json.is_empty() {
        cleanup.0.extend(value(&json, "shmid").parse::<i32>().ok());
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(took >= Duration::from_millis(500), "waited: {took:?}");
    assert_eq!(
        line(&stderr, "rshm-trace: 1 call"),
        "rshm-trace: 1 call: shmget 1 in 1 process"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 0 removed, 1 leaked"
    );
    let id: i32 = value(&json, "shmid").parse().unwrap();
    assert_eq!(stdout, format!("Shared memory id: {id}\n"));
    let r = row(&stderr, id);
    assert!(r.contains(" (ipcmk) ") && r.ends_with("LEAKED"), "{r}");
    assert!(!stderr.contains("still running"), "{stderr}");
}

#[test]
fn no_wait_names_the_child_still_running_and_returns_at_once() {
    let start = Instant::now();
    // The child's output goes elsewhere: this test's pipes close when rshm-trace exits.
    let child = tracer(&[
        "--no-wait",
        "--",
        "sh",
        "-c",
        "(sleep 5; ipcmk -M 4096) >/dev/null 2>&1 </dev/null &",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let out = wait_output(child, Duration::from_secs(4));
    let mut kill = Kill::default();
    let took = start.elapsed();
    let stderr = text(&out.stderr);
    let still = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "rshm-trace: still running, not waited for (their later calls are not counted): ",
            )
        })
        .unwrap_or("");
    let named: Vec<(i32, &str)> = still
        .split(", ")
        .filter_map(|e| {
            let (pid, comm) = e.split_once(' ')?;
            Some((pid.parse().ok()?, comm))
        })
        .collect();
    kill.0.extend(named.iter().map(|(p, _)| *p));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(3), "returned at once: {took:?}");
    // The subshell, and its sleep once it has forked one (named sh until its exec):
    // every descendant still running, not only the child.
    let names: Vec<&str> = named.iter().map(|(_, c)| *c).collect();
    assert!(
        names == ["(sh)"] || names == ["(sh)", "(sleep)"] || names == ["(sh)", "(sh)"],
        "{stderr}"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: 0 calls"),
        "rshm-trace: 0 calls in 0 processes"
    );
}

#[test]
fn a_process_that_outlives_rshm_trace_stops_sending_silently_and_works() {
    let dir = Dir::new("outlive");
    let out_file = dir.file("out");
    let err_file = dir.file("err");
    let script = format!(
        "(sleep 0.5; ipcmk -M 4096 >{} 2>{}) </dev/null >/dev/null 2>&1 &",
        out_file.display(),
        err_file.display()
    );
    let out = trace(&["--no-wait", "--", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // ipcmk runs after rshm-trace has gone.
    let start = Instant::now();
    let mut said = String::new();
    while start.elapsed() < Duration::from_secs(10) {
        said = std::fs::read_to_string(&out_file).unwrap_or_default();
        if said.ends_with('\n') {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let id = said
        .trim()
        .strip_prefix("Shared memory id: ")
        .and_then(|n| n.parse::<i32>().ok());
    let _cleanup = Cleanup(id.into_iter().collect());
    assert!(id.is_some(), "ipcmk worked: {said:?}");
    assert_eq!(
        std::fs::read_to_string(&err_file).unwrap_or_default(),
        "",
        "nothing of rshm's once rshm-trace is gone"
    );
}

/// Waits for `child` at most `limit` (then kills it), and collects its output (small:
/// a full pipe would stall it).
fn wait_output(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

// 6 -------------------------------------------------------------------------------------

#[test]
fn no_predictable_file_in_tmp_and_the_socket_dir_is_private_and_removed() {
    let mut child = tracer(&[
        "--",
        "sh",
        "-c",
        "echo \"$RSHM_TRACE_SOCKET\"; echo \"$$\"; read x; exit 0",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut kill = Kill(vec![child.id() as i32]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut socket = String::new();
    let mut sh_pid = String::new();
    stdout.read_line(&mut socket).unwrap();
    stdout.read_line(&mut sh_pid).unwrap();
    let socket = PathBuf::from(socket.trim_end());
    let dir = socket.parent().unwrap().to_path_buf();
    // While the command runs.
    let predictable: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.strip_prefix("rshm-trace.")
                .and_then(|r| r.strip_suffix(".log"))
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    let tracer_pid = child.id();
    for pid in [tracer_pid.to_string(), sh_pid.trim().to_string()] {
        assert!(
            !Path::new(&format!("/tmp/rshm-trace.{pid}.log")).exists(),
            "/tmp/rshm-trace.{pid}.log"
        );
    }
    assert_eq!(predictable, Vec::<String>::new());
    let dmeta = std::fs::metadata(&dir).unwrap();
    assert!(dmeta.is_dir());
    assert_eq!(
        dmeta.permissions().mode() & 0o7777,
        0o711,
        "{}",
        dir.display()
    );
    let dname = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        dname.starts_with("rshm-trace.") && dname.len() == "rshm-trace.".len() + 6,
        "a mkdtemp name: {dname}"
    );
    let smeta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(smeta.file_type().is_socket());
    assert_eq!(smeta.permissions().mode() & 0o777, 0o666);
    let sname = socket.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        sname.len() == 32 && sname.chars().all(|c| c.is_ascii_hexdigit()),
        "128 random bits: {sname}"
    );
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    kill.0.clear();
    assert_eq!(status.code(), Some(0));
    assert!(!socket.exists(), "the socket is removed");
    assert!(!dir.exists(), "its directory is removed");
}

// 7 -------------------------------------------------------------------------------------

/// Starts rshm-trace with every forwarded signal at its default and nothing blocked but
/// `blocked`, on ARGS; its stdout piped.
fn spawn_with_signals(args: &[&str], blocked: &[i32]) -> Child {
    let mut c = tracer(args);
    let blocked = blocked.to_vec();
    // SAFETY: between fork and exec the child only sets its signal dispositions and mask
    // (signal and sigprocmask are async-signal-safe); the sets are plain data.
    unsafe {
        c.pre_exec(move || {
            for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(s, libc::SIG_DFL);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in &blocked {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_signal_sent_to_rshm_trace_ends_the_command_and_the_summary_is_still_printed() {
    let prog = build("trace_sleeper");
    let dir = Dir::new("signals");
    for (sig, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGINT, 130),
        (libc::SIGHUP, 129),
    ] {
        let sj = dir.file(&format!("summary-{sig}.json"));
        let mut child = spawn_with_signals(
            &[
                "--summary-json",
                sj.to_str().unwrap(),
                "--",
                prog.to_str().unwrap(),
            ],
            &[],
        );
        let mut kill = Kill(vec![child.id() as i32]);
        let mut ready = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "ready\n");
        let start = Instant::now();
        // SAFETY: kill takes no pointers.
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = wait_output(child, Duration::from_secs(10));
        // Reaped: its pid is no longer this test's to kill.
        kill.0.clear();
        assert!(start.elapsed() < Duration::from_secs(5), "signal {sig}");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "signal {sig}: {stderr}");
        assert_eq!(
            line(&stderr, "rshm-trace: 2 calls"),
            "rshm-trace: 2 calls: shmctl 1, shmget 1 (shmctl: IPC_RMID 1) in 1 process"
        );
        assert_eq!(
            line(&stderr, "rshm-trace: segments:"),
            "rshm-trace: segments: 1 created, 1 removed, 0 leaked"
        );
        let json = std::fs::read_to_string(&sj).unwrap();
        assert_eq!(
            value(&json, "exit"),
            format!("{{\"code\":{code},\"signal\":{sig}}}")
        );
    }
}

/// `sh -c 'sleep 8; true'` killed through rshm-trace: sh dies of the signal, and the
/// sleep it started (adopted by rshm-trace, which waits for every descendant) must get
/// it too, or rshm-trace waits out the sleep although it was told to stop. Without
/// rshm-trace the same kill ends the run at once.
#[test]
fn a_signal_sent_to_rshm_trace_also_reaches_what_the_command_leaves_running() {
    let mut child = spawn_with_signals(
        &[
            "--",
            "sh",
            "-c",
            "echo $$; sleep 8 >/dev/null 2>&1 </dev/null; true",
        ],
        &[],
    );
    let tracer_pid = child.id() as i32;
    let mut kill = Kill(vec![tracer_pid]);
    let mut sh_pid = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut sh_pid)
        .unwrap();
    let sh_pid = sh_pid.trim().to_string();
    // The sleep, once sh has started it (to kill if the test fails).
    let start = Instant::now();
    let sleep_pid = loop {
        let c = std::fs::read_to_string(format!("/proc/{sh_pid}/task/{sh_pid}/children"))
            .unwrap_or_default();
        if let Some(p) = c.split_whitespace().next() {
            break p.parse::<i32>().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "sh started no sleep"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    kill.0.push(sleep_pid);
    let start = Instant::now();
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(tracer_pid, libc::SIGTERM) };
    let out = wait_output(child, Duration::from_secs(15));
    let took = start.elapsed();
    if took < Duration::from_secs(5) {
        kill.0.clear();
    } else {
        kill.0.retain(|&p| p == sleep_pid);
    }
    assert!(
        took < Duration::from_secs(5),
        "rshm-trace waited {took:?} for the sleep the signal did not reach"
    );
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
}

#[test]
fn the_command_gets_the_ignored_signals_and_the_mask_rshm_trace_was_given() {
    let prog = build("trace_signals");
    let prog = prog.to_str().unwrap();
    let blocked = [libc::SIGUSR1, libc::SIGUSR2];
    let child = spawn_with_signals(&["--", prog], &blocked);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "INT default\nblocked USR1 USR2\n");

    // sh ignores SIGINT, then becomes rshm-trace: the command keeps it ignored.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(r#"trap '' INT; exec "$0" -- "$1""#)
        .arg(TRACER)
        .arg(prog);
    clean_env(&mut c);
    c.env("RSHM_PRELOAD", preload_so());
    // SAFETY: between fork and exec the child only sets its signal disposition and mask.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "INT ignored\nblocked USR1\n");
}

// 8 -------------------------------------------------------------------------------------

#[test]
fn rshms_line_about_a_failure_comes_before_the_programs_own_message() {
    let prog = build("trace_order");
    for run in 0..20 {
        let out = trace(&["--", prog.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        let at = |f: &dyn Fn(&str) -> bool| {
            let found: Vec<usize> = (0..lines.len()).filter(|&i| f(lines[i])).collect();
            assert_eq!(found.len(), 1, "run {run}: {stderr}");
            found[0]
        };
        let rshm = at(&|l| l.starts_with("rshm ") && l.contains(" WARN shmat(shmid=-1, "));
        let own = at(&|l| l == "trace_order: my own message: Invalid argument");
        assert!(rshm < own, "run {run}: rshm's line first:\n{stderr}");
    }
}

/// Each thread's own message comes after rshm's line about its own failure, also when
/// several threads of several processes fail at once over one shared connection.
#[test]
fn rshms_line_comes_first_for_each_of_several_threads_failing_at_once() {
    let prog = build("trace_order_threads");
    let out = trace(&["--", prog.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // rshm's lines so far, by tid; "own TID I" must find I+1 of its tid's lines before it.
    let mut shown: HashMap<String, usize> = HashMap::new();
    let mut early = vec![];
    let mut own = 0;
    for l in stderr.lines() {
        if let Some(rest) = l.strip_prefix("rshm ") {
            if l.contains(" WARN shmat(shmid=-1, ") {
                let tid = rest.split(' ').nth(1).unwrap().split('/').nth(1).unwrap();
                *shown.entry(tid.to_string()).or_default() += 1;
            }
        } else if let Some(rest) = l.strip_prefix("own ") {
            own += 1;
            let (tid, i) = rest.split_once(' ').unwrap();
            let i: usize = i.parse().unwrap();
            if shown.get(tid).copied().unwrap_or(0) < i + 1 {
                early.push(l);
            }
        }
    }
    assert_eq!(own, 600, "{stderr}");
    assert_eq!(
        line(&stderr, "rshm-trace: 601 calls"),
        "rshm-trace: 601 calls: shmat 601 in 3 processes"
    );
    assert!(
        early.is_empty(),
        "{} of 600 own messages came before rshm's line about their failure, such as {:?}",
        early.len(),
        &early[..early.len().min(5)]
    );
}

// 9 -------------------------------------------------------------------------------------

#[test]
fn two_hundred_thousand_calls_are_all_counted_and_all_shown() {
    let prog = build("trace_many");
    let dir = Dir::new("many");
    let log = dir.file("trace.log");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "-o",
        log.to_str().unwrap(),
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let _cleanup = Cleanup(segs(&text(&out.stdout)));
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(rshm_lines(&trace).len(), 200_000);
    assert_eq!(
        line(&trace, "rshm-trace: 200000 calls"),
        "rshm-trace: 200000 calls: shmat 99999, shmctl 1, shmdt 99999, shmget 1 \
         (shmctl: IPC_RMID 1) in 1 process"
    );
    assert_eq!(
        line(&trace, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 1 removed, 0 leaked"
    );
    // One attachment at a time, however often: the kernel's count of an attach in
    // progress (do_shmat's own shm_nattch++) is not a second attachment.
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(value(&json, "peak_nattch"), "1");
}

// 10 ------------------------------------------------------------------------------------

#[test]
fn a_static_program_is_said_to_be_static_not_a_bare_zero_calls() {
    let prog = match compile("trace_static", "trace_static", &["-static"]) {
        Ok(p) => p,
        Err(e) => {
            may_skip(&format!("static linking does not work here: {e}"));
            return;
        }
    };
    let out = trace(&["--", prog.to_str().unwrap()]);
    let _cleanup = Cleanup(segs(&text(&out.stdout)));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        line(&stderr, "rshm-trace: 0 calls"),
        "rshm-trace: 0 calls in 0 processes"
    );
    assert_eq!(
        line(&stderr, &format!("rshm-trace: {}", prog.display())),
        format!(
            "rshm-trace: {} is statically linked: the preload library cannot load into it, \
             so none of its own calls can be seen (--complete sees them)",
            prog.display()
        )
    );
    assert!(!stderr.contains("no shm call was seen"), "{stderr}");
}

#[test]
fn a_segment_made_by_a_raw_system_call_is_named_with_its_maker() {
    let prog = build("trace_raw");
    let out = trace(&["--", prog.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = segs(&stdout)[0];
    let pid = line(&stdout, "pid ").strip_prefix("pid ").unwrap();
    assert_eq!(
        line(&stderr, &format!("rshm-trace: segment {id} ")),
        format!(
            "rshm-trace: segment {id} (IPC_PRIVATE, 4096 bytes) was made by process {pid} \
             (trace_raw) of this run with a call rshm-trace did not see: the kernel names it \
             as the maker, and no traced call made it (a statically linked program, or a raw \
             system call, goes around the preload library)"
        )
    );
    assert!(row(&stderr, id).ends_with("LEAKED"), "{stderr}");
    assert!(!stderr.contains("no shm call was seen"), "{stderr}");
}

// 11 ------------------------------------------------------------------------------------

#[test]
fn the_command_line_follows_the_usual_conventions() {
    let out = trace(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("usage: rshm-trace "));
    assert_eq!(text(&out.stderr), "");
    let out = trace(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("usage: rshm-trace "));
    let out = trace(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("rshm-trace {}\n", env!("CARGO_PKG_VERSION"))
    );

    // --level=debug and -oFILE, inline values.
    let dir = Dir::new("conventions");
    let log = dir.file("trace.log");
    std::fs::write(&log, "an old trace that -o empties\n").unwrap();
    let o = format!("-o{}", log.display());
    let order = build("trace_order");
    let order = order.to_str().unwrap();
    let out = trace(&["--level=debug", &o, "--", order]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "trace_order: my own message: Invalid argument\n",
        "the program's own message only"
    );
    let got = std::fs::read_to_string(&log).unwrap();
    assert!(got.contains(" DEBUG config: "), "{got}");
    assert!(!got.contains("an old trace"), "the file is emptied: {got}");
    assert!(line(&got, "rshm-trace: ").starts_with("rshm-trace: "));

    // Usage errors: one line, exit 2.
    for args in [
        &["--bogus", "true"][..],
        &["-x", "true"],
        &["--level=loud", "true"],
        &["-e", "trace=shmfoo", "true"],
        &["-ff", "true"],
        &[],
    ] {
        let out = trace(args);
        let e = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(
            e.starts_with("rshm-trace: ") && e.ends_with(" (try 'rshm-trace --help')\n"),
            "{args:?}: {e}"
        );
        assert_eq!(text(&out.stdout), "");
    }
    let out = trace(&["--bogus", "true"]);
    assert_eq!(
        text(&out.stderr),
        "rshm-trace: unknown option --bogus (try 'rshm-trace --help')\n"
    );
    // -p: refused in one sentence.
    let out = trace(&["-p", "1"]);
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("rshm-trace: -p: "), "{e}");
    let sentence = e
        .strip_prefix("rshm-trace: ")
        .unwrap()
        .strip_suffix(" (try 'rshm-trace --help')\n")
        .unwrap_or(&e);
    assert_eq!(
        sentence.matches(". ").count(),
        0,
        "one sentence: {sentence}"
    );

    // Errors say the reason in words, never Rust's "(os error N)".
    let not_exec = dir.file("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    let nx = not_exec.to_str().unwrap();
    let ff_prefix = "/nonexistent/dir/trace";
    for (args, code) in [
        (&["--", "/nonexistent/prog"][..], 127),
        (&["--", nx], 126),
        (&["-o", "/nonexistent/dir/trace.log", "--", "true"], 2),
        (&["--summary-json=/nonexistent/dir/s.json", "--", "true"], 2),
        (&["--html=/nonexistent/dir/p.html", "--", "true"], 2),
        (&["-o", "/dev/fd/77", "--", "true"], 2),
        (&["-ff", "-o", ff_prefix, "--", order], 0),
    ] {
        let out = trace(args);
        let e = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {e}");
        assert!(!e.contains("(os error"), "{args:?}: {e}");
        let own: Vec<&str> = e
            .lines()
            .filter(|l| !l.starts_with("trace_order: "))
            .collect();
        assert!(
            !own.is_empty() && own.iter().all(|l| l.starts_with("rshm-trace: ")),
            "{args:?}: {e}"
        );
    }
    let out = trace(&["-ff", "-o", ff_prefix, "--", order]);
    let e = text(&out.stderr);
    assert!(
        e.contains("rshm-trace: cannot write the trace: cannot write /nonexistent/dir/trace."),
        "{e}"
    );
}

// 13 ------------------------------------------------------------------------------------

#[test]
fn filters_change_what_is_shown_never_what_is_counted() {
    let prog = build("trace_mix");
    let prog = prog.to_str().unwrap();
    let mut cleanup = Cleanup::default();

    let out = trace(&["-e", "trace=shmat,shmdt", "--", prog]);
    cleanup.0.extend(segs(&text(&out.stdout)));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let shown = rshm_lines(&stderr);
    assert_eq!(shown.len(), 5, "3 shmat and 2 shmdt: {stderr}");
    assert!(
        shown
            .iter()
            .all(|l| l.contains(" shmat(shmid=") || l.contains(" shmdt(addr=")),
        "{stderr}"
    );
    assert_eq!(line(&stderr, "rshm-trace: 11 calls"), MIX_CALLS);

    let out = trace(&["-e", "cmd=IPC_RMID", "--", prog]);
    cleanup.0.extend(segs(&text(&out.stdout)));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let shown = rshm_lines(&stderr);
    assert_eq!(shown.len(), 2, "{stderr}");
    assert!(
        shown
            .iter()
            .all(|l| l.contains(" INFO shmctl(shmid=") && l.contains(", cmd=IPC_RMID) = 0 [")),
        "{stderr}"
    );
    assert_eq!(line(&stderr, "rshm-trace: 11 calls"), MIX_CALLS);
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 3 created, 2 removed, 1 leaked"
    );
}

// 14 ------------------------------------------------------------------------------------
// Found in review: each test failed before its fix.

/// The cell of column `name` (as the summary table's header spells it) in `row`, a row
/// of the table of summary `s`.
fn cell<'a>(s: &str, row: &'a str, name: &str) -> &'a str {
    let header = line(s, "rshm-trace:  SHMID ");
    let at = header
        .find(&format!(" {name}"))
        .unwrap_or_else(|| panic!("no column {name} in {header}"))
        + 1;
    let after = at + name.len();
    match header[after..].find(|c: char| c != ' ') {
        Some(n) => row[at..after + n].trim_end(),
        None => row[at..].trim_end(),
    }
}

/// The summary table's rows of segment `id` (several when the id was reused).
fn rows(s: &str, id: i32) -> Vec<&str> {
    let prefix = format!("rshm-trace:  {id} ");
    s.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// The summary JSON's segment rows, each as its own text.
fn json_rows(json: &str) -> Vec<&str> {
    value(value(json, "segments"), "rows")
        .split("{\"shmid\":")
        .skip(1)
        .collect()
}

/// The number a program printed on its line `"{tag} N"`.
fn said(stdout: &str, tag: &str) -> i32 {
    line(stdout, &format!("{tag} "))[tag.len() + 1..]
        .parse()
        .unwrap_or_else(|_| panic!("{tag}: {stdout}"))
}

/// rshm-trace with ARGS in an IPC namespace of its own (`unshare -i`): what the run
/// makes there goes with the namespace when the run ends, and no other test's segment
/// can take an id it forces. None (the test skipped) where `unshare -i` is refused.
fn tracer_alone(args: &[&str]) -> Option<Command> {
    let probe = Command::new("unshare").args(["-i", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        may_skip("unshare -i is refused here (it needs root)");
        return None;
    }
    let mut c = Command::new("unshare");
    c.arg("-i").arg(TRACER).args(args);
    clean_env(&mut c);
    c.env("RSHM_PRELOAD", preload_so());
    Some(c)
}

#[test]
fn a_child_run_with_rshm_log_off_or_warn_has_every_call_counted_and_shown() {
    let prog = build("trace_mix");
    let dir = Dir::new("child-log");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        r#"RSHM_LOG=off "$1" && RSHM_LOG=warn "$1""#,
        "sh",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let shown = rshm_lines(&stderr);
    assert_eq!(shown.len(), 22, "every call is shown: {stderr}");
    assert_eq!(
        shown.iter().filter(|l| l.contains(" WARN ")).count(),
        4,
        "{stderr}"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: 22 calls"),
        "rshm-trace: 22 calls: shmat 6, shmctl 6, shmdt 4, shmget 6 \
         (shmctl: IPC_RMID 4, IPC_STAT 2) in 4 processes"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: 2 failed"),
        "rshm-trace: 2 failed: EINVAL 2"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 6 created, 4 removed, 2 leaked"
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(
        counts(json.trim_end()),
        "calls={\"total\":22,\"by_call\":{\"shmat\":6,\"shmctl\":6,\"shmdt\":4,\"shmget\":6},\
         \"shmctl_by_cmd\":{\"IPC_RMID\":4,\"IPC_STAT\":2}} \
         failures={\"total\":2,\"by_errno\":{\"EINVAL\":2}} warnings=2 processes=4 \
         created=6 removed=4 leaked=2"
    );
}

#[test]
fn a_child_with_bogus_rshm_settings_gets_nothing_of_rshms_on_its_stderr() {
    let prog = build("trace_order");
    let dir = Dir::new("child-bogus");
    let child_err = dir.file("child-stderr");
    let out = trace(&[
        "--",
        "sh",
        "-c",
        r#"RSHM_LOG=bogus RSHM_STRICT=maybe RSHM_REPORT=maybe "$1" 2>"$2""#,
        "sh",
        prog.to_str().unwrap(),
        child_err.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&child_err).unwrap(),
        "trace_order: my own message: Invalid argument\n",
        "the program's own message only"
    );
    let shown = rshm_lines(&stderr);
    assert_eq!(shown.len(), 1, "{stderr}");
    assert!(
        shown[0].contains(" WARN shmat(shmid=-1, "),
        "the trace still has the call: {stderr}"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: 1 call"),
        "rshm-trace: 1 call: shmat 1 in 1 process"
    );
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("rshm ") || l.starts_with("rshm-trace: ")),
        "nothing about the settings anywhere: {stderr}"
    );
}

#[test]
fn a_segment_removed_then_its_id_reused_ends_removed_by_its_remover_not_gone() {
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 {
        may_skip("forcing an id with /proc/sys/kernel/shm_next_id needs root");
        return;
    }
    let prog = build("trace_reuse");
    let dir = Dir::new("reuse");
    let sj = dir.file("summary.json");
    // Alone in its namespace: the segment it leaves goes with it.
    let Some(mut c) = tracer_alone(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]) else {
        return;
    };
    let out = c.stdin(Stdio::null()).output().unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    if out.status.code() == Some(3) {
        may_skip("/proc/sys/kernel/shm_next_id cannot be written here");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let pid = said(&stdout, "pid");
    let ids = segs(&stdout);
    assert_eq!(ids.len(), 2, "{stdout}");
    let id = ids[0];
    assert_eq!(ids[1], id, "the id was reused");
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 2 created, 1 removed, 1 leaked"
    );
    let r = rows(&stderr, id);
    assert_eq!(r.len(), 2, "{stderr}");
    let maker = format!("{pid} (trace_reuse)");
    assert_eq!(cell(&stderr, r[0], "SIZE"), "4096");
    assert_eq!(cell(&stderr, r[0], "CREATOR"), maker);
    assert_eq!(
        cell(&stderr, r[0], "END"),
        format!("removed by {maker}"),
        "{stderr}"
    );
    assert_eq!(cell(&stderr, r[1], "SIZE"), "8192");
    assert_eq!(cell(&stderr, r[1], "END"), "LEAKED", "{stderr}");
    let json = std::fs::read_to_string(&sj).unwrap();
    let ends: Vec<&str> = json_rows(&json).iter().map(|r| value(r, "end")).collect();
    assert_eq!(ends, ["\"removed\"", "\"leaked\""], "{json}");
}

#[test]
fn a_segment_removed_while_attached_lives_until_its_last_detach() {
    let prog = build("trace_lived");
    let dir = Dir::new("lived");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let r = row(&stderr, id);
    let lived = cell(&stderr, r, "LIVED");
    let (n, unit) = lived
        .split_once(' ')
        .unwrap_or_else(|| panic!("LIVED {lived:?}: {stderr}"));
    let per_ms = match unit {
        "ns" => 1e-6,
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        _ => panic!("LIVED {lived:?}: {stderr}"),
    };
    let ms = n.parse::<f64>().unwrap() * per_ms;
    assert!(
        (300.0..5000.0).contains(&ms),
        "from creation to the last detach, 300 ms later: {r}"
    );
    assert!(
        cell(&stderr, r, "END").starts_with("removed by "),
        "{stderr}"
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    let num = |k: &str| -> u64 {
        value(&json, k)
            .parse()
            .unwrap_or_else(|_| panic!("{k}: {json}"))
    };
    assert!(
        (300_000_000..5_000_000_000).contains(&num("lived_ns")),
        "{json}"
    );
    assert!(
        num("destroyed_ns") - num("removed_ns") >= 300_000_000,
        "destroyed at the detach, not at the IPC_RMID: {json}"
    );
    assert_eq!(
        num("destroyed_ns") - num("first_ns"),
        num("lived_ns"),
        "{json}"
    );
    assert_eq!(value(&json, "lived_at_least"), "false");
    assert_eq!(value(&json, "end"), "\"removed\"");
}

#[test]
fn a_segment_removed_twice_is_removed_by_the_first_remover() {
    let prog = build("trace_rm_twice");
    let dir = Dir::new("rm-twice");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let parent = said(&stdout, "parent");
    let child = said(&stdout, "child");
    assert_eq!(
        stdout,
        format!("seg {id}\nparent {parent}\nchild {child}\nsecond 0\nfirst 0\n"),
        "both IPC_RMIDs succeeded"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: 5 calls"),
        "rshm-trace: 5 calls: shmat 1, shmctl 2, shmdt 1, shmget 1 (shmctl: IPC_RMID 2) \
         in 2 processes"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 1 removed, 0 leaked"
    );
    assert_eq!(
        cell(&stderr, row(&stderr, id), "END"),
        format!("removed by {parent} (trace_rm_twice)")
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(
        value(&json, "removed_by"),
        format!("{{\"pid\":{parent},\"comm\":\"trace_rm_twice\"}}")
    );
}

#[test]
fn a_static_programs_segment_is_leaked_but_not_counted_as_created() {
    let prog = match compile("trace_static_leak", "trace_static_leak", &["-static"]) {
        Ok(p) => p,
        Err(e) => {
            may_skip(&format!("static linking does not work here: {e}"));
            return;
        }
    };
    let dir = Dir::new("static-leak");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let pid = said(&stdout, "pid");
    assert_eq!(
        line(&stderr, "rshm-trace: 0 calls"),
        "rshm-trace: 0 calls in 0 processes"
    );
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 0 created, 0 removed, 1 leaked"
    );
    let r = row(&stderr, id);
    // The kernel's name of it: 15 bytes at most.
    assert_eq!(
        cell(&stderr, r, "CREATOR"),
        format!("{pid} (trace_static_le)")
    );
    assert_eq!(cell(&stderr, r, "END"), "LEAKED");
    assert_eq!(
        line(&stderr, &format!("rshm-trace: segment {id} ")),
        format!(
            "rshm-trace: segment {id} (IPC_PRIVATE, 4096 bytes) was made by process {pid} \
             (trace_static_le) of this run with a call rshm-trace did not see: the kernel names \
             it as the maker, and no traced call made it (a statically linked program, or a raw \
             system call, goes around the preload library)"
        )
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    let segments = value(&json, "segments");
    assert_eq!(value(segments, "created"), "0");
    assert_eq!(value(segments, "leaked"), "1");
    assert_eq!(value(&json, "traced_creation"), "false");
    assert_eq!(value(&json, "end"), "\"leaked\"");
}

#[test]
fn a_raw_system_call_attach_of_a_traced_segment_is_named() {
    let prog = build("trace_raw_attach");
    let out = trace(&["--", prog.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let pid = said(&stdout, "pid");
    assert_eq!(
        line(&stderr, "rshm-trace: 1 call"),
        "rshm-trace: 1 call: shmget 1 in 1 process"
    );
    assert_eq!(
        line(&stderr, &format!("rshm-trace: process {pid} ")),
        format!(
            "rshm-trace: process {pid} (trace_raw_attac) of this run attached or detached \
             segment {id} (IPC_PRIVATE) with a call rshm-trace did not see: the kernel names it \
             as the last to do so, and it made no traced attach or detach of it"
        )
    );
    let r = row(&stderr, id);
    assert_eq!(cell(&stderr, r, "ATTACHES"), "-", "no traced attach");
    assert_eq!(cell(&stderr, r, "END"), "LEAKED");
}

#[test]
fn a_segment_removed_by_the_program_the_maker_execs_names_that_program() {
    let prog = build("trace_mkexec");
    let dir = Dir::new("mkexec");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let pid = said(&stdout, "pid");
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 1 removed, 0 leaked"
    );
    let r = row(&stderr, id);
    assert_eq!(cell(&stderr, r, "CREATOR"), format!("{pid} (trace_mkexec)"));
    assert_eq!(cell(&stderr, r, "END"), format!("removed by {pid} (ipcrm)"));
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(
        value(&json, "creator"),
        format!("{{\"pid\":{pid},\"comm\":\"trace_mkexec\"}}")
    );
    assert_eq!(
        value(&json, "removed_by"),
        format!("{{\"pid\":{pid},\"comm\":\"ipcrm\"}}")
    );
}

#[test]
fn a_process_name_with_a_newline_forges_no_summary_line() {
    let prog = build("trace_evil_name");
    let dir = Dir::new("evil-name");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "-c",
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let pid = said(&stdout, "pid");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "calls, failures, segments, header, row: {stderr}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("rshm-trace: ")),
        "{stderr}"
    );
    assert_eq!(
        cell(&stderr, row(&stderr, id), "CREATOR"),
        format!("{pid} (x)?rshm-trace: )")
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(
        value(&json, "creator"),
        format!("{{\"pid\":{pid},\"comm\":\"x)?rshm-trace: \"}}")
    );
}

#[test]
fn no_wait_gives_no_verdict_on_a_segment_a_running_process_may_still_remove() {
    let prog = build("trace_bg_remove");
    let dir = Dir::new("no-wait-pending");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--no-wait",
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let _kill = Kill(
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("child ")?.parse().ok())
            .collect(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let child = said(&stdout, "child");
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 1 created, 0 removed, 0 leaked"
    );
    let r = row(&stderr, id);
    assert_eq!(
        cell(&stderr, r, "END"),
        "still there while processes of the run still run"
    );
    assert_eq!(cell(&stderr, r, "LIVED"), "-");
    assert_eq!(
        line(&stderr, "rshm-trace: still running"),
        format!(
            "rshm-trace: still running, not waited for (their later calls are not counted): \
             {child} (trace_bg_remove)"
        )
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(value(&json, "end"), "\"pending\"");
    assert_eq!(value(value(&json, "segments"), "leaked"), "0");
}

#[test]
fn peak_is_the_kernels_count_never_the_runs_overcount() {
    let prog = build("trace_peak");
    let dir = Dir::new("peak");
    for mode in ["exit", "exec", "munmap"] {
        let sj = dir.file(&format!("summary-{mode}.json"));
        let out = trace(&[
            "--summary-json",
            sj.to_str().unwrap(),
            "--",
            prog.to_str().unwrap(),
            mode,
        ]);
        let stdout = text(&out.stdout);
        let _cleanup = Cleanup(segs(&stdout));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{mode}: {stderr}");
        let id = said(&stdout, "seg");
        let seen: Vec<u64> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("nattch ")?.parse().ok())
            .collect();
        assert_eq!(seen.len(), if mode == "munmap" { 3 } else { 2 }, "{mode}");
        let most = *seen.iter().max().unwrap();
        assert_eq!(most, 1, "{mode}: the program never has two attached");
        let r = row(&stderr, id);
        assert_eq!(
            cell(&stderr, r, "PEAK"),
            most.to_string(),
            "{mode}: {stderr}"
        );
        let json = std::fs::read_to_string(&sj).unwrap();
        assert_eq!(value(&json, "peak_nattch"), most.to_string(), "{mode}");
    }
}

#[test]
fn a_segment_removed_in_a_child_ipc_namespace_ends_removed() {
    let probe = Command::new("unshare").args(["-i", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        may_skip("unshare -i is refused here (it needs root)");
        return;
    }
    let dir = Dir::new("child-ns");
    let sj = dir.file("summary.json");
    // The segment lives in the command's own namespace, and goes with it.
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        "unshare",
        "-i",
        "sh",
        "-c",
        MAKE_REMOVE,
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "removed");
    let pid_of = |call: &str| -> i32 {
        let l = rshm_lines(&stderr)
            .into_iter()
            .find(|l| l.contains(call))
            .unwrap_or_else(|| panic!("no {call} in {stderr}"));
        l.split(' ')
            .nth(2)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let maker = pid_of(" INFO shmget(");
    let remover = pid_of(&format!(" INFO shmctl(shmid={id}, cmd=IPC_RMID) = 0 "));
    assert_eq!(line(&stderr, "rshm-trace: 2 calls"), MAKE_REMOVE_CALLS);
    assert_eq!(line(&stderr, "rshm-trace: segments:"), MAKE_REMOVE_SEGMENTS);
    let r = row(&stderr, id);
    assert_eq!(cell(&stderr, r, "CREATOR"), format!("{maker} (ipcmk)"));
    assert_eq!(
        cell(&stderr, r, "END"),
        format!("removed by {remover} (ipcrm)")
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(value(&json, "end"), "\"removed\"");
}

#[test]
fn a_command_run_with_stderr_closed_runs_and_exits_with_its_own_status() {
    let dir = Dir::new("stderr-closed");
    let sj = dir.file("summary.json");
    let out = sh(
        r#""$0" --summary-json "$2" -- sh -c "$1" 2>&-"#,
        &[
            r#"id=$(ipcmk -M 4096 | sed 's/.*: //'); echo "seg $id"; ipcrm -m "$id"; exit 7"#,
            sj.to_str().unwrap(),
        ],
    );
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let id = said(&stdout, "seg");
    assert_eq!(stdout, format!("seg {id}\n"));
    assert_eq!(text(&out.stderr), "");
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(value(&json, "exit"), "{\"code\":7,\"signal\":null}");
    assert_eq!(
        counts(json.trim_end()),
        "calls={\"total\":2,\"by_call\":{\"shmctl\":1,\"shmget\":1},\"shmctl_by_cmd\":{\"IPC_RMID\":1}} \
         failures={\"total\":0,\"by_errno\":{}} warnings=0 processes=2 created=1 removed=1 leaked=0"
    );
}

#[test]
fn peak_counts_attachments_forked_children_inherit_without_a_call() {
    let prog = build("trace_inherit");
    let dir = Dir::new("inherit");
    let sj = dir.file("summary.json");
    let out = trace(&[
        "--summary-json",
        sj.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let _cleanup = Cleanup(segs(&stdout));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = said(&stdout, "seg");
    let seen: u64 = said(&stdout, "nattch") as u64;
    assert_eq!(seen, 4, "the parent and its three children: {stdout}");
    // The children held it 400 ms: long enough for two samples in a row to agree.
    let r = row(&stderr, id);
    assert_eq!(cell(&stderr, r, "PEAK"), "4", "{stderr}");
    assert_eq!(
        cell(&stderr, r, "ATTACHES").split_whitespace().count(),
        1,
        "{stderr}"
    );
    let json = std::fs::read_to_string(&sj).unwrap();
    assert_eq!(value(&json, "peak_nattch"), "4");
}

#[test]
fn processes_of_another_pid_namespace_are_counted_apart_and_their_leaks_seen() {
    let probe = Command::new("unshare").args(["-pf", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        may_skip("unshare -pf is refused here (it needs root)");
        return;
    }
    let prog = build("trace_mk");
    let p = prog.to_str().unwrap();
    // In an IPC namespace of its own: the leaks go with it.
    let script = format!("unshare -pf {p} 1111 4096; unshare -pf {p} 2222 4096; {p} 3333 4096 rm");
    let Some(mut c) = tracer_alone(&["--", "sh", "-c", &script]) else {
        return;
    };
    let out = c.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Both makers are pid 1 of their own namespace: two processes, not one.
    assert_eq!(
        line(&stderr, "rshm-trace: 4 calls"),
        "rshm-trace: 4 calls: shmctl 1, shmget 3 (shmctl: IPC_RMID 1) in 3 processes"
    );
    // Their segments are still there: leaked, not "gone" (their pid is not the kernel's).
    assert_eq!(
        line(&stderr, "rshm-trace: segments:"),
        "rshm-trace: segments: 3 created, 1 removed, 2 leaked"
    );
    assert!(
        stderr.contains(
            "rshm-trace: 2 of the processes that made calls ran in another PID namespace"
        ),
        "{stderr}"
    );
}

#[test]
fn a_trace_that_cannot_be_written_is_said_and_the_status_stays_the_commands() {
    if !Path::new("/dev/full").exists() {
        may_skip("/dev/full does not exist here");
        return;
    }
    let out = trace(&[
        "-o",
        "/dev/full",
        "--",
        "sh",
        "-c",
        "ipcs -m >/dev/null; exit 3",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("rshm-trace: cannot write the summary: No space left on device\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("(os error"), "{stderr}");
}
