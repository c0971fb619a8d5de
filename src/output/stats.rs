//! `wireseam stats`: a summary of a whole capture, as tshark's `-z` statistics give it: the
//! protocol hierarchy (`-z io,phs`), the top talkers (`-z endpoints,ip`, `-z conv,tcp`/`conv,udp`),
//! an I/O graph of frames and bytes per interval, and an expert summary (each TCP analysis flag
//! and each kind of decode warning: how often, and the first frames).
//!
//! Rules shared with tshark, so the numbers can be compared: a frame's bytes are its length on
//! the wire (`frame.len`, not the captured length); a layer counts every frame that contains it;
//! a fragment that does not complete its datagram counts up to its IP layer only (the transport
//! is counted once, on the frame that completes the datagram).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use crate::decode::{Encap, Frame, Layer, Link, Net, Transport, WarnKind};
use crate::numbers::thousands;
use crate::pipeline::{PacketView, RunSummary, Sink};
use crate::track::tcp::Analysis;
use crate::track::Dir;

/// How many frame numbers the expert summary lists per flag or warning kind.
pub const FIRST_FRAMES: usize = 5;

/// Rows the I/O graph holds at its finest resolution before it coarsens (auto interval).
const AUTO_CAP: u64 = 6_000;

/// Rows an I/O graph with a given `--interval` may have; frames past them are counted apart.
pub const MAX_ROWS: u64 = 100_000;

/// Width of the text when standard output is not a terminal.
pub const PIPE_WIDTH: usize = 80;

/// How `stats` writes its summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsFormat {
    /// Sections of aligned text with bars, for people.
    Text,
    /// One `{"type":"stats"}` JSON object on one line (docs/json-lines.md).
    Json,
}

/// What `wireseam stats` shows.
#[derive(Clone, Debug)]
pub struct StatsOptions {
    /// Width of an I/O graph row, in bars: `None` chooses it so that 20 to 60 rows cover the
    /// capture (1, 2 or 5 times a power of ten seconds).
    pub interval_ns: Option<u64>,
    /// Hosts and conversations listed (the largest by bytes first); 0: all of them.
    pub top: usize,
    /// Text or JSON.
    pub format: StatsFormat,
    /// Columns the text may use (the terminal's width, or [`PIPE_WIDTH`]).
    pub width: usize,
}

/// A name in the protocol hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum LayerName {
    /// A layer with a fixed name (`eth`, `ip`, `tcp`, ...).
    Named(&'static str),
    /// An EtherType the decoder does not follow.
    EtherType(u16),
    /// An IP protocol the decoder does not follow.
    IpProto(u8),
}

impl std::fmt::Display for LayerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerName::Named(name) => f.write_str(name),
            LayerName::EtherType(t) => match crate::decode::names::ethertype(*t) {
                Some(name) => write!(f, "{}", name.to_ascii_lowercase()),
                None => write!(f, "ethertype-0x{t:04x}"),
            },
            LayerName::IpProto(p) => match crate::decode::names::ip_proto(*p) {
                "proto" => write!(f, "ip-proto-{p}"),
                name => write!(f, "{}", name.to_ascii_lowercase()),
            },
        }
    }
}

/// Frames and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    frames: u64,
    bytes: u64,
}

impl Count {
    fn add(&mut self, bytes: u64) {
        self.frames += 1;
        self.bytes += bytes;
    }
}

/// One node of the protocol hierarchy: a layer reached by the path of its ancestors.
#[derive(Debug)]
struct Node {
    proto: LayerName,
    count: Count,
    /// Indexes into the node list, in order of first appearance.
    children: Vec<usize>,
}

/// A host's frames and bytes sent and received.
#[derive(Clone, Copy, Debug, Default)]
struct Host {
    tx: Count,
    rx: Count,
}

/// Transport of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ConvProto {
    Tcp,
    Udp,
}

impl ConvProto {
    fn name(self) -> &'static str {
        match self {
            ConvProto::Tcp => "tcp",
            ConvProto::Udp => "udp",
        }
    }
}

