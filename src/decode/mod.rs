//! Stateless, lax decoding of one frame into borrowed views.
//!
//! Malformed input becomes data: decoding goes as far as it can and records [`Warning`]s naming
//! the layer and byte offset; it never panics. Link layers etherparse lacks (SLL2, BSD null/loop,
//! raw IP selection) are sliced here; everything from the EtherType down is etherparse's
//! `LaxSlicedPacket`.

pub mod app;
pub mod checksum;
pub mod frag;
pub mod icmp;
pub mod link;
pub mod names;
pub mod oui;
mod peek;
pub mod tcpopt;
pub mod tunnel;

pub use peek::{peek, peek_with, FlowTuple, Peek};
pub use tunnel::{DecodeOptions, Encap, EncapLayer, Encaps, TunnelPorts, UdpTunnel};

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{err, EtherType, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

pub use frag::{Datagram, FragDrop, FragNote, IpReasm, Overlap};
pub use icmp::Quoted;
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
    /// PPP header (RFC 1661/1662).
    Ppp,
    /// Cisco HDLC header.
    Chdlc,
    /// Linux netfilter log header and attributes.
    Nflog,
    /// IEEE 802.11 MAC header.
    Wifi,
    /// Radiotap header in front of an 802.11 frame.
    Radiotap,
    /// PPI header in front of an 802.11 frame.
    Ppi,
    /// FDDI MAC header.
    Fddi,
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
    /// Tunnel nesting as a whole (the depth limit).
    Tunnel,
    /// GRE header (RFC 2784/2890).
    Gre,
    /// ERSPAN header.
    Erspan,
    /// VXLAN header (RFC 7348).
    Vxlan,
    /// Geneve header and options (RFC 8926).
    Geneve,
    /// GTP-U header and extension headers.
    GtpU,
    /// Teredo headers (RFC 4380).
    Teredo,
    /// MPLS label stack entry (RFC 3032).
    Mpls,
    /// PPPoE header (RFC 2516).
    Pppoe,
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
            Layer::Ppp => "ppp",
            Layer::Chdlc => "chdlc",
            Layer::Nflog => "nflog",
            Layer::Wifi => "802.11",
            Layer::Radiotap => "radiotap",
            Layer::Ppi => "ppi",
            Layer::Fddi => "fddi",
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
            Layer::Tunnel => "tunnel",
            Layer::Gre => "gre",
            Layer::Erspan => "erspan",
            Layer::Vxlan => "vxlan",
            Layer::Geneve => "geneve",
            Layer::GtpU => "gtpu",
            Layer::Teredo => "teredo",
            Layer::Mpls => "mpls",
            Layer::Pppoe => "pppoe",
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
    /// The layer whose header is cut or malformed.
    pub layer: Layer,
    /// Byte offset from the start of the frame where that layer's header (or the bad field) starts.
    pub offset: u32,
    /// What is wrong.
    pub what: WarnKind,
}

/// The kinds of decoding problem; `Display` of the [`Warning`] words each one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarnKind {
    /// Header cut short: needed `need` bytes, `have` present.
    Truncated {
        /// Bytes the header needs.
        need: u32,
        /// Bytes captured from the header's start.
        have: u32,
    },
    /// A length field claims more than is present although nothing was cut by the snap length.
    LengthBeyondFrame {
        /// Length the header claims, counted from the header's start.
        claimed: u32,
        /// Bytes present from the header's start.
        present: u32,
    },
    /// Error reported by etherparse (content errors: bad version, IHL < 5, data offset < 5, ...).
    Header(err::packet::SliceError),
    /// A TCP option whose length is invalid.
    BadOption {
        /// The option's kind byte.
        kind: u8,
    },
    /// A capture link type (LINKTYPE_* number) this decoder does not slice.
    UnknownLinkType(u32),
    /// A checksum that does not match the bytes (`--check-checksums`).
    BadChecksum {
        /// The checksum in the header.
        value: u16,
        /// The checksum the bytes call for.
        expected: u16,
    },
    /// The field holds the pseudo-header sum a NIC completes later (checksum offload on the
    /// capturing host), not a checksum.
    ChecksumNotComputed {
        /// The value in the header.
        value: u16,
    },
    /// Any other problem, worded as shown.
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
            WarnKind::BadChecksum { value, expected } => write!(f, "bad checksum 0x{value:04x}, expected 0x{expected:04x}"),
            WarnKind::ChecksumNotComputed { value } => {
                write!(f, "checksum 0x{value:04x} not computed (offload?): it is the pseudo-header sum the NIC completes")
            }
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
    /// Record a warning; the first four of a frame are kept, later ones are dropped.
    pub fn push(&mut self, warning: Warning) {
        let list = self.list.get_or_insert_with(Default::default);
        if let Some(slot) = list.iter_mut().find(|s| s.is_none()) {
            *slot = Some(warning);
        }
    }
    /// The kept warnings in the order they were found (outer layers first).
    pub fn iter(&self) -> impl Iterator<Item = &Warning> {
        self.list.iter().flat_map(|list| list.iter().flatten())
    }
    /// True when the frame decoded without a problem.
    pub fn is_empty(&self) -> bool {
        self.list.is_none()
    }
}

