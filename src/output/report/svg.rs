//! The drawings, as inline SVG written through maud (so every value from the capture is escaped
//! like the rest of the page): the ladder, the time-sequence graph, RTT and throughput, the
//! message seams with the `recv()` calls, and the overview's timeline.
//!
//! Every segment drawn carries `data-f` (its frame number) and a `<title>` with its annotated
//! line: a browser shows it on hover without script, and the page's script shows it in the
//! detail panel on click or Enter. Graph plots use a nested `<svg>` whose viewBox the script
//! changes to zoom and pan; their strokes do not scale.

use std::fmt::Write as _;

use maud::{html, Markup};

use super::model::{rtt_samples, throughput, Detail, ReportOptions, Seg};
use crate::analyze::{simulate_reader, Message, Reader, RecvCall, Returned, StreamEnd};
use crate::decode::tcpflags;
use crate::output::flow::{self, label, notes, Row};
use crate::output::time::secs_string;
use crate::output::FlagLetters;
use crate::track::tcp::{Analysis, Dir, Phase, TcpState};

/// A coordinate with one decimal (SVG text stays short).
pub(crate) struct N(pub f64);

impl std::fmt::Display for N {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = (self.0 * 10.0).round() / 10.0;
        if v == v.trunc() {
            write!(f, "{}", v as i64)
        } else {
            write!(f, "{v:.1}")
        }
    }
}

/// `c2s` or `s2c`: the class that colours a direction.
pub(crate) fn dir_class(dir: Dir) -> &'static str {
    match dir {
        Dir::C2S => "c2s",
        Dir::S2C => "s2c",
    }
}

/// A segment's annotated line: what `read` and `flow` say of it, in one line.
pub(crate) fn annotated(ev: &flow::Event, endpoints: &(String, String)) -> String {
    let (from, to) = match ev.seg.dir {
        Dir::C2S => (&endpoints.0, &endpoints.1),
        Dir::S2C => (&endpoints.1, &endpoints.0),
    };
    let mut s = format!("frame {}  {} s  {from} → {to}  {}  {}", ev.n, secs_string(ev.rel_ns, true), label(ev), ev.seg.phase);
    let _ = write!(s, "  client {} · server {}", ev.seg.client.name(), ev.seg.server.name());
    if let Some(bif) = ev.seg.bytes_in_flight {
        let _ = write!(s, "  in flight {bif}");
    }
    match ev.seg.offload {
        Some(crate::track::tcp::Offload::Segments { mss, segments }) => {
            let _ = write!(s, "  offload: {segments} segments of MSS {mss}");
        }
        Some(crate::track::tcp::Offload::UnknownMss) => s.push_str("  offload: larger than any MSS seen"),
        None => {}
    }
    let n = notes(ev);
    if !n.is_empty() {
        let _ = write!(s, "  [{n}]");
    }
    s
}

/// A graph with more bars than this gives titles to its marked bars only (clicking any bar
/// still shows its line in the detail panel).
const TITLED_BARS: usize = 400;

/// A graph mark's title: frame, time, seq/ack and flags in words (the ladder's arrow of the same
/// frame has the whole line, which the detail panel shows).
fn short(ev: &flow::Event) -> String {
    let mut s = format!("frame {} {} s {}", ev.n, secs_string(ev.rel_ns, false), label(ev));
    let n = notes(ev);
    if !n.is_empty() {
        let _ = write!(s, " [{n}]");
    }
    s
}

/// The class of an analysis mark, if the segment has one worth a colour.
fn mark_class(a: Analysis) -> Option<&'static str> {
    let any = |bits: u32| a.0 & bits != 0;
    if any(Analysis::RETRANSMISSION | Analysis::FAST_RETRANSMISSION | Analysis::SPURIOUS_RETRANSMISSION) {
        Some("m-retrans")
    } else if any(Analysis::OUT_OF_ORDER) {
        Some("m-ooo")
    } else if any(Analysis::DUPLICATE_ACK) {
        Some("m-dup")
    } else if any(Analysis::ZERO_WINDOW | Analysis::ZERO_WINDOW_PROBE | Analysis::ZERO_WINDOW_PROBE_ACK) {
        Some("m-zw")
    } else if any(Analysis::LOST_SEGMENT | Analysis::ACK_LOST_SEGMENT) {
        Some("m-lost")
    } else if !a.is_empty() {
        Some("m-other")
    } else {
        None
    }
}

fn phase_class(p: Phase) -> &'static str {
    match p {
        Phase::Handshake(_) => "ph-handshake",
        Phase::Data => "ph-data",
        Phase::Teardown(_) => "ph-teardown",
        Phase::Reset => "ph-reset",
        Phase::Other(_) => "ph-other",
    }
}

// Ladder geometry.
const L_W: f64 = 1120.0;
const L_ROW: f64 = 26.0;
const L_CLIENT: f64 = 250.0;
const L_SERVER: f64 = 720.0;
/// Segments drawn per fold before the rest are only counted.
const FOLD_DRAWN: usize = 200;
/// Segments drawn per ladder in all.
const LADDER_DRAWN: usize = 600;

