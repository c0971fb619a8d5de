//! The page: one HTML document with everything inline (style, script, SVG), a
//! Content-Security-Policy by hash, readable without script and printable. maud escapes every
//! interpolated value for HTML; data for the script goes through [`super::escape::json_string`].

use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::io::{self, Write};

use super::escape::{csp, json_string};
use super::model::{Collected, Detail, ReportOptions, UdpRow, MESSAGE_CAP, UDP_ROWS};
use super::svg::{self, call_text, dir_class, frame_list, message_class, message_marks, recv_calls, STRIP_MESSAGES};
use crate::output::conns::{group, ConnRow};
use crate::output::stream::preview;
use crate::output::time::secs_string;
use crate::pipeline::RunSummary;

/// What the overview says of the run: frames, and the warnings in words.
#[derive(Clone, Debug, Default)]
pub struct RunFacts {
    /// Frames read from the input.
    pub frames: u64,
    /// Frames that passed the filter.
    pub shown: u64,
    /// Drops, evictions, damage, malformed frames, link types not decoded.
    pub warnings: Vec<String>,
}

impl RunFacts {
    /// The facts of a finished run.
    pub fn of(sum: &RunSummary) -> RunFacts {
        let mut warnings: Vec<String> = Vec::new();
        if sum.evicted > 0 {
            warnings.push(format!(
                "{} connections were evicted from the full tracking table ({} at once): summarised early; raise --max-conns",
                sum.evicted, sum.max_conns
            ));
        }
        if sum.cap_dropped_bytes > 0 {
            warnings.push(format!(
                "{} bytes of out-of-order stream data were dropped by the reassembly memory caps",
                group(sum.cap_dropped_bytes)
            ));
        }
        if let Some(e) = &sum.damage {
            warnings.push(format!("the input is damaged: {e} (after {} frames)", sum.frames));
        }
        if sum.malformed > 0 {
            warnings.push(format!("{} frames had decoding warnings (malformed or cut)", group(sum.malformed)));
        }
        for lt in &sum.unsupported_linktypes {
            warnings.push(format!("link type {lt} ({}) is not decoded", crate::decode::link::linktype_name(*lt)));
        }
        RunFacts { frames: sum.frames, shown: sum.shown, warnings }
    }
}
use crate::track::tcp::Dir;

/// The page's style sheet (its hash is in the CSP).
pub const STYLE: &str = include_str!("report.css");
/// The page's script (its hash is in the CSP).
pub const SCRIPT: &str = include_str!("report.js");

/// Messages listed per direction in a connection's message table.
const TABLE_MESSAGES: usize = 100;

/// Rows of the connection table: the largest, longest, slowest to set up and most
/// retransmitting connections, `rows` in all (each criterion a quarter), in id order.
fn listed(rows: &[ConnRow], n: usize) -> Vec<&ConnRow> {
    if rows.len() <= n {
        let mut all: Vec<&ConnRow> = rows.iter().collect();
        all.sort_by_key(|r| r.summary.conn);
        return all;
    }
    let quarter = (n / 4).max(1);
    let mut pick = std::collections::BTreeMap::new();
    let keys: [&dyn Fn(&ConnRow) -> i64; 4] = [
        &|r| (r.summary.bytes[0] + r.summary.bytes[1]) as i64,
        &|r| r.summary.last_ts - r.summary.first_ts,
        &|r| r.summary.irtt.unwrap_or(0),
        &|r| r.summary.retransmissions as i64,
    ];
    for key in keys {
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        idx.sort_by_key(|&i| (std::cmp::Reverse(key(&rows[i])), rows[i].summary.conn));
        for i in idx.into_iter().take(quarter) {
            pick.insert(rows[i].summary.conn, &rows[i]);
        }
    }
    pick.into_values().collect()
}

