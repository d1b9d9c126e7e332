//! Who attaches what: a parent and its forked child with their addresses, a process of
//! another IPC namespace holding a segment of the same id (not listed), and an
//! unprivileged run that lists what it can and says what it could not see.

mod common;
use common::{Json, World, cell, root, rows};

/// Addresses as rshm-ls lists them: in the order of the process's maps (ascending).
fn sorted(addrs: &[&str]) -> Vec<String> {
    let mut v: Vec<u64> = addrs
        .iter()
        .map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap())
        .collect();
    v.sort();
    v.iter().map(|a| format!("{a:#x}")).collect()
}

#[test]
fn a_segment_attached_by_a_parent_and_a_forked_child_lists_both_pids_with_their_addresses() {
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0101, 8192, 0o600);
    let parent_addr = w.attach(0, id);
    // The child inherits the parent's attachment, then attaches the segment again.
    let (child, child_pid) = w.fork();
    let child_addr = w.attach(child, id);

    let r = w.ls(&[]);
    let (cells, under) = rows(&r.out).remove(&id).unwrap();
    assert_eq!(
        (cell(&cells, "NATTCH"), cell(&cells, "STATE")),
        ("3", "in use")
    );
    let both = sorted(&[&parent_addr, &child_addr]).join(", ");
    assert_eq!(
        under,
        vec![
            format!("attached by pid 1 helper (root) at {parent_addr}"),
            format!("attached by pid {child_pid} helper (root) 2 times at {both}"),
        ]
    );

    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let seg = &doc.get("segments").arr()[0];
    assert_eq!(seg.get("attachments_visible").int(), 3);
    let attachers: Vec<(i128, Vec<String>)> = seg
        .get("attachers")
        .arr()
        .iter()
        .map(|a| {
            (
                a.get("pid").int(),
                a.get("addresses")
                    .arr()
                    .iter()
                    .map(|x| x.str().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        attachers,
        vec![
            (1, vec![parent_addr.clone()]),
            (child_pid as i128, sorted(&[&parent_addr, &child_addr]))
        ]
    );
}

#[test]
fn a_process_of_another_ipc_namespace_holding_a_segment_of_the_same_id_is_not_listed() {
    let Some(mut w) = World::new() else { return };
    let (other, other_pid) = w.fork();
    w.cmd(&format!("@{other} unshare"));
    let theirs = w.create(other, 0x4c53_0102, 4096, 0o600);
    w.attach(other, theirs);
    let ours = w.create(0, 0x4c53_0102, 4096, 0o600);
    let our_addr = w.attach(0, ours);
    assert_eq!(
        ours, theirs,
        "the two namespaces' first segments share id and key"
    );

    let r = w.ls(&[]);
    let (cells, under) = rows(&r.out).remove(&ours).unwrap();
    assert_eq!(cell(&cells, "NATTCH"), "1");
    assert_eq!(
        under,
        vec![format!("attached by pid 1 helper (root) at {our_addr}")]
    );
    assert!(!r.out.contains(&format!("pid {other_pid} ")), "{}", r.out);

    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let p = doc.get("processes");
    // Read: the agent and rshm-ls; the other actor is skipped unopened.
    assert_eq!(
        (
            p.get("read").int(),
            p.get("other_namespace").int(),
            p.get("unreadable").int()
        ),
        (2, 1, 0)
    );
    let pid_filter = w.ls(&["--pid", &other_pid.to_string()]);
    assert_eq!(pid_filter.code(), 2);
    assert!(pid_filter.err.starts_with(&format!(
        "rshm-ls: --pid {other_pid}: the process is in another IPC namespace"
    )));
}

#[test]
fn an_unprivileged_run_lists_what_it_can_and_says_what_it_could_not_see() {
    if !root() {
        eprintln!("SKIP: uid 65534 exists in the test's namespace only when the tests run as root");
        return;
    }
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0103, 4096, 0o666);
    let private = w.create(0, 0x4c53_0104, 4096, 0o600);
    let (root_actor, _) = w.fork();
    let (nobody, nobody_pid) = w.fork();
    w.cmd(&format!("@{nobody} setuid 65534"));
    w.attach(0, id);
    w.attach(root_actor, id);
    let nobody_addr = w.attach(nobody, id);

    let ls = common::RSHM_LS;
    let as_nobody = [
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
    ];
    let mut run = |env: &str, extra: &[&str]| {
        let mut argv = vec!["env", env];
        argv.extend_from_slice(&as_nobody);
        argv.push(ls);
        argv.extend_from_slice(extra);
        w.run(&argv)
    };
    // The agent and the root actor are root's: their maps are not readable.
    let hidden = "maps of 2 processes not readable (run as root to see their attachments); 2 of 3 attachments not found";
    for table in ["RSHM_LS_TABLE=proc", "RSHM_LS_TABLE=shm_stat_any"] {
        let r = run(table, &[]);
        assert_eq!(r.code(), 0, "{r:?}");
        let all = rows(&r.out);
        assert_eq!(
            all.keys().copied().collect::<Vec<_>>(),
            vec![id, private],
            "{table}: both segments:\n{}",
            r.out
        );
        let (cells, under) = &all[&id];
        assert_eq!(
            (cell(cells, "NATTCH"), cell(cells, "STATE")),
            ("3", "in use")
        );
        assert_eq!(
            under,
            &vec![
                format!("attached by pid {nobody_pid} helper (nobody) at {nobody_addr}"),
                "1 of 3 attachments visible".into()
            ]
        );
        assert_eq!(r.last(), format!("not visible: {hidden}"), "{table}");
    }
    // SHM_STAT, as on a kernel before 4.17: the 0600 segment of root cannot be described.
    let r = run("RSHM_LS_TABLE=shm_stat", &["--json"]);
    let doc = Json::parse(&r.out).unwrap();
    let ids: Vec<i128> = doc
        .get("segments")
        .arr()
        .iter()
        .map(|s| s.get("id").int())
        .collect();
    assert_eq!(ids, vec![id as i128]);
    assert_eq!(
        doc.get("unreadable_segments")
            .arr()
            .iter()
            .map(Json::int)
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(doc.get("processes").get("unreadable").int(), 2);
    let text = run("RSHM_LS_TABLE=shm_stat", &[]);
    assert_eq!(
        text.last(),
        "not visible: maps of 2 processes not readable (run as root to see their attachments); 1 segment SHM_STAT could not describe (no read permission; index 1); 2 of 3 attachments not found"
    );
    // The totals count what could be described, and say what they leave out.
    let tail: Vec<&str> = text.lines();
    assert_eq!(
        tail[tail.len() - 2],
        "(the totals leave out the 1 segment SHM_STAT could not describe)"
    );
}

#[test]
fn a_process_that_moved_here_after_attaching_another_namespaces_segment_of_this_id_is_noted() {
    let Some(mut w) = World::new() else { return };
    let (actor, pid) = w.fork();
    let theirs = w.create(actor, 0x4c53_0105, 4096, 0o600);
    let addr = w.attach(actor, theirs);
    // The actor moves to a new IPC namespace, still mapping the world's segment, and
    // makes a segment of the same id and key there, which nobody attaches.
    w.cmd(&format!("@{actor} unshare"));
    let ours = w.create(actor, 0x4c53_0105, 4096, 0o600);
    assert_eq!(
        ours, theirs,
        "the two namespaces' first segments share id and key"
    );
    // rshm-ls in the new namespace: the actor's namespace is its own, the mapping is not
    // of its segment, and nothing changed during the scan.
    let r = w.run_in(actor, &[common::RSHM_LS]);
    assert_eq!((r.code(), r.err.as_str()), (0, ""), "{r:?}");
    let (cells, under) = rows(&r.out).remove(&ours).unwrap();
    assert_eq!(
        (cell(&cells, "NATTCH"), cell(&cells, "STATE")),
        ("0", "idle")
    );
    assert_eq!(
        under,
        vec![
            format!("attached by pid {pid} helper (root) at {addr}"),
            "1 mapping seen but nattch is 0: mappings beyond nattch are of another IPC namespace's segment with this id (a process that moved here after attaching it) or made without shmat".into()
        ]
    );
}

#[test]
fn attachments_by_processes_of_another_pid_namespace_are_counted_as_not_visible() {
    let Some(mut w) = World::new() else { return };
    // rshm-ls in a pid namespace (and /proc) of its own, sharing the world's IPC
    // namespace: the segment's creator is its pid namespace's, its attacher the world's.
    let (script, made, go) = (
        w.dir.join("pidns.sh"),
        w.dir.join("made"),
        w.dir.join("attached"),
    );
    std::fs::write(
        &script,
        format!(
            "ipcmk -M 4096 -p 0600 > {made}.new && mv {made}.new {made}
until [ -e {go} ]; do sleep 0.05; done
exec {ls}
",
            made = made.display(),
            go = go.display(),
            ls = common::RSHM_LS
        ),
    )
    .unwrap();
    let (pid, out) = w.spawn(&[
        "unshare",
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        script.to_str().unwrap(),
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !made.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&made).unwrap();
    let id: i32 = text.trim().rsplit(' ').next().unwrap().parse().unwrap();
    w.attach(0, id);
    std::fs::write(&go, "").unwrap();
    let r = w.wait(pid, &out);
    assert_eq!((r.code(), r.err.as_str()), (0, ""), "{r:?}");
    let (cells, under) = rows(&r.out).remove(&id).unwrap();
    assert_eq!(
        (cell(&cells, "NATTCH"), cell(&cells, "STATE")),
        ("1", "in use")
    );
    assert!(cell(&cells, "CPID").ends_with(" (exited)"), "{cells:?}");
    assert_eq!(under, vec!["0 of 1 attachment visible"]);
    assert_eq!(
        r.last(),
        "not visible: 1 of 1 attachment not found (held by processes this /proc does not show, as of another pid namespace sharing this IPC namespace, or attached during the scan)"
    );
    w.cmd(&format!("rmid {id}"));
}

#[test]
fn a_listing_while_processes_exit_and_segments_go_never_fails() {
    let Some(mut w) = World::new() else { return };
    // Segments made and removed, and short-lived processes, for 3 seconds.
    let script = w.dir.join("churn.sh");
    std::fs::write(
        &script,
        "end=$(( $(date +%s) + 3 ))
while [ \"$(date +%s)\" -lt \"$end\" ]; do
    id=$(ipcmk -M 4096 | sed 's/.*: //')
    sleep 0.01 &
    ipcrm -m \"$id\"
done
wait
",
    )
    .unwrap();
    let script = script.to_str().unwrap().to_string();
    let (pid, out) = w.spawn(&["sh", &script]);
    for i in 0..30 {
        let args: &[&str] = if i % 2 == 0 { &["--json"] } else { &[] };
        let r = w.ls(args);
        assert_eq!((r.code(), r.err.as_str()), (0, ""), "run {i}: {r:?}");
        if i % 2 == 0 {
            let doc = Json::parse(&r.out).unwrap_or_else(|e| panic!("run {i}: {e}: {}", r.out));
            assert_eq!(common::schema_errors(&doc), Vec::<String>::new(), "run {i}");
        } else {
            assert!(r.last().starts_with("all visible: "), "run {i}: {}", r.out);
        }
    }
    let churn = w.wait(pid, &out);
    assert_eq!(churn.status, "exit 0", "{churn:?}");
    assert_eq!(
        w.cmd("info")[0],
        "0",
        "the churn removed every segment it made"
    );
}
