//! The four states, each made for real in a private IPC namespace, and --orphans' exit
//! status (1 with orphans, 0 without, 2 on an error).

mod common;
use common::{Json, World, cell, root, rows};

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

/// A segment made by a new actor running as `uid`, which then exits; then a process of
/// root's at the creator's pid, started more than 2 seconds later: (id, the pid).
fn reused(w: &mut World, key: u32, uid: Option<u32>) -> (i32, i32) {
    let (actor, pid) = w.fork();
    if let Some(uid) = uid {
        w.cmd(&format!("@{actor} setuid {uid}"));
    }
    let id = w.create(actor, key, 4096, 0o600);
    w.cmd(&format!("@{actor} exit"));
    // ctime has whole seconds and the boot time is rounded: rshm-ls allows 2 s of doubt.
    std::thread::sleep(std::time::Duration::from_millis(3200));
    let again: i32 = w.cmd(&format!("fork {pid}"))[1].parse().unwrap();
    assert_eq!(
        again, pid,
        "ns_last_pid gave the new process the creator's pid"
    );
    (id, pid)
}

#[test]
fn a_pid_reused_by_another_user_after_the_segment_was_made_is_not_its_creator() {
    if !root() {
        eprintln!("SKIP: uid 65534 exists in the test's namespace only when the tests run as root");
        return;
    }
    let Some(mut w) = World::new() else { return };
    let (id, pid) = reused(&mut w, 0x4c53_0005, Some(65534));
    let r = w.ls(&[]);
    let (cells, _) = row(&r.out, id);
    assert_eq!(
        cell(&cells, "CPID"),
        format!("{pid} (exited; pid reused by helper)")
    );
    assert_eq!(cell(&cells, "STATE"), "orphaned");
    let o = w.ls(&["--orphans", "--json"]);
    assert_eq!(o.code(), 1);
    let doc = Json::parse(&o.out).unwrap();
    let s = &doc.get("segments").arr()[0];
    assert_eq!(
        (s.get("creator_state").str(), s.get("state").str()),
        ("pid reused", "orphaned")
    );
}

#[test]
fn a_process_of_the_creators_user_started_after_the_segment_may_be_the_creator_after_a_clock_step()
{
    // The start time is boot-time based and ctime wall-clock time: a clock stepped forward
    // since the segment was made makes the creator look younger than its segment. The
    // same user at the pid: whether it is the creator cannot be told, so no orphan.
    let Some(mut w) = World::new() else { return };
    let (id, pid) = reused(&mut w, 0x4c53_0015, None);
    let r = w.ls(&[]);
    let (cells, _) = row(&r.out, id);
    assert_eq!(
        (cell(&cells, "CPID"), cell(&cells, "STATE")),
        (
            format!("{pid} helper (running; started after the segment, as its creator's user)")
                .as_str(),
            "idle"
        )
    );
    let o = w.ls(&["--orphans"]);
    assert_eq!(o.code(), 0, "{o:?}");
    assert_eq!(o.lines()[..3], NO_ORPHANS);
    assert_eq!(
        o.lines()[3..],
        [
            "1 segment nobody attaches has a creator rshm-ls cannot check (the process with its pid started after the segment, as the creator's user (a reused pid, or the creator with the clock stepped forward)): whether it is orphaned cannot be told",
            "not visible: whether the creator of 1 segment still runs (a process has its pid; which, cannot be checked)"
        ]
    );
    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let s = &doc.get("segments").arr()[0];
    assert_eq!(
        (
            s.get("creator_state").str(),
            s.get("creator_command").str(),
            s.get("state").str()
        ),
        ("exists", "helper", "idle")
    );
}

