//! The golden text of a [`Recording`] at a [`Level`], normalised by [`GoldenOptions`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::record::{ConnFacts, DatagramRec, MessageRec, PacketRec, Recording, PREVIEW};
use super::{GoldenOptions, HostMode, Ignore, Level, PortMode, TimeMode};
use crate::analyze::push_escaped;
use crate::analyze::FramingSpec;
use crate::output::FlagLetters;
use crate::track::tcp::Dir;

/// Names for endpoints: client ports `c1`, `c2`, … and hosts `h1`, `h2`, … in order of appearance.
struct Names {
    ports: PortMode,
    hosts: HostMode,
    port_names: HashMap<SocketAddr, String>,
    host_names: HashMap<IpAddr, String>,
}

impl Names {
    fn new(opts: &GoldenOptions) -> Self {
        Names { ports: opts.ports, hosts: opts.hosts, port_names: HashMap::new(), host_names: HashMap::new() }
    }

    fn host(&mut self, ip: IpAddr) -> String {
        match self.hosts {
            HostMode::Keep => ip.to_string(),
            HostMode::Map => {
                let next = self.host_names.len() + 1;
                self.host_names.entry(ip).or_insert_with(|| format!("h{next}")).clone()
            }
        }
    }

    /// A client endpoint: its port renamed unless ports are kept.
    fn client(&mut self, addr: SocketAddr) -> String {
        let host = self.host(addr.ip());
        let port = match self.ports {
            PortMode::Keep => addr.port().to_string(),
            PortMode::Ephemeral => {
                let next = self.port_names.len() + 1;
                self.port_names.entry(addr).or_insert_with(|| format!("c{next}")).clone()
            }
        };
        join(&host, addr.ip(), &port)
    }

