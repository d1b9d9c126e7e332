//! What the rshm-ls tests share: a world (a private IPC namespace, with a pid namespace
//! and a /proc of its own, so every process and segment in it is the test's), the agent
//! that acts in it (helper.c), a JSON parser, and a validator for the JSON Schema subset
//! ls/schema.json uses.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The rshm-ls under test.
pub const RSHM_LS: &str = env!("CARGO_BIN_EXE_rshm-ls");

/// helper.c, compiled once per test binary into one place (built under a name of its own,
/// then renamed over the last one, so a binary running it meanwhile is not disturbed).
fn helper() -> &'static Path {
    static HELPER: OnceLock<PathBuf> = OnceLock::new();
    HELPER.get_or_init(|| {
        // Its command (/proc/PID/comm) is "helper", whatever the directory.
        let mut dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rshm-ls-helper");
        if std::fs::create_dir_all(&dir).is_err() {
            // A target directory this user may not write (a test binary run by another user).
            dir = std::env::temp_dir().join(format!("rshm-ls-helper-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
        }
        let exe = dir.join("helper");
        let building = dir.join(format!("helper.{}", std::process::id()));
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helper.c");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(&cc)
            .args(["-O1", "-pthread", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&building)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("{cc}: {e}"));
        assert!(
            out.status.success(),
            "{cc} {}: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&building, &exe).unwrap();
        exe
    })
}

/// The helper's path (for `helper hold KEY` in a script).
pub fn helper_path() -> String {
    helper().display().to_string()
}

/// Whether this machine runs the tests as root (else in a user namespace, mapped to root).
pub fn root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What one rshm-ls run printed, and its exit status.
#[derive(Debug)]
pub struct Run {
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
    /// `exit N` or `signal N`.
    pub status: String,
}

impl Run {
    /// The exit status, failing the test if it was a signal.
    pub fn code(&self) -> i32 {
        self.status
            .strip_prefix("exit ")
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{self:?}"))
    }

    /// The last line of standard output.
    pub fn last(&self) -> &str {
        self.out.lines().last().unwrap_or("")
    }

    /// The text lines of standard output.
    pub fn lines(&self) -> Vec<&str> {
        self.out.lines().collect()
    }
}

/// A private IPC namespace (with its own pid namespace and /proc) and the agent in it.
/// Dropping it ends the agent (it removes what it made) and, failing that, kills it: the
/// namespace, with any segment still in it, disappears with its last process.
pub struct World {
    child: Child,
    to: Option<ChildStdin>,
    from: BufReader<ChildStdout>,
    /// A directory of this world's own, for output files.
    pub dir: PathBuf,
    runs: usize,
}

/// Worlds made by this test binary (their directories are numbered).
static WORLDS: AtomicUsize = AtomicUsize::new(0);

impl World {
    /// A new world, or None (after saying why) where no namespace can be made and
    /// RSHM_TEST_REQUIRE_ALL is not 1.
    pub fn new() -> Option<World> {
        let mut cmd = Command::new("unshare");
        if !root() {
            cmd.args(["--user", "--map-root-user"]);
        }
        cmd.args(["--ipc", "--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(helper());
        let probe = Command::new("unshare")
            .args(if root() {
                &[][..]
            } else {
                &["--user", "--map-root-user"][..]
            })
            .args(["--ipc", "--pid", "--fork", "--mount-proc", "true"])
            .output();
        if !probe.as_ref().is_ok_and(|o| o.status.success()) {
            let why = probe.map_or_else(
                |e| e.to_string(),
                |o| String::from_utf8_lossy(&o.stderr).into_owned(),
            );
            assert!(
                std::env::var("RSHM_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "no private namespaces: {why}"
            );
            eprintln!("SKIP: no private IPC and pid namespace can be made here: {why}");
            return None;
        }
        let n = WORLDS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rshm-ls-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let to = child.stdin.take();
        let from = BufReader::new(child.stdout.take().unwrap());
        Some(World {
            child,
            to,
            from,
            dir,
            runs: 0,
        })
    }

    /// Sends one command; returns the words of its `ok` reply (fails the test on `err`).
    pub fn cmd(&mut self, line: &str) -> Vec<String> {
        let to = self.to.as_mut().unwrap();
        writeln!(to, "{line}").unwrap();
        to.flush().unwrap();
        let mut reply = String::new();
        self.from.read_line(&mut reply).unwrap();
        let reply = reply.trim_end();
        match reply.strip_prefix("ok") {
            Some(rest) => rest.split_whitespace().map(str::to_string).collect(),
            None => panic!("{line}: {reply:?}"),
        }
    }

    /// `create KEY SIZE MODE` in actor `actor` (0: the agent): the new segment's id.
    pub fn create(&mut self, actor: usize, key: u32, size: u64, mode: u32) -> i32 {
        let at = if actor == 0 {
            String::new()
        } else {
            format!("@{actor} ")
        };
        self.cmd(&format!("{at}create {key:x} {size} {mode:o}"))[0]
            .parse()
            .unwrap()
    }

    /// `attach ID` in actor `actor`: the address.
    pub fn attach(&mut self, actor: usize, id: i32) -> String {
        let at = if actor == 0 {
            String::new()
        } else {
            format!("@{actor} ")
        };
        self.cmd(&format!("{at}attach {id}"))[0].clone()
    }

    /// A new actor (a child of the agent, holding what it holds): (its number, its pid).
    pub fn fork(&mut self) -> (usize, i32) {
        let r = self.cmd("fork");
        (r[0].parse().unwrap(), r[1].parse().unwrap())
    }

    /// A segment made by a new actor that then exits (and is reaped): (its id, the
    /// creator's pid).
    pub fn orphan(&mut self, key: u32, size: u64, mode: u32) -> (i32, i32) {
        let (actor, pid) = self.fork();
        let id = self.create(actor, key, size, mode);
        self.cmd(&format!("@{actor} exit"));
        (id, pid)
    }

    /// The agent's pid (1: it is the pid namespace's first process).
    pub fn agent_pid(&self) -> i32 {
        1
    }

    /// Runs `argv` in the world, waits, and returns what it printed.
    pub fn run(&mut self, argv: &[&str]) -> Run {
        let out = self.next_out();
        let status = self
            .cmd(&format!("run {} {}", out.display(), argv.join(" ")))
            .join(" ");
        self.read(&out, status)
    }

    /// rshm-ls with `args`, as root of the world.
    pub fn ls(&mut self, args: &[&str]) -> Run {
        let mut argv = vec![RSHM_LS];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    /// Runs `argv` in actor `actor` (a child of it, in its namespaces), waits, and returns
    /// what it printed.
    pub fn run_in(&mut self, actor: usize, argv: &[&str]) -> Run {
        let out = self.next_out();
        let status = self
            .cmd(&format!(
                "@{actor} run {} {}",
                out.display(),
                argv.join(" ")
            ))
            .join(" ");
        self.read(&out, status)
    }

    /// Starts `argv` without waiting: (its pid, the output prefix).
    pub fn spawn(&mut self, argv: &[&str]) -> (i32, PathBuf) {
        let out = self.next_out();
        let pid = self.cmd(&format!("spawn {} {}", out.display(), argv.join(" ")))[0]
            .parse()
            .unwrap();
        (pid, out)
    }

    /// Waits for a process `spawn` started.
    pub fn wait(&mut self, pid: i32, out: &Path) -> Run {
        let status = self.cmd(&format!("wait {pid}")).join(" ");
        self.read(out, status)
    }

    fn next_out(&mut self) -> PathBuf {
        self.runs += 1;
        self.dir.join(format!("run{}", self.runs))
    }

    fn read(&self, out: &Path, status: String) -> Run {
        let file = |ext: &str| std::fs::read_to_string(out.with_extension(ext)).unwrap_or_default();
        Run {
            out: file("out"),
            err: file("err"),
            status,
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        drop(self.to.take());
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // unshare --kill-child takes the agent, and with it the namespaces, along.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The rows of a text listing, by id: the cells of the row (split at two or more spaces)
/// and the lines under it.
pub fn rows(text: &str) -> BTreeMap<i32, (Vec<String>, Vec<String>)> {
    let mut rows = BTreeMap::new();
    let mut current: Option<i32> = None;
    for line in text.lines() {
        if line.is_empty() {
            current = None;
            continue;
        }
        if let Some(sub) = line.strip_prefix("    ") {
            if let Some(id) = current {
                rows.entry(id)
                    .and_modify(|r: &mut (Vec<String>, Vec<String>)| r.1.push(sub.to_string()));
            }
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        current = cells.first().and_then(|c| c.parse().ok());
        if let Some(id) = current {
            rows.insert(id, (cells, Vec::new()));
        }
    }
    rows
}

/// The header's column names, in order.
pub const COLUMNS: [&str; 13] = [
    "ID", "KEY", "SIZE", "OWNER", "CREATOR", "MODE", "NATTCH", "CPID", "LPID", "ATTACHED",
    "DETACHED", "CHANGED", "STATE",
];

/// A cell of a row by its column name.
pub fn cell<'a>(row: &'a [String], column: &str) -> &'a str {
    let i = COLUMNS.iter().position(|c| *c == column).unwrap();
    assert_eq!(
        row.len(),
        COLUMNS.len(),
        "a row of {} cells: {row:?}",
        row.len()
    );
    &row[i]
}

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// null.
    Null,
    /// true, false.
    Bool(bool),
    /// A number, kept as its text (integers beyond 2^53 stay exact).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses one whole document.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at {}", p.i));
        }
        Ok(v)
    }

    /// The member `k` of an object (panics if absent).
    pub fn get(&self, k: &str) -> &Json {
        match self {
            Json::Obj(m) => {
                &m.iter()
                    .find(|(n, _)| n == k)
                    .unwrap_or_else(|| panic!("no key {k} in {self:?}"))
                    .1
            }
            _ => panic!("not an object: {self:?}"),
        }
    }

    /// An integer value.
    pub fn int(&self) -> i128 {
        match self {
            Json::Num(n) => n.parse().unwrap_or_else(|_| panic!("not an integer: {n}")),
            _ => panic!("not a number: {self:?}"),
        }
    }

    /// A string value.
    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }

    /// An array's items.
    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => panic!("not an array: {self:?}"),
        }
    }
}

/// A recursive-descent JSON parser over bytes.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    /// Skips white space.
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }

    /// Takes `lit` if it comes next.
    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    /// One value.
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        let c = *self.s.get(self.i).ok_or("unexpected end")?;
        match c {
            b'n' if self.eat("null") => Ok(Json::Null),
            b't' if self.eat("true") => Ok(Json::Bool(true)),
            b'f' if self.eat("false") => Ok(Json::Bool(false)),
            b'"' => self.string().map(Json::Str),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(Json::Arr(items));
                    }
                    if !self.eat(",") {
                        return Err(format!("expected , or ] at {}", self.i));
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return Err(format!("expected : at {}", self.i));
                    }
                    members.push((k, self.value()?));
                    self.ws();
                    if self.eat("}") {
                        return Ok(Json::Obj(members));
                    }
                    if !self.eat(",") {
                        return Err(format!("expected , or }} at {}", self.i));
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && b"0123456789.eE+-".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                Ok(Json::Num(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
            _ => Err(format!("unexpected {:?} at {}", c as char, self.i)),
        }
    }

    /// One string, unescaped.
    fn string(&mut self) -> Result<String, String> {
        if !self.eat("\"") {
            return Err(format!("expected a string at {}", self.i));
        }
        let mut out = String::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'u' => {
                            let hex = std::str::from_utf8(&self.s[self.i..self.i + 4])
                                .map_err(|e| e.to_string())?;
                            out.push(
                                char::from_u32(
                                    u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?,
                                )
                                .ok_or("bad \\u")?,
                            );
                            self.i += 4;
                        }
                        c => out.push(c as char),
                    }
                }
                c if c < 0x20 => {
                    return Err(format!("a control character in a string at {}", self.i));
                }
                _ => {
                    // Multi-byte UTF-8: copy the whole character.
                    let start = self.i - 1;
                    let len = match c {
                        0xf0.. => 4,
                        0xe0.. => 3,
                        0xc0.. => 2,
                        _ => 1,
                    };
                    out.push_str(
                        std::str::from_utf8(&self.s[start..start + len])
                            .map_err(|e| e.to_string())?,
                    );
                    self.i = start + len;
                }
            }
        }
    }
}

