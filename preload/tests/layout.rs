//! The preload library's layout (preload/layout.ld), which decides how much of it every
//! exec of every program under it maps. The kernel maps a file's pages 16 at a time
//! around each page first touched (fault-around, within the mapping), so what is read at
//! load, at exit and in a call is kept on as few 64 KiB windows as possible, each in a
//! mapping with nothing else to map:
//!
//! - the loader's tables (symbols, relocations) and the names read at load, alone in the
//!   first segment;
//! - the code run at load, at exit and in a call that logs nothing, at a 64 KiB boundary
//!   at the end of the code;
//! - the rest of the read-only data (strings, unwinding tables) in a segment of its own,
//!   which an exec that logs nothing never touches;
//! - the data the loader relocates spanning no more pages than its size needs (with lld
//!   it starts on a page: two pages, not three).

mod common;

use common::{build, target_dir};
use std::path::PathBuf;
use std::process::Command;

/// The release build's preload library: the layout is the shipped library's (a debug
/// build, as `make test` runs the suites, has ten times the code). `make` builds it
/// before `make test` runs.
fn preload_so() -> PathBuf {
    let so = target_dir().join("release/librshm_preload.so");
    assert!(
        so.is_file(),
        "{} is missing: run `make` (or `cargo build --release --workspace`) first",
        so.display()
    );
    so
}

/// An allocated section: name, address, size.
struct Section {
    name: String,
    addr: u64,
    size: u64,
}

/// A loadable segment: file offset, address, size in memory, flags ("R", "R E", "RW").
struct Load {
    offset: u64,
    addr: u64,
    size: u64,
    flags: String,
}

impl Load {
    fn holds(&self, addr: u64) -> bool {
        (self.addr..self.addr + self.size).contains(&addr)
    }
}

fn readelf(args: &[&str]) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(preload_so())
        .output()
        .expect("running readelf");
    assert!(out.status.success(), "readelf {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{s:?}"))
}

/// The allocated sections (address not 0), in address order.
fn sections() -> Vec<Section> {
    let mut v: Vec<Section> = readelf(&["-SW"])
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(']')?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let addr = u64::from_str_radix(f.get(2)?, 16).ok()?;
            let size = u64::from_str_radix(f.get(4)?, 16).ok()?;
            (addr != 0).then(|| Section {
                name: f[0].to_string(),
                addr,
                size,
            })
        })
        .collect();
    v.sort_by_key(|s| s.addr);
    v
}

/// The LOAD segments in address order, and GNU_RELRO's address and size.
fn loads() -> (Vec<Load>, (u64, u64)) {
    let text = readelf(&["-lW"]);
    let mut loads = Vec::new();
    let mut relro = None;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.first() {
            Some(&"LOAD") => loads.push(Load {
                offset: hex(f[1]),
                addr: hex(f[2]),
                size: hex(f[5]),
                flags: f[6..f.len() - 1].join(" "),
            }),
            Some(&"GNU_RELRO") => relro = Some((hex(f[2]), hex(f[5]))),
            _ => {}
        }
    }
    loads.sort_by_key(|s| s.addr);
    (loads, relro.expect("a GNU_RELRO segment"))
}

/// The address of the symbol named `name`, or else of the one symbol whose (mangled)
/// name contains it.
fn symbol(name: &str) -> u64 {
    let out = Command::new("nm").arg(preload_so()).output().expect("nm");
    let all: Vec<(String, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| (f[2].to_string(), hex(f[0])))
        })
        .collect();
    if let Some((_, a)) = all.iter().find(|(n, _)| n == name) {
        return *a;
    }
    let like: Vec<&(String, u64)> = all.iter().filter(|(n, _)| n.contains(name)).collect();
    assert_eq!(like.len(), 1, "symbols named like {name:?}: {like:?}");
    like[0].1
}

fn section<'a>(all: &'a [Section], name: &str) -> &'a Section {
    all.iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no section {name}"))
}

#[test]
fn the_first_segment_holds_the_loaders_tables_and_the_names_read_at_load_only() {
    let all = sections();
    let (loads, relro) = loads();
    let first = &loads[0];
    assert_eq!(first.flags, "R");
    let inside: Vec<&str> = all
        .iter()
        .filter(|s| first.holds(s.addr))
        .map(|s| s.name.as_str())
        .collect();
    const LOADERS: [&str; 8] = [
        ".note.gnu.build-id",
        ".dynsym",
        ".gnu.version",
        ".gnu.version_r",
        ".gnu.hash",
        ".dynstr",
        ".rela.dyn",
        ".rela.plt",
    ];
    assert!(
        inside
            .iter()
            .all(|n| LOADERS.contains(n) || *n == ".rshm_load_names"),
        "the first segment holds {inside:?}"
    );
    assert!(inside.contains(&".rshm_load_names"), "{inside:?}");
    // The names: the environment's and the four functions', nothing else.
    let names = section(&all, ".rshm_load_names");
    assert!(names.size < 256, "{} bytes of names", names.size);

    // The rest of the read-only data: a read-only segment after the code.
    let code = loads.iter().position(|l| l.flags == "R E").expect("code");
    for name in [".rodata", ".eh_frame", ".eh_frame_hdr", ".gcc_except_table"] {
        let s = section(&all, name);
        let at = loads.iter().position(|l| l.holds(s.addr)).unwrap();
        assert!(
            at > code && loads[at].flags == "R",
            "{name} is in segment {at} ({})",
            loads[at].flags
        );
    }
    // The relocated data spans no more pages than its size needs: each is written (a
    // copy-on-write fault) in every exec.
    let (at, size) = relro;
    let pages = (at + size).div_ceil(4096) - at / 4096;
    assert_eq!(
        pages,
        size.div_ceil(4096),
        "GNU_RELRO: {size:#x} bytes at {at:#x}"
    );
}

