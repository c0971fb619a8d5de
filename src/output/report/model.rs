//! What the report keeps of a run, bounded: every connection's row (as `conns` shows it), and
//! for the connections drawn in full their segments (thinned past a cap, every marked one
//! kept), messages and kept bytes. Everything comes from the sink calls the JSON output gets.

use std::collections::BTreeMap;

use crate::analyze::{Message, RecvSchedule};
use crate::decode::tcpflags;
use crate::output::conns::ConnRow;
use crate::output::flow::Event;
use crate::pipeline::{ConnRecord, PacketView};
use crate::track::tcp::{Analysis, Dir, TcpState};
use crate::track::FlowId;

/// What `wireseam report` draws.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The page's title: the input's name (shown escaped).
    pub title: String,
    /// Only this TCP connection.
    pub conn: Option<u32>,
    /// How many connections are drawn in full (the largest by bytes); the rest are listed.
    pub top: usize,
    /// Rows of the connection table (chosen among the largest, longest, slowest to handshake
    /// and most retransmitting).
    pub rows: usize,
    /// Fold runs of more than this many uneventful segments in the ladders (0: never).
    pub fold: usize,
    /// Points per graph before decimation (marks are kept beyond it).
    pub budget: usize,
    /// Sizes of the simulated `recv()` calls (empty: none).
    pub recv: Vec<usize>,
    /// When the simulated reader calls `recv()`.
    pub recv_at: RecvSchedule,
    /// Bytes of each message preview.
    pub preview: usize,
    /// The TCP connections that may be drawn in full, ids ascending (the largest, found by a
    /// first pass over the file: [`Ranking`](super::Ranking)); the others are only listed, and
    /// nothing more of them is kept. `None`: any (every connection kept until it ranks).
    pub only: Option<std::sync::Arc<[u32]>>,
}

impl ReportOptions {
    /// Whether TCP connection `conn` may be drawn in full ([`only`](Self::only)).
    fn may_draw(&self, conn: u32) -> bool {
        self.only.as_deref().is_none_or(|ids| ids.binary_search(&conn).is_ok())
    }
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: String::new(),
            conn: None,
            top: 10,
            rows: 2000,
            fold: 6,
            budget: 2000,
            recv: Vec::new(),
            recv_at: RecvSchedule::Arrival,
            preview: 48,
            only: None,
        }
    }
}

/// Segments kept per connection before thinning starts.
const SEGMENT_CAP: usize = 20_000;
/// Messages kept per direction.
pub const MESSAGE_CAP: usize = 5_000;
/// SACK reports kept per connection.
const SACK_CAP: usize = 20_000;

/// A segment and whether it must be drawn (SYN, FIN, RST, an analysis flag or a state change).
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    /// The ladder's event.
    pub ev: Event,
    /// Kept through thinning.
    pub marked: bool,
}

/// SACK blocks of one segment (absolute sequence numbers, RFC 2018), with the segment's frame.
#[derive(Clone, Copy, Debug)]
pub struct SackReport {
    /// Frame number.
    pub n: u64,
    /// Nanoseconds since the first frame.
    pub rel_ns: i64,
    /// Direction of the segment carrying the option (the blocks cover the other direction).
    pub dir: Dir,
    /// The ACK base of that segment: absolute = relative + base.
    pub ack_base: u32,
    /// Blocks; the first `n_blocks` are set.
    pub blocks: [(u32, u32); 4],
    /// How many blocks are set.
    pub n_blocks: u8,
}

/// A connection drawn in full.
#[derive(Debug)]
pub struct Detail {
    /// Connection id.
    pub id: u32,
    /// Client and server `addr:port`.
    pub endpoints: (String, String),
    /// Segments in capture order, thinned past [`SEGMENT_CAP`].
    pub segs: Vec<Seg>,
    /// Every n-th unmarked segment is kept (doubles at each thinning).
    stride: u64,
    unmarked_seen: u64,
    /// Segments not kept.
    pub thinned: u64,
    last_states: (TcpState, TcpState),
    /// SACK reports.
    pub sacks: Vec<SackReport>,
    /// Messages per direction, the first [`MESSAGE_CAP`].
    pub messages: [Vec<Message>; 2],
    /// Messages not kept, per direction.
    pub messages_dropped: [u64; 2],
    /// The final record, once the connection is over.
    pub record: Option<ConnRecord>,
    /// Payload bytes seen so far (ranks connections still open at the end).
    bytes: u64,
}

