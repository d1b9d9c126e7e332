//! Generates include/rshm.h from src/ffi.rs (cbindgen), checks that it compiles as
//! C89, C99 and C++98, and compiles the C test programs to objects. Those objects are
//! linked against librshm.a and librshm.so later, by tests/c_programs.rs: cargo runs this
//! script before the library exists.
//!
//! A missing tool or file ends the build with one sentence saying what is missing,
//! never with a panic's backtrace.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::exit;
use std::{env, fs};

/// Ends the build with one sentence (cargo shows it under "error: failed to run custom
/// build command").
fn fail(what: impl Display) -> ! {
    eprintln!("rshm build: {what}");
    exit(1)
}

/// The value of one of the variables cargo sets for a build script.
fn cargo_var(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| fail(format_args!("cargo did not set {name}")))
}

fn write(path: &Path, text: &str) {
    fs::write(path, text)
        .unwrap_or_else(|e| fail(format_args!("cannot write {}: {e}", path.display())));
}

/// Compiles `src` to an object, or ends the build saying which compiler failed.
fn compile(src: &Path, cpp: bool, includes: &[PathBuf], flags: &[&str]) -> PathBuf {
    let mut b = cc::Build::new();
    b.cpp(cpp)
        .file(src)
        .flags(flags)
        .debug(true)
        .cargo_metadata(false);
    for i in includes {
        b.include(i);
    }
    match b.try_compile_intermediates() {
        Ok(objs) if !objs.is_empty() => objs[0].clone(),
        Ok(_) => fail(format_args!(
            "compiling {} produced no object",
            src.display()
        )),
        // The compiler is not there: say which tool to install.
        Err(e) if e.to_string().contains("failed to find tool") => fail(format_args!(
            "no {} compiler to compile {} ({}); `make` lists the tools rshm needs: {e}",
            if cpp { "C++" } else { "C" },
            src.display(),
            if cpp {
                "c++, from Debian's g++"
            } else {
                "cc, from Debian's gcc"
            },
        )),
        // It is there and refused the file: its own messages (shown above) say why.
        Err(e) => fail(format_args!("compiling {} failed: {e}", src.display())),
    }
}

fn main() {
    let root = PathBuf::from(cargo_var("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(cargo_var("OUT_DIR"));
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
    let major = cargo_var("CARGO_PKG_VERSION_MAJOR");
    let minor = cargo_var("CARGO_PKG_VERSION_MINOR");
    let patch = cargo_var("CARGO_PKG_VERSION_PATCH");

    let header = root.join("include/rshm.h");
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .unwrap_or_else(|e| fail(format_args!("cannot read cbindgen.toml: {e}")));
    config.after_includes = Some(format!(
        "\n/* The version of rshm this header belongs to; rshm_version() gives the library's. */\n\
         #define RSHM_VERSION_MAJOR {major}\n#define RSHM_VERSION_MINOR {minor}\n#define RSHM_VERSION_PATCH {patch}\n\
         #define RSHM_VERSION_STRING \"{major}.{minor}.{patch}\""
    ));
    let mut text = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .unwrap_or_else(|e| fail(format_args!("cannot generate include/rshm.h: {e}")))
        .write(&mut text);
    // cbindgen writes a few `//` comments, which C89 does not have.
    let text = String::from_utf8_lossy(&text)
        .replace("// __cplusplus", "/* __cplusplus */")
        .replace("// extern \"C\"", "/* extern \"C\" */");
    if text.contains("//") {
        fail("include/rshm.h would hold a // comment, which C89 does not allow");
    }
    // Written only when it changed, so an unchanged header leaves `make` nothing to do.
    if fs::read_to_string(&header).ok().as_deref() != Some(text.as_str()) {
        write(&header, &text);
    }

    // The header is C89: it must compile on its own, pedantically, as C89, C99 and C++98.
    let include = [root.join("include")];
    for (file, cpp, std) in [
        ("header_c89.c", false, "-std=c89"),
        ("header_c99.c", false, "-std=c99"),
        ("header_cxx98.cpp", true, "-std=c++98"),
    ] {
        let path = out.join(file);
        write(&path, "#include <rshm.h>\nint rshm_header_check_unused;\n");
        compile(
            &path,
            cpp,
            &include,
            &[std, "-Wall", "-Wextra", "-Werror", "-pedantic"],
        );
    }

    // The C test programs, one object each; tests/c_programs.rs links and runs them.
    let mut list = String::new();
    let dir = root.join("c_tests");
    let mut sources: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(format_args!("cannot read {}: {e}", dir.display())))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "cpp")))
        .collect();
    sources.sort();
    let includes = [root.join("include"), root.join("c_tests")];
    for src in &sources {
        let cpp = src.extension().is_some_and(|e| e == "cpp");
        let mut flags = vec![
            if cpp { "-std=c++11" } else { "-std=gnu11" },
            "-Wall",
            "-Wextra",
            "-Werror",
        ];
        flags.extend(extra.iter().map(String::as_str));
        let obj = compile(src, cpp, &includes, &flags);
        let name = src.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        list.push_str(&format!(
            "{name}\t{}\t{}\n",
            if cpp { "c++" } else { "c" },
            obj.display()
        ));
    }
    write(&out.join("c_tests.txt"), &list);
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
