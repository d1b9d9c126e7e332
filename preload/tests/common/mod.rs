//! What the preload crate's test suites share: this build's tracer and preload library,
//! the C programs of preload/c_progs compiled once per test binary, the words that make
//! a private IPC namespace, and a run of rshm-trace in one, in a process group of its own
//! killed whole when it outlives its deadline (a hang fails a test, never blocks it).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The rshm-trace under test.
pub const TRACER: &str = env!("CARGO_BIN_EXE_rshm-trace");

/// cargo's scratch directory for this crate's tests.
pub fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// preload/c_progs.
pub fn c_progs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c_progs")
}

/// This build's preload library, beside the test binary (target/<profile>/deps).
/// `cargo test` does not build a cdylib-only library: `cargo build --workspace` first
/// (`make test` does).
pub fn preload_so() -> PathBuf {
    let so = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("librshm_preload.so");
    assert!(
        so.is_file(),
        "{} is missing: run `cargo build --workspace` first (make test does)",
        so.display()
    );
    so
}

/// cargo's target directory (the test binary is target/<profile>/deps/<test>).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Whether a test may skip what this machine cannot do (never under
/// `RSHM_TEST_REQUIRE_ALL=1`, as in CI).
pub fn may_skip(what: &str) -> bool {
    if std::env::var("RSHM_TEST_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{what} (RSHM_TEST_REQUIRE_ALL=1 requires it)");
    }
    eprintln!("skipped: {what}");
    true
}

/// Compiles preload/c_progs/NAME.c into an executable, once per test binary.
pub fn build(name: &str) -> PathBuf {
    compile(name, name, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Compiles preload/c_progs/SRC.c into OUT with extra compiler arguments, once per test
/// binary; Err: cc's complaint.
pub fn compile(src: &str, out: &str, extra: &[&str]) -> Result<PathBuf, String> {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(p) = built.get(out) {
        return Ok(p.clone());
    }
    let src = c_progs().join(format!("{src}.c"));
    let dir = tmp().join(format!("c-progs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(out);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(cc)
        .args(["-O1", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .args(extra)
        .arg("-o")
        .arg(&path)
        .arg(&src)
        .output()
        .expect("running cc");
    if !o.status.success() {
        return Err(format!(
            "compiling {}: {}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    built.insert(out.to_string(), path.clone());
    Ok(path)
}

/// A fresh directory, removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    /// Under cargo's scratch directory.
    pub fn new(tag: &str) -> Dir {
        Dir::under(tmp(), tag)
    }

    /// Under `base`.
    pub fn under(base: &Path, tag: &str) -> Dir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = base.join(format!("rshm-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    /// The path of `name` in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// [`file`](Self::file), as a string (for a command's arguments).
    pub fn file_str(&self, name: &str) -> String {
        self.file(name).to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Processes a test must kill whatever happens.
#[derive(Default)]
pub struct Kill(pub Vec<i32>);

impl Drop for Kill {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: kill takes no pointers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether `argv` runs and exits 0.
pub fn works(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The words that run a command in a fresh private IPC namespace (as root, or in a user
/// namespace mapping us to ourselves), if one can be made here.
pub fn ipc_ns() -> Option<&'static [&'static str]> {
    static NS: OnceLock<Option<&'static [&'static str]>> = OnceLock::new();
    *NS.get_or_init(|| {
        let words: [&'static [&'static str]; 2] = [
            &["unshare", "--ipc"],
            &["unshare", "--user", "--map-current-user", "--ipc"],
        ];
        words
            .into_iter()
            .find(|w| works(&[w, &["true"][..]].concat()))
    })
}

/// [`ipc_ns`], or None with the skip said ([`may_skip`]) when none can be made here.
pub fn ipc_ns_or_skip() -> Option<&'static [&'static str]> {
    let ns = ipc_ns();
    if ns.is_none() {
        may_skip("no private IPC namespace can be made here (unshare --ipc)");
    }
    ns
}

/// `ARGV` in a fresh private IPC namespace (`ns`: the words of [`ipc_ns`]), with none of
/// the test's own RSHM_* variables (RSHM_TEST_* aside) or LD_PRELOAD, and RSHM_PRELOAD
/// naming this build's library.
pub fn in_ns(ns: &[&str], argv: &[&str]) -> Command {
    let mut c = Command::new(ns[0]);
    c.args(&ns[1..]).args(argv);
    for (k, _) in std::env::vars() {
        if (k.starts_with("RSHM_") && !k.starts_with("RSHM_TEST_")) || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    c.env("RSHM_PRELOAD", preload_so());
    c.stdin(Stdio::null());
    c
}

/// How a run ended.
pub struct Run {
    /// Its exit status (128+N for a signal N); None: it outlived its deadline, and was
    /// killed, its whole process group.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `c` in a process group of its own, killed whole after `deadline`; `signal`
/// (after, sig) sends the group's leader `sig` after `after`.
pub fn run(mut c: Command, deadline: Duration, mut signal: Option<(Duration, i32)>) -> Run {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = c.spawn().unwrap();
    let pgid = child.id() as i32;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
        }
        if let Some((after, sig)) = signal {
            if start.elapsed() >= after {
                // SAFETY: kill takes no pointers; the leader is the run's own.
                unsafe { libc::kill(pgid, sig) };
                signal = None;
            }
        }
        if start.elapsed() >= deadline {
            // SAFETY: kill takes no pointers; the group is the run's own.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code,
        stdout: reader.join().unwrap(),
        stderr: ereader.join().unwrap(),
    }
}

/// `rshm-trace OPTS -- ARGV` in a fresh private IPC namespace, with `env` added, killed
/// whole after `deadline` ([`run`]); `signal` as there (`unshare` execs rshm-trace, so
/// the group's leader is rshm-trace).
pub fn traced_signalled(
    opts: &[&str],
    argv: &[&str],
    env: &[(&str, &str)],
    deadline: Duration,
    signal: Option<(Duration, i32)>,
) -> Run {
    let ns = ipc_ns().expect("a private IPC namespace (unshare --ipc)");
    let mut all = vec![TRACER];
    all.extend(opts);
    all.push("--");
    all.extend(argv);
    let mut c = in_ns(ns, &all);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c, deadline, signal)
}

/// [`traced_signalled`] without a signal.
pub fn traced(opts: &[&str], argv: &[&str], env: &[(&str, &str)], deadline: Duration) -> Run {
    traced_signalled(opts, argv, env, deadline, None)
}

/// The number in the summary's "N calls" line (0 when there is none).
pub fn calls(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("rshm-trace: "))
        .find_map(|l| {
            let (n, rest) = l.split_once(' ')?;
            (rest.starts_with("calls") || rest.starts_with("call:"))
                .then(|| n.parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// The trace lines containing `pat`.
pub fn lines<'a>(stderr: &'a str, pat: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("rshm ") && l.contains(pat))
        .collect()
}

/// The JSON value after the first `"key":` in `s` (an object or array whole).
pub fn value<'a>(s: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let at = s.find(&pat).unwrap_or_else(|| panic!("no {pat} in {s}")) + pat.len();
    let v = &s[at..];
    let mut depth = 0;
    let mut quoted = false;
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '{' | '[' => depth += 1,
            '}' | ']' if depth == 0 => return &v[..i],
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return &v[..=i];
                }
            }
            ',' if depth == 0 => return &v[..i],
            _ => {}
        }
    }
    v
}
