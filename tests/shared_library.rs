//! librshm.so exports the rshm_* functions and nothing else (never shmget & co, which
//! would interpose on libc for the whole program), and its soname is librshm.so.0.

use std::path::PathBuf;
use std::process::Command;

fn shared_library() -> PathBuf {
    // target/<profile>/deps, where this run's librshm.so is.
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("librshm.so")
}

#[test]
fn exports_only_the_documented_rshm_functions() {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(shared_library())
        .output()
        .expect("nm");
    assert!(out.status.success());
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rshm_at",
            "rshm_attachment_count",
            "rshm_dt",
            "rshm_get",
            "rshm_last_error",
            "rshm_rmid",
            "rshm_version"
        ]
    );
}

#[test]
fn soname_is_librshm_so_0() {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(shared_library())
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let soname = text
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .expect("a SONAME entry");
    assert!(soname.ends_with("[librshm.so.0]"), "{soname}");
}