impl Detail {
    fn new(id: u32, endpoints: (String, String)) -> Self {
        Detail {
            id,
            endpoints,
            segs: Vec::new(),
            stride: 1,
            unmarked_seen: 0,
            thinned: 0,
            last_states: (TcpState::Unknown, TcpState::Unknown),
            sacks: Vec::new(),
            messages: [Vec::new(), Vec::new()],
            messages_dropped: [0; 2],
            record: None,
            bytes: 0,
        }
    }

    /// Size for ranking: payload bytes both ways.
    pub fn size(&self) -> u64 {
        self.record.as_ref().map_or(self.bytes, |r| r.summary.bytes[0] + r.summary.bytes[1])
    }

    fn push(&mut self, ev: Event) {
        let states = (ev.seg.client, ev.seg.server);
        let marked = ev.flags & (tcpflags::SYN | tcpflags::FIN | tcpflags::RST) != 0
            || !ev.seg.analysis.is_empty()
            || states != self.last_states
            || self.segs.is_empty();
        self.last_states = states;
        self.bytes += u64::from(ev.len);
        if !marked {
            self.unmarked_seen += 1;
            if !self.unmarked_seen.is_multiple_of(self.stride) {
                self.thinned += 1;
                return;
            }
        }
        self.segs.push(Seg { ev, marked });
        if self.segs.len() >= SEGMENT_CAP {
            // Every other unmarked segment goes; the marked ones all stay.
            let mut keep = false;
            let before = self.segs.len();
            self.segs.retain(|s| {
                keep = !keep || s.marked;
                keep || s.marked
            });
            self.thinned += (before - self.segs.len()) as u64;
            self.stride *= 2;
        }
    }
}

/// A UDP flow's row, and the datagrams kept to draw it (each datagram one message: RFC 768
/// keeps boundaries).
#[derive(Clone, Debug, Default)]
pub struct UdpRow {
    /// Flow id.
    pub id: u32,
    /// First sender and its peer, `addr:port`.
    pub endpoints: (String, String),
    /// Datagrams per direction.
    pub datagrams: [u64; 2],
    /// Payload bytes per direction.
    pub bytes: [u64; 2],
    /// First and last frame time, ns since the first frame.
    pub span: (i64, i64),
    /// The datagrams' messages per direction, the first [`UDP_KEPT`] (fewer once
    /// [`UDP_KEPT_TOTAL`] is reached).
    pub messages: [Vec<Message>; 2],
    /// Datagram messages not kept, per direction.
    pub messages_dropped: [u64; 2],
    /// The first bytes of each kept datagram, by (direction, message index): taken from the
    /// frame as `wireseam stream` takes them.
    pub previews: BTreeMap<(usize, u64), Vec<u8>>,
}

impl UdpRow {
    /// Size for ranking: payload bytes both ways.
    pub fn size(&self) -> u64 {
        self.bytes[0] + self.bytes[1]
    }
}

/// Frames by protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProtoCounts {
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP and ICMPv6.
    pub icmp: u64,
    /// ARP.
    pub arp: u64,
    /// IP fragments held for reassembly (the frame that completes a datagram counts as what it
    /// carries).
    pub fragments: u64,
    /// Other IP protocols.
    pub other_ip: u64,
    /// No IP or ARP decoded.
    pub other: u64,
}

/// Most UDP flows listed.
pub const UDP_ROWS: usize = 2000;
/// Datagrams kept per UDP flow and direction (the strip draws at most
/// [`super::svg::UDP_STRIP`] of them).
pub const UDP_KEPT: usize = 200;
/// Datagrams kept over all UDP flows (bounds the memory of captures of many flows).
pub const UDP_KEPT_TOTAL: usize = 40_000;
/// Bytes of each datagram kept for its preview and hex (at least; `--preview` more).
const UDP_PREVIEW_KEPT: usize = 128;