/// A TCP connection or UDP flow: `a` is the client (the first sender of a UDP flow).
#[derive(Clone, Debug)]
struct Conv {
    a: SocketAddr,
    b: SocketAddr,
    /// `[a→b, b→a]`.
    dirs: [Count; 2],
    first_ns: i64,
    last_ns: i64,
}

/// Occurrences of one expert item and the first frames that had it.
#[derive(Clone, Debug, Default)]
struct Item {
    count: u64,
    frames: Vec<u64>,
}

impl Item {
    fn add(&mut self, n: u64) {
        self.count += 1;
        if self.frames.len() < FIRST_FRAMES {
            self.frames.push(n);
        }
    }
}

/// The short name of a decode warning's kind (the numbers in its text left out, so that every
/// warning of a kind counts together).
fn warn_kind(kind: &WarnKind) -> &'static str {
    match kind {
        WarnKind::Truncated { .. } => "truncated header",
        WarnKind::LengthBeyondFrame { .. } => "length beyond frame",
        WarnKind::Header(_) => "malformed header",
        WarnKind::BadOption { .. } => "malformed option",
        WarnKind::UnknownLinkType(_) => "link type not decoded",
        WarnKind::BadChecksum { .. } => "bad checksum",
        WarnKind::ChecksumNotComputed { .. } => "checksum not computed",
        WarnKind::Other(text) => text,
    }
}

/// Frames and bytes per interval since the first frame.
#[derive(Debug)]
struct Graph {
    /// The `--interval`, or `None` (auto).
    fixed: Option<u64>,
    /// Width of a row of `rows`: the fixed interval, or the current resolution (a power of ten
    /// nanoseconds, coarsened tenfold whenever the rows would pass [`AUTO_CAP`]).
    res: u64,
    rows: Vec<Count>,
    /// Frames past [`MAX_ROWS`] rows of a fixed interval.
    beyond: Count,
}

impl Graph {
    fn new(fixed: Option<u64>) -> Self {
        Graph { fixed, res: fixed.unwrap_or(1_000), rows: Vec::new(), beyond: Count::default() }
    }

    fn add(&mut self, rel_ns: u64, bytes: u64) {
        let mut idx = rel_ns / self.res;
        if self.fixed.is_some() {
            if idx >= MAX_ROWS {
                self.beyond.add(bytes);
                return;
            }
        } else {
            while idx >= AUTO_CAP {
                self.coarsen();
                idx = rel_ns / self.res;
            }
        }
        let idx = idx as usize;
        if self.rows.len() <= idx {
            self.rows.resize(idx + 1, Count::default());
        }
        self.rows[idx].add(bytes);
    }

    fn coarsen(&mut self) {
        self.res *= 10;
        let rows = self.rows.chunks(10).map(|c| Count { frames: c.iter().map(|r| r.frames).sum(), bytes: c.iter().map(|r| r.bytes).sum() });
        self.rows = rows.collect();
    }

    /// The interval and its rows: with an auto interval the smallest of 1, 2 or 5 times a power
    /// of ten nanoseconds (at least 1 µs) that covers `span_ns` in at most 60 rows.
    fn rows(&self, span_ns: u64) -> (u64, Vec<Count>) {
        if let Some(iv) = self.fixed {
            return (iv, self.rows.clone());
        }
        let want = span_ns.div_ceil(60).max(1);
        let mut iv = 1_000u64;
        'search: for exp in 0..19u32 {
            for m in [1u64, 2, 5] {
                let Some(v) = 10u64.checked_pow(exp).and_then(|p| p.checked_mul(m)) else { break 'search };
                if v >= want && v >= 1_000 {
                    iv = v;
                    break 'search;
                }
            }
        }
        let iv = iv.max(self.res);
        let per = (iv / self.res) as usize;
        let rows = self
            .rows
            .chunks(per.max(1))
            .map(|c| Count { frames: c.iter().map(|r| r.frames).sum(), bytes: c.iter().map(|r| r.bytes).sum() });
        (iv, rows.collect())
    }
}

