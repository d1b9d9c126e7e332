//! Generates include/rshm.h from src/ffi.rs (cbindgen), checks that it compiles as
//! C99 and C++11, and compiles the C test programs to objects. Those objects are linked
//! against librshm.a and librshm.so later, by tests/c_programs.rs: cargo runs this
//! script before the library exists.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=c_tests");
    // Extra flags for the C tests, e.g. "-fsanitize=address" (make check-asan).
    println!("cargo:rerun-if-env-changed=RSHM_C_TESTS_CFLAGS");
    let extra: Vec<String> = env::var("RSHM_C_TESTS_CFLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    // The version lives in Cargo.toml only: the soname and the header's macros come from it.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librshm.so.{major}");

    let header = root.join("include/rshm.h");
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        "\n/* The version of rshm this header belongs to; rshm_version() gives the library's. */\n\
         #define RSHM_VERSION_MAJOR {major}\n#define RSHM_VERSION_MINOR {minor}\n#define RSHM_VERSION_PATCH {patch}\n\
         #define RSHM_VERSION_STRING \"{major}.{minor}.{patch}\""
    ));
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .expect("generating include/rshm.h")
        .write_to_file(&header);

    // The header must compile on its own, pedantically, as C99 and as C++11.
    for (file, cpp, std) in [
        ("header_c99.c", false, "-std=c99"),
        ("header_cxx11.cpp", true, "-std=c++11"),
    ] {
        let path = out.join(file);
        fs::write(&path, "#include <rshm.h>\nint rshm_header_check_unused;\n").unwrap();
        cc::Build::new()
            .cpp(cpp)
            .file(&path)
            .include(root.join("include"))
            .flag(std)
            .flags(["-Wall", "-Wextra", "-Werror", "-pedantic"])
            .cargo_metadata(false)
            .compile_intermediates();
    }

    // The C test programs, one object each; tests/c_programs.rs links and runs them.
    let mut list = String::new();
    let mut sources: Vec<_> = fs::read_dir(root.join("c_tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "cpp")))
        .collect();
    sources.sort();
    for src in &sources {
        let cpp = src.extension().unwrap() == "cpp";
        let objs = cc::Build::new()
            .cpp(cpp)
            .file(src)
            .include(root.join("include"))
            .include(root.join("c_tests"))
            .flag(if cpp { "-std=c++11" } else { "-std=gnu11" })
            .flags(["-Wall", "-Wextra", "-Werror"])
            .flags(&extra)
            .debug(true)
            .cargo_metadata(false)
            .compile_intermediates();
        let name = src.file_stem().unwrap().to_str().unwrap();
        list.push_str(&format!(
            "{name}\t{}\t{}\n",
            if cpp { "c++" } else { "c" },
            objs[0].display()
        ));
    }
    fs::write(out.join("c_tests.txt"), list).unwrap();
    let cc = cc::Build::new().get_compiler();
    let cxx = cc::Build::new().cpp(true).get_compiler();
    println!(
        "cargo:rustc-env=RSHM_C_TESTS={}",
        out.join("c_tests.txt").display()
    );
    println!("cargo:rustc-env=RSHM_CC={}", cc.path().display());
    println!("cargo:rustc-env=RSHM_C_TESTS_CFLAGS={}", extra.join(" "));
    println!("cargo:rustc-env=RSHM_CXX={}", cxx.path().display());
}