/// ARP for Ethernet/IPv4, or the bare operation for other hardware/protocol types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// Operation (RFC 826 `ar$op`): 1 request, 2 reply; see [`names::arp_op`].
    pub op: u16,
    /// Hardware type (`ar$hrd`): 1 is Ethernet.
    pub htype: u16,
    /// Protocol type (`ar$pro`), an EtherType: 0x0800 is IPv4.
    pub ptype: u16,
    /// Addresses, present when the packet is Ethernet/IPv4 (hlen 6, plen 4).
    pub eth_ipv4: Option<ArpAddrs>,
}

/// The addresses of an Ethernet/IPv4 ARP packet, named as in RFC 826.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpAddrs {
    /// Sender hardware address.
    pub sha: MacAddr,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub tha: MacAddr,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

/// The special-purpose ARP packets an address-conflict check tells apart (RFC 5227).
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
    /// The lower-case word output uses for the kind.
    pub fn name(self) -> &'static str {
        match self {
            ArpKind::Probe => "probe",
            ArpKind::Announcement => "announcement",
            ArpKind::Gratuitous => "gratuitous",
        }
    }
}

impl Arp {
    /// The special kind of an Ethernet/IPv4 packet, `None` for an ordinary request or reply.
    pub fn kind(&self) -> Option<ArpKind> {
        let addrs = self.eth_ipv4?;
        match self.op {
            1 if addrs.spa.is_unspecified() => Some(ArpKind::Probe),
            1 if addrs.spa == addrs.tpa => Some(ArpKind::Announcement),
            2 if addrs.spa == addrs.tpa => Some(ArpKind::Gratuitous),
            _ => None,
        }
    }
}

/// IPv4 or IPv6 header facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip {
    /// 4 or 6.
    pub version: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Protocol of the payload (after IPv6 extension headers).
    pub proto: u8,
    /// IPv4 identification (or the IPv6 fragment header's identification).
    pub id: Option<u32>,
    /// IPv4 Don't Fragment flag; always false for IPv6.
    pub df: bool,
    /// (offset in bytes, more fragments) when this is a fragment.
    pub frag: Option<(u32, bool)>,
    /// Header length (IPv4 header, or IPv6 header plus extension headers).
    pub hdr_len: u16,
    /// Payload length according to the header (what the transport layer got on the wire).
    pub payload_len: u32,
    /// IPv6 extension headers walked, by next-header number (at most 4 recorded).
    pub ext: [u8; 4],
    /// The fixed header's protocol (IPv4) or next-header (IPv6) field, before any extension header.
    pub next: u8,
    /// How many IPv6 extension headers were walked (saturating; only the first four are in `ext`).
    pub ext_count: u8,
    /// IPv4 type-of-service byte or IPv6 traffic class (DSCP and ECN bits, RFC 2474 / RFC 3168).
    pub tos: u8,
    /// The IPv4 total length was 0, as a sending host's segmentation offload (TSO/GSO) leaves
    /// it: the length is the frame's, as tshark (`ip.tso_support`) and Zeek take it.
    pub len_from_frame: bool,
}

impl Ip {
    /// The recorded IPv6 extension headers, outermost first.
    pub fn exts(&self) -> &[u8] {
        &self.ext[..(self.ext_count as usize).min(4)]
    }
}

/// A TCP header (RFC 9293 §3.1), its fields as on the wire (sequence numbers absolute, window unscaled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when ACK is set).
    pub ack: u32,
    /// FIN SYN RST PSH ACK URG ECE CWR as bits 0..7, see [`tcpflags`].
    pub flags: u8,
    /// Window field, before any window scaling.
    pub win: u16,
    /// Urgent pointer (meaningful when URG is set).
    pub urg: u16,
    /// Header length in bytes (data offset × 4), options included.
    pub hdr_len: u8,
    /// Payload length on the wire, from the IP lengths (Wireshark's tcp.len).
    pub len: u32,
    /// The options the program uses, parsed.
    pub opts: TcpOpts,
    /// The option bytes as captured (fewer than `hdr_len - 20` when the snap length cut them).
    pub opt_bytes: &'a [u8],
}

