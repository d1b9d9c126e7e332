//! The JSON document against ls/schema.json, the totals against the kernel's own counts,
//! the filters, and --watch.

mod common;
use common::{Json, World, cell, root, rows, schema_errors};
use std::time::Duration;

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

/// The frames of a --watch output (each starts by clearing the screen).
fn frames(out: &str) -> Vec<&str> {
    out.split("\x1b[H\x1b[2J")
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
    assert!(all[0].starts_with("rshm-ls --watch 0.1s  "), "{}", all[0]);
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