/// The sink of `wireseam stats`: counts every frame, and writes the summary when the run ends.
pub struct StatsSink<W: Write> {
    w: W,
    opts: StatsOptions,
    total: Count,
    first_ns: Option<i64>,
    last_ns: i64,
    /// The hierarchy's nodes; roots are in `roots`.
    nodes: Vec<Node>,
    roots: Vec<usize>,
    hosts: HashMap<IpAddr, Host>,
    convs: BTreeMap<(ConvProto, u32), Conv>,
    graph: Graph,
    flags: [Item; Analysis::NAMES.len()],
    warnings: BTreeMap<(&'static str, &'static str), Item>,
    arp_conflicts: Item,
}

impl<W: Write> StatsSink<W> {
    /// A sink writing to `w` what `opts` asks for.
    pub fn new(w: W, opts: StatsOptions) -> Self {
        StatsSink {
            w,
            graph: Graph::new(opts.interval_ns),
            opts,
            total: Count::default(),
            first_ns: None,
            last_ns: 0,
            nodes: Vec::new(),
            roots: Vec::new(),
            hosts: HashMap::new(),
            convs: BTreeMap::new(),
            flags: Default::default(),
            warnings: BTreeMap::new(),
            arp_conflicts: Item::default(),
        }
    }

    /// Frames counted so far.
    pub fn frames(&self) -> u64 {
        self.total.frames
    }

    /// Counts `bytes` at each layer of `path`, creating the nodes it lacks.
    fn count_path(&mut self, path: &[LayerName], bytes: u64) {
        let mut parent: Option<usize> = None;
        for &proto in path {
            let siblings = match parent {
                Some(p) => &self.nodes[p].children,
                None => &self.roots,
            };
            let found = siblings.iter().copied().find(|&i| self.nodes[i].proto == proto);
            let idx = match found {
                Some(i) => i,
                None => {
                    let i = self.nodes.len();
                    self.nodes.push(Node { proto, count: Count::default(), children: Vec::new() });
                    match parent {
                        Some(p) => self.nodes[p].children.push(i),
                        None => self.roots.push(i),
                    }
                    i
                }
            };
            self.nodes[idx].count.add(bytes);
            parent = Some(idx);
        }
    }

    /// The hierarchy in tree order: (depth, name, count), children in order of first appearance.
    fn hierarchy(&self) -> Vec<(usize, String, Count)> {
        fn walk(nodes: &[Node], idx: usize, depth: usize, out: &mut Vec<(usize, String, Count)>) {
            out.push((depth, nodes[idx].proto.to_string(), nodes[idx].count));
            for &c in &nodes[idx].children {
                walk(nodes, c, depth + 1, out);
            }
        }
        let mut out = Vec::new();
        for &r in &self.roots {
            walk(&self.nodes, r, 0, &mut out);
        }
        out
    }

    fn sorted_hosts(&self) -> Vec<(IpAddr, Host)> {
        let mut v: Vec<(IpAddr, Host)> = self.hosts.iter().map(|(a, h)| (*a, *h)).collect();
        v.sort_by(|(a, x), (b, y)| (y.tx.bytes + y.rx.bytes).cmp(&(x.tx.bytes + x.rx.bytes)).then(a.cmp(b)));
        v
    }

    fn sorted_convs(&self) -> Vec<(ConvProto, u32, &Conv)> {
        let mut v: Vec<(ConvProto, u32, &Conv)> = self.convs.iter().map(|((p, id), c)| (*p, *id, c)).collect();
        v.sort_by(|x, y| {
            let bytes = |c: &Conv| c.dirs[0].bytes + c.dirs[1].bytes;
            bytes(y.2).cmp(&bytes(x.2)).then((x.0, x.1).cmp(&(y.0, y.1)))
        });
        v
    }

    fn span_ns(&self) -> u64 {
        self.first_ns.map_or(0, |f| (self.last_ns - f).max(0) as u64)
    }

    fn expert(&self) -> Vec<(String, String, &Item)> {
        let mut v = Vec::new();
        for (i, item) in self.flags.iter().enumerate() {
            if item.count > 0 {
                v.push(("tcp.analysis".to_string(), Analysis::NAMES[i].to_string(), item));
            }
        }
        if self.arp_conflicts.count > 0 {
            v.push(("arp".to_string(), "conflicting binding".to_string(), &self.arp_conflicts));
        }
        for ((layer, kind), item) in &self.warnings {
            v.push((format!("warning {layer}"), kind.to_string(), item));
        }
        v
    }

