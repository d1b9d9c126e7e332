//! The command line.

use std::time::Duration;

/// `--help`.
pub const HELP: &str = "usage: rshm-ls [--orphans] [--json] [--watch SECS] [--pid PID] [--key KEY] [--id ID] [--user USER]
Lists the System V shared-memory segments of this IPC namespace, the processes attaching
each, its state (in use, removed still attached, idle, orphaned) and the totals against
the limits.
  --orphans      only orphaned segments (nattch 0, creator gone, not marked for removal),
                 each with the ipcrm command that would remove it; exit status 1 if there
                 are any, 0 if none (rshm-ls itself removes nothing)
  --json         one JSON document (its schema: rshm-ls(1))
  --watch SECS   redraw every SECS seconds (0.1 or more), marking segments that appeared
                 (+), changed state (~) or disappeared (-); Ctrl-C ends it
  --pid PID      segments process PID attaches
  --key KEY      segments of key KEY (0x hex, or decimal)
  --id ID        the segment of id ID
  --user USER    segments USER (a name or a uid) owns or created
  -h, --help     this text
  --version      rshm-ls's version
A filter given twice takes either value; different filters must all match.
Exit status: 0, or with --orphans 1 if any segment is orphaned; 2 on an error.";

/// `--version`.
pub const VERSION: &str = concat!("rshm-ls ", env!("CARGO_PKG_VERSION"));

/// What to show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Only orphaned segments, exit status 1 if any.
    pub orphans: bool,
    /// A JSON document instead of text.
    pub json: bool,
    /// Redraw at this interval.
    pub watch: Option<Duration>,
    /// Segments these processes attach.
    pub pids: Vec<i32>,
    /// Segments of these keys.
    pub keys: Vec<i32>,
    /// Segments of these ids.
    pub ids: Vec<i32>,
    /// Segments these uids own or created.
    pub uids: Vec<u32>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// List.
    Run(Options),
    /// Print the help.
    Help,
    /// Print the version.
    Version,
}

/// Parses the arguments after the program name. An error is one line for standard error.
///
/// Strict: every argument is read before anything is done, so an error anywhere is an
/// error (also with `--help`); a value is the next argument or follows `=`
/// (`--pid=7`), and an option without a value takes no `=`; `--` ends the options (no
/// argument may follow: rshm-ls takes none); numbers are decimal digits only.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    let mut asked: Option<Command> = None;
    let mut ended = false;
    while let Some(arg) = args.next() {
        if ended {
            return Err(format!("unexpected argument {arg}"));
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--" if inline.is_none() => ended = true,
            "-h" | "--help" | "--version" | "--orphans" | "--json" if inline.is_some() => {
                return Err(format!("{name} takes no value"));
            }
            "-h" | "--help" => asked = asked.or(Some(Command::Help)),
            "--version" => asked = asked.or(Some(Command::Version)),
            "--orphans" => o.orphans = true,
            "--json" => o.json = true,
            "--watch" => o.watch = Some(interval(&value()?)?),
            "--pid" => o.pids.push(number(&name, &value()?, 1)?),
            "--id" => o.ids.push(number(&name, &value()?, 0)?),
            "--key" => o.keys.push(key(&value()?)?),
            "--user" => {
                let v = value()?;
                o.uids.push(crate::users::uid_of(&v).ok_or_else(|| {
                    format!("--user {v}: no such user (a name, or a uid from 0 to 4294967294)")
                })?);
            }
            _ if arg.starts_with('-') && arg != "-" => {
                return Err(format!("unknown option {arg}"));
            }
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    if o.watch.is_some() && o.json {
        return Err("--watch and --json cannot be combined (run --json in a loop instead)".into());
    }
    Ok(asked.unwrap_or(Command::Run(o)))
}

/// Whether `v` is one or more decimal digits, nothing else (no sign, no space).
fn digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

/// A number of decimal digits of at least `min`.
fn number(name: &str, v: &str, min: i32) -> Result<i32, String> {
    match v.parse::<i32>() {
        Ok(n) if digits(v) && n >= min => Ok(n),
        _ => Err(format!(
            "{name} {v}: not a number from {min} to {}",
            i32::MAX
        )),
    }
}

/// A key: 0x and 1 to 8 hex digits, or a decimal number from -2147483648 to 4294967295
/// (digits, with a `-` for a negative key_t).
fn key(v: &str) -> Result<i32, String> {
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) if (1..=8).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok().map(|k| k as i32)
        }
        Some(_) => None,
        None if digits(v.strip_prefix('-').unwrap_or(v)) => v
            .parse::<i64>()
            .ok()
            .filter(|k| (i32::MIN as i64..=u32::MAX as i64).contains(k))
            .map(|k| k as i32),
        None => None,
    };
    parsed.ok_or_else(|| {
        format!("--key {v}: not a key (0x and up to 8 hex digits, or a decimal number)")
    })
}