/// Bits of [`Tcp::flags`] (RFC 9293 §3.1; ECE and CWR from RFC 3168).
pub mod tcpflags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN-Echo.
    pub const ECE: u8 = 0x40;
    /// Congestion Window Reduced.
    pub const CWR: u8 = 0x80;
    /// Flag names indexed by bit position (`NAMES[i]` names bit `1 << i`).
    pub const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
}

/// A UDP header (RFC 768).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Length field: header plus payload, as the sender wrote it.
    pub len: u16,
}

/// An ICMP (RFC 792) or ICMPv6 (RFC 4443) message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    /// ICMPv6 rather than ICMP for IPv4 (the type numbers differ).
    pub v6: bool,
    /// Message type.
    pub ty: u8,
    /// Message code.
    pub code: u8,
    /// Echo identifier and sequence.
    pub echo: Option<(u16, u16)>,
    /// Neighbour discovery target (NS/NA) or redirect target.
    pub target: Option<Ipv6Addr>,
    /// On an error (see [`icmp::is_error`]): the header of the datagram it is about.
    pub quoted: Option<Quoted>,
}

/// The network layer of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Net {
    /// Nothing decoded: the link layer is unknown or cut, or its payload is not an EtherType.
    None,
    /// An ARP packet.
    Arp(Arp),
    /// An IPv4 or IPv6 header.
    Ip(Ip),
    /// An EtherType we do not decode.
    Other(u16),
}

/// The transport layer of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    /// Nothing decoded: no IP layer, or its header is malformed or cut.
    None,
    /// A TCP header (whole, or the fixed 20 bytes with the options captured).
    Tcp(Tcp<'a>),
    /// A UDP header.
    Udp(Udp),
    /// An ICMP or ICMPv6 header.
    Icmp(Icmp),
    /// IP protocol we do not decode (or a non-first fragment).
    Other(u8),
}

/// A decoded frame: borrowed views into the captured bytes.
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    /// The link-layer header.
    pub link: Link<'a>,
    /// VLAN identifiers of the 802.1Q/802.1ad tags, outermost first; the first `nvlan` are set.
    pub vlans: [u16; 3],
    /// How many entries of `vlans` are set (tags beyond three are not recorded).
    pub nvlan: u8,
    /// Innermost EtherType (or SLL protocol) when known.
    pub ethertype: Option<u16>,
    /// The network layer.
    pub net: Net,
    /// The transport layer.
    pub transport: Transport<'a>,
    /// Transport payload (captured bytes; may be shorter than `Tcp::len` when the snap length cut it).
    /// Empty on a frame that completes a reassembled datagram: see [`Frame::transport_payload`].
    pub payload: &'a [u8],
    /// The IP payload as captured (after IPv6 extension headers), when the frame is IP.
    pub ip_payload: &'a [u8],
    /// What IP reassembly (in `track`) made of the frame; decoding leaves it
    /// [`IpReasm::NotFragment`].
    pub reasm: IpReasm,
    /// What was malformed or cut, in the order found.
    pub warnings: Warnings,
    /// The tunnels and encapsulations the frame was carried in, outermost first; `net`,
    /// `transport` and the payloads are the innermost packet's ([`tunnel`]).
    pub encaps: Encaps,
    /// Offset in the frame of the network-layer header (after the link header, VLAN tags and
    /// tunnel headers): where an undecoded EtherType's payload starts.
    pub net_offset: u32,
}

impl<'a> Frame<'a> {
    /// A frame of nothing: the slot a driver decodes the next frame into.
    pub fn blank() -> Self {
        Frame::new(Link::Raw)
    }

    fn new(link: Link<'a>) -> Self {
        Frame {
            link,
            vlans: [0; 3],
            nvlan: 0,
            ethertype: None,
            net: Net::None,
            transport: Transport::None,
            payload: &[],
            ip_payload: &[],
            reasm: IpReasm::NotFragment,
            warnings: Warnings::default(),
            encaps: Encaps::NONE,
            net_offset: 0,
        }
    }

    /// The transport payload: the whole datagram's on a frame that completes a reassembled
    /// datagram, else the frame's own [`payload`](Self::payload).
    pub fn transport_payload(&self) -> &[u8] {
        match self.reasm.datagram() {
            Some(d) => d.payload(),
            None => self.payload,
        }
    }

    /// The TCP option bytes as captured (those of the reassembled datagram's header on a frame
    /// that completes one).
    pub fn tcp_opt_bytes(&self) -> &[u8] {
        let Transport::Tcp(tcp) = &self.transport else { return &[] };
        match self.reasm.datagram() {
            Some(d) => d.bytes.get(20..usize::from(tcp.hdr_len)).unwrap_or(&[]),
            None => tcp.opt_bytes,
        }
    }