/// Everything the page is drawn from.
#[derive(Default)]
pub struct Collected {
    /// Connections still open (in full, until their record ranks them).
    pub open: BTreeMap<u32, Detail>,
    /// Finished connections drawn in full: the largest so far.
    pub done: Vec<Detail>,
    /// Every connection's row.
    pub rows: Vec<ConnRow>,
    /// UDP flows.
    pub udp: BTreeMap<u32, UdpRow>,
    /// UDP flows not listed.
    pub udp_more: u64,
    /// Datagrams kept over all UDP flows.
    udp_kept: usize,
    /// Frames by protocol.
    pub protos: ProtoCounts,
    /// Time of the last frame, ns since the first.
    pub last_rel_ns: i64,
    /// Epoch time of the first frame, ns.
    pub first_ts: Option<i64>,
}

impl Collected {
    /// A frame that passed the filter.
    pub fn packet(&mut self, opts: &ReportOptions, view: &PacketView<'_, '_>) {
        use crate::decode::{Net, Transport};
        self.last_rel_ns = view.rel_ns;
        if self.first_ts.is_none() {
            self.first_ts = Some(view.meta.ts_ns.saturating_sub(view.rel_ns));
        }
        match (&view.frame.net, &view.frame.transport) {
            (_, Transport::Tcp(_)) => self.protos.tcp += 1,
            (_, Transport::Udp(_)) => self.protos.udp += 1,
            (_, Transport::Icmp(_)) => self.protos.icmp += 1,
            (Net::Arp(_), _) => self.protos.arp += 1,
            (Net::Ip(ip), _) if ip.frag.is_some() => self.protos.fragments += 1,
            (Net::Ip(_), _) => self.protos.other_ip += 1,
            _ => self.protos.other += 1,
        }
        if let (Some(udp), Some(ip), Transport::Udp(header)) = (view.udp, view.frame.ip(), &view.frame.transport) {
            if opts.conn.is_none() {
                if let Some(row) = self.udp_row(udp.flow) {
                    if row.endpoints.0.is_empty() {
                        let src = crate::output::Endpoint(ip.src, header.sport).to_string();
                        let dst = crate::output::Endpoint(ip.dst, header.dport).to_string();
                        row.endpoints = if udp.dir == Dir::C2S { (src, dst) } else { (dst, src) };
                    }
                    if row.datagrams == [0, 0] {
                        row.span.0 = view.rel_ns;
                    }
                    row.datagrams[udp.dir.idx()] += 1;
                    // the whole datagram on the frame that completes one reassembled from IP fragments
                    row.bytes[udp.dir.idx()] += view.frame.transport_payload().len() as u64;
                    row.span.1 = view.rel_ns;
                    // the datagram's message came just before its frame (as for `stream`)
                    if let crate::pipeline::MsgNote::Known(carried) = view.msgs {
                        let d = udp.dir.idx();
                        if row.messages[d].last().is_some_and(|m| m.index == carried.first) {
                            let payload = view.frame.transport_payload();
                            let keep = payload.len().min(opts.preview.max(UDP_PREVIEW_KEPT));
                            row.previews.insert((d, carried.first), payload[..keep].to_vec());
                        }
                    }
                } else {
                    self.udp_more += 1;
                }
            }
        }
        let (Some(ev), Some(tcp), Some(ip)) = (Event::of(view), view.frame.tcp(), view.frame.ip()) else { return };
        if opts.conn.is_some_and(|c| c != ev.seg.conn) || !opts.may_draw(ev.seg.conn) {
            return;
        }
        let detail = self.open.entry(ev.seg.conn).or_insert_with(|| {
            let src = crate::output::Endpoint(ip.src, tcp.sport).to_string();
            let dst = crate::output::Endpoint(ip.dst, tcp.dport).to_string();
            Detail::new(ev.seg.conn, if ev.seg.dir == Dir::C2S { (src, dst) } else { (dst, src) })
        });
        if tcp.opts.nsack > 0 && detail.sacks.len() < SACK_CAP {
            if let Some(ack_base) = ev.seg.ack_base {
                detail.sacks.push(SackReport {
                    n: view.n,
                    rel_ns: view.rel_ns,
                    dir: ev.seg.dir,
                    ack_base,
                    blocks: tcp.opts.sack,
                    n_blocks: tcp.opts.nsack,
                });
            }
        }
        detail.push(ev);
    }