/// One ladder line.
fn ladder_seg(ev: &flow::Event, y: f64, prev: &mut (TcpState, TcpState), endpoints: &(String, String)) -> Markup {
    let client = (ev.seg.client != prev.0).then_some(ev.seg.client);
    let server = (ev.seg.server != prev.1).then_some(ev.seg.server);
    *prev = (ev.seg.client, ev.seg.server);
    let (x1, x2) = match ev.seg.dir {
        Dir::C2S => (L_CLIENT, L_SERVER),
        Dir::S2C => (L_SERVER, L_CLIENT),
    };
    let flag_class = if ev.flags & tcpflags::RST != 0 {
        "f-rst"
    } else if ev.flags & tcpflags::SYN != 0 {
        "f-syn"
    } else if ev.flags & tcpflags::FIN != 0 {
        "f-fin"
    } else {
        ""
    };
    let mark = mark_class(ev.seg.analysis);
    let note = notes(ev);
    let class = format!("seg arrow {} {flag_class} {}", dir_class(ev.seg.dir), mark.unwrap_or(""));
    html! {
        rect class=(phase_class(ev.seg.phase)) x="0" y=(N(y)) width=(N(L_W)) height=(N(L_ROW)) {}
        text class="ln" x="52" y=(N(y + 17.0)) text-anchor="end" { (ev.n) }
        text class="ln" x="140" y=(N(y + 17.0)) text-anchor="end" { (secs_string(ev.rel_ns, false)) }
        @if let Some(s) = client { text class="state" x=(N(L_CLIENT - 8.0)) y=(N(y + 17.0)) text-anchor="end" data-side="client" { (s.name()) } }
        @if let Some(s) = server { text class="state" x=(N(L_SERVER + 8.0)) y=(N(y + 17.0)) data-side="server" { (s.name()) } }
        g class=(class) data-f=(ev.n) tabindex="0" role="button" {
            title { (annotated(ev, endpoints)) }
            line x1=(N(x1)) y1=(N(y + 9.0)) x2=(N(x2)) y2=(N(y + 19.0)) marker-end=(format!("url(#ah-{})", dir_class(ev.seg.dir))) {}
            text class="lbl" x=(N((L_CLIENT + L_SERVER) / 2.0)) y=(N(y + 10.0)) text-anchor="middle" { (label(ev)) }
            @if mark.is_some() { circle class="mark" cx=(N(x1 + (x2 - x1) * 0.12)) cy=(N(y + 14.0)) r="3.5" {} }
        }
        @if !note.is_empty() { text class="note" x=(N(L_SERVER + 110.0)) y=(N(y + 17.0)) { (note) } }
    }
}

/// An SVG block of ladder lines with the two columns drawn through it.
fn ladder_block(body: Markup, rows: usize) -> Markup {
    let h = rows as f64 * L_ROW;
    html! {
        svg class="ladder-rows" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {} {}", L_W, N(h))) width=(N(L_W)) height=(N(h)) {
            (body)
            line class="col" x1=(N(L_CLIENT)) y1="0" x2=(N(L_CLIENT)) y2=(N(h)) {}
            line class="col" x1=(N(L_SERVER)) y1="0" x2=(N(L_SERVER)) y2=(N(h)) {}
        }
    }
}

/// The ladder of a connection: header, lines, folds as `<details>` (open them to see the
/// segments; without script too).
pub(crate) fn ladder(d: &Detail, opts: &ReportOptions) -> Markup {
    let events: Vec<flow::Event> = d.segs.iter().map(|s| s.ev).collect();
    if events.is_empty() {
        return html! { p { "no segments" } };
    }
    let (c0, s0) = flow::start_states(&events[0]);
    let mut prev = (c0, s0);
    let rows = flow::rows(&events, opts.fold);
    let mut drawn = 0usize;
    let mut blocks: Vec<Markup> = Vec::new();
    let mut current = String::new();
    let mut current_rows = 0usize;
    let mut not_drawn = 0usize;
    for row in &rows {
        match row {
            Row::Seg(i) => {
                if drawn >= LADDER_DRAWN {
                    not_drawn += 1;
                    continue;
                }
                current.push_str(&ladder_seg(&events[*i], current_rows as f64 * L_ROW, &mut prev, &d.endpoints).into_string());
                current_rows += 1;
                drawn += 1;
            }
            Row::Fold(fold) => {
                if current_rows > 0 {
                    blocks.push(ladder_block(maud::PreEscaped(std::mem::take(&mut current)), current_rows));
                    current_rows = 0;
                }
                let hidden = &events[fold.hidden.clone()];
                let room = FOLD_DRAWN.min(LADDER_DRAWN.saturating_sub(drawn));
                let shown = hidden.len().min(room);
                let mut inner = String::new();
                let mut p = prev;
                for (k, ev) in hidden[..shown].iter().enumerate() {
                    inner.push_str(&ladder_seg(ev, k as f64 * L_ROW, &mut p, &d.endpoints).into_string());
                }
                drawn += shown;
                not_drawn += hidden.len() - shown;
                let text = format!(
                    "⋮ {} more (frames {}–{}): {} c→s {} B, {} s→c {} B",
                    hidden.len(),
                    hidden[0].n,
                    hidden[hidden.len() - 1].n,
                    fold.segs[0],
                    crate::output::conns::group(fold.bytes[0]),
                    fold.segs[1],
                    crate::output::conns::group(fold.bytes[1])
                );
                blocks.push(html! {
                    details class="fold" {
                        summary { (text) }
                        (ladder_block(maud::PreEscaped(inner), shown))
                        @if shown < hidden.len() { p class="more" { (hidden.len() - shown) " more segments of this run not drawn" } }
                    }
                });
            }
        }
    }
    if current_rows > 0 {
        blocks.push(ladder_block(maud::PreEscaped(current), current_rows));
    }
    let (client, server) = &d.endpoints;
    html! {
        div class="ladder" data-conn=(d.id) {
            svg class="ladder-head" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {L_W} 44")) width=(N(L_W)) height="44" {
                text class="who c2s-t" x=(N(L_CLIENT)) y="14" text-anchor="middle" { "client " (client) }
                text class="who s2c-t" x=(N(L_SERVER)) y="14" text-anchor="middle" { "server " (server) }
                text class="state" x=(N(L_CLIENT - 8.0)) y="38" text-anchor="end" data-side="client" { (c0.name()) }
                text class="state" x=(N(L_SERVER + 8.0)) y="38" data-side="server" { (s0.name()) }
                line class="col" x1=(N(L_CLIENT)) y1="22" x2=(N(L_CLIENT)) y2="44" {}
                line class="col" x1=(N(L_SERVER)) y1="22" x2=(N(L_SERVER)) y2="44" {}
            }
            @for b in &blocks { (b) }
            @if not_drawn > 0 { p class="more" { (not_drawn) " segments not drawn (past " (LADDER_DRAWN) "); " code { "wireseam flow --conn " (d.id) } " lists them all" } }
            @if d.thinned > 0 { p class="more" { (d.thinned) " uneventful segments were thinned out while reading (every SYN, FIN, RST, state change and analysis flag is kept)" } }
        }
    }
}

