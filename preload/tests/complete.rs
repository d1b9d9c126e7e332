//! `rshm-trace --complete` against `strace -f`: every shm system call of every traced
//! process is seen exactly once, whatever path it took (a static binary, a raw
//! syscall(2), an RTLD_DEEPBIND library, dlsym on libc's handle, Python's ctypes, PHP's
//! shmop, forked, vforked and spawned children, threads), with the same arguments and
//! results as strace shows; and the program's own output and exit status are those it
//! has without rshm-trace. Then --strict, explanations, job control, another user, and
//! the command line.
//!
//! Each run is made in a fresh private IPC namespace of its own (`unshare --ipc`): segment
//! ids start at 0 in every run, so two runs of a program can be compared id for id, and
//! whatever a run leaves behind goes with its namespace, also when a test fails. The
//! traced programs are preload/c_progs/complete_*.
//!
//! Run as `make test` does: `cargo build --workspace && unshare -i cargo test -p
//! rshm-preload --test complete`.

mod common;

use common::*;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// `rshm-trace OPTS -- ARGV` in a fresh private IPC namespace.
fn traced_output(ns: &[&str], opts: &[&str], argv: &[&str]) -> Output {
    let mut all = vec![TRACER];
    all.extend(opts);
    all.push("--");
    all.extend(argv);
    in_ns(ns, &all).output().unwrap()
}

/// The trace lines (rshm's, one a call) of a text trace.
fn rshm_lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| l.starts_with("rshm ")).collect()
}

/// The one trace line containing `pat`, or a panic showing the trace.
fn the_line<'a>(s: &'a str, pat: &str) -> &'a str {
    let found: Vec<&str> = rshm_lines(s)
        .into_iter()
        .filter(|l| l.contains(pat))
        .collect();
    assert_eq!(found.len(), 1, "one line with {pat:?} in:\n{s}");
    found[0]
}

// Calls as strace and rshm-trace show them ------------------------------------------------

/// One system call: its arguments as the kernel reads them and its result.
#[derive(Debug)]
enum Args {
    Get { key: u32, size: u64, flags: u32 },
    At { shmid: u32, addr: u64, flags: u32 },
    Dt { addr: u64 },
    Ctl { shmid: u32, cmd: u32 },
}

#[derive(Debug)]
struct Call {
    args: Args,
    /// The value returned, or the errno's name.
    ret: Result<u64, String>,
}

/// A number as strace's raw output writes it (`0`, `0x3c0`).
fn raw_num(s: &str) -> u64 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("{s:?} is not a number: {e}"))
}

/// `strace -f -e raw=all -o FILE`'s calls, by task (strace names a task by its tid).
/// Joins `<unfinished ...>` lines with their `<... resumed>` ends.
fn strace_calls(log: &str) -> BTreeMap<i32, Vec<Call>> {
    let mut by_task: BTreeMap<i32, Vec<Call>> = BTreeMap::new();
    let mut unfinished: HashMap<i32, String> = HashMap::new();
    for l in log.lines() {
        let Some((tid, rest)) = l.split_once(' ') else {
            continue;
        };
        let Ok(tid) = tid.parse::<i32>() else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(start) = rest.strip_suffix("<unfinished ...>") {
            unfinished.insert(tid, start.trim_end().to_string());
            continue;
        }
        let whole = match rest.strip_prefix("<... ") {
            Some(end) => {
                let end = end.split_once(" resumed>").expect("a resumed line").1;
                let start = unfinished.remove(&tid).expect("its unfinished start");
                format!("{start}{end}")
            }
            None => rest.to_string(),
        };
        let (call, after) = whole.split_once('(').unwrap_or_else(|| panic!("{l}"));
        let (args, ret) = after
            .split_once(')')
            .and_then(|(a, r)| Some((a, r.trim_start().strip_prefix("= ")?)))
            .unwrap_or_else(|| panic!("{l}"));
        let a: Vec<u64> = args.split(',').map(raw_num).collect();
        let args = match call {
            "shmget" => Args::Get {
                key: a[0] as u32,
                size: a[1],
                flags: a[2] as u32,
            },
            "shmat" => Args::At {
                shmid: a[0] as u32,
                addr: a[1],
                flags: a[2] as u32,
            },
            "shmdt" => Args::Dt { addr: a[0] },
            "shmctl" => Args::Ctl {
                shmid: a[0] as u32,
                cmd: a[1] as u32,
            },
            _ => panic!("strace traced {call}: {l}"),
        };
        let ret = match ret.trim().strip_prefix("-1 ") {
            Some(e) => Err(e.split_whitespace().next().unwrap().to_string()),
            None => Ok(raw_num(ret)),
        };
        by_task.entry(tid).or_default().push(Call { args, ret });
    }
    assert!(unfinished.is_empty(), "unfinished calls: {unfinished:?}");
    by_task
}

