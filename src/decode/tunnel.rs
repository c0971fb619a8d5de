//! Tunnels and encapsulations: the layers a frame was carried in, peeled off down to the
//! innermost IP/TCP/UDP, which is what is tracked, reassembled and framed.
//!
//! After the outer layers are decoded, [`decap`] looks at what they say follows and, when it is
//! a tunnel, records the tunnel's layer in [`Encaps`] and decodes the inner packet in place of
//! the outer one (the link layer stays the outer frame's). Recognised:
//! - GRE (RFC 2784 with RFC 2890 key and sequence; PPTP's enhanced GRE, RFC 2637, carrying PPP)
//!   with IPv4, IPv6, transparent Ethernet bridging (0x6558), MPLS and ERSPAN payloads;
//! - ERSPAN type I (GRE 0x88be without a sequence number), II (0x88be, 8-byte header) and III
//!   (0x22eb, 12-byte header plus the optional 8-byte platform sub-header);
//! - VXLAN (RFC 7348, UDP 4789), Geneve (RFC 8926, UDP 6081, options skipped by their length),
//!   GTP-U (3GPP TS 29.281, UDP 2152, G-PDUs with extension headers), Teredo (RFC 4380, UDP 3544,
//!   origin indication and authentication headers skipped): the UDP ports are [`TunnelPorts`];
//! - MPLS label stacks (RFC 3032; EtherTypes 0x8847 and 0x8848): after the bottom of the stack
//!   the first nibble says IPv4 (4) or IPv6 (6), as tshark guesses; explicit-null labels 0 and 2
//!   say so too; 0 is an Ethernet pseudowire control word (RFC 4448), anything else an Ethernet
//!   pseudowire without one;
//! - PPPoE session stage (RFC 2516) carrying IPv4, IPv6 or MPLS over PPP;
//! - IP in IP: IPv4 or IPv6 (protocol 4 or 41) inside IPv4 or IPv6 (RFC 2003, RFC 4213, RFC 2473).
//!
//! Nesting stops at [`MAX_LAYERS`] layers with a warning. A tunnel header that is cut or
//! malformed stops the peeling with a warning, leaving the layers decoded so far.
//!
//! A frame without a tunnel carries no stack and allocates nothing; a tunnelled frame holds its
//! stack in a box (a `Frame` stays small for the many frames that have none), taken from and
//! given back to a per-thread pool, so a run of tunnelled frames allocates only for the first.

use std::fmt;
use std::net::IpAddr;

use super::link::{ppp_proto, MacAddr, Proto};
use super::{Frame, Layer, Net, Transport, WarnKind};

/// Most tunnel and encapsulation layers peeled off one frame (inner Ethernet headers count).
pub const MAX_LAYERS: usize = 6;

/// The warning past [`MAX_LAYERS`].
const TOO_DEEP: &str = "tunnels nested more than 6 layers deep: the rest is not decoded";

/// A tunnel carried in UDP, recognised by its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpTunnel {
    /// VXLAN (RFC 7348).
    Vxlan,
    /// Geneve (RFC 8926).
    Geneve,
    /// GTP-U (3GPP TS 29.281).
    GtpU,
    /// Teredo (RFC 4380).
    Teredo,
}

impl UdpTunnel {
    /// Every UDP tunnel, in the order `--tunnel-port` lists them.
    pub const ALL: [UdpTunnel; 4] = [UdpTunnel::Vxlan, UdpTunnel::Geneve, UdpTunnel::GtpU, UdpTunnel::Teredo];

    /// The name `--tunnel-port` and the output use: `vxlan`, `geneve`, `gtpu`, `teredo`.
    pub fn name(self) -> &'static str {
        match self {
            UdpTunnel::Vxlan => "vxlan",
            UdpTunnel::Geneve => "geneve",
            UdpTunnel::GtpU => "gtpu",
            UdpTunnel::Teredo => "teredo",
        }
    }

    /// The tunnel of a name as [`name`](Self::name) spells it.
    pub fn from_name(name: &str) -> Option<UdpTunnel> {
        UdpTunnel::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The port registered with IANA.
    pub fn registered_port(self) -> u16 {
        match self {
            UdpTunnel::Vxlan => 4789,
            UdpTunnel::Geneve => 6081,
            UdpTunnel::GtpU => 2152,
            UdpTunnel::Teredo => 3544,
        }
    }
}

/// Which UDP ports carry which tunnel (Zeek's `Tunnel::vxlan_ports` and friends). A datagram
/// is a tunnel's when its destination port is one of the tunnel's, or (replies) its source port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelPorts {
    entries: [(u16, UdpTunnel); TunnelPorts::CAPACITY],
    len: u8,
}

impl TunnelPorts {
    /// Most ports that can be configured.
    pub const CAPACITY: usize = 16;

    /// The registered ports: VXLAN 4789, Geneve 6081, GTP-U 2152, Teredo 3544.
    pub const REGISTERED: TunnelPorts = TunnelPorts {
        entries: [
            (4789, UdpTunnel::Vxlan),
            (6081, UdpTunnel::Geneve),
            (2152, UdpTunnel::GtpU),
            (3544, UdpTunnel::Teredo),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
            (0, UdpTunnel::Vxlan),
        ],
        len: 4,
    };

    /// The configured (port, tunnel) pairs.
    pub fn entries(&self) -> &[(u16, UdpTunnel)] {
        &self.entries[..usize::from(self.len)]
    }