/// Picks at most `budget` of `n` items, always those `keep` says, the others evenly.
fn decimate(n: usize, budget: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
    if n <= budget {
        return (0..n).collect();
    }
    let marked = (0..n).filter(|&i| keep(i)).count();
    let room = budget.saturating_sub(marked).max(1);
    let unmarked = n - marked;
    let step = unmarked.div_ceil(room).max(1);
    let mut k = 0usize;
    (0..n)
        .filter(|&i| {
            if keep(i) {
                return true;
            }
            k += 1;
            (k - 1).is_multiple_of(step)
        })
        .collect()
}

// Graph geometry: the plot area inside the frame, data scaled to 0..PLOT_U.
const G_W: f64 = 960.0;
const G_H: f64 = 340.0;
const G_LEFT: f64 = 80.0;
const G_TOP: f64 = 16.0;
const G_PW: f64 = 860.0;
const G_PH: f64 = 280.0;
const PLOT_U: f64 = 10_000.0;

/// Axes and ticks of a graph over `x` seconds (ns) and `y` (data units, labelled by `ylab`).
/// Tick steps on each axis of a graph.
const AXIS_TICKS: usize = 5;

fn axes(x: (i64, i64), y: (f64, f64), xlab: &str, ylab: &str, yfmt: &dyn Fn(f64) -> String) -> Markup {
    let ticks = AXIS_TICKS;
    // x spans come from nice_span: every tick is a round number of seconds
    let xdec = tick_decimals((x.1 - x.0) as f64 / ticks as f64 / 1e9);
    html! {
        g class="axes" {
            rect class="frame" x=(N(G_LEFT)) y=(N(G_TOP)) width=(N(G_PW)) height=(N(G_PH)) {}
            @for i in 0..=ticks {
                @let fx = G_LEFT + G_PW * i as f64 / ticks as f64;
                @let tx = x.0 + ((x.1 - x.0) as f64 * i as f64 / ticks as f64) as i64;
                line class="tick" x1=(N(fx)) y1=(N(G_TOP + G_PH)) x2=(N(fx)) y2=(N(G_TOP + G_PH + 5.0)) {}
                text class="tl" x=(N(fx)) y=(N(G_TOP + G_PH + 18.0)) text-anchor=(if i == ticks { "end" } else if i == 0 { "start" } else { "middle" }) { (format!("{:.*}", xdec, tx as f64 / 1e9)) }
                @let fy = G_TOP + G_PH - G_PH * i as f64 / ticks as f64;
                @let ty = y.0 + (y.1 - y.0) * i as f64 / ticks as f64;
                line class="tick" x1=(N(G_LEFT - 5.0)) y1=(N(fy)) x2=(N(G_LEFT)) y2=(N(fy)) {}
                text class="tl" x=(N(G_LEFT - 8.0)) y=(N(fy + 4.0)) text-anchor="end" { (yfmt(ty)) }
            }
            text class="axl" x=(N(G_LEFT + G_PW / 2.0)) y=(N(G_H - 2.0)) text-anchor="middle" { (xlab) }
            text class="axl" x="12" y=(N(G_TOP + G_PH / 2.0)) text-anchor="middle" transform=(format!("rotate(-90 12 {})", N(G_TOP + G_PH / 2.0))) { (ylab) }
        }
    }
}

/// The top of a y axis of `ticks` steps that holds `max`: the steps are round numbers
/// (1, 2, 2.5 or 5 times a power of ten), so the tick labels are too.
fn nice_top(max: f64, ticks: usize) -> f64 {
    let raw = (max / ticks as f64).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw * (1.0 - 1e-12)).unwrap_or(10.0 * mag);
    step * ticks as f64
}

/// A time axis from `t0` to `t1` (ns) widened to `ticks` round steps (1, 2, 2.5 or 5 times a
/// power of ten seconds) that start on a multiple of the step, so every tick label is round.
fn nice_span(t0: i64, t1: i64, ticks: usize) -> (i64, i64) {
    let span = (t1 - t0).max(1) as f64;
    let mut mag = 10f64.powf((span / ticks as f64).log10().floor());
    loop {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let step = ((m * mag).round() as i64).max(1);
            let lo = t0.div_euclid(step) * step;
            if lo + step * ticks as i64 >= t1 {
                return (lo, lo + step * ticks as i64);
            }
        }
        mag *= 10.0;
    }
}

/// How many decimals write every multiple of `step` exactly (at most 6).
fn tick_decimals(step: f64) -> usize {
    (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6)
}

