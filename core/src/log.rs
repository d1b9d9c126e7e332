//! One line per call, text or JSON, formatted into a stack buffer and written with a
//! single write(2), so lines from threads and processes never interleave. Logging never
//! fails the call it reports on and never changes errno.

use crate::buf::FixedBuf;
use crate::clock::{Dur, push_rfc3339};
use crate::config::{Config, Level};
use crate::error::ErrnoGuard;
use crate::names::{
    AtFlags, Cmd, GetFlags, IPC_INFO, SHM_INFO, SHM_STAT, SHM_STAT_ANY, errno_name,
};
use core::fmt::{self, Write};
use libc::{c_int, key_t};

/// A call's arguments.
#[derive(Clone, Copy, Debug)]
pub enum Args {
    /// shmget / rshm_get.
    Get {
        /// The key.
        key: key_t,
        /// The size.
        size: usize,
        /// The flags.
        flags: c_int,
    },
    /// shmat / rshm_at.
    At {
        /// The segment.
        shmid: c_int,
        /// The requested address.
        addr: usize,
        /// The flags.
        flags: c_int,
    },
    /// shmdt / rshm_dt.
    Dt {
        /// The address.
        addr: usize,
    },
    /// shmctl / rshm_rmid.
    Ctl {
        /// The segment (an index for SHM_STAT and SHM_STAT_ANY).
        shmid: c_int,
        /// The command.
        cmd: c_int,
    },
    /// A line of rshm's own (the exit report, the configuration): no call, no arguments.
    Report,
}

/// A call's result.
#[derive(Clone, Copy, Debug)]
pub enum Ret {
    /// An integer result (-1 on failure).
    Int(i64),
    /// An address (shmat's success).
    Addr(usize),
    /// shmget's id, and whether the call created the segment.
    Created(i64, bool),
}

/// What one log line reports.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The function the program called (`rshm_get`, `shmat`, ...).
    pub call: &'a str,
    /// Its arguments.
    pub args: Args,
    /// Its result.
    pub ret: Ret,
    /// errno on failure, 0 on success.
    pub errno: c_int,
    /// Why: the failure or the warning ("" when there is nothing to say).
    pub msg: &'a str,
    /// The line's level.
    pub level: Level,
    /// How long the call took.
    pub dur_ns: u64,
}

/// A log line; long enough for any record (a message is at most 255 bytes).
pub type Line = FixedBuf<1024>;

/// Where and when a line was made.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    /// Wall clock, ns.
    pub ts_ns: u64,
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Lines the sink dropped before this one (it refused them, or could not take them in time), reported
    /// once by the next line that gets through.
    pub lost: u64,
}

/// This thread's kernel thread id. Asked of the kernel each time (it is needed only for a
/// line that is written): a thread-local cache would be allocated lazily by a library
/// loaded with dlopen, inside whatever signal handler first touched it.
pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Writes `r` if the configuration logs its level.
pub fn emit(c: &Config, r: &Record<'_>) {
    if r.level > c.level() || r.level == Level::Off {
        return;
    }
    emit_always(c, r);
}

/// Writes `r` whatever the level (what the program asked for in so many words, such as
/// the exit report of `RSHM_REPORT=1`).
pub fn emit_always(c: &Config, r: &Record<'_>) {
    let _errno = ErrnoGuard::save();
    let tid = gettid();
    let cached = crate::config::getpid();
    let stamp = Stamp {
        ts_ns: crate::clock::realtime_ns(),
        // The cached pid is this process's when this is its main thread (tid == pid).
        // Elsewhere, the kernel is asked: a child that shares the parent's memory
        // (CLONE_VM) shares the cache too.
        // SAFETY: getpid takes no arguments and cannot fail.
        pid: if tid == cached {
            cached
        } else {
            unsafe { libc::getpid() }
        },
        tid,
        lost: crate::sink::lost_pending(),
    };
    if crate::channel::active() {
        let origin = crate::channel::origin(stamp.pid, tid);
        crate::channel::send(&crate::event::encode(&stamp, r, &origin));
        return;
    }
    let mut line = Line::new();
    if c.json() {
        json(&mut line, &stamp, r)
    } else {
        text(&mut line, &stamp, r)
    }
    crate::sink::write(line.as_bytes(), stamp.pid, stamp.lost);
}

/// The message without the `call: ` prefix that `rshm_last_error()` carries.
fn bare<'a>(call: &str, msg: &'a str) -> &'a str {
    msg.strip_prefix(call)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg)
}

