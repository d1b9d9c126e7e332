//! `--html FILE`: one self-contained page that draws a run as a timeline — a row per
//! segment (its life from creation to removal, leaked ones in red) above a lane per
//! process (its attaches and detaches, its failures and warnings) — and lists the
//! segments and processes in tables below the picture.
//!
//! Nothing is fetched from anywhere: no script, font, style sheet or image, so the page
//! reads the same offline, from a file, years later. Hover text is SVG `<title>`, which
//! needs no script. A busy run is thinned to a few MB, and the page says what it left out.

use crate::model::{End, Exit, Incident, Mark, MarkKind, Run, Seg};
use crate::summary;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io;

/// Marks drawn in one process lane at most; a busier lane is thinned (the page says so).
pub const MAX_LANE_MARKS: usize = 5_000;
/// Marks drawn in all lanes together at most, so that the page stays a few MB.
pub const MAX_DRAWN_MARKS: usize = 20_000;
/// Segment rows drawn at most (the table lists every segment).
pub const MAX_SEG_ROWS: usize = 500;
/// Process lanes drawn at most (the table lists every process).
pub const MAX_LANES: usize = 500;
/// Failures and warnings listed in the table under the picture (all are drawn).
pub const MAX_INCIDENT_ROWS: usize = 200;

/// The picture's width in SVG units (it scales to the window).
const WIDTH: f64 = 1200.0;
/// The label column on the left.
const LEFT: f64 = 210.0;
/// Room after a bar that reaches the end of the run, for its end word.
const RIGHT: f64 = 110.0;
/// A segment row's height.
const SEG_H: f64 = 16.0;
/// A process lane's height.
const LANE_H: f64 = 24.0;
/// Leaked segments.
const LEAKED: &str = "#d62728";
/// Failed calls.
const FAILURE: &str = "#7b0c2e";
/// Calls that succeeded with a warning.
const WARNING: &str = "#f2a900";
/// One colour per segment (by row, cycling); no red, which says "leaked".
const PALETTE: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#7f7f7f", "#393b79", "#637939", "#3182bd",
];

