//! `rshm-trace --html FILE` in a real browser: a traced C program's page, rendered by
//! headless Chromium, shows every segment and process the program reported, marks the
//! leaked segment as leaked, and draws a picture. Without Chromium the browser half is
//! skipped (a failure under RSHM_TEST_REQUIRE_ALL=1).
//!
//! `cargo test -p rshm-preload --test trace_html -- --ignored` also remakes
//! docs/timeline.png from a PostgreSQL-like run.

mod common;

use common::{preload_so, tmp};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Two IPC_PRIVATE segments: a forked child attaches and detaches the first, which the
/// parent then removes; one call fails; the second segment is leaked on purpose. Prints
/// "segment ID", "leaked ID" and "pid PID" lines.
const LEAKER: &str = r#"
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int kept = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int leaked = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    if (kept < 0 || leaked < 0) { perror("shmget"); return 1; }
    printf("segment %d\nsegment %d\nleaked %d\npid %d\n", kept, leaked, leaked, (int)getpid());
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) {
        char *p = shmat(kept, NULL, 0);
        if (p == (void *)-1) { perror("shmat"); _exit(1); }
        strcpy(p, "hello");
        if (shmdt(p) != 0) { perror("shmdt"); _exit(1); }
        printf("pid %d\n", (int)getpid());
        fflush(stdout);
        _exit(0);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    if (shmat(-1, NULL, 0) != (void *)-1) return 1;
    if (shmctl(kept, IPC_RMID, NULL) != 0) { perror("shmctl"); return 1; }
    return 0;
}
"#;

