//! TCP connection tracker: per-endpoint RFC 9293 states on every segment,
//! handshake/teardown phases, relative sequence numbers, scaled windows, MSS and
//! Wireshark-compatible analysis flags, plus a Zeek-style summary per connection.
//!
//! Feed segments in capture order to [`Tracker::segment`]; call
//! [`Tracker::expire`] now and then and [`Tracker::finish`] at the end of input.
//!
//! Module map: [`state`] (the RFC 9293 state machine, one `transition` function),
//! [`analysis`] (Wireshark's `tcp.analysis.*` flags), [`phase`] (phase of a segment),
//! [`history`] (Zeek `history`/`conn_state`), [`flow`] (connections and the flow
//! table).
//!
//! # Conventions shared with tshark (checked by `scripts/tshark-tcp.py`)
//! * `conn` is tshark's `tcp.stream`: connections are numbered in order of their
//!   first packet; a SYN on a known 4-tuple whose sequence number differs from the
//!   recorded ISN of that direction starts a new connection and is flagged
//!   `reused_ports` (a SYN repeating the ISN is a retransmission, even after FIN or
//!   RST: that is what tshark 4.0 does). A SYN,ACK with a new ISN only rebases its
//!   direction (also `reused_ports`).
//! * `rseq`/`rack` are tshark's relative `tcp.seq`/`tcp.ack`: relative to the ISN
//!   of a direction when its SYN was seen, else to `first seq - 1` (so the first
//!   byte seen is 1); the base of the reverse direction can also come from the first
//!   ACK (`ack - 1`) when that direction has not sent yet.
//! * `win_scaled` equals tshark's `tcp.window_size` whenever it is `Some`. It is
//!   `None` exactly when the sender's shift is genuinely unknown: no SYN/SYN,ACK
//!   told it (mid-stream pickup); or only the SYN was seen and it offered scaling
//!   (the answer may have declined it); or only the SYN,ACK was seen and this is
//!   the client's direction (the server's shift, announced in the SYN,ACK, is in
//!   effect since a SYN,ACK may carry it only if the SYN did). tshark then shows
//!   the raw window (scale factor -1, "unknown"). SYN and SYN,ACK are never
//!   scaled; if only one side offered window scaling, the shift is 0 both ways
//!   (RFC 7323 2.2). Caveat: tshark applies a shift it knows from a SYN even when
//!   the answer was not captured; we say `None` there.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod flow;
mod gaps;
pub mod history;
pub mod phase;
pub mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub use analysis::Analysis;
pub use flow::Tracker;
pub use history::ZeekConnState;
pub use phase::{OtherKind, Phase};
pub use state::{transition, EndpointEvent, TcpState};

/// Capture time in nanoseconds since the Unix epoch.
pub type TsNanos = i64;

/// TCP header flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct TcpFlags(pub u8);

/// The bit values are the decoder's (one definition for the whole program).
impl TcpFlags {
    /// No more data from the sender (RFC 9293 3.1).
    pub const FIN: u8 = crate::decode::tcpflags::FIN;
    /// Synchronize sequence numbers (RFC 9293 3.1).
    pub const SYN: u8 = crate::decode::tcpflags::SYN;
    /// Reset the connection (RFC 9293 3.1).
    pub const RST: u8 = crate::decode::tcpflags::RST;
    /// Push function (RFC 9293 3.1).
    pub const PSH: u8 = crate::decode::tcpflags::PSH;
    /// The acknowledgment field is significant (RFC 9293 3.1).
    pub const ACK: u8 = crate::decode::tcpflags::ACK;
    /// The urgent pointer is significant (RFC 9293 3.1).
    pub const URG: u8 = crate::decode::tcpflags::URG;
    /// ECN-Echo (RFC 3168 6.1).
    pub const ECE: u8 = crate::decode::tcpflags::ECE;
    /// Congestion Window Reduced (RFC 3168 6.1).
    pub const CWR: u8 = crate::decode::tcpflags::CWR;