/// The page's style: system fonts only.
const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .4em}
code,td.n,svg text{font-family:ui-monospace,monospace}
svg{width:100%;height:auto;display:block;border:1px solid #ddd}
svg text{font-size:11px}svg .h{font-weight:bold;font-family:system-ui,sans-serif}
svg .mk:hover,svg .bar:hover{stroke:#000;stroke-width:1.5}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
th{background:#f4f4f4}td.n{text-align:right;white-space:nowrap}tr.leaked td{color:#b00;background:#fff3f3}
.note{color:#666}.sw{display:inline-block;width:.8em;height:.8em;margin-right:.3em}";

/// Writes the page of `run` to `out`.
pub fn write(run: &Run, out: &mut dyn io::Write) -> io::Result<()> {
    out.write_all(page(run).as_bytes())
}

/// Appends to a `String` (which cannot fail).
macro_rules! w {
    ($s:expr, $($t:tt)*) => {
        let _ = write!($s, $($t)*);
    };
}

/// The whole page.
fn page(run: &Run) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let cmd = esc(&command_line(&run.command));
    w!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>rshm-trace: {cmd}</title><style>{CSS}</style></head><body>\n\
         <h1>rshm-trace: <code>{cmd}</code></h1>\n"
    );
    summary(run, &mut s);
    let sc = Scale::of(run);
    let mut notes = vec![];
    svg(run, &sc, &mut s, &mut notes);
    if run.marks_dropped > 0 {
        notes.push(format!(
            "{} attaches and detaches after the first {} are counted in the tables but not drawn.",
            run.marks_dropped,
            run.marks.len()
        ));
    }
    for n in &notes {
        w!(s, "<p class=\"note\">{}</p>\n", esc(n));
    }
    seg_table(run, &mut s);
    proc_table(run, &sc, &mut s);
    incident_table(run, &sc, &mut s);
    s.push_str("</body></html>\n");
    s
}

/// The line under the title: how the command ended, what it did, what was not seen.
fn summary(run: &Run, s: &mut String) {
    let exit = match run.exit {
        Exit::Running => "still running".to_string(),
        Exit::Code(c) => format!("exit code {c}"),
        Exit::Signal(n) => format!("killed by {}", signal_name(n)),
    };
    w!(
        s,
        "<p>{exit} · {} · {} calls{} in {} processes · {} failed · {} warnings · \
         segments: {} created, {} removed, <span{}>{} leaked</span></p>\n",
        dur(run.end_ns.saturating_sub(run.start_ns)),
        run.total_calls(),
        run.trapped.map_or(String::new(), |n| format!(
            " (<span data-stopped=\"{n}\">{n} made without the preload library</span>, seen by --complete)"
        )),
        run.process_count(),
        run.total_failed(),
        run.warnings,
        run.created(),
        run.removed(),
        if run.leaked() > 0 {
            " style=\"color:#b00;font-weight:bold\""
        } else {
            ""
        },
        run.leaked(),
    );
    if !run.still_running.is_empty() {
        let who: Vec<String> = run
            .still_running
            .iter()
            .map(|(pid, comm)| format!("{pid} ({comm})"))
            .collect();
        w!(
            s,
            "<p class=\"note\">Still running when rshm-trace left: {}</p>\n",
            esc(&who.join(", "))
        );
    }
    if !run.blind.is_empty() {
        s.push_str("<ul class=\"note\">");
        for b in &run.blind {
            w!(s, "<li>{}</li>", esc(b));
        }
        s.push_str("</ul>\n");
    }
}

/// Maps wall-clock times onto the picture's x axis.
struct Scale {
    /// The time at the left edge (the run's start).
    t0: u64,
    /// The time span across the plot, never 0.
    span: u64,
}

impl Scale {
    /// From the run's start to its end, widened to any event outside them (a clock that
    /// stepped, a start that was never set) rather than piling those on an edge.
    fn of(run: &Run) -> Scale {
        let times = run
            .procs
            .values()
            .flat_map(|p| [p.first_ns, p.last_ns])
            .chain(run.segs.iter().map(|g| g.first_ns))
            .chain(run.segs.iter().filter_map(|g| g.removed_by.map(|r| r.1)))
            .chain(run.marks.iter().map(|m| m.ts_ns))
            .chain(run.incidents.iter().map(|i| i.ts_ns))
            .filter(|&t| t != 0);
        let (mut t0, mut t1) = (run.start_ns, run.end_ns.max(run.start_ns));
        for t in times {
            if t0 == 0 || t < t0 {
                t0 = t;
            }
            t1 = t1.max(t);
        }
        Scale {
            t0,
            span: t1.saturating_sub(t0).max(1),
        }
    }

    /// The x of time `ts`.
    fn x(&self, ts: u64) -> f64 {
        let f = ts.saturating_sub(self.t0) as f64 / self.span as f64;
        LEFT + f.min(1.0) * (WIDTH - LEFT - RIGHT)
    }

    /// The x of the run's end.
    fn x_end(&self) -> f64 {
        WIDTH - RIGHT
    }

    /// `ts` as "+1.234 ms" from the start of the run.
    fn rel(&self, ts: u64) -> String {
        let d = ts.saturating_sub(self.t0);
        if d < 1_000_000_000 {
            format!("+{:.3} ms", d as f64 / 1e6)
        } else {
            format!("+{:.3} s", d as f64 / 1e9)
        }
    }
}

/// The picture: the time axis, the segment rows, the process lanes, a legend.
fn svg(run: &Run, sc: &Scale, s: &mut String, notes: &mut Vec<String>) {
    let seg_rows = run.segs.len().min(MAX_SEG_ROWS);
    let lanes = lanes(run);
    let shown = &lanes[..lanes.len().min(MAX_LANES)];
    let top = 26.0;
    let segs_y = top + 18.0;
    let procs_head = segs_y + seg_rows as f64 * SEG_H + 10.0;
    let procs_y = procs_head + 18.0;
    let legend_y = procs_y + shown.len() as f64 * LANE_H + 8.0;
    let height = legend_y + 22.0;
    w!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         role=\"img\" aria-label=\"timeline\">\n"
    );
    axis(sc, top, legend_y, s);
    w!(
        s,
        "<text class=\"h\" x=\"4\" y=\"{}\">segments</text>\n",
        segs_y - 5.0
    );
    for (i, g) in run.segs.iter().take(seg_rows).enumerate() {
        seg_row(sc, i, g, segs_y + i as f64 * SEG_H, s);
    }
    if run.segs.len() > seg_rows {
        notes.push(format!(
            "The picture shows the first {seg_rows} of {} segments; the table lists all.",
            run.segs.len()
        ));
    }
    w!(
        s,
        "<text class=\"h\" x=\"4\" y=\"{}\">processes</text>\n",
        procs_y - 5.0
    );
    let mut by_pid: BTreeMap<i32, Vec<&Mark>> = BTreeMap::new();
    for m in &run.marks {
        by_pid.entry(m.pid).or_default().push(m);
    }
    let busy = shown.iter().filter(|p| by_pid.contains_key(p)).count();
    let budget = MAX_LANE_MARKS.min((MAX_DRAWN_MARKS / busy.max(1)).max(100));
    for (i, &pid) in shown.iter().enumerate() {
        let marks = by_pid.get(&pid).map(Vec::as_slice).unwrap_or(&[]);
        let drawn = thin(marks, budget, sc);
        if drawn.len() < marks.len() {
            notes.push(format!(
                "pid {pid} ({}): {} attaches and detaches, {} drawn (at most one per pixel, \
                 segment and kind, then evenly spaced); the tables count them all.",
                run.comm(pid).unwrap_or("?"),
                marks.len(),
                drawn.len()
            ));
        }
        lane(run, sc, i, pid, &drawn, procs_y + i as f64 * LANE_H, s);
    }
    if lanes.len() > shown.len() {
        notes.push(format!(
            "The picture shows the first {} of {} processes; the table lists all.",
            shown.len(),
            lanes.len()
        ));
    }
    legend(legend_y, s);
    s.push_str("</svg>\n");
}

/// Tick labels along the top and a light grid line down through every row.
fn axis(sc: &Scale, top: f64, bottom: f64, s: &mut String) {
    let (step, unit, name) = tick_step(sc.span);
    // Decimals enough for a step below the unit (0.5 ms, 0.02 s).
    let decimals = if step >= unit {
        0
    } else {
        (unit as f64 / step as f64).log10().ceil() as usize
    };
    w!(
        s,
        "<text x=\"4\" y=\"{}\" fill=\"#666\">time ({name})</text>\n",
        top - 10.0
    );
    let mut t = 0;
    while t <= sc.span {
        let x = sc.x(sc.t0 + t);
        w!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{bottom}\" stroke=\"#eee\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#666\">{:.*}</text>\n",
            top - 6.0,
            top - 10.0,
            decimals,
            t as f64 / unit as f64
        );
        t += step;
    }
}

