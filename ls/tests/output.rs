//! The JSON document against ls/schema.json, the totals against the kernel's own counts,
//! the filters, and --watch.

mod common;
use common::{Json, World, cell, root, rows, schema_errors};
use std::time::{Duration, Instant};

/// Four segments, one in each state; returns their ids (in use, idle, orphaned, removed).
fn four_states(w: &mut World) -> [i32; 4] {
    let in_use = w.create(0, 0x4c53_0201, 4096, 0o600);
    w.attach(0, in_use);
    let idle = w.create(0, 0x4c53_0202, 10_000, 0o644);
    let (orphan, _) = w.orphan(0, 1, 0o600);
    let removed = w.create(0, 0x4c53_0204, 8192, 0o660);
    w.attach(0, removed);
    w.cmd(&format!("rmid {removed}"));
    [in_use, idle, orphan, removed]
}

#[test]
fn json_validates_against_the_schema_and_carries_the_exact_values() {
    let Some(mut w) = World::new() else { return };
    let [in_use, idle, orphan, removed] = four_states(&mut w);
    let r = w.ls(&["--json"]);
    assert_eq!((r.code(), r.err.as_str()), (0, ""));
    assert_eq!(r.out.lines().count(), 1, "one document, one line");
    let doc = Json::parse(&r.out).unwrap();
    assert_eq!(schema_errors(&doc), Vec::<String>::new());

    let got: Vec<(i128, &str, i128, i128, &str, &str)> = doc
        .get("segments")
        .arr()
        .iter()
        .map(|s| {
            (
                s.get("id").int(),
                s.get("key").str(),
                s.get("size").int(),
                s.get("nattch").int(),
                s.get("state").str(),
                s.get("mode").str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (in_use as i128, "0x4c530201", 4096, 1, "in use", "0600"),
            (idle as i128, "0x4c530202", 10_000, 0, "idle", "0644"),
            (orphan as i128, "0x00000000", 1, 0, "orphaned", "0600"),
            (
                removed as i128,
                "0x00000000",
                8192,
                1,
                "removed, still attached",
                "0660"
            ),
        ]
    );
    let segs = doc.get("segments").arr();
    assert_eq!(
        segs[2].get("remove_command").str(),
        format!("ipcrm -m {orphan}")
    );
    assert_eq!(segs[0].get("remove_command"), &Json::Null);
    assert_eq!(
        (
            segs[0].get("cpid").int(),
            segs[0].get("creator_state").str(),
            segs[0].get("creator_command").str()
        ),
        (1, "running", "helper")
    );
    assert_eq!(segs[1].get("owner").get("name").str(), "root");
    assert_eq!(segs[1].get("atime"), &Json::Null);
    assert_eq!(doc.get("source").str(), "/proc/sysvipc/shm");
    let t = doc.get("totals");
    assert_eq!(
        (
            t.get("segments").int(),
            t.get("pages").int(),
            t.get("bytes").int(),
            t.get("largest").int()
        ),
        (4, 1 + 3 + 1 + 2, 22_289, 10_000)
    );

    // The same document from SHM_STAT_ANY: the same segments, without rss and swap (the
    // last pid and detach time are those of the run that started rshm-ls: its exec detached).
    let any = Json::parse(
        &w.run(&[
            "env",
            "RSHM_LS_TABLE=shm_stat_any",
            common::RSHM_LS,
            "--json",
        ])
        .out,
    )
    .unwrap();
    assert_eq!(schema_errors(&any), Vec::<String>::new());
    assert_eq!(any.get("source").str(), "SHM_STAT_ANY");
    let strip = |d: &Json| -> Vec<Json> {
        d.get("segments")
            .arr()
            .iter()
            .map(|s| match s {
                Json::Obj(m) => Json::Obj(
                    m.iter()
                        .filter(|(k, _)| !["rss", "swap", "lpid", "dtime"].contains(&k.as_str()))
                        .cloned()
                        .collect(),
                ),
                _ => unreachable!(),
            })
            .collect()
    };
    assert_eq!(strip(&any), strip(&doc));
    assert_eq!(any.get("segments").arr()[0].get("rss"), &Json::Null);
}

/// An object's members, in order.
type Members = Vec<(String, Json)>;

#[test]
fn the_schema_validator_rejects_what_breaks_the_schema() {
    let Some(mut w) = World::new() else { return };
    w.create(0, 0x4c53_0205, 4096, 0o600);
    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let mutate = |f: &dyn Fn(&mut Members)| {
        let mut d = doc.clone();
        if let Json::Obj(top) = &mut d {
            let segs = top.iter_mut().find(|(k, _)| k == "segments").unwrap();
            if let Json::Arr(a) = &mut segs.1 {
                if let Json::Obj(seg) = &mut a[0] {
                    f(seg);
                }
            }
        }
        schema_errors(&d)
    };
    let set = |k: &'static str, v: Json| {
        move |seg: &mut Members| seg.iter_mut().find(|(n, _)| n == k).unwrap().1 = v.clone()
    };
    assert_eq!(mutate(&set("state", Json::Str("leaked".into()))).len(), 1);
    assert_eq!(mutate(&set("key", Json::Str("0x4C530205".into()))).len(), 1);
    assert_eq!(mutate(&set("nattch", Json::Str("0".into()))).len(), 1);
    assert_eq!(
        mutate(&|seg| seg.retain(|(k, _)| k != "cpid")),
        vec!["$.segments[0]: required key cpid missing"]
    );
    assert_eq!(
        mutate(&|seg| seg.push(("extra".into(), Json::Null))),
        vec!["$.segments[0]: key extra is not in the schema"]
    );
}