    /// True if all bits of `bits` are set.
    #[inline]
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

/// One TCP segment, as decoded from a frame (borrowed, built per packet on the stack).
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Frame number, 1-based, capture order.
    pub n: u64,
    /// Capture time of the frame.
    pub ts: TsNanos,
    /// The tunnels the segment came in (`None`: none). The same 4-tuple in two tunnels is two
    /// connections ([`Encaps::flow_id`](crate::decode::Encaps::flow_id)).
    pub encaps: Option<&'a crate::decode::Encaps>,
    /// Source address (IP header).
    pub src: IpAddr,
    /// Destination address (IP header).
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Header flags.
    pub flags: TcpFlags,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgment number (meaningful only with ACK set).
    pub ack: u32,
    /// Raw window field, unscaled.
    pub win: u16,
    /// MSS option value (RFC 9293 3.7.1), if present.
    pub mss: Option<u16>,
    /// Window-scale option shift count as sent (RFC 7323 2.2), if present.
    pub ws: Option<u8>,
    /// SACK-permitted option present (RFC 2018 2).
    pub sack_perm: bool,
    /// Absolute SACK blocks as in the header.
    pub sack: &'a [(u32, u32)],
    /// Timestamps option `(TSval, TSecr)` (RFC 7323 3.2), if present.
    pub tsopt: Option<(u32, u32)>,
    /// TCP payload length per the IP header lengths (tshark's `tcp.len`).
    pub len: u32,
    /// Captured payload bytes (may be shorter than `len` when the snaplen cut it).
    pub payload: &'a [u8],
    /// The IPv4 total length was 0 and `len` was taken from the frame: a sending host's
    /// segmentation offload (see [`crate::decode::Ip::len_from_frame`]).
    pub len_from_frame: bool,
}

/// A segment larger than the wire allows: a sending host's segmentation offload (TSO/GSO)
/// hands the NIC one large segment that it cuts into MSS-sized ones, and a receiving host's
/// GRO merges arriving segments before the capture point. A segment is taken as one when its
/// payload exceeds the MSS in force (the smaller of the two announced, less the 12 bytes of
/// the timestamps option when both SYNs carried it, as Linux sizes segments: RFC 9293 3.7.1,
/// RFC 7323 3): on loopback both sides announce about 65483, so nothing there is flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offload {
    /// The wire carried it as `segments` segments of at most `mss` payload bytes.
    Segments {
        /// Payload bytes per wire segment.
        mss: u32,
        /// Wire segments it stands for (its length divided by `mss`, rounded up).
        segments: u32,
    },
    /// The IPv4 total length was 0 (certainly offloaded) but no MSS was seen: how the wire
    /// carried it is unknown.
    UnknownMss,
}

/// Direction of a segment relative to the connection's client.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// Client to server.
    C2S,
    /// Server to client.
    S2C,
}

impl Dir {
    /// `"c→s"` or `"s→c"`.
    pub fn arrow(self) -> &'static str {
        match self {
            Dir::C2S => "c→s",
            Dir::S2C => "s→c",
        }
    }
    /// 0 for client→server, 1 for server→client (index of per-direction arrays).
    #[inline]
    pub fn idx(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }
    /// The other direction.
    #[inline]
    pub fn rev(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::C2S => "c2s",
            Dir::S2C => "s2c",
        })
    }
}

/// What the tracker says about one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegInfo {
    /// 0-based, numbered in order of each connection's first packet (tshark `tcp.stream`).
    pub conn: u32,
    /// Direction of the segment.
    pub dir: Dir,
    /// Relative to the sender direction's ISN (SYN = 0), like tshark's `tcp.seq`.
    pub rseq: u32,
    /// Relative to the other direction's ISN; `None` when ACK is not set (`tcp.ack`).
    pub rack: Option<u32>,
    /// The base `rseq` is relative to (absolute = relative + base), to relativise SACK blocks.
    pub seq_base: u32,
    /// The base `rack` is relative to; `None` when ACK is not set.
    pub ack_base: Option<u32>,
    /// tshark's `tcp.window_size`; `None` while the sender's shift is unknown (see
    /// the module documentation).
    pub win_scaled: Option<u32>,
    /// Phase of the segment in the life of its connection (see [`phase`]).
    pub phase: Phase,
    /// The client's RFC 9293 state after this segment.
    pub client: TcpState,
    /// The server's RFC 9293 state after this segment.
    pub server: TcpState,
    /// Wireshark's `tcp.analysis.*` flags of the segment.
    pub analysis: Analysis,
    /// "dup ack #N" (0 if not a duplicate ACK), like `tcp.analysis.duplicate_ack_num`.
    pub dup_ack_num: u32,
    /// Frame number the duplicate ACK repeats (0 if none), `tcp.analysis.duplicate_ack_frame`.
    pub dup_ack_of: u64,
    /// First segment of a connection.
    pub new_conn: bool,
    /// Like `tcp.analysis.bytes_in_flight` (approximate when segments were not captured).
    pub bytes_in_flight: Option<u32>,
    /// The segment stands for several wire segments (see [`Offload`]).
    pub offload: Option<Offload>,
}