/// A step of 1, 2 or 5 × 10^k ns giving about eight ticks over `span`, the unit of its
/// labels in ns, and that unit's name.
fn tick_step(span: u64) -> (u64, u64, &'static str) {
    let raw = (span / 8).max(1);
    let mut mag = 1u64;
    while mag.saturating_mul(10) <= raw {
        mag *= 10;
    }
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| m * mag)
        .find(|&st| st >= raw)
        .unwrap_or(10 * mag);
    let (unit, name) = match step {
        s if s >= 500_000_000 => (1_000_000_000, "s"),
        s if s >= 500_000 => (1_000_000, "ms"),
        s if s >= 500 => (1_000, "µs"),
        _ => (1, "ns"),
    };
    (step, unit, name)
}

/// One segment's row: its colour swatch and label, the bar of its life, its end word.
fn seg_row(sc: &Scale, i: usize, g: &Seg, y: f64, s: &mut String) {
    let colour = PALETTE[i % PALETTE.len()];
    let x0 = sc.x(g.first_ns);
    let x1 = match (g.destroyed_ns, g.removed_by) {
        (Some(ts), _) | (None, Some((_, ts))) => sc.x(ts),
        (None, None) => sc.x_end(),
    }
    .max(x0 + 2.0);
    let (fill, opacity) = match g.end {
        End::Leaked => (LEAKED, 1.0),
        End::Removed | End::RemovedAttached => (colour, 1.0),
        // Not made or not removed by the run: its real life is longer than the bar.
        _ => (colour, 0.35),
    };
    let mut tip = format!(
        "segment {} key {}, {}; {} at {}",
        g.id,
        key_str(g.key),
        size_str(g.size),
        match summary::creator(g) {
            Some(c) => format!("made by {c}"),
            None => "first seen".into(),
        },
        sc.rel(g.first_ns)
    );
    match g.removed_by {
        Some((_, ts)) => {
            let _ = write!(
                tip,
                "; removed by {} at {}",
                summary::remover(g).unwrap_or_default(),
                sc.rel(ts)
            );
        }
        None => {
            let _ = write!(tip, "; {}", end_text(g));
        }
    }
    w!(
        s,
        "<g class=\"seg\" data-shmid=\"{}\" data-end=\"{}\"><title>{}</title>\
         <rect x=\"4\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"{colour}\"/>\
         <text x=\"18\" y=\"{:.1}\">{} {}</text>\
         <rect class=\"bar\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
         fill=\"{fill}\" fill-opacity=\"{opacity}\"/>",
        g.id,
        g.end.word(),
        esc(&tip),
        y + 3.5,
        y + 12.0,
        g.id,
        key_str(g.key),
        y + 2.0,
        x1 - x0,
        SEG_H - 4.0,
    );
    if g.end != End::Removed {
        let colour = if g.end == End::Leaked { LEAKED } else { "#666" };
        w!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{}</text>",
            x1 + 4.0,
            y + 12.0,
            g.end.word()
        );
    }
    s.push_str("</g>\n");
}