/// A graph frame with a zoomable plot; `plot` is drawn in 0..PLOT_U units, y up.
fn graph(class: &str, label: &str, axes: Markup, plot: Markup) -> Markup {
    html! {
        figure class=(format!("graph {class}")) {
            div class="zoombar" {
                button type="button" class="zin" aria-label="zoom in" { "+" }
                button type="button" class="zout" aria-label="zoom out" { "−" }
                button type="button" class="zreset" aria-label="reset zoom" { "reset" }
                span class="zrange" aria-live="polite" {}
            }
            svg class="g" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {G_W} {G_H}")) width=(N(G_W)) height=(N(G_H)) role="img" aria-label=(label) {
                (axes)
                svg class="plot" x=(N(G_LEFT)) y=(N(G_TOP)) width=(N(G_PW)) height=(N(G_PH)) viewBox=(format!("0 0 {PLOT_U} {PLOT_U}")) preserveAspectRatio="none" tabindex="0" aria-label=(format!("{label}: drag to pan, wheel or +/− to zoom, 0 to reset")) {
                    (plot)
                }
            }
        }
    }
}

/// Sequence-space scale of a direction: `(seq → 0..PLOT_U, time → 0..PLOT_U)`.
#[derive(Clone, Copy)]
struct Scale {
    t0: i64,
    t1: i64,
    y1: f64,
}

impl Scale {
    fn x(&self, t: i64) -> f64 {
        (t - self.t0) as f64 / (self.t1 - self.t0).max(1) as f64 * PLOT_U
    }
    fn y(&self, v: f64) -> f64 {
        PLOT_U - (v / self.y1.max(1.0) * PLOT_U).clamp(-PLOT_U, 2.0 * PLOT_U)
    }
}

/// The Stevens/tcptrace time-sequence graph of the data `dir` sends: each segment a vertical bar
/// from its first to its last sequence number at its time; the ACK line and the receive-window
/// line (ACK + window) from the other direction; SACK blocks; marks for retransmissions,
/// out-of-order segments, duplicate ACKs and zero windows.
pub(crate) fn time_sequence(d: &Detail, dir: Dir, opts: &ReportOptions) -> Option<Markup> {
    let data: Vec<&Seg> =
        d.segs.iter().filter(|s| s.ev.seg.dir == dir && (s.ev.len > 0 || s.ev.flags & (tcpflags::SYN | tcpflags::FIN) != 0)).collect();
    if !data.iter().any(|s| s.ev.len > 0) {
        return None;
    }
    let acks: Vec<&Seg> = d.segs.iter().filter(|s| s.ev.seg.dir != dir && s.ev.seg.rack.is_some()).collect();
    let t0 = d.segs.first().map_or(0, |s| s.ev.rel_ns);
    let t1 = d.segs.last().map_or(1, |s| s.ev.rel_ns).max(t0 + 1);
    let top_data = data.iter().map(|s| u64::from(s.ev.seg.rseq) + u64::from(s.ev.len)).max().unwrap_or(1);
    let top_win =
        acks.iter().map(|s| u64::from(s.ev.seg.rack.unwrap_or(0)) + u64::from(s.ev.seg.win_scaled.unwrap_or(0))).max().unwrap_or(0);
    // The data decides the scale: a window far larger than what was sent runs off the top (the
    // page says so under the graph).
    let mut y1 = nice_top((top_data.max(top_win.min(top_data.saturating_mul(3) / 2)) as f64 * 1.05).max(10.0), AXIS_TICKS);
    if (y1 / AXIS_TICKS as f64).fract() != 0.0 {
        // sequence numbers are whole: a step of 2.5 becomes 5
        y1 = nice_top(y1 * 1.0001, AXIS_TICKS);
    }
    let (t0, t1) = nice_span(t0, t1, AXIS_TICKS);
    let sc = Scale { t0, t1, y1 };
    let bars = decimate(data.len(), opts.budget, |i| data[i].marked);
    let ack_pts = decimate(acks.len(), opts.budget, |i| acks[i].marked);
    let mut ack_line = String::new();
    let mut win_line = String::new();
    let mut last_ack: Option<(f64, f64)> = None;
    let mut last_win: Option<(f64, f64)> = None;
    for &i in &ack_pts {
        let s = &acks[i].ev;
        let x = sc.x(s.rel_ns);
        let ya = sc.y(f64::from(s.seg.rack.unwrap_or(0)));
        if let Some((_, py)) = last_ack {
            let _ = write!(ack_line, "{},{} ", N(x), N(py));
        }
        let _ = write!(ack_line, "{},{} ", N(x), N(ya));
        last_ack = Some((x, ya));
        if let Some(w) = s.seg.win_scaled {
            let yw = sc.y(f64::from(s.seg.rack.unwrap_or(0)) + f64::from(w));
            if let Some((_, py)) = last_win {
                let _ = write!(win_line, "{},{} ", N(x), N(py));
            }
            let _ = write!(win_line, "{},{} ", N(x), N(yw));
            last_win = Some((x, yw));
        }
    }
    let sacks: Vec<(f64, f64, f64, u64)> = d
        .sacks
        .iter()
        .filter(|r| r.dir != dir)
        .take(opts.budget)
        .flat_map(|r| {
            r.blocks[..r.n_blocks as usize]
                .iter()
                .map(move |&(l, rt)| (sc.x(r.rel_ns), f64::from(l.wrapping_sub(r.ack_base)), f64::from(rt.wrapping_sub(r.ack_base)), r.n))
        })
        .collect();
    let label = format!("conn {} {} time-sequence graph", d.id, dir.arrow());
    let plot = html! {
        @if !win_line.is_empty() { polyline class="win" points=(win_line) {} }
        @if !ack_line.is_empty() { polyline class="ack" points=(ack_line) {} }
        @for (x, l, r, n) in &sacks { line class="sack" data-f=(n) x1=(N(*x)) x2=(N(*x)) y1=(N(sc.y(*l))) y2=(N(sc.y(*r))) {} }
        @for &i in &ack_pts {
            @let ev = &acks[i].ev;
            @if let Some(m) = mark_class(ev.seg.analysis).filter(|m| *m == "m-dup" || *m == "m-zw") {
                @let y = if m == "m-zw" { f64::from(ev.seg.rack.unwrap_or(0)) + f64::from(ev.seg.win_scaled.unwrap_or(0)) } else { f64::from(ev.seg.rack.unwrap_or(0)) };
                line class=(format!("seg dot {m}")) data-f=(ev.n) x1=(N(sc.x(ev.rel_ns))) x2=(N(sc.x(ev.rel_ns))) y1=(N(sc.y(y))) y2=(N(sc.y(y))) {
                    title { (short(ev)) }
                }
            }
        }
        @for &i in &bars {
            @let ev = &data[i].ev;
            @let x = sc.x(ev.rel_ns);
            @let y0 = f64::from(ev.seg.rseq);
            @let len = f64::from(ev.len.max(1));
            @let mark = mark_class(ev.seg.analysis);
            line class=(format!("seg bar {} {}", dir_class(dir), mark.unwrap_or(""))) data-f=(ev.n) x1=(N(x)) x2=(N(x)) y1=(N(sc.y(y0))) y2=(N(sc.y(y0 + len))) {
                @if data[i].marked || bars.len() <= TITLED_BARS { title { (short(ev)) } }
            }
        }
    };
    let yfmt = |v: f64| crate::output::conns::group(v as u64);
    let dropped = data.len() - bars.len();
    Some(html! {
        (graph("tsg", &label, axes((t0, t1), (0.0, y1), "time (s)", "relative sequence number", &yfmt), plot))
        @if top_win as f64 > y1 { p class="more" { "the receive-window line runs above the top of the graph (up to relative seq " (crate::output::conns::group(top_win)) "): the window was much larger than the data sent" } }
        @if dropped > 0 { p class="more" { (dropped) " of " (data.len()) " plain segments left out of this drawing (the point budget is " (opts.budget) "); every marked one is drawn" } }
    })
}

