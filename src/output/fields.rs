//! `-T fields -e NAME ...`: one line per frame with the chosen fields, like `tshark -T fields`.
//! Field names are the dotted paths of the JSON `packet` record (`docs/json-lines.md`): `n`,
//! `ip.src`, `tcp.rseq`, `tcp.state.client`, ... A field the frame does not have is an empty
//! cell; a list is joined with the aggregator (`,` by default, as tshark). Cells are written
//! straight into the output (one reused scratch buffer for escaping): no allocation per frame.
//! The application-layer fields (`app.*`, `http.*`, `tls.*`, `dns.*`, `ssh.*`) take tshark's
//! names and formats instead; they allocate on the frames that have them.

use std::io::{self, Write};

use super::time::{write_rfc3339, write_secs};
use crate::analyze::Carried;
use crate::decode::{oui, tcpflags, Link, MacAddr, Net, Transport};
use crate::pipeline::{PacketView, Sink};
use crate::track::tcp::{Dir, Phase};
use crate::track::FlowId;

macro_rules! fields {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// One field of the packet record, by its dotted JSON path.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Field {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }
        impl Field {
            /// Every field, in the order of the packet record.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];
            /// The dotted path (the `-e` name).
            pub fn name(self) -> &'static str {
                match self {
                    $(Field::$variant => $name,)*
                }
            }
        }
    };
}

fields! {
    N => "n", T => "t", Ts => "ts", Len => "len", Caplen => "caplen",
    EthSrc => "eth.src", EthDst => "eth.dst", EthType => "eth.type", EthVlan => "eth.vlan",
    EthSrcClass => "eth.src_class", EthDstClass => "eth.dst_class",
    EthSrcVendor => "eth.src_vendor", EthDstVendor => "eth.dst_vendor",
    SllVersion => "sll.version", SllPkttype => "sll.pkttype", SllHatype => "sll.hatype",
    SllSrc => "sll.src", SllType => "sll.type",
    LinkType => "link.type", LinkSrc => "link.src", LinkDst => "link.dst", LinkSsid => "link.ssid",
    ArpOp => "arp.op", ArpSha => "arp.sha", ArpSpa => "arp.spa", ArpTha => "arp.tha",
    ArpTpa => "arp.tpa", ArpKind => "arp.kind",
    IpVersion => "ip.version", IpSrc => "ip.src", IpDst => "ip.dst", IpTtl => "ip.ttl",
    IpProto => "ip.proto", IpId => "ip.id", IpFragOffset => "ip.frag.offset", IpFragMore => "ip.frag.more",
    Warnings => "warnings",
    UdpSport => "udp.sport", UdpDport => "udp.dport", UdpLen => "udp.len", UdpMessages => "udp.messages",
    IcmpType => "icmp.type", IcmpCode => "icmp.code",
    TcpSport => "tcp.sport", TcpDport => "tcp.dport", TcpFlags => "tcp.flags", TcpSeq => "tcp.seq",
    TcpAck => "tcp.ack", TcpRseq => "tcp.rseq", TcpRack => "tcp.rack", TcpLen => "tcp.len",
    TcpWin => "tcp.win", TcpWinScaled => "tcp.win_scaled", TcpMss => "tcp.mss", TcpWs => "tcp.ws",
    TcpSackPerm => "tcp.sack_perm", TcpSack => "tcp.sack", TcpTs => "tcp.ts", TcpConn => "tcp.conn",
    TcpDir => "tcp.dir", TcpPhase => "tcp.phase", TcpStateClient => "tcp.state.client",
    TcpStateServer => "tcp.state.server", TcpAnalysis => "tcp.analysis",
    TcpBytesInFlight => "tcp.bytes_in_flight", TcpDupAckNum => "tcp.dup_ack_num",
    TcpDupAckOf => "tcp.dup_ack_of", TcpMessages => "tcp.messages",
    AppProto => "app.proto", AppInfo => "app.info",
    HttpRequestMethod => "http.request.method", HttpRequestUri => "http.request.uri",
    HttpResponseCode => "http.response.code",
    TlsServerName => "tls.handshake.extensions_server_name", TlsAlpn => "tls.handshake.extensions_alpn_str",
    DnsId => "dns.id", DnsResponse => "dns.flags.response", DnsQryName => "dns.qry.name",
    DnsQryType => "dns.qry.type", DnsA => "dns.a", DnsAaaa => "dns.aaaa", DnsCname => "dns.cname",
    SshProtocol => "ssh.protocol",
}

