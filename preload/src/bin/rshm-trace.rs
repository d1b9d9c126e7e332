//! rshm-trace: runs a command with librshm_preload.so preloaded, shows every System V
//! shared-memory call it and its children make, and ends with a summary: calls by kind,
//! failures by errno, segments created, removed and leaked across every process of the run.
//!
//! `rshm-trace [-o FILE] [--json] [--strict] [--report] [--level LEVEL] -- COMMAND [ARGS...]`

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str = "usage: rshm-trace [-o FILE] [--json] [--strict] [--report] [--level LEVEL] -- COMMAND [ARGS...]
  -o FILE        write the trace to FILE (appended) instead of standard error
  --json         one JSON object a line instead of text
  --strict       make calls that break a rule fail (RSHM_STRICT=1) instead of only warning
  --report       at each process's exit, list the segments it made that still exist and
                 the attachments it still holds
  --level LEVEL  off, error, warn, info (default), debug or trace
  -h, --help     this text
  --version      rshm-trace's version";

/// What the command line asks for, when it is not a run.
const HELP: &str = "\0help";
const VERSION: &str = "\0version";

struct Options {
    output: Option<PathBuf>,
    json: bool,
    strict: bool,
    report: bool,
    level: String,
    command: Vec<OsString>,
}

fn parse_args(mut args: impl Iterator<Item = OsString>) -> Result<Options, String> {
    let mut o = Options {
        output: None,
        json: false,
        strict: false,
        report: false,
        level: "info".into(),
        command: vec![],
    };
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--") => break,
            Some("-o") => o.output = Some(args.next().ok_or("-o needs a file name")?.into()),
            Some("--json") => o.json = true,
            Some("--strict") => o.strict = true,
            Some("--report") => o.report = true,
            Some("--level") => {
                let l = args.next().ok_or("--level needs a level")?;
                let l = l.to_str().unwrap_or("");
                if !["off", "error", "warn", "info", "debug", "trace"].contains(&l) {
                    return Err(format!(
                        "--level {l}: not one of off, error, warn, info, debug, trace"
                    ));
                }
                o.level = l.into();
            }
            Some("-h" | "--help") => return Err(HELP.into()),
            Some("--version") => return Err(VERSION.into()),
            _ => {
                // Tolerate a command without `--` when it cannot be taken for an option.
                if a.to_str().is_some_and(|s| s.starts_with('-')) {
                    return Err(format!("unknown option {}", a.to_string_lossy()));
                }
                o.command.push(a);
                break;
            }
        }
    }
    o.command.extend(args);
    if o.command.is_empty() {
        return Err("no command to run".into());
    }
    Ok(o)
}

/// The preload library: `RSHM_PRELOAD` if set, else beside this binary, else in `../lib/`,
/// `../lib64/` or `../lib/<arch>-linux-gnu/` of an installed prefix.
fn find_preload() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("RSHM_PRELOAD") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            preloadable(p)
        } else {
            Err(format!("RSHM_PRELOAD={} is not a file", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own path: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    // Beside this binary (the build tree), or in the library directory of its prefix:
    // lib, lib64, or Debian's multiarch lib/<triplet>.
    let multiarch = format!(
        "../lib/{}-linux-gnu/librshm_preload.so",
        std::env::consts::ARCH
    );
    let candidates = [
        dir.join("librshm_preload.so"),
        dir.join("../lib/librshm_preload.so"),
        dir.join("../lib64/librshm_preload.so"),
        dir.join(multiarch),
    ];
    let found = candidates
        .iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p.clone()))
        .ok_or_else(|| {
            format!(
                "cannot find librshm_preload.so beside me ({}) or in ../lib, ../lib64 or ../lib/{}-linux-gnu \
                 (set RSHM_PRELOAD to its path)",
                dir.display(),
                std::env::consts::ARCH
            )
        })?;
    preloadable(found)
}

/// LD_PRELOAD splits its value at spaces and colons, and cannot quote: a path holding one
/// would make the loader try its pieces as libraries. Refused, with the reason.
fn preloadable(p: PathBuf) -> Result<PathBuf, String> {
    let s = p.to_string_lossy();
    if s.contains([' ', ':', '\t', '\n']) {
        return Err(format!(
            "the preload library's path {s:?} holds a space or a colon, which LD_PRELOAD cannot carry; \
             install rshm under a path without one, or set RSHM_PRELOAD to a copy at such a path"
        ));
    }
    Ok(p)
}

