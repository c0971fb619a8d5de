//! The records a golden text is made of, collected from the pipeline as a [`Sink`].

use std::net::SocketAddr;

use crate::analyze::{FramingSpec, Message};
use crate::decode::Transport;
use crate::pipeline::{ConnRecord, PacketView, Sink};
use crate::track::tcp::{ConnSummary, Dir, TcpState};
use crate::track::FlowId;

/// Bytes of each direction's stream kept for message previews and digests.
pub const KEEP_BYTES: usize = 4 << 20;

/// Bytes of a message shown in its preview.
pub const PREVIEW: usize = 32;

/// One TCP segment, before normalisation of names (sequence numbers are already relative).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRec {
    /// Connection id.
    pub conn: u32,
    /// Direction.
    pub dir: Dir,
    /// Nanoseconds since the first frame.
    pub rel_ns: i64,
    /// Header flags (see [`crate::decode::tcpflags`]).
    pub flags: u8,
    /// Relative sequence number.
    pub rseq: u32,
    /// Relative acknowledgment number, when ACK is set.
    pub rack: Option<u32>,
    /// Payload length.
    pub len: u32,
    /// Raw window field.
    pub win: u16,
    /// Options that matter to behaviour, in header order of importance: `mss 1460`, `ws 7`,
    /// `sack_perm`, `sack N` (N blocks), `ts` (values dropped).
    pub opts: Vec<String>,
    /// Phase (`handshake 1/3`, `data`, …).
    pub phase: String,
    /// The client's state after it.
    pub client: TcpState,
    /// The server's state after it.
    pub server: TcpState,
    /// Wireshark's analysis flags.
    pub analysis: Vec<&'static str>,
}

impl PacketRec {
    /// No payload and none of SYN, FIN, RST.
    pub fn is_pure_ack(&self) -> bool {
        use crate::decode::tcpflags::{FIN, RST, SYN};
        self.len == 0 && self.flags & (SYN | FIN | RST) == 0
    }
}

/// One application message of a TCP direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRec {
    /// Connection id.
    pub conn: u32,
    /// Direction.
    pub dir: Dir,
    /// Index in its direction.
    pub index: u64,
    /// Offset in the direction's stream.
    pub offset: u64,
    /// Length.
    pub len: u64,
    /// The framing that delimited it.
    pub framing: FramingSpec,
    /// Whole (no gap, not cut by the end of the stream).
    pub complete: bool,
}

/// One UDP datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatagramRec {
    /// UDP flow id.
    pub flow: u32,
    /// Direction (`C2S` from the flow's first sender).
    pub dir: Dir,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Frame number.
    pub frame: u64,
    /// Nanoseconds since the first frame.
    pub rel_ns: i64,
    /// Payload length on the wire.
    pub len: u32,
    /// The captured payload (at most [`KEEP_BYTES`]).
    pub payload: Vec<u8>,
}

/// A finished TCP connection: the tracker's summary and each direction's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnFacts {
    /// The tracker's summary.
    pub summary: ConnSummary,
    /// Each direction's framing, `[c2s, s2c]` (`None`: no payload).
    pub framing: [Option<FramingSpec>; 2],
    /// The first [`KEEP_BYTES`] of each direction's stream.
    pub bytes: [Vec<u8>; 2],
}

/// Everything a run leaves for a golden text, in the order it came.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// TCP segments, in capture order.
    pub packets: Vec<PacketRec>,
    /// TCP messages, in the order they became final.
    pub messages: Vec<MessageRec>,
    /// UDP datagrams, in capture order.
    pub datagrams: Vec<DatagramRec>,
    /// Finished connections, in the order they ended.
    pub conns: Vec<ConnFacts>,
    /// Frames seen.
    pub frames: u64,
}

impl Recording {
    /// The connection `id`, if it ended.
    pub fn conn(&self, id: u32) -> Option<&ConnFacts> {
        self.conns.iter().find(|c| c.summary.conn == id)
    }

    /// The messages of connection `conn`, direction `dir`, in index order.
    pub fn messages_of(&self, conn: u32, dir: Dir) -> Vec<&MessageRec> {
        let mut v: Vec<&MessageRec> = self.messages.iter().filter(|m| m.conn == conn && m.dir == dir).collect();
        v.sort_by_key(|m| m.index);
        v
    }
}

impl Sink for Recording {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> std::io::Result<()> {
        self.frames += 1;
        match (&view.frame.transport, view.tcp.as_ref(), view.udp) {
            (Transport::Tcp(tcp), Some(seg), _) => {
                let o = &tcp.opts;
                let mut opts = Vec::new();
                if let Some(mss) = o.mss {
                    opts.push(format!("mss {mss}"));
                }
                if let Some(ws) = o.ws {
                    opts.push(format!("ws {ws}"));
                }
                if o.sack_perm {
                    opts.push("sack_perm".into());
                }
                if o.nsack > 0 {
                    opts.push(format!("sack {}", o.nsack));
                }
                if o.ts.is_some() {
                    opts.push("ts".into());
                }
                self.packets.push(PacketRec {
                    conn: seg.conn,
                    dir: seg.dir,
                    rel_ns: view.rel_ns,
                    flags: tcp.flags,
                    rseq: seg.rseq,
                    rack: seg.rack,
                    len: tcp.len,
                    win: tcp.win,
                    opts,
                    phase: seg.phase.to_string(),
                    client: seg.client,
                    server: seg.server,
                    analysis: seg.analysis.names().collect(),
                });
            }
            (Transport::Udp(udp), _, Some(info)) => {
                let Some(ip) = view.frame.ip() else { return Ok(()) };
                let payload = view.frame.payload;
                self.datagrams.push(DatagramRec {
                    flow: info.flow,
                    dir: info.dir,
                    src: SocketAddr::new(ip.src, udp.sport),
                    dst: SocketAddr::new(ip.dst, udp.dport),
                    frame: view.n,
                    rel_ns: view.rel_ns,
                    len: u32::from(udp.len).saturating_sub(8),
                    payload: payload[..payload.len().min(KEEP_BYTES)].to_vec(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn message(&mut self, m: &Message) -> std::io::Result<()> {
        if let FlowId::Tcp(conn) = m.flow {
            self.messages.push(MessageRec {
                conn,
                dir: m.dir,
                index: m.index,
                offset: m.offset,
                len: m.len,
                framing: m.framing,
                complete: m.complete,
            });
        }
        Ok(())
    }

    fn conn(&mut self, c: &ConnRecord) -> std::io::Result<()> {
        let framing = [0, 1].map(|d| c.seams[d].as_ref().and_then(|s| s.framing.as_ref().map(|f| f.spec)));
        let bytes = [0, 1].map(|d| c.kept[d].bytes.clone());
        self.conns.push(ConnFacts { summary: c.summary.clone(), framing, bytes });
        Ok(())
    }
}