impl Field {
    /// The field named `name`, or a usage error that names it and lists the valid names.
    pub fn parse(name: &str) -> Result<Field, String> {
        Field::ALL.iter().copied().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            format!("-e {name}: unknown field; valid fields: {}", names.join(" "))
        })
    }

    /// `tcp.messages` / `udp.messages`: known only once the stream says where messages end.
    fn is_messages(self) -> bool {
        matches!(self, Field::TcpMessages | Field::UdpMessages)
    }
}

/// How cells are quoted (`-E quote=d|s|n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    /// Only cells that need it (they hold the separator or a quote), in double quotes.
    Needed,
    /// Every cell in double quotes.
    Double,
    /// Every cell in single quotes.
    Single,
}

/// The validated `-e` fields and `-E` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldsSpec {
    /// The fields, in the order given (repeats allowed).
    pub fields: Vec<Field>,
    /// A first line with the field names (`-E header=y`).
    pub header: bool,
    /// Between cells (`-E separator=`): a tab by default.
    pub separator: u8,
    /// Between the elements of a list (`-E aggregator=`): `,` by default.
    pub aggregator: u8,
    /// Quoting of cells.
    pub quote: Quote,
}

impl FieldsSpec {
    /// From the `-e` names and `-E key=value` options (tshark's: `header=y|n`,
    /// `separator=/t|/s|C`, `aggregator=/s|C`, `quote=d|s|n`).
    pub fn parse(names: &[String], options: &[String]) -> Result<FieldsSpec, String> {
        if names.is_empty() {
            return Err("-T fields needs at least one -e FIELD".into());
        }
        let fields = names.iter().map(|name| Field::parse(name)).collect::<Result<Vec<_>, _>>()?;
        if fields.iter().filter(|f| f.is_messages()).count() > 1 {
            return Err("-e tcp.messages / udp.messages: give at most one of them, once".into());
        }
        let mut spec = FieldsSpec { fields, header: false, separator: b'\t', aggregator: b',', quote: Quote::Needed };
        for option in options {
            let bad = || format!("-E {option}: expected header=y|n, separator=/t|/s|C, aggregator=/s|C or quote=d|s|n");
            let (key, value) = option.split_once('=').ok_or_else(bad)?;
            let char_of = |value: &str| -> Result<u8, String> {
                match value {
                    "/t" => Ok(b'\t'),
                    "/s" => Ok(b' '),
                    v if v.len() == 1 && v.as_bytes()[0].is_ascii_graphic() && v != "\\" => Ok(v.as_bytes()[0]),
                    _ => Err(format!("-E {option}: give one printable ASCII character, /t (tab) or /s (space)")),
                }
            };
            match key {
                "header" => {
                    spec.header = match value {
                        "y" | "Y" => true,
                        "n" | "N" => false,
                        _ => return Err(bad()),
                    }
                }
                "separator" => spec.separator = char_of(value)?,
                "aggregator" => spec.aggregator = char_of(value)?,
                "quote" => {
                    spec.quote = match value {
                        "d" => Quote::Double,
                        "s" => Quote::Single,
                        "n" => Quote::Needed,
                        _ => return Err(bad()),
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(spec)
    }
}

/// Writes one cell's text, escaped for the line: control bytes, DEL and `\` as `\xNN` (Zeek's
/// escape), so no cell breaks the line or reaches a terminal as a control sequence; with a
/// separator other than a tab, cells that hold it or a quote are quoted as in RFC 4180.
fn write_cell(w: &mut impl Write, text: &[u8], spec: &FieldsSpec) -> io::Result<()> {
    let quote = match spec.quote {
        Quote::Double => Some(b'"'),
        Quote::Single => Some(b'\''),
        Quote::Needed => {
            let needs = spec.separator != b'\t' && text.iter().any(|&b| b == spec.separator || b == b'"');
            needs.then_some(b'"')
        }
    };
    if let Some(q) = quote {
        w.write_all(&[q])?;
    }
    super::escape::write_cell(w, text, quote)?;
    if let Some(q) = quote {
        w.write_all(&[q])?;
    }
    Ok(())
}

fn int(w: &mut Vec<u8>, value: impl itoa::Integer) {
    w.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn mac(w: &mut Vec<u8>, mac: &MacAddr) {
    w.extend_from_slice(&mac.fmt_buf());
}

/// The text of `field` for this frame into `cell` (empty: the frame has no such field). Message
/// fields are written by [`write_messages`].
pub(crate) fn field_text(cell: &mut Vec<u8>, field: Field, view: &PacketView<'_, '_>, agg: u8) -> io::Result<()> {
    let frame = view.frame;
    let eth = match frame.link {
        Link::Ethernet { src, dst } => Some((src, dst)),
        _ => None,
    };
    let sll = match frame.link {
        Link::Sll { v2, pkttype, hatype, .. } => Some((v2, pkttype, hatype)),
        _ => None,
    };
    let ip = match &frame.net {
        Net::Ip(ip) => Some(ip),
        _ => None,
    };
    let arp = match &frame.net {
        Net::Arp(arp) => Some(arp),
        _ => None,
    };
    let tcp = match &frame.transport {
        Transport::Tcp(tcp) => Some(tcp),
        _ => None,
    };
    let udp = match &frame.transport {
        Transport::Udp(udp) => Some(udp),
        _ => None,
    };
    let icmp = match &frame.transport {
        Transport::Icmp(icmp) => Some(icmp),
        _ => None,
    };
    let seg = view.tcp.as_ref().filter(|_| tcp.is_some());
    let class_or_vendor = |cell: &mut Vec<u8>, mac: &MacAddr, class: bool| match (class, mac.class()) {
        (true, Some(c)) => cell.extend_from_slice(c.as_bytes()),
        (false, None) => {
            if let Some(v) = oui::vendor(mac) {
                cell.extend_from_slice(v.as_bytes());
            }
        }
        _ => {}
    };
    match field {
        Field::N => int(cell, view.n),
        Field::T => write_secs(cell, view.rel_ns, view.meta.nanos)?,
        Field::Ts => write_rfc3339(cell, view.meta.ts_ns, view.meta.nanos)?,
        Field::Len => int(cell, view.meta.len),
        Field::Caplen => int(cell, view.meta.caplen),
        Field::EthSrc => eth.iter().for_each(|(src, _)| mac(cell, src)),
        Field::EthDst => eth.iter().for_each(|(_, dst)| mac(cell, dst)),
        Field::EthType => {
            if let (Some(_), Some(t)) = (eth, frame.ethertype) {
                int(cell, t)
            }
        }
        Field::EthVlan => {
            if eth.is_some() {
                for (i, vlan) in frame.vlans().iter().enumerate() {
                    if i > 0 {
                        cell.push(agg);
                    }
                    int(cell, *vlan);
                }
            }
        }
        Field::EthSrcClass => eth.iter().for_each(|(src, _)| class_or_vendor(cell, src, true)),
        Field::EthDstClass => eth.iter().for_each(|(_, dst)| class_or_vendor(cell, dst, true)),
        Field::EthSrcVendor => eth.iter().for_each(|(src, _)| class_or_vendor(cell, src, false)),
        Field::EthDstVendor => eth.iter().for_each(|(_, dst)| class_or_vendor(cell, dst, false)),
        Field::SllVersion => sll.iter().for_each(|(v2, _, _)| int(cell, if *v2 { 2u8 } else { 1 })),
        Field::SllPkttype => sll.iter().for_each(|(_, p, _)| int(cell, *p)),
        Field::SllHatype => sll.iter().for_each(|(_, _, h)| int(cell, *h)),
        Field::SllSrc => {
            if sll.is_some() {
                frame.link.sll_mac().iter().for_each(|m| mac(cell, m));
            }
        }
        Field::LinkType => {
            if !matches!(frame.link, Link::Ethernet { .. } | Link::Sll { .. } | Link::Unknown { .. } | Link::Truncated { .. }) {
                cell.extend_from_slice(frame.link.type_name().as_bytes());
            }
        }
        Field::LinkSrc | Field::LinkDst => {
            let addr = match &frame.link {
                Link::Wifi(w) if field == Field::LinkSrc => w.src().filter(|_| w.naddr >= 2),
                Link::Wifi(w) => w.dst(),
                Link::Fddi(f) => Some(if field == Field::LinkSrc { f.src } else { f.dst }),
                _ => None,
            };
            if let Some(addr) = addr {
                mac(cell, &addr);
            }
        }
        Field::LinkSsid => {
            if let Link::Wifi(w) = &frame.link {
                if let Some(ssid) = w.ssid() {
                    super::link::write_escaped(cell, ssid, 128)?;
                }
            }
        }
        Field::SllType => {
            if let (Some(_), Some(t)) = (sll, frame.ethertype) {
                int(cell, t)
            }
        }
        Field::ArpOp => {
            if let Some(arp) = arp {
                match arp.op {
                    1 => cell.extend_from_slice(b"request"),
                    2 => cell.extend_from_slice(b"reply"),
                    op => int(cell, op),
                }
            }
        }
        Field::ArpSha => arp.and_then(|a| a.eth_ipv4).iter().for_each(|a| mac(cell, &a.sha)),
        Field::ArpTha => arp.and_then(|a| a.eth_ipv4).iter().for_each(|a| mac(cell, &a.tha)),
        Field::ArpSpa => {
            if let Some(a) = arp.and_then(|a| a.eth_ipv4) {
                super::write_ip(cell, &a.spa.into())?
            }
        }
        Field::ArpTpa => {
            if let Some(a) = arp.and_then(|a| a.eth_ipv4) {
                super::write_ip(cell, &a.tpa.into())?
            }
        }
        Field::ArpKind => arp.and_then(|a| a.kind()).iter().for_each(|k| cell.extend_from_slice(k.name().as_bytes())),
        Field::IpVersion => ip.iter().for_each(|ip| int(cell, ip.version)),
        Field::IpSrc => {
            if let Some(ip) = ip {
                super::write_ip(cell, &ip.src)?
            }
        }
        Field::IpDst => {
            if let Some(ip) = ip {
                super::write_ip(cell, &ip.dst)?
            }
        }
        Field::IpTtl => ip.iter().for_each(|ip| int(cell, ip.ttl)),
        Field::IpProto => ip.iter().for_each(|ip| int(cell, ip.proto)),
        Field::IpId => ip.and_then(|ip| ip.id).iter().for_each(|id| int(cell, *id)),
        Field::IpFragOffset => ip.and_then(|ip| ip.frag).iter().for_each(|(offset, _)| int(cell, *offset)),
        Field::IpFragMore => {
            ip.and_then(|ip| ip.frag).iter().for_each(|(_, more)| cell.extend_from_slice(if *more { b"true" } else { b"false" }))
        }
        Field::Warnings => {
            for (i, warn) in frame.warnings.iter().enumerate() {
                if i > 0 {
                    cell.push(agg);
                }
                write!(cell, "{warn}")?;
            }
        }
        Field::UdpSport => udp.iter().for_each(|u| int(cell, u.sport)),
        Field::UdpDport => udp.iter().for_each(|u| int(cell, u.dport)),
        Field::UdpLen => udp.iter().for_each(|u| int(cell, u.len)),
        Field::IcmpType => icmp.iter().for_each(|i| int(cell, i.ty)),
        Field::IcmpCode => icmp.iter().for_each(|i| int(cell, i.code)),
        Field::TcpSport => tcp.iter().for_each(|t| int(cell, t.sport)),
        Field::TcpDport => tcp.iter().for_each(|t| int(cell, t.dport)),
        Field::TcpFlags => {
            if let Some(t) = tcp {
                let mut first = true;
                for (i, name) in tcpflags::NAMES.iter().enumerate() {
                    if t.flags & (1 << i) != 0 {
                        if !first {
                            cell.push(agg);
                        }
                        first = false;
                        cell.extend_from_slice(name.as_bytes());
                    }
                }
            }
        }
        Field::TcpSeq => tcp.iter().for_each(|t| int(cell, t.seq)),
        Field::TcpAck => tcp.iter().for_each(|t| int(cell, t.ack)),
        Field::TcpRseq => seg.iter().for_each(|s| int(cell, s.rseq)),
        Field::TcpRack => seg.and_then(|s| s.rack).iter().for_each(|r| int(cell, *r)),
        Field::TcpLen => tcp.iter().for_each(|t| int(cell, t.len)),
        Field::TcpWin => tcp.iter().for_each(|t| int(cell, t.win)),
        Field::TcpWinScaled => seg.and_then(|s| s.win_scaled).iter().for_each(|w| int(cell, *w)),
        Field::TcpMss => tcp.and_then(|t| t.opts.mss).iter().for_each(|m| int(cell, *m)),
        Field::TcpWs => tcp.and_then(|t| t.opts.ws).iter().for_each(|s| int(cell, *s)),
        Field::TcpSackPerm => {
            if tcp.is_some_and(|t| t.opts.sack_perm) {
                cell.extend_from_slice(b"true")
            }
        }
        Field::TcpSack => {
            if let Some(t) = tcp {
                let base = view.tcp.and_then(|seg| seg.ack_base).unwrap_or(0);
                for (i, (left, right)) in t.opts.sack().iter().enumerate() {
                    if i > 0 {
                        cell.push(agg);
                    }
                    int(cell, left.wrapping_sub(base));
                    cell.push(b'-');
                    int(cell, right.wrapping_sub(base));
                }
            }
        }
        Field::TcpTs => {
            if let Some((tsval, tsecr)) = tcp.and_then(|t| t.opts.ts) {
                int(cell, tsval);
                cell.push(agg);
                int(cell, tsecr);
            }
        }
        Field::TcpConn => seg.iter().for_each(|s| int(cell, s.conn)),
        Field::TcpDir => seg.iter().for_each(|s| cell.extend_from_slice(if s.dir == Dir::C2S { b"c2s" } else { b"s2c" })),
        Field::TcpPhase => {
            if let Some(s) = seg {
                match s.phase {
                    Phase::Data => cell.extend_from_slice(b"data"),
                    ref phase => write!(cell, "{phase}")?,
                }
            }
        }
        Field::TcpStateClient => seg.iter().for_each(|s| cell.extend_from_slice(s.client.name().as_bytes())),
        Field::TcpStateServer => seg.iter().for_each(|s| cell.extend_from_slice(s.server.name().as_bytes())),
        Field::TcpAnalysis => {
            if let Some(s) = seg {
                for (i, name) in s.analysis.names().enumerate() {
                    if i > 0 {
                        cell.push(agg);
                    }
                    cell.extend_from_slice(name.as_bytes());
                }
            }
        }
        Field::TcpBytesInFlight => seg.and_then(|s| s.bytes_in_flight).iter().for_each(|b| int(cell, *b)),
        Field::TcpDupAckNum => seg.filter(|s| s.dup_ack_num > 0).iter().for_each(|s| int(cell, s.dup_ack_num)),
        Field::TcpDupAckOf => seg.filter(|s| s.dup_ack_num > 0).iter().for_each(|s| int(cell, s.dup_ack_of)),
        Field::TcpMessages | Field::UdpMessages => {}
        app_field => super::app::field_text(cell, app_field, frame, agg)?,
    }
    Ok(())
}

/// The message indices of a frame into a cell, when they are of `field`'s protocol.
fn write_messages(w: &mut dyn Write, field: Field, carried: Option<&Carried>, agg: u8) -> io::Result<()> {
    let Some(c) = carried else { return Ok(()) };
    let ours = matches!((field, c.flow), (Field::TcpMessages, FlowId::Tcp(_)) | (Field::UdpMessages, FlowId::Udp(_)));
    if !ours {
        return Ok(());
    }
    for (i, idx) in c.indices().enumerate() {
        if i > 0 {
            w.write_all(&[agg])?;
        }
        w.write_all(itoa::Buffer::new().format(idx).as_bytes())?;
    }
    Ok(())
}

/// Cells `range` of the line (each preceded by the separator but the first of the line);
/// `cell` is the scratch buffer a cell's text is written into before it is escaped.
fn write_cells(
    out: &mut impl Write,
    cell: &mut Vec<u8>,
    spec: &FieldsSpec,
    view: &PacketView<'_, '_>,
    range: std::ops::Range<usize>,
) -> io::Result<()> {
    for i in range {
        if i > 0 {
            out.write_all(&[spec.separator])?;
        }
        cell.clear();
        field_text(cell, spec.fields[i], view, spec.aggregator)?;
        write_cell(out, cell, spec)?;
    }
    Ok(())
}

/// `-T fields`: one line per frame of the chosen fields.
pub struct FieldsSink<W: Write> {
    w: W,
    spec: FieldsSpec,
    /// Where the message field is (lines wait for their messages only when one is asked for).
    messages_at: Option<usize>,
    header_due: bool,
    cell: Vec<u8>,
    waiting: super::Deferred,
}

impl<W: Write> FieldsSink<W> {
    /// A sink writing `spec`'s fields to `w`.
    pub fn new(w: W, spec: FieldsSpec) -> Self {
        let messages_at = spec.fields.iter().position(|f| f.is_messages());
        let header_due = spec.header;
        FieldsSink { w, spec, messages_at, header_due, cell: Vec::with_capacity(256), waiting: super::Deferred::new(128) }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.header_due) {
            for (i, f) in self.spec.fields.iter().enumerate() {
                if i > 0 {
                    self.w.write_all(&[self.spec.separator])?;
                }
                write_cell(&mut self.w, f.name().as_bytes(), &self.spec)?;
            }
            self.w.write_all(b"\n")?;
        }
        Ok(())
    }

    fn annotate(spec: &FieldsSpec, at: usize) -> impl FnMut(&mut dyn Write, Option<&Carried>) -> io::Result<()> + '_ {
        move |w: &mut dyn Write, c: Option<&Carried>| {
            let q = match spec.quote {
                Quote::Double => Some(b'"'),
                Quote::Single => Some(b'\''),
                Quote::Needed => None,
            };
            if let Some(q) = q {
                w.write_all(&[q])?;
            }
            // Indices are digits and the aggregator; quote a list that holds the separator.
            let quote_list = q.is_none() && spec.aggregator == spec.separator && c.is_some_and(|c| c.first != c.last);
            if quote_list {
                w.write_all(b"\"")?;
            }
            write_messages(w, spec.fields[at], c, spec.aggregator)?;
            if quote_list {
                w.write_all(b"\"")?;
            }
            if let Some(q) = q {
                w.write_all(&[q])?;
            }
            Ok(())
        }
    }
}

impl<W: Write> Sink for FieldsSink<W> {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        self.write_header()?;
        let n = self.spec.fields.len();
        let Some(at) = self.messages_at else {
            write_cells(&mut self.w, &mut self.cell, &self.spec, view, 0..n)?;
            return self.w.write_all(b"\n");
        };
        let (mut head, mut tail) = self.waiting.buffers();
        write_cells(&mut head, &mut self.cell, &self.spec, view, 0..at)?;
        if at > 0 {
            head.byte(self.spec.separator);
        }
        write_cells(&mut tail, &mut self.cell, &self.spec, view, at + 1..n)?;
        tail.byte(b'\n');
        self.waiting.push(view.n, head, tail, &view.msgs);
        self.waiting.flush(&mut self.w, false, &mut Self::annotate(&self.spec, at))
    }

    fn late(&mut self, carried: &Carried) -> io::Result<()> {
        if let Some(at) = self.messages_at {
            self.waiting.resolve(carried);
            self.waiting.flush(&mut self.w, false, &mut Self::annotate(&self.spec, at))?;
        }
        Ok(())
    }

    fn wants_messages(&self) -> bool {
        self.messages_at.is_some()
    }

    fn finish(&mut self, _summary: &crate::pipeline::RunSummary) -> io::Result<()> {
        self.write_header()?;
        if let Some(at) = self.messages_at {
            self.waiting.flush(&mut self.w, true, &mut Self::annotate(&self.spec, at))?;
        }
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &[u8], options: &[&str]) -> String {
        let spec = FieldsSpec::parse(&["n".into()], &options.iter().map(|o| o.to_string()).collect::<Vec<_>>()).unwrap();
        let mut out = Vec::new();
        write_cell(&mut out, text, &spec).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Hostile bytes: no control byte, line break or unquoted separator gets through.
    #[test]
    fn cells_are_escaped_for_their_line() {
        assert_eq!(cell(b"a\tb\nc\x1b[2J\\", &[]), "a\\x09b\\x0ac\\x1b[2J\\x5c");
        assert_eq!(cell(b"SYN,ACK", &["separator=,"]), "\"SYN,ACK\"");
        assert_eq!(cell(b"say \"hi\"", &["separator=,"]), "\"say \"\"hi\"\"\"");
        assert_eq!(cell(b"x", &["quote=d"]), "\"x\"");
        assert_eq!(cell(b"SYN,ACK", &[]), "SYN,ACK", "tabs need no quoting of commas");
    }

    #[test]
    fn every_name_parses_back() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Ok(*f));
        }
        let err = Field::parse("tcp.bogus").unwrap_err();
        assert!(err.contains("tcp.bogus") && err.contains("tcp.state.client"), "{err}");
    }
}
