//! What the C-ABI tests share: this run's librshm.a, and librshm.so linked from it as
//! `make` links it (scripts/link-shared.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

/// This run's librshm.a: the newest of cargo's copies in target/<profile>/deps (named
/// with a hash) and the one it copies to target/<profile>/.
pub fn static_lib() -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let mut found: Vec<PathBuf> = std::fs::read_dir(&deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("librshm-") && n.ends_with(".a"))
        })
        .collect();
    found.push(deps.parent().unwrap().join("librshm.a"));
    found
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("librshm.a: build it first (`cargo build`, or `make test`)")
}

/// Links DIR/librshm.so from this run's librshm.a with `extra` link flags, and points
/// DIR/librshm.so.0 (the soname) at it. Returns DIR/librshm.so.
pub fn link_shared(dir: &Path, extra: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let so = dir.join("librshm.so");
    let st = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/link-shared.sh"))
        .arg(static_lib())
        .arg(&so)
        .arg(env!("CARGO_PKG_VERSION_MAJOR"))
        .args(extra)
        .status()
        .expect("running scripts/link-shared.sh");
    assert!(st.success(), "linking {} failed", so.display());
    let soname = dir.join("librshm.so.0");
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("librshm.so", &soname).unwrap();
    so
}