    fn limit<T>(&self, v: Vec<T>) -> Vec<T> {
        match self.opts.top {
            0 => v,
            n => v.into_iter().take(n).collect(),
        }
    }
}

/// Most layer names in one frame's path: link, 2 VLAN tags, up to 3 names for each of the
/// tunnel layers (outer IP, UDP, the tunnel), network, transport.
const MAX_PATH: usize = 6 + 3 * crate::decode::tunnel::MAX_LAYERS;

/// The layer path of a frame, outermost first, into `path`; returns how many are set. Tunnels
/// and encapsulations are layers of the path as tshark names them (`eth:ip:udp:vxlan:eth:ip:tcp`,
/// `eth:mpls:mpls:ip:tcp`, `eth:pppoes:ppp:ip:tcp`).
fn layer_path(frame: &Frame<'_>, path: &mut [LayerName; MAX_PATH]) -> usize {
    let mut n = 0;
    let mut push = |p: LayerName| {
        if n < path.len() {
            path[n] = p;
            n += 1;
        }
    };
    match &frame.link {
        // tshark's name for 802.11; a link type not decoded, or cut, is its own leaf
        Link::Wifi(_) => push(LayerName::Named("wlan")),
        link => push(LayerName::Named(link.type_name())),
    }
    for _ in frame.vlans() {
        push(LayerName::Named("vlan"));
    }
    for layer in frame.encaps.iter() {
        use crate::decode::tunnel::Pseudowire;
        if let Some((src, _)) = layer.outer {
            push(LayerName::Named(if src.is_ipv6() { "ipv6" } else { "ip" }));
        }
        if layer.udp.is_some() {
            push(LayerName::Named("udp"));
        }
        match layer.encap {
            Encap::Gre { .. } => push(LayerName::Named("gre")),
            Encap::Erspan { .. } => push(LayerName::Named("erspan")),
            Encap::Vxlan { .. } => push(LayerName::Named("vxlan")),
            Encap::Geneve { .. } => push(LayerName::Named("geneve")),
            Encap::GtpU { .. } => push(LayerName::Named("gtp")),
            Encap::Teredo { .. } => push(LayerName::Named("teredo")),
            Encap::Mpls { depth, pseudowire, .. } => {
                // one per label stack entry, as tshark counts them
                for _ in 0..depth {
                    push(LayerName::Named("mpls"));
                }
                match pseudowire {
                    Pseudowire::None => {}
                    Pseudowire::EthernetWithControlWord => push(LayerName::Named("pwethcw")),
                    Pseudowire::Ethernet => push(LayerName::Named("pweth")),
                }
            }
            Encap::Pppoe { .. } => {
                push(LayerName::Named("pppoes"));
                push(LayerName::Named("ppp"));
            }
            // the outer IP header is the layer; the inner one follows
            Encap::IpInIp(_) => {}
            Encap::Ether { nvlan, .. } => {
                push(LayerName::Named("eth"));
                for _ in 0..nvlan {
                    push(LayerName::Named("vlan"));
                }
            }
        }
    }
    let v6 = match &frame.net {
        Net::None => return n,
        Net::Arp(_) => {
            push(LayerName::Named("arp"));
            return n;
        }
        Net::Other(t) => {
            push(LayerName::EtherType(*t));
            return n;
        }
        Net::Ip(ip) => {
            push(LayerName::Named(if ip.version == 6 { "ipv6" } else { "ip" }));
            ip.version == 6
        }
    };
    if !frame.is_whole() {
        return n;
    }
    match &frame.transport {
        Transport::None => {}
        Transport::Tcp(_) => push(LayerName::Named("tcp")),
        Transport::Udp(_) => push(LayerName::Named("udp")),
        Transport::Icmp(_) => push(LayerName::Named(if v6 { "icmpv6" } else { "icmp" })),
        Transport::Other(p) => push(LayerName::IpProto(*p)),
    }
    n
}