    /// True when the transport layer is a whole datagram's: the frame is no fragment, or the
    /// fragment that completed a reassembled datagram (what tracking and seams take).
    pub fn is_whole(&self) -> bool {
        match &self.net {
            Net::Ip(ip) => ip.frag.is_none() || matches!(self.reasm, IpReasm::Completed(..)),
            _ => true,
        }
    }

    /// The recorded VLAN identifiers, outermost first.
    pub fn vlans(&self) -> &[u16] {
        &self.vlans[..self.nvlan as usize]
    }

    /// The IP header, if the network layer is IPv4 or IPv6.
    pub fn ip(&self) -> Option<&Ip> {
        match &self.net {
            Net::Ip(ip) => Some(ip),
            _ => None,
        }
    }

    /// The TCP header, if the transport layer is TCP.
    pub fn tcp(&self) -> Option<&Tcp<'a>> {
        match &self.transport {
            Transport::Tcp(tcp) => Some(tcp),
            _ => None,
        }
    }

    fn warn(&mut self, layer: Layer, offset: usize, what: WarnKind) {
        self.warnings.push(Warning { layer, offset: offset as u32, what });
    }
}

/// Decode one frame of link type `linktype`, tunnels peeled off on their registered ports.
/// `wire_len` is the original frame length, used to tell snap-length truncation from lying
/// length fields.
pub fn decode(linktype: u32, data: &[u8], wire_len: u32) -> Frame<'_> {
    decode_with(&DecodeOptions::DEFAULT, linktype, data, wire_len)
}

/// [`decode`] with the tunnel options (`--no-decap`, `--tunnel-port`).
pub fn decode_with<'a>(opts: &DecodeOptions, linktype: u32, data: &'a [u8], wire_len: u32) -> Frame<'a> {
    let mut frame = Frame::new(Link::Raw);
    decode_into(opts, linktype, data, wire_len, &mut frame);
    frame
}

/// [`decode_with`] into `frame`, which it overwrites whole. The per-frame drivers decode into a
/// frame slot of their own: returned by value, a `Frame` was copied out of every call.
pub fn decode_into<'a>(opts: &DecodeOptions, linktype: u32, data: &'a [u8], wire_len: u32, frame: &mut Frame<'a>) {
    let (link, l2_len, proto) = link::slice(linktype, data);
    *frame = Frame::new(link);
    match link {
        Link::Unknown { linktype } => {
            frame.warn(Layer::Link, 0, WarnKind::UnknownLinkType(linktype));
            return;
        }
        Link::Truncated { layer, need } => {
            frame.warn(layer, 0, WarnKind::Truncated { need: need as u32, have: data.len() as u32 });
            return;
        }
        _ => {}
    }
    let (data, wire_len) = link::trim(&link, data, l2_len, wire_len);
    decode_net(frame, proto, data, l2_len, wire_len);
    // No tunnel decoded here rides on TCP (they are carried by IP, GRE, UDP, MPLS or PPPoE):
    // a TCP segment, the common frame, skips the tunnel step.
    if opts.decap && !matches!(frame.transport, Transport::Tcp(_)) {
        tunnel::decap(frame, opts, data, wire_len);
    }
}

/// Decode from the network layer on: `proto` (what the layer below said follows) at offset
/// `l2_len` of `data`.
/// Fills `frame` in place (a `Frame` is a few hundred bytes: passing it by value cost a copy in
/// and one out per frame).
pub(crate) fn decode_net<'a>(frame: &mut Frame<'a>, proto: link::Proto, data: &'a [u8], l2_len: usize, wire_len: u32) {
    frame.net_offset = l2_len as u32;
    let Some(rest) = data.get(l2_len..) else { return };
    let version = match proto {
        link::Proto::Ether(0x0800) => Some(4),
        link::Proto::Ether(0x86dd) => Some(6),
        link::Proto::Ip => rest.first().map(|b| b >> 4),
        _ => None,
    };
    if let Some(version) = version {
        if fast_ip(frame, version, data, l2_len, wire_len) {
            return;
        }
    }
    decode_lax(frame, proto, data, l2_len, wire_len)
}