/// A flag word as rshm's log names it (`IPC_CREAT|0600`, `SHM_RDONLY`, `01000`).
fn flag_bits(s: &str) -> u32 {
    s.split('|')
        .map(|w| match w {
            "IPC_CREAT" => 0o1000,
            "IPC_EXCL" => 0o2000,
            "SHM_HUGETLB" => 0o4000,
            "SHM_NORESERVE" | "SHM_RDONLY" => 0o10000,
            "SHM_RND" => 0o20000,
            "SHM_REMAP" => 0o40000,
            "SHM_EXEC" => 0o100000,
            _ => u32::from_str_radix(w, 8).unwrap_or_else(|_| panic!("flag {w:?}")),
        })
        .fold(0, |a, b| a | b)
}

/// A shmctl command as rshm's log names it.
fn cmd_number(s: &str) -> u32 {
    match s {
        "IPC_RMID" => 0,
        "IPC_SET" => 1,
        "IPC_STAT" => 2,
        "IPC_INFO" => 3,
        "SHM_LOCK" => 11,
        "SHM_UNLOCK" => 12,
        "SHM_STAT" => 13,
        "SHM_INFO" => 14,
        "SHM_STAT_ANY" => 15,
        n => n.parse::<i32>().unwrap() as u32,
    }
}

/// An address as rshm's JSON writes it: null or a hex string.
fn json_addr(v: &str) -> u64 {
    match v {
        "null" => 0,
        s => raw_num(s.trim_matches('"')),
    }
}

fn unquote(v: &str) -> &str {
    v.trim_matches('"')
}

/// `rshm-trace --json`'s calls, by task.
fn rshm_calls(log: &str) -> BTreeMap<i32, Vec<Call>> {
    let mut by_task: BTreeMap<i32, Vec<Call>> = BTreeMap::new();
    for l in log.lines().filter(|l| l.starts_with("{\"ts\":")) {
        let tid: i32 = value(l, "tid").parse().unwrap();
        let a = value(l, "args");
        let args = match unquote(value(l, "call")) {
            "shmget" => Args::Get {
                key: match unquote(value(a, "key")) {
                    "IPC_PRIVATE" => 0,
                    k => raw_num(k) as u32,
                },
                size: value(a, "size").parse().unwrap(),
                flags: flag_bits(unquote(value(a, "flags"))),
            },
            "shmat" => Args::At {
                shmid: value(a, "shmid").parse::<i32>().unwrap() as u32,
                addr: json_addr(value(a, "addr")),
                flags: flag_bits(unquote(value(a, "flags"))),
            },
            "shmdt" => Args::Dt {
                addr: json_addr(value(a, "addr")),
            },
            "shmctl" => Args::Ctl {
                shmid: match value(a, "shmid") {
                    "null" => value(a, "index"),
                    id => id,
                }
                .parse::<i32>()
                .unwrap() as u32,
                cmd: cmd_number(unquote(value(a, "cmd"))),
            },
            c => panic!("rshm-trace traced {c}: {l}"),
        };
        let ret = match value(l, "errno") {
            "null" => Ok(match value(l, "ret") {
                r if r.starts_with('"') => json_addr(r),
                r => r.parse().unwrap(),
            }),
            e => Err(unquote(e).to_string()),
        };
        by_task.entry(tid).or_default().push(Call { args, ret });
    }
    by_task
}