/// `--watch`'s interval: seconds (digits, and a fraction after a `.`), from 0.1 to a day.
fn interval(v: &str) -> Result<Duration, String> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
    match v.parse::<f64>() {
        Ok(s) if digits(whole) && digits(frac) && (0.1..=86400.0).contains(&s) => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(format!(
            "--watch {v}: not a number of seconds from 0.1 to 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Command, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    fn run(a: &[&str]) -> Options {
        match p(a) {
            Ok(Command::Run(o)) => o,
            other => panic!("{a:?}: {other:?}"),
        }
    }

    #[test]
    fn options_and_their_values() {
        let o = run(&[
            "--orphans",
            "--pid",
            "7",
            "--key=0x52534d31",
            "--key",
            "-1",
            "--id",
            "0",
            "--user",
            "root",
        ]);
        assert!(o.orphans && !o.json);
        assert_eq!(
            (o.pids, o.keys, o.ids, o.uids),
            (vec![7], vec![0x52534d31, -1], vec![0], vec![0])
        );
        assert_eq!(run(&["--key", "4294967295"]).keys, vec![-1]);
        assert_eq!(
            run(&["--watch", "0.5"]).watch,
            Some(Duration::from_millis(500))
        );
        assert_eq!(run(&["--user", "65534"]).uids, vec![65534]);
        assert_eq!(p(&["--json", "--help"]), Ok(Command::Help));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(p(&["--help", "--version"]), Ok(Command::Help));
        assert_eq!(run(&["--json", "--"]), run(&["--json"]));
        assert_eq!(run(&["--key", "0xA"]).keys, vec![10]);
        assert_eq!(run(&["--key", "-2147483648"]).keys, vec![i32::MIN]);
        assert_eq!(run(&["--watch", "2"]).watch, Some(Duration::from_secs(2)));
    }

    #[test]
    fn bad_arguments_are_one_line_each() {
        let e = |a: &[&str]| p(a).unwrap_err();
        assert_eq!(e(&["--bogus"]), "unknown option --bogus");
        assert_eq!(e(&["list"]), "unexpected argument list");
        assert_eq!(e(&["--pid"]), "--pid needs a value");
        assert_eq!(
            e(&["--pid", "0"]),
            "--pid 0: not a number from 1 to 2147483647"
        );
        assert_eq!(
            e(&["--id", "x"]),
            "--id x: not a number from 0 to 2147483647"
        );
        assert_eq!(
            e(&["--key", "0x1ffffffff"]),
            "--key 0x1ffffffff: not a key (0x and up to 8 hex digits, or a decimal number)"
        );
        assert_eq!(
            e(&["--watch", "0"]),
            "--watch 0: not a number of seconds from 0.1 to 86400"
        );
        assert_eq!(e(&["--json=yes"]), "--json takes no value");
        assert_eq!(
            e(&["--user", "no-such-user-rshm"]),
            "--user no-such-user-rshm: no such user (a name, or a uid from 0 to 4294967294)"
        );
        let bad_key = |k: &str| {
            format!("--key {k}: not a key (0x and up to 8 hex digits, or a decimal number)")
        };
        for k in [
            "0x+1",
            "+7",
            "0x000000001",
            "0x",
            "",
            " 7",
            "1e3",
            "--7",
            "4294967296",
        ] {
            assert_eq!(e(&["--key", k]), bad_key(k), "{k:?}");
        }
        assert_eq!(
            e(&["--user", "4294967295"]),
            "--user 4294967295: no such user (a name, or a uid from 0 to 4294967294)"
        );
        assert_eq!(
            e(&["--pid", "+7"]),
            "--pid +7: not a number from 1 to 2147483647"
        );
        for w in ["inf", "1e0", "+1", ".5", "1.", "0.05"] {
            assert_eq!(
                e(&["--watch", w]),
                format!("--watch {w}: not a number of seconds from 0.1 to 86400")
            );
        }
        assert_eq!(e(&["--help=1"]), "--help takes no value");
        assert_eq!(e(&["--version="]), "--version takes no value");
        assert_eq!(e(&["--json="]), "--json takes no value");
        assert_eq!(e(&["--help", "--bogus"]), "unknown option --bogus");
        assert_eq!(e(&["--bogus", "--help"]), "unknown option --bogus");
        assert_eq!(e(&["--", "--json"]), "unexpected argument --json");
        assert_eq!(e(&["-"]), "unexpected argument -");
        assert_eq!(
            e(&["--watch", "1", "--json"]),
            "--watch and --json cannot be combined (run --json in a loop instead)"
        );
    }
}