/// The general path: etherparse's lax slicing of everything after the link layer, with a
/// warning for whatever is malformed or cut.
fn decode_lax<'a>(frame: &mut Frame<'a>, proto: link::Proto, data: &'a [u8], l2_len: usize, wire_len: u32) {
    frame.net_offset = l2_len as u32;
    let rest = &data[l2_len..];
    let sliced = match proto {
        // RARP (RFC 903): ARP's format, which etherparse reads only under ARP's EtherType
        link::Proto::Ether(0x8035) => {
            frame.ethertype = Some(0x8035);
            match etherparse::ArpPacketSlice::from_slice(rest) {
                Ok(arp) => frame.net = Net::Arp(arp_of(&arp)),
                Err(e) => frame.warn(Layer::Arp, l2_len, WarnKind::Truncated { need: e.required_len as u32, have: e.len as u32 }),
            }
            return;
        }
        link::Proto::Ether(ethertype) => LaxSlicedPacket::from_ether_type(EtherType(ethertype), rest),
        link::Proto::Ip => match LaxSlicedPacket::from_ip(rest) {
            Ok(sliced) => sliced,
            Err(error) => {
                let (what, layer) = match error {
                    err::ip::LaxHeaderSliceError::Len(len_error) => {
                        (WarnKind::Truncated { need: len_error.required_len as u32, have: len_error.len as u32 }, Layer::Ip)
                    }
                    err::ip::LaxHeaderSliceError::Content(content_error) => {
                        (WarnKind::Header(err::packet::SliceError::Ip(content_error)), Layer::Ip)
                    }
                };
                frame.warn(layer, l2_len, what);
                return;
            }
        },
        link::Proto::Other(ethertype) => {
            frame.ethertype = Some(ethertype);
            frame.net = Net::Other(ethertype);
            return;
        }
        link::Proto::None => return,
    };
    fill(frame, &sliced, data, l2_len, wire_len);
}

/// The common case without the general machinery: a whole, unfragmented IPv4 packet or an
/// IPv6 packet without extension headers, carrying a whole TCP segment or UDP datagram, sliced
/// with etherparse's strict per-layer slices (no `LaxSlicedPacket`, a large value the general
/// path copies several times per frame). Fills `frame` exactly as [`decode_lax`] would and
/// returns true; returns false, leaving `frame` untouched, for anything else (which then takes
/// the general path).
/// `frames_decode_the_same_on_both_paths` checks the two against each other on every fixture
/// and corpus frame.
fn fast_ip<'a>(frame: &mut Frame<'a>, version: u8, data: &'a [u8], l2_len: usize, wire_len: u32) -> bool {
    let rest = &data[l2_len..];
    let on_wire_after = |start: usize| wire_len.saturating_sub(start as u32);
    let (ip, payload, ethertype) = match version {
        4 => {
            let Ok(v4) = etherparse::Ipv4Slice::from_slice(rest) else { return false };
            if v4.is_payload_fragmented() {
                return false;
            }
            let header = v4.header();
            let hdr_len = header.slice().len();
            let total = header.total_len() as u32;
            let ip_payload = v4.payload();
            if total < hdr_len as u32 {
                return false;
            }
            let ip = ipv4(&header, (total - hdr_len as u32).min(on_wire_after(l2_len + hdr_len)), None, false);
            (ip, ip_payload.payload, 0x0800)
        }
        6 => {
            let Ok(v6) = etherparse::Ipv6Slice::from_slice(rest) else { return false };
            let header = v6.header();
            let ip_payload = v6.payload();
            if !v6.extensions().slice().is_empty() || ip_payload.fragmented || header.payload_length() == 0 {
                return false;
            }
            let ip = ipv6(&header, ip_payload.ip_number.0, 0, (header.payload_length() as u32).min(on_wire_after(l2_len + 40)));
            (ip, ip_payload.payload, 0x86dd)
        }
        _ => return false,
    };
    let transport = match ip.proto {
        6 => {
            let Ok(segment) = etherparse::TcpSlice::from_slice(payload) else { return false };
            let Some(tcp) = tcp_view(segment.header_slice(), ip.payload_len) else { return false };
            if tcp.opts.malformed.is_some() {
                return false;
            }
            frame.payload = segment.payload();
            Transport::Tcp(tcp)
        }
        17 => {
            let Ok(datagram) = etherparse::UdpSlice::from_slice(payload) else { return false };
            frame.payload = datagram.payload();
            Transport::Udp(Udp { sport: datagram.source_port(), dport: datagram.destination_port(), len: datagram.length() })
        }
        _ => return false,
    };
    frame.ethertype = Some(ethertype);
    frame.net = Net::Ip(ip);
    frame.ip_payload = payload;
    frame.transport = transport;
    true
}

/// The IPv4 layer of a header; `payload_len` and `frag` as the caller worked them out.
fn ipv4(header: &etherparse::Ipv4HeaderSlice<'_>, payload_len: u32, frag: Option<(u32, bool)>, len_from_frame: bool) -> Ip {
    Ip {
        version: 4,
        src: IpAddr::V4(header.source_addr()),
        dst: IpAddr::V4(header.destination_addr()),
        ttl: header.ttl(),
        proto: header.protocol().0,
        id: Some(header.identification() as u32),
        df: header.dont_fragment(),
        frag,
        hdr_len: header.slice().len() as u16,
        payload_len,
        ext: [0; 4],
        next: header.protocol().0,
        ext_count: 0,
        tos: header.slice()[1],
        len_from_frame,
    }
}

