//! librshm_preload.so and rshm-trace on unmodified programs: the C programs in
//! preload/c_progs (built without rshm's header), util-linux's ipcmk/ipcrm, and Perl.

mod common;

use common::{preload_so, tmp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Compiles preload/c_progs/NAME.c with the system C compiler.
fn build(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("c_progs")
        .join(format!("{name}.c"));
    build_from(&src, name, &[])
}

/// Compiles `src` into a program called NAME, with extra compiler arguments.
fn build_from(src: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp().join(format!("prog-{name}"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(cc)
        .args(["-O1", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(src)
        .status()
        .expect("running cc");
    assert!(st.success(), "compiling {}", src.display());
    out
}

/// A fresh log file name, removed when dropped.
struct Log(PathBuf);

impl Log {
    fn new(tag: &str) -> Log {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = tmp().join(format!("log-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        Log(p)
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn json(&self) -> Vec<BTreeMap<String, String>> {
        self.lines()
            .iter()
            .map(|l| fields(l).unwrap_or_else(|| panic!("not a JSON log line: {l}")))
            .collect()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Segments a test must remove whatever happens.
struct Cleanup(Vec<i32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &id in &self.0 {
            // SAFETY: IPC_RMID reads no buffer.
            unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
}

/// Runs `prog` with `env`, preloaded or not; RSHM_* of the test's own environment removed.
fn run(prog: &Path, args: &[&str], env: &[(&str, &str)], preload: bool) -> Output {
    let mut c = Command::new(prog);
    c.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("RSHM_") || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    if preload {
        c.env("LD_PRELOAD", preload_so());
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

fn json_env(log: &Log) -> Vec<(&'static str, String)> {
    vec![
        ("RSHM_LOG_FORMAT", "json".into()),
        ("RSHM_LOG_FILE", log.0.display().to_string()),
    ]
}

fn run_traced(prog: &Path, args: &[&str], log: &Log, extra: &[(&str, &str)]) -> Output {
    let env = json_env(log);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    run(prog, args, &all, true)
}

/// "fact NAME VALUE" lines a program printed on stderr.
fn facts(out: &Output) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("fact "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A flat view of one JSON log line: `args.key` for nested keys, strings unquoted.
fn fields(line: &str) -> Option<BTreeMap<String, String>> {
    fn string(s: &mut &str) -> Option<String> {
        *s = s.strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    *s = &s[i + 1..];
                    return Some(out);
                }
                '\\' => match chars.next()?.1 {
                    'n' => out.push('\n'),
                    'u' => {
                        let hex: String =
                            (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    e => out.push(e),
                },
                c => out.push(c),
            }
        }
        None
    }
    fn object(s: &mut &str, prefix: &str, out: &mut BTreeMap<String, String>) -> Option<()> {
        *s = s.strip_prefix('{')?;
        if let Some(r) = s.strip_prefix('}') {
            *s = r;
            return Some(());
        }
        loop {
            let key = string(s)?;
            *s = s.strip_prefix(':')?;
            let full = if prefix.is_empty() {
                key
            } else {
                format!("{prefix}.{key}")
            };
            if s.starts_with('{') {
                object(s, &full, out)?;
            } else if s.starts_with('"') {
                let v = string(s)?;
                out.insert(full, v);
            } else {
                let end = s.find([',', '}'])?;
                out.insert(full, s[..end].to_string());
                *s = &s[end..];
            }
            if let Some(r) = s.strip_prefix(',') {
                *s = r;
            } else {
                *s = s.strip_prefix('}')?;
                return Some(());
            }
        }
    }
    let mut s = line;
    let mut out = BTreeMap::new();
    object(&mut s, "", &mut out)?;
    s.is_empty().then_some(out)
}

fn get<'a>(m: &'a BTreeMap<String, String>, k: &str) -> &'a str {
    m.get(k).map(String::as_str).unwrap_or("<absent>")
}

/// Asserts the fields of `line` named in `want`.
fn expect(line: &BTreeMap<String, String>, want: &[(&str, &str)]) {
    for (k, v) in want {
        assert_eq!(get(line, k), *v, "field {k} of {line:?}");
    }
}

/// The id in ipcmk's "Shared memory id: N".
fn ipcmk_id(stdout: &str) -> i32 {
    stdout
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .expect("ipcmk prints the id")
}

fn unique_key() -> String {
    format!(
        "{:#x}",
        0x7e00_0000u32 | (std::process::id() & 0xffff) << 8 | 0x5a
    )
}

#[test]
fn an_unmodified_program_behaves_the_same_and_its_json_trace_matches_what_it_did() {
    let prog = build("basic");
    let key = unique_key();
    let plain = run(&prog, &[&key], &[], false);
    let log = Log::new("basic");
    let traced = run_traced(&prog, &[&key], &log, &[]);
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&traced.stdout)
    );
    assert_eq!(plain.status.code(), traced.status.code());
    assert_eq!(traced.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&traced.stdout);
    assert!(stdout.contains("child: 0, wrote \"child\""), "{stdout}");
    assert!(stdout.contains("still readable: parent"), "{stdout}");

    let f = facts(&traced);
    let (id, addr, fixed) = (&f["id"], &f["addr"], &f["fixed"]);
    let pid = traced_pid(&log);
    let missing = key_hex(&key);
    let lines = log.json();
    let (mine, child): (Vec<_>, Vec<_>) = lines.iter().partition(|l| get(l, "pid") == pid);
    assert!(
        child.iter().all(|l| get(l, "pid") == f["child"]),
        "the forked child logs its own pid"
    );
    assert_eq!(child.len(), 2);
    expect(
        child[0],
        &[("call", "shmat"), ("args.shmid", id), ("errno", "null")],
    );
    expect(child[1], &[("call", "shmdt"), ("ret", "0")]);
    let want: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("call", "shmget"),
            ("args.key", "IPC_PRIVATE"),
            ("args.size", "4096"),
            ("args.flags", "IPC_CREAT|0600"),
            ("ret", id),
            ("created", "true"),
            ("errno", "null"),
            ("level", "info"),
        ],
        vec![
            ("call", "shmat"),
            ("args.shmid", id),
            ("args.addr", "null"),
            ("args.flags", "0"),
            ("ret", addr),
        ],
        vec![
            ("call", "shmdt"),
            ("args.addr", addr),
            ("ret", "0"),
            ("errno", "null"),
        ],
        vec![
            ("call", "shmdt"),
            ("args.addr", addr),
            ("ret", "-1"),
            ("errno", "EINVAL"),
            ("level", "warn"),
        ],
        vec![
            ("call", "shmctl"),
            ("args.shmid", id),
            ("args.cmd", "IPC_STAT"),
            ("ret", "0"),
        ],
        vec![
            ("call", "shmctl"),
            ("args.cmd", "IPC_INFO"),
            ("ret", &f["ipc_info"]),
        ],
        vec![
            ("call", "shmctl"),
            ("args.shmid", "null"),
            ("args.index", &f["index"]),
            ("args.cmd", "SHM_STAT"),
            ("ret", id),
        ],
        vec![
            ("call", "shmat"),
            ("args.shmid", id),
            ("args.flags", "SHM_REMAP"),
            ("args.addr", fixed),
            ("ret", fixed),
        ],
        vec![("call", "shmdt"), ("args.addr", fixed), ("ret", "0")],
        vec![
            ("call", "shmat"),
            ("args.shmid", id),
            ("args.flags", "SHM_RDONLY"),
        ],
        vec![
            ("call", "shmctl"),
            ("args.shmid", id),
            ("args.cmd", "IPC_RMID"),
            ("ret", "0"),
            ("level", "info"),
        ],
        vec![
            ("call", "shmget"),
            ("args.key", &missing),
            ("args.size", "64"),
            ("args.flags", "0600"),
            ("ret", "-1"),
            ("errno", "ENOENT"),
        ],
        vec![
            ("call", "shmat"),
            ("args.shmid", "-1"),
            ("ret", "-1"),
            ("errno", "EINVAL"),
        ],
        vec![
            ("call", "shmget"),
            ("args.size", "2097152"),
            ("args.flags", "IPC_CREAT|SHM_HUGETLB|0600"),
        ],
    ];
    assert_eq!(mine.len(), want.len(), "{mine:#?}");
    for (line, w) in mine.iter().zip(&want) {
        expect(line, w);
    }
    assert!(get(mine[3], "msg").starts_with(&format!("address {addr} was already detached (at ")));
    assert_eq!(
        get(mine[10], "msg"),
        format!(
            "segment {id} is still attached here (1 time); it is destroyed after the last detach"
        )
    );
    assert!(
        lines
            .iter()
            .all(|l| !get(l, "msg").contains("not attached through rshm"))
    );
}

fn key_hex(key: &str) -> String {
    format!(
        "{:#010x}",
        u32::from_str_radix(key.trim_start_matches("0x"), 16).unwrap()
    )
}

/// The pid of the first line (the program itself).
fn traced_pid(log: &Log) -> String {
    get(&log.json()[0], "pid").to_string()
}

#[test]
fn several_threads_at_once_lose_no_log_line() {
    let prog = build("threads");
    let log = Log::new("threads");
    let out = run_traced(&prog, &["8", "300"], &log, &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "failures 0\n");
    let lines = log.json();
    assert_eq!(
        lines.len(),
        1 + 8 * 300 * 2 + 1,
        "every call, one whole line each"
    );
    let tids: std::collections::BTreeSet<&str> = lines.iter().map(|l| get(l, "tid")).collect();
    assert!(tids.len() >= 9, "lines come from the threads themselves");
    assert!(lines.iter().all(|l| get(l, "errno") == "null"));
}

#[test]
fn shmdt_and_ipc_rmid_in_a_sigchld_handler_neither_deadlock_nor_lose_results() {
    let prog = build("sigchld");
    let plain = run(&prog, &[], &[], false);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
    let log = Log::new("sigchld");
    let out = run_traced(&prog, &[], &log, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "reaped 300, handler failures 0, loop failures 0, alive 0\n"
    );
    assert!(out.status.success());
    let lines = log.json();
    let rmids = lines
        .iter()
        .filter(|l| get(l, "args.cmd") == "IPC_RMID" && get(l, "ret") == "0")
        .count();
    assert_eq!(rmids, 301);
    assert!(
        lines
            .iter()
            .all(|l| !get(l, "msg").contains("not attached through rshm"))
    );
}

#[test]
fn strict_mode_turns_a_warning_into_a_failure_and_the_default_does_not() {
    let prog = build("leak");
    let mut cleanup = Cleanup(vec![]);
    for (preload, strict, want) in [
        (false, false, "ok"),
        (true, false, "ok"),
        (true, true, "EINVAL"),
    ] {
        let log = Log::new("strict");
        let extra: &[(&str, &str)] = if strict { &[("RSHM_STRICT", "1")] } else { &[] };
        let out = if preload {
            run_traced(&prog, &[], &log, extra)
        } else {
            run(&prog, &[], &[], false)
        };
        cleanup.0.extend(
            facts(&out)
                .get("leaked")
                .and_then(|v| v.parse::<i32>().ok()),
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("unknown flag bit: {want}\n")
        );
        if preload {
            let odd = log
                .json()
                .into_iter()
                .find(|l| get(l, "args.flags") == "IPC_CREAT|0100600")
                .unwrap();
            assert_eq!(get(&odd, "level"), "warn");
            assert!(
                get(&odd, "msg").starts_with("unknown flag bits 0100000"),
                "{odd:?}"
            );
            assert_eq!(get(&odd, "errno"), if strict { "EINVAL" } else { "null" });
        }
    }
}

#[test]
fn the_exit_report_lists_what_outlives_the_process_and_never_says_leak() {
    let prog = build("leak");
    let log = Log::new("report");
    let out = run_traced(&prog, &[], &log, &[("RSHM_REPORT", "1")]);
    let f = facts(&out);
    let _cleanup = Cleanup(vec![f["leaked"].parse().unwrap()]);
    let report: Vec<(String, String)> = log
        .json()
        .iter()
        .filter(|l| get(l, "call") == "report")
        .map(|l| (get(l, "level").to_string(), get(l, "msg").to_string()))
        .collect();
    assert_eq!(report.len(), 3, "{report:#?}");
    assert!(
        report
            .iter()
            .all(|(level, msg)| level == "info" && !msg.contains("leak")),
        "{report:#?}"
    );
    assert!(
        report[0].1.starts_with(&format!(
            "segment {} (key IPC_PRIVATE, 8192 bytes, mode 0640, created here at ",
            f["leaked"]
        )) && report[0]
            .1
            .ends_with(") still exists at exit; another process may still remove it"),
        "{report:#?}"
    );
    assert!(
        report[1].1.starts_with(&format!(
            "segment {} at {} (8192 bytes, attached here at ",
            f["leaked"], f["kept"]
        )) && report[1]
            .1
            .ends_with(") is still attached; the kernel detaches it at exit"),
        "{report:#?}"
    );
    assert_eq!(
        report[2].1,
        "at exit: 1 segment(s) made here still exist, 1 attachment(s) still held"
    );
    // Removed here, or made here and removed by the child: neither is listed.
    for gone in [&f["removed"], &f["theirs"]] {
        assert!(
            report
                .iter()
                .all(|(_, m)| !m.contains(&format!("segment {gone} ")))
        );
    }
}

#[test]
fn calls_before_main_raw_attachments_and_exec_are_traced() {
    let prog = build("early");
    let log = Log::new("early");
    let out = run_traced(&prog, &[], &log, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "raw attach detached: 0, removed: 0\n"
    );
    assert!(out.status.success());
    let f = facts(&out);
    let lines = log.json();
    expect(
        &lines[0],
        &[
            ("call", "shmget"),
            ("ret", &f["early_id"]),
            ("created", "true"),
        ],
    );
    let dt = lines.iter().find(|l| get(l, "call") == "shmdt").unwrap();
    expect(
        dt,
        &[("args.addr", &f["raw"]), ("ret", "0"), ("level", "info")],
    );
    assert_eq!(
        get(dt, "msg"),
        "<absent>",
        "an attachment found in /proc/self/maps is not foreign"
    );
    let exec = lines
        .iter()
        .find(|l| get(l, "ret") == f["exec_id"] && get(l, "call") == "shmget")
        .unwrap();
    assert_eq!(get(exec, "pid"), f["exec_pid"]);
    let during_exit: Vec<_> = lines
        .iter()
        .filter(|l| get(l, "args.shmid") == f["exit_id"] || get(l, "ret") == f["exit_id"])
        .collect();
    assert_eq!(
        during_exit.len(),
        2,
        "the shmget and IPC_RMID of an atexit handler are traced"
    );
}

#[test]
fn util_linux_ipcmk_and_ipcrm_are_traced() {
    let log = Log::new("ipcmk");
    let out = run_traced(Path::new("ipcmk"), &["-M", "4096"], &log, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = ipcmk_id(&stdout);
    let _cleanup = Cleanup(vec![id]);
    let ids = id.to_string();
    let lines = log.json();
    expect(
        &lines[0],
        &[
            ("call", "shmget"),
            ("args.size", "4096"),
            ("args.flags", "IPC_CREAT|0644"),
            ("ret", &ids),
            ("created", "true"),
        ],
    );
    // Another process attaches the segment ipcmk made (as an X server attaches its
    // clients' segments): Perl's shmread attaches and detaches it.
    let log3 = Log::new("perl-foreign");
    let read = format!("shmread({ids}, $x, 0, 4) or die \"shmread: $!\"; print length($x)");
    let out = run_traced(Path::new("perl"), &["-e", &read], &log3, &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4");
    let l = log3.json();
    let at = l
        .iter()
        .find(|l| get(l, "call") == "shmat")
        .expect("perl's shmat");
    expect(
        at,
        &[("args.shmid", &ids), ("errno", "null"), ("level", "info")],
    );
    let dt = l
        .iter()
        .find(|l| get(l, "call") == "shmdt")
        .expect("perl's shmdt");
    expect(
        dt,
        &[
            ("args.addr", get(at, "ret")),
            ("ret", "0"),
            ("level", "info"),
        ],
    );
    let log2 = Log::new("ipcrm");
    let out = run_traced(Path::new("ipcrm"), &["-m", &ids], &log2, &[]);
    assert!(out.status.success());
    let l = log2.json();
    let rm = l
        .iter()
        .find(|l| get(l, "args.cmd") == "IPC_RMID")
        .expect("ipcrm's IPC_RMID");
    expect(
        rm,
        &[
            ("call", "shmctl"),
            ("args.shmid", &ids),
            ("ret", "0"),
            ("errno", "null"),
        ],
    );
}

#[test]
fn by_default_the_preload_library_logs_every_call_as_text_on_stderr() {
    let out = run(Path::new("ipcmk"), &["-M", "4096"], &[], true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = ipcmk_id(&stdout);
    let _cleanup = Cleanup(vec![id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains(" shmget("))
        .expect("a line on stderr");
    assert!(
        line.starts_with("rshm ") && line.contains(" INFO shmget(key=0x"),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            ", size=4096, flags=IPC_CREAT|0644) = {id} (created) ["
        )),
        "{line}"
    );
}

#[test]
fn perls_shm_builtins_are_traced() {
    let log = Log::new("perl");
    let script = r#"$id = shmget(0, 4096, 01600) // die "shmget: $!"; print "id $id\n";
        shmwrite($id, "hello", 0, 5) or die; shmread($id, $x, 0, 5) or die; print "$x\n";
        shmctl($id, 0, 0) or die;"#;
    let out = run_traced(Path::new("perl"), &["-e", script], &log, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let id = stdout
        .lines()
        .next()
        .unwrap()
        .strip_prefix("id ")
        .unwrap()
        .to_string();
    assert_eq!(stdout.lines().nth(1), Some("hello"));
    let calls: Vec<String> = log
        .json()
        .iter()
        .map(|l| format!("{} {}", get(l, "call"), get(l, "args.cmd")))
        .collect();
    assert_eq!(calls.first().map(String::as_str), Some("shmget <absent>"));
    assert!(
        calls.contains(&"shmat <absent>".to_string())
            && calls.contains(&"shmdt <absent>".to_string()),
        "{calls:?}"
    );
    let last = log.json().pop().unwrap();
    expect(
        &last,
        &[
            ("call", "shmctl"),
            ("args.shmid", &id),
            ("args.cmd", "IPC_RMID"),
            ("ret", "0"),
        ],
    );
}

#[test]
fn another_interposer_after_rshm_is_called_not_gone_around() {
    // rshm makes the system call itself only when the next definition is glibc's own
    // wrapper; here the next definition is another library's, which must see every call.
    let counter = build_from(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("c_progs/counter.c"),
        "counter.so",
        &["-shared", "-fPIC", "-ldl"],
    );
    let prog = build("chain");
    let log = Log::new("chain");
    let chain = format!("{}:{}", preload_so().display(), counter.display());
    let mut env = json_env(&log);
    env.push(("LD_PRELOAD", chain));
    // Everything that makes rshm ask the kernel questions of its own: every line logged,
    // the exit report, strict mode (the squatting check).
    env.push(("RSHM_LOG", "debug".into()));
    env.push(("RSHM_REPORT", "1".into()));
    env.push(("RSHM_STRICT", "1".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(&prog, &[], &env, false);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "through the chain\nshmdt 0, IPC_RMID 0, shmdt again -1 EINVAL\n\
         same id 1 1, IPC_CREAT|IPC_EXCL -1 EEXIST, IPC_RMID 0\n"
    );
    let facts = facts(&out);
    assert_eq!(
        facts.get("interposed").map(String::as_str),
        // The program's ten calls, exactly: rshm's own questions (IPC_INFO for the limits,
        // the lookup before a get-or-create, the creator's pid, the owner) go straight to
        // the kernel.
        Some("get=5 at=1 dt=2 rmid=2 info=0 other=0"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each shmget reached the next library as the program made it (size/flags in octal).
    assert_eq!(
        facts.get("shmgets").map(String::as_str),
        Some("4096/1600,4096/1600,4096/1600,0/0,4096/3600")
    );
    let lines: Vec<_> = log
        .json()
        .into_iter()
        .filter(|l| get(l, "call") != "config" && get(l, "call") != "report")
        .collect();
    let calls: Vec<&str> = lines.iter().map(|l| get(l, "call")).collect();
    assert_eq!(
        calls,
        [
            "shmget", "shmat", "shmdt", "shmctl", "shmdt", "shmget", "shmget", "shmget", "shmget",
            "shmctl"
        ]
    );
    // And "created" is still exact: the private key and the first get-or-create made a
    // segment; the second, the lookup and the refused IPC_EXCL did not.
    let created: Vec<&str> = lines
        .iter()
        .filter(|l| get(l, "call") == "shmget")
        .map(|l| get(l, "created"))
        .collect();
    assert_eq!(created, ["true", "true", "false", "false", "<absent>"]);
}

#[test]
fn differential_raw_system_calls_against_the_traced_libc_calls() {
    // The same program as the library's differential test, built with -DVIA_PRELOAD: the
    // reference is the raw system call, the measured path libc's name, hooked. The
    // preload library only observes, so not one difference is allowed.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../c_tests/test_differential.c");
    let prog = build_from(&src, "differential", &["-DVIA_PRELOAD"]);
    let log = Log::new("differential");
    let out = run_traced(&prog, &[], &log, &[("RSHM_LOG", "warn")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("4000 inputs, 0 refused by a stricter rule, 0 mismatches"),
        "{stdout}"
    );
    // Broken rules were reported, not enforced.
    assert!(
        log.json()
            .iter()
            .any(|l| get(l, "msg").starts_with("unknown flag bits"))
    );
}

#[test]
fn the_preload_library_exports_only_the_four_libc_names() {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(preload_so())
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names, ["shmat", "shmctl", "shmdt", "shmget"]);
}

/// Loading libgcc_s.so.1 was a large part of what the preload library added to every
/// exec: the unwinder is linked into the library instead (preload/build.rs). It still
/// loads and works: every other test here runs through it.
#[test]
fn the_preload_library_does_not_need_libgcc_s() {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(preload_so())
        .output()
        .expect("running readelf");
    assert!(out.status.success(), "readelf -d failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = text.lines().filter(|l| l.contains("(NEEDED)")).collect();
    assert!(
        needed.iter().any(|l| l.contains("[libc.so.6]")),
        "readelf -d shows no NEEDED libc.so.6:\n{text}"
    );
    assert!(
        !needed.iter().any(|l| l.contains("libgcc_s")),
        "the preload library still needs libgcc_s:\n{}",
        needed.join("\n")
    );
}

// ---- rshm-trace ----

fn trace(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rshm-trace"));
    c.args(args).env("RSHM_PRELOAD", preload_so());
    for (k, _) in std::env::vars() {
        if k.starts_with("RSHM_LOG") || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

#[test]
fn rshm_trace_keeps_the_exit_status_writes_the_file_and_sums_up_every_process() {
    let log = Log::new("trace-o");
    let script = "id=$(ipcmk -M 4096 | sed 's/.*: //'); ipcrm -m $id; exit 7";
    let out = trace(
        &["-o", log.0.to_str().unwrap(), "--", "sh", "-c", script],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    let all = log.lines();
    let lines: Vec<&String> = all.iter().filter(|l| l.starts_with("rshm ")).collect();
    assert_eq!(lines.len(), 2, "{all:#?}");
    assert!(
        lines[0].contains(" INFO shmget(key=")
            && lines[0].ends_with("]")
            && lines[0].contains("(created)")
    );
    assert!(lines[1].contains(" INFO shmctl(shmid=") && lines[1].contains("cmd=IPC_RMID) = 0"));
    assert!(
        stderr.is_empty(),
        "with -o the trace and the summary go to the file: {stderr}"
    );
    let file = all.join("\n") + "\n";
    assert!(
        file.contains(
            "rshm-trace: 2 calls: shmctl 1, shmget 1 (shmctl: IPC_RMID 1) in 2 processes\n"
        ),
        "{file}"
    );
    assert!(file.contains("rshm-trace: no call failed\n"), "{file}");
    assert!(
        file.contains("rshm-trace: segments: 1 created, 1 removed, 0 leaked\n"),
        "{file}"
    );
}

#[test]
fn rshm_trace_shows_the_trace_on_stderr_and_names_a_leak() {
    let out = trace(&["--", "ipcmk", "-M", "4096"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = ipcmk_id(&stdout);
    let _cleanup = Cleanup(vec![id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success());
    assert!(
        stderr.contains(" INFO shmget(key=") && stderr.contains(&format!(") = {id} (created) [")),
        "{stderr}"
    );
    assert!(
        stderr.contains("rshm-trace: segments: 1 created, 0 removed, 1 leaked\n"),
        "{stderr}"
    );
    let row = stderr
        .lines()
        .find(|l| l.starts_with(&format!("rshm-trace:  {id} ")))
        .unwrap_or_else(|| panic!("no row for {id}: {stderr}"));
    assert!(
        row.contains(" 0x") && row.contains(" 4096 ") && row.ends_with("LEAKED"),
        "{row}"
    );
    assert!(row.contains("(ipcmk)"), "the creator's name: {row}");
}

#[test]
fn rshm_trace_json_strict_and_report() {
    let prog = build("leak");
    let log = Log::new("trace-json");
    let out = trace(
        &[
            "--json",
            "--strict",
            "--report",
            "-o",
            log.0.to_str().unwrap(),
            "--",
            prog.to_str().unwrap(),
        ],
        &[],
    );
    let f = facts(&out);
    let _cleanup = Cleanup(vec![f["leaked"].parse().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "unknown flag bit: EINVAL\n"
    );
    let all = log.lines();
    let (summary, lines): (Vec<&String>, Vec<&String>) =
        all.iter().partition(|l| l.starts_with("{\"schema\":"));
    let lines: Vec<_> = lines
        .iter()
        .map(|l| fields(l).expect("a JSON line"))
        .collect();
    assert!(lines.iter().any(|l| get(l, "call") == "report"));
    assert_eq!(
        summary.len(),
        1,
        "with --json the summary is one JSON object: {all:#?}"
    );
    let s = summary[0];
    assert!(
        s.contains("\"failures\":{\"total\":1,\"by_errno\":{\"EINVAL\":1}}"),
        "{s}"
    );
    assert!(
        s.contains("\"segments\":{\"created\":3,\"removed\":2,\"leaked\":1,"),
        "{s}"
    );
    assert!(
        s.contains(&format!("{{\"shmid\":{},\"ipc_ns\":", f["leaked"]))
            && s.contains("\"key\":\"IPC_PRIVATE\",\"size\":8192,"),
        "{s}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("rshm"),
        "with -o nothing of rshm's on stderr: {stderr}"
    );
}

#[test]
fn rshm_trace_says_clearly_what_is_wrong() {
    // LD_PRELOAD cannot carry a path with a space or a colon: refused, not half-loaded.
    for odd in ["with space", "with:colon"] {
        let dir = tmp().join(odd);
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("librshm_preload.so");
        std::fs::copy(preload_so(), &copy).unwrap();
        let out = trace(&["--", "true"], &[("RSHM_PRELOAD", copy.to_str().unwrap())]);
        assert_eq!(out.status.code(), Some(2), "{odd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("holds a space or a colon, which LD_PRELOAD cannot carry"),
            "{odd}: {err}"
        );
    }
    let out = trace(&["--", "/nonexistent/prog"], &[]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rshm-trace: cannot run /nonexistent/prog: No such file or directory\n"
    );
    let out = trace(&["-o", "/nonexistent/dir/trace.log", "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("rshm-trace: cannot write /nonexistent/dir/trace.log: ")
    );
    let out = trace(
        &["--", "true"],
        &[("RSHM_PRELOAD", "/nonexistent/librshm_preload.so")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rshm-trace: RSHM_PRELOAD=/nonexistent/librshm_preload.so is not a file\n"
    );
    let out = trace(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rshm-trace: no command to run (try 'rshm-trace --help')\n"
    );
    let out = trace(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0), "--help succeeds");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: rshm-trace "));
    assert!(
        out.stderr.is_empty(),
        "--help writes to standard output only"
    );
    let out = trace(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("rshm-trace {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn rshm_trace_finds_the_library_beside_itself_or_in_lib_of_its_prefix() {
    let prefix = tmp().join(format!("prefix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&prefix);
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_rshm-trace"),
        prefix.join("bin/rshm-trace"),
    )
    .unwrap();
    std::fs::copy(preload_so(), prefix.join("lib/librshm_preload.so")).unwrap();
    let out = Command::new(prefix.join("bin/rshm-trace"))
        .env_remove("RSHM_PRELOAD")
        .args(["--", "true"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rshm-trace: 0 calls in 0 processes\n"));
    std::fs::remove_file(prefix.join("lib/librshm_preload.so")).unwrap();
    // lib64 and Debian's multiarch directory (LIBDIR=$PREFIX/lib64, lib/<triplet>).
    let multiarch = format!("lib/{}-linux-gnu", std::env::consts::ARCH);
    for libdir in ["lib64", multiarch.as_str()] {
        std::fs::create_dir_all(prefix.join(libdir)).unwrap();
        let so = prefix.join(libdir).join("librshm_preload.so");
        std::fs::copy(preload_so(), &so).unwrap();
        let out = Command::new(prefix.join("bin/rshm-trace"))
            .env_remove("RSHM_PRELOAD")
            .args(["--", "true"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{libdir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&so).unwrap();
    }
    let out = Command::new(prefix.join("bin/rshm-trace"))
        .env_remove("RSHM_PRELOAD")
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("rshm-trace: cannot find librshm_preload.so beside me (")
    );
    let _ = std::fs::remove_dir_all(&prefix);
}

/// Segment ids a program printed as "seg N" on stderr (to remove whatever happened).
fn segs(out: &Output) -> Vec<i32> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("seg "))
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[test]
fn through_the_preload_library_each_failure_is_explained_by_its_own_cause() {
    // The truth table of explanations in observe mode: the program provokes each failure
    // for real and prints a row (call, errno, cause, words) after it; the failed calls of
    // the log, in order, must carry that errno and words. The stricter rules of the
    // library are only reported here, so the kernel's refusals are what is explained:
    // alignment and SHM_RND/SHM_REMAP in the check's words (not "overlaps a mapping"),
    // SHM_EXEC as missing execute permission, SHM_STAT's argument as an index.
    let prog = build("explain");
    let log = Log::new("explain");
    let out = run_traced(&prog, &[], &log, &[("RSHM_LOG", "warn")]);
    let _cleanup = Cleanup(segs(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("done 0\n"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("row\t"))
        .map(|l| l.splitn(4, '\t').collect())
        .collect();
    let failed: Vec<_> = log
        .json()
        .into_iter()
        .filter(|l| get(l, "errno") != "null")
        .collect();
    assert_eq!(
        rows.len(),
        failed.len(),
        "one failed call logged per row\n{stdout}\n{:#?}",
        failed
    );
    let mut causes: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (row, line) in rows.iter().zip(&failed) {
        let [call, errno, cause, words] = row[..] else {
            panic!("a row of four fields: {row:?}")
        };
        assert_eq!(get(line, "call"), call, "{cause}: {line:?}");
        assert_eq!(get(line, "errno"), errno, "{cause}: {line:?}");
        assert!(
            get(line, "msg").contains(words),
            "{call} {errno} {cause}:\n  msg:  {}\n  want: {words}",
            get(line, "msg")
        );
        causes
            .entry(call)
            .or_default()
            .insert(format!("{errno} {cause}"));
    }
    let counts: Vec<String> = causes
        .iter()
        .map(|(call, c)| format!("{call} {}", c.len()))
        .collect();
    eprintln!("preload truth table rows: {}", counts.join(", "));
    for must in [
        ("shmat", "EINVAL unaligned without SHM_RND"),
        ("shmat", "EINVAL SHM_RND rounds to NULL, SHM_REMAP"),
        ("shmat", "EINVAL overlaps an attachment"),
        ("shmat", "EACCES SHM_EXEC on an own 0600 segment"),
        ("shmctl", "EINVAL SHM_STAT of an index no segment holds"),
        ("shmget", "ENFILE the file table is full (seccomp)"),
        ("shmctl", "EOVERFLOW too large for IPC_STAT (seccomp)"),
        ("shmat", "ENOMEM no room under RLIMIT_AS"),
        ("shmat", "ENOMEM no room for one more mapping"),
        ("shmdt", "EINVAL already detached"),
        ("shmget", "ENOENT no segment, no IPC_CREAT"),
    ] {
        assert!(
            causes.get(must.0).is_some_and(|c| c.contains(must.1)),
            "row {must:?} missing"
        );
    }
    // The rows of another user (uid 65534), made only when the test runs as root.
    // SAFETY: geteuid takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        for must in [
            ("shmctl", "EPERM SHM_LOCK by its owner, RLIMIT_MEMLOCK 0"),
            ("shmctl", "ENOMEM SHM_LOCK over RLIMIT_MEMLOCK"),
            ("shmctl", "EPERM SHM_LOCK refused otherwise (seccomp)"),
        ] {
            assert!(
                causes.get(must.0).is_some_and(|c| c.contains(must.1)),
                "row {must:?} missing"
            );
        }
    }
}

#[test]
fn created_is_true_only_on_the_call_that_made_the_segment() {
    // Threads racing on get-or-create of one key: exactly one call says created. A reopen
    // of one's own key, a child reopening its parent's segment and (as root) a later
    // process with the pid of the dead maker: not created.
    created_rounds("created", &[], 100);
}

/// Runs preload/c_progs/created.c with `extra` in its environment and checks each round,
/// reopen and pid reuse in its log.
/// (`name`: its own program file, as tests run side by side.)
fn created_rounds(name: &str, extra: &[(&str, &str)], want_rounds: usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c_progs/created.c");
    let prog = build_from(&src, name, &[]);
    let log = Log::new("created");
    let mut env = vec![("RSHM_LOG", "info".to_string())];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_traced(&prog, &[], &log, &env);
    let _cleanup = Cleanup(segs(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("bad 0\n"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gets: Vec<_> = log
        .json()
        .into_iter()
        .filter(|l| get(l, "call") == "shmget" && !get(l, "ret").starts_with('-'))
        .collect();
    let of = |key: &str| -> Vec<&BTreeMap<String, String>> {
        let hex = key_hex(key);
        gets.iter().filter(|l| get(l, "args.key") == hex).collect()
    };
    let mut rounds = 0;
    for line in stdout.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[..] {
            ["round", key, id] => {
                rounds += 1;
                let calls = of(key);
                assert_eq!(calls.len(), 8, "round {key}: {calls:?}");
                assert!(calls.iter().all(|l| get(l, "ret") == id));
                let made = calls.iter().filter(|l| get(l, "created") == "true").count();
                assert_eq!(made, 1, "round {key}: exactly one racing call made it");
            }
            ["reopen", key, _id, child] => {
                let c: Vec<(&str, &str)> = of(key)
                    .iter()
                    .map(|l| (get(l, "pid"), get(l, "created")))
                    .collect();
                assert_eq!(c.len(), 4, "{c:?}");
                assert_eq!(c[0].1, "true", "the call that made it");
                assert_eq!(
                    (c[1].1, c[2].1),
                    ("false", "false"),
                    "reopens of its own key"
                );
                assert_eq!(c[3], (child, "false"), "the child's reopen");
            }
            ["reuse", key, id, g1, g2, again] => {
                assert_eq!(
                    (g1, id),
                    (g2, again),
                    "the same pid reopened the same segment"
                );
                let c: Vec<&str> = of(key).iter().map(|l| get(l, "created")).collect();
                assert_eq!(
                    c,
                    ["true", "false"],
                    "the maker, then a later process with its pid"
                );
            }
            _ => {}
        }
    }
    assert_eq!(rounds, want_rounds);
}

#[test]
fn created_is_exact_behind_a_slow_interposer() {
    // Each shmget takes 1 ms longer (an interposer after rshm): the creating calls of the
    // process overlap all the time (the noise threads' too), and each segment is still
    // said to be created once.
    let slow = build_from(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("c_progs/slow.c"),
        "slow.so",
        &["-shared", "-fPIC", "-ldl"],
    );
    let chain = format!("{}:{}", preload_so().display(), slow.display());
    created_rounds(
        "created-slow",
        &[("LD_PRELOAD", &chain), ("CREATED_ROUNDS", "40")],
        40,
    );
}

#[test]
fn real_client_patterns_give_no_warning() {
    // The programs and idioms of real clients, with warnings and the exit report on:
    // not one warning line may come out.
    let key = unique_key();
    let runs: Vec<(PathBuf, Vec<String>)> = vec![
        (build("patterns"), vec![key.clone()]),
        (
            PathBuf::from("sh"),
            vec![
                "-c".into(),
                "ipcrm -m $(ipcmk -M 4096 | sed 's/.*: //')".into(),
            ],
        ),
        (
            PathBuf::from("perl"),
            vec![
                "-e".into(),
                r#"$id = shmget(0, 4096, 01600) // die; shmwrite($id, "x", 0, 1) or die;
                   shmread($id, $x, 0, 1) or die; shmctl($id, 0, 0) or die; print "ok\n";"#
                    .into(),
            ],
        ),
    ];
    for (prog, args) in runs {
        let log = Log::new("patterns");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_traced(
            &prog,
            &args,
            &log,
            &[("RSHM_LOG", "warn"), ("RSHM_REPORT", "1")],
        );
        assert!(out.status.success(), "{prog:?}: {out:?}");
        let warnings: Vec<String> = log
            .json()
            .iter()
            .filter(|l| get(l, "level") == "warn" || get(l, "level") == "error")
            .map(|l| format!("{} {}", get(l, "call"), get(l, "msg")))
            .collect();
        assert!(warnings.is_empty(), "{prog:?} {args:?}: {warnings:#?}");
        // The report still came, at info level (RSHM_REPORT is shown at any level).
        assert!(
            log.json().iter().any(|l| get(l, "call") == "report"),
            "{prog:?}: no exit report"
        );
    }
}

/// preload/c_progs/questions.c under strace with `env`: the program's output words (the
/// ids and key it used), every shm system call as strace shows it (up to its result, a
/// structure shown as "{..}", an address 0x7... as "ADDR"), and strace's whole text; None
/// when strace is missing (a failure under RSHM_TEST_REQUIRE_ALL=1).
fn questions_under_strace(env: &[(&str, &str)]) -> Option<(Vec<String>, Vec<String>, String)> {
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(
            std::env::var("RSHM_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "strace is missing (RSHM_TEST_REQUIRE_ALL=1 requires it)"
        );
        eprintln!("skipped: strace is not installed");
        return None;
    }
    let name = format!("questions-{}", env.len());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c_progs/questions.c");
    let prog = build_from(&src, &name, &[]);
    let trace = tmp().join(format!("{name}.{}.strace", std::process::id()));
    let mut c = Command::new("strace");
    c.args(["-qq", "-e", "trace=ipc", "-o"])
        .arg(&trace)
        .arg(&prog);
    for (k, _) in std::env::vars() {
        if k.starts_with("RSHM_") || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    c.env("LD_PRELOAD", preload_so());
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    let _ = std::fs::remove_file(&trace);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words: Vec<String> = stdout.split_whitespace().map(str::to_string).collect();
    assert_eq!(&words[6..], ["same", "1", "rmid", "0"], "{stdout}");
    let shown: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("shm"))
        .map(|l| {
            let mut call = l.split(" = ").next().unwrap_or(l).trim_end().to_string();
            if let (Some(a), Some(b)) = (call.find('{'), call.rfind('}')) {
                call.replace_range(a..=b, "{..}");
            }
            call.split(", ")
                .map(|w| match w.find("0x7") {
                    Some(i) if w.len() - i > 10 => {
                        format!("{}ADDR{}", &w[..i], if w.ends_with(')') { ")" } else { "" })
                    }
                    _ => w.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    Some((words, shown, text))
}

/// rshm's own questions to the kernel are the ones the README lists, each where it says:
/// strace shows every shm system call of the process, the program's and rshm's.
#[test]
fn rshms_own_questions_are_the_listed_ones() {
    let log = Log::new("questions");
    let file = log.0.display().to_string();
    let env = [
        ("RSHM_LOG_FORMAT", "json"),
        ("RSHM_LOG_FILE", file.as_str()),
        ("RSHM_LOG", "info"),
    ];
    let Some((words, shown, text)) = questions_under_strace(&env) else {
        return;
    };
    let (key, unseen, private, made) = (&words[1], &words[3], &words[4], &words[5]);
    let expected = [
        // The constructor: the limits (IPC_INFO), once per process.
        "shmctl(0, IPC_INFO, {..})".to_string(),
        // The program's raw system call, its attach and detach: nothing asked (the
        // attachment's size is not looked up).
        "shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600)".to_string(),
        format!("shmat({unseen}, NULL, 0)"),
        "shmdt(ADDR)".to_string(),
        // A private key: nothing asked.
        "shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600)".to_string(),
        // Get-or-create of a key without a segment: the lookup before, the program's call,
        // the creator's pid after.
        format!("shmget({key}, 0, 000)"),
        format!("shmget({key}, 4096, IPC_CREAT|0600)"),
        format!("shmctl({made}, IPC_STAT, {{..}})"),
        // Of the same key again: the lookup before finds the id the call returns.
        format!("shmget({key}, 0, 000)"),
        format!("shmget({key}, 4096, IPC_CREAT|0600)"),
        format!("shmctl({made}, IPC_RMID, NULL)"),
        format!("shmctl({private}, IPC_RMID, NULL)"),
        format!("shmctl({unseen}, IPC_RMID, NULL)"),
    ];
    assert_eq!(shown, expected, "strace:\n{text}");
}

/// With the log off, nothing rshm would ask shows anywhere, so it asks nothing, not even
/// the limits (no argument is checked: a broken rule would go unreported), even with
/// RSHM_REPORT=1 (the report is not shown at level off): strace shows the program's calls
/// alone.
#[test]
fn with_the_log_off_rshm_asks_nothing() {
    let env = [("RSHM_LOG", "off"), ("RSHM_REPORT", "1")];
    let Some((words, shown, text)) = questions_under_strace(&env) else {
        return;
    };
    let (key, unseen, private, made) = (&words[1], &words[3], &words[4], &words[5]);
    let expected = [
        "shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600)".to_string(),
        format!("shmat({unseen}, NULL, 0)"),
        "shmdt(ADDR)".to_string(),
        "shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600)".to_string(),
        format!("shmget({key}, 4096, IPC_CREAT|0600)"),
        format!("shmget({key}, 4096, IPC_CREAT|0600)"),
        format!("shmctl({made}, IPC_RMID, NULL)"),
        format!("shmctl({private}, IPC_RMID, NULL)"),
        format!("shmctl({unseen}, IPC_RMID, NULL)"),
    ];
    assert_eq!(shown, expected, "strace:\n{text}");
}

/// preload/c_progs/pages.c preloaded with `env` (logging as JSON to `log`): what it
/// printed, as name -> value.
fn pages(log: &Log, env: &[(&str, &str)]) -> BTreeMap<String, String> {
    let prog = build("pages");
    let out = run_traced(&prog, &[], log, env);
    let _cleanup = Cleanup(segs(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{env:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// With nothing shown (the log off or at error, no report shown, no RSHM_STRICT), the
/// preload library records nothing: 64 attachments at once make none of the registry's
/// pages resident. Wherever the registry can be seen (a log at warn, RSHM_REPORT=1 at
/// level error, RSHM_STRICT=1 with the log off), it records as before: the same 64 make
/// some 64 of its pages resident, a second detach is explained as already detached, and
/// the exit report names the attachment held as attached here. The program gets the same
/// results either way.
#[test]
fn with_nothing_shown_the_preload_library_records_nothing() {
    let kb = |m: &BTreeMap<String, String>| -> i64 { m["rss_kb"].parse().unwrap() };
    for level in ["off", "error"] {
        let log = Log::new("pages-quiet");
        let m = pages(&log, &[("RSHM_LOG", level), ("RSHM_REPORT", "0")]);
        assert!(
            kb(&m) < 64,
            "RSHM_LOG={level}: the registry's pages were touched: {m:?}"
        );
        assert_eq!(
            (m["second"].as_str(), m["kept"].as_str()),
            ("-1 22", "1 rmid 0")
        );
        assert!(log.lines().is_empty(), "{:?}", log.lines());
    }
    // RSHM_REPORT=1 is not shown at level off: nothing recorded either.
    let log = Log::new("pages-off-report");
    let m = pages(&log, &[("RSHM_LOG", "off"), ("RSHM_REPORT", "1")]);
    assert!(kb(&m) < 64, "off with the report: {m:?}");

    // Shown: recorded.
    let log = Log::new("pages-warn");
    let m = pages(&log, &[("RSHM_LOG", "warn")]);
    assert!(kb(&m) >= 4 * 48, "RSHM_LOG=warn records: {m:?}");
    assert_eq!(m["second"], "-1 22");
    let failed: Vec<_> = log
        .json()
        .into_iter()
        .filter(|l| get(l, "call") == "shmdt")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        get(&failed[0], "msg").contains("was already detached (at "),
        "{failed:#?}"
    );

    let log = Log::new("pages-report");
    let m = pages(&log, &[("RSHM_LOG", "error"), ("RSHM_REPORT", "1")]);
    assert!(kb(&m) >= 4 * 48, "the report at level error records: {m:?}");
    let report: Vec<String> = log
        .json()
        .iter()
        .filter(|l| get(l, "call") == "report")
        .map(|l| get(l, "msg").to_string())
        .collect();
    assert!(
        report
            .iter()
            .any(|m| m.contains("bytes, attached here at ")),
        "{report:#?}"
    );

    let log = Log::new("pages-strict");
    let m = pages(&log, &[("RSHM_LOG", "off"), ("RSHM_STRICT", "1")]);
    assert!(kb(&m) >= 4 * 48, "RSHM_STRICT=1 records: {m:?}");
}