    /// Also take `port` as `tunnel`'s (replacing what the port was). `Err` when full.
    pub fn add(&mut self, port: u16, tunnel: UdpTunnel) -> Result<(), usize> {
        if let Some(entry) = self.entries[..usize::from(self.len)].iter_mut().find(|e| e.0 == port) {
            entry.1 = tunnel;
            return Ok(());
        }
        if usize::from(self.len) == Self::CAPACITY {
            return Err(Self::CAPACITY);
        }
        self.entries[usize::from(self.len)] = (port, tunnel);
        self.len += 1;
        Ok(())
    }

    /// Stop taking any port as `tunnel`'s.
    pub fn remove(&mut self, tunnel: UdpTunnel) {
        let kept: Vec<(u16, UdpTunnel)> = self.entries().iter().copied().filter(|e| e.1 != tunnel).collect();
        self.len = kept.len() as u8;
        self.entries[..kept.len()].copy_from_slice(&kept);
    }

    /// The tunnel a datagram between these ports carries: by destination port, else by source.
    pub fn lookup(&self, sport: u16, dport: u16) -> Option<UdpTunnel> {
        let find = |port: u16| self.entries().iter().find(|e| e.0 == port).map(|e| e.1);
        find(dport).or_else(|| find(sport))
    }

    /// True when either port is a tunnel's.
    pub fn is_tunnel(&self, sport: u16, dport: u16) -> bool {
        self.lookup(sport, dport).is_some()
    }
}

/// How decoding treats tunnels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Peel tunnels off (`--no-decap` turns it off: the outer layers are the frame's).
    pub decap: bool,
    /// UDP ports of the UDP-carried tunnels.
    pub udp: TunnelPorts,
}

impl DecodeOptions {
    /// Tunnels decoded, on their registered ports.
    pub const DEFAULT: DecodeOptions = DecodeOptions { decap: true, udp: TunnelPorts::REGISTERED };

    /// The UDP ports whose datagrams [`peek`](super::peek_with) must leave to decoding (none
    /// when tunnels are not decoded).
    pub fn peek_ports(&self) -> TunnelPorts {
        if self.decap {
            self.udp
        } else {
            TunnelPorts { len: 0, ..TunnelPorts::REGISTERED }
        }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions::DEFAULT
    }
}

/// The IP-in-IP combinations (outer version, inner version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpInIp {
    /// IPv4 in IPv4 (RFC 2003, protocol 4).
    V4InV4,
    /// IPv6 in IPv4 (6in4, RFC 4213, protocol 41; Linux `sit`).
    V6InV4,
    /// IPv4 in IPv6 (RFC 2473, next header 4).
    V4InV6,
    /// IPv6 in IPv6 (RFC 2473, next header 41).
    V6InV6,
}

/// One tunnel or encapsulation layer, with its own identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// GRE (RFC 2784/2890; version 1 is PPTP's, RFC 2637).
    Gre {
        /// Version: 0, or 1 for PPTP.
        version: u8,
        /// The protocol type of the payload (an EtherType).
        proto: u16,
        /// Key (RFC 2890; PPTP: payload length and call id).
        key: Option<u32>,
        /// Sequence number (RFC 2890).
        seq: Option<u32>,
    },
    /// ERSPAN (Cisco port mirroring over GRE): type I, II or III.
    Erspan {
        /// 1, 2 or 3.
        kind: u8,
        /// The mirror session id (types II and III).
        session: Option<u16>,
        /// The original frame's VLAN (types II and III).
        vlan: Option<u16>,
        /// The original frame's class of service (types II and III).
        cos: Option<u8>,
        /// The port index (type II) or the timestamp (type III).
        index_or_time: Option<ErspanExtra>,
    },
    /// VXLAN (RFC 7348).
    Vxlan {
        /// VXLAN network identifier.
        vni: u32,
    },
    /// Geneve (RFC 8926).
    Geneve {
        /// Virtual network identifier.
        vni: u32,
        /// Protocol type of the payload (an EtherType).
        proto: u16,
        /// Bytes of options skipped.
        opt_len: u16,
    },
    /// GTP-U G-PDU (3GPP TS 29.281).
    GtpU {
        /// Tunnel endpoint identifier of the receiving side.
        teid: u32,
        /// Sequence number (the S flag).
        seq: Option<u16>,
        /// How many extension headers were skipped.
        extensions: u8,
    },
    /// Teredo (RFC 4380): IPv6 in UDP.
    Teredo {
        /// The origin indication (RFC 4380 5.1.1), un-obfuscated: the client's mapped port and
        /// IPv4 address as the server or relay saw them.
        origin: Option<(u16, std::net::Ipv4Addr)>,
    },
    /// An MPLS label stack (RFC 3032).
    Mpls {
        /// The labels, outermost first; the first `depth` (at most 4) are set.
        labels: [u32; 4],
        /// How many labels the stack had.
        depth: u8,
        /// The payload is an Ethernet pseudowire (RFC 4448).
        pseudowire: Pseudowire,
    },
    /// PPPoE session stage (RFC 2516).
    Pppoe {
        /// Session id.
        session: u16,
        /// The PPP protocol inside.
        ppp: u16,
    },
    /// IP in IP.
    IpInIp(IpInIp),
    /// An Ethernet header inside a tunnel (VXLAN, Geneve, GRE 0x6558, ERSPAN, a pseudowire).
    Ether {
        /// Source address.
        src: MacAddr,
        /// Destination address.
        dst: MacAddr,
        /// The EtherType after its VLAN tags.
        ethertype: u16,
        /// VLAN identifiers of its 802.1Q/802.1ad tags, outermost first; the first `nvlan` are
        /// set. They are this inner frame's, not the outer frame's ([`crate::decode::Frame::vlans`]).
        vlans: [u16; 2],
        /// How many VLAN tags it had (more than 2 are skipped, not recorded).
        nvlan: u8,
    },
}