impl<W: Write> Sink for StatsSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        let bytes = u64::from(p.meta.len);
        let ts = p.meta.ts_ns;
        let first = *self.first_ns.get_or_insert(ts);
        self.last_ns = self.last_ns.max(ts);
        self.total.add(bytes);
        // frames stamped before the first one are counted in the first interval
        self.graph.add((ts - first).max(0) as u64, bytes);

        let mut path = [LayerName::Named(""); MAX_PATH];
        let len = layer_path(p.frame, &mut path);
        self.count_path(&path[..len], bytes);

        if let Some(ip) = p.frame.ip() {
            self.hosts.entry(ip.src).or_default().tx.add(bytes);
            self.hosts.entry(ip.dst).or_default().rx.add(bytes);
            let ports = match &p.frame.transport {
                Transport::Tcp(t) => Some((t.sport, t.dport)),
                Transport::Udp(u) => Some((u.sport, u.dport)),
                _ => None,
            };
            let conv = match (p.tcp, p.udp, ports) {
                (Some(seg), _, Some(ports)) => Some((ConvProto::Tcp, seg.conn, seg.dir, ports)),
                (None, Some(udp), Some(ports)) => Some((ConvProto::Udp, udp.flow, udp.dir, ports)),
                _ => None,
            };
            if let Some((proto, id, dir, (sport, dport))) = conv {
                let src = SocketAddr::new(ip.src, sport);
                let dst = SocketAddr::new(ip.dst, dport);
                let (a, b) = if dir == Dir::C2S { (src, dst) } else { (dst, src) };
                let c = self.convs.entry((proto, id)).or_insert(Conv { a, b, dirs: Default::default(), first_ns: ts, last_ns: ts });
                c.dirs[dir.idx()].add(bytes);
                c.last_ns = c.last_ns.max(ts);
            }
        }
        if let Some(seg) = p.tcp {
            for (i, item) in self.flags.iter_mut().enumerate() {
                if seg.analysis.0 & (1 << i) != 0 {
                    item.add(p.n);
                }
            }
        }
        if p.arp_conflict.is_some() {
            self.arp_conflicts.add(p.n);
        }
        for w in p.frame.warnings.iter() {
            self.warnings.entry((layer_name(w.layer), warn_kind(&w.what))).or_default().add(p.n);
        }
        Ok(())
    }

    fn wants_messages(&self) -> bool {
        false
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        let out = match self.opts.format {
            StatsFormat::Text => self.text(),
            StatsFormat::Json => self.json(),
        };
        self.w.write_all(out.as_bytes())?;
        self.w.flush()
    }
}

fn layer_name(layer: Layer) -> &'static str {
    layer.as_str()
}

/// Seconds of `ns` with as many decimals as `iv_ns` needs (at most 9).
fn secs(ns: u64, iv_ns: u64) -> String {
    let mut decimals = 0;
    let mut unit = 1_000_000_000u64;
    while decimals < 9 && !iv_ns.is_multiple_of(unit) {
        unit /= 10;
        decimals += 1;
    }
    let whole = ns / 1_000_000_000;
    if decimals == 0 {
        return whole.to_string();
    }
    let frac = (ns % 1_000_000_000) / 10u64.pow(9 - decimals);
    format!("{whole}.{frac:0width$}", width = decimals as usize)
}

/// A bar of `value / max` of `width` cells, in eighths of a cell.
fn bar(value: u64, max: u64, width: usize) -> String {
    if max == 0 || width == 0 {
        return String::new();
    }
    let eighths = ((value as u128 * width as u128 * 8).div_ceil(max as u128)) as usize;
    let mut s = "█".repeat(eighths / 8);
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    s.push_str(PARTS[eighths % 8]);
    s
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}", part as f64 * 100.0 / whole as f64)
}

fn frame_list(frames: &[u64], count: u64) -> String {
    let mut s = frames.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if count > frames.len() as u64 {
        s.push_str(", …");
    }
    s
}