/// Validates `v` against `schema`, for the keywords ls/schema.json uses: `type` (a name or
/// a list of names), `properties`, `required`, `additionalProperties: false`, `items`,
/// `enum`, `minimum`, `pattern` (only the anchored `^0x[0-9a-f]{N}$` and `^[0-7]{4}$`
/// forms), `$ref` to `#/$defs/NAME`. Every error, with its path.
pub fn validate(schema_root: &Json, schema: &Json, v: &Json, path: &str, errors: &mut Vec<String>) {
    let Json::Obj(keywords) = schema else {
        errors.push(format!("{path}: schema is not an object"));
        return;
    };
    for (k, s) in keywords {
        match k.as_str() {
            "$ref" => {
                let name = s
                    .str()
                    .strip_prefix("#/$defs/")
                    .expect("only #/$defs/ references");
                validate(
                    schema_root,
                    schema_root.get("$defs").get(name),
                    v,
                    path,
                    errors,
                );
            }
            "type" => {
                let types: Vec<&str> = match s {
                    Json::Arr(a) => a.iter().map(Json::str).collect(),
                    t => vec![t.str()],
                };
                if !types.iter().any(|t| type_matches(t, v)) {
                    errors.push(format!("{path}: {v:?} is not of type {types:?}"));
                }
            }
            "properties" => {
                if let (Json::Obj(props), Json::Obj(members)) = (s, v) {
                    for (name, sub) in props {
                        if let Some((_, mv)) = members.iter().find(|(n, _)| n == name) {
                            validate(schema_root, sub, mv, &format!("{path}.{name}"), errors);
                        }
                    }
                }
            }
            "required" => {
                if let Json::Obj(members) = v {
                    for r in s.arr() {
                        if !members.iter().any(|(n, _)| n == r.str()) {
                            errors.push(format!("{path}: required key {} missing", r.str()));
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(s, &Json::Bool(false), "only additionalProperties: false");
                if let Json::Obj(members) = v {
                    let props = schema.get("properties");
                    for (n, _) in members {
                        if let Json::Obj(p) = props {
                            if !p.iter().any(|(pn, _)| pn == n) {
                                errors.push(format!("{path}: key {n} is not in the schema"));
                            }
                        }
                    }
                }
            }
            "items" => {
                if let Json::Arr(items) = v {
                    for (i, item) in items.iter().enumerate() {
                        validate(schema_root, s, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            "enum" => {
                if !s.arr().contains(v) {
                    errors.push(format!("{path}: {v:?} is not one of {s:?}"));
                }
            }
            "minimum" => {
                if let Json::Num(n) = v {
                    if n.parse::<i128>().unwrap_or(i128::MIN) < s.int() {
                        errors.push(format!("{path}: {n} is below {}", s.int()));
                    }
                }
            }
            "pattern" => {
                if let Json::Str(text) = v {
                    if !pattern_matches(s.str(), text) {
                        errors.push(format!("{path}: {text:?} does not match {}", s.str()));
                    }
                }
            }
            "description" | "title" | "$schema" | "$id" | "$defs" => {}
            other => errors.push(format!(
                "{path}: the test's validator does not know the keyword {other}"
            )),
        }
    }
}

/// Whether `v` is of the JSON Schema type `t`.
fn type_matches(t: &str, v: &Json) -> bool {
    match (t, v) {
        ("null", Json::Null) | ("boolean", Json::Bool(_)) | ("string", Json::Str(_)) => true,
        ("array", Json::Arr(_)) | ("object", Json::Obj(_)) => true,
        ("integer", Json::Num(n)) => n.parse::<i128>().is_ok(),
        ("number", Json::Num(_)) => true,
        _ => false,
    }
}

/// The two pattern forms the schema uses.
fn pattern_matches(pattern: &str, s: &str) -> bool {
    match pattern {
        "^0x[0-9a-f]{8}$" => {
            s.len() == 10
                && s.starts_with("0x")
                && s[2..]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        "^0x[0-9a-f]+$" => {
            s.len() > 2
                && s.starts_with("0x")
                && s[2..]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        "^[0-7]{4}$" => s.len() == 4 && s.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        other => panic!("the test's validator does not know the pattern {other}"),
    }
}

/// ls/schema.json.
pub fn schema() -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.json");
    Json::parse(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every way `doc` breaks ls/schema.json.
pub fn schema_errors(doc: &Json) -> Vec<String> {
    let s = schema();
    let mut errors = Vec::new();
    validate(&s, &s, doc, "$", &mut errors);
    errors
}