#[test]
fn the_totals_equal_what_the_kernel_counts() {
    let Some(mut w) = World::new() else { return };
    for (key, size) in [
        (0x4c53_0301u32, 1u64),
        (0x4c53_0302, 4096),
        (0x4c53_0303, 4097),
    ] {
        w.create(0, key, size, 0o600);
    }
    // A second user exists in the test's namespace only when the tests run as root.
    let nobody_too = root();
    if nobody_too {
        let (nobody, _) = w.fork();
        w.cmd(&format!("@{nobody} setuid 65534"));
        w.create(nobody, 0x4c53_0304, 100, 0o600);
    }
    let info = w.cmd("info");
    let (used, pages): (u64, u64) = (info[0].parse().unwrap(), info[1].parse().unwrap());
    let n = u64::from(nobody_too);
    assert_eq!((used, pages), (3 + n, 1 + 1 + 2 + n), "SHM_INFO");
    let mut limit = |name: &str| w_read(&mut w, &format!("/proc/sys/kernel/{name}"));
    let (mni, all, max) = (limit("shmmni"), limit("shmall"), limit("shmmax"));
    let r = w.ls(&[]);
    let tail: Vec<&str> = r
        .lines()
        .into_iter()
        .skip_while(|l| !l.is_empty())
        .skip(1)
        .collect();
    let mut want = vec![
        format!("segments: {used} of {mni} (SHMMNI)"),
        format!("pages: {pages} of {all} (SHMALL; 4096-byte pages)"),
        format!("largest: 4097 bytes of {max} (SHMMAX)"),
        "user root: 3 segments, 8194 bytes".into(),
    ];
    if nobody_too {
        want.push("user nobody: 1 segment, 100 bytes".into());
    }
    want.push(format!(
        "all visible: the maps of {} processes of this IPC namespace were read (0 in other IPC namespaces not looked into)",
        2 + n
    ));
    assert_eq!(tail, want);
}

/// A file's first line, as read inside the world.
fn w_read(w: &mut World, path: &str) -> String {
    w.run(&["cat", path]).out.trim().to_string()
}

#[test]
fn filters_select_by_pid_key_id_and_user() {
    let Some(mut w) = World::new() else { return };
    let (actor, actor_pid) = w.fork();
    let s1 = w.create(0, 0x4c53_0401, 4096, 0o600);
    w.attach(actor, s1);
    let s2 = w.create(0, 0x4c53_0402, 4096, 0o600);
    // A second user exists in the test's namespace only when the tests run as root.
    let nobody = root();
    if nobody {
        w.cmd(&format!("chown {s2} 65534"));
    }
    let s3 = w.create(0, 0, 4096, 0o600);
    w.attach(0, s3);
    let mut ids = |args: &[&str]| -> Vec<i32> {
        let r = w.ls(args);
        assert_eq!(r.code(), 0, "{args:?}: {r:?}");
        rows(&r.out).keys().copied().collect()
    };
    let pid = actor_pid.to_string();
    assert_eq!(ids(&["--pid", &pid]), vec![s1]);
    assert_eq!(ids(&["--pid", "1"]), vec![s3]);
    assert_eq!(ids(&["--key", "0x4c530402"]), vec![s2]);
    assert_eq!(ids(&["--key", &0x4c53_0401.to_string()]), vec![s1]);
    assert_eq!(ids(&["--id", &s3.to_string()]), vec![s3]);
    assert_eq!(
        ids(&["--id", &s1.to_string(), "--id", &s3.to_string()]),
        vec![s1, s3]
    );
    // --user matches the owner or the creator: s2 is nobody's, made by root.
    if nobody {
        assert_eq!(ids(&["--user", "nobody"]), vec![s2]);
        assert_eq!(ids(&["--user", "65534"]), vec![s2]);
    }
    assert_eq!(ids(&["--user", "root"]), vec![s1, s2, s3]);
    assert_eq!(ids(&["--user", "0"]), vec![s1, s2, s3]);
    assert_eq!(ids(&["--user", "root", "--key", "0x4c530402"]), vec![s2]);
    assert_eq!(
        ids(&["--key", "0x4c530401", "--id", &s3.to_string()]),
        Vec::<i32>::new()
    );

    let one = w.ls(&["--id", &s2.to_string()]);
    let (cells, _) = rows(&one.out).remove(&s2).unwrap();
    let owner = if nobody { "nobody" } else { "root" };
    assert_eq!(
        (cell(&cells, "OWNER"), cell(&cells, "CREATOR")),
        (owner, "root")
    );
    assert!(
        one.lines().contains(&"shown: 1 of 3 segments"),
        "{}",
        one.out
    );
    let none = w.ls(&["--key", "0x4c5304ff"]);
    assert_eq!(none.lines()[0], "no segment matches");
    let gone = w.ls(&["--pid", "99999"]);
    assert_eq!(
        (gone.code(), gone.out.as_str(), gone.err.as_str()),
        (2, "", "rshm-ls: --pid 99999: no such process\n")
    );
}