/// RTT samples of both directions' data, as dots over time (ms).
pub(crate) fn rtt_chart(d: &Detail, opts: &ReportOptions) -> Option<Markup> {
    let samples: Vec<(Dir, super::model::RttSample)> =
        [Dir::C2S, Dir::S2C].into_iter().flat_map(|dir| rtt_samples(&d.segs, dir).into_iter().map(move |s| (dir, s))).collect();
    if samples.is_empty() {
        return None;
    }
    let t0 = d.segs.first().map_or(0, |s| s.ev.rel_ns);
    let t1 = d.segs.last().map_or(1, |s| s.ev.rel_ns).max(t0 + 1);
    let max = nice_top(samples.iter().map(|(_, s)| s.acked - s.sent).max().unwrap_or(1).max(1) as f64, AXIS_TICKS);
    let (t0, t1) = nice_span(t0, t1, AXIS_TICKS);
    let sc = Scale { t0, t1, y1: max };
    let pick = decimate(samples.len(), opts.budget / 2, |_| false);
    let plot = html! {
        @for &i in &pick {
            @let (dir, s) = samples[i];
            line class=(format!("dot rtt {}", dir_class(dir))) data-f=(s.n) x1=(N(sc.x(s.acked))) x2=(N(sc.x(s.acked))) y1=(N(sc.y((s.acked - s.sent) as f64))) y2=(N(sc.y((s.acked - s.sent) as f64))) {
                title { "frame " (s.n) " (" (dir.arrow()) "): RTT " (format!("{:.3}", (s.acked - s.sent) as f64 / 1e6)) " ms" }
            }
        }
    };
    let decimals = tick_decimals(max / AXIS_TICKS as f64 / 1e6);
    let yfmt = move |v: f64| format!("{:.*}", decimals, v / 1e6);
    Some(graph("rtt", &format!("conn {} RTT samples", d.id), axes((t0, t1), (0.0, max), "time (s)", "RTT (ms)", &yfmt), plot))
}

/// Payload bytes per interval, both directions.
pub(crate) fn throughput_chart(d: &Detail) -> Option<Markup> {
    let t0 = d.segs.first().map_or(0, |s| s.ev.rel_ns);
    let t1 = d.segs.last().map_or(1, |s| s.ev.rel_ns).max(t0 + 1);
    let (t0, t1) = nice_span(t0, t1, AXIS_TICKS);
    let buckets = 100;
    let series = [Dir::C2S, Dir::S2C].map(|dir| throughput(&d.segs, dir, t0, t1, buckets));
    let bucket_s = (t1 - t0) as f64 / buckets as f64 / 1e9;
    let max = series.iter().flatten().copied().max().unwrap_or(0);
    if max == 0 {
        return None;
    }
    let rate = |b: u64| b as f64 / bucket_s.max(1e-9);
    let ymax = nice_top(rate(max), AXIS_TICKS);
    let sc = Scale { t0: 0, t1: buckets as i64, y1: ymax };
    let lines = series.clone().map(|s| {
        let mut pts = String::new();
        for (i, b) in s.iter().enumerate() {
            let _ = write!(pts, "{},{} {},{} ", N(sc.x(i as i64)), N(sc.y(rate(*b))), N(sc.x(i as i64 + 1)), N(sc.y(rate(*b))));
        }
        pts
    });
    let plot = html! {
        polyline class="tput c2s" points=(lines[0]) {}
        polyline class="tput s2c" points=(lines[1]) {}
    };
    let yfmt = |v: f64| human_rate(v);
    Some(graph("tput", &format!("conn {} throughput", d.id), axes((t0, t1), (0.0, ymax), "time (s)", "payload bytes/s", &yfmt), plot))
}