/// A task's calls as comparable lines. Addresses differ between runs: an address shmat
/// returned is `@K` (the task's Kth successful attach); another one is named from the
/// nearest such address at or below it (`@K+0x1`), or else `?N` (the Nth other address
/// the task used).
fn canonical(calls: &[Call]) -> Vec<String> {
    let mut attached: Vec<u64> = vec![];
    let mut others: Vec<u64> = vec![];
    let mut name = |a: u64, attached: &[u64]| -> String {
        if a == 0 {
            return "NULL".into();
        }
        let near = attached
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b <= a && a - b < 1 << 24)
            .max_by_key(|&(k, &b)| (b, k));
        match near {
            Some((k, &b)) if a == b => format!("@{}", k + 1),
            Some((k, &b)) => format!("@{}+{:#x}", k + 1, a - b),
            None => {
                let n = match others.iter().position(|&o| o == a) {
                    Some(n) => n,
                    None => {
                        others.push(a);
                        others.len() - 1
                    }
                };
                format!("?{}", n + 1)
            }
        }
    };
    calls
        .iter()
        .map(|c| {
            let args = match c.args {
                Args::Get { key, size, flags } => {
                    format!("shmget(key={key:#x}, size={size}, flags={flags:#o})")
                }
                Args::At { shmid, addr, flags } => format!(
                    "shmat(shmid={}, addr={}, flags={flags:#o})",
                    shmid as i32,
                    name(addr, &attached)
                ),
                Args::Dt { addr } => format!("shmdt(addr={})", name(addr, &attached)),
                Args::Ctl { shmid, cmd } => {
                    format!("shmctl(shmid={}, cmd={})", shmid as i32, cmd as i32)
                }
            };
            let ret = match (&c.args, &c.ret) {
                (_, Err(e)) => format!("-1 {e}"),
                (Args::At { .. }, Ok(a)) => {
                    attached.push(*a);
                    format!("@{}", attached.len())
                }
                (_, Ok(n)) => n.to_string(),
            };
            format!("{args} = {ret}")
        })
        .collect()
}

/// Every task's canonical calls, in an order that does not depend on pids.
fn sequences(by_task: &BTreeMap<i32, Vec<Call>>) -> Vec<Vec<String>> {
    let mut all: Vec<Vec<String>> = by_task.values().map(|c| canonical(c)).collect();
    all.sort();
    all
}

fn show(seqs: &[Vec<String>]) -> String {
    let mut s = String::new();
    for (i, seq) in seqs.iter().enumerate() {
        s.push_str(&format!("  task {}:\n", i + 1));
        for c in seq {
            s.push_str(&format!("    {c}\n"));
        }
    }
    s
}

/// Runs ARGV three times, each in a fresh private IPC namespace: alone, under `strace -f`
/// and under `rshm-trace --complete --json`. Its stdout, stderr and exit status under
/// rshm-trace are those it has alone; every task's calls, argument for argument and
/// result for result, are those strace saw; the summary counts `total` calls, `stopped`
/// of them seen at a seccomp stop. Returns the program's own output.
fn same_as_strace(argv: &[&str], total: u64, stopped: u64) -> Option<Output> {
    let ns = ipc_ns_or_skip()?;
    if !works(&["strace", "-V"]) {
        may_skip("strace is not installed");
        return None;
    }
    let dir = Dir::new("strace");
    let alone = in_ns(ns, argv).output().unwrap();

    let slog = dir.file_str("strace.log");
    let mut s = vec![
        "strace",
        "-f",
        "-qq",
        "-e",
        "signal=none",
        "-e",
        "trace=shmget,shmat,shmdt,shmctl",
        "-e",
        "raw=all",
        "-o",
        &slog,
        "--",
    ];
    s.extend(argv);
    let straced = in_ns(ns, &s).output().unwrap();
    let slog = std::fs::read_to_string(&slog).unwrap_or_default();
    assert_eq!(
        straced.status.code(),
        alone.status.code(),
        "{argv:?} under strace: {}{slog}",
        text(&straced.stderr)
    );

    let rlog = dir.file_str("trace.json");
    let summary = dir.file_str("summary.json");
    let sj = format!("--summary-json={summary}");
    let out = traced_output(ns, &["--complete", "--json", "-o", &rlog, &sj], argv);
    let rlog = std::fs::read_to_string(&rlog).unwrap_or_default();
    assert_eq!(
        (text(&out.stdout), out.status.code()),
        (text(&alone.stdout), alone.status.code()),
        "{argv:?}: its stdout and exit status under rshm-trace --complete are its own \
         (stderr: {})\n{rlog}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr),
        text(&alone.stderr),
        "{argv:?}: nothing of rshm's on its stderr (the trace goes to -o)"
    );

    let theirs = sequences(&strace_calls(&slog));
    let ours = sequences(&rshm_calls(&rlog));
    assert!(
        ours == theirs,
        "{argv:?}: rshm-trace --complete saw\n{}strace -f saw\n{}\nrshm-trace's trace:\n{rlog}\
         strace's:\n{slog}",
        show(&ours),
        show(&theirs)
    );
    let n = theirs.iter().map(Vec::len).sum::<usize>() as u64;
    assert_eq!(n, total, "strace saw:\n{}", show(&theirs));
    let json = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(value(value(&json, "calls"), "total"), total.to_string());
    assert_eq!(
        value(value(&json, "complete"), "stopped_calls"),
        stopped.to_string(),
        "{json}"
    );
    Some(alone)
}