    /// The row of UDP flow `id`, made if there is room for it.
    fn udp_row(&mut self, id: u32) -> Option<&mut UdpRow> {
        if !self.udp.contains_key(&id) && self.udp.len() >= UDP_ROWS {
            return None;
        }
        Some(self.udp.entry(id).or_insert_with(|| UdpRow { id, ..UdpRow::default() }))
    }

    /// A final message.
    pub fn message(&mut self, opts: &ReportOptions, m: &Message) {
        let conn = match m.flow {
            FlowId::Tcp(conn) => conn,
            FlowId::Udp(flow) => {
                if opts.conn.is_some() {
                    return;
                }
                let full = self.udp_kept >= UDP_KEPT_TOTAL;
                let Some(row) = self.udp_row(flow) else { return };
                let d = m.dir.idx();
                if row.messages[d].len() < UDP_KEPT && !full {
                    row.messages[d].push(m.clone());
                    self.udp_kept += 1;
                } else {
                    row.messages_dropped[d] += 1;
                }
                return;
            }
        };
        if let Some(detail) = self.open.get_mut(&conn) {
            let d = m.dir.idx();
            if detail.messages[d].len() < MESSAGE_CAP {
                detail.messages[d].push(m.clone());
            } else {
                detail.messages_dropped[d] += 1;
            }
        }
    }

    /// A connection is over: its row is kept; its details while it is among the largest.
    pub fn conn(&mut self, opts: &ReportOptions, record: ConnRecord) {
        let id = record.summary.conn;
        if opts.conn.is_some_and(|c| c != id) {
            return;
        }
        self.rows.push(ConnRow::new(&record.summary, &record.seams));
        if let Some(mut detail) = self.open.remove(&id) {
            detail.record = Some(record);
            self.done.push(detail);
            if self.done.len() >= 2 * opts.top.max(1) {
                self.keep_largest(opts.top);
            }
        }
    }

    /// Keeps the `top` largest finished connections (ties: the lower id).
    fn keep_largest(&mut self, top: usize) {
        self.done.sort_by(|a, b| b.size().cmp(&a.size()).then(a.id.cmp(&b.id)));
        self.done.truncate(top);
    }

    /// The connections drawn in full, by id: the `top` largest (connections never closed
    /// included).
    pub fn drawn(&mut self, top: usize) -> Vec<Detail> {
        let open = std::mem::take(&mut self.open);
        self.done.extend(open.into_values());
        self.keep_largest(top);
        let mut drawn = std::mem::take(&mut self.done);
        drawn.sort_by_key(|d| d.id);
        drawn
    }

    /// The UDP flows drawn in full, by id: the `top` largest that have datagrams kept.
    pub fn udp_drawn(&self, top: usize) -> Vec<&UdpRow> {
        let mut v: Vec<&UdpRow> = self.udp.values().filter(|u| u.messages.iter().any(|m| !m.is_empty())).collect();
        v.sort_by(|a, b| b.size().cmp(&a.size()).then(a.id.cmp(&b.id)));
        v.truncate(top);
        v.sort_by_key(|u| u.id);
        v
    }
}

/// A round-trip-time sample: data sent at `sent`, first acknowledged at `acked` (ns since the
/// first frame); Karn's rule: never from a retransmitted range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttSample {
    /// Frame of the data segment.
    pub n: u64,
    /// When the data was sent.
    pub sent: i64,
    /// When the ACK covering it came.
    pub acked: i64,
}