/// The IPv6 layer of a header followed by `ext_len` bytes of extension headers (walked by the
/// caller) and a payload of protocol `proto`.
fn ipv6(header: &etherparse::Ipv6HeaderSlice<'_>, proto: u8, ext_len: usize, payload_len: u32) -> Ip {
    Ip {
        version: 6,
        src: IpAddr::V6(header.source_addr()),
        dst: IpAddr::V6(header.destination_addr()),
        ttl: header.hop_limit(),
        proto,
        id: None,
        df: false,
        frag: None,
        hdr_len: (40 + ext_len) as u16,
        payload_len,
        ext: [0; 4],
        next: header.next_header().0,
        ext_count: 0,
        tos: ((header.slice()[0] & 0x0f) << 4) | (header.slice()[1] >> 4),
        len_from_frame: false,
    }
}

/// Fill `frame` from etherparse's lax slicing of `data`: VLAN tags, the network and transport
/// layers, and a warning for each length that exceeds the frame or header that stops the slicing.
fn fill<'a>(frame: &mut Frame<'a>, sliced: &LaxSlicedPacket<'a>, data: &'a [u8], l2_len: usize, wire_len: u32) {
    let cut = (data.len() as u32) < wire_len;
    let offset_of = |bytes: &[u8]| (bytes.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    // A length field cannot claim more than the frame had on the wire (Wireshark clips the same way).
    let on_wire_after = |start: usize| wire_len.saturating_sub(start as u32);
    // the outer EtherType first, then each VLAN tag's: the innermost one wins
    if let Some(LinkSlice::EtherPayload(ether_payload)) = &sliced.link {
        frame.ethertype = Some(ether_payload.ether_type.0);
    }
    for ext in &sliced.link_exts {
        if let etherparse::LaxLinkExtSlice::Vlan(vlan) = ext {
            if (frame.nvlan as usize) < frame.vlans.len() {
                frame.vlans[frame.nvlan as usize] = vlan.vlan_identifier().value();
                frame.nvlan += 1;
            }
            frame.ethertype = Some(vlan.ether_type().0);
            frame.net_offset = (offset_of(vlan.slice()) + vlan.header_len()) as u32;
        }
    }
    match &sliced.net {
        Some(LaxNetSlice::Arp(arp)) => {
            frame.ethertype = Some(0x0806);
            frame.net = Net::Arp(arp_of(arp));
        }
        Some(LaxNetSlice::Ipv4(v4)) => {
            frame.ethertype = Some(0x0800);
            let header = v4.header();
            let hdr_len = header.slice().len();
            // Total length 0: segmentation offload (TSO/GSO) on the sending host left it unset
            // and the packet is the rest of the frame (tshark's `ip.tso_support`, on by default,
            // takes the frame's reported length; Zeek the captured one).
            let len_from_frame = header.total_len() == 0;
            let ip_end = on_wire_after(offset_of(header.slice()));
            let total = if len_from_frame { ip_end } else { header.total_len() as u32 };
            let payload_len = total.saturating_sub(hdr_len as u32).min(on_wire_after(offset_of(header.slice()) + hdr_len));
            let frag_off = header.fragments_offset().value() as u32 * 8;
            let more_fragments = header.more_fragments();
            let ip_payload = v4.payload();
            frame.ip_payload = ip_payload.payload;
            if ip_payload.incomplete && !cut && !len_from_frame {
                frame.warn(
                    Layer::Ipv4,
                    offset_of(header.slice()),
                    WarnKind::LengthBeyondFrame { claimed: total, present: (hdr_len + ip_payload.payload.len()) as u32 },
                );
            }
            if total < hdr_len as u32 {
                frame.warn(Layer::Ipv4, offset_of(header.slice()) + 2, WarnKind::Other("total length smaller than the header"));
            }
            let frag = if frag_off != 0 || more_fragments { Some((frag_off, more_fragments)) } else { None };
            frame.net = Net::Ip(ipv4(&header, payload_len, frag, len_from_frame));
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            frame.ethertype = Some(0x86dd);
            let header = v6.header();
            let exts = v6.extensions();
            let payload_len = (header.payload_length() as u32)
                .saturating_sub(exts.slice().len() as u32)
                .min(on_wire_after(offset_of(header.slice()) + 40 + exts.slice().len()));
            let mut ip = ipv6(&header, v6.payload().ip_number.0, exts.slice().len(), payload_len);
            // Walk the extension headers ourselves over the bytes etherparse delimited: its
            // `Ipv6ExtensionSliceIter` reads unchecked and can crash (SIGSEGV) on lax-sliced
            // malformed headers, such as those of the tcpdump corpus's ipv6-next-header-oobr-*.pcap.
            walk_ipv6_exts(header.next_header().0, exts.slice(), &mut ip);
            let ip_payload = v6.payload();
            frame.ip_payload = ip_payload.payload;
            if ip_payload.incomplete && !cut && header.payload_length() != 0 {
                frame.warn(
                    Layer::Ipv6,
                    offset_of(header.slice()),
                    WarnKind::LengthBeyondFrame {
                        claimed: 40 + header.payload_length() as u32,
                        present: (40 + exts.slice().len() + ip_payload.payload.len()) as u32,
                    },
                );
            }
            frame.net = Net::Ip(ip);
        }
        // an EtherType not decoded, after any VLAN tags: named by its number
        None => match frame.ethertype {
            Some(ethertype) if sliced.stop_err.is_none() && !matches!(ethertype, 0x0800 | 0x86dd | 0x0806) => {
                frame.net = Net::Other(ethertype)
            }
            _ => {}
        },
    }
    if let Some((error, _layer)) = &sliced.stop_err {
        let (layer, offset) = match error {
            err::packet::SliceError::Len(len_error) => (layer_of(len_error.layer), l2_len + len_error.layer_start_offset),
            err::packet::SliceError::Tcp(_) => (Layer::Tcp, transport_offset(frame, l2_len)),
            err::packet::SliceError::Ipv4(_) | err::packet::SliceError::Ipv4Exts(_) => (Layer::Ipv4, l2_len + vlan_len(frame)),
            err::packet::SliceError::Ipv6(_) | err::packet::SliceError::Ipv6Exts(_) => (Layer::Ipv6, l2_len + vlan_len(frame)),
            err::packet::SliceError::Ip(_) => (Layer::Ip, l2_len + vlan_len(frame)),
            _ => (Layer::Link, 0),
        };
        let what = match error {
            err::packet::SliceError::Len(len_error) => {
                WarnKind::Truncated { need: len_error.required_len as u32, have: len_error.len as u32 }
            }
            other => WarnKind::Header(other.clone()),
        };
        frame.warn(layer, offset, what);
        // A TCP header cut inside its options (a short snap length on a SYN) still has every
        // fixed field: decode those and the options present, as tshark does, so tracking sees
        // the handshake.
        if let (err::packet::SliceError::Len(len_error), Some(ip)) = (error, frame.ip().copied()) {
            if len_error.layer == err::Layer::TcpHeader && ip.frag.is_none() {
                let payload = match &sliced.net {
                    Some(LaxNetSlice::Ipv4(ip_slice)) => ip_slice.payload().payload,
                    Some(LaxNetSlice::Ipv6(ip_slice)) => ip_slice.payload().payload,
                    _ => &[],
                };
                if let Some(tcp) = tcp_view(payload, ip.payload_len) {
                    frame.transport = Transport::Tcp(tcp);
                }
            }
        }
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp_slice)) => {
            let ip_payload_len = frame.ip().map(|ip| ip.payload_len).unwrap_or(tcp_slice.slice().len() as u32);
            if let Some(tcp) = tcp_view(tcp_slice.slice(), ip_payload_len) {
                if let Some((kind, option_offset)) = tcp.opts.malformed {
                    frame.warn(Layer::Tcp, offset_of(tcp_slice.slice()) + 20 + option_offset, WarnKind::BadOption { kind });
                }
                frame.payload = tcp_slice.payload();
                frame.transport = Transport::Tcp(tcp);
            }
        }
        Some(TransportSlice::Udp(udp_slice)) => {
            frame.payload = udp_slice.payload();
            frame.transport =
                Transport::Udp(Udp { sport: udp_slice.source_port(), dport: udp_slice.destination_port(), len: udp_slice.length() });
        }
        Some(TransportSlice::Icmpv4(icmp_slice)) => {
            frame.payload = icmp_slice.payload();
            frame.transport = Transport::Icmp(icmp::header(false, icmp_slice.slice()));
        }
        Some(TransportSlice::Icmpv6(icmp_slice)) => {
            frame.payload = icmp_slice.payload();
            frame.transport = Transport::Icmp(icmp::header(true, icmp_slice.slice()));
        }
        Some(TransportSlice::Igmp(_)) => frame.transport = Transport::Other(2),
        None => {
            if let Some(ip) = frame.ip().copied() {
                if sliced.stop_err.is_none() {
                    first_fragment_or_other(frame, sliced, &ip);
                }
            }
        }
    }
}