/// The pids with a lane, in the order of their first call (pid order breaks ties):
/// every process of the run, and any pid only the marks or incidents name.
fn lanes(run: &Run) -> Vec<i32> {
    let mut first: BTreeMap<i32, u64> = run.procs.values().map(|p| (p.pid, p.first_ns)).collect();
    let others = run
        .marks
        .iter()
        .map(|m| (m.pid, m.ts_ns))
        .chain(run.incidents.iter().map(|i| (i.pid, i.ts_ns)));
    for (pid, ts) in others {
        let t = first.entry(pid).or_insert(ts);
        if !run.procs.contains_key(&pid) {
            *t = (*t).min(ts);
        }
    }
    let mut v: Vec<(u64, i32)> = first.into_iter().map(|(p, t)| (t, p)).collect();
    v.sort_unstable();
    v.into_iter().map(|(_, p)| p).collect()
}

/// At most `budget` of `marks`: first one per pixel, segment and kind (the same picture),
/// then, if still too many, evenly spaced ones.
fn thin<'a>(marks: &[&'a Mark], budget: usize, sc: &Scale) -> Vec<&'a Mark> {
    if marks.len() <= budget {
        return marks.to_vec();
    }
    let mut seen = HashSet::new();
    let kept: Vec<&Mark> = marks
        .iter()
        .copied()
        .filter(|m| {
            seen.insert((
                sc.x(m.ts_ns).round() as i64,
                m.seg,
                m.kind == MarkKind::Attach,
            ))
        })
        .collect();
    if kept.len() <= budget {
        return kept;
    }
    let step = kept.len().div_ceil(budget);
    kept.into_iter().step_by(step).collect()
}

/// One process's lane: its label, the span of its calls, its marks, its incidents.
fn lane(run: &Run, sc: &Scale, i: usize, pid: i32, marks: &[&Mark], y: f64, s: &mut String) {
    let comm = run.comm(pid).unwrap_or("?");
    let bg = if i % 2 == 0 { "#fafafa" } else { "#fff" };
    w!(
        s,
        "<g class=\"lane\" data-pid=\"{pid}\">\
         <rect x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{LANE_H}\" fill=\"{bg}\"/>\
         <text x=\"4\" y=\"{:.1}\">",
        y + 16.0
    );
    if let Some(p) = run.procs.get(&pid) {
        w!(
            s,
            "<title>pid {pid} ({}): {} calls from {} to {}</title>",
            esc(comm),
            p.calls,
            sc.rel(p.first_ns),
            sc.rel(p.last_ns)
        );
    }
    w!(s, "pid {pid} {}</text>", esc(comm));
    if let Some(p) = run.procs.get(&pid) {
        let (x0, x1) = (sc.x(p.first_ns), sc.x(p.last_ns));
        w!(
            s,
            "<line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\" \
             stroke-width=\"2\"/>",
            y + LANE_H / 2.0,
            x1.max(x0 + 1.0),
            y + LANE_H / 2.0
        );
    }
    s.push('\n');
    for m in marks {
        mark(run, sc, m, y, s);
    }
    for inc in run.incidents.iter().filter(|i| i.pid == pid) {
        incident(run, sc, inc, y, s);
    }
    s.push_str("</g>\n");
}

/// An attach (▼ at the top of the lane) or a detach (▲ at the bottom), in its segment's
/// colour.
fn mark(run: &Run, sc: &Scale, m: &Mark, y: f64, s: &mut String) {
    let x = sc.x(m.ts_ns);
    let colour = PALETTE[m.seg % PALETTE.len()];
    let id = run.segs.get(m.seg).map_or(-1, |g| g.id);
    let (call, path) = match m.kind {
        MarkKind::Attach => ("shmat", format!("M{:.1},{:.1}h8l-4,7z", x - 4.0, y + 3.0)),
        MarkKind::Detach => (
            "shmdt",
            format!("M{:.1},{:.1}h8l-4,-7z", x - 4.0, y + LANE_H - 3.0),
        ),
    };
    w!(
        s,
        "<path class=\"mk\" d=\"{path}\" fill=\"{colour}\"><title>pid {} {call} segment {id} \
         at {}</title></path>\n",
        m.pid,
        sc.rel(m.ts_ns)
    );
}

