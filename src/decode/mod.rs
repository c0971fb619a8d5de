//! Stateless, lax decoding of one frame into borrowed views.
//!
//! Malformed input becomes data: decoding goes as far as it can and records [`Warning`]s naming
//! the layer and byte offset; it never panics. Link layers etherparse lacks (SLL2, BSD null/loop,
//! raw IP selection) are sliced here; everything from the EtherType down is etherparse's
//! `LaxSlicedPacket`.

pub mod link;
pub mod names;
pub mod oui;
mod peek;
pub mod tcpopt;

pub use peek::{peek, FlowTuple, Peek};

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{err, EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

pub use link::{Link, MacAddr};
pub use tcpopt::TcpOpts;

/// The protocol layer a [`Warning`] is about; [`Layer::as_str`] is the name output shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The link header as a whole, or a link type that is not decoded.
    Link,
    /// Ethernet II header (or the EtherType payload after it).
    Ethernet,
    /// Linux cooked capture v1 header (LINKTYPE_LINUX_SLL).
    Sll,
    /// Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2).
    Sll2,
    /// BSD null/loopback header (LINKTYPE_NULL, LINKTYPE_LOOP).
    Null,
    /// 802.1Q / 802.1ad VLAN tag.
    Vlan,
    /// 802.1AE MACsec header.
    Macsec,
    /// An IP header of a raw-IP link whose version is not yet known.
    Ip,
    /// IPv4 header (RFC 791), options and authentication header included.
    Ipv4,
    /// IPv6 header (RFC 8200) and its extension headers.
    Ipv6,
    /// ARP packet (RFC 826).
    Arp,
    /// TCP header and options (RFC 9293).
    Tcp,
    /// UDP header (RFC 768).
    Udp,
    /// ICMP for IPv4 (RFC 792).
    Icmp,
    /// ICMPv6 (RFC 4443).
    Icmpv6,
    /// IGMP.
    Igmp,
}