// Call for call as strace sees them ----------------------------------------------------------

#[test]
fn a_static_programs_calls_are_seen_as_strace_sees_them() {
    // Breaks if a stop is missed or reported twice, an argument or result is read from
    // the wrong register, or a failure's errno is not the kernel's.
    let prog = match compile("complete_static", "complete_static", &["-static"]) {
        Ok(p) => p,
        Err(e) => {
            may_skip(&format!("static linking does not work here (libc.a?): {e}"));
            return;
        }
    };
    let Some(out) = same_as_strace(&[prog.to_str().unwrap()], 7, 7) else {
        return;
    };
    assert_eq!(
        text(&out.stdout),
        "shmget = 0\nIPC_STAT = 0 size 8192 nattch 1\nshmdt(unaligned) = -1 EINVAL\n\
         shmdt = 0\nIPC_RMID = 0\nshmat(removed) = EINVAL\n"
    );
}

#[test]
fn raw_system_calls_are_seen_once_and_libc_calls_are_not_seen_twice() {
    // Breaks if the preload library's calls stop too (no token, or the filter compares
    // the wrong half of it): each would be counted twice; or if raw calls are let by.
    let prog = build("complete_raw");
    same_as_strace(&[prog.to_str().unwrap()], 13, 7);
}

#[test]
fn one_threads_calls_are_written_in_the_order_it_made_them() {
    // Breaks if the events of calls made through the preload library (its ring) and of
    // calls seen at a stop are written in the order rshm-trace happened to read them,
    // not the order the thread made them: a segment would be removed before its last
    // detach, or used before it was made.
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let prog = build("complete_raw");
    let dir = Dir::new("order");
    let log = dir.file_str("trace.json");
    let out = traced_output(
        ns,
        &["--complete", "--json", "-o", &log],
        &[prog.to_str().unwrap()],
    );
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{trace}");
    let calls: Vec<(&str, String)> = trace
        .lines()
        .filter(|l| l.starts_with("{\"ts\":"))
        .map(|l| {
            let (ts, call) = (unquote(value(l, "ts")), unquote(value(l, "call")));
            (ts, format!("{ts} {call}{}", value(l, "args")))
        })
        .collect();
    assert_eq!(calls.len(), 13, "{trace}");
    let written: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
    let mut by_time = calls.clone();
    by_time.sort_by_key(|c| c.0);
    let made: Vec<&str> = by_time.iter().map(|c| c.1.as_str()).collect();
    assert!(
        written == made,
        "written in this order:\n{}\nmade (their time stamps) in this one:\n{}",
        written.join("\n"),
        made.join("\n")
    );
    let summary = trace.lines().last().unwrap_or_default();
    for row in value(value(summary, "segments"), "rows")
        .split("{\"shmid\":")
        .skip(1)
    {
        let ns = |k: &str| value(row, k).parse::<u64>().ok();
        if let (Some(removed), Some(destroyed)) = (ns("removed_ns"), ns("destroyed_ns")) {
            assert!(
                removed <= destroyed,
                "destroyed before it was removed: {row}"
            );
        }
    }
}