/// Like a PostgreSQL server's life: the postmaster checks the segment id of its last run
/// (gone: IPC_STAT fails with EINVAL), makes the main segment under its port's key,
/// forks four backends that attach it; the second backend makes a dynamic segment and
/// leaves its id in the main segment, the third attaches it too; nobody removes it. At
/// the end the postmaster detaches and removes the main segment. Prints "segment ID",
/// "leaked ID" and "pid PID" lines.
const POSTGRES: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(int ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static int backend(int main_id, int n) {
    volatile int *shm = shmat(main_id, NULL, 0);
    if (shm == (void *)-1) return 1;
    int dsm = -1;
    volatile char *d = NULL;
    nap(15);
    if (n == 1) {
        dsm = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
        if (dsm < 0) return 1;
        printf("segment %d\nleaked %d\n", dsm, dsm);
        fflush(stdout);
        d = shmat(dsm, NULL, 0);
        if (d == (void *)-1) return 1;
        shm[0] = dsm + 1;
    } else if (n == 2) {
        for (int i = 0; i < 200 && shm[0] == 0; i++) nap(5);
        if (shm[0] == 0) return 1;
        d = shmat(shm[0] - 1, NULL, 0);
        if (d == (void *)-1) return 1;
    }
    nap(90 + 25 * n);
    if (d != NULL && shmdt((void *)d) != 0) return 1;
    nap(10);
    return shmdt((void *)shm) != 0;
}

int main(void) {
    struct shmid_ds ds;
    /* the id postmaster.pid names from the last run: gone */
    if (shmctl(1342720, IPC_STAT, &ds) == 0) return 1;
    nap(10);
    key_t key = 5432001;
    int id;
    while ((id = shmget(key, 8 << 20, IPC_CREAT | IPC_EXCL | 0600)) < 0 && errno == EEXIST)
        key++;
    if (id < 0) { perror("shmget"); return 1; }
    printf("segment %d\npid %d\n", id, (int)getpid());
    fflush(stdout);
    void *shm = shmat(id, NULL, 0);
    if (shm == (void *)-1) return 1;
    pid_t kids[4];
    for (int n = 0; n < 4; n++) {
        nap(30);
        kids[n] = fork();
        if (kids[n] < 0) return 1;
        if (kids[n] == 0) {
            printf("pid %d\n", (int)getpid());
            fflush(stdout);
            _exit(backend(id, n));
        }
    }
    int bad = 0;
    for (int n = 0; n < 4; n++) {
        int st;
        if (waitpid(kids[n], &st, 0) != kids[n] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
    }
    nap(20);
    if (shmdt(shm) != 0 || shmctl(id, IPC_RMID, NULL) != 0) return 1;
    return bad;
}
"#;

/// A fresh path in the test's directory (the pid and a counter make it unique), ending
/// in `ext` (a browser takes a file for HTML by its name).
fn fresh(tag: &str, ext: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    tmp().join(format!("html-{tag}-{}-{n}{ext}", std::process::id()))
}

/// A file or directory removed when dropped.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Segments left behind on purpose, removed whatever happens.
struct Cleanup(Vec<i32>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &id in &self.0 {
            // SAFETY: IPC_RMID reads no buffer.
            unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
}

/// Compiles C `source` into a program called NAME (also its `comm`).
fn build(name: &str, source: &str) -> PathBuf {
    let dir = tmp().join(format!("html-progs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(cc)
        .args(["-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("running cc");
    assert!(st.success(), "compiling {name}");
    out
}

/// What a traced program printed: its segments, the leaked ones, its processes.
struct Said {
    segments: Vec<i32>,
    leaked: Vec<i32>,
    pids: Vec<i32>,
}

/// Runs `./PROG ARGS` in `prog`'s directory (so that the page's title reads as a user's
/// command) under `rshm-trace --html page`; the segments it leaked are added to
/// `cleanup` before anything is checked.
fn trace_html(prog: &Path, args: &[&str], page: &Path, cleanup: &mut Cleanup) -> (Output, Said) {
    let name = prog.file_name().unwrap().to_str().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_rshm-trace"));
    c.arg("--html")
        .arg(page)
        .arg("--")
        .arg(format!("./{name}"))
        .args(args)
        .current_dir(prog.parent().unwrap())
        .env("RSHM_PRELOAD", preload_so());
    for (k, _) in std::env::vars() {
        if k.starts_with("RSHM_LOG") || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let words = |what: &str| -> Vec<i32> {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix(what)?.strip_prefix(' ')?.parse().ok())
            .collect()
    };
    let said = Said {
        segments: words("segment"),
        leaked: words("leaked"),
        pids: words("pid"),
    };
    cleanup.0.extend(&said.leaked);
    (out, said)
}

/// Headless Chromium, or None (after saying so) when it is not installed and
/// RSHM_TEST_REQUIRE_ALL is not 1.
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("RSHM_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "chromium is missing (RSHM_TEST_REQUIRE_ALL=1 requires it)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on `page` with `args` (a fresh profile, nothing fetched, no
/// sandbox: tests may run as root), for at most two minutes.
fn browse(chromium: &Path, page: &Path, args: &[&str]) -> Output {
    let profile = Temp(fresh("chromium-profile", ""));
    let url = format!(
        "file://{}",
        page.canonicalize()
            .unwrap()
            .display()
            .to_string()
            .replace(' ', "%20")
    );
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .args(args)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running chromium");
    // Read both pipes while it runs: a large DOM would fill one and stall it.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let read_out = std::thread::spawn(move || {
        let mut v = vec![];
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let read_err = std::thread::spawn(move || {
        let mut v = vec![];
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} {url}: no answer in two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: read_out.join().unwrap(),
        stderr: read_err.join().unwrap(),
    }
}

/// Takes a 1200×800 screenshot of `page` into `png`, and checks it is a picture.
fn screenshot(chromium: &Path, page: &Path, png: &Path) {
    let shot = format!("--screenshot={}", png.display());
    let out = browse(chromium, page, &[&shot, "--window-size=1200,800"]);
    let bytes = std::fs::read(png).unwrap_or_else(|e| {
        panic!(
            "no screenshot {}: {e}\n{}",
            png.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 10_000,
        "a {}-byte screenshot is too small to show the timeline",
        bytes.len()
    );
}

/// The element of `dom` whose start tag holds `attr`, up to `close`.
fn element<'a>(dom: &'a str, start: &str, attr: &str, close: &str) -> Option<&'a str> {
    let at = dom.find(&format!("{start} {attr}")).or_else(|| {
        // An attribute that is not the first: the start of the tag holding it.
        let a = dom.find(attr)?;
        dom[..a].rfind(start)
    })?;
    let end = at + dom[at..].find(close)?;
    Some(&dom[at..end])
}

#[test]
fn the_html_page_in_a_browser_shows_every_segment_and_process_and_the_leak() {
    let prog = build("two-segments", LEAKER);
    let page = Temp(fresh("page", ".html"));
    let mut cleanup = Cleanup(vec![]);
    let (out, said) = trace_html(&prog, &[], &page.0, &mut cleanup);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(said.segments.len(), 2, "{:?}", said.segments);
    assert_eq!(said.leaked.len(), 1);
    assert_eq!(said.pids.len(), 2, "parent and child");

    // The page as written: what a reader of the file sees, before any browser.
    let html = std::fs::read_to_string(&page.0).expect("rshm-trace wrote no page");
    assert!(html.contains("<title>rshm-trace: ./two-segments</title>"));
    assert!(!html.contains("<script src") && !html.contains("<link "));

    let Some(chromium) = chromium() else { return };
    let dom = browse(&chromium, &page.0, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<svg"),
        "no picture in the rendered page:\n{dom}"
    );
    for id in &said.segments {
        assert!(
            dom.contains(&format!("data-shmid=\"{id}\"")),
            "segment {id} is not in the rendered page"
        );
    }
    for pid in &said.pids {
        assert!(
            dom.contains(&format!("data-pid=\"{pid}\"")),
            "process {pid} is not in the rendered page"
        );
    }
    for id in &said.leaked {
        let attr = format!("data-shmid=\"{id}\"");
        let row = element(&dom, "<tr", &attr, "</tr>").expect("no table row for the leak");
        assert!(row.contains("leaked"), "segment {id}'s row: {row}");
        let bar = element(&dom, "<g", &attr, "</g>").expect("no picture row for the leak");
        assert!(bar.contains("leaked"), "segment {id}'s bar: {bar}");
    }
    let removed: Vec<&i32> = said
        .segments
        .iter()
        .filter(|id| !said.leaked.contains(id))
        .collect();
    for id in removed {
        let attr = format!("data-shmid=\"{id}\"");
        let row = element(&dom, "<tr", &attr, "</tr>").unwrap();
        assert!(
            row.contains(&format!("removed by {}", said.pids[0])),
            "{row}"
        );
    }
    assert!(dom.contains("EINVAL"), "the failed shmat is not shown");

    let png = Temp(fresh("page", ".png"));
    screenshot(&chromium, &page.0, &png.0);
}

/// Remakes docs/timeline.png, the README's picture: `cargo test -p rshm-preload --test
/// trace_html -- --ignored`.
#[test]
#[ignore = "writes docs/timeline.png"]
fn docs_timeline_png_from_a_postgresql_like_run() {
    let chromium = chromium().expect("chromium is needed to make the picture");
    let prog = build("postgres", POSTGRES);
    let page = Temp(fresh("postgres", ".html"));
    let mut cleanup = Cleanup(vec![]);
    let (out, said) = trace_html(
        &prog,
        &["-D", "/var/lib/postgresql/data"],
        &page.0,
        &mut cleanup,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        (said.segments.len(), said.leaked.len(), said.pids.len()),
        (2, 1, 5)
    );
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/timeline.png");
    screenshot(&chromium, &page.0, &png);
}