/// ERSPAN's per-type field after the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErspanExtra {
    /// Type II: the port index (20 bits).
    Index(u32),
    /// Type III: the timestamp (32 bits, in the granularity the header names).
    Timestamp(u32),
}

/// What follows an MPLS stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pseudowire {
    /// IP directly (no pseudowire).
    None,
    /// An Ethernet pseudowire with the RFC 4448 control word.
    EthernetWithControlWord,
    /// An Ethernet pseudowire without a control word.
    Ethernet,
}

impl Encap {
    /// The `kind` the JSON `encap` list writes: `gre`, `erspan`, `vxlan`, `geneve`, `gtpu`,
    /// `teredo`, `mpls`, `pppoe`, `ipip`, `6in4`, `4in6`, `6in6`, `eth`.
    pub fn kind(&self) -> &'static str {
        match self {
            Encap::Gre { .. } => "gre",
            Encap::Erspan { .. } => "erspan",
            Encap::Vxlan { .. } => "vxlan",
            Encap::Geneve { .. } => "geneve",
            Encap::GtpU { .. } => "gtpu",
            Encap::Teredo { .. } => "teredo",
            Encap::Mpls { .. } => "mpls",
            Encap::Pppoe { .. } => "pppoe",
            Encap::IpInIp(IpInIp::V4InV4) => "ipip",
            Encap::IpInIp(IpInIp::V6InV4) => "6in4",
            Encap::IpInIp(IpInIp::V4InV6) => "4in6",
            Encap::IpInIp(IpInIp::V6InV6) => "6in6",
            Encap::Ether { .. } => "eth",
        }
    }

    /// The MPLS labels, outermost first.
    pub fn labels(&self) -> &[u32] {
        match self {
            Encap::Mpls { labels, depth, .. } => &labels[..usize::from(*depth).min(4)],
            _ => &[],
        }
    }

    /// What tells this tunnel apart from another between the same hosts, the same in both
    /// directions: the VNI, GRE key, ERSPAN or PPPoE session. MPLS labels and GTP-U TEIDs are
    /// chosen per direction (a label-switched path and a GTP tunnel are one-way), so they are
    /// not part of it: counting them would split every connection in two.
    fn identity(&self) -> u64 {
        let (tag, value) = match *self {
            Encap::Gre { key, version: 0, .. } => (1, key.map_or(0, |k| u64::from(k) | 1 << 32)),
            Encap::Gre { .. } => (1, 0),
            Encap::Erspan { session, .. } => (2, session.map_or(0, u64::from)),
            Encap::Vxlan { vni } => (3, u64::from(vni)),
            Encap::Geneve { vni, .. } => (4, u64::from(vni)),
            Encap::GtpU { .. } => (5, 0),
            Encap::Teredo { .. } => (6, 0),
            Encap::Mpls { .. } => (7, 0),
            Encap::Pppoe { session, .. } => (8, u64::from(session)),
            Encap::IpInIp(kind) => (9, kind as u64),
            Encap::Ether { .. } => return 0,
        };
        (tag << 56) ^ value
    }
}

/// One layer of the stack: the tunnel and the outer IP header that carried it, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncapLayer {
    /// The tunnel or encapsulation.
    pub encap: Encap,
    /// (source, destination) of the IP header it was carried in (GRE, IP in IP, UDP tunnels).
    pub outer: Option<(IpAddr, IpAddr)>,
    /// (source, destination) ports of the UDP header it was carried in (UDP tunnels).
    pub udp: Option<(u16, u16)>,
}

/// The tunnel and encapsulation layers of a frame, outermost first. Empty (and unallocated)
/// for a frame carried in none. The boxed stack of a tunnelled frame comes from, and goes back
/// to, a small per-thread pool (`STACKS`), so decoding frame after frame in tunnels does not
/// allocate once the pool holds one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encaps {
    stack: Option<Box<Stack>>,
}

/// How many freed stacks a thread keeps for reuse: a frame is decoded, shown and dropped before
/// the next, so one or two are in use at a time; a few more cover frames held across threads.
const POOLED_STACKS: usize = 16;