/// `1.2 MB/s`.
fn human_rate(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.1} GB/s", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1} MB/s", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} kB/s", v / 1e3)
    } else {
        format!("{v:.0} B/s")
    }
}

/// Messages drawn on a seam strip.
pub const STRIP_MESSAGES: usize = 120;
/// recv() calls drawn and listed.
pub const RECV_SHOWN: usize = 200;

const S_W: f64 = 960.0;
const S_LEFT: f64 = 70.0;
const S_PW: f64 = 880.0;

/// The reader's calls for direction `dir` (empty when no `--recv` or nothing kept).
pub(crate) fn recv_calls(d: &Detail, dir: Dir, opts: &ReportOptions) -> Vec<RecvCall> {
    let Some(record) = &d.record else { return Vec::new() };
    let timeline = &record.kept[dir.idx()].timeline;
    if opts.recv.is_empty() || timeline.is_empty() {
        return Vec::new();
    }
    let s = &record.summary;
    let established = s.irtt.map(|rtt| s.first_ts.saturating_add(rtt));
    let end = crate::output::stream::stream_end(&s.history, dir.idx());
    let sends: Vec<i64> = d.messages[1 - dir.idx()].iter().map(|m| m.first_ts).collect();
    let reader = Reader { sizes: &opts.recv, schedule: opts.recv_at, established, sends: &sends, end, max_calls: 100_000 };
    simulate_reader(timeline, &d.messages[dir.idx()], &reader)
}

/// The class of a message on the strip.
pub(crate) fn message_class(m: &Message) -> &'static str {
    match (m.complete, m.sticky, m.split) {
        (false, _, _) => "msg-incomplete",
        (true, true, true) => "msg-both",
        (true, true, false) => "msg-sticky",
        (true, false, true) => "msg-split",
        (true, false, false) => "msg-plain",
    }
}

/// A direction's byte stream as a strip: segment boundaries above, messages (sticky, split,
/// incomplete) in it, message boundaries below, gaps in red; under it the `recv()` calls over
/// the same bytes (glued: more than one message in a call; cut: a call ends inside a message).
pub(crate) fn seam_strip(d: &Detail, dir: Dir, calls: &[RecvCall]) -> Option<Markup> {
    let msgs = &d.messages[dir.idx()];
    if msgs.is_empty() {
        return None;
    }
    let shown = &msgs[..msgs.len().min(STRIP_MESSAGES)];
    let end = shown.last().map_or(1, |m| m.offset + m.len).max(1);
    let start = shown[0].offset;
    // Stream offset 0 is the first payload byte: the byte after the SYN (relative seq 1), or
    // the first data byte seen when the handshake was not captured.
    let dir_segs: Vec<&flow::Event> = d.segs.iter().map(|s| &s.ev).filter(|e| e.seg.dir == dir).collect();
    let syn = dir_segs.iter().any(|e| e.flags & tcpflags::SYN != 0);
    let base = if syn { 1 } else { dir_segs.iter().find(|e| e.len > 0).map_or(1, |e| e.seg.rseq) };
    let segs: Vec<(u64, u64, &flow::Event)> = dir_segs
        .iter()
        .filter(|e| e.len > 0)
        .map(|e| (u64::from(e.seg.rseq.wrapping_sub(base)), u64::from(e.seg.rseq.wrapping_sub(base)) + u64::from(e.len), *e))
        .filter(|(a, b, _)| *b > start && *a < end)
        .collect();
    let mut cuts: Vec<u64> = shown
        .iter()
        .flat_map(|m| [m.offset, m.offset + m.len])
        .chain(segs.iter().flat_map(|(a, b, _)| [*a, *b]))
        .filter(|o| (start..=end).contains(o))
        .collect();
    let axis = ByteAxis::new(&mut cuts, start, end);
    let x = |off: u64| axis.x(off);
    let gaps = d
        .record
        .as_ref()
        .map(|r| r.kept[dir.idx()].timeline.iter().filter(|a| a.gap).map(|a| (a.start, a.end)).collect::<Vec<_>>())
        .unwrap_or_default();
    let calls: Vec<&RecvCall> = calls.iter().filter(|c| c.start < end).take(RECV_SHOWN).collect();
    let h = if calls.is_empty() { 110.0 } else { 170.0 };
    let prefix = format!("c{}-{}", d.id, dir_class(dir));
    Some(html! {
        svg class="strip" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {S_W} {h}")) width=(N(S_W)) height=(N(h)) role="img" aria-label=(format!("conn {} {} byte stream: segments above, messages below", d.id, dir.arrow())) {
            text class="axl" x="4" y="22" { "segments" }
            text class="axl" x="4" y="62" { "messages" }
            @for (k, (a, b, ev)) in segs.iter().enumerate() {
                rect class=(format!("seg segbox {} {}", if k % 2 == 0 { "even" } else { "odd" }, mark_class(ev.seg.analysis).unwrap_or(""))) data-f=(ev.n) x=(N(x(*a))) y="10" width=(N((x(*b) - x(*a)).max(1.0))) height="18" {
                    title { (annotated(ev, &d.endpoints)) }
                }
                line class="segb" x1=(N(x(*a))) x2=(N(x(*a))) y1="8" y2="46" {}
            }
            @for m in shown {
                a href=(format!("#{prefix}-m{}", m.index)) {
                    rect class=(format!("msg {}", message_class(m))) x=(N(x(m.offset))) y="32" width=(N((x(m.offset + m.len) - x(m.offset)).max(1.5))) height="26" {
                        title { "msg " (m.index) ": bytes " (m.offset) "–" ((m.offset + m.len).saturating_sub(1)) ", " (m.len) " B in frames " (frame_list(&m.frames)) (message_marks(m)) }
                    }
                    @if x(m.offset + m.len) - x(m.offset) > 16.0 {
                        text class="mi" x=(N((x(m.offset) + x(m.offset + m.len)) / 2.0)) y="50" text-anchor="middle" { (m.index) }
                    }
                }
                line class="msgb" x1=(N(x(m.offset + m.len))) x2=(N(x(m.offset + m.len))) y1="32" y2="70" {}
            }
            @for (a, b) in &gaps {
                @if *b > start && *a < end { rect class="gap" x=(N(x(*a))) y="30" width=(N((x(*b) - x(*a)).max(2.0))) height="30" { title { "gap: bytes " (a) "–" (b.saturating_sub(1)) " never captured" } } }
            }
            text class="tl" x=(N(S_LEFT)) y="86" { "byte " (start) }
            text class="tl" x=(N(S_LEFT + S_PW / 2.0)) y="86" text-anchor="middle" { @if axis.to_scale { "to scale" } @else { "not to scale: every segment and message at least " (MIN_PIECE) " px wide" } }
            text class="tl" x=(N(S_LEFT + S_PW)) y="86" text-anchor="end" { "byte " (end) }
            @if !calls.is_empty() {
                text class="axl" x="4" y="122" { "recv()" }
                @for (k, c) in calls.iter().enumerate() {
                    @let glued = !c.boundaries.is_empty();
                    @let cut = cut_inside(c, shown);
                    @if c.returned == Returned::Bytes {
                        rect class=(format!("call {} {}", if glued { "glued" } else { "" }, if cut { "cut" } else { "" })) data-call=(c.call) x=(N(x(c.start))) y=(N(104.0 + (k % 3) as f64 * 14.0)) width=(N((x(c.end) - x(c.start)).max(1.5))) height="12" {
                            title { (call_text(c)) }
                        }
                    } @else {
                        line class="call-end" x1=(N(x(c.start))) x2=(N(x(c.start))) y1="100" y2="150" { title { (call_text(c)) } }
                    }
                }
            }
        }
    })
}