impl<W: Write> StatsSink<W> {
    fn text(&self) -> String {
        let mut o = String::new();
        let span = self.span_ns();
        let _ = writeln!(o, "{} frames, {} bytes in {} s", thousands(self.total.frames), thousands(self.total.bytes), secs(span, 1_000));

        // protocol hierarchy
        let rows = self.hierarchy();
        let name_w = rows.iter().map(|(d, n, _)| d * 2 + n.chars().count()).max().unwrap_or(0).max("Protocol hierarchy".len());
        let fw = rows.iter().map(|(_, _, c)| thousands(c.frames).len()).max().unwrap_or(0).max(6);
        let bw = rows.iter().map(|(_, _, c)| thousands(c.bytes).len()).max().unwrap_or(0).max(5);
        let _ = writeln!(o, "\n{:<name_w$}  {:>fw$}  {:>5}  {:>bw$}  {:>5}", "Protocol hierarchy", "frames", "%", "bytes", "%");
        if rows.is_empty() {
            let _ = writeln!(o, "  (no frames)");
        }
        for (depth, name, c) in &rows {
            let label = format!("{:indent$}{name}", "", indent = depth * 2);
            let _ = writeln!(
                o,
                "{label:<name_w$}  {:>fw$}  {:>5}  {:>bw$}  {:>5}",
                thousands(c.frames),
                pct(c.frames, self.total.frames),
                thousands(c.bytes),
                pct(c.bytes, self.total.bytes)
            );
        }

        // hosts
        let hosts = self.sorted_hosts();
        let shown = self.limit(hosts.clone());
        let _ = writeln!(o, "\n{}", heading("Hosts", shown.len(), hosts.len()));
        if hosts.is_empty() {
            let _ = writeln!(o, "  (no IP traffic)");
        } else {
            let cells: Vec<[String; 7]> = shown
                .iter()
                .map(|(a, h)| {
                    [
                        a.to_string(),
                        thousands(h.tx.frames + h.rx.frames),
                        thousands(h.tx.bytes + h.rx.bytes),
                        thousands(h.tx.frames),
                        thousands(h.tx.bytes),
                        thousands(h.rx.frames),
                        thousands(h.rx.bytes),
                    ]
                })
                .collect();
            let left = [true, false, false, false, false, false, false];
            table(&mut o, &["host", "frames", "bytes", "tx frames", "tx bytes", "rx frames", "rx bytes"], left, &cells);
        }

        // conversations
        let convs = self.sorted_convs();
        let shown = self.limit(convs.clone());
        let _ = writeln!(o, "\n{}", heading("Conversations", shown.len(), convs.len()));
        if convs.is_empty() {
            let _ = writeln!(o, "  (no TCP connection or UDP flow)");
        } else {
            let first = self.first_ns.unwrap_or(0);
            let cells: Vec<[String; 10]> = shown
                .iter()
                .map(|(proto, id, c)| {
                    [
                        format!("{} #{id}", proto.name()),
                        c.a.to_string(),
                        c.b.to_string(),
                        thousands(c.dirs[0].frames),
                        thousands(c.dirs[0].bytes),
                        thousands(c.dirs[1].frames),
                        thousands(c.dirs[1].bytes),
                        thousands(c.dirs[0].bytes + c.dirs[1].bytes),
                        secs((c.first_ns - first).max(0) as u64, 1_000),
                        secs((c.last_ns - c.first_ns).max(0) as u64, 1_000),
                    ]
                })
                .collect();
            let left = [true, true, true, false, false, false, false, false, false, false];
            let head = ["conv", "A", "B", "A→B frames", "A→B bytes", "B→A frames", "B→A bytes", "bytes", "start", "duration"];
            table(&mut o, &head, left, &cells);
        }

        // I/O graph
        let (iv, graph) = self.graph.rows(span);
        let how = if self.graph.fixed.is_some() { "" } else { ", chosen for the capture's length; --interval sets it" };
        let _ = writeln!(o, "\nI/O graph: frames and bytes per {} s{how}", secs(iv, iv));
        if graph.is_empty() {
            let _ = writeln!(o, "  (no frames)");
        } else {
            let labels: Vec<String> = (0..graph.len() as u64).map(|i| secs(i * iv, iv)).collect();
            let tw = labels.iter().map(String::len).max().unwrap_or(0).max(4);
            let fw = graph.iter().map(|r| thousands(r.frames).len()).max().unwrap_or(0).max(6);
            let bw = graph.iter().map(|r| thousands(r.bytes).len()).max().unwrap_or(0).max(5);
            // time, frames, frames bar, bytes, bytes bar: the bars share what is left
            let fixed = tw + 2 + fw + 1 + 2 + bw + 1;
            let bars = self.opts.width.saturating_sub(fixed + 1).max(10);
            let fbar = bars / 2;
            let bbar = bars - fbar;
            let max_f = graph.iter().map(|r| r.frames).max().unwrap_or(0);
            let max_b = graph.iter().map(|r| r.bytes).max().unwrap_or(0);
            let _ = writeln!(o, "{:>tw$}  {:>fw$} {:fbar$}  {:>bw$}", "time", "frames", "", "bytes");
            for (label, r) in labels.iter().zip(&graph) {
                let line = format!(
                    "{label:>tw$}  {:>fw$} {:<fbar$}  {:>bw$} {}",
                    thousands(r.frames),
                    bar(r.frames, max_f, fbar),
                    thousands(r.bytes),
                    bar(r.bytes, max_b, bbar)
                );
                let _ = writeln!(o, "{}", line.trim_end());
            }
            if self.graph.beyond.frames > 0 {
                let _ = writeln!(
                    o,
                    "  … {} frames ({} bytes) after {} rows are not drawn: give a larger --interval",
                    thousands(self.graph.beyond.frames),
                    thousands(self.graph.beyond.bytes),
                    thousands(MAX_ROWS)
                );
            }
        }

        // expert summary
        let expert = self.expert();
        let _ = writeln!(o, "\nExpert summary (count, first frames)");
        if expert.is_empty() {
            let _ = writeln!(o, "  no TCP analysis flag, ARP conflict or decode warning");
        } else {
            let cells: Vec<[String; 4]> = expert
                .iter()
                .map(|(group, name, item)| [group.clone(), name.clone(), thousands(item.count), frame_list(&item.frames, item.count)])
                .collect();
            table(&mut o, &["group", "item", "count", "first frames"], [true, true, false, true], &cells);
        }
        o
    }