/// One log line reduced to what the summary counts.
#[derive(Debug, Default, PartialEq)]
struct Event {
    pid: i64,
    call: String,
    cmd: String,
    ret: i64,
    created: bool,
    errno: String,
}

/// The text after `"key":` in a JSON line, up to the end of its value.
fn json_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":");
    let at = line.find(&pat)? + pat.len();
    let rest = &line[at..];
    if let Some(s) = rest.strip_prefix('"') {
        s.find('"').map(|e| &s[..e])
    } else {
        rest.find([',', '}']).map(|e| &rest[..e])
    }
}

fn parse_json(line: &str) -> Option<Event> {
    let call = json_field(line, "call")?.to_string();
    // The configuration line (level debug) is rshm's, not a call.
    if call == "config" {
        return None;
    }
    Some(Event {
        pid: json_field(line, "pid")?.parse().ok()?,
        cmd: json_field(line, "cmd").unwrap_or("").to_string(),
        ret: json_field(line, "ret")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        created: json_field(line, "created") == Some("true"),
        errno: json_field(line, "errno")
            .filter(|e| *e != "null")
            .unwrap_or("")
            .to_string(),
        call,
    })
}

/// `rshm TS PID/TID LEVEL call(args) = RET[ (created)][ ERRNO][: msg] [dur]`, or a report line.
fn parse_text(line: &str) -> Option<Event> {
    let mut it = line.splitn(5, ' ');
    if it.next()? != "rshm" {
        return None;
    }
    let _ts = it.next()?;
    let pid = it.next()?.split('/').next()?.parse().ok()?;
    let _level = it.next()?;
    let rest = it.next()?;
    if rest.starts_with("report: ") {
        return Some(Event {
            pid,
            call: "report".into(),
            ..Event::default()
        });
    }
    let open = rest.find('(')?;
    let close = rest.find(") = ")?;
    let args = &rest[open + 1..close];
    let after = &rest[close + 4..];
    let ret = after.split([' ', ':']).next()?.parse().unwrap_or(0);
    let cmd = args
        .split(", ")
        .find_map(|a| a.strip_prefix("cmd="))
        .unwrap_or("")
        .to_string();
    let errno = after
        .split_whitespace()
        .nth(1)
        .map(|e| e.trim_end_matches(':'))
        .filter(|e| {
            e.starts_with('E')
                && e.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .unwrap_or("")
        .to_string();
    Some(Event {
        pid,
        call: rest[..open].to_string(),
        cmd,
        ret,
        created: after.contains(" (created)"),
        errno,
    })
}

#[derive(Default)]
struct Summary {
    calls: BTreeMap<String, u64>,
    commands: BTreeMap<String, u64>,
    failures: BTreeMap<String, u64>,
    created: BTreeSet<i64>,
    removed: BTreeSet<i64>,
    pids: BTreeSet<i64>,
}

impl Summary {
    fn add(&mut self, e: Event) {
        self.pids.insert(e.pid);
        // The exit reports list what each process leaves; the verdict is the end-of-run
        // check's, after every process has exited.
        if e.call == "report" {
            return;
        }
        *self.calls.entry(e.call.clone()).or_default() += 1;
        if !e.cmd.is_empty() && e.call == "shmctl" {
            *self.commands.entry(e.cmd.clone()).or_default() += 1;
        }
        if !e.errno.is_empty() {
            *self.failures.entry(e.errno).or_default() += 1;
        } else if e.created {
            self.created.insert(e.ret);
        }
    }

    fn print(&self, leaked: &[(i64, String)], out: &mut dyn Write) {
        let total: u64 = self.calls.values().sum();
        let _ = write!(
            out,
            "rshm-trace: {total} call{}",
            if total == 1 { "" } else { "s" }
        );
        if !self.calls.is_empty() {
            let _ = write!(out, ": {}", counts(&self.calls));
        }
        if !self.commands.is_empty() {
            let _ = write!(out, " (shmctl: {})", counts(&self.commands));
        }
        let _ = writeln!(
            out,
            " in {} process{}",
            self.pids.len(),
            if self.pids.len() == 1 { "" } else { "es" }
        );
        let failed: u64 = self.failures.values().sum();
        if failed == 0 {
            let _ = writeln!(out, "rshm-trace: no call failed");
        } else {
            let _ = writeln!(
                out,
                "rshm-trace: {failed} failed: {}",
                counts(&self.failures)
            );
        }
        let _ = write!(
            out,
            "rshm-trace: segments: {} created, {} removed, {} leaked",
            self.created.len(),
            self.removed.len(),
            leaked.len()
        );
        if !leaked.is_empty() {
            let l: Vec<&str> = leaked.iter().map(|(_, d)| d.as_str()).collect();
            let _ = write!(out, " ({})", l.join("; "));
        }
        let _ = writeln!(out);
    }
}

/// `a 2, b 1`: each name with its count, in name order.
fn counts(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The shmid of a successful IPC_RMID line (text or JSON).
fn removed_id(line: &str) -> Option<i64> {
    if line.starts_with('{') {
        if json_field(line, "cmd")? == "IPC_RMID" && json_field(line, "ret")? == "0" {
            return json_field(line, "shmid")?.parse().ok();
        }
        return None;
    }
    let at = line.find("(shmid=")? + 7;
    let rest = &line[at..];
    if !rest.contains(", cmd=IPC_RMID) = 0") {
        return None;
    }
    rest[..rest.find(',')?].parse().ok()
}

/// Segments created during the run, not removed by it, that still exist and are not
/// marked for removal: leaks that outlive the run.
fn leaked(s: &Summary) -> Vec<(i64, String)> {
    let mut out = vec![];
    for &id in s.created.difference(&s.removed) {
        // SAFETY: shmid_ds is plain integers, for which all zeroes is a valid value.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: IPC_STAT writes one shmid_ds into `ds`.
        let r = unsafe { libc::shmctl(id as i32, libc::IPC_STAT, &mut ds) };
        if r == 0 && ds.shm_perm.mode & 0o1000 == 0 {
            out.push((
                id,
                match ds.shm_perm.__key {
                    0 => format!("shmid {id} key IPC_PRIVATE {} bytes", ds.shm_segsz),
                    k => format!("shmid {id} key {:#010x} {} bytes", k as u32, ds.shm_segsz),
                },
            ));
        }
    }
    out
}

/// Follows the log file as it grows: complete lines are counted, and shown on standard
/// error unless the trace goes to a file of the user's.
struct Follower {
    file: File,
    partial: String,
    echo: bool,
    summary: Summary,
}

impl Follower {
    fn poll(&mut self) {
        let mut buf = String::new();
        if self.file.read_to_string(&mut buf).is_err() {
            return;
        }
        self.partial.push_str(&buf);
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            if self.echo {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            let l = line.trim_end();
            if let Some(id) = removed_id(l) {
                self.summary.removed.insert(id);
            }
            let e = if l.starts_with('{') {
                parse_json(l)
            } else {
                parse_text(l)
            };
            if let Some(e) = e {
                self.summary.add(e);
            }
        }
    }
}

fn run(o: Options) -> Result<ExitCode, String> {
    let preload = find_preload()?;
    let (log_path, temp) = match &o.output {
        Some(p) => {
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                std::env::current_dir().map_err(|e| e.to_string())?.join(p)
            };
            OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&abs)
                .map_err(|e| format!("cannot write {}: {e}", abs.display()))?;
            (abs, false)
        }
        None => {
            let dir = std::env::temp_dir();
            let p = dir.join(format!("rshm-trace.{}.log", std::process::id()));
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)
                .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            (p, true)
        }
    };
    let mut file =
        File::open(&log_path).map_err(|e| format!("cannot read {}: {e}", log_path.display()))?;
    file.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;

    let mut ld = preload.into_os_string();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        ld.push(":");
        ld.push(old);
    }
    let mut cmd = Command::new(&o.command[0]);
    cmd.args(&o.command[1..])
        .env("LD_PRELOAD", ld)
        .env("RSHM_LOG_FILE", &log_path)
        .env("RSHM_LOG", &o.level)
        .env("RSHM_LOG_FORMAT", if o.json { "json" } else { "text" });
    if o.strict {
        cmd.env("RSHM_STRICT", "1");
    }
    if o.report {
        cmd.env("RSHM_REPORT", "1");
    }
    // SAFETY: between fork and exec the child only restores the default signal actions,
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let name = o.command[0].to_string_lossy().into_owned();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            if temp {
                let _ = std::fs::remove_file(&log_path);
            }
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("rshm-trace: cannot run {name}: {e}");
            return Ok(ExitCode::from(code));
        }
    };
    // Ctrl-C and Ctrl-\ are for the traced command; the tracer stays to sum up.
    // SAFETY: setting a signal's disposition to ignore.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    let mut f = Follower {
        file,
        partial: String::new(),
        echo: o.output.is_none(),
        summary: Summary::default(),
    };
    let status = loop {
        f.poll();
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {name}: {e}")),
        }
    };
    // Let other processes of the run that exit with the command finish their last lines.
    std::thread::sleep(Duration::from_millis(20));
    f.poll();
    if temp {
        let _ = std::fs::remove_file(&log_path);
    }
    let leaks = leaked(&f.summary);
    f.summary.print(&leaks, &mut std::io::stderr());
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => 1,
    };
    Ok(ExitCode::from(code as u8))
}