thread_local! {
    /// Stacks of dropped [`Encaps`], for the next tunnelled frame decoded on this thread.
    // the boxes are what is reused: a `Vec<Stack>` would free them and box again on the way out
    #[allow(clippy::vec_box)]
    static STACKS: std::cell::RefCell<Vec<Box<Stack>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Drop for Encaps {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            // during thread teardown the pool may be gone: the box is then freed
            let _ = STACKS.try_with(|pool| {
                if let Ok(mut pool) = pool.try_borrow_mut() {
                    if pool.len() < POOLED_STACKS {
                        pool.push(stack);
                    }
                }
            });
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stack {
    layers: [Option<EncapLayer>; MAX_LAYERS],
    len: u8,
}

impl Stack {
    const EMPTY: Stack = Stack { layers: [None; MAX_LAYERS], len: 0 };
}

impl Encaps {
    /// No tunnel.
    pub const NONE: Encaps = Encaps { stack: None };

    /// The layers, outermost first.
    pub fn iter(&self) -> impl Iterator<Item = &EncapLayer> {
        self.stack.iter().flat_map(|s| s.layers.iter().flatten())
    }

    /// True when the frame was carried in no tunnel.
    pub fn is_empty(&self) -> bool {
        self.stack.is_none()
    }

    /// How many layers.
    pub fn len(&self) -> usize {
        self.stack.as_ref().map_or(0, |s| usize::from(s.len))
    }

    /// The innermost Ethernet header inside a tunnel, if one was.
    pub fn inner_eth(&self) -> Option<(MacAddr, MacAddr, u16)> {
        self.iter()
            .filter_map(|l| if let Encap::Ether { src, dst, ethertype, .. } = l.encap { Some((src, dst, ethertype)) } else { None })
            .last()
    }

    /// Record a layer; false when the stack is full.
    pub fn push(&mut self, layer: EncapLayer) -> bool {
        let stack = self.stack.get_or_insert_with(|| {
            let pooled = STACKS.try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop())).ok().flatten();
            match pooled {
                Some(mut stack) => {
                    *stack = Stack::EMPTY;
                    stack
                }
                None => Box::new(Stack::EMPTY),
            }
        });
        if usize::from(stack.len) == MAX_LAYERS {
            return false;
        }
        stack.layers[usize::from(stack.len)] = Some(layer);
        stack.len += 1;
        true
    }

    /// A number equal for the two directions of a flow in the same tunnels and different for
    /// different tunnels (see [`Encap`]'s identity: VNI, GRE key, session; and the outer
    /// addresses, unordered); 0 for a frame in no tunnel. Flow tables key on it with the
    /// inner addresses and ports, so the same 5-tuple in two tunnels is two flows.
    pub fn flow_id(&self) -> u64 {
        let Some(stack) = &self.stack else { return 0 };
        let mut id: u64 = 0x9e37_79b9_7f4a_7c15;
        for layer in stack.layers.iter().flatten() {
            let mut part = layer.encap.identity();
            if part == 0 && layer.outer.is_none() {
                continue;
            }
            if let Some((a, b)) = layer.outer {
                let (a, b) = (bits(a), bits(b));
                // unordered: both directions give the same
                let pair = a.min(b).wrapping_mul(3) ^ a.max(b);
                part ^= (pair as u64) ^ ((pair >> 64) as u64).rotate_left(29);
            }
            id = (id ^ part).wrapping_mul(0x0100_0000_01b3).rotate_left(17);
        }
        // never 0, which means "no tunnel"
        id | 1
    }

    /// The compact tag text output prefixes the inner line with: `[vxlan 42]`, `[gre key 7]`,
    /// `[mpls 16/17]`, several in order; empty when there is no tunnel.
    pub fn tag(&self) -> EncapTag<'_> {
        EncapTag(self)
    }

    /// The tags without brackets, joined by `, ` (`vxlan 42`, `mpls 16, gre key 7`): how a
    /// connection's tunnels are named in `conns` and conn records.
    pub fn label(&self) -> EncapLabel<'_> {
        EncapLabel(self)
    }
}

/// [`Encaps::label`].
pub struct EncapLabel<'a>(&'a Encaps);

impl fmt::Display for EncapLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tunnels = self.0.iter().filter(|l| !matches!(l.encap, Encap::Ether { .. }));
        for (i, layer) in tunnels.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", ShortEncap(&layer.encap))?;
        }
        Ok(())
    }
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// [`Encaps::tag`]: writes `[vxlan 42] [gre key 7] ` (each followed by a space), nothing when
/// there is no tunnel. Inner Ethernet headers are not tagged, their VLAN tags are, where they
/// are (`[gre] [vlan 10]`: VLAN 10 inside the GRE tunnel).
pub struct EncapTag<'a>(&'a Encaps);

impl fmt::Display for EncapTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for layer in self.0.iter() {
            if let Encap::Ether { vlans, nvlan, .. } = layer.encap {
                if nvlan > 0 {
                    f.write_str("[vlan ")?;
                    for (i, vlan) in vlans[..usize::from(nvlan)].iter().enumerate() {
                        write!(f, "{}{vlan}", if i > 0 { "," } else { "" })?;
                    }
                    f.write_str("] ")?;
                }
                continue;
            }
            write!(f, "[{}] ", ShortEncap(&layer.encap))?;
        }
        Ok(())
    }
}

/// The text inside a tag: the kind and its identifiers.
pub struct ShortEncap<'a>(pub &'a Encap);

impl fmt::Display for ShortEncap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encap = self.0;
        match *encap {
            Encap::Gre { key: Some(key), version: 0, .. } => write!(f, "gre key {key}"),
            Encap::Gre { version: 1, .. } => f.write_str("gre pptp"),
            Encap::Gre { .. } => f.write_str("gre"),
            Encap::Erspan { kind, session, .. } => {
                let roman = ["I", "II", "III"].get(usize::from(kind).saturating_sub(1)).copied().unwrap_or("?");
                match session {
                    Some(s) => write!(f, "erspan {roman} session {s}"),
                    None => write!(f, "erspan {roman}"),
                }
            }
            Encap::Vxlan { vni } => write!(f, "vxlan {vni}"),
            Encap::Geneve { vni, .. } => write!(f, "geneve {vni}"),
            Encap::GtpU { teid, .. } => write!(f, "gtpu teid 0x{teid:x}"),
            Encap::Teredo { .. } => f.write_str("teredo"),
            Encap::Mpls { .. } => {
                f.write_str("mpls ")?;
                for (i, label) in encap.labels().iter().enumerate() {
                    if i > 0 {
                        f.write_str("/")?;
                    }
                    write!(f, "{label}")?;
                }
                Ok(())
            }
            Encap::Pppoe { session, .. } => write!(f, "pppoe 0x{session:04x}"),
            Encap::IpInIp(_) | Encap::Ether { .. } => f.write_str(encap.kind()),
        }
    }
}

