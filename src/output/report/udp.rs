//! A UDP flow drawn: per direction each datagram a block with a gap to the next (UDP keeps
//! message boundaries, RFC 768: one datagram is one message), and under each block what one
//! `recvfrom()` of the chosen `--recv` size returns of it; the part of a datagram larger than
//! the buffer is discarded by the kernel (recv(2): "excess bytes may be discarded"), drawn
//! hatched. The calls come from [`simulate_recvfrom`] and their words from
//! [`recvfrom_text`], as `wireseam stream` writes them.

use maud::{html, Markup};

use super::model::{ReportOptions, UdpRow};
use super::svg::{frame_list, N};
use crate::analyze::{simulate_recvfrom, Message, RecvFromCall};
use crate::output::conns::group;
use crate::output::stream::{preview, recvfrom_text};
use crate::output::time::secs_string;

/// Datagrams drawn per direction on a flow's strip (the rest are counted in a note).
pub const UDP_STRIP: usize = 120;
/// Datagrams listed per direction in a flow's table.
const UDP_TABLE: usize = 100;

// Strip geometry (as the TCP seam strip's).
const U_W: f64 = 960.0;
const U_LEFT: f64 = 70.0;
const U_PW: f64 = 880.0;
/// Space between two datagrams: the boundary the socket keeps.
const U_GAP: f64 = 3.0;
/// Narrowest datagram, px.
const U_MIN: f64 = 4.0;

/// `1 datagram`, `2 datagrams`.
fn datagrams(n: u64) -> String {
    format!("{} {}", group(n), if n == 1 { "datagram" } else { "datagrams" })
}

/// The direction's words: UDP has no client and server, only the first sender and its peer.
fn dir_words(d: usize) -> (&'static str, &'static str) {
    if d == 0 {
        ("→", "first sender → peer")
    } else {
        ("←", "peer → first sender")
    }
}

/// `(x, width)` of each datagram: at least [`U_MIN`] px, the rest of the strip shared in
/// proportion to the lengths, [`U_GAP`] between two.
fn layout(msgs: &[Message]) -> Vec<(f64, f64)> {
    let n = msgs.len();
    let total: u64 = msgs.iter().map(|m| m.len.max(1)).sum::<u64>().max(1);
    let room = (U_PW - U_GAP * n.saturating_sub(1) as f64 - U_MIN * n as f64).max(0.0);
    let mut x = U_LEFT;
    msgs.iter()
        .map(|m| {
            let w = U_MIN + room * m.len.max(1) as f64 / total as f64;
            let at = (x, w);
            x += w + U_GAP;
            at
        })
        .collect()
}

/// A datagram's line: direction, endpoints, frames, time, length, fragments and its preview.
fn datagram_text(u: &UdpRow, d: usize, m: &Message, first_ts: i64, opts: &ReportOptions) -> String {
    let (from, to) = if d == 0 { (&u.endpoints.0, &u.endpoints.1) } else { (&u.endpoints.1, &u.endpoints.0) };
    let mut s = format!(
        "datagram {} (msg {})  {} s  {from} → {to}  {} bytes  frame {}",
        m.index,
        m.index,
        secs_string(m.first_ts - first_ts, true),
        group(m.len),
        frame_list(&m.frames)
    );
    if m.split {
        s.push_str(&format!("  in {} IP fragments, reassembled: still one datagram", m.nframes));
    }
    if !m.complete {
        s.push_str("  incomplete");
    }
    if let Some(b) = u.previews.get(&(d, m.index)) {
        s.push_str("  ");
        s.push_str(&preview(b, opts.preview));
    }
    s
}