/// The frames of a --watch output written to a file: each starts with its header line
/// (the screen is cleared only on a terminal).
fn frames(out: &str) -> Vec<&str> {
    out.split("\nrshm-ls --watch ")
        .map(|f| f.strip_prefix("rshm-ls --watch ").unwrap_or(f))
        .filter(|f| !f.is_empty())
        .collect()
}

/// The row of segment `id` in a frame, with its mark: ("+", cells).
fn marked_row(frame: &str, id: i32) -> Option<(String, Vec<String>)> {
    frame.lines().find_map(|l| {
        let (mark, rest) = l.split_at_checked(2)?;
        let cells: Vec<String> = rest
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        (cells.first()? == &id.to_string()).then(|| (mark.trim().to_string(), cells))
    })
}

#[test]
fn watch_marks_a_segment_appearing_changing_and_going_and_ends_on_sigint_with_status_0() {
    let Some(mut w) = World::new() else { return };
    let (pid, out) = w.spawn(&[common::RSHM_LS, "--watch", "0.1"]);
    let step = || std::thread::sleep(Duration::from_millis(700));
    step();
    let id = w.create(0, 0x4c53_0501, 4096, 0o600);
    step();
    let addr = w.attach(0, id);
    step();
    w.cmd(&format!("rmid {id}"));
    step();
    w.cmd(&format!("detach {addr}"));
    step();
    w.cmd(&format!("kill {pid} 2"));
    let r = w.wait(pid, &out);
    assert_eq!((r.status.as_str(), r.err.as_str()), ("exit 0", ""));
    let all = frames(&r.out);
    assert!(all.len() >= 10, "{} frames", all.len());
    assert!(r.out.starts_with("rshm-ls --watch 0.1s  "), "{}", r.out);
    assert!(all[0].starts_with("0.1s  "), "{}", all[0]);
    assert!(
        !r.out.contains('\x1b'),
        "no screen clearing, no colour into a file"
    );
    // The frames follow each other, an empty line between.
    assert!(r.out.contains("\n\nrshm-ls --watch 0.1s  "), "{}", r.out);
    assert!(
        marked_row(all[0], id).is_none(),
        "not there before it was made"
    );
    // Each change is marked once, in this order, with the state it changed to.
    let marks: Vec<(String, String)> = all
        .iter()
        .filter_map(|f| marked_row(f, id))
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, c)| (m, c.last().unwrap().clone()))
        .collect();
    let want = [
        ("+", "idle"),
        ("~", "in use"),
        ("~", "removed, still attached"),
        ("-", "gone (was removed, still attached)"),
    ];
    assert_eq!(
        marks,
        want.map(|(m, s)| (m.to_string(), s.to_string())).to_vec(),
        "{}",
        r.out
    );
    assert!(
        marked_row(all.last().unwrap(), id).is_none(),
        "gone, and no longer shown"
    );

    let (pid, out) = w.spawn(&[common::RSHM_LS, "--watch", "5"]);
    std::thread::sleep(Duration::from_millis(300));
    w.cmd(&format!("kill {pid} 15"));
    let r = w.wait(pid, &out);
    assert_eq!(
        (r.status.as_str(), frames(&r.out).len()),
        ("exit 0", 1),
        "SIGTERM ends it at once"
    );
}