/// Narrowest piece of the byte axis between two seams, in px.
const MIN_PIECE: f64 = 6.0;

/// The strip's byte axis: linear, unless that would draw a segment or message narrower than
/// [`MIN_PIECE`]; then each piece between two seams gets at least that and the rest is shared
/// in proportion (the order of every seam is kept).
struct ByteAxis {
    cuts: Vec<u64>,
    xs: Vec<f64>,
    to_scale: bool,
}

impl ByteAxis {
    fn new(cuts: &mut Vec<u64>, start: u64, end: u64) -> ByteAxis {
        cuts.push(start);
        cuts.push(end);
        cuts.sort_unstable();
        cuts.dedup();
        let span = (end - start).max(1) as f64;
        let pieces: Vec<f64> = cuts.windows(2).map(|w| (w[1] - w[0]) as f64 / span * S_PW).collect();
        let to_scale = pieces.iter().all(|&w| w >= MIN_PIECE) || pieces.len() as f64 * MIN_PIECE > S_PW;
        let widths: Vec<f64> = if to_scale {
            pieces
        } else {
            let room = S_PW - pieces.len() as f64 * MIN_PIECE;
            pieces.iter().map(|w| MIN_PIECE + w / S_PW * room).collect()
        };
        let mut xs = vec![S_LEFT];
        for w in widths {
            xs.push(xs.last().copied().unwrap_or(S_LEFT) + w);
        }
        ByteAxis { cuts: cuts.clone(), xs, to_scale }
    }

    fn x(&self, off: u64) -> f64 {
        let i = self.cuts.partition_point(|&c| c <= off);
        if i == 0 {
            return S_LEFT;
        }
        if i >= self.cuts.len() {
            return *self.xs.last().unwrap_or(&S_LEFT);
        }
        let (a, b) = (self.cuts[i - 1], self.cuts[i]);
        self.xs[i - 1] + (off - a) as f64 / (b - a).max(1) as f64 * (self.xs[i] - self.xs[i - 1])
    }
}

/// Does the call end strictly inside a message (the reader gets part of it)?
fn cut_inside(c: &RecvCall, msgs: &[Message]) -> bool {
    msgs.iter().any(|m| m.offset < c.end && c.end < m.offset + m.len)
}

/// `recv #3 (1024) → 200 bytes (msg 2-4, glued)`.
pub(crate) fn call_text(c: &RecvCall) -> String {
    let mut s = format!("recv #{} ({}) at {} s → ", c.call, c.asked, secs_string(c.ts, false));
    match c.returned {
        Returned::Bytes => {
            let _ = write!(s, "{} bytes {}–{}", c.end - c.start, c.start, c.end.saturating_sub(1));
            if let (Some(a), Some(b)) = (c.first_msg, c.last_msg) {
                if a == b {
                    let _ = write!(s, " (msg {a})");
                } else {
                    let _ = write!(s, " (msg {a}–{b}: {} messages glued)", b - a + 1);
                }
            }
        }
        Returned::Eof => s.push_str("b'' (the peer closed: FIN)"),
        Returned::Reset => s.push_str("fails: ConnectionResetError (RST)"),
    }
    s
}

/// `4-6,9`.
pub(crate) fn frame_list(v: &[u64]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if !s.is_empty() {
            s.push(',');
        }
        if j > i {
            let _ = write!(s, "{}-{}", v[i], v[j]);
        } else {
            let _ = write!(s, "{}", v[i]);
        }
        i = j + 1;
    }
    s
}