/// One direction's strip: the datagrams, and under them the `recvfrom()` calls.
fn strip(u: &UdpRow, d: usize, msgs: &[Message], calls: &[RecvFromCall], first_ts: i64, opts: &ReportOptions) -> Markup {
    let at = layout(msgs);
    let h = if calls.is_empty() { 70.0 } else { 112.0 };
    let (arrow, words) = dir_words(d);
    html! {
        svg class="strip udp-strip" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {U_W} {h}")) width=(N(U_W)) height=(N(h)) role="img" aria-label=(format!("UDP flow {} {arrow} datagrams ({words}){}", u.id, if calls.is_empty() { "" } else { " and the recvfrom() call that reads each" })) {
            text class="axl" x="4" y="28" { "datagrams" }
            @for (m, (x, w)) in msgs.iter().zip(&at) {
                g class=(format!("seg dgram {}{}", if d == 0 { "c2s" } else { "s2c" }, if m.split { " frag" } else { "" })) data-f=(m.frames.last().copied().unwrap_or(0)) data-dgram=(m.index) tabindex="0" role="button" {
                    title { (datagram_text(u, d, m, first_ts, opts)) }
                    rect x=(N(*x)) y="10" width=(N(*w)) height="28" {}
                    @if *w > 16.0 { text class="mi" x=(N(x + w / 2.0)) y="28" text-anchor="middle" { (m.index) } }
                }
            }
            @if !calls.is_empty() {
                text class="axl" x="4" y="70" { "recvfrom()" }
                @for (c, (x, w)) in calls.iter().zip(&at) {
                    @let got = w * c.returned as f64 / c.len.max(1) as f64;
                    @let text = recvfrom_text(c, u.previews.get(&(d, c.index)).map(Vec::as_slice), opts.preview);
                    rect class=(if c.lost() > 0 { "rf trunc" } else { "rf" }) data-call=(c.call) x=(N(*x)) y="54" width=(N(got.max(1.0))) height="22" { title { (text) } }
                    @if got > 70.0 { text class="rl" x=(N(x + 4.0)) y="69" { (group(c.returned)) " B read" } }
                    @if c.lost() > 0 {
                        rect class="rf-lost" x=(N(x + got)) y="54" width=(N((w - got).max(1.0))) height="22" { title { (group(c.lost())) " bytes of datagram " (c.index) " discarded: the next recvfrom() returns the next datagram" } }
                        @if w - got > 110.0 { text class="rl" x=(N(x + w - 4.0)) y="69" text-anchor="end" { (group(c.lost())) " B discarded" } }
                    }
                }
            }
            text class="tl" x=(N(U_LEFT)) y=(N(h - 8.0)) { "datagram " (msgs[0].index) }
            text class="tl" x=(N(U_LEFT + U_PW / 2.0)) y=(N(h - 8.0)) text-anchor="middle" { "width: length (at least " (U_MIN) " px); the space between two is the boundary UDP keeps" }
            text class="tl" x=(N(U_LEFT + U_PW)) y=(N(h - 8.0)) text-anchor="end" { "datagram " (msgs[msgs.len() - 1].index) }
        }
    }
}

/// How many datagrams and truncated `recvfrom()` calls the strips of `u` draw (for the page's
/// self-check, from the model rather than the drawing).
pub(crate) fn drawn_counts(u: &UdpRow, opts: &ReportOptions) -> (usize, usize) {
    let mut datagrams = 0;
    let mut truncated = 0;
    for msgs in &u.messages {
        let shown = &msgs[..msgs.len().min(UDP_STRIP)];
        datagrams += shown.len();
        truncated += simulate_recvfrom(shown, &opts.recv).iter().filter(|c| c.lost() > 0).count();
    }
    (datagrams, truncated)
}

/// A UDP flow's section: per direction the strip, the `recvfrom()` calls and the datagrams'
/// bytes.
pub(crate) fn flow(u: &UdpRow, first_ts: i64, opts: &ReportOptions) -> Markup {
    html! {
        section class="udp-flow" id=(format!("udp-{}", u.id)) data-flow=(u.id) tabindex="-1" {
            h2 { "UDP flow #" (u.id) " " span class="c2s-t" { (u.endpoints.0) } " ⇄ " span class="s2c-t" { (u.endpoints.1) } }
            p class="summary" {
                (group(u.datagrams[0])) "/" (group(u.datagrams[1])) " datagrams · " (group(u.bytes[0])) "/" (group(u.bytes[1])) " bytes · "
                "UDP keeps message boundaries: one datagram is one message, and one recvfrom() returns one datagram (or its first N bytes)"
            }
            @for d in 0..2 { (direction(u, d, first_ts, opts)) }
        }
    }
}