/// Every field of a layer, for the one-line-per-layer verbose view.
pub struct LongEncap<'a>(pub &'a EncapLayer);

impl fmt::Display for LongEncap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer = self.0;
        if let Some((src, dst)) = layer.outer {
            write!(f, "outer {src} > {dst}")?;
            if let Some((sport, dport)) = layer.udp {
                write!(f, " udp {sport} > {dport}")?;
            }
            f.write_str(", ")?;
        }
        match layer.encap {
            Encap::Gre { version, proto, key, seq } => {
                write!(f, "GRE version {version}, protocol 0x{proto:04x}")?;
                if let Some(key) = key {
                    write!(f, ", key {key} (0x{key:08x})")?;
                }
                if let Some(seq) = seq {
                    write!(f, ", seq {seq}")?;
                }
                Ok(())
            }
            Encap::Erspan { kind, session, vlan, cos, index_or_time } => {
                write!(f, "ERSPAN type {kind}")?;
                if let Some(s) = session {
                    write!(f, ", session {s}")?;
                }
                if let Some(v) = vlan {
                    write!(f, ", vlan {v}")?;
                }
                if let Some(c) = cos {
                    write!(f, ", cos {c}")?;
                }
                match index_or_time {
                    Some(ErspanExtra::Index(i)) => write!(f, ", index {i}"),
                    Some(ErspanExtra::Timestamp(t)) => write!(f, ", timestamp {t}"),
                    None => Ok(()),
                }
            }
            Encap::Vxlan { vni } => write!(f, "VXLAN vni {vni}"),
            Encap::Geneve { vni, proto, opt_len } => write!(f, "Geneve vni {vni}, protocol 0x{proto:04x}, {opt_len} option bytes"),
            Encap::GtpU { teid, seq, extensions } => {
                write!(f, "GTP-U G-PDU, teid 0x{teid:08x}")?;
                if let Some(seq) = seq {
                    write!(f, ", seq {seq}")?;
                }
                match extensions {
                    0 => Ok(()),
                    1 => f.write_str(", 1 extension header"),
                    n => write!(f, ", {n} extension headers"),
                }
            }
            Encap::Teredo { origin } => {
                f.write_str("Teredo (IPv6 in UDP)")?;
                match origin {
                    Some((port, addr)) => write!(f, ", origin {addr} port {port}"),
                    None => Ok(()),
                }
            }
            Encap::Mpls { depth, pseudowire, .. } => {
                write!(f, "MPLS {depth} label{}:", if depth == 1 { "" } else { "s" })?;
                for label in layer.encap.labels() {
                    write!(f, " {label}")?;
                }
                match pseudowire {
                    Pseudowire::None => Ok(()),
                    Pseudowire::EthernetWithControlWord => f.write_str(", Ethernet pseudowire with control word"),
                    Pseudowire::Ethernet => f.write_str(", Ethernet pseudowire"),
                }
            }
            Encap::Pppoe { session, ppp } => write!(f, "PPPoE session 0x{session:04x}, PPP protocol 0x{ppp:04x}"),
            Encap::IpInIp(kind) => f.write_str(match kind {
                IpInIp::V4InV4 => "IPv4 in IPv4",
                IpInIp::V6InV4 => "IPv6 in IPv4 (6in4)",
                IpInIp::V4InV6 => "IPv4 in IPv6",
                IpInIp::V6InV6 => "IPv6 in IPv6",
            }),
            Encap::Ether { src, dst, ethertype, vlans, nvlan } => {
                write!(f, "Ethernet {src} > {dst}")?;
                for vlan in &vlans[..usize::from(nvlan)] {
                    write!(f, ", vlan {vlan}")?;
                }
                write!(f, ", ethertype 0x{ethertype:04x}")
            }
        }
    }
}

/// What follows a tunnel header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inner {
    /// An Ethernet header.
    Ether,
    /// A network layer, as the link layer's [`Proto`] says.
    Net(Proto),
}

