//! One call as a structured event, the way a traced process hands it to rshm-trace over
//! its channel ([`crate::channel`]): the log line's fields in a fixed binary layout, so
//! rshm-trace can count, filter and format them (text or JSON, with the very formatter of
//! [`crate::log`]) whatever level the process logs at.
//!
//! Layout (little-endian), [`HEAD`] bytes, then the call's name, then the message:
//!
//! | bytes  | field                                                   |
//! |--------|---------------------------------------------------------|
//! | 0      | [`VERSION`]                                             |
//! | 1      | level                                                   |
//! | 2      | arguments: 0 get, 1 at, 2 dt, 3 ctl, 4 none (rshm's own)|
//! | 3      | result: 0 integer, 1 address, 2 id, 3 id (created)      |
//! | 4..8   | errno                                                   |
//! | 8..16  | wall clock, ns                                          |
//! | 16..20 | pid                                                     |
//! | 20..24 | tid                                                     |
//! | 24..32 | duration, ns                                            |
//! | 32..40 | IPC namespace (the inode of /proc/self/ns/ipc; 0: unknown) |
//! | 40..56 | the process's name (`comm`), NUL-padded                 |
//! | 56..64 | result                                                  |
//! | 64..72 | key, shmid or address                                   |
//! | 72..80 | size, address or command                                |
//! | 80..84 | flags                                                   |
//! | 84     | length of the call's name                               |
//! | 85     | 1: the sender waits for rshm-trace to have written it   |
//! | 86..88 | length of the message                                   |
//! | 88..96 | PID namespace (the inode of /proc/self/ns/pid; 0: unknown): the pid is this namespace's |

use crate::config::Level;
use crate::log::{Args, Record, Ret, Stamp};

/// The layout's version (the first byte).
pub const VERSION: u8 = 2;
/// Bytes before the call's name.
pub const HEAD: usize = 96;
/// The longest event: the head, a name of 255 bytes and a message of 255.
pub const MAX: usize = HEAD + 255 + 255;
const _: () = assert!(MAX <= crate::ring::DATA, "an event fits a ring's slot");

/// Who made an event: what rshm-trace cannot ask of a process that may be gone by then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The process's name (`comm`, at most 15 bytes), NUL-padded.
    pub comm: [u8; 16],
    /// The inode of its IPC namespace (0: unknown).
    pub ipc_ns: u64,
    /// The inode of its PID namespace (0: unknown): the event's pid is that namespace's.
    pub pid_ns: u64,
}

/// An encoded event.
pub struct Event {
    bytes: [u8; MAX],
    len: usize,
}

