//! The command line: strace's conventions where strace has the option (`-o`, `-ff`, `-c`,
//! `-e trace=`), `--opt=value` and `--opt value` alike, `-oFILE` and `-o FILE` alike.

use rshm_core::__private::config::Level;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

/// `--help`'s text.
pub const HELP: &str = "usage: rshm-trace [OPTIONS] [--] COMMAND [ARGS...]

Runs COMMAND with librshm_preload.so preloaded and shows every System V shared-memory call
it and every process it starts make (shmget, shmat, shmdt, shmctl), checked and explained,
then sums up the run: calls, failures, and one row per segment, with the leaks.

  -o FILE, --output=FILE   write the trace to FILE (made or emptied) instead of standard
                           error; /dev/stdout, /dev/stderr, a pipe and /dev/null all work
  -ff                      with -o PREFIX: one file per process, PREFIX.PID
  -c, --summary-only       no trace lines: the summary only
  -e trace=CALL[,CALL...]  show only these calls (shmget, shmat, shmdt, shmctl)
  -e cmd=CMD[,CMD...]      show only shmctl calls with these commands (IPC_RMID, ...)
                           (filters change what is shown, never what the summary counts)
  --level=LEVEL            the lines shown: off, error, warn, info (default), debug, trace
  --json                   one JSON object a line; the summary as one JSON object
  --summary-json=FILE      write the summary to FILE as JSON (see rshm-trace(1))
  --html=FILE              draw the run as a timeline in one self-contained page
  --strict                 make calls that break a rule fail (RSHM_STRICT=1)
  --report                 list, as each process exits, what it leaves behind
  --no-wait                return when COMMAND exits, naming the processes it left
                           running (their later calls are not counted)
  --complete               also see the shm system calls the preload library cannot:
                           static binaries, raw syscall(2), RTLD_DEEPBIND, dlsym (a
                           seccomp filter stops only those; rshm-trace is their ptracer)
  -h, --help               this text
  --version                rshm-trace's version

The exit status is COMMAND's (128+N when a signal N ended it).";

/// What a run is asked to do.
#[derive(Debug, Default)]
pub struct Options {
    /// `-o`.
    pub output: Option<PathBuf>,
    /// `-ff`.
    pub per_process: bool,
    /// `-c`.
    pub summary_only: bool,
    /// `-e trace=`: the calls shown (empty: all).
    pub calls: BTreeSet<String>,
    /// `-e cmd=`: the shmctl commands shown (empty: all).
    pub commands: BTreeSet<String>,
    /// `--level`.
    pub level: Option<Level>,
    /// `--json`.
    pub json: bool,
    /// `--summary-json`.
    pub summary_json: Option<PathBuf>,
    /// `--html`.
    pub html: Option<PathBuf>,
    /// `--strict`.
    pub strict: bool,
    /// `--report`.
    pub report: bool,
    /// `--complete`.
    pub complete: bool,
    /// `--no-wait`.
    pub no_wait: bool,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

impl Options {
    /// The level of lines shown.
    pub fn level(&self) -> Level {
        self.level.unwrap_or(Level::Info)
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Ask {
    /// A run.
    Run(Box<Options>),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

const CALLS: [&str; 4] = ["shmget", "shmat", "shmdt", "shmctl"];
const COMMANDS: [&str; 9] = [
    "IPC_RMID",
    "IPC_SET",
    "IPC_STAT",
    "IPC_INFO",
    "SHM_LOCK",
    "SHM_UNLOCK",
    "SHM_STAT",
    "SHM_INFO",
    "SHM_STAT_ANY",
];

/// Parses the arguments after the program's name. `Err` is a usage error, one sentence.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Ask, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let Some(s) = a.to_str().map(str::to_string) else {
            o.command.push(a);
            break;
        };
        if s == "--" {
            break;
        }
        if !s.starts_with('-') || s == "-" {
            o.command.push(a);
            break;
        }
        // --name=value, --name value, -xVALUE, -x VALUE.
        let (name, inline) = if let Some(long) = s.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (s.clone(), None),
            }
        } else if s.len() > 2 && (s.starts_with("-o") || s.starts_with("-e")) {
            (s[..2].to_string(), Some(s[2..].to_string()))
        } else {
            (s.clone(), None)
        };
        let mut value = |what: &str| -> Result<OsString, String> {
            match &inline {
                Some(v) => Ok(v.into()),
                None => args.next().ok_or(format!("{name} needs {what}")),
            }
        };
        let flag = |inline: &Option<String>| -> Result<(), String> {
            match inline {
                Some(_) => Err(format!("{name} takes no value")),
                None => Ok(()),
            }
        };
        match name.as_str() {
            "-o" | "--output" => o.output = Some(value("a file name")?.into()),
            "-e" => {
                let v = value("an expression (trace=CALLS or cmd=COMMANDS)")?;
                expression(&v.to_string_lossy(), &mut o)?;
            }
            "--level" => {
                let v = value("a level")?;
                let v = v.to_string_lossy();
                o.level = Some(Level::parse(v.as_bytes()).ok_or(format!(
                    "--level {v}: not one of off, error, warn, info, debug, trace"
                ))?);
            }
            "--summary-json" => o.summary_json = Some(value("a file name")?.into()),
            "--html" => o.html = Some(value("a file name")?.into()),
            "-ff" => {
                flag(&inline)?;
                o.per_process = true
            }
            "-c" | "--summary-only" => {
                flag(&inline)?;
                o.summary_only = true
            }
            "--json" => {
                flag(&inline)?;
                o.json = true
            }
            "--strict" => {
                flag(&inline)?;
                o.strict = true
            }
            "--report" => {
                flag(&inline)?;
                o.report = true
            }
            "--no-wait" => {
                flag(&inline)?;
                o.no_wait = true
            }
            "--complete" => {
                flag(&inline)?;
                o.complete = true
            }
            "-h" | "--help" => return Ok(Ask::Help),
            "--version" => return Ok(Ask::Version),
            "-p" | "--attach" => {
                return Err(
                    "-p: a running process cannot be traced, because the preload library \
                     is loaded only when a program starts; run the command under rshm-trace"
                        .into(),
                );
            }
            _ => return Err(format!("unknown option {s}")),
        }
    }
    o.command.extend(args);
    if o.command.is_empty() {
        return Err("no command to run".into());
    }
    if o.complete && o.no_wait {
        return Err(
            "--complete cannot be used with --no-wait: a process still running when \
                    rshm-trace leaves would keep the seccomp filter without its tracer, and \
                    its shm system calls would fail with ENOSYS"
                .into(),
        );
    }
    if o.per_process && o.output.is_none() {
        return Err("-ff needs -o PREFIX (the files are PREFIX.PID)".into());
    }
    Ok(Ask::Run(Box::new(o)))
}