/// `; sticky; split over 3 frames; incomplete`.
pub(crate) fn message_marks(m: &Message) -> String {
    let mut s = String::new();
    if m.sticky {
        s.push_str("; sticky (shares a frame with another message)");
    }
    if m.split {
        let _ = write!(s, "; split over {} frames", m.nframes);
    }
    if !m.complete {
        s.push_str("; incomplete");
    }
    s
}

/// One bar per connection over the capture's time, coloured by its final Zeek state.
pub(crate) fn timeline(rows: &[&crate::output::conns::ConnRow], first_ts: i64, end_ns: i64, drawn: &[u32]) -> Markup {
    let bar = if rows.len() > 200 { 3.0 } else { 12.0 };
    let h = 30.0 + rows.len() as f64 * (bar + 2.0);
    let span = end_ns.max(1) as f64;
    let x = |ts: i64| G_LEFT + ((ts - first_ts) as f64 / span).clamp(0.0, 1.0) * G_PW;
    html! {
        svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {G_W} {}", N(h))) width=(N(G_W)) height=(N(h)) role="img" aria-label="when each connection was open" {
            text class="tl" x=(N(G_LEFT)) y="12" { "0 s" }
            text class="tl" x=(N(G_LEFT + G_PW)) y="12" text-anchor="end" { (secs_string(end_ns, false)) " s" }
            @for (k, r) in rows.iter().enumerate() {
                @let s = &r.summary;
                @let y = 22.0 + k as f64 * (bar + 2.0);
                @let cls = format!("tbar st-{}", state_group(s.conn_state.as_str()));
                @if drawn.contains(&s.conn) {
                    a href=(format!("#conn-{}", s.conn)) {
                        rect class=(cls) x=(N(x(s.first_ts))) y=(N(y)) width=(N((x(s.last_ts) - x(s.first_ts)).max(2.0))) height=(N(bar)) data-conn=(s.conn) {
                            title { "conn " (s.conn) " " (s.client) " → " (s.server) " " (s.conn_state.as_str()) " " (s.history) }
                        }
                    }
                } @else {
                    rect class=(cls) x=(N(x(s.first_ts))) y=(N(y)) width=(N((x(s.last_ts) - x(s.first_ts)).max(2.0))) height=(N(bar)) data-conn=(s.conn) {
                        title { "conn " (s.conn) " " (s.client) " → " (s.server) " " (s.conn_state.as_str()) " " (s.history) }
                    }
                }
                @if bar >= 10.0 { text class="tl" x=(N(G_LEFT - 6.0)) y=(N(y + 10.0)) text-anchor="end" { "#" (s.conn) } }
            }
        }
    }
}

/// Colour group of a Zeek connection state: closed normally, refused or reset, open at the end,
/// or no proper handshake.
pub(crate) fn state_group(state: &str) -> &'static str {
    match state {
        "SF" => "closed",
        "REJ" | "RSTO" | "RSTR" | "RSTOS0" | "RSTRH" => "reset",
        "S1" | "S2" | "S3" => "open",
        _ => "odd",
    }
}

/// A flag letter string, for the legend.
pub(crate) fn flags(f: u8) -> String {
    FlagLetters(f).to_string()
}

/// Where a stream ended, in words.
pub(crate) fn end_words(end: StreamEnd) -> &'static str {
    match end {
        StreamEnd::Fin => "the sender closed (FIN)",
        StreamEnd::Reset => "the sender reset (RST)",
        StreamEnd::ReaderReset => "the reader reset the connection",
        StreamEnd::Open => "still open when the capture ended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round_and_hold_the_maximum() {
        for (max, top) in [(0.043, 0.05), (1.0, 1.0), (1.01, 1.25), (7.3e6, 1e7), (123.0, 125.0), (26.0, 50.0), (3.0, 5.0)] {
            let got = nice_top(max, 5);
            assert!((got - top).abs() < 1e-9 * top, "{max}: {got}, want {top}");
            assert!(got >= max);
        }
        assert_eq!(tick_decimals(0.01), 2);
        assert_eq!(tick_decimals(0.25), 2);
        assert_eq!(tick_decimals(5.0), 0);
        assert_eq!(tick_decimals(2e-5), 5);
    }

    #[test]
    fn time_spans_are_round_and_hold_the_range() {
        // (t0, t1) ns -> (lo, hi)
        for ((t0, t1), want) in [
            ((0, 403_543_000), (0, 500_000_000)),
            ((120_000, 403_543_000), (0, 500_000_000)),
            ((1_234_567_000, 1_298_000_000), (1_220_000_000, 1_320_000_000)),
            ((0, 1), (0, 5)),
        ] {
            let got = nice_span(t0, t1, 5);
            assert_eq!(got, want, "{t0}..{t1}");
            assert!(got.0 <= t0 && got.1 >= t1);
        }
    }

    #[test]
    fn decimation_keeps_marks_and_budget() {
        let keep = |i: usize| i.is_multiple_of(97);
        let picked = decimate(10_000, 500, keep);
        assert!(picked.len() <= 600, "{}", picked.len());
        assert!((0..10_000).filter(|&i| keep(i)).all(|i| picked.contains(&i)));
        assert_eq!(decimate(10, 500, |_| false), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(N(1.0).to_string(), "1");
        assert_eq!(N(1.25).to_string(), "1.3");
        assert_eq!(N(-0.04).to_string(), "0");
        assert_eq!(frame_list(&[4, 5, 6, 9]), "4-6,9");
    }
}
