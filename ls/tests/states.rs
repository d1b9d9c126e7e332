//! The four states, each made for real in a private IPC namespace, and --orphans' exit
//! status (1 with orphans, 0 without, 2 on an error).

mod common;
use common::{World, cell, rows};

/// How --orphans begins when there is none.
const NO_ORPHANS: [&str; 3] = [
    "no orphaned segment in this IPC namespace",
    "",
    "0 segments orphaned",
];

/// The row of segment `id` in a text listing, and the lines under it.
fn row(text: &str, id: i32) -> (Vec<String>, Vec<String>) {
    rows(text)
        .remove(&id)
        .unwrap_or_else(|| panic!("no row for segment {id} in:\n{text}"))
}

#[test]
fn a_segment_whose_creator_exited_and_nobody_attaches_is_orphaned_and_orphans_exits_1() {
    let Some(mut w) = World::new() else { return };
    let (orphan, pid) = w.orphan(0x4c53_0001, 5000, 0o600);
    let idle = w.create(0, 0x4c53_0002, 4096, 0o640);

    let all = w.ls(&[]);
    assert_eq!(all.code(), 0, "{all:?}");
    let (r, under) = row(&all.out, orphan);
    assert_eq!(cell(&r, "STATE"), "orphaned");
    assert_eq!(cell(&r, "CPID"), format!("{pid} (exited)"));
    assert_eq!(
        (
            cell(&r, "KEY"),
            cell(&r, "SIZE"),
            cell(&r, "MODE"),
            cell(&r, "NATTCH")
        ),
        ("0x4c530001", "5000", "0600", "0")
    );
    assert!(under.is_empty(), "{under:?}");
    assert_eq!(cell(&row(&all.out, idle).0, "STATE"), "idle");

    let o = w.ls(&["--orphans"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert_eq!(
        rows(&o.out).keys().copied().collect::<Vec<_>>(),
        vec![orphan],
        "only the orphan:\n{}",
        o.out
    );
    assert_eq!(
        row(&o.out, orphan).1,
        vec![format!("remove with: ipcrm -m {orphan}")]
    );
    assert!(o.lines().contains(&"1 segment orphaned"), "{}", o.out);
    assert_eq!(o.err, "");

    let bad = w.ls(&["--orphans", "--id", "x"]);
    assert_eq!((bad.code(), bad.out.as_str()), (2, ""));

    w.cmd(&format!("rmid {orphan}"));
    let none = w.ls(&["--orphans"]);
    assert_eq!(none.code(), 0, "{none:?}");
    assert_eq!(none.lines()[..3], NO_ORPHANS);
}

#[test]
fn a_segment_nobody_attaches_whose_creator_runs_is_idle() {
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0003, 100, 0o600);
    let r = w.ls(&[]);
    let (cells, under) = row(&r.out, id);
    assert_eq!(cell(&cells, "STATE"), "idle");
    assert_eq!(
        cell(&cells, "CPID"),
        format!("{} helper (running)", w.agent_pid())
    );
    assert_eq!(
        (
            cell(&cells, "NATTCH"),
            cell(&cells, "ATTACHED"),
            cell(&cells, "DETACHED")
        ),
        ("0", "-", "-")
    );
    assert!(under.is_empty());
    assert_eq!(w.ls(&["--orphans"]).code(), 0);
}

#[test]
fn a_segment_marked_for_removal_while_attached_is_removed_still_attached() {
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0004, 4096, 0o600);
    let addr = w.attach(0, id);
    w.cmd(&format!("rmid {id}"));
    let r = w.ls(&[]);
    let (cells, under) = row(&r.out, id);
    assert_eq!(cell(&cells, "STATE"), "removed, still attached");
    // IPC_RMID makes the key IPC_PRIVATE, as ipcs shows it too.
    assert_eq!(
        (cell(&cells, "KEY"), cell(&cells, "NATTCH")),
        ("0x00000000", "1")
    );
    assert_eq!(
        under,
        vec![format!("attached by pid 1 helper (root) at {addr}")]
    );
    assert_eq!(
        w.ls(&["--orphans"]).code(),
        0,
        "a marked segment is no orphan"
    );
    let j = common::Json::parse(&w.ls(&["--json"]).out).unwrap();
    let s = &j.get("segments").arr()[0];
    assert_eq!(
        (s.get("marked"), s.get("state").str()),
        (&common::Json::Bool(true), "removed, still attached")
    );
    w.cmd(&format!("detach {addr}"));
    assert_eq!(
        w.ls(&["--id", &id.to_string()]).lines()[0],
        "no segment matches",
        "destroyed at its last detach"
    );
}

#[test]
fn a_pid_reused_after_the_segment_was_made_is_not_its_creator() {
    let Some(mut w) = World::new() else { return };
    let (id, pid) = w.orphan(0x4c53_0005, 4096, 0o600);
    // ctime has whole seconds and the boot time is rounded: rshm-ls allows 2 s of doubt.
    std::thread::sleep(std::time::Duration::from_millis(3200));
    let again: i32 = w.cmd(&format!("fork {pid}"))[1].parse().unwrap();
    assert_eq!(
        again, pid,
        "ns_last_pid gave the new process the creator's pid"
    );
    let r = w.ls(&[]);
    let (cells, _) = row(&r.out, id);
    assert_eq!(
        cell(&cells, "CPID"),
        format!("{pid} (exited; pid reused by helper)")
    );
    assert_eq!(cell(&cells, "STATE"), "orphaned");
    let o = w.ls(&["--orphans", "--json"]);
    assert_eq!(o.code(), 1);
    let doc = common::Json::parse(&o.out).unwrap();
    let s = &doc.get("segments").arr()[0];
    assert_eq!(
        (s.get("creator_state").str(), s.get("state").str()),
        ("pid reused", "orphaned")
    );
}

#[test]
fn a_creator_in_another_pid_namespace_is_unknown_and_never_an_orphan() {
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0006, 4096, 0o600);
    // rshm-ls in a pid namespace of its own: SHM_STAT_ANY gives cpid 0 for a creator it
    // cannot see.
    let mut in_own_pid_ns = |args: &[&str]| {
        let mut argv = vec![
            "env",
            "RSHM_LS_TABLE=shm_stat_any",
            "unshare",
            "--pid",
            "--fork",
            common::RSHM_LS,
        ];
        argv.extend_from_slice(args);
        w.run(&argv)
    };
    let r = in_own_pid_ns(&["--orphans"]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(r.lines()[..3], NO_ORPHANS);
    assert_eq!(
        r.lines()[3..],
        [
            "1 segment nobody attaches has a creator in another pid namespace (cpid 0): whether it is orphaned cannot be told",
            "not visible: the creator of 1 segment (another pid namespace)"
        ]
    );
    let all = in_own_pid_ns(&[]);
    let (cells, _) = row(&all.out, id);
    assert_eq!(
        (cell(&cells, "CPID"), cell(&cells, "STATE")),
        ("unknown (another pid namespace)", "idle")
    );
}