/// True for the shmctl commands whose `shmid` argument is an index into the kernel's
/// table (SHM_STAT, SHM_STAT_ANY).
fn takes_index(cmd: c_int) -> bool {
    matches!(cmd, SHM_STAT | SHM_STAT_ANY)
}

/// What a shmctl command's non-negative result is, when it is not plain success.
fn ret_kind(cmd: c_int) -> Option<&'static str> {
    match cmd {
        IPC_INFO | SHM_INFO => Some("highest index"),
        SHM_STAT | SHM_STAT_ANY => Some("shmid"),
        _ => None,
    }
}

/// `IPC_PRIVATE`, or the key as `0x` and eight hex digits.
fn push_key(out: &mut Line, key: key_t) {
    if key == libc::IPC_PRIVATE {
        out.push_str("IPC_PRIVATE");
        return;
    }
    let mut hex = *b"0x00000000";
    for (i, d) in hex[2..].iter_mut().enumerate() {
        *d = b"0123456789abcdef"[((key as u32) >> (28 - 4 * i) & 15) as usize];
    }
    out.push_ascii(&hex);
}

/// `NULL`, or the address in hex.
fn push_addr(out: &mut Line, addr: usize) {
    if addr == 0 {
        out.push_str("NULL")
    } else {
        out.push_hex(addr as u64)
    }
}

/// Formats `r` as a text line (newline included). Numbers are written without
/// core::fmt, which would cost more than the rest of the line.
pub fn text(out: &mut Line, s: &Stamp, r: &Record<'_>) {
    out.push_str("rshm ");
    push_rfc3339(out, s.ts_ns);
    out.push_str(" ");
    out.push_i64(s.pid.into());
    out.push_str("/");
    out.push_i64(s.tid.into());
    out.push_str(" ");
    out.push_str(r.level.upper());
    out.push_str(" ");
    out.push_str(r.call);
    match r.args {
        Args::Get { key, size, flags } => {
            out.push_str("(key=");
            push_key(out, key);
            out.push_str(", size=");
            out.push_u64(size as u64);
            out.push_str(", flags=");
            let _ = GetFlags(flags).write(out);
            out.push_str(")");
        }
        Args::At { shmid, addr, flags } => {
            out.push_str("(shmid=");
            out.push_i64(shmid.into());
            out.push_str(", addr=");
            push_addr(out, addr);
            out.push_str(", flags=");
            let _ = AtFlags(flags).write(out);
            out.push_str(")");
        }
        Args::Dt { addr } => {
            out.push_str("(addr=");
            push_addr(out, addr);
            out.push_str(")");
        }
        Args::Ctl { shmid, cmd } => {
            out.push_str(if takes_index(cmd) {
                "(index="
            } else {
                "(shmid="
            });
            out.push_i64(shmid.into());
            out.push_str(", cmd=");
            let _ = Cmd(cmd).write(out);
            out.push_str(")");
        }
        Args::Report => {}
    }
    match (r.ret, r.args) {
        (_, Args::Report) => {}
        (Ret::Addr(a), _) => {
            out.push_str(" = ");
            push_addr(out, a);
        }
        (Ret::Int(n) | Ret::Created(n, _), _) => {
            out.push_str(" = ");
            out.push_i64(n);
        }
    }
    if let Ret::Created(_, true) = r.ret {
        out.push_str(" (created)");
    }
    if let (Ret::Int(n), Args::Ctl { cmd, .. }) = (r.ret, r.args) {
        if let Some(kind) = ret_kind(cmd).filter(|_| n >= 0) {
            out.push_str(" (");
            out.push_str(kind);
            out.push_str(")");
        }
    }
    if r.errno != 0 {
        out.push_str(" ");
        out.push_str(errno_name(r.errno));
    }
    if !r.msg.is_empty() {
        out.push_str(": ");
        out.push_str(bare(r.call, r.msg));
    }
    let mut tail = FixedBuf::<64>::new();
    if !matches!(r.args, Args::Report) {
        tail.push_str(" [");
        Dur(r.dur_ns).push(&mut tail);
        tail.push_str("]");
    }
    if s.lost > 0 {
        tail.push_str(" (");
        tail.push_u64(s.lost);
        tail.push_str(" earlier line(s) lost)");
    }
    tail.push_str("\n");
    end_line(out, &tail);
}