impl Layer {
    /// The lower-case name warnings print: `ipv4`, `tcp`, `sll2`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Ethernet => "ethernet",
            Layer::Sll => "sll",
            Layer::Sll2 => "sll2",
            Layer::Null => "null",
            Layer::Vlan => "vlan",
            Layer::Macsec => "macsec",
            Layer::Ip => "ip",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Arp => "arp",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Icmp => "icmp",
            Layer::Icmpv6 => "icmpv6",
            Layer::Igmp => "igmp",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A decoding problem: which layer, at which byte offset of the frame, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub layer: Layer,
    pub offset: u32,
    pub what: WarnKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarnKind {
    /// Header cut short: needed `need` bytes, `have` present.
    Truncated {
        need: u32,
        have: u32,
    },
    /// A length field claims more than is present although nothing was cut by the snap length.
    LengthBeyondFrame {
        claimed: u32,
        present: u32,
    },
    /// Error reported by etherparse (content errors: bad version, IHL < 5, data offset < 5, ...).
    Header(err::packet::SliceError),
    /// A TCP option whose length is invalid.
    BadOption {
        kind: u8,
    },
    UnknownLinkType(u32),
    Other(&'static str),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}: ", self.layer, self.offset)?;
        match &self.what {
            WarnKind::Truncated { need, have } => write!(f, "truncated header ({have} of {need} bytes)"),
            WarnKind::LengthBeyondFrame { claimed, present } => {
                write!(f, "length field claims {claimed} bytes, {present} present")
            }
            WarnKind::Header(e) => match e {
                err::packet::SliceError::Len(l) => {
                    write!(f, "truncated header ({} of {} bytes)", l.len, l.required_len)
                }
                other => write!(f, "{other}"),
            },
            WarnKind::BadOption { kind } => write!(f, "malformed option kind {kind}"),
            WarnKind::UnknownLinkType(l) => write!(f, "link type {l} is not decoded"),
            WarnKind::Other(s) => f.write_str(s),
        }
    }
}

/// Up to four warnings per frame. Boxed when there is one: a well-formed frame allocates
/// nothing and carries 8 bytes instead of 224 (a `Frame` is built and moved for every frame,
/// and with `--threads` copied into the batches handed between threads).
#[derive(Clone, Debug, Default)]
pub struct Warnings {
    list: Option<Box<[Option<Warning>; 4]>>,
}

impl Warnings {
    pub fn push(&mut self, w: Warning) {
        let list = self.list.get_or_insert_with(Default::default);
        if let Some(slot) = list.iter_mut().find(|s| s.is_none()) {
            *slot = Some(w);
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &Warning> {
        self.list.iter().flat_map(|l| l.iter().flatten())
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_none()
    }
}

/// ARP for Ethernet/IPv4, or the bare operation for other hardware/protocol types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub htype: u16,
    pub ptype: u16,
    /// Addresses, present when the packet is Ethernet/IPv4 (hlen 6, plen 4).
    pub eth_ipv4: Option<ArpAddrs>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpAddrs {
    pub sha: MacAddr,
    pub spa: Ipv4Addr,
    pub tha: MacAddr,
    pub tpa: Ipv4Addr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpKind {
    /// RFC 5227 probe: request from 0.0.0.0 asking for the address it wants.
    Probe,
    /// RFC 5227 announcement / gratuitous request: sender and target IP are the sender's own.
    Announcement,
    /// Gratuitous reply: an unsolicited reply with sender IP = target IP.
    Gratuitous,
}

impl ArpKind {
    pub fn name(self) -> &'static str {
        match self {
            ArpKind::Probe => "probe",
            ArpKind::Announcement => "announcement",
            ArpKind::Gratuitous => "gratuitous",
        }
    }
}

impl Arp {
    pub fn kind(&self) -> Option<ArpKind> {
        let a = self.eth_ipv4?;
        match self.op {
            1 if a.spa.is_unspecified() => Some(ArpKind::Probe),
            1 if a.spa == a.tpa => Some(ArpKind::Announcement),
            2 if a.spa == a.tpa => Some(ArpKind::Gratuitous),
            _ => None,
        }
    }
}

/// IPv4 or IPv6 header facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip {
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Protocol of the payload (after IPv6 extension headers).
    pub proto: u8,
    /// IPv4 identification (or the IPv6 fragment header's identification).
    pub id: Option<u32>,
    pub df: bool,
    /// (offset in bytes, more fragments) when this is a fragment.
    pub frag: Option<(u32, bool)>,
    /// Header length (IPv4 header, or IPv6 header plus extension headers).
    pub hdr_len: u16,
    /// Payload length according to the header (what the transport layer got on the wire).
    pub payload_len: u32,
    /// IPv6 extension headers walked, by next-header number (at most 4 recorded).
    pub ext: [u8; 4],
    pub next: u8,
    pub ext_count: u8,
    pub tos: u8,
}

impl Ip {
    pub fn exts(&self) -> &[u8] {
        &self.ext[..(self.ext_count as usize).min(4)]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// FIN SYN RST PSH ACK URG ECE CWR as bits 0..7.
    pub flags: u8,
    pub win: u16,
    pub urg: u16,
    pub hdr_len: u8,
    /// Payload length on the wire, from the IP lengths (Wireshark's tcp.len).
    pub len: u32,
    pub opts: TcpOpts,
    pub opt_bytes: &'a [u8],
}

pub mod tcpflags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
    pub const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    pub sport: u16,
    pub dport: u16,
    pub len: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    pub v6: bool,
    pub ty: u8,
    pub code: u8,
    /// Echo identifier and sequence.
    pub echo: Option<(u16, u16)>,
    /// Neighbour discovery target (NS/NA) or redirect target.
    pub target: Option<Ipv6Addr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Net {
    None,
    Arp(Arp),
    Ip(Ip),
    /// An EtherType we do not decode.
    Other(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    None,
    Tcp(Tcp<'a>),
    Udp(Udp),
    Icmp(Icmp),
    /// IP protocol we do not decode (or a non-first fragment).
    Other(u8),
}

/// A decoded frame: borrowed views into the captured bytes.
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    pub link: Link,
    pub vlans: [u16; 3],
    pub nvlan: u8,
    /// Innermost EtherType (or SLL protocol) when known.
    pub ethertype: Option<u16>,
    pub net: Net,
    pub transport: Transport<'a>,
    /// Transport payload (captured bytes; may be shorter than `Tcp::len` when the snap length cut it).
    pub payload: &'a [u8],
    pub warnings: Warnings,
}

impl<'a> Frame<'a> {
    fn new(link: Link) -> Self {
        Frame {
            link,
            vlans: [0; 3],
            nvlan: 0,
            ethertype: None,
            net: Net::None,
            transport: Transport::None,
            payload: &[],
            warnings: Warnings::default(),
        }
    }

    pub fn vlans(&self) -> &[u16] {
        &self.vlans[..self.nvlan as usize]
    }

    pub fn ip(&self) -> Option<&Ip> {
        match &self.net {
            Net::Ip(ip) => Some(ip),
            _ => None,
        }
    }

    pub fn tcp(&self) -> Option<&Tcp<'a>> {
        match &self.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }

    fn warn(&mut self, layer: Layer, offset: usize, what: WarnKind) {
        self.warnings.push(Warning { layer, offset: offset as u32, what });
    }
}

/// Decode one frame of link type `linktype`. `wire_len` is the original frame length, used to
/// tell snap-length truncation from lying length fields.
pub fn decode(linktype: u32, data: &[u8], wire_len: u32) -> Frame<'_> {
    let (link, l2_len, proto) = link::slice(linktype, data);
    let mut f = Frame::new(link);
    match link {
        Link::Unknown { linktype } => {
            f.warn(Layer::Link, 0, WarnKind::UnknownLinkType(linktype));
            return f;
        }
        Link::Truncated { layer, need } => {
            f.warn(layer, 0, WarnKind::Truncated { need: need as u32, have: data.len() as u32 });
            return f;
        }
        _ => {}
    }
    let rest = &data[l2_len..];
    let v = match proto {
        link::Proto::Ether(0x0800) => Some(4),
        link::Proto::Ether(0x86dd) => Some(6),
        link::Proto::Ip => rest.first().map(|b| b >> 4),
        _ => None,
    };
    if let Some(v) = v {
        if fast_ip(&mut f, v, data, l2_len, wire_len) {
            return f;
        }
    }
    decode_lax(f, proto, data, l2_len, wire_len)
}

/// The general path: etherparse's lax slicing of everything after the link layer, with a
/// warning for whatever is malformed or cut.
fn decode_lax<'a>(mut f: Frame<'a>, proto: link::Proto, data: &'a [u8], l2_len: usize, wire_len: u32) -> Frame<'a> {
    let rest = &data[l2_len..];
    let sliced = match proto {
        link::Proto::Ether(t) => LaxSlicedPacket::from_ether_type(EtherType(t), rest),
        link::Proto::Ip => match LaxSlicedPacket::from_ip(rest) {
            Ok(s) => s,
            Err(e) => {
                let (what, layer) = match e {
                    err::ip::LaxHeaderSliceError::Len(l) => {
                        (WarnKind::Truncated { need: l.required_len as u32, have: l.len as u32 }, Layer::Ip)
                    }
                    err::ip::LaxHeaderSliceError::Content(c) => (WarnKind::Header(err::packet::SliceError::Ip(c)), Layer::Ip),
                };
                f.warn(layer, l2_len, what);
                return f;
            }
        },
        link::Proto::Other(t) => {
            f.ethertype = Some(t);
            f.net = Net::Other(t);
            return f;
        }
    };
    fill(&mut f, &sliced, data, l2_len, wire_len);
    f
}

/// The common case without the general machinery: a whole, unfragmented IPv4 packet or an
/// IPv6 packet without extension headers, carrying a whole TCP segment or UDP datagram, sliced
/// with etherparse's strict per-layer slices (no `LaxSlicedPacket`, a large value that was
/// copied several times per frame). Fills `f` exactly as [`decode_lax`] would and returns true;
/// returns false, leaving `f` untouched, for anything else (which then takes the general path).
/// `frames_decode_the_same_on_both_paths` checks the two against each other on every fixture
/// and corpus frame.
fn fast_ip<'a>(f: &mut Frame<'a>, version: u8, data: &'a [u8], l2_len: usize, wire_len: u32) -> bool {
    let rest = &data[l2_len..];
    let on_wire_after = |start: usize| wire_len.saturating_sub(start as u32);
    let (ip, payload, ethertype) = match version {
        4 => {
            let Ok(v4) = etherparse::Ipv4Slice::from_slice(rest) else { return false };
            if v4.is_payload_fragmented() {
                return false;
            }
            let h = v4.header();
            let hdr_len = h.slice().len();
            let total = h.total_len() as u32;
            let pl = v4.payload();
            if total < hdr_len as u32 {
                return false;
            }
            let ip = ipv4(&h, (total - hdr_len as u32).min(on_wire_after(l2_len + hdr_len)), None);
            (ip, pl.payload, 0x0800)
        }
        6 => {
            let Ok(v6) = etherparse::Ipv6Slice::from_slice(rest) else { return false };
            let h = v6.header();
            let pl = v6.payload();
            if !v6.extensions().slice().is_empty() || pl.fragmented || h.payload_length() == 0 {
                return false;
            }
            let ip = ipv6(&h, pl.ip_number.0, 0, (h.payload_length() as u32).min(on_wire_after(l2_len + 40)));
            (ip, pl.payload, 0x86dd)
        }
        _ => return false,
    };
    let transport = match ip.proto {
        6 => {
            let Ok(t) = etherparse::TcpSlice::from_slice(payload) else { return false };
            let Some(tcp) = tcp_view(t.header_slice(), ip.payload_len) else { return false };
            if tcp.opts.malformed.is_some() {
                return false;
            }
            f.payload = t.payload();
            Transport::Tcp(tcp)
        }
        17 => {
            let Ok(u) = etherparse::UdpSlice::from_slice(payload) else { return false };
            f.payload = u.payload();
            Transport::Udp(Udp { sport: u.source_port(), dport: u.destination_port(), len: u.length() })
        }
        _ => return false,
    };
    f.ethertype = Some(ethertype);
    f.net = Net::Ip(ip);
    f.transport = transport;
    true
}

/// The IPv4 layer of a header; `payload_len` and `frag` as the caller worked them out.
fn ipv4(h: &etherparse::Ipv4HeaderSlice<'_>, payload_len: u32, frag: Option<(u32, bool)>) -> Ip {
    Ip {
        version: 4,
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        ttl: h.ttl(),
        proto: h.protocol().0,
        id: Some(h.identification() as u32),
        df: h.dont_fragment(),
        frag,
        hdr_len: h.slice().len() as u16,
        payload_len,
        ext: [0; 4],
        next: h.protocol().0,
        ext_count: 0,
        tos: h.slice()[1],
    }
}

/// The IPv6 layer of a header followed by `ext_len` bytes of extension headers (walked by the
/// caller) and a payload of protocol `proto`.
fn ipv6(h: &etherparse::Ipv6HeaderSlice<'_>, proto: u8, ext_len: usize, payload_len: u32) -> Ip {
    Ip {
        version: 6,
        src: IpAddr::V6(h.source_addr()),
        dst: IpAddr::V6(h.destination_addr()),
        ttl: h.hop_limit(),
        proto,
        id: None,
        df: false,
        frag: None,
        hdr_len: (40 + ext_len) as u16,
        payload_len,
        ext: [0; 4],
        next: h.next_header().0,
        ext_count: 0,
        tos: ((h.slice()[0] & 0x0f) << 4) | (h.slice()[1] >> 4),
    }
}

fn fill<'a>(f: &mut Frame<'a>, s: &LaxSlicedPacket<'a>, data: &'a [u8], l2_len: usize, wire_len: u32) {
    let cut = (data.len() as u32) < wire_len;
    let off = |p: &[u8]| (p.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    // A length field cannot claim more than the frame had on the wire (Wireshark clips the same way).
    let on_wire_after = |start: usize| wire_len.saturating_sub(start as u32);
    for ext in &s.link_exts {
        if let etherparse::LaxLinkExtSlice::Vlan(v) = ext {
            if (f.nvlan as usize) < f.vlans.len() {
                f.vlans[f.nvlan as usize] = v.vlan_identifier().value();
                f.nvlan += 1;
            }
            f.ethertype = Some(v.ether_type().0);
        }
    }
    if let Some(LinkSlice::EtherPayload(p)) = &s.link {
        f.ethertype = Some(p.ether_type.0);
    }
    match &s.net {
        Some(LaxNetSlice::Arp(a)) => {
            f.ethertype = Some(0x0806);
            let eth_ipv4 = if a.hw_addr_size() == 6 && a.proto_addr_size() == 4 {
                let m = |b: &[u8]| MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]]);
                let ip = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                Some(ArpAddrs {
                    sha: m(a.sender_hw_addr()),
                    spa: ip(a.sender_protocol_addr()),
                    tha: m(a.target_hw_addr()),
                    tpa: ip(a.target_protocol_addr()),
                })
            } else {
                None
            };
            f.net = Net::Arp(Arp { op: a.operation().0, htype: a.hw_addr_type().0, ptype: a.proto_addr_type().0, eth_ipv4 });
        }
        Some(LaxNetSlice::Ipv4(v4)) => {
            f.ethertype = Some(0x0800);
            let h = v4.header();
            let hdr_len = h.slice().len();
            let total = h.total_len() as u32;
            let payload_len = total.saturating_sub(hdr_len as u32).min(on_wire_after(off(h.slice()) + hdr_len));
            let frag_off = h.fragments_offset().value() as u32 * 8;
            let mf = h.more_fragments();
            let pl = v4.payload();
            if pl.incomplete && !cut {
                f.warn(
                    Layer::Ipv4,
                    off(h.slice()),
                    WarnKind::LengthBeyondFrame { claimed: total, present: (hdr_len + pl.payload.len()) as u32 },
                );
            }
            if total < hdr_len as u32 {
                f.warn(Layer::Ipv4, off(h.slice()) + 2, WarnKind::Other("total length smaller than the header"));
            }
            f.net = Net::Ip(ipv4(&h, payload_len, if frag_off != 0 || mf { Some((frag_off, mf)) } else { None }));
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            f.ethertype = Some(0x86dd);
            let h = v6.header();
            let exts = v6.extensions();
            let payload_len = (h.payload_length() as u32)
                .saturating_sub(exts.slice().len() as u32)
                .min(on_wire_after(off(h.slice()) + 40 + exts.slice().len()));
            let mut ip = ipv6(&h, v6.payload().ip_number.0, exts.slice().len(), payload_len);
            // Walk the extension headers ourselves over the bytes etherparse delimited: its
            // `Ipv6ExtensionSliceIter` reads unchecked and crashed (SIGSEGV) on lax-sliced
            // malformed headers of the tcpdump corpus (ipv6-next-header-oobr-*.pcap).
            walk_ipv6_exts(h.next_header().0, exts.slice(), &mut ip);
            let pl = v6.payload();
            if pl.incomplete && !cut && h.payload_length() != 0 {
                f.warn(
                    Layer::Ipv6,
                    off(h.slice()),
                    WarnKind::LengthBeyondFrame {
                        claimed: 40 + h.payload_length() as u32,
                        present: (40 + exts.slice().len() + pl.payload.len()) as u32,
                    },
                );
            }
            f.net = Net::Ip(ip);
        }
        None => {}
    }
    if let Some((e, _layer)) = &s.stop_err {
        let (name, at) = match e {
            err::packet::SliceError::Len(l) => (layer_of(l.layer), l2_len + l.layer_start_offset),
            err::packet::SliceError::Tcp(_) => (Layer::Tcp, transport_offset(f, l2_len)),
            err::packet::SliceError::Ipv4(_) | err::packet::SliceError::Ipv4Exts(_) => (Layer::Ipv4, l2_len + vlan_len(f)),
            err::packet::SliceError::Ipv6(_) | err::packet::SliceError::Ipv6Exts(_) => (Layer::Ipv6, l2_len + vlan_len(f)),
            err::packet::SliceError::Ip(_) => (Layer::Ip, l2_len + vlan_len(f)),
            _ => (Layer::Link, 0),
        };
        let what = match e {
            err::packet::SliceError::Len(l) => WarnKind::Truncated { need: l.required_len as u32, have: l.len as u32 },
            other => WarnKind::Header(other.clone()),
        };
        f.warn(name, at, what);
        // A TCP header cut inside its options (a short snap length on a SYN) still has every
        // fixed field: decode those and the options present, as tshark does, so tracking sees
        // the handshake.
        if let (err::packet::SliceError::Len(l), Some(ip)) = (e, f.ip().copied()) {
            if l.layer == err::Layer::TcpHeader && ip.frag.is_none() {
                let payload = match &s.net {
                    Some(LaxNetSlice::Ipv4(v)) => v.payload().payload,
                    Some(LaxNetSlice::Ipv6(v)) => v.payload().payload,
                    _ => &[],
                };
                if let Some(t) = tcp_view(payload, ip.payload_len) {
                    f.transport = Transport::Tcp(t);
                }
            }
        }
    }
    match &s.transport {
        Some(TransportSlice::Tcp(t)) => {
            let ip_pl = f.ip().map(|i| i.payload_len).unwrap_or(t.slice().len() as u32);
            if let Some(tcp) = tcp_view(t.slice(), ip_pl) {
                if let Some((kind, o)) = tcp.opts.malformed {
                    f.warn(Layer::Tcp, off(t.slice()) + 20 + o, WarnKind::BadOption { kind });
                }
                f.payload = t.payload();
                f.transport = Transport::Tcp(tcp);
            }
        }
        Some(TransportSlice::Udp(u)) => {
            f.payload = u.payload();
            f.transport = Transport::Udp(Udp { sport: u.source_port(), dport: u.destination_port(), len: u.length() });
        }
        Some(TransportSlice::Icmpv4(i)) => {
            let (ty, code) = (i.type_u8(), i.code_u8());
            let b = i.bytes5to8();
            let echo = matches!(ty, 0 | 8).then(|| (u16::from_be_bytes([b[0], b[1]]), u16::from_be_bytes([b[2], b[3]])));
            f.payload = i.payload();
            f.transport = Transport::Icmp(Icmp { v6: false, ty, code, echo, target: None });
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let (ty, code) = (i.type_u8(), i.code_u8());
            let b = i.bytes5to8();
            let echo = matches!(ty, 128 | 129).then(|| (u16::from_be_bytes([b[0], b[1]]), u16::from_be_bytes([b[2], b[3]])));
            let p = i.payload();
            let target = (matches!(ty, 135..=137) && p.len() >= 16).then(|| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&p[..16]);
                Ipv6Addr::from(a)
            });
            f.payload = p;
            f.transport = Transport::Icmp(Icmp { v6: true, ty, code, echo, target });
        }
        Some(TransportSlice::Igmp(_)) => f.transport = Transport::Other(2),
        None => {
            if let Some(ip) = f.ip().copied() {
                if s.stop_err.is_none() {
                    first_fragment_or_other(f, s, &ip, data, l2_len);
                }
            }
        }
    }
}