/// A failure or a warning: a circle in the middle of the lane, its sentence on hover.
fn incident(run: &Run, sc: &Scale, inc: &Incident, y: f64, s: &mut String) {
    let (fill, what) = if inc.errno.is_empty() {
        (WARNING, "warning")
    } else {
        (FAILURE, inc.errno.as_str())
    };
    w!(
        s,
        "<circle class=\"mk\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"{fill}\" \
         stroke=\"#fff\"><title>{} {}: {}\npid {} at {}{}</title></circle>\n",
        sc.x(inc.ts_ns),
        y + LANE_H / 2.0,
        esc(&inc.call),
        esc(what),
        esc(&inc.msg),
        inc.pid,
        sc.rel(inc.ts_ns),
        seg_of(run, inc).map_or(String::new(), |id| format!(", segment {id}"))
    );
}

/// The id of the segment an incident concerns, when one is known.
fn seg_of(run: &Run, inc: &Incident) -> Option<i32> {
    inc.seg.and_then(|i| run.segs.get(i)).map(|g| g.id)
}

/// What the shapes and colours mean.
fn legend(y: f64, s: &mut String) {
    let c = PALETTE[0];
    w!(
        s,
        "<g class=\"legend\" fill=\"#444\">\
         <path d=\"M{LEFT},{y}h8l-4,7z\" fill=\"{c}\"/><text x=\"{}\" y=\"{}\">shmat</text>\
         <path d=\"M{},{}h8l-4,-7z\" fill=\"{c}\"/><text x=\"{}\" y=\"{}\">shmdt</text>\
         <circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{FAILURE}\"/><text x=\"{}\" y=\"{}\">failed call</text>\
         <circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{WARNING}\"/><text x=\"{}\" y=\"{}\">warning</text>\
         <rect x=\"{}\" y=\"{}\" width=\"24\" height=\"10\" fill=\"{LEAKED}\"/><text x=\"{}\" y=\"{}\">leaked segment</text>\
         <rect x=\"{}\" y=\"{}\" width=\"24\" height=\"10\" fill=\"{c}\" fill-opacity=\"0.35\"/><text x=\"{}\" y=\"{}\">not made or not removed by the run</text>\
         </g>\n",
        LEFT + 12.0,
        y + 8.0,
        LEFT + 70.0,
        y + 8.0,
        LEFT + 82.0,
        y + 8.0,
        LEFT + 144.0,
        y + 4.0,
        LEFT + 152.0,
        y + 8.0,
        LEFT + 244.0,
        y + 4.0,
        LEFT + 252.0,
        y + 8.0,
        LEFT + 320.0,
        y - 1.0,
        LEFT + 348.0,
        y + 8.0,
        LEFT + 460.0,
        y - 1.0,
        LEFT + 488.0,
        y + 8.0,
    );
}

/// One row per segment.
fn seg_table(run: &Run, s: &mut String) {
    s.push_str(
        "<h2>Segments</h2>\n<table class=\"segs\"><tr><th>shmid</th><th>key</th><th>size</th>\
         <th>made by</th><th>attaches</th><th>peak nattch</th><th>lived</th><th>end</th></tr>\n",
    );
    for (i, g) in run.segs.iter().enumerate() {
        let attaches: Vec<String> = g
            .attaches
            .iter()
            .map(|(pid, n)| format!("{pid}×{n}"))
            .collect();
        // As the text summary counts it: only what the run saw from creation on.
        let lived = match summary::lived(run, g) {
            Some((n, false)) if g.end == End::Leaked => format!("{} (to the end)", dur(n)),
            Some((n, false)) => dur(n),
            // Removed while attached, and the last detach not seen: at least this long.
            Some((n, true)) => format!("≥ {}", dur(n)),
            None => "—".into(),
        };
        w!(
            s,
            "<tr data-shmid=\"{}\" class=\"{}\"><td class=\"n\">\
             <span class=\"sw\" style=\"background:{}\"></span>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td>\
             <td>{}</td></tr>\n",
            g.id,
            g.end.word(),
            PALETTE[i % PALETTE.len()],
            g.id,
            key_str(g.key),
            size_str(g.size),
            summary::creator(g).map_or("—".into(), |c| esc(&c)),
            attaches.join(", "),
            summary::peak(g).map_or("—".into(), |n| n.to_string()),
            lived,
            esc(&end_text(g)),
        );
    }
    s.push_str("</table>\n");
}