/// `trace=shmat,shmdt` or `cmd=IPC_RMID`.
fn expression(e: &str, o: &mut Options) -> Result<(), String> {
    let (what, list) = e
        .split_once('=')
        .ok_or(format!("-e {e}: not trace=CALLS or cmd=COMMANDS"))?;
    let (known, set): (&[&str], &mut BTreeSet<String>) = match what {
        "trace" => (&CALLS, &mut o.calls),
        "cmd" => (&COMMANDS, &mut o.commands),
        _ => return Err(format!("-e {e}: not trace=CALLS or cmd=COMMANDS")),
    };
    for item in list.split(',') {
        let item = if what == "cmd" {
            item.to_ascii_uppercase()
        } else {
            item.to_string()
        };
        if !known.contains(&item.as_str()) {
            return Err(format!("-e {e}: {item} is not one of {}", known.join(", ")));
        }
        set.insert(item);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &[&str]) -> Result<Options, String> {
        match parse(a.iter().map(OsString::from))? {
            Ask::Run(o) => Ok(*o),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn values_go_inline_or_apart() {
        let o = run(&[
            "-otrace.log",
            "--level=debug",
            "-e",
            "trace=shmat,shmdt",
            "ls",
            "-l",
        ])
        .unwrap();
        assert_eq!(o.output, Some("trace.log".into()));
        assert_eq!(o.level(), Level::Debug);
        assert_eq!(o.calls.iter().collect::<Vec<_>>(), ["shmat", "shmdt"]);
        assert_eq!(o.command, ["ls", "-l"]);
        let o = run(&[
            "-o",
            "x",
            "--level",
            "warn",
            "-ecmd=ipc_rmid",
            "--",
            "-weird",
        ])
        .unwrap();
        assert_eq!(o.output, Some("x".into()));
        assert_eq!(o.level(), Level::Warn);
        assert_eq!(o.commands.iter().collect::<Vec<_>>(), ["IPC_RMID"]);
        assert_eq!(o.command, ["-weird"]);
        let o = run(&[
            "--output=f",
            "-ff",
            "-c",
            "--json",
            "--html=p.html",
            "--summary-json",
            "s.json",
            "true",
        ])
        .unwrap();
        assert!(o.per_process && o.summary_only && o.json);
        assert_eq!(o.html, Some("p.html".into()));
        assert_eq!(o.summary_json, Some("s.json".into()));
    }

    #[test]
    fn usage_errors_are_one_sentence() {
        assert_eq!(
            run(&["--bogus", "x"]).unwrap_err(),
            "unknown option --bogus"
        );
        assert_eq!(run(&[]).unwrap_err(), "no command to run");
        assert_eq!(run(&["-o"]).unwrap_err(), "-o needs a file name");
        assert_eq!(
            run(&["-ff", "x"]).unwrap_err(),
            "-ff needs -o PREFIX (the files are PREFIX.PID)"
        );
        assert_eq!(
            run(&["--json=1", "x"]).unwrap_err(),
            "--json takes no value"
        );
        assert_eq!(
            run(&["-e", "trace=shmfoo", "x"]).unwrap_err(),
            "-e trace=shmfoo: shmfoo is not one of shmget, shmat, shmdt, shmctl"
        );
        assert_eq!(
            run(&["--level=loud", "x"]).unwrap_err(),
            "--level loud: not one of off, error, warn, info, debug, trace"
        );
        assert!(
            run(&["-p", "123"])
                .unwrap_err()
                .starts_with("-p: a running process cannot be traced")
        );
        assert!(matches!(parse([OsString::from("--help")]), Ok(Ask::Help)));
        assert!(matches!(parse([OsString::from("-h")]), Ok(Ask::Help)));
        assert!(matches!(
            parse([OsString::from("--version")]),
            Ok(Ask::Version)
        ));
    }
}