/// etherparse does not slice the transport header of fragments; the first fragment still carries
/// the TCP/UDP header, which tcpdump and tshark show, so slice it here. Later fragments are `Other`.
fn first_fragment_or_other<'a>(f: &mut Frame<'a>, s: &LaxSlicedPacket<'a>, ip: &Ip, _data: &'a [u8], _l2: usize) {
    let payload = match &s.net {
        Some(LaxNetSlice::Ipv4(v)) => v.payload().payload,
        Some(LaxNetSlice::Ipv6(v)) => v.payload().payload,
        _ => &[],
    };
    if matches!(ip.frag, Some((0, true))) {
        match ip.proto {
            17 if payload.len() >= 8 => {
                let u = etherparse::UdpHeaderSlice::from_slice(payload).ok();
                if let Some(u) = u {
                    f.transport = Transport::Udp(Udp { sport: u.source_port(), dport: u.destination_port(), len: u.length() });
                    f.payload = &payload[8..];
                    return;
                }
            }
            6 => {
                if let (Ok(t), Some(tcp)) = (etherparse::TcpSlice::from_slice(payload), tcp_view(payload, ip.payload_len)) {
                    f.payload = t.payload();
                    f.transport = Transport::Tcp(tcp);
                    return;
                }
            }
            _ => {}
        }
    }
    f.transport = Transport::Other(ip.proto);
    f.payload = payload;
}