/// One row per process that made calls.
fn proc_table(run: &Run, sc: &Scale, s: &mut String) {
    s.push_str(
        "<h2>Processes</h2>\n<table class=\"procs\"><tr><th>pid</th><th>comm</th>\
         <th>calls</th><th>first call</th><th>last call</th></tr>\n",
    );
    for p in run.procs.values() {
        w!(
            s,
            "<tr data-pid=\"{}\"><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            p.pid,
            p.pid,
            esc(&p.comm),
            p.calls,
            sc.rel(p.first_ns),
            sc.rel(p.last_ns)
        );
    }
    s.push_str("</table>\n");
}

/// The first failures and warnings, for a reader who cannot hover (print, screenshot).
fn incident_table(run: &Run, sc: &Scale, s: &mut String) {
    if run.incidents.is_empty() {
        return;
    }
    s.push_str(
        "<h2>Failures and warnings</h2>\n<table class=\"incidents\"><tr><th>at</th><th>pid</th>\
         <th>call</th><th>errno</th><th>segment</th><th>what rshm says</th></tr>\n",
    );
    for inc in run.incidents.iter().take(MAX_INCIDENT_ROWS) {
        w!(
            s,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td>{}</td></tr>\n",
            sc.rel(inc.ts_ns),
            inc.pid,
            esc(&inc.call),
            if inc.errno.is_empty() {
                "warning".into()
            } else {
                esc(&inc.errno)
            },
            seg_of(run, inc).map_or("—".into(), |id| id.to_string()),
            esc(&inc.msg)
        );
    }
    s.push_str("</table>\n");
    let unlisted = run.incidents.len().saturating_sub(MAX_INCIDENT_ROWS);
    if unlisted > 0 {
        w!(
            s,
            "<p class=\"note\">{unlisted} more not listed here; the picture shows them.</p>\n"
        );
    }
    if run.incidents_dropped > 0 {
        w!(
            s,
            "<p class=\"note\">{} more failures and warnings after the first {} were counted \
             but not kept.</p>\n",
            run.incidents_dropped,
            run.incidents.len()
        );
    }
}

/// How a segment's story ends, in words (the text summary's, a leak in lower case).
fn end_text(g: &Seg) -> String {
    match g.end {
        End::Leaked => "leaked".into(),
        _ => summary::end(g),
    }
}

/// A key as ipcs shows it: IPC_PRIVATE or 0x%08x.
fn key_str(key: i32) -> String {
    if key == 0 {
        "IPC_PRIVATE".into()
    } else {
        format!("{:#010x}", key as u32)
    }
}

/// A size in bytes, in KiB, MiB or GiB when it is one.
fn size_str(n: u64) -> String {
    match n {
        0 => "?".into(),
        n if n < 1024 => format!("{n} B"),
        n if n < 1 << 20 => format!("{:.1} KiB", n as f64 / 1024.0),
        n if n < 1 << 30 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n => format!("{:.1} GiB", n as f64 / f64::from(1 << 30)),
    }
    .replace(".0 ", " ")
}

/// A duration in its natural unit.
fn dur(ns: u64) -> String {
    match ns {
        n if n < 1_000 => format!("{n} ns"),
        n if n < 1_000_000 => format!("{:.1} µs", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.3} ms", n as f64 / 1e6),
        n if n < 60_000_000_000 => format!("{:.3} s", n as f64 / 1e9),
        n => format!("{} min {} s", n / 60_000_000_000, n / 1_000_000_000 % 60),
    }
}

/// A common signal's name, or its number.
fn signal_name(n: i32) -> String {
    let name = match n {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {n}"),
    };
    name.into()
}

/// The command as one line, with an argument that needs it in single quotes.
fn command_line(cmd: &[String]) -> String {
    let words: Vec<String> = cmd
        .iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect();
    words.join(" ")
}