#[test]
fn what_runs_at_load_at_exit_and_in_a_quiet_call_is_the_last_64_kib_of_code() {
    let all = sections();
    let (loads, _) = loads();
    let load = section(&all, ".text.rshm_load");
    assert_eq!(load.addr % 0x10000, 0, "{:#x}", load.addr);
    assert!(load.size <= 0x10000, "{:#x} bytes", load.size);
    let code = loads.iter().find(|l| l.holds(load.addr)).unwrap();
    assert_eq!(code.flags, "R E");
    assert_eq!(
        code.addr + code.size,
        load.addr + load.size,
        "nothing after it in the code"
    );
    let within = |a: u64| (load.addr..load.addr + load.size).contains(&a);
    for f in ["_init", "_fini", "rshm_preload4init", "rshm_preload4fini"] {
        assert!(within(symbol(f)), "{f} is not with the load code");
    }
    for f in ["shmget", "shmat", "shmdt", "shmctl"] {
        assert!(within(symbol(f)), "{f} is not with the load code");
    }
}

/// One mapping of the preload library: permissions, file offset, start, length, resident
/// bytes.
struct Mapped {
    perms: String,
    offset: u64,
    start: u64,
    len: u64,
    rss: u64,
}

/// The preload library's mappings in `mapped` (preload/c_progs/mapped.c), run under it
/// with nothing shown: the log off, no report, not strict (whatever the caller's
/// environment says), after the four calls if `calls`.
fn mapped(calls: bool) -> Vec<Mapped> {
    let prog = build("mapped");
    let mut c = Command::new(&prog);
    c.arg("librshm_preload.so");
    if calls {
        c.arg("calls");
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("RSHM_") {
            c.env_remove(k);
        }
    }
    let out = c
        .env("LD_PRELOAD", preload_so())
        .env("RSHM_LOG", "off")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Mapped {
                perms: f[0].to_string(),
                offset: hex(f[1]),
                start: hex(f[2]),
                len: hex(f[3]),
                rss: f[4].parse::<u64>().unwrap() * 1024,
            }
        })
        .collect()
}

/// The most a fault on `[from, to)` can map of the mapping `[start, end)`: the aligned
/// 64 KiB windows it touches, each cut to the mapping (the kernel's fault-around).
fn windows(from: u64, to: u64, start: u64, end: u64) -> u64 {
    let mut most = 0;
    let mut w = from & !0xffff;
    while w < to {
        most += (w + 0x10000).min(end).saturating_sub(w.max(start));
        w += 0x10000;
    }
    most
}

#[test]
fn with_nothing_shown_an_exec_maps_a_few_pages_of_the_library_and_none_of_its_strings() {
    let all = sections();
    let (loads, _) = loads();
    let page = |a: u64| a & !0xfff;
    for calls in [false, true] {
        let m = mapped(calls);
        let find = |perms: &str, offset: u64| -> &Mapped {
            let hit = m.iter().find(|x| x.perms == perms && x.offset == offset);
            hit.unwrap_or_else(|| panic!("no {perms} mapping at {offset:#x}"))
        };
        // The loader's four pages.
        let first = find("r--p", 0);
        assert!(
            first.rss <= 16384,
            "the loader's tables: {} bytes",
            first.rss
        );
        let load = section(&all, ".text.rshm_load");
        let code = loads.iter().position(|l| l.holds(load.addr)).unwrap();
        // The code: the windows the load code lies in, where the kernel put the library
        // (with the library on a 64 KiB boundary, as Linux places an 11 MB mapping of
        // an ext4 or xfs file: six pages).
        let text = find("r-xp", page(loads[code].offset));
        let base = text.start - page(loads[code].addr);
        let most = windows(
            base + load.addr,
            base + load.addr + load.size,
            text.start,
            text.start + text.len,
        );
        assert!(
            text.rss <= most,
            "calls {calls}: {} bytes of code mapped, where the load code's windows hold {most}",
            text.rss
        );
        let strings = loads[code + 1..].iter().find(|l| l.flags == "R");
        let strings = strings.expect("a read-only segment after the code");
        assert_eq!(
            find("r--p", page(strings.offset)).rss,
            0,
            "calls {calls}: the read-only data"
        );
    }
}
