//! Links librshm_preload.so with its unwinder inside it (libgcc_eh, static) rather than
//! needing libgcc_s.so.1: loading that library was about 60-90 us of every exec under the
//! preload library (an extra object to open, map, relocate and fault in). Unwinding is
//! unchanged: the catch_unwind boundary still catches any panic, with the same unwinder
//! code, now private to this library (its version script exports only the four libc names).
//!
//! Rust's standard library asks for `-lgcc_s` by name, which `-static-libgcc` alone does
//! not change; a linker script called `libgcc_s.so`, in a directory searched first, turns
//! that request into `-lgcc_eh`. Both arguments apply to the cdylib alone (not to
//! rshm-trace, nor to the tests), and only on Linux with glibc.
//!
//! It also adds `layout.ld` to the link (with `INSERT`, so the linker's own layout stays
//! and only the order within it changes): the loader's tables alone in the first
//! segment, the code that runs at load, at exit and in a quiet call last in the code from
//! a 64 KiB boundary, the rest of the read-only data after the code, the big
//! zero-initialised tables after the small statics. An exec of `/bin/true` maps 16 + 24
//! kB of this library's file instead of 64 + 64 (see layout.ld and tests/layout.rs).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    let dir =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("static-libgcc");
    fs::create_dir_all(&dir).expect("creating OUT_DIR/static-libgcc");
    fs::write(
        dir.join("libgcc_s.so"),
        "/* rshm-preload (build.rs): the unwinder, statically, in place of libgcc_s.so.1 */\nINPUT(-lgcc_eh)\n",
    )
    .expect("writing the libgcc_s.so linker script");
    println!("cargo:rustc-cdylib-link-arg=-static-libgcc");
    println!("cargo:rustc-cdylib-link-arg=-L{}", dir.display());

    let layout =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("layout.ld");
    println!("cargo:rerun-if-changed={}", layout.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{}", layout.display());
}