/// An ARP (or RARP) packet's operation and types, and its addresses when it is Ethernet/IPv4.
fn arp_of(arp: &etherparse::ArpPacketSlice<'_>) -> Arp {
    let eth_ipv4 = if arp.hw_addr_size() == 6 && arp.proto_addr_size() == 4 {
        let mac = |bytes: &[u8]| MacAddr([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]);
        let ip = |bytes: &[u8]| Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        Some(ArpAddrs {
            sha: mac(arp.sender_hw_addr()),
            spa: ip(arp.sender_protocol_addr()),
            tha: mac(arp.target_hw_addr()),
            tpa: ip(arp.target_protocol_addr()),
        })
    } else {
        None
    };
    Arp { op: arp.operation().0, htype: arp.hw_addr_type().0, ptype: arp.proto_addr_type().0, eth_ipv4 }
}

/// etherparse does not slice the transport header of fragments; the first fragment still carries
/// the TCP/UDP header, which tcpdump and tshark show, so slice it here. Later fragments are `Other`.
fn first_fragment_or_other<'a>(frame: &mut Frame<'a>, sliced: &LaxSlicedPacket<'a>, ip: &Ip) {
    let payload = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip_slice)) => ip_slice.payload().payload,
        Some(LaxNetSlice::Ipv6(ip_slice)) => ip_slice.payload().payload,
        _ => &[],
    };
    if matches!(ip.frag, Some((0, true))) {
        match ip.proto {
            17 if payload.len() >= 8 => {
                let udp = etherparse::UdpHeaderSlice::from_slice(payload).ok();
                if let Some(udp) = udp {
                    frame.transport = Transport::Udp(Udp { sport: udp.source_port(), dport: udp.destination_port(), len: udp.length() });
                    frame.payload = &payload[8..];
                    return;
                }
            }
            6 => {
                if let (Ok(tcp_slice), Some(tcp)) = (etherparse::TcpSlice::from_slice(payload), tcp_view(payload, ip.payload_len)) {
                    frame.payload = tcp_slice.payload();
                    frame.transport = Transport::Tcp(tcp);
                    return;
                }
            }
            _ => {}
        }
    }
    frame.transport = Transport::Other(ip.proto);
    frame.payload = payload;
}