/// RTT samples of the data that `dir` sends, from the other direction's ACKs.
pub fn rtt_samples(segs: &[Seg], dir: Dir) -> Vec<RttSample> {
    let mut pending: std::collections::VecDeque<(u32, i64, u64)> = std::collections::VecDeque::new();
    let mut out = Vec::new();
    for s in segs {
        let ev = &s.ev;
        if ev.seg.dir == dir {
            if ev.len == 0 {
                continue;
            }
            let end = ev.seg.rseq.wrapping_add(ev.len);
            if ev.seg.analysis.has(Analysis::RETRANSMISSION) {
                // Karn: no sample for anything this segment covers.
                pending.retain(|p| p.0 <= ev.seg.rseq || p.0 > end);
            } else if pending.back().is_none_or(|p| end > p.0) {
                pending.push_back((end, ev.rel_ns, ev.n));
            }
        } else if let Some(ack) = ev.seg.rack {
            let mut last = None;
            while let Some(&(end, sent, n)) = pending.front() {
                if end > ack {
                    break;
                }
                last = Some((sent, n));
                pending.pop_front();
            }
            if let Some((sent, n)) = last {
                out.push(RttSample { n, sent, acked: ev.rel_ns });
            }
        }
    }
    out
}

/// Payload bytes per time bucket of `dir` over `[t0, t1]`, `buckets` buckets.
pub fn throughput(segs: &[Seg], dir: Dir, t0: i64, t1: i64, buckets: usize) -> Vec<u64> {
    let mut out = vec![0u64; buckets.max(1)];
    let span = (t1 - t0).max(1) as f64;
    for s in segs.iter().filter(|s| s.ev.seg.dir == dir) {
        let i = (((s.ev.rel_ns - t0) as f64 / span) * buckets as f64) as usize;
        out[i.min(buckets - 1)] += u64::from(s.ev.len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: u64, dir: Dir, rseq: u32, rack: u32, len: u32, t: i64, analysis: u32) -> Seg {
        let seg = crate::track::tcp::SegInfo {
            conn: 0,
            dir,
            rseq,
            rack: Some(rack),
            seq_base: 0,
            ack_base: Some(0),
            win_scaled: Some(1000),
            phase: crate::track::tcp::Phase::Data,
            client: TcpState::Established,
            server: TcpState::Established,
            analysis: Analysis(analysis),
            dup_ack_num: 0,
            dup_ack_of: 0,
            new_conn: false,
            bytes_in_flight: None,
            offload: None,
        };
        Seg { ev: Event { n, rel_ns: t, flags: tcpflags::ACK, len, win: 1000, mss: None, ws: None, seg }, marked: false }
    }

    #[test]
    fn rtt_follows_karn() {
        let segs = [
            ev(1, Dir::C2S, 1, 1, 100, 0, 0),
            ev(2, Dir::C2S, 101, 1, 100, 10, 0),
            ev(3, Dir::S2C, 1, 101, 0, 50, 0),
            ev(4, Dir::C2S, 101, 1, 100, 60, Analysis::RETRANSMISSION),
            ev(5, Dir::S2C, 1, 201, 0, 90, 0),
        ];
        let rtt = rtt_samples(&segs, Dir::C2S);
        assert_eq!(rtt, vec![RttSample { n: 1, sent: 0, acked: 50 }], "the retransmitted range gives no sample");
        assert_eq!(throughput(&segs, Dir::C2S, 0, 100, 2), vec![200, 100]);
    }

    #[test]
    fn thinning_keeps_every_marked_segment() {
        let mut d = Detail::new(0, Default::default());
        for i in 0..(SEGMENT_CAP as u64 * 3) {
            let mut s = ev(i + 1, Dir::C2S, 1, 1, 10, i as i64, 0).ev;
            if i.is_multiple_of(1000) {
                s.seg.analysis = Analysis(Analysis::RETRANSMISSION);
            }
            d.push(s);
        }
        assert!(d.segs.len() < SEGMENT_CAP);
        assert_eq!(d.segs.iter().filter(|s| !s.ev.seg.analysis.is_empty()).count(), SEGMENT_CAP * 3 / 1000);
        assert_eq!(d.segs.len() as u64 + d.thinned, SEGMENT_CAP as u64 * 3);
    }
}