/// Record IPv6 extension headers (and a fragment header's offset/id) from `b`, which starts with
/// the header numbered `next`. Stops at the first header that does not fit.
fn walk_ipv6_exts(mut next: u8, mut b: &[u8], ip: &mut Ip) {
    while b.len() >= 8 {
        let len = match next {
            0 | 43 | 60 => (b[1] as usize + 1) * 8,
            44 => {
                let o = (u16::from_be_bytes([b[2], b[3]]) >> 3) as u32 * 8;
                let more = b[3] & 1 == 1;
                if o != 0 || more {
                    ip.frag = Some((o, more));
                    ip.id = Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
                }
                8
            }
            51 => (b[1] as usize + 2) * 4,
            _ => return,
        };
        if (ip.ext_count as usize) < ip.ext.len() {
            ip.ext[ip.ext_count as usize] = next;
        }
        ip.ext_count = ip.ext_count.saturating_add(1);
        if len > b.len() {
            return;
        }
        next = b[0];
        b = &b[len..];
    }
}

/// A TCP header view from its bytes: the fixed 20 bytes and whatever options were captured
/// (all of them for a whole header). `None` below 20 bytes or with a data offset under 5.
fn tcp_view(b: &[u8], ip_payload_len: u32) -> Option<Tcp<'_>> {
    if b.len() < 20 {
        return None;
    }
    let hdr_len = ((b[12] >> 4) as usize) * 4;
    if hdr_len < 20 {
        return None;
    }
    let be16 = |o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
    let be32 = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let opt_bytes = &b[20..hdr_len.min(b.len())];
    Some(Tcp {
        sport: be16(0),
        dport: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: b[13],
        win: be16(14),
        urg: be16(18),
        hdr_len: hdr_len as u8,
        len: ip_payload_len.saturating_sub(hdr_len as u32),
        opts: TcpOpts::parse(opt_bytes),
        opt_bytes,
    })
}

