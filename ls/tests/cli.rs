//! The command line: --help, --version, and usage errors (one line, status 2).

mod common;
use common::RSHM_LS;
use std::process::Command;

/// rshm-ls with `args` and `env` added: (exit status, stdout, stderr).
fn ls(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(RSHM_LS)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap(), s(&out.stdout), s(&out.stderr))
}

#[test]
fn help_goes_to_stdout_with_status_0_and_names_every_option() {
    let (code, out, err) = ls(&["--help"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out.lines().next(),
        Some(
            "usage: rshm-ls [--orphans] [--json] [--watch SECS] [--pid PID] [--key KEY] [--id ID] [--user USER]"
        )
    );
    for option in [
        "--orphans",
        "--json",
        "--watch SECS",
        "--pid PID",
        "--key KEY",
        "--id ID",
        "--user USER",
        "-h, --help",
        "--version",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("  {option}  "))),
            "no line for {option}:\n{out}"
        );
    }
    assert_eq!(ls(&["-h"], &[]).1, out);
}

#[test]
fn version_is_rshm_ls_0_1_0() {
    assert_eq!(
        ls(&["--version"], &[]),
        (0, "rshm-ls 0.1.0\n".into(), String::new())
    );
}

#[test]
fn a_bad_option_is_one_line_on_stderr_and_status_2() {
    let hint = " (rshm-ls --help lists the options)\n";
    let key =
        |k: &str| format!("--key {k}: not a key (0x and up to 8 hex digits, or a decimal number)");
    let cases: Vec<(&[&str], String)> = vec![
        (&["--bogus"], "unknown option --bogus".into()),
        (&["--orphans", "--bogus"], "unknown option --bogus".into()),
        (&["--pid"], "--pid needs a value".into()),
        (&["--key", "0xnothex"], key("0xnothex")),
        (
            &["--watch", "0.01"],
            "--watch 0.01: not a number of seconds from 0.1 to 86400".into(),
        ),
        (
            &["--user", "no-such-user-rshm-ls"],
            "--user no-such-user-rshm-ls: no such user (a name, or a uid from 0 to 4294967294)"
                .into(),
        ),
        // Strict: a sign, a ninth hex digit, (uid_t) -1, a value for an option that takes
        // none, and an error after --help are all errors.
        (&["--key", "0x+1"], key("0x+1")),
        (&["--key", "+7"], key("+7")),
        (&["--key", "0x000000001"], key("0x000000001")),
        (
            &["--user", "4294967295"],
            "--user 4294967295: no such user (a name, or a uid from 0 to 4294967294)".into(),
        ),
        (&["--help=1"], "--help takes no value".into()),
        (&["--json="], "--json takes no value".into()),
        (&["--help", "--bogus"], "unknown option --bogus".into()),
        (&["--bogus", "--help"], "unknown option --bogus".into()),
        (&["--", "--orphans"], "unexpected argument --orphans".into()),
    ];
    for (args, msg) in &cases {
        assert_eq!(
            ls(args, &[]),
            (2, String::new(), format!("rshm-ls: {msg}{hint}")),
            "{args:?}"
        );
    }
}

#[test]
fn double_dash_ends_the_options() {
    let (code, out, err) = ls(&["--version", "--"], &[]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "rshm-ls 0.1.0\n", "")
    );
}

#[test]
fn an_unknown_table_source_is_refused_with_status_2() {
    let (code, out, err) = ls(&["--orphans"], &[("RSHM_LS_TABLE", "ipcs")]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "rshm-ls: RSHM_LS_TABLE=ipcs: not one of proc, shm_stat_any, shm_stat\n"
    );
}