fn main() -> ExitCode {
    let o = match parse_args(std::env::args_os().skip(1)) {
        Ok(o) => o,
        Err(e) if e == HELP => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) if e == VERSION => {
            println!("rshm-trace {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rshm-trace: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(o) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rshm-trace: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_lines() {
        let e = parse_text("rshm 2026-11-26T19:55:47.954889Z 18105/18105 INFO shmget(key=0x2f142650, size=4096, flags=IPC_CREAT|0644) = 2162711 (created) [37.0us]").unwrap();
        assert_eq!(
            (e.pid, e.call.as_str(), e.ret, e.created, e.errno.as_str()),
            (18105, "shmget", 2162711, true, "")
        );
        let e = parse_text("rshm 2026-11-26T19:55:47.954889Z 7/8 WARN shmdt(addr=0x1000) = -1 EINVAL: address 0x1000 is not the start of an attached segment [1.0us]").unwrap();
        assert_eq!(
            (e.call.as_str(), e.ret, e.errno.as_str()),
            ("shmdt", -1, "EINVAL")
        );
        let e = parse_text("rshm 2026-11-26T19:55:47.963669Z 18110/18110 INFO shmctl(shmid=2162711, cmd=IPC_RMID) = 0 [29.6us]").unwrap();
        assert_eq!((e.call.as_str(), e.cmd.as_str()), ("shmctl", "IPC_RMID"));
        assert_eq!(
            removed_id(
                "rshm 2026-11-26T19:55:47.963669Z 18110/18110 INFO shmctl(shmid=2162711, cmd=IPC_RMID) = 0 [29.6us]"
            ),
            Some(2162711)
        );
        let e = parse_text("rshm 2026-11-26T19:55:47.963669Z 5/5 INFO report: segment 3 (key IPC_PRIVATE, 4096 bytes, mode 0600, created here x) still exists at exit; another process may still remove it").unwrap();
        assert_eq!(e.call, "report");
        assert!(parse_text("something else").is_none());
    }

    #[test]
    fn parses_json_lines() {
        let l = r#"{"ts":"2026-11-26T19:55:47.954889Z","pid":42,"tid":42,"level":"info","call":"shmget","args":{"key":"IPC_PRIVATE","size":4096,"flags":"IPC_CREAT|0600"},"ret":7,"created":true,"errno":null,"dur_ns":5}"#;
        let e = parse_json(l).unwrap();
        assert_eq!(
            (e.pid, e.call.as_str(), e.ret, e.created, e.errno.as_str()),
            (42, "shmget", 7, true, "")
        );
        let l = r#"{"ts":"x","pid":42,"tid":42,"level":"info","call":"shmctl","args":{"shmid":7,"cmd":"IPC_RMID"},"ret":0,"errno":null,"dur_ns":5}"#;
        assert_eq!(removed_id(l), Some(7));
        let l = r#"{"ts":"x","pid":42,"tid":42,"level":"warn","call":"shmat","args":{"shmid":-1,"addr":null,"flags":"0"},"ret":-1,"errno":"EINVAL","msg":"m","dur_ns":5}"#;
        assert_eq!(parse_json(l).unwrap().errno, "EINVAL");
    }

    #[test]
    fn parses_arguments() {
        let a = |v: &[&str]| parse_args(v.iter().map(OsString::from));
        let o = a(&["-o", "f", "--json", "--level", "warn", "--", "prog", "-x"]).unwrap();
        assert_eq!(
            (o.output, o.json, o.level.as_str(), o.command.len()),
            (Some(PathBuf::from("f")), true, "warn", 2)
        );
        assert!(a(&["--"]).is_err());
        assert!(a(&["--level", "loud", "--", "x"]).is_err());
        assert!(a(&["--bogus", "--", "x"]).is_err());
        assert_eq!(a(&["prog", "arg"]).unwrap().command.len(), 2);
        assert_eq!(a(&["--help"]).err().as_deref(), Some(HELP));
        assert_eq!(a(&["-h", "--", "x"]).err().as_deref(), Some(HELP));
        assert_eq!(a(&["--version"]).err().as_deref(), Some(VERSION));
    }
}