fn vlan_len(f: &Frame) -> usize {
    4 * f.nvlan as usize
}

fn transport_offset(f: &Frame, l2: usize) -> usize {
    l2 + vlan_len(f) + f.ip().map(|i| i.hdr_len as usize).unwrap_or(0)
}

fn layer_of(l: err::Layer) -> Layer {
    use err::Layer::*;
    match l {
        LinuxSllHeader => Layer::Sll,
        Ethernet2Header | EtherPayload => Layer::Ethernet,
        VlanHeader => Layer::Vlan,
        MacsecHeader | MacsecPacket => Layer::Macsec,
        IpHeader | Ipv4Header | Ipv4Packet | IpAuthHeader => Layer::Ipv4,
        Ipv6Header | Ipv6Packet | Ipv6ExtHeader | Ipv6HopByHopHeader | Ipv6DestOptionsHeader | Ipv6RouteHeader | Ipv6FragHeader => {
            Layer::Ipv6
        }
        UdpHeader | UdpPayload => Layer::Udp,
        TcpHeader => Layer::Tcp,
        Icmpv4 | Icmpv4Timestamp | Icmpv4TimestampReply => Layer::Icmp,
        Icmpv6 => Layer::Icmpv6,
        Igmp => Layer::Igmp,
        Arp => Layer::Arp,
    }
}

#[cfg(test)]
mod tests;