/// What the decoded layers say about a tunnel.
enum Step {
    /// No tunnel (or one whose payload is not decoded): the frame is done.
    Done,
    /// A tunnel: its layer, and what follows at which offset.
    Layer(EncapLayer, Inner, usize),
    /// Two layers at once (GRE carrying ERSPAN), outer first.
    Two(EncapLayer, EncapLayer, Inner, usize),
    /// The tunnel header is cut or malformed: a warning, and the frame is done.
    Broken(Layer, usize, WarnKind),
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Peel the tunnels off `frame`, decoded from `data` (its captured bytes after link trimming).
pub(super) fn decap<'a>(frame: &mut Frame<'a>, opts: &DecodeOptions, data: &'a [u8], wire_len: u32) {
    loop {
        let (layer, inner, start) = match step(frame, opts, data) {
            Step::Done => return,
            Step::Broken(layer, offset, what) => {
                frame.warn(layer, offset, what);
                return;
            }
            Step::Layer(layer, inner, start) => ([Some(layer), None], inner, start),
            Step::Two(outer, layer, inner, start) => ([Some(outer), Some(layer)], inner, start),
        };
        for layer in layer.into_iter().flatten() {
            if !frame.encaps.push(layer) {
                frame.warn(Layer::Tunnel, start, WarnKind::Other(TOO_DEEP));
                return;
            }
        }
        let (proto, start) = match inner {
            Inner::Net(proto) => (proto, start),
            Inner::Ether => {
                let Some(eth) = data.get(start..start + 14) else {
                    let have = data.len().saturating_sub(start) as u32;
                    frame.warn(Layer::Ethernet, start, WarnKind::Truncated { need: 14, have });
                    return;
                };
                let mac = |b: &[u8]| MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]]);
                let mut ethertype = be16(eth, 12);
                // the inner frame's own 802.1Q / 802.1ad (and pre-standard 0x9100) tags: kept
                // with it, so that they are shown inside the tunnel and the outer frame's stay its own
                let (mut vlans, mut nvlan, mut at) = ([0u16; 2], 0u8, start + 14);
                while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
                    let Some(tag) = data.get(at..at + 4) else {
                        let have = data.len().saturating_sub(at) as u32;
                        frame.warn(Layer::Vlan, at, WarnKind::Truncated { need: 4, have });
                        return;
                    };
                    if let Some(slot) = vlans.get_mut(usize::from(nvlan)) {
                        *slot = be16(tag, 0) & 0x0fff;
                        nvlan += 1;
                    }
                    ethertype = be16(tag, 2);
                    at += 4;
                }
                let (dst, src) = (mac(&eth[..6]), mac(&eth[6..12]));
                let layer = EncapLayer { encap: Encap::Ether { dst, src, ethertype, vlans, nvlan }, outer: None, udp: None };
                if !frame.encaps.push(layer) {
                    frame.warn(Layer::Tunnel, start, WarnKind::Other(TOO_DEEP));
                    return;
                }
                (if ethertype >= 0x0600 { Proto::Ether(ethertype) } else { Proto::Other(ethertype) }, at)
            }
        };
        let mut next = Frame::new(frame.link);
        next.warnings = std::mem::take(&mut frame.warnings);
        next.encaps = std::mem::take(&mut frame.encaps);
        // The inner packet is decoded without the outer VLAN tags (the inner Ethernet header's
        // own are in its layer, above), so that offsets inside it do not count them; then the
        // link layer, its tags and the EtherType its header shows are the outer frame's again.
        let (vlans, nvlan, ethertype) = (frame.vlans, frame.nvlan, frame.ethertype);
        super::decode_net(&mut next, proto, data, start, wire_len);
        *frame = next;
        (frame.vlans, frame.nvlan, frame.ethertype) = (vlans, nvlan, ethertype);
    }
}