fn ms(ns: i64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// Where the sections of `<main>` go in the page's frame (not text the page can hold: a
/// control character, escaped everywhere else).
const MAIN_AT: &str = "\u{1}main\u{1}";

/// Writes the whole page to `w`, section by section (the overview, each connection drawn, each
/// UDP flow, the legend), so that no more than one section is held as text at a time; returns
/// the bytes written.
pub fn render(w: &mut dyn Write, opts: &ReportOptions, col: &mut Collected, sum: &RunFacts) -> io::Result<u64> {
    let drawn = col.drawn(if opts.conn.is_some() { 1 } else { opts.top });
    let drawn_ids: Vec<u32> = drawn.iter().map(|d| d.id).collect();
    let udp_drawn = col.udp_drawn(if opts.conn.is_some() { 0 } else { opts.top });
    let udp_ids: Vec<u32> = udp_drawn.iter().map(|u| u.id).collect();
    let listed = listed(&col.rows, opts.rows);
    let first_ts = col.first_ts.unwrap_or(0);
    let policy = csp(SCRIPT, STYLE);
    let expect = expectations(&drawn, &udp_drawn, opts);
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(policy);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(concat!("wireseam ", env!("CARGO_PKG_VERSION")));
                title { "wireseam report: " (opts.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                svg class="defs" xmlns="http://www.w3.org/2000/svg" width="0" height="0" aria-hidden="true" {
                    defs {
                        marker id="ah-c2s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" { path class="c2s-fill" d="M0,0 L10,5 L0,10 z" {} }
                        marker id="ah-s2c" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" { path class="s2c-fill" d="M0,0 L10,5 L0,10 z" {} }
                    }
                }
                header {
                    h1 { "wireseam report: " span class="file" { (opts.title) } }
                    nav aria-label="connections" {
                        a href="#overview" { "Overview" }
                        @for d in &drawn { a href=(format!("#conn-{}", d.id)) { "#" (d.id) } }
                        @for u in &udp_drawn { a href=(format!("#udp-{}", u.id)) { "UDP #" (u.id) } }
                        a href="#legend" { "Legend" }
                        @if !drawn.is_empty() {
                            label { "Connection " select id="pick" {
                                option value="" { "—" }
                                @for d in &drawn { option value=(d.id) { "#" (d.id) " " (d.endpoints.0) " ⇄ " (d.endpoints.1) } }
                            } }
                        }
                    }
                }
                main { (PreEscaped(MAIN_AT)) }
                aside id="detail" aria-live="polite" hidden { button type="button" id="detail-close" aria-label="close" { "×" } pre id="detail-text" {} }
                script type="application/json" id="expect" { (PreEscaped(expect)) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    let frame = body.into_string();
    let (before, after) = frame.split_once(MAIN_AT).expect("the frame has its <main>");
    let mut written = 0u64;
    let mut put = |w: &mut dyn Write, text: &str| {
        written += text.len() as u64;
        w.write_all(text.as_bytes())
    };
    put(w, before)?;
    put(w, &overview(col, sum, &listed, &drawn_ids, &udp_ids, first_ts, opts.conn.filter(|_| drawn_ids.is_empty())).into_string())?;
    for d in &drawn {
        put(w, &connection(d, opts).into_string())?;
    }
    for u in &udp_drawn {
        put(w, &super::udp::flow(u, first_ts, opts).into_string())?;
    }
    put(w, &legend().into_string())?;
    put(w, after)?;
    Ok(written)
}

/// What the page's self-check (`#selftest`) compares the drawing with: per drawn connection
/// its TCP frames, retransmissions and endpoints, from the records (not from the drawing); per
/// drawn UDP flow the datagrams drawn and the truncated `recvfrom()` calls, from the model.
fn expectations(drawn: &[Detail], udp: &[&UdpRow], opts: &ReportOptions) -> String {
    let mut s = String::from("{\"udp\":[");
    for (i, u) in udp.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let (datagrams, truncated) = super::udp::drawn_counts(u, opts);
        s.push_str(&format!("{{\"flow\":{},\"datagrams\":{datagrams},\"truncated\":{truncated}}}", u.id));
    }
    s.push_str("],\"conns\":[");
    for (i, d) in drawn.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let (frames, retrans) = d
            .record
            .as_ref()
            .map_or((d.segs.len() as u64, 0), |r| (r.summary.packets[0] + r.summary.packets[1], r.summary.retransmissions));
        let thinned = d.thinned > 0 || d.segs.len() > 600;
        s.push_str(&format!(
            "{{\"conn\":{},\"frames\":{frames},\"retransmissions\":{retrans},\"complete\":{},\"client\":{},\"server\":{}}}",
            d.id,
            !thinned,
            json_string(&d.endpoints.0),
            json_string(&d.endpoints.1)
        ));
    }
    s.push_str("]}");
    s
}

fn overview(
    col: &Collected,
    sum: &RunFacts,
    listed: &[&ConnRow],
    drawn: &[u32],
    udp_drawn: &[u32],
    first_ts: i64,
    missing: Option<u32>,
) -> Markup {
    let p = col.protos;
    let mut warnings = sum.warnings.clone();
    if let Some(id) = missing {
        warnings.insert(0, format!("no TCP connection #{id} in this input (connections are numbered from 0; see `wireseam conns`)"));
    }
    let more_rows = col.rows.len() - listed.len();
    html! {
        section id="overview" {
            h2 { "Overview" }
            p class="counts" {
                (group(sum.frames)) " frames read, " (group(sum.shown)) " shown · "
                "TCP " (group(p.tcp)) " · UDP " (group(p.udp)) " · ICMP " (group(p.icmp)) " · ARP " (group(p.arp))
                @if p.fragments > 0 { " · IP fragments " (group(p.fragments)) }
                " · other IP " (group(p.other_ip)) " · other " (group(p.other))
                " · " (col.rows.len()) " TCP connections, " (col.udp.len() as u64 + col.udp_more) " UDP flows"
            }
            @if warnings.is_empty() { p class="ok" { "No drops, evictions or damage." } }
            @else { ul class="warnings" { @for w in &warnings { li { (w) } } } }
            @if !listed.is_empty() {
                h3 { "When each connection was open" }
                (svg::timeline(listed, first_ts, col.last_rel_ns, drawn))
                h3 { "TCP connections" }
                p class="hint" { "Click a column to sort (again to reverse). Connections with a link are drawn in full below." }
                table class="conns sortable" {
                    thead { tr {
                        @for (h, kind) in [("id", "n"), ("client", "s"), ("server", "s"), ("state", "s"), ("history", "s"), ("client state", "s"), ("server state", "s"), ("start s", "n"), ("duration s", "n"), ("iRTT ms", "n"), ("packets c→s/s→c", "n"), ("bytes c→s/s→c", "n"), ("retrans", "n"), ("dup acks", "n"), ("zero win", "n"), ("messages c→s/s→c", "n")] {
                            th data-kind=(kind) { button type="button" { (h) } }
                        }
                    } }
                    tbody {
                        @for r in listed {
                            @let s = &r.summary;
                            tr class=(format!("st-{}", svg::state_group(s.conn_state.as_str()))) data-conn=(s.conn) {
                                td data-v=(s.conn) { @if drawn.contains(&s.conn) { a href=(format!("#conn-{}", s.conn)) { "#" (s.conn) } } @else { "#" (s.conn) } }
                                td { (s.client) } td { (s.server) }
                                td { (s.conn_state.as_str()) } td { code { (s.history) } }
                                td { (s.client_state.name()) } td { (s.server_state.name()) }
                                td data-v=(s.first_ts - first_ts) { (secs_string(s.first_ts - first_ts, false)) }
                                td data-v=(s.last_ts - s.first_ts) { (secs_string(s.last_ts - s.first_ts, false)) }
                                td data-v=(s.irtt.unwrap_or(-1)) { @if let Some(i) = s.irtt { (ms(i)) } @else { "–" } }
                                td data-v=(s.packets[0] + s.packets[1]) { (s.packets[0]) "/" (s.packets[1]) }
                                td data-v=(s.bytes[0] + s.bytes[1]) { (group(s.bytes[0])) "/" (group(s.bytes[1])) }
                                td data-v=(s.retransmissions) { (s.retransmissions) }
                                td data-v=(s.dup_acks) { (s.dup_acks) }
                                td data-v=(s.zero_windows) { (s.zero_windows) }
                                @let nm = r.seams.map(|d| d.map_or(0, |d| d.messages));
                                td data-v=(nm[0] + nm[1]) { (nm[0]) "/" (nm[1]) }
                            }
                        }
                    }
                }
                @if more_rows > 0 { p class="more" { (more_rows) " more connections not listed (the page lists the largest, longest, slowest to set up and most retransmitting); " code { "wireseam conns FILE --sort duration" } " lists all" } }
            }
            @if !col.udp.is_empty() {
                h3 { "UDP flows" }
                table class="udp sortable" {
                    thead { tr { @for (h, kind) in [("flow", "n"), ("first sender", "s"), ("peer", "s"), ("start s", "n"), ("datagrams →/←", "n"), ("bytes →/←", "n")] { th data-kind=(kind) { button type="button" { (h) } } } } }
                    tbody {
                        @for u in col.udp.values() {
                            tr { td data-v=(u.id) { @if udp_drawn.contains(&u.id) { a href=(format!("#udp-{}", u.id)) { (u.id) } } @else { (u.id) } } td { (u.endpoints.0) } td { (u.endpoints.1) } td data-v=(u.span.0) { (secs_string(u.span.0, false)) }
                                 td data-v=(u.datagrams[0] + u.datagrams[1]) { (u.datagrams[0]) "/" (u.datagrams[1]) } td data-v=(u.bytes[0] + u.bytes[1]) { (group(u.bytes[0])) "/" (group(u.bytes[1])) } }
                        }
                    }
                }
                @if col.udp.len() > udp_drawn.len() { p class="more" { "Flows with a link are drawn in full below (the " (udp_drawn.len()) " largest; " code { "--top" } ")." } }
                @if col.udp_more > 0 { p class="more" { "the first " (UDP_ROWS) " flows are listed; " (col.udp_more) " datagrams of later flows are counted above only" } }
            }
        }
    }
}

fn connection(d: &Detail, opts: &ReportOptions) -> Markup {
    let s = d.record.as_ref().map(|r| &r.summary);
    html! {
        section class="conn" id=(format!("conn-{}", d.id)) data-conn=(d.id) tabindex="-1" {
            h2 { "Connection #" (d.id) " " span class="c2s-t" { (d.endpoints.0) } " ⇄ " span class="s2c-t" { (d.endpoints.1) } }
            @if let Some(s) = s {
                p class="summary" {
                    "client " b { (s.client_state.name()) } " · server " b { (s.server_state.name()) } " · " (s.conn_state.as_str()) " " code { (s.history) }
                    @if let Some(i) = s.irtt { " · iRTT " (ms(i)) " ms" }
                    " · " (s.packets[0]) "/" (s.packets[1]) " packets · " (group(s.bytes[0])) "/" (group(s.bytes[1])) " bytes · "
                    (s.retransmissions) " retransmissions · " (s.dup_acks) " dup ACKs · " (s.zero_windows) " zero windows"
                    @if let (Some(a), Some(b)) = s.mss { " · MSS " (a) "/" (b) }
                    @if let (Some(a), Some(b)) = s.ws { " · window scale " (a) "/" (b) }
                }
            } @else { p class="summary" { "the connection was still open when the capture ended" } }
            details open { summary { h3 { "Ladder" } } (svg::ladder(d, opts)) }
            @for dir in [Dir::C2S, Dir::S2C] {
                @if let Some(g) = svg::time_sequence(d, dir, opts) {
                    details open id=(format!("c{}-tsg-{}", d.id, dir_class(dir))) { summary { h3 { "Time-sequence graph, " span class=(format!("{}-t", dir_class(dir))) { (dir.arrow()) } " data" } } (g) }
                }
            }
            @if let Some(g) = svg::rtt_chart(d, opts) { details open { summary { h3 { "RTT samples" } } (g) } }
            @if let Some(g) = svg::throughput_chart(d) { details { summary { h3 { "Throughput" } } (g) } }
            @for dir in [Dir::C2S, Dir::S2C] { (seams(d, dir, opts)) }
        }
    }
}

/// A direction's message seams: the strip, the reader's calls, the message table with bytes.
fn seams(d: &Detail, dir: Dir, opts: &ReportOptions) -> Markup {
    let msgs = &d.messages[dir.idx()];
    if msgs.is_empty() {
        return html! {};
    }
    let calls = recv_calls(d, dir, opts);
    let record = d.record.as_ref();
    let kept = record.map(|r| &r.kept[dir.idx()].bytes);
    let framing = record
        .and_then(|r| r.seams[dir.idx()].as_ref())
        .and_then(|s| s.framing.as_ref())
        .map(|f| f.to_string())
        .unwrap_or_else(|| msgs[0].framing.to_string());
    let reader = if dir == Dir::C2S { "server" } else { "client" };
    let prefix = format!("c{}-{}", d.id, dir_class(dir));
    let unknown = msgs.iter().all(|m| m.framing == crate::analyze::FramingSpec::Segment);
    let end = record.map(|r| crate::output::stream::stream_end(&r.summary.history, dir.idx()));
    html! {
        details open class="seams" id=(format!("c{}-seams-{}", d.id, dir_class(dir))) {
            summary { h3 { "Message seams, " span class=(format!("{}-t", dir_class(dir))) { (dir.arrow()) } " · framing " (framing) } }
            @if unknown { p class="hint" { "No framing recognised: each chunk is what one segment delivered, so sticky and split are unknown; try " code { "--framing" } "." } }
            @if let Some(strip) = svg::seam_strip(d, dir, &calls) { (strip) }
            @if msgs.len() > STRIP_MESSAGES { p class="more" { "the strip shows the first " (STRIP_MESSAGES) " of " (msgs.len()) " messages" } }
            @if opts.recv.is_empty() {
                p class="hint" { "Give " code { "--recv N" } " (and " code { "--recv-at" } ") to see what the " (reader) "'s recv() calls return." }
            } @else if !calls.is_empty() {
                details class="calls" {
                    summary { (calls.len()) " recv(" (opts.recv.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", then ")) ") calls by the " (reader) ", which " (opts.recv_at.describe()) }
                    ol { @for c in calls.iter().take(svg::RECV_SHOWN) { li class=(if c.boundaries.is_empty() { "" } else { "glued" }) { (call_text(c)) } } }
                    @if calls.len() > svg::RECV_SHOWN { p class="more" { (calls.len() - svg::RECV_SHOWN) " more calls" } }
                    @if let Some(e) = end { p { "The stream ended: " (svg::end_words(e)) "." } }
                }
            }
            details class="messages" {
                summary { (msgs.len()) @if d.messages_dropped[dir.idx()] > 0 { "+" (d.messages_dropped[dir.idx()]) } " messages: bytes, frames, sticky/split" }
                table class="msgs" {
                    thead { tr { th { "msg" } th { "bytes" } th { "len" } th { "frames" } th { "marks" } th { "preview (escaped) / hex" } } }
                    tbody {
                        @for m in msgs.iter().take(TABLE_MESSAGES) {
                            @let body = kept.and_then(|k| { let e = (m.offset + m.len) as usize; (e <= k.len()).then(|| &k[m.offset as usize..e]) });
                            tr id=(format!("{prefix}-m{}", m.index)) class=(message_class(m)) {
                                td { (m.index) } td { (m.offset) "–" ((m.offset + m.len).saturating_sub(1)) } td { (m.len) }
                                td { (frame_list(&m.frames)) } td { (message_marks(m).trim_start_matches("; ").replace("; ", ", ")) }
                                td {
                                    @if let Some(b) = body {
                                        details { summary { code { (preview(b, opts.preview)) } } pre class="hex" { (hex(b)) } }
                                    } @else { "(bytes not kept)" }
                                }
                            }
                        }
                    }
                }
                @if msgs.len() > TABLE_MESSAGES { p class="more" { "the first " (TABLE_MESSAGES) " messages are listed" @if msgs.len() >= MESSAGE_CAP { " (" (MESSAGE_CAP) " kept)" } "; " code { "wireseam stream FILE --conn " (d.id) } " lists all" } }
            }
        }
    }
}

/// Bytes of a message shown in hex (the page stays small with bulk transfers).
const HEX_SHOWN: usize = 128;

fn hex(b: &[u8]) -> String {
    hex_of(b, b.len() as u64)
}

/// The first bytes of `b` in hex, and how many of the `total` bytes it stands for are not shown.
pub(crate) fn hex_of(b: &[u8], total: u64) -> String {
    let shown = b.len().min(HEX_SHOWN);
    let mut v = Vec::new();
    let _ = crate::output::text::write_hex(&mut v, &b[..shown], "");
    let mut s = String::from_utf8_lossy(&v).into_owned();
    if total > shown as u64 {
        s.push_str(&format!("… {} more bytes\n", total - shown as u64));
    }
    s
}

fn legend() -> Markup {
    let sw = |class: &str| html! { svg class="sw" xmlns="http://www.w3.org/2000/svg" width="28" height="12" viewBox="0 0 28 12" { rect class=(class) x="0" y="0" width="28" height="12" {} } };
    let ln = |class: &str| html! { svg class="sw" xmlns="http://www.w3.org/2000/svg" width="28" height="12" viewBox="0 0 28 12" { line class=(class) x1="0" y1="6" x2="28" y2="6" {} } };
    html! {
        section id="legend" {
            h2 { "Legend" }
            ul class="legend" {
                li { (ln("c2s-stroke")) " client → server" } li { (ln("s2c-stroke")) " server → client" }
                li { (sw("ph-handshake")) " handshake" } li { (sw("ph-teardown")) " teardown" } li { (sw("ph-reset")) " reset" } li { (sw("ph-other")) " keep-alive, probes, other" }
                li { span class="state" { "STATE" } " an endpoint's RFC 9293 state, written when it changes" }
                li { (sw("m-retrans-fill")) " retransmission" } li { (sw("m-ooo-fill")) " out of order" } li { (sw("m-dup-fill")) " duplicate ACK" } li { (sw("m-zw-fill")) " zero window" } li { (sw("m-lost-fill")) " previous segment not captured" }
                li { (ln("ack")) " ACK line (what the receiver acknowledged)" } li { (ln("win")) " receive window (ACK + window)" } li { (ln("sack")) " SACK block" }
                li { (sw("msg-plain")) " message" } li { (sw("msg-sticky")) " sticky: shares a frame with another message" } li { (sw("msg-split")) " split over several frames" } li { (sw("msg-both")) " sticky and split" } li { (sw("msg-incomplete")) " incomplete" } li { (sw("gap")) " gap (bytes never captured)" }
                li { (sw("dgram-c2s")) (sw("dgram-s2c")) " UDP datagram (one message; the space between two is a boundary)" } li { (sw("rf")) " what one recvfrom() returns" } li { (sw("rf-lost")) " the rest of a datagram, discarded" }
                li { (sw("call")) " recv() call" } li { (sw("call glued")) " a call that returns several messages glued" } li { (sw("call cut")) " a call that ends inside a message" }
                li { (sw("tbar st-closed")) " closed normally (SF)" } li { (sw("tbar st-reset")) " refused or reset" } li { (sw("tbar st-open")) " open at the end" } li { (sw("tbar st-odd")) " no full handshake seen" }
            }
            p class="hint" { "Flags as tcpdump: " (svg::flags(0x02)) " SYN, " (svg::flags(0x12)) " SYN+ACK, " (svg::flags(0x18)) " PSH+ACK, " (svg::flags(0x11)) " FIN+ACK, " (svg::flags(0x04)) " RST. Hover a segment for its line; click it (or Enter) to pin it. Graphs: drag to pan, wheel or +/− to zoom, 0 to reset." }
        }
    }
}