impl Event {
    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Whether the sender waits for rshm-trace to have written it (a failure or a
    /// warning, so that the program's own message about it comes after rshm's line).
    pub fn acked(&self) -> bool {
        self.bytes[85] == 1
    }
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// Encodes `r`, made by `s.pid` (`o`). A name or message longer than 255 bytes is cut at
/// a character boundary.
pub fn encode(s: &Stamp, r: &Record<'_>, o: &Origin) -> Event {
    let mut e = Event {
        bytes: [0; MAX],
        len: HEAD,
    };
    let b = &mut e.bytes;
    b[0] = VERSION;
    b[1] = r.level as u8;
    let (tag, a0, a1, a2): (u8, i64, i64, i32) = match r.args {
        Args::Get { key, size, flags } => (0, key.into(), size as i64, flags),
        Args::At { shmid, addr, flags } => (1, shmid.into(), addr as i64, flags),
        Args::Dt { addr } => (2, addr as i64, 0, 0),
        Args::Ctl { shmid, cmd } => (3, shmid.into(), cmd.into(), 0),
        Args::Report => (4, 0, 0, 0),
    };
    b[2] = tag;
    let (rtag, rv) = match r.ret {
        Ret::Int(n) => (0, n),
        Ret::Addr(a) => (1, a as i64),
        Ret::Created(n, false) => (2, n),
        Ret::Created(n, true) => (3, n),
    };
    b[3] = rtag;
    put(b, 4, &r.errno.to_le_bytes());
    put(b, 8, &s.ts_ns.to_le_bytes());
    put(b, 16, &s.pid.to_le_bytes());
    put(b, 20, &s.tid.to_le_bytes());
    put(b, 24, &r.dur_ns.to_le_bytes());
    put(b, 32, &o.ipc_ns.to_le_bytes());
    put(b, 88, &o.pid_ns.to_le_bytes());
    put(b, 40, &o.comm);
    put(b, 56, &rv.to_le_bytes());
    put(b, 64, &a0.to_le_bytes());
    put(b, 72, &a1.to_le_bytes());
    put(b, 80, &a2.to_le_bytes());
    let call = cut(r.call);
    let msg = cut(r.msg);
    b[84] = call.len() as u8;
    b[85] = u8::from(r.level <= Level::Warn && r.level != Level::Off);
    put(b, 86, &(msg.len() as u16).to_le_bytes());
    put(b, HEAD, call.as_bytes());
    put(b, HEAD + call.len(), msg.as_bytes());
    e.len = HEAD + call.len() + msg.len();
    e
}

/// At most 255 bytes of `s`, cut at a character boundary.
fn cut(s: &str) -> &str {
    let mut n = s.len().min(255);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// An event read back: the log line's stamp and record, and who made it.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    /// When and where.
    pub stamp: Stamp,
    /// What (borrowing the call's name and the message from the bytes).
    pub record: Record<'a>,
    /// The process's name and IPC namespace.
    pub origin: Origin,
    /// Whether the sender waits for an acknowledgement.
    pub acked: bool,
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Reads an event; `None` for bytes that are not one (another version, cut short, a name
/// or message that is not UTF-8).
pub fn decode(b: &[u8]) -> Option<Decoded<'_>> {
    if b.len() < HEAD || b[0] != VERSION {
        return None;
    }
    let call_len = usize::from(b[84]);
    let msg_len = usize::from(u16::from_le_bytes([b[86], b[87]]));
    if b.len() != HEAD + call_len + msg_len {
        return None;
    }
    let call = core::str::from_utf8(&b[HEAD..HEAD + call_len]).ok()?;
    let msg = core::str::from_utf8(&b[HEAD + call_len..]).ok()?;
    let (a0, a1, a2) = (i64_at(b, 64), i64_at(b, 72), i32_at(b, 80));
    let args = match b[2] {
        0 => Args::Get {
            key: a0 as i32,
            size: a1 as usize,
            flags: a2,
        },
        1 => Args::At {
            shmid: a0 as i32,
            addr: a1 as usize,
            flags: a2,
        },
        2 => Args::Dt { addr: a0 as usize },
        3 => Args::Ctl {
            shmid: a0 as i32,
            cmd: a1 as i32,
        },
        4 => Args::Report,
        _ => return None,
    };
    let rv = i64_at(b, 56);
    let ret = match b[3] {
        0 => Ret::Int(rv),
        1 => Ret::Addr(rv as usize),
        2 => Ret::Created(rv, false),
        3 => Ret::Created(rv, true),
        _ => return None,
    };
    let level = Level::from_u8(b[1])?;
    let mut comm = [0u8; 16];
    comm.copy_from_slice(&b[40..56]);
    Some(Decoded {
        stamp: Stamp {
            ts_ns: i64_at(b, 8) as u64,
            pid: i32_at(b, 16),
            tid: i32_at(b, 20),
            lost: 0,
        },
        record: Record {
            call,
            args,
            ret,
            errno: i32_at(b, 4),
            msg,
            level,
            dur_ns: i64_at(b, 24) as u64,
        },
        origin: Origin {
            comm,
            ipc_ns: i64_at(b, 32) as u64,
            pid_ns: i64_at(b, 88) as u64,
        },
        acked: b[85] == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            ts_ns: 1_795_718_410_123_456_789,
            pid: 4242,
            tid: 4243,
            lost: 0,
        }
    }

    #[test]
    fn every_kind_of_record_comes_back_as_it_went() {
        let o = Origin {
            comm: *b"postgres\0\0\0\0\0\0\0\0",
            ipc_ns: 4026531839,
            pid_ns: 4026531836,
        };
        let cases = [
            (
                Args::Get {
                    key: 0x1234,
                    size: 1 << 40,
                    flags: 0o1600,
                },
                Ret::Created(32769, true),
                0,
                "",
                Level::Info,
            ),
            (
                Args::At {
                    shmid: 7,
                    addr: 0x7f00_0000_0000,
                    flags: 0o10000,
                },
                Ret::Addr(0x7f00_0000_0000),
                0,
                "",
                Level::Info,
            ),
            (
                Args::Dt { addr: 0xdead_0000 },
                Ret::Int(-1),
                libc::EINVAL,
                "no segment is attached at 0xdead0000",
                Level::Warn,
            ),
            (
                Args::Ctl {
                    shmid: 3,
                    cmd: libc::IPC_RMID,
                },
                Ret::Int(0),
                0,
                "",
                Level::Info,
            ),
            (
                Args::Report,
                Ret::Int(2),
                0,
                "é".repeat(200).leak(),
                Level::Info,
            ),
        ];
        for (args, ret, errno, msg, level) in cases {
            let r = Record {
                call: "shmget",
                args,
                ret,
                errno,
                msg,
                level,
                dur_ns: 1234,
            };
            let e = encode(&stamp(), &r, &o);
            assert_eq!(e.acked(), level == Level::Warn);
            let d = decode(e.as_bytes()).expect("decodes");
            assert_eq!(d.origin, o);
            assert_eq!(d.stamp.pid, 4242);
            assert_eq!(d.stamp.tid, 4243);
            assert_eq!(d.stamp.ts_ns, 1_795_718_410_123_456_789);
            assert_eq!(d.record.dur_ns, 1234);
            assert_eq!(d.record.errno, errno);
            assert_eq!(d.record.level, level);
            assert_eq!(format!("{:?}", d.record.args), format!("{args:?}"));
            assert_eq!(format!("{:?}", d.record.ret), format!("{ret:?}"));
            // 200 two-byte characters are cut to 127 (254 bytes), never mid-character.
            let want = if msg.len() > 255 { &msg[..254] } else { msg };
            assert_eq!(d.record.msg, want);
        }
    }

    #[test]
    fn bytes_that_are_not_an_event_are_refused() {
        let r = Record {
            call: "shmdt",
            args: Args::Dt { addr: 1 },
            ret: Ret::Int(0),
            errno: 0,
            msg: "x",
            level: Level::Info,
            dur_ns: 0,
        };
        let e = encode(&stamp(), &r, &Origin::default());
        let b = e.as_bytes();
        assert!(decode(&b[..b.len() - 1]).is_none(), "cut short");
        assert!(decode(&[]).is_none());
        let mut v = b.to_vec();
        v[0] = 9;
        assert!(decode(&v).is_none(), "another version");
        let mut v = b.to_vec();
        v[2] = 9;
        assert!(decode(&v).is_none(), "unknown arguments");
        let mut v = b.to_vec();
        *v.last_mut().unwrap() = 0xff;
        assert!(decode(&v).is_none(), "not UTF-8");
    }
}