    fn json(&self) -> String {
        let mut o = String::from("{\"type\":\"stats\"");
        let span = self.span_ns();
        let _ = write!(o, ",\"frames\":{},\"bytes\":{},\"duration\":{}", self.total.frames, self.total.bytes, secs9(span));
        o.push_str(",\"hierarchy\":[");
        let mut path: Vec<String> = Vec::new();
        for (i, (depth, name, c)) in self.hierarchy().iter().enumerate() {
            path.truncate(*depth);
            path.push(name.clone());
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{{\"path\":{},\"frames\":{},\"bytes\":{}}}", json_str(&path.join(":")), c.frames, c.bytes);
        }
        o.push(']');
        let hosts = self.sorted_hosts();
        let _ = write!(o, ",\"hosts_total\":{},\"hosts\":[", hosts.len());
        for (i, (a, h)) in self.limit(hosts).iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(
                o,
                "{{\"addr\":\"{a}\",\"frames\":{},\"bytes\":{},\"tx\":{{\"frames\":{},\"bytes\":{}}},\"rx\":{{\"frames\":{},\"bytes\":{}}}}}",
                h.tx.frames + h.rx.frames,
                h.tx.bytes + h.rx.bytes,
                h.tx.frames,
                h.tx.bytes,
                h.rx.frames,
                h.rx.bytes
            );
        }
        o.push(']');
        let convs = self.sorted_convs();
        let first = self.first_ns.unwrap_or(0);
        let _ = write!(o, ",\"conversations_total\":{},\"conversations\":[", convs.len());
        for (i, (proto, id, c)) in self.limit(convs).iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(
                o,
                "{{\"proto\":\"{}\",\"conn\":{id},\"a\":\"{}\",\"b\":\"{}\",\"a_to_b\":{{\"frames\":{},\"bytes\":{}}},\"b_to_a\":{{\"frames\":{},\"bytes\":{}}},\"start\":{},\"duration\":{}}}",
                proto.name(),
                c.a,
                c.b,
                c.dirs[0].frames,
                c.dirs[0].bytes,
                c.dirs[1].frames,
                c.dirs[1].bytes,
                secs9((c.first_ns - first).max(0) as u64),
                secs9((c.last_ns - c.first_ns).max(0) as u64)
            );
        }
        o.push(']');
        let (iv, graph) = self.graph.rows(span);
        let _ = write!(o, ",\"io\":{{\"interval\":{},\"rows\":[", secs9(iv));
        for (i, r) in graph.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{{\"start\":{},\"frames\":{},\"bytes\":{}}}", secs9(i as u64 * iv), r.frames, r.bytes);
        }
        let _ = write!(o, "],\"beyond\":{{\"frames\":{},\"bytes\":{}}}}}", self.graph.beyond.frames, self.graph.beyond.bytes);
        o.push_str(",\"expert\":[");
        for (i, (group, name, item)) in self.expert().iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let frames = item.frames.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            let _ = write!(
                o,
                "{{\"group\":{},\"item\":{},\"count\":{},\"first_frames\":[{frames}]}}",
                json_str(group),
                json_str(name),
                item.count
            );
        }
        o.push_str("]}\n");
        o
    }
}