/// Final per-connection record (the contract "conn" record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnSummary {
    /// Connection id, as [`SegInfo::conn`] (for UDP and ICMP records, the flow's id in its
    /// protocol's own sequence).
    pub conn: u32,
    /// TCP, or a UDP or ICMP flow (whose TCP-only fields are empty).
    pub proto: super::Proto,
    /// Client endpoint: sender of the first SYN, receiver of a SYN,ACK seen first, else the
    /// sender of the first segment.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Zeek's `conn_state`.
    pub conn_state: ZeekConnState,
    /// Zeek history letters.
    pub history: String,
    /// The client's last RFC 9293 state.
    pub client_state: TcpState,
    /// The server's last RFC 9293 state.
    pub server_state: TcpState,
    /// (client, server) as announced in their SYN / SYN,ACK.
    pub mss: (Option<u16>, Option<u16>),
    /// (client, server) window-scale shift as announced in their SYN / SYN,ACK.
    pub ws: (Option<u8>, Option<u8>),
    /// SACK permitted by both SYN and SYN,ACK.
    pub sack_perm: bool,
    /// Timestamps option in both SYN and SYN,ACK.
    pub timestamps: bool,
    /// Most recent SYN to the first ACK without SYN (`tcp.analysis.initial_rtt`).
    pub irtt: Option<TsNanos>,
    /// Capture time of the first segment.
    pub first_ts: TsNanos,
    /// Capture time of the last segment.
    pub last_ts: TsNanos,
    /// Frame number of the first segment.
    pub first_frame: u64,
    /// Frame number of the last segment.
    pub last_frame: u64,
    /// Segments per direction `[c2s, s2c]`.
    pub packets: [u64; 2],
    /// TCP payload bytes per direction (`tcp.len` summed), retransmissions included.
    pub bytes: [u64; 2],
    /// Segments flagged retransmission (including fast and spurious ones).
    pub retransmissions: u64,
    /// Segments flagged duplicate ACK.
    pub dup_acks: u64,
    /// Segments flagged zero window.
    pub zero_windows: u64,
    /// ICMP errors about it (that quoted one of its packets).
    pub icmp_errors: u64,
    /// Per direction, sequence space never captured: acknowledged (or passed) without being
    /// seen, or cut by the snap length (Zeek's `missed_bytes`).
    pub missed_bytes: [u64; 2],
    /// Per direction, sequence space sent that the peer had not acknowledged by the last segment
    /// (the highest sequence number sent minus the peer's last acknowledgment number); 0 when the
    /// peer never acknowledged anything in this direction's space.
    pub unacked: [u32; 2],
    /// The tunnels its first packet came in, as `conns` shows them (`vxlan 42`, `gre key 7,
    /// mpls 16`); `None` outside tunnels.
    pub tunnel: Option<Box<str>>,
}

/// Tracker limits.
#[derive(Clone, Copy, Debug)]
pub struct TrackConfig {
    /// Flow-table cap; past it the connection idle the longest is evicted (its
    /// summary is kept and returned by `expire`/`finish`).
    pub max_conns: usize,
    /// How long (capture time) a finished connection stays in the table before its
    /// summary is emitted and its state freed. Default 60 s.
    pub close_linger: TsNanos,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig { max_conns: 1 << 20, close_linger: 60_000_000_000 }
    }
}
