//! librshm.so, linked from librshm.a as `make` links it (scripts/link-shared.sh), exports
//! the rshm_* functions and nothing else (never shmget & co, which would interpose on libc
//! for the whole program), each under the version node RSHM_0.1, and its soname is
//! librshm.so.0. A program linked against it records the versions it binds to.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const EXPORTS: [&str; 7] = [
    "rshm_at",
    "rshm_attachment_count",
    "rshm_dt",
    "rshm_get",
    "rshm_last_error",
    "rshm_rmid",
    "rshm_version",
];

fn shared_library() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        common::link_shared(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("rshm-shared-check"),
            &[],
        )
    })
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running a binutils tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn exports_only_the_documented_rshm_functions_each_at_rshm_0_1() {
    let text = stdout(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(shared_library()),
    );
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        // The version node itself is an absolute symbol of that name.
        .filter(|n| n != "RSHM_0.1")
        .collect();
    names.sort();
    let want: Vec<String> = EXPORTS.iter().map(|n| format!("{n}@@RSHM_0.1")).collect();
    assert_eq!(names, want);
}

#[test]
fn soname_is_librshm_so_0() {
    let text = stdout(Command::new("readelf").arg("-d").arg(shared_library()));
    let soname = text
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .expect("a SONAME entry");
    assert!(soname.ends_with("[librshm.so.0]"), "{soname}");
}

#[test]
fn a_program_linked_against_it_binds_rshm_get_at_rshm_0_1_and_runs() {
    let so = shared_library();
    let dir = so.parent().unwrap();
    let src = dir.join("versioned.c");
    std::fs::write(
        &src,
        "#include <rshm.h>\n#include <stdio.h>\n#include <string.h>\n\
         int main(void) { puts(rshm_version()); return rshm_get(IPC_PRIVATE, 0, 0) == -1 ? 0 : 1; }\n",
    )
    .unwrap();
    let exe = dir.join("versioned");
    let st = Command::new(env!("RSHM_CC"))
        .arg(&src)
        .arg(format!(
            "-I{}",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("include")
                .display()
        ))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", dir.display()))
        .arg("-lrshm")
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .status()
        .unwrap();
    assert!(st.success());
    let text = stdout(Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&exe));
    assert!(
        text.lines().any(|l| l.contains("rshm_get@RSHM_0.1")),
        "the program does not bind rshm_get@RSHM_0.1:\n{text}"
    );
    let out = Command::new(&exe).env_remove("RSHM_LOG").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env!("CARGO_PKG_VERSION")
    );
}