/// A JSON string literal (the names are the decoder's own words, escaped all the same).
fn json_str(text: &str) -> String {
    let mut v = Vec::new();
    let _ = super::escape::write_json_bytes(&mut v, text.as_bytes());
    String::from_utf8_lossy(&v).into_owned()
}

/// Seconds with 9 decimals, as JSON numbers.
fn secs9(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

fn heading(what: &str, shown: usize, total: usize) -> String {
    if shown < total {
        format!("{what}: the {shown} largest of {total} by bytes (--top)")
    } else {
        format!("{what} by bytes")
    }
}

/// An aligned table; `left`: the columns aligned left (the others are numbers, aligned right).
fn table<const N: usize>(o: &mut String, head: &[&str; N], left: [bool; N], rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for (i, h) in head.iter().enumerate() {
        widths[i] = h.chars().count();
    }
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::from(" ");
        for (i, c) in cells.enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            s.push(' ');
            if left[i] {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
            s.push(' ');
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(o, "{}", line(&mut head.iter().copied()));
    for r in rows {
        let _ = writeln!(o, "{}", line(&mut r.iter().map(String::as_str)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_interval_gives_at_most_sixty_rows() {
        for span_s in [0u64, 1, 7, 59, 61, 3_600, 86_400 * 3] {
            let mut g = Graph::new(None);
            g.add(0, 10);
            g.add(span_s * 1_000_000_000, 20);
            let (iv, rows) = g.rows(span_s * 1_000_000_000);
            assert!(rows.len() <= 61, "{span_s} s: {} rows at {iv}", rows.len());
            assert!(span_s < 60 * 20 || rows.len() >= 20, "{span_s} s: {} rows", rows.len());
            assert_eq!(rows.iter().map(|r| r.bytes).sum::<u64>(), 30);
            assert_eq!(rows.last().map(|r| r.bytes), Some(if rows.len() == 1 { 30 } else { 20 }));
        }
    }

    #[test]
    fn fixed_interval_counts_rows_past_the_cap_apart() {
        let mut g = Graph::new(Some(1_000_000_000));
        g.add(500_000_000, 1);
        g.add(1_500_000_000, 2);
        g.add(MAX_ROWS * 1_000_000_000, 4);
        let (iv, rows) = g.rows(0);
        assert_eq!(iv, 1_000_000_000);
        assert_eq!(rows, vec![Count { frames: 1, bytes: 1 }, Count { frames: 1, bytes: 2 }]);
        assert_eq!(g.beyond, Count { frames: 1, bytes: 4 });
    }

    #[test]
    fn seconds_take_the_interval_decimals() {
        assert_eq!(secs(1_500_000_000, 500_000_000), "1.5");
        assert_eq!(secs(2_000_000_000, 1_000_000_000), "2");
        assert_eq!(secs(20_000, 10_000), "0.00002");
        assert_eq!(secs9(1_000_000_001), "1.000000001");
    }

    #[test]
    fn bars_scale_to_the_largest() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(0, 10, 4), "");
        assert_eq!(bar(1, 16, 2), "▏");
        assert_eq!(bar(5, 10, 4), "██");
    }
}