#[test]
fn an_rtld_deepbind_librarys_calls_are_seen_as_strace_sees_them() {
    // Breaks if a library bound to libc itself goes around the filter.
    let prog = build("complete_deepbind");
    let lib = compile(
        "complete_deeplib",
        "libcomplete_deeplib.so",
        &["-shared", "-fPIC"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    same_as_strace(&[prog.to_str().unwrap(), lib.to_str().unwrap()], 8, 6);
}

#[test]
fn calls_through_dlsym_on_libcs_handle_are_seen_as_strace_sees_them() {
    // Breaks if libc's own shmget/shmat/shmdt/shmctl (found with dlsym) go unseen.
    let prog = build("complete_dlsym");
    same_as_strace(&[prog.to_str().unwrap()], 9, 7);
}

#[test]
fn python_ctypes_calls_are_seen_as_strace_sees_them() {
    // Breaks if an interpreter's calls through ctypes.CDLL("libc.so.6") go unseen, or
    // rshm-trace changes what the interpreter prints.
    if !works(&["python3", "-c", "import ctypes"]) {
        may_skip("python3 with ctypes is not installed");
        return;
    }
    let script = c_progs().join("complete_ctypes.py");
    let Some(out) = same_as_strace(&["python3", script.to_str().unwrap()], 8, 8) else {
        return;
    };
    assert_eq!(
        text(&out.stdout),
        "shmget = 0\nshmat = 0\nIPC_STAT = 0\nsize 8192\nshmdt(p+1) = -1 EINVAL\nshmdt = 0\n\
         IPC_RMID = 0\nshmat(removed) = -1 EINVAL\nshmget(missing key) = -1 ENOENT\n"
    );
}

#[test]
fn php_shmop_calls_are_seen_as_strace_sees_them() {
    // Breaks if the calls of an extension PHP loads with RTLD_DEEPBIND go unseen.
    if !works(&["php", "-v"]) {
        may_skip("php-cli is not installed");
        return;
    }
    if !works(&["php", "-r", "exit(function_exists('shmop_open') ? 0 : 1);"]) {
        may_skip("php has no shmop extension");
        return;
    }
    let script = c_progs().join("complete_shmop.php");
    let Some(out) = same_as_strace(&["php", script.to_str().unwrap()], 7, 7) else {
        return;
    };
    assert_eq!(
        text(&out.stdout),
        "size 4096\nwrote 5\nread shmop\ndelete true\nmissing false\n"
    );
}

#[test]
fn forked_vforked_and_spawned_children_and_a_thread_are_all_seen() {
    // Breaks if a new task is not followed (fork, vfork, posix_spawn's clone, a thread),
    // or a call is named by the wrong task.
    let prog = build("complete_procs");
    let Some(out) = same_as_strace(&[prog.to_str().unwrap()], 16, 11) else {
        return;
    };
    assert_eq!(
        text(&out.stdout),
        "parent: shmget = 0\nfork: shmat, shmdt = 0, raw shmdt again = -1 EINVAL\n\
         vfork: shmget = 1, IPC_STAT(A) = 0 nattch 1, IPC_RMID = 0\n\
         spawn: shmget = 2, IPC_STAT(A) = 0 nattch 1, IPC_RMID = 0\n\
         thread: shmget = 3, IPC_RMID = 0, again = -1 EINVAL\n\
         parent: raw shmdt = 0, IPC_RMID = 0\n"
    );
}

#[test]
fn a_child_stopped_by_sigstop_stays_stopped_and_its_parent_sees_the_stop_and_the_continue() {
    // Breaks if rshm-trace resumes a group stop (the child would go on counting), or
    // hides it or the SIGCONT from the real parent's waitpid (a shell's job control).
    let prog = build("complete_stop");
    let Some(out) = same_as_strace(&[prog.to_str().unwrap()], 5, 5) else {
        return;
    };
    assert_eq!(
        text(&out.stdout),
        "child counts: yes\nwaitpid WUNTRACED: stopped by SIGSTOP\nstate: stopped\n\
         while stopped it counts: no\nwaitpid WCONTINUED: continued\n\
         after SIGCONT it counts: yes\nchild exit: 0\n"
    );
}

#[test]
fn a_program_without_shm_calls_keeps_its_exit_status_and_nothing_is_counted() {
    // Breaks if the filter or the tracer make a call out of nothing, or change the
    // command's exit status.
    same_as_strace(&["sh", "-c", "echo out; echo err >&2; exit 3"], 0, 0);
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    for (argv, code) in [(&["true"][..], 0), (&["sh", "-c", "exit 3"][..], 3)] {
        let out = traced_output(ns, &["--complete"], argv);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{argv:?}: {stderr}");
        assert_eq!(text(&out.stdout), "");
        assert!(
            stderr
                .lines()
                .any(|l| l == "rshm-trace: 0 calls in 0 processes")
                && stderr.lines().any(|l| l
                    == "rshm-trace: --complete: 0 of them made without the preload library \
                        (seen at a seccomp stop)"),
            "{argv:?}: {stderr}"
        );
    }
}

#[test]
fn with_complete_no_shm_call_seen_means_none_was_made_by_any_path() {
    // Breaks if the summary of a --complete run with no call still says that a static
    // program or a raw system call would not be seen: --complete sees them.
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let out = traced_output(ns, &["--complete"], &["true"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("would not be seen"),
        "--complete would have seen a static program's or a raw system call's calls:\n{stderr}"
    );
}

#[test]
fn the_summary_json_and_the_html_page_count_the_stopped_calls_alike() {
    // Breaks if --summary-json or --html leave out (or miscount) the calls only a stop
    // saw: a static program makes all of its calls so.
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let prog = match compile("complete_static", "complete_static", &["-static"]) {
        Ok(p) => p,
        Err(e) => {
            may_skip(&format!("static linking does not work here (libc.a?): {e}"));
            return;
        }
    };
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let json = tmp().join(format!("complete-sum-{}-{n}.json", std::process::id()));
    let html = tmp().join(format!("complete-page-{}-{n}.html", std::process::id()));
    let (j, h) = (json.to_str().unwrap(), html.to_str().unwrap());
    let out = traced_output(
        ns,
        &["--complete", "-c", "--summary-json", j, "--html", h],
        &[prog.to_str().unwrap()],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let sum = std::fs::read_to_string(&json).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    let _ = (std::fs::remove_file(&json), std::fs::remove_file(&html));
    let total = value(value(&sum, "calls"), "total");
    let stopped = value(value(&sum, "complete"), "stopped_calls");
    assert_ne!(stopped, "0", "{sum}");
    assert_eq!(
        total, stopped,
        "a static program's calls are all stopped: {sum}"
    );
    assert!(
        page.contains(&format!("{total} calls (<span data-stopped=\"{stopped}\">")),
        "{page}"
    );
    assert!(
        stderr.contains(&format!(
            "rshm-trace: --complete: {stopped} of them made without the preload library"
        )),
        "{stderr}"
    );
}

// --strict, explanations ------------------------------------------------------------------

/// complete_call with ARGS under `rshm-trace OPTS -o LOG`: (its stdout, the trace).
fn call(ns: &[&str], opts: &[&str], args: &[&str]) -> (String, String) {
    let prog = build("complete_call");
    let dir = Dir::new("call");
    let log = dir.file_str("trace.log");
    let mut o = opts.to_vec();
    o.extend(["-o", &log]);
    let mut argv = vec![prog.to_str().unwrap()];
    argv.extend(args);
    let out = traced_output(ns, &o, &argv);
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}{trace}", text(&out.stderr));
    (text(&out.stdout), trace)
}

#[test]
fn strict_complete_refuses_rule_breaking_raw_calls_and_the_kernel_never_runs_them() {
    // Breaks if a refused call still reaches the kernel (a world-writable segment would
    // be made, an attach with unknown flags made), or the program sees another errno.
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let prog = build("complete_call");
    let alone = in_ns(
        ns,
        &[
            prog.to_str().unwrap(),
            "get:0:4096:01666",
            "used",
            "at:$:01000",
            "stat:$",
            "rm:$",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        text(&alone.stdout),
        "get = 0\nused = 1\nat = attached\nstat = 0 nattch 1\nrm = 0\n",
        "the kernel itself takes both calls"
    );
    let args = [
        "get:0:4096:01666",
        "used",
        "get:0:4096:01600",
        "at:$:01000",
        "stat:$",
        "rm:$",
    ];
    let (stdout, trace) = call(ns, &["--strict", "--complete"], &args);
    assert_eq!(
        stdout, "get = -1 EINVAL\nused = 0\nget = 0\nat = -1 EINVAL\nstat = 0 nattch 0\nrm = 0\n",
        "{trace}"
    );
    let get = the_line(&trace, "flags=IPC_CREAT|0666");
    assert!(
        get.contains(
            " WARN shmget(key=IPC_PRIVATE, size=4096, flags=IPC_CREAT|0666) = -1 EINVAL: \
             RSHM_STRICT=1 refuses this: permissions 0666 let every user write the segment"
        ),
        "{trace}"
    );
    let at = the_line(&trace, "shmat(");
    assert!(
        at.contains(
            " WARN shmat(shmid=0, addr=NULL, flags=01000) = -1 EINVAL: unknown flag bits \
             01000 in flags 01000; valid are SHM_RDONLY, SHM_RND, SHM_REMAP and SHM_EXEC"
        ),
        "{trace}"
    );
    assert!(
        trace
            .lines()
            .any(|l| l == "rshm-trace: segments: 1 created, 1 removed, 0 leaked"),
        "{trace}"
    );
}

#[test]
fn a_failing_raw_call_gets_a_warn_line_that_explains_it() {
    // Breaks if a call seen at a stop is reported without the library's explanation.
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let (stdout, trace) = call(
        ns,
        &["--complete"],
        &[
            "get:0:4096:01600",
            "at:$:0",
            "dt:1",
            "dt:0",
            "at:7:0",
            "rm:-1",
            "rm:$",
        ],
    );
    assert_eq!(
        stdout,
        "get = 0\nat = attached\ndt = -1 EINVAL\ndt = 0\nat = -1 EINVAL\nrm = -1 EINVAL\n\
         rm = 0\n"
    );
    let dt = rshm_lines(&trace)
        .into_iter()
        .find(|l| l.contains(" WARN shmdt("))
        .unwrap_or_else(|| panic!("{trace}"));
    let addr = dt
        .split_once("shmdt(addr=")
        .and_then(|(_, a)| a.split_once(')'))
        .unwrap()
        .0;
    assert!(addr.ends_with('1'), "{dt}");
    assert!(
        dt.contains(&format!(
            ") = -1 EINVAL: address {addr} is not page-aligned, so it is not the start of \
             an attached segment ["
        )),
        "{trace}"
    );
    assert!(
        the_line(&trace, "shmat(shmid=7,")
            .contains(" WARN shmat(shmid=7, addr=NULL, flags=0) = -1 EINVAL: no segment has id 7"),
        "{trace}"
    );
    assert!(
        the_line(&trace, "shmctl(shmid=-1,").contains(
            " WARN shmctl(shmid=-1, cmd=IPC_RMID) = -1 EINVAL: shmid -1 is negative, so it \
             names no segment"
        ),
        "{trace}"
    );
}

#[test]
fn a_raw_call_refused_to_another_user_is_explained_for_that_user() {
    // Breaks if the explanation judges the call with rshm-trace's credentials (root)
    // instead of the traced process's.
    // SAFETY: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 {
        may_skip("switching users needs root");
        return;
    }
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    if !works(&[&setpriv[..], &["true"]].concat()) {
        may_skip("setpriv cannot switch to uid 65534 here");
        return;
    }
    // Where user 65534 can read the library and run the program.
    let dir = Dir::under(Path::new("/tmp"), "user");
    let so = dir.file("librshm_preload.so");
    let prog = dir.file_str("complete_call");
    std::fs::copy(preload_so(), &so).unwrap();
    std::fs::copy(build("complete_call"), &prog).unwrap();
    for f in [&dir.0, Path::new(&so), Path::new(&prog)] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = dir.file_str("trace.log");
    let script = format!(
        "\"$0\" get:0x5eed:4096:01600 && {} \"$0\" get:0x5eed:0:0400; \
         \"$0\" get:0x5eed:0:0 'rm:$'",
        setpriv.join(" ")
    );
    let out = in_ns(
        ns,
        &[
            TRACER,
            "--complete",
            "-o",
            &log,
            "--",
            "sh",
            "-c",
            &script,
            &prog,
        ],
    )
    .env("RSHM_PRELOAD", &so)
    .output()
    .unwrap();
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}{trace}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "get = 0\nget = -1 EACCES\nget = 0\nrm = 0\n"
    );
    let refused = the_line(&trace, " EACCES");
    assert!(
        refused.contains(" WARN shmget(key=0x00005eed, size=0, flags=0400) = -1 EACCES: ")
            && refused.contains("uid 65534")
            && !refused.contains("grant uid 0 "),
        "{trace}"
    );
}

// Job control, the command line ------------------------------------------------------------

/// The state letter of /proc/PID/stat ('?' if it is gone).
fn state(pid: i32) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    s.rsplit_once(") ")
        .and_then(|(_, r)| r.chars().next())
        .unwrap_or('?')
}