#[test]
fn a_creator_whose_first_thread_exited_while_others_run_is_running_and_its_attachments_are_seen() {
    let Some(mut w) = World::new() else { return };
    let (actor, pid) = w.fork();
    let idle = w.create(actor, 0x4c53_0011, 4096, 0o600);
    let used = w.create(actor, 0x4c53_0012, 4096, 0o600);
    let addr = w.attach(actor, used);
    // Its first thread ends with pthread_exit: /proc/PID/stat says Z, a second runs on.
    let tid: i32 = w.cmd(&format!("@{actor} zleader"))[0].parse().unwrap();
    assert_ne!(tid, pid);

    let r = w.ls(&[]);
    assert_eq!((r.code(), r.err.as_str()), (0, ""), "{r:?}");
    let (cells, under) = row(&r.out, idle);
    assert_eq!(
        (cell(&cells, "CPID"), cell(&cells, "STATE")),
        (format!("{pid} helper (running)").as_str(), "idle")
    );
    assert!(under.is_empty(), "{under:?}");
    let (cells, under) = row(&r.out, used);
    assert_eq!(cell(&cells, "STATE"), "in use");
    assert_eq!(
        under,
        vec![format!("attached by pid {pid} helper (root) at {addr}")]
    );
    assert!(r.last().starts_with("all visible: "), "{}", r.out);

    let o = w.ls(&["--orphans"]);
    assert_eq!(o.code(), 0, "{o:?}");
    assert_eq!(o.lines()[..3], NO_ORPHANS);

    let by_pid = w.ls(&["--pid", &pid.to_string()]);
    assert_eq!((by_pid.code(), by_pid.err.as_str()), (0, ""));
    assert_eq!(
        rows(&by_pid.out).keys().copied().collect::<Vec<_>>(),
        vec![used]
    );
    // A thread's id names its process.
    let by_tid = w.ls(&["--pid", &tid.to_string()]);
    assert_eq!(by_tid.code(), 0);
    assert_eq!(
        by_tid.err,
        format!(
            "rshm-ls: --pid {tid} is a thread of process {pid}: the segments process {pid} attaches\n"
        )
    );
    assert_eq!(
        rows(&by_tid.out).keys().copied().collect::<Vec<_>>(),
        vec![used]
    );
}

#[test]
fn a_creator_whose_command_is_not_utf8_is_running() {
    let Some(mut w) = World::new() else { return };
    let (actor, pid) = w.fork();
    // PR_SET_NAME "caf\xe9": /proc/PID/stat and status are not UTF-8.
    w.cmd(&format!("@{actor} name 636166e9"));
    let id = w.create(actor, 0x4c53_0013, 4096, 0o600);
    let r = w.ls(&[]);
    let (cells, _) = row(&r.out, id);
    assert_eq!(
        (cell(&cells, "CPID"), cell(&cells, "STATE")),
        (format!("{pid} caf\\xe9 (running)").as_str(), "idle")
    );
    let o = w.ls(&["--orphans"]);
    assert_eq!(o.code(), 0, "{o:?}");
    assert_eq!(o.lines()[..3], NO_ORPHANS);
    let doc = Json::parse(&w.ls(&["--json"]).out).unwrap();
    let s = &doc.get("segments").arr()[0];
    assert_eq!(
        (
            s.get("creator_state").str(),
            s.get("creator_command").str(),
            s.get("state").str()
        ),
        ("running", "caf\u{fffd}", "idle")
    );
}

#[test]
fn behind_hidepid_a_creator_of_another_user_exists_and_is_never_an_orphan() {
    if !root() {
        eprintln!("SKIP: uid 65534 exists in the test's namespace only when the tests run as root");
        return;
    }
    let Some(mut w) = World::new() else { return };
    let id = w.create(0, 0x4c53_0016, 4096, 0o644);
    let m = w.run(&["mount", "-o", "remount,hidepid=invisible", "/proc"]);
    assert_eq!(m.code(), 0, "{m:?}");
    let mut as_nobody = |args: &[&str]| {
        let mut argv = vec![
            "setpriv",
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            common::RSHM_LS,
        ];
        argv.extend_from_slice(args);
        w.run(&argv)
    };
    // kill(1, 0) says EPERM: it exists; /proc/1 is not there for uid 65534.
    let hidden = "not visible: /proc hides other users' processes (hidepid=invisible): their attachments are not seen; whether the creator of 1 segment still runs (a process has its pid; which, cannot be checked)";
    let o = as_nobody(&["--orphans"]);
    assert_eq!(o.code(), 0, "{o:?}");
    assert_eq!(o.lines()[..3], NO_ORPHANS);
    assert_eq!(
        o.lines()[3..],
        [
            "1 segment nobody attaches has a creator rshm-ls cannot check (its pid exists but /proc hides the process): whether it is orphaned cannot be told",
            hidden
        ]
    );
    let all = as_nobody(&[]);
    let (cells, _) = row(&all.out, id);
    assert_eq!(
        (cell(&cells, "CPID"), cell(&cells, "STATE")),
        ("1 (exists; /proc hides it)", "idle")
    );
    assert_eq!(all.last(), hidden);
    let doc = Json::parse(&as_nobody(&["--json"]).out).unwrap();
    let s = &doc.get("segments").arr()[0];
    assert_eq!(
        (s.get("creator_state").str(), s.get("creator_command")),
        ("exists", &Json::Null)
    );
    // Root sees through hidepid.
    let (cells, _) = row(&w.ls(&[]).out, id);
    assert_eq!(cell(&cells, "CPID"), "1 helper (running)");
}