    /// A server endpoint: its (listening) port kept.
    fn server(&mut self, addr: SocketAddr) -> String {
        let host = self.host(addr.ip());
        join(&host, addr.ip(), &addr.port().to_string())
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn join(host: &str, ip: IpAddr, port: &str) -> String {
    if ip.is_ipv6() && !host.starts_with('h') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One flow of the recording, in order of first appearance.
enum Flow<'r> {
    Tcp(&'r ConnFacts),
    Udp(Vec<&'r DatagramRec>),
}

impl Flow<'_> {
    fn first_frame(&self) -> u64 {
        match self {
            Flow::Tcp(c) => c.summary.first_frame,
            Flow::Udp(d) => d.first().map_or(0, |d| d.frame),
        }
    }
}

/// A recording's segments and messages by connection, gathered once.
struct ByConn<'r> {
    packets: HashMap<u32, Vec<&'r PacketRec>>,
    messages: HashMap<(u32, Dir), Vec<&'r MessageRec>>,
}

impl<'r> ByConn<'r> {
    fn of(rec: &'r Recording) -> Self {
        let mut by = ByConn { packets: HashMap::new(), messages: HashMap::new() };
        for p in &rec.packets {
            by.packets.entry(p.conn).or_default().push(p);
        }
        for m in &rec.messages {
            by.messages.entry((m.conn, m.dir)).or_default().push(m);
        }
        for list in by.messages.values_mut() {
            list.sort_by_key(|m| m.index);
        }
        by
    }
}

/// The golden text of `rec` (without the header).
pub fn render(rec: &Recording, opts: &GoldenOptions) -> String {
    let by = ByConn::of(rec);
    let mut flows: Vec<Flow<'_>> = rec.conns.iter().map(Flow::Tcp).collect();
    let mut udp: Vec<u32> = rec.datagrams.iter().map(|d| d.flow).collect();
    udp.sort_unstable();
    udp.dedup();
    for id in udp {
        flows.push(Flow::Udp(rec.datagrams.iter().filter(|d| d.flow == id).collect()));
    }
    flows.sort_by_key(Flow::first_frame);
    let mut names = Names::new(opts);
    let mut out = String::new();
    if flows.is_empty() {
        out.push_str("no TCP connection or UDP flow\n");
    }
    let (mut tcp_n, mut udp_n) = (0, 0);
    for flow in &flows {
        out.push('\n');
        match flow {
            Flow::Tcp(conn) => {
                tcp_n += 1;
                render_conn(&mut out, tcp_n, conn, &by, opts, &mut names);
            }
            Flow::Udp(datagrams) => {
                udp_n += 1;
                render_udp(&mut out, udp_n, datagrams, opts, &mut names);
            }
        }
    }
    out
}

fn side(dir: Dir) -> &'static str {
    match dir {
        Dir::C2S => "c→s",
        Dir::S2C => "s→c",
    }
}

/// How the connection was opened and closed, from its Zeek history letters (upper case: the
/// client's).
fn open_close(history: &str) -> (String, String) {
    let opened = if history.starts_with('^') {
        "opened by the server side (roles flipped: the first packet seen was a SYN-ACK)".to_string()
    } else if history.starts_with('S') {
        "opened by the client".to_string()
    } else {
        "open before the capture started".to_string()
    };
    let first_end = history.chars().find(|c| matches!(c, 'F' | 'f' | 'R' | 'r'));
    let closed = match first_end {
        Some('F') => {
            if history.contains('f') {
                "closed by the client first, then the server".into()
            } else {
                "the client closed; the server did not (yet)".into()
            }
        }
        Some('f') => {
            if history.contains('F') {
                "closed by the server first, then the client".into()
            } else {
                "the server closed; the client did not (yet)".into()
            }
        }
        Some('R') => "reset by the client".into(),
        Some('r') => "reset by the server".into(),
        _ => "not closed in the capture".into(),
    };
    (opened, closed)
}

/// Zeek's history letters per side in a fixed order, not in the order of first occurrence: which
/// side's pure ACK or data came first depends on scheduling, what each side did does not.
fn history_letters(history: &str) -> String {
    const ORDER: &str = "SHADFRQITWGC";
    let side = |upper: bool| -> String {
        ORDER
            .chars()
            .filter(|&l| history.chars().any(|c| if upper { c == l } else { c == l.to_ascii_lowercase() }))
            .map(|l| if upper { l } else { l.to_ascii_lowercase() })
            .collect()
    };
    let (client, server) = (side(true), side(false));
    let flipped = if history.starts_with('^') { ", roles flipped (^)" } else { "" };
    let none = |s: String| if s.is_empty() { "-".to_string() } else { s };
    format!("letters client {}, server {}{flipped}", none(client), none(server))
}

fn opt_pair<T: std::fmt::Display>(pair: (Option<T>, Option<T>)) -> String {
    let one = |v: Option<T>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    format!("{}/{}", one(pair.0), one(pair.1))
}

fn render_conn(out: &mut String, n: usize, conn: &ConnFacts, by: &ByConn<'_>, opts: &GoldenOptions, names: &mut Names) {
    let s = &conn.summary;
    let client = names.client(s.client);
    let server = names.server(s.server);
    let _ = writeln!(out, "tcp {n}  {client} → {server}");
    let (opened, closed) = open_close(&s.history);
    let _ = writeln!(out, "  {opened}; {closed}");
    let _ = writeln!(out, "  final: client {}, server {}", s.client_state.name(), s.server_state.name());
    if opts.level == Level::Packets && !opts.ignores(Ignore::Timing) {
        // The history's order is the interleaving of the two directions.
        let _ = writeln!(out, "  zeek: {} {}", s.conn_state, s.history);
    } else {
        let _ = writeln!(out, "  zeek: {} {}", s.conn_state, history_letters(&s.history));
    }
    let _ = writeln!(
        out,
        "  negotiated: mss {}, ws {}, sack {}, timestamps {}",
        opt_pair(s.mss),
        opt_pair(s.ws),
        if s.sack_perm { "yes" } else { "no" },
        if s.timestamps { "yes" } else { "no" }
    );
    let _ = writeln!(out, "  payload: c→s {} bytes, s→c {} bytes", stream_len(conn, 0), stream_len(conn, 1));
    if opts.level == Level::Conns {
        return;
    }
    for (d, dir) in [(0usize, Dir::C2S), (1, Dir::S2C)] {
        render_messages(out, conn, d, dir, by);
    }
    if opts.level == Level::Packets {
        render_packets(out, by.packets.get(&s.conn).map_or(&[][..], |p| p.as_slice()), opts);
    }
}

/// Bytes of direction `d`'s reassembled stream (retransmitted copies counted once), as kept.
fn stream_len(conn: &ConnFacts, d: usize) -> usize {
    conn.bytes[d].len()
}

fn render_messages(out: &mut String, conn: &ConnFacts, d: usize, dir: Dir, by: &ByConn<'_>) {
    let Some(messages) = by.messages.get(&(conn.summary.conn, dir)).filter(|m| !m.is_empty()) else { return };
    let bytes = &conn.bytes[d];
    let framing = conn.framing[d].unwrap_or(messages[0].framing);
    if framing == FramingSpec::Segment {
        // Chunks follow segmentation, which varies; the stream as a whole does not.
        let _ = writeln!(
            out,
            "  {}  {} bytes, boundaries unknown (no framing recognised): {} fnv {:016x}",
            side(dir),
            bytes.len(),
            preview(bytes),
            fnv1a(bytes)
        );
        return;
    }
    let _ = writeln!(
        out,
        "  {}  framing {framing}, {} {}",
        side(dir),
        messages.len(),
        if messages.len() == 1 { "message" } else { "messages" }
    );
    for m in messages {
        let start = (m.offset as usize).min(bytes.len());
        let end = ((m.offset + m.len) as usize).min(bytes.len());
        let body = &bytes[start..end];
        let _ = writeln!(
            out,
            "    msg {:<3} {:>6} bytes  {}{} fnv {:016x}",
            m.index,
            m.len,
            preview(body),
            if m.complete { "" } else { " (incomplete)" },
            fnv1a(body)
        );
    }
}

fn render_packets(out: &mut String, packets: &[&PacketRec], opts: &GoldenOptions) {
    let kept: Vec<&PacketRec> = packets.iter().copied().filter(|p| !(opts.ignores(Ignore::Acks) && p.is_pure_ack())).collect();
    let _ = writeln!(out, "  segments:");
    if opts.ignores(Ignore::Timing) {
        for dir in [Dir::C2S, Dir::S2C] {
            let one: Vec<&PacketRec> = kept.iter().copied().filter(|p| p.dir == dir).collect();
            segment_lines(out, &one, opts);
        }
    } else {
        segment_lines(out, &kept, opts);
    }
}

/// Lines for `packets`.
///
/// With [`Ignore::Coalescing`] a run of data segments of one direction is one line with their
/// total length, without PSH; a FIN or RST that carries data gives its payload to the run before
/// it and is written as its own line of length 0 (the kernel may or may not piggyback the last
/// bytes on the FIN). With [`Ignore::Timing`] the lines leave out what depends on how far the
/// other direction had got when the segment was sent: the ack number, the phase and both states
/// (the connection's header keeps the final states and who opened and closed).
fn segment_lines(out: &mut String, packets: &[&PacketRec], opts: &GoldenOptions) {
    use crate::decode::tcpflags::{FIN, PSH, RST, SYN};
    let coalesce = opts.ignores(Ignore::Coalescing);
    let timing = opts.ignores(Ignore::Timing);
    let plain_data = |q: &PacketRec| q.len > 0 && q.flags & (SYN | FIN | RST) == 0 && q.analysis.is_empty();
    // A closing segment with payload, whose payload may join a run.
    let closing_data = |q: &PacketRec| q.len > 0 && q.flags & SYN == 0 && q.flags & (FIN | RST) != 0 && q.analysis.is_empty();
    let mut i = 0;
    // Payload of packets[i] already written as part of the run before it.
    let mut taken = false;
    while i < packets.len() {
        let p = packets[i];
        let (mut rseq, mut len, mut flags) = (p.rseq, p.len, p.flags);
        let mut next = i + 1;
        if coalesce {
            flags &= !PSH;
            if taken {
                rseq = rseq.wrapping_add(len);
                len = 0;
                taken = false;
            } else if plain_data(p) {
                while next < packets.len() && packets[next].dir == p.dir {
                    let q = packets[next];
                    if plain_data(q) {
                        len += q.len;
                        next += 1;
                    } else {
                        if closing_data(q) {
                            len += q.len;
                            taken = true;
                        }
                        break;
                    }
                }
            } else if closing_data(p) {
                // No run before it: the payload on one line, the FIN or RST on the next.
                flags &= !(FIN | RST);
                taken = true;
                next = i;
            }
        }
        let mut line = String::from("    ");
        if let TimeMode::Round(ms) = opts.time {
            let step = ms as i64 * 1_000_000;
            let _ = write!(line, "{:>8} ms  ", p.rel_ns / step * ms as i64);
        }
        let _ = write!(line, "{} {:<6} seq {}", side(p.dir), FlagLetters(flags).to_string(), rseq);
        if let (Some(ack), false) = (p.rack, timing) {
            let _ = write!(line, " ack {ack}");
        }
        let _ = write!(line, " len {len}");
        if !opts.ignores(Ignore::Window) {
            let _ = write!(line, " win {}", p.win);
        }
        if !p.opts.is_empty() {
            let _ = write!(line, " <{}>", p.opts.join(","));
        }
        if !timing {
            let _ = write!(line, "  {}  client {} server {}", p.phase, p.client.name(), p.server.name());
        }
        if !p.analysis.is_empty() {
            let _ = write!(line, "  [{}]", p.analysis.join(", "));
        }
        out.push_str(&line);
        out.push('\n');
        i = next;
    }
}

fn render_udp(out: &mut String, n: usize, datagrams: &[&DatagramRec], opts: &GoldenOptions, names: &mut Names) {
    let Some(first) = datagrams.first() else { return };
    let client = names.client(first.src);
    let server = names.server(first.dst);
    let _ = writeln!(out, "udp {n}  {client} → {server}");
    let count = |dir: Dir| datagrams.iter().filter(|d| d.dir == dir).count();
    let _ = writeln!(out, "  datagrams: c→s {}, s→c {}", count(Dir::C2S), count(Dir::S2C));
    if opts.level == Level::Conns {
        return;
    }
    for d in datagrams {
        let mut line = String::from("    ");
        if let TimeMode::Round(ms) = opts.time {
            let step = ms as i64 * 1_000_000;
            let _ = write!(line, "{:>8} ms  ", d.rel_ns / step * ms as i64);
        }
        let _ = write!(line, "{} {:>6} bytes  {} fnv {:016x}", side(d.dir), d.len, preview(&d.payload), fnv1a(&d.payload));
        out.push_str(&line);
        out.push('\n');
    }
}

/// The first [`PREVIEW`] bytes, quoted and escaped, `…` when there are more.
fn preview(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(PREVIEW) {
        push_escaped(&mut s, b);
    }
    s.push('"');
    if bytes.len() > PREVIEW {
        s.push('…');
    }
    s
}

/// 64-bit FNV-1a of `bytes`: a content digest that is the same on every machine and version
/// (a `std` hasher is not).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn history_letters_ignore_order() {
        assert_eq!(history_letters("ShADadFf"), history_letters("ShADaFdf"));
        assert_eq!(history_letters("ShADadFf"), "letters client SADF, server hadf");
        assert_eq!(history_letters("^hADadr"), "letters client AD, server hadr, roles flipped (^)");
        assert_eq!(history_letters("S"), "letters client S, server -");
    }

    #[test]
    fn history_in_words() {
        assert_eq!(open_close("ShADadFf").1, "closed by the client first, then the server");
        assert_eq!(open_close("ShADadfF").1, "closed by the server first, then the client");
        assert_eq!(open_close("ShADadR").1, "reset by the client");
        assert_eq!(open_close("^hADadr").0, "opened by the server side (roles flipped: the first packet seen was a SYN-ACK)");
        assert_eq!(open_close("ADad").1, "not closed in the capture");
    }

    #[test]
    fn names_in_order_of_appearance() {
        let opts = GoldenOptions { hosts: HostMode::Map, ..GoldenOptions::default() };
        let mut names = Names::new(&opts);
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:9000".parse().unwrap();
        let c: SocketAddr = "10.0.0.1:40001".parse().unwrap();
        assert_eq!(names.client(a), "h1:c1");
        assert_eq!(names.server(b), "h2:9000");
        assert_eq!(names.client(c), "h1:c2");
        assert_eq!(names.client(a), "h1:c1");
        let mut kept = Names::new(&GoldenOptions::default());
        assert_eq!(kept.client("[::1]:5000".parse().unwrap()), "[::1]:c1");
    }

    fn seg(dir: Dir, flags: u8, rseq: u32, rack: u32, len: u32) -> PacketRec {
        PacketRec {
            conn: 1,
            dir,
            rel_ns: 0,
            flags,
            rseq,
            rack: Some(rack),
            len,
            win: 512,
            opts: Vec::new(),
            phase: "data".into(),
            client: crate::track::tcp::TcpState::Established,
            server: crate::track::tcp::TcpState::Established,
            analysis: Vec::new(),
        }
    }

    /// The same 30 bytes and FIN, cut three ways by the kernel, give the same lines when
    /// coalescing and timing are ignored; without them the lines differ.
    #[test]
    fn coalescing_and_timing_hide_how_data_was_cut() {
        use crate::decode::tcpflags::{ACK, FIN, PSH};
        let c = Dir::C2S;
        let a = [seg(c, ACK | PSH, 1, 1, 10), seg(c, ACK | PSH, 11, 1, 20), seg(c, ACK | FIN, 31, 1, 0)];
        let b = [seg(c, ACK | PSH, 1, 1, 10), seg(c, ACK | FIN | PSH, 11, 5, 20)];
        let d = [seg(c, ACK | FIN | PSH, 1, 7, 30)];
        let lines = |p: &[PacketRec], ignore: Vec<Ignore>| {
            let opts = GoldenOptions { level: Level::Packets, ignore, ..GoldenOptions::default() };
            let refs: Vec<&PacketRec> = p.iter().collect();
            let mut out = String::new();
            segment_lines(&mut out, &refs, &opts);
            out
        };
        let both = || vec![Ignore::Timing, Ignore::Coalescing];
        let want = "    c→s [.]    seq 1 len 30 win 512\n    c→s [F.]   seq 31 len 0 win 512\n";
        assert_eq!(lines(&a, both()), want);
        assert_eq!(lines(&b, both()), want);
        assert_eq!(lines(&d, both()), want);
        // Coalescing alone keeps the acks, which say how much of the other side had arrived.
        assert_ne!(lines(&b, vec![Ignore::Coalescing]), lines(&d, vec![Ignore::Coalescing]));
        assert_ne!(lines(&a, Vec::new()), lines(&b, Vec::new()));
    }
}