/// Formats `r` as one JSON object (newline included).
pub fn json(out: &mut Line, s: &Stamp, r: &Record<'_>) {
    out.push_str("{\"ts\":\"");
    push_rfc3339(out, s.ts_ns);
    out.push_str("\",\"pid\":");
    out.push_i64(s.pid.into());
    out.push_str(",\"tid\":");
    out.push_i64(s.tid.into());
    out.push_str(",\"level\":\"");
    out.push_str(r.level.lower());
    out.push_str("\",\"call\":\"");
    out.push_str(r.call);
    out.push_str("\",\"args\":{");
    match r.args {
        Args::Get { key, size, flags } => {
            out.push_str("\"key\":\"");
            push_key(out, key);
            out.push_str("\",\"size\":");
            out.push_u64(size as u64);
            out.push_str(",\"flags\":\"");
            let _ = GetFlags(flags).write(out);
            out.push_str("\"");
        }
        Args::At { shmid, addr, flags } => {
            out.push_str("\"shmid\":");
            out.push_i64(shmid.into());
            out.push_str(",\"addr\":");
            push_json_addr(out, addr);
            out.push_str(",\"flags\":\"");
            let _ = AtFlags(flags).write(out);
            out.push_str("\"");
        }
        Args::Dt { addr } => {
            out.push_str("\"addr\":");
            push_json_addr(out, addr);
        }
        Args::Ctl { shmid, cmd } => {
            out.push_str(if takes_index(cmd) {
                "\"shmid\":null,\"index\":"
            } else {
                "\"shmid\":"
            });
            out.push_i64(shmid.into());
            out.push_str(",\"cmd\":\"");
            let _ = Cmd(cmd).write(out);
            out.push_str("\"");
        }
        Args::Report => {}
    }
    out.push_str("},\"ret\":");
    match r.ret {
        Ret::Int(n) => out.push_i64(n),
        Ret::Addr(a) => {
            out.push_str("\"");
            out.push_hex(a as u64);
            out.push_str("\"");
        }
        Ret::Created(n, c) => {
            out.push_i64(n);
            out.push_str(if c {
                ",\"created\":true"
            } else {
                ",\"created\":false"
            });
        }
    }
    if r.errno != 0 {
        out.push_str(",\"errno\":\"");
        out.push_str(errno_name(r.errno));
        out.push_str("\"");
    } else {
        out.push_str(",\"errno\":null");
    }
    if !r.msg.is_empty() {
        out.push_fmt(format_args!(
            ",\"msg\":\"{}\"",
            JsonStr(bare(r.call, r.msg))
        ));
    }
    let mut tail = FixedBuf::<64>::new();
    if s.lost > 0 {
        tail.push_str(",\"lost\":");
        tail.push_u64(s.lost);
    }
    tail.push_str(",\"dur_ns\":");
    tail.push_u64(r.dur_ns);
    tail.push_str("}\n");
    end_line(out, &tail);
}