/// Waits up to 10 s for the state of PID to satisfy `ok`.
fn state_becomes(pid: i32, ok: impl Fn(char) -> bool) -> char {
    let t0 = Instant::now();
    loop {
        let s = state(pid);
        if ok(s) || t0.elapsed() > Duration::from_secs(10) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_command_stopped_by_sigstop_stays_stopped_until_sigcont() {
    // Breaks if rshm-trace restarts a tracee in a group stop (PTRACE_CONT instead of
    // PTRACE_LISTEN): the command would read its line and go on while stopped.
    let Some(ns) = ipc_ns_or_skip() else {
        return;
    };
    let prog = build("complete_call");
    let dir = Dir::new("stop");
    let log = dir.file_str("trace.log");
    let mut child = in_ns(
        ns,
        &[
            TRACER,
            "--complete",
            "-o",
            &log,
            "--",
            prog.to_str().unwrap(),
            "get:0:4096:01600",
            "wait",
            "rm:$",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut kill = Kill(vec![child.id() as i32]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    for _ in 0..2 {
        out.read_line(&mut first).unwrap();
    }
    let pid: i32 = first
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .unwrap_or_else(|| panic!("{first:?}"))
        .parse()
        .unwrap();
    kill.0.push(pid);
    let stopped = |c: char| c == 'T' || c == 't';
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let s = state_becomes(pid, stopped);
    assert!(stopped(s), "state {s} after SIGSTOP");
    // Its line is there to read: a stopped process does not read it.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    std::thread::sleep(Duration::from_millis(200));
    let s = state(pid);
    assert!(stopped(s), "state {s}: the command went on while stopped");
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    kill.0.clear();
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{trace}");
    assert_eq!(first, format!("get = 0\npid {pid}\n"));
    assert_eq!(rest, "rm = 0\n", "{trace}");
    assert_eq!(rshm_lines(&trace).len(), 2, "{trace}");
}

#[test]
fn complete_with_no_wait_is_refused_in_one_line_before_anything_runs() {
    // Breaks if --no-wait is accepted: a process left running would keep the filter
    // without its tracer, and its shm calls would fail with ENOSYS.
    let dir = Dir::new("no-wait");
    let made = dir.file_str("ran");
    for opts in [["--complete", "--no-wait"], ["--no-wait", "--complete"]] {
        let out = Command::new(TRACER)
            .args(opts)
            .args(["--", "sh", "-c", "touch \"$0\"", &made])
            .env("RSHM_PRELOAD", preload_so())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{opts:?}: {stderr}");
        assert_eq!(text(&out.stdout), "");
        assert_eq!(stderr.lines().count(), 1, "{opts:?}: {stderr}");
        assert!(
            stderr.starts_with("rshm-trace: --complete cannot be used with --no-wait"),
            "{stderr}"
        );
        assert!(!Path::new(&made).exists(), "{opts:?}: the command ran");
    }
}