/// Whether the frame's innermost decoded layers are a tunnel.
fn step(frame: &Frame<'_>, opts: &DecodeOptions, data: &[u8]) -> Step {
    let offset_of = |bytes: &[u8]| (bytes.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    match (&frame.net, &frame.transport) {
        (Net::Other(0x8847 | 0x8848), _) => mpls(data, frame.net_offset as usize),
        (Net::Other(0x8864), _) => pppoe(data, frame.net_offset as usize),
        (Net::Ip(ip), transport) if ip.frag.is_none() && !frame.ip_payload.is_empty() => {
            let start = offset_of(frame.ip_payload);
            let outer = Some((ip.src, ip.dst));
            match transport {
                Transport::Other(47) => gre(data, start, outer),
                Transport::Other(4 | 41) => {
                    let kind = match (ip.version, ip.proto) {
                        (4, 4) => IpInIp::V4InV4,
                        (4, _) => IpInIp::V6InV4,
                        (_, 4) => IpInIp::V4InV6,
                        _ => IpInIp::V6InV6,
                    };
                    let ethertype = if ip.proto == 4 { 0x0800 } else { 0x86dd };
                    Step::Layer(EncapLayer { encap: Encap::IpInIp(kind), outer, udp: None }, Inner::Net(Proto::Ether(ethertype)), start)
                }
                Transport::Udp(udp) if opts.decap => match opts.udp.lookup(udp.sport, udp.dport) {
                    Some(tunnel) => {
                        let start = start + 8;
                        let udp = Some((udp.sport, udp.dport));
                        let with = |step: Step| match step {
                            Step::Layer(mut layer, inner, at) => {
                                layer.outer = outer;
                                layer.udp = udp;
                                Step::Layer(layer, inner, at)
                            }
                            other => other,
                        };
                        if start > data.len() {
                            return Step::Done;
                        }
                        with(match tunnel {
                            UdpTunnel::Vxlan => vxlan(data, start),
                            UdpTunnel::Geneve => geneve(data, start),
                            UdpTunnel::GtpU => gtpu(data, start),
                            UdpTunnel::Teredo => teredo(data, start),
                        })
                    }
                    None => Step::Done,
                },
                _ => Step::Done,
            }
        }
        _ => Step::Done,
    }
}

fn cut(layer: Layer, start: usize, need: usize, data: &[u8]) -> Step {
    Step::Broken(layer, start, WarnKind::Truncated { need: need as u32, have: data.len().saturating_sub(start) as u32 })
}

fn layer(encap: Encap) -> EncapLayer {
    EncapLayer { encap, outer: None, udp: None }
}

/// A network-layer EtherType, or an Ethernet header for transparent bridging.
fn by_ethertype(proto: u16) -> Option<Inner> {
    match proto {
        0x0800 | 0x86dd | 0x8847 | 0x8848 | 0x0806 | 0x8035 | 0x8864 => Some(Inner::Net(Proto::Ether(proto))),
        0x6558 => Some(Inner::Ether),
        _ => None,
    }
}

/// GRE (RFC 2784, RFC 2890; version 1 is PPTP's enhanced GRE, RFC 2637).
fn gre(data: &[u8], start: usize, outer: Option<(IpAddr, IpAddr)>) -> Step {
    let Some(b) = data.get(start..).filter(|b| b.len() >= 4) else { return cut(Layer::Gre, start, 4, data) };
    let flags = be16(b, 0);
    let version = (flags & 7) as u8;
    let proto = be16(b, 2);
    let (checksum, routing, has_key, has_seq) = (flags & 0x8000 != 0, flags & 0x4000 != 0, flags & 0x2000 != 0, flags & 0x1000 != 0);
    if routing || version > 1 {
        // RFC 1701 source routing, or an unknown version: left undecoded, as tshark does
        return Step::Done;
    }
    // RFC 2890 2.1: checksum (with the reserved word), key and sequence number, 4 bytes each, in
    // this order when present; RFC 2637 4.1: enhanced GRE's acknowledgment number after them
    let has_ack = version == 1 && flags & 0x0080 != 0;
    let len = 4 + 4 * [checksum, has_key, has_seq, has_ack].iter().filter(|&&f| f).count();
    if b.len() < len {
        return cut(Layer::Gre, start, len, data);
    }
    let key_at = 4 + 4 * usize::from(checksum);
    let key = has_key.then(|| be32(b, key_at));
    let seq = has_seq.then(|| be32(b, key_at + 4 * usize::from(has_key)));
    let gre = EncapLayer { encap: Encap::Gre { version, proto, key, seq }, outer, udp: None };
    let body = start + len;
    match (version, proto) {
        (1, 0x880b) => ppp_in_gre(data, body, gre),
        (0, 0x88be) if !has_seq => {
            // ERSPAN type I: the mirrored frame directly
            erspan_then(gre, Encap::Erspan { kind: 1, session: None, vlan: None, cos: None, index_or_time: None }, body, data)
        }
        (0, 0x88be) => {
            let Some(h) = data.get(body..body + 8) else { return cut(Layer::Erspan, body, 8, data) };
            // version (4 bits), VLAN (12); COS (3), encapsulation type (2), truncated (1),
            // session (10); reserved (12), index (20)
            let erspan = Encap::Erspan {
                kind: 2,
                session: Some(be16(h, 2) & 0x3ff),
                vlan: Some(be16(h, 0) & 0xfff),
                cos: Some(h[2] >> 5),
                index_or_time: Some(ErspanExtra::Index(be32(h, 4) & 0xf_ffff)),
            };
            erspan_then(gre, erspan, body + 8, data)
        }
        (0, 0x22eb) => {
            let Some(h) = data.get(body..body + 12) else { return cut(Layer::Erspan, body, 12, data) };
            // the O flag (lowest bit of the last byte): an 8-byte platform-specific sub-header follows
            let sub = if h[11] & 1 != 0 { 8 } else { 0 };
            // as type II in the first word, then the timestamp, SGT and flags
            let erspan = Encap::Erspan {
                kind: 3,
                session: Some(be16(h, 2) & 0x3ff),
                vlan: Some(be16(h, 0) & 0xfff),
                cos: Some(h[2] >> 5),
                index_or_time: Some(ErspanExtra::Timestamp(be32(h, 4))),
            };
            erspan_then(gre, erspan, body + 12 + sub, data)
        }
        // WCCP redirection (0x883e): IPv4 directly (WCCPv1) or after a 4-byte redirect header
        (0, 0x883e) => {
            let at = if data.get(body).is_some_and(|b| b >> 4 == 4) { body } else { body + 4 };
            Step::Layer(gre, Inner::Net(Proto::Ether(0x0800)), at)
        }
        (0, _) => match by_ethertype(proto) {
            Some(inner) => Step::Layer(gre, inner, body),
            None => Step::Done,
        },
        _ => Step::Done,
    }
}

/// GRE then ERSPAN: two layers, the mirrored Ethernet frame at `at`.
fn erspan_then(gre: EncapLayer, erspan: Encap, at: usize, _data: &[u8]) -> Step {
    Step::Two(gre, layer(erspan), Inner::Ether, at)
}

/// PPP inside PPTP's GRE: optional address and control bytes, then a 1- or 2-byte protocol.
fn ppp_in_gre(data: &[u8], at: usize, gre: EncapLayer) -> Step {
    let Some(mut b) = data.get(at..) else { return Step::Done };
    let mut off = at;
    if b.starts_with(&[0xff, 0x03]) {
        b = &b[2..];
        off += 2;
    }
    let (proto, len) = match b.first() {
        // protocol-field compression (RFC 1661 6.5): an odd first byte is a 1-byte protocol
        Some(&p) if p & 1 == 1 => (u16::from(p), 1),
        Some(_) if b.len() >= 2 => (be16(b, 0), 2),
        _ => return cut(Layer::Ppp, off, 2, data),
    };
    match ppp_proto(proto) {
        Proto::None => Step::Done,
        inner => Step::Layer(gre, Inner::Net(inner), off + len),
    }
}

/// VXLAN (RFC 7348): flags, 24 reserved bits, the 24-bit VNI, 8 reserved bits; Ethernet follows.
fn vxlan(data: &[u8], start: usize) -> Step {
    let Some(h) = data.get(start..start + 8) else { return cut(Layer::Vxlan, start, 8, data) };
    Step::Layer(layer(Encap::Vxlan { vni: be32(h, 4) >> 8 }), Inner::Ether, start + 8)
}

/// Geneve (RFC 8926): version 0, option length in 4-byte words, protocol type, VNI.
fn geneve(data: &[u8], start: usize) -> Step {
    let Some(h) = data.get(start..start + 8) else { return cut(Layer::Geneve, start, 8, data) };
    if h[0] >> 6 != 0 {
        return Step::Broken(Layer::Geneve, start, WarnKind::Other("Geneve version is not 0: not decoded"));
    }
    let opt_len = u16::from(h[0] & 0x3f) * 4;
    let proto = be16(h, 2);
    let encap = Encap::Geneve { vni: be32(h, 4) >> 8, proto, opt_len };
    let body = start + 8 + usize::from(opt_len);
    if body > data.len() {
        return cut(Layer::Geneve, start, 8 + usize::from(opt_len), data);
    }
    match by_ethertype(proto) {
        Some(inner) => Step::Layer(layer(encap), inner, body),
        None => Step::Done,
    }
}

/// GTP-U (3GPP TS 29.281): a G-PDU (message type 255) carries an IP packet after the 8-byte
/// header, the optional 4 bytes (sequence, N-PDU, next extension type) and extension headers.
fn gtpu(data: &[u8], start: usize) -> Step {
    let Some(h) = data.get(start..start + 8) else { return cut(Layer::GtpU, start, 8, data) };
    // version 1, protocol type GTP; other messages (echo, error indication) carry no packet
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 || h[1] != 0xff {
        return Step::Done;
    }
    let teid = be32(h, 4);
    let (mut off, mut seq, mut extensions) = (start + 8, None, 0u8);
    if h[0] & 0x07 != 0 {
        let Some(opt) = data.get(off..off + 4) else { return cut(Layer::GtpU, start, 12, data) };
        let mut next = if h[0] & 0x04 != 0 { opt[3] } else { 0 };
        if h[0] & 0x02 != 0 {
            seq = Some(be16(opt, 0));
        }
        off += 4;
        while next != 0 {
            extensions = extensions.saturating_add(1);
            let Some(&units) = data.get(off) else { return cut(Layer::GtpU, off, 4, data) };
            let len = usize::from(units) * 4;
            if len == 0 {
                return Step::Broken(Layer::GtpU, off, WarnKind::Other("GTP-U extension header of length 0"));
            }
            let Some(ext) = data.get(off..off + len) else { return cut(Layer::GtpU, off, len, data) };
            next = ext[len - 1];
            off += len;
        }
    }
    match data.get(off).map(|b| b >> 4) {
        Some(4 | 6) => Step::Layer(layer(Encap::GtpU { teid, seq, extensions }), Inner::Net(Proto::Ip), off),
        _ => Step::Done,
    }
}

/// Teredo (RFC 4380 5.1.1): an IPv6 packet, after an optional authentication header
/// (0x0001, id and authentication lengths, nonce, confirmation) and origin indication (0x0000).
fn teredo(data: &[u8], start: usize) -> Step {
    let mut off = start;
    if data.get(off..off + 2) == Some(&[0, 1]) {
        let Some(h) = data.get(off..off + 4) else { return cut(Layer::Teredo, off, 4, data) };
        off += 4 + usize::from(h[2]) + usize::from(h[3]) + 9;
    }
    let mut origin = None;
    if let Some(o) = data.get(off..off + 8).filter(|o| o[..2] == [0, 0]) {
        // port and address are sent inverted (RFC 4380 5.1.1)
        origin = Some((!be16(o, 2), std::net::Ipv4Addr::from(!be32(o, 4))));
        off += 8;
    }
    match data.get(off..off + 40) {
        Some(ip) if ip[0] >> 4 == 6 => Step::Layer(layer(Encap::Teredo { origin }), Inner::Net(Proto::Ether(0x86dd)), off),
        _ => Step::Done,
    }
}

/// An MPLS label stack (RFC 3032) up to its bottom entry, then what follows it.
fn mpls(data: &[u8], start: usize) -> Step {
    let mut labels = [0u32; 4];
    let mut depth = 0u8;
    let mut off = start;
    let bottom_label = loop {
        let Some(entry) = data.get(off..off + 4) else { return cut(Layer::Mpls, off, 4, data) };
        let label = be32(entry, 0) >> 12;
        if usize::from(depth) < labels.len() {
            labels[usize::from(depth)] = label;
        }
        depth = depth.saturating_add(1);
        off += 4;
        if entry[2] & 1 == 1 {
            break label;
        }
    };
    let first = data.get(off).map(|b| b >> 4);
    let (pseudowire, inner, at) = match (bottom_label, first) {
        // IPv4 / IPv6 explicit null (RFC 3032 2.1)
        (0, _) | (_, Some(4)) => (Pseudowire::None, Inner::Net(Proto::Ether(0x0800)), off),
        (2, _) | (_, Some(6)) => (Pseudowire::None, Inner::Net(Proto::Ether(0x86dd)), off),
        (_, Some(0)) => (Pseudowire::EthernetWithControlWord, Inner::Ether, off + 4),
        (_, Some(_)) => (Pseudowire::Ethernet, Inner::Ether, off),
        (_, None) => return cut(Layer::Mpls, off, 1, data),
    };
    Step::Layer(layer(Encap::Mpls { labels, depth, pseudowire }), inner, at)
}

/// PPPoE session stage (RFC 2516): version/type 0x11, code 0, session id, length, then PPP.
fn pppoe(data: &[u8], start: usize) -> Step {
    let Some(h) = data.get(start..start + 8) else { return cut(Layer::Pppoe, start, 8, data) };
    if h[0] != 0x11 || h[1] != 0 {
        return Step::Done;
    }
    let ppp = be16(h, 6);
    match ppp_proto(ppp) {
        Proto::None => Step::Done,
        inner => Step::Layer(layer(Encap::Pppoe { session: be16(h, 2), ppp }), Inner::Net(inner), start + 8),
    }
}

#[cfg(test)]
mod tests;
