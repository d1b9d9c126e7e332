//! Links every C test program (compiled to an object by build.rs) against librshm.a and
//! against librshm.so, runs each, and requires exit status 0 and a closing
//! "N passed, 0 failed" line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The system libraries a Rust staticlib needs (`rustc --print native-static-libs`).
const NATIVE_STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

struct Program {
    name: String,
    cpp: bool,
    object: PathBuf,
}

fn programs() -> &'static [Program] {
    static P: OnceLock<Vec<Program>> = OnceLock::new();
    P.get_or_init(|| {
        std::fs::read_to_string(env!("RSHM_C_TESTS"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut f = l.split('\t');
                let name = f.next().unwrap().to_string();
                let cpp = f.next().unwrap() == "c++";
                Program {
                    name,
                    cpp,
                    object: PathBuf::from(f.next().unwrap()),
                }
            })
            .collect()
    })
}

/// A directory with librshm.so, linked from this run's librshm.a as `make` links it, and
/// librshm.so.0 (the soname) pointing at it.
fn shared_lib_dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rshm-shared");
        // The flags the objects were built with (e.g. -fsanitize=address) go to the link too.
        let extra: Vec<&str> = env!("RSHM_C_TESTS_CFLAGS").split_whitespace().collect();
        common::link_shared(&dir, &extra);
        dir
    })
}

fn link(p: &Program, dynamic: bool) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{}-{}",
        p.name,
        if dynamic { "dynamic" } else { "static" }
    ));
    let mut cmd = Command::new(if p.cpp {
        env!("RSHM_CXX")
    } else {
        env!("RSHM_CC")
    });
    cmd.arg(&p.object).arg("-o").arg(&out);
    if dynamic {
        let dir = shared_lib_dir();
        cmd.arg(format!("-L{}", dir.display()))
            .arg("-lrshm")
            .arg(format!("-Wl,-rpath,{}", dir.display()));
        cmd.arg("-lpthread");
    } else {
        cmd.arg(common::static_lib()).args(NATIVE_STATIC_LIBS);
    }
    // The flags the objects were built with (e.g. -fsanitize=address) go to the link too.
    cmd.args(env!("RSHM_C_TESTS_CFLAGS").split_whitespace());
    let st = cmd.status().expect("running the C compiler");
    assert!(st.success(), "linking {} failed", out.display());
    out
}

fn run(name: &str, dynamic: bool) {
    let p = programs()
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no C test {name}"));
    let bin = link(p, dynamic);
    // RSHM_TEST_WRAPPER runs each program under a tool (make check-valgrind: memcheck).
    let wrapper = std::env::var("RSHM_TEST_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut cmd = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    for (k, _) in std::env::vars() {
        if k.starts_with("RSHM_") {
            cmd.env_remove(k);
        }
    }
    // For the tests that load the library with dlopen (test_hostile).
    cmd.env("RSHM_TEST_SHARED_LIB", shared_lib_dir().join("librshm.so"));
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        out.status.success(),
        "{} exited with {}",
        bin.display(),
        out.status
    );
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 passed"),
        "{}: {last}",
        bin.display()
    );
}

macro_rules! c_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn static_link() {
                    super::run(stringify!($name), false);
                }
                #[test]
                fn dynamic_link() {
                    super::run(stringify!($name), true);
                }
            }
        )*
        #[test]
        fn every_c_test_program_is_listed() {
            let listed = [$(stringify!($name)),*];
            for p in programs() {
                assert!(listed.contains(&p.name.as_str()), "c_tests/{} is not listed in tests/c_programs.rs", p.name);
            }
        }
    };
}

c_tests!(
    test_at_dt,
    test_badinput,
    test_created,
    test_cxx,
    test_differential,
    test_durations,
    test_errnames,
    test_explain,
    test_fork,
    test_forkstorm,
    test_fresh_limits,
    test_get,
    test_limits,
    test_log,
    test_logfail,
    test_perm,
    test_rmid,
    test_security,
    test_signal,
    test_warnings,
    test_sink,
    test_hostile,
    test_report,
    test_counts,
);