/// Appends the line's end; if the line is full, cuts it so the end still fits whole.
fn end_line(out: &mut Line, end: &FixedBuf<64>) {
    let room = 1023 - end.len();
    if out.len() > room {
        let mut cut = room;
        while !out.as_str().is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out.push_str(end.as_str());
}

/// An address as a JSON value: a hex string, or null for NULL.
fn push_json_addr(out: &mut Line, addr: usize) {
    if addr == 0 {
        out.push_str("null");
    } else {
        out.push_str("\"");
        out.push_hex(addr as u64);
        out.push_str("\"");
    }
}

/// A string with JSON escapes applied.
struct JsonStr<'a>(&'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ch in self.0.chars() {
            match ch {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Stamp = Stamp {
        ts_ns: 1_795_718_410_123_456_789,
        pid: 4242,
        tid: 4243,
        lost: 0,
    };

    fn rec(args: Args, ret: Ret, errno: c_int, msg: &'static str, level: Level) -> Record<'static> {
        Record {
            call: "rshm_get",
            args,
            ret,
            errno,
            msg,
            level,
            dur_ns: 2_150,
        }
    }

    #[test]
    fn text_line_for_a_successful_get() {
        let mut l = Line::new();
        let r = rec(
            Args::Get {
                key: 0,
                size: 4096,
                flags: 0o1600,
            },
            Ret::Int(3),
            0,
            "",
            Level::Info,
        );
        text(
            &mut l,
            &S,
            &Record {
                call: "shmget",
                ..r
            },
        );
        assert_eq!(
            l.as_str(),
            "rshm 2026-11-26T18:40:10.123456Z 4242/4243 INFO shmget(key=IPC_PRIVATE, size=4096, flags=IPC_CREAT|0600) = 3 [2.1us]\n"
        );
    }

    #[test]
    fn text_line_for_a_failed_detach_drops_the_call_prefix_of_the_message() {
        let mut l = Line::new();
        let r = Record {
            call: "rshm_dt",
            args: Args::Dt {
                addr: 0x7f3a0c000000,
            },
            ret: Ret::Int(-1),
            errno: libc::EINVAL,
            msg: "rshm_dt: address 0x7f3a0c000000 was already detached",
            level: Level::Warn,
            dur_ns: 900,
        };
        text(&mut l, &S, &r);
        assert_eq!(
            l.as_str(),
            "rshm 2026-11-26T18:40:10.123456Z 4242/4243 WARN rshm_dt(addr=0x7f3a0c000000) = -1 EINVAL: address 0x7f3a0c000000 was already detached [900ns]\n"
        );
    }

    #[test]
    fn text_lines_for_attach_and_rmid() {
        let mut l = Line::new();
        let r = Record {
            call: "rshm_at",
            args: Args::At {
                shmid: 5,
                addr: 0,
                flags: 0o10000,
            },
            ret: Ret::Addr(0x7f00_0000_0000),
            errno: 0,
            msg: "",
            level: Level::Info,
            dur_ns: 1_000_000,
        };
        text(&mut l, &S, &r);
        assert!(l.as_str().ends_with(
            " INFO rshm_at(shmid=5, addr=NULL, flags=SHM_RDONLY) = 0x7f0000000000 [1.0ms]\n"
        ));
        let mut l = Line::new();
        let r = Record {
            call: "rshm_rmid",
            args: Args::Ctl { shmid: 5, cmd: 0 },
            ret: Ret::Int(0),
            errno: 0,
            msg: "segment 5 is still attached here 1 time",
            level: Level::Warn,
            dur_ns: 10,
        };
        text(&mut l, &S, &r);
        assert!(l.as_str().ends_with(" WARN rshm_rmid(shmid=5, cmd=IPC_RMID) = 0: segment 5 is still attached here 1 time [10ns]\n"));
    }

    #[test]
    fn json_line_has_the_documented_keys_in_order() {
        let mut l = Line::new();
        let r = rec(
            Args::Get {
                key: 0x162e,
                size: 4096,
                flags: 0o3600,
            },
            Ret::Int(-1),
            libc::EEXIST,
            "rshm_get: key \"x\"",
            Level::Warn,
        );
        json(&mut l, &S, &r);
        assert_eq!(
            l.as_str(),
            "{\"ts\":\"2026-11-26T18:40:10.123456Z\",\"pid\":4242,\"tid\":4243,\"level\":\"warn\",\"call\":\"rshm_get\",\
             \"args\":{\"key\":\"0x0000162e\",\"size\":4096,\"flags\":\"IPC_CREAT|IPC_EXCL|0600\"},\"ret\":-1,\
             \"errno\":\"EEXIST\",\"msg\":\"key \\\"x\\\"\",\"dur_ns\":2150}\n"
        );
    }

    #[test]
    fn json_line_for_attach_and_detach_uses_hex_strings_and_null() {
        let mut l = Line::new();
        let r = Record {
            call: "shmat",
            args: Args::At {
                shmid: 7,
                addr: 0,
                flags: 0,
            },
            ret: Ret::Addr(0x7f3a0c000000),
            errno: 0,
            msg: "",
            level: Level::Info,
            dur_ns: 5,
        };
        json(&mut l, &S, &r);
        assert!(l.as_str().contains("\"args\":{\"shmid\":7,\"addr\":null,\"flags\":\"0\"},\"ret\":\"0x7f3a0c000000\",\"errno\":null,\"dur_ns\":5}\n"));
        let mut l = Line::new();
        let r = Record {
            call: "shmdt",
            args: Args::Dt { addr: 0x1000 },
            ret: Ret::Int(0),
            ..r
        };
        json(&mut l, &S, &r);
        assert!(
            l.as_str()
                .contains("\"call\":\"shmdt\",\"args\":{\"addr\":\"0x1000\"},\"ret\":0,")
        );
    }

    #[test]
    fn an_overlong_line_still_ends_whole() {
        let long: &'static str = Box::leak("x".repeat(2000).into_boxed_str());
        let mut l = Line::new();
        let r = rec(
            Args::Dt { addr: 1 },
            Ret::Int(-1),
            libc::EINVAL,
            long,
            Level::Warn,
        );
        json(&mut l, &S, &r);
        assert!(l.as_str().ends_with(",\"dur_ns\":2150}\n"));
        assert_eq!(l.len(), 1023);
    }
}