/// `text` safe in HTML and SVG text and in attribute values.
fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proc;

    const T0: u64 = 1_700_000_000_000_000_000;
    const MS: u64 = 1_000_000;

    fn proc(run: &mut Run, pid: i32, comm: &str, first: u64, last: u64, calls: u64) {
        run.procs.insert(
            pid,
            Proc {
                pid,
                comm: comm.into(),
                calls,
                first_ns: T0 + first,
                last_ns: T0 + last,
            },
        );
    }

    fn seg(id: i32, key: i32, creator: i32, first: u64, removed: Option<(i32, u64)>) -> Seg {
        let mut g = Seg::new(id, 4026531839, T0 + first);
        g.key = key;
        g.size = 4096;
        g.creator = Some(creator);
        g.peak_nattch = 1;
        g.removed_by = removed.map(|(p, t)| (p, T0 + t));
        g.destroyed_ns = removed.map(|(_, t)| T0 + t);
        g.creator_comm = "prog".into();
        g.remover_comm = "prog".into();
        g.end = if removed.is_some() {
            End::Removed
        } else {
            End::Leaked
        };
        g
    }

    /// A parent that makes two segments, a child that attaches the first; the first is
    /// removed, the second leaked; one failure whose sentence has markup in it.
    fn small_run() -> Run {
        let mut run = Run::new(vec!["./prog".into(), "a <b>".into()], T0);
        run.end_ns = T0 + 10 * MS;
        run.exit = Exit::Code(0);
        proc(&mut run, 100, "prog", MS, 9 * MS, 5);
        proc(&mut run, 101, "prog<child>", 3 * MS, 5 * MS, 3);
        let mut a = seg(32769, 0, 100, MS, Some((100, 9 * MS)));
        a.attaches.insert(101, 1);
        run.segs.push(a);
        run.segs.push(seg(32770, 0x1234, 100, 2 * MS, None));
        run.marks.push(Mark {
            ts_ns: T0 + 3 * MS,
            pid: 101,
            seg: 0,
            kind: MarkKind::Attach,
        });
        run.marks.push(Mark {
            ts_ns: T0 + 4 * MS,
            pid: 101,
            seg: 0,
            kind: MarkKind::Detach,
        });
        run.incidents.push(Incident {
            ts_ns: T0 + 5 * MS,
            pid: 101,
            call: "shmat".into(),
            errno: "EINVAL".into(),
            msg: "shmid -1 is not <valid> & never was".into(),
            seg: None,
        });
        run.incidents.push(Incident {
            ts_ns: T0 + 4 * MS + MS / 2,
            pid: 101,
            call: "shmdt".into(),
            errno: String::new(),
            msg: "detached late".into(),
            seg: Some(0),
        });
        run.failures.insert("EINVAL".into(), 1);
        run.warnings = 1;
        run.calls.insert("shmat".into(), 2);
        run
    }

    fn render(run: &Run) -> String {
        let mut out = vec![];
        write(run, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The `open` element (up to `close`) around the first `needle`.
    fn group<'a>(page: &'a str, open: &str, needle: &str, close: &str) -> &'a str {
        let at = page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
        let start = page[..at].rfind(open).unwrap();
        let end = at + page[at..].find(close).unwrap();
        &page[start..end]
    }

    #[test]
    fn every_segment_and_process_has_its_data_attribute_in_picture_and_table() {
        let page = render(&small_run());
        for id in [32769, 32770] {
            let n = page.matches(&format!("data-shmid=\"{id}\"")).count();
            assert_eq!(n, 2, "segment {id}: a row in the picture and in the table");
        }
        for pid in [100, 101] {
            let n = page.matches(&format!("data-pid=\"{pid}\"")).count();
            assert!(n >= 2, "pid {pid}: a lane and a table row");
        }
        assert!(page.contains("<title>rshm-trace: ./prog &#39;a &lt;b&gt;&#39;</title>"));
        assert!(page.contains(">32770 0x00001234<") && page.contains(">32769 IPC_PRIVATE<"));
        assert!(page.contains(">101×1<"));
        assert!(page.contains("removed by 100 (prog)"));
        assert!(page.contains("pid 101 shmat segment 32769 at +3.000 ms"));
        assert!(page.contains("pid 101 shmdt segment 32769 at +4.000 ms"));
    }

    #[test]
    fn a_leaked_segment_is_drawn_red_and_says_leaked() {
        let page = render(&small_run());
        let leaked = group(&page, "<g", "data-shmid=\"32770\"", "</g>");
        assert!(leaked.contains(&format!("fill=\"{LEAKED}\"")), "{leaked}");
        assert!(leaked.contains(">leaked</text>"), "{leaked}");
        let removed = group(&page, "<g", "data-shmid=\"32769\"", "</g>");
        assert!(!removed.contains(LEAKED), "{removed}");
        let row = group(&page, "<tr", "<tr data-shmid=\"32770\"", "</tr>");
        assert!(row.contains("class=\"leaked\"") && row.contains("<td>leaked</td>"));
        assert!(row.contains("<td>8.000 ms (to the end)</td>"), "{row}");
        let row = group(&page, "<tr", "<tr data-shmid=\"32769\"", "</tr>");
        assert!(row.contains("<td>8.000 ms</td>"), "{row}");
    }

    #[test]
    fn an_incidents_sentence_and_names_are_escaped() {
        let page = render(&small_run());
        assert!(
            page.contains("shmat EINVAL: shmid -1 is not &lt;valid&gt; &amp; never was"),
            "{page}"
        );
        assert!(!page.contains("<valid>") && !page.contains("<child>"));
        assert!(page.contains("pid 101 prog&lt;child&gt;</text>"));
    }

    #[test]
    fn a_warning_is_its_own_colour_and_names_its_segment() {
        let page = render(&small_run());
        let warn = group(
            &page,
            "<circle",
            "shmdt warning: detached late",
            "</circle>",
        );
        assert!(warn.contains(&format!("fill=\"{WARNING}\"")), "{warn}");
        assert!(
            warn.contains("pid 101 at +4.500 ms, segment 32769"),
            "{warn}"
        );
        let fail = group(&page, "<circle", "shmat EINVAL:", "</circle>");
        assert!(fail.contains(&format!("fill=\"{FAILURE}\"")), "{fail}");
    }

    #[test]
    fn the_page_fetches_nothing_and_its_svg_is_closed() {
        for run in [small_run(), Run::new(vec![], 0)] {
            let page = render(&run);
            let urls = page.matches("http").count();
            let ns = page.matches("http://www.w3.org/2000/svg").count();
            assert_eq!(urls, ns, "no URL but the SVG namespace");
            assert_eq!(ns, 1);
            assert!(!page.contains("<script") && !page.contains("src="));
            assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
            assert_eq!(page.matches("<g ").count(), page.matches("</g>").count());
            assert_eq!(
                page.matches("<table").count(),
                page.matches("</table>").count()
            );
            assert!(page.ends_with("</body></html>\n"));
        }
    }

    #[test]
    fn a_run_of_no_duration_draws_without_nan() {
        let mut run = small_run();
        run.start_ns = T0 + MS;
        run.end_ns = T0 + MS;
        for p in run.procs.values_mut() {
            p.first_ns = T0 + MS;
            p.last_ns = T0 + MS;
        }
        for g in &mut run.segs {
            g.first_ns = T0 + MS;
            g.removed_by = g.removed_by.map(|(p, _)| (p, T0 + MS));
        }
        for m in &mut run.marks {
            m.ts_ns = T0 + MS;
        }
        run.incidents[0].ts_ns = T0 + MS;
        let page = render(&run);
        assert!(!page.contains("NaN") && !page.contains("inf"), "{page}");
    }

    #[test]
    fn a_hundred_thousand_marks_are_thinned_and_the_page_says_so() {
        let mut run = small_run();
        run.marks.clear();
        for i in 0..100_000u64 {
            run.marks.push(Mark {
                ts_ns: T0 + MS + i * 80,
                pid: if i % 2 == 0 { 100 } else { 101 },
                seg: (i % 2) as usize,
                kind: if i % 4 < 2 {
                    MarkKind::Attach
                } else {
                    MarkKind::Detach
                },
            });
        }
        run.marks_dropped = 5;
        let page = render(&run);
        let drawn = page.matches("<path class=\"mk\"").count();
        assert!(drawn <= 2 * MAX_LANE_MARKS, "{drawn} marks drawn");
        assert!(drawn > 100, "{drawn} marks drawn");
        assert!(page.contains("pid 100 (prog): 50000 attaches and detaches, "));
        assert!(page.contains("5 attaches and detaches after the first 100000"));
        assert!(page.len() < 4 << 20, "{} bytes", page.len());
    }

    #[test]
    fn ticks_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(tick_step(10 * MS), (2 * MS, MS, "ms"));
        assert_eq!(tick_step(1), (1, 1, "ns"));
        assert_eq!(tick_step(3_000 * MS), (500 * MS, 1_000 * MS, "s"));
        assert_eq!(tick_step(40_000), (5_000, 1_000, "µs"));
    }

    #[test]
    fn keys_sizes_and_durations_read_as_ipcs_would_write_them() {
        assert_eq!(key_str(0), "IPC_PRIVATE");
        assert_eq!(key_str(0x52e2c1), "0x0052e2c1");
        assert_eq!(key_str(-1), "0xffffffff");
        assert_eq!(size_str(4096), "4 KiB");
        assert_eq!(size_str(1000), "1000 B");
        assert_eq!(size_str(150 << 20), "150 MiB");
        assert_eq!(dur(1_234_567), "1.235 ms");
        assert_eq!(dur(61_000_000_000), "1 min 1 s");
        assert_eq!(
            command_line(&["sh".into(), "-c".into(), "a b".into()]),
            "sh -c 'a b'"
        );
    }
}