fn direction(u: &UdpRow, d: usize, first_ts: i64, opts: &ReportOptions) -> Markup {
    let msgs = &u.messages[d];
    if msgs.is_empty() {
        return html! {};
    }
    let shown = &msgs[..msgs.len().min(UDP_STRIP)];
    let calls = simulate_recvfrom(msgs, &opts.recv);
    let (arrow, words) = dir_words(d);
    let sent = u.datagrams[d];
    let cls = if d == 0 { "c2s-t" } else { "s2c-t" };
    html! {
        details open class="seams" id=(format!("u{}-{}", u.id, if d == 0 { "c2s" } else { "s2c" })) {
            summary { h3 { "Datagrams, " span class=(cls) { (arrow) } " (" (words) ") · " (datagrams(msgs.len() as u64 + u.messages_dropped[d])) } }
            (strip(u, d, shown, &calls[..calls.len().min(shown.len())], first_ts, opts))
            @if shown.len() < msgs.len() || u.messages_dropped[d] > 0 || (sent as usize) > msgs.len() {
                p class="more" { "the strip shows the first " (shown.len()) " of " (sent.max(msgs.len() as u64)) " datagrams (" (msgs.len()) " kept); " code { "wireseam stream FILE --recv N" } " lists all" }
            }
            @if opts.recv.is_empty() {
                p class="hint" { "Give " code { "--recv N" } " to see what each recvfrom(N) returns (a datagram larger than N is cut, the rest discarded)." }
            } @else {
                details class="calls" {
                    summary { (calls.len()) " recvfrom(" (opts.recv.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", then ")) ") " (if calls.len() == 1 { "call" } else { "calls" }) ", one datagram each; " (calls.iter().filter(|c| c.lost() > 0).count()) " truncated" }
                    ol { @for c in &calls { li class=(if c.lost() > 0 { "trunc" } else { "" }) { (recvfrom_text(c, u.previews.get(&(d, c.index)).map(Vec::as_slice), opts.preview)) } } }
                }
            }
            details class="messages" {
                summary { (datagrams(msgs.len() as u64)) ": length, frames, bytes" }
                table class="msgs" {
                    thead { tr { th { "msg" } th { "len" } th { "frames" } th { "marks" } th { "preview (escaped) / hex" } } }
                    tbody {
                        @for m in msgs.iter().take(UDP_TABLE) {
                            tr id=(format!("u{}-{}-m{}", u.id, d, m.index)) {
                                td { (m.index) } td { (m.len) } td { (frame_list(&m.frames)) }
                                td { @if m.split { "in " (m.nframes) " IP fragments, reassembled" } @if !m.complete { " incomplete" } }
                                td {
                                    @if let Some(b) = u.previews.get(&(d, m.index)) {
                                        details { summary { code { (preview(b, opts.preview)) } } pre class="hex" { (super::page::hex_of(b, m.len)) } }
                                    } @else { "(bytes not kept)" }
                                }
                            }
                        }
                    }
                }
                @if msgs.len() > UDP_TABLE { p class="more" { "the first " (UDP_TABLE) " datagrams are listed" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::FramingSpec;
    use crate::track::tcp::Dir;
    use crate::track::FlowId;

    fn dgram(index: u64, len: u64) -> Message {
        Message {
            flow: FlowId::Udp(0),
            dir: Dir::C2S,
            index,
            offset: 0,
            len,
            framing: FramingSpec::Datagram,
            frames: vec![index + 1],
            nframes: 1,
            sticky: false,
            split: false,
            wire_unknown: false,
            complete: true,
            first_ts: 0,
            last_ts: 0,
            head: None,
        }
    }

    #[test]
    fn datagrams_fit_the_strip_apart_and_in_proportion() {
        let msgs: Vec<Message> = (0..UDP_STRIP as u64).map(|i| dgram(i, if i == 5 { 60_000 } else { 1 })).collect();
        let at = layout(&msgs);
        for w in at.windows(2) {
            assert!((w[1].0 - (w[0].0 + w[0].1) - U_GAP).abs() < 1e-6, "a gap between every two");
        }
        let (x, w) = at[at.len() - 1];
        assert!(x + w <= U_LEFT + U_PW + 1e-6, "within the strip");
        assert!(at.iter().all(|a| a.1 >= U_MIN));
        assert!(at[5].1 > 10.0 * at[4].1, "the big one is wider");
    }

    #[test]
    fn truncated_calls_are_counted_as_recvfrom_makes_them() {
        let mut u = UdpRow { id: 0, ..UdpRow::default() };
        u.messages[0] = vec![dgram(0, 2000), dgram(1, 10)];
        u.messages[1] = vec![dgram(0, 2)];
        let opts = ReportOptions { recv: vec![1024], ..ReportOptions::default() };
        assert_eq!(drawn_counts(&u, &opts), (3, 1));
        let html = flow(&u, 0, &opts).into_string();
        assert_eq!(html.matches("class=\"rf-lost\"").count(), 1);
        assert!(html.contains("recvfrom #1 (1024) → 1,024 of 2,000 bytes"), "{html}");
    }
}