#[test]
fn watch_ends_on_sigterm_and_sigint_even_while_its_write_is_blocked() {
    let Some(mut w) = World::new() else { return };
    // Enough rows that a few redraws fill a pipe nobody reads.
    for i in 0..60 {
        w.create(0, 0x4c53_0700 + i, 4096, 0o600);
    }
    for sig in [15, 2] {
        let script = w.dir.join(format!("blocked-{sig}.sh"));
        let fifo = w.dir.join(format!("fifo-{sig}"));
        std::fs::write(
            &script,
            format!(
                "mkfifo {fifo}
sleep 30 < {fifo} &
exec {ls} --watch 0.1 > {fifo}
",
                fifo = fifo.display(),
                ls = common::RSHM_LS
            ),
        )
        .unwrap();
        let (pid, out) = w.spawn(&["sh", script.to_str().unwrap()]);
        // Wait for the write to block (the pipe holds 64 KiB: a few redraws).
        let wchan = format!("/proc/{pid}/wchan");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !w.run(&["cat", &wchan]).out.ends_with("pipe_write") {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        w.cmd(&format!("kill {pid} {sig}"));
        // It ends promptly: a zombie (not yet waited for) within 3 seconds.
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(3);
        let ended = loop {
            // The world's /proc: the pid is the world's.
            let st = w.run(&["cat", &stat]).out;
            if st
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
            {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !ended {
            w.cmd(&format!("kill {pid} 9"));
        }
        let r = w.wait(pid, &out);
        assert!(ended, "signal {sig} did not end a blocked --watch: {r:?}");
        assert_eq!((r.status.as_str(), r.err.as_str()), ("exit 0", ""));
    }
}

#[test]
fn commands_are_shown_escaped_in_the_text_and_json_escaped_in_json() {
    let Some(mut w) = World::new() else { return };
    let (actor, pid) = w.fork();
    // a, tab, b, ESC [2J, newline, backslash, a byte that is not UTF-8.
    w.cmd(&format!("@{actor} name 6109621b5b324a0a5ce9"));
    let id = w.create(actor, 0x4c53_0801, 4096, 0o600);
    let addr = w.attach(actor, id);
    let r = w.ls(&[]);
    assert!(
        !r.out.contains('\x1b') && !r.out.contains('\t'),
        "{:?}",
        r.out
    );
    let shown = r"a\tb\x1b[2J\n\\\xe9";
    let (cells, under) = rows(&r.out).remove(&id).unwrap();
    assert_eq!(cell(&cells, "CPID"), format!("{pid} {shown} (running)"));
    assert_eq!(
        under,
        vec![format!("attached by pid {pid} {shown} (root) at {addr}")]
    );
    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let s = &doc.get("segments").arr()[0];
    let command = "a\tb\u{1b}[2J\n\\\u{fffd}";
    assert_eq!(s.get("creator_command").str(), command);
    assert_eq!(s.get("attachers").arr()[0].get("command").str(), command);
}

#[test]
fn totals_beyond_two_to_the_64_bytes_are_exact() {
    let Some(mut w) = World::new() else { return };
    // Five segments of 2^62 bytes (SHM_NORESERVE: nothing is reserved), and one page.
    for i in 0..5 {
        w.create(0, 0x4c53_0901 + i, 1 << 62, 0o10600);
    }
    let r = w.ls(&[]);
    assert_eq!((r.code(), r.err.as_str()), (0, ""), "{r:?}");
    let lines = r.lines();
    let pages = lines.iter().find(|l| l.starts_with("pages: ")).unwrap();
    assert!(pages.starts_with("pages: 5629499534213120 of "), "{pages}");
    assert!(lines.contains(&"user root: 5 segments, 23058430092136939520 bytes"));
    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    assert_eq!(schema_errors(&doc), Vec::<String>::new());
    let t = doc.get("totals");
    assert_eq!(
        (
            t.get("bytes").int(),
            t.get("pages").int(),
            t.get("largest").int(),
            t.get("users").arr()[0].get("bytes").int()
        ),
        (5 << 62, 5 << 50, 1 << 62, 5 << 62)
    );
}

#[test]
fn a_segment_locked_in_memory_says_so_in_its_state() {
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0a01, 4096, 0o600);
    w.cmd(&format!("lock {id}"));
    let (cells, _) = rows(&w.ls(&[]).out).remove(&id).unwrap();
    assert_eq!(cell(&cells, "STATE"), "idle (locked)");
    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let s = &doc.get("segments").arr()[0];
    assert_eq!(
        (s.get("locked"), s.get("state").str()),
        (&Json::Bool(true), "idle")
    );
}