/// Record IPv6 extension headers (and a fragment header's offset/id) from `bytes`, which starts with
/// the header numbered `next`. Stops at the first header that does not fit.
fn walk_ipv6_exts(mut next: u8, mut bytes: &[u8], ip: &mut Ip) {
    while bytes.len() >= 8 {
        let len = match next {
            0 | 43 | 60 => (bytes[1] as usize + 1) * 8,
            44 => {
                let offset = (u16::from_be_bytes([bytes[2], bytes[3]]) >> 3) as u32 * 8;
                let more = bytes[3] & 1 == 1;
                if offset != 0 || more {
                    ip.frag = Some((offset, more));
                    ip.id = Some(u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]));
                }
                8
            }
            51 => (bytes[1] as usize + 2) * 4,
            _ => return,
        };
        if (ip.ext_count as usize) < ip.ext.len() {
            ip.ext[ip.ext_count as usize] = next;
        }
        ip.ext_count = ip.ext_count.saturating_add(1);
        if len > bytes.len() {
            return;
        }
        next = bytes[0];
        bytes = &bytes[len..];
    }
}

/// A TCP header view from its bytes: the fixed 20 bytes and whatever options were captured
/// (all of them for a whole header). `None` below 20 bytes or with a data offset under 5.
fn tcp_view(header: &[u8], ip_payload_len: u32) -> Option<Tcp<'_>> {
    if header.len() < 20 {
        return None;
    }
    let hdr_len = ((header[12] >> 4) as usize) * 4;
    if hdr_len < 20 {
        return None;
    }
    let be16 = |o: usize| u16::from_be_bytes([header[o], header[o + 1]]);
    let be32 = |o: usize| u32::from_be_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
    let opt_bytes = &header[20..hdr_len.min(header.len())];
    Some(Tcp {
        sport: be16(0),
        dport: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: header[13],
        win: be16(14),
        urg: be16(18),
        hdr_len: hdr_len as u8,
        len: ip_payload_len.saturating_sub(hdr_len as u32),
        opts: TcpOpts::parse(opt_bytes),
        opt_bytes,
    })
}

/// Bytes of VLAN tags before the network header.
fn vlan_len(frame: &Frame) -> usize {
    4 * frame.nvlan as usize
}

/// Offset of the transport header in the frame.
fn transport_offset(frame: &Frame, l2_len: usize) -> usize {
    l2_len + vlan_len(frame) + frame.ip().map(|ip| ip.hdr_len as usize).unwrap_or(0)
}

/// Our name for the layer an etherparse length error is about.
fn layer_of(layer: err::Layer) -> Layer {
    use err::Layer::*;
    match layer {
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