#[test]
fn with_a_proc_of_another_pid_namespace_a_live_creator_is_never_called_exited() {
    let Some(mut w) = World::new() else { return };
    // The world's pid 2 comes and goes: in the world's /proc, /proc/2 is nobody.
    let (gone, two) = w.fork();
    assert_eq!(two, 2);
    w.cmd(&format!("@{gone} exit"));
    // A pid namespace of its own and the world's /proc: the creator is its pid 2.
    let script = w.dir.join("other-proc.sh");
    let held = w.dir.join("held");
    std::fs::write(
        &script,
        format!(
            "{helper} hold 4c530014 > {held} &
until [ -s {held} ]; do sleep 0.05; done
{ls} --orphans
echo \"status $?\"
{ls} --pid 1 2>&1
kill $!
ipcrm -M 0x4c530014
",
            helper = common::helper_path(),
            held = held.display(),
            ls = common::RSHM_LS
        ),
    )
    .unwrap();
    let r = w.run(&["unshare", "--pid", "--fork", "sh", script.to_str().unwrap()]);
    assert_eq!((r.code(), r.err.as_str()), (0, ""), "{r:?}");
    let creator = std::fs::read_to_string(&held).unwrap();
    assert!(creator.ends_with(" 2\n"), "{creator:?}");
    assert_eq!(r.lines()[..3], NO_ORPHANS);
    assert_eq!(
        r.lines()[3..],
        [
            "1 segment nobody attaches has a creator rshm-ls cannot check (its pid exists but /proc is of another pid namespace): whether it is orphaned cannot be told",
            "not visible: /proc is of another pid namespace: the attachers' pids are its numbers, and a creator whose pid exists cannot be checked (mount this pid namespace's /proc); whether the creator of 1 segment still runs (a process has its pid; which, cannot be checked)",
            "status 0",
            "rshm-ls: --pid 1: /proc is of another pid namespace than rshm-ls's, where 1 is another process (mount this pid namespace's /proc)"
        ]
    );
}

#[test]
fn a_segment_still_mapped_without_shmat_is_never_an_orphan() {
    if !root() {
        eprintln!(
            "SKIP: /proc/PID/map_files can be opened only with CAP_SYS_ADMIN of the first user namespace"
        );
        return;
    }
    let Some(mut w) = World::new() else { return };
    let (id, _) = w.orphan(0x4c53_0017, 4096, 0o600);
    let (actor, pid) = w.fork();
    // Attached, mapped again through /proc/self/map_files, detached: nattch 0, one mapping.
    let addr = w.cmd(&format!("@{actor} remap {id}"))[0].clone();
    let r = w.ls(&[]);
    let (cells, under) = row(&r.out, id);
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
    let o = w.ls(&["--orphans"]);
    assert_eq!(o.code(), 0, "{o:?}");
    assert_eq!(o.lines()[..3], NO_ORPHANS);
    assert_eq!(
        o.lines()[3],
        "1 segment with nattch 0 and its creator gone is still mapped by a process: not orphaned"
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
            "not visible: /proc is of another pid namespace: the attachers' pids are its numbers, and a creator whose pid exists cannot be checked (mount this pid namespace's /proc); the creator of 1 segment (another pid namespace)"
        ]
    );
    let all = in_own_pid_ns(&[]);
    let (cells, _) = row(&all.out, id);
    assert_eq!(
        (cell(&cells, "CPID"), cell(&cells, "STATE")),
        ("unknown (another pid namespace)", "idle")
    );
}
