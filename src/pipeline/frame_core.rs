//! The frame core: the order every run mode takes each frame through the stages.
//!
//! For each frame read, in capture order:
//! 1. **filter** (pcap-filter(7)): a frame it rejects goes no further and is no expiry point;
//! 2. **decode** (stateless), counting malformed frames and link types not decoded, then IP
//!    reassembly ([`Tracking::defrag_frame`]): a fragment that completes a datagram carries it
//!    whole from here on;
//! 3. **track** ([`Tracking`]): ARP bindings, TCP connections, UDP flows — every flow id is
//!    minted here;
//! 4. **seams** ([`Back`]): reassembly and framing of the tracked flows;
//! 5. at every [`EXPIRE_EVERY`]th frame read that passed the filter, the **expiry step**:
//!    connections that tracking finished (closed and lingered, or evicted) leave it, then their
//!    seams are closed, and each goes to the sink as one [`ConnRecord`], in id order.
//!
//! Stages 1–3 are the [`Front`], 4 is the [`Back`], and a [`Core`] is both. A new stage that
//! works on frames before tracking (IP reassembly, tunnel decapsulation) goes into
//! [`Front::admit`]; one that works on tracked flows goes into [`Back::frame`]. The drivers
//! (`run`, `parallel`, `sharded`) call only these functions, so each stage is written once.

use std::io;
use std::sync::Arc;

use super::{ChecksumMode, ConnRecord, FrameFacts, FrameTimes, Kept, MsgNote, ReadOptions, RunSummary, Sink};
use crate::analyze::{Carried, Datagram, Event, Message, SeamConfig, SeamReports, Seams, SegIn, SegOut, WireSegs};
use crate::capture::bpf::{Filter, FilterError};
use crate::capture::{Backing, PacketMeta};
use crate::decode::tunnel::DecodeOptions;
use crate::decode::{self, tcpflags, Frame, IpReasm, Net, Transport};
use crate::track::tcp::{Analysis, ConnSummary, Offload, TrackConfig};
use crate::track::{Dir, Tracked, Tracking};

/// Frames read between two expiry steps.
pub const EXPIRE_EVERY: u64 = 1024;

/// Frame `n` (1-based, counting every frame read) is an expiry point if it passes the filter.
pub fn is_expiry_point(n: u64) -> bool {
    n.is_multiple_of(EXPIRE_EVERY)
}

/// The run's filter, compiled for `linktype`: the one place a filter is built.
pub fn filter(opts: &ReadOptions, linktype: u32) -> Result<Option<Filter>, FilterError> {
    opts.filter.as_deref().map(|expr| Filter::new(expr, linktype)).transpose()
}

/// The `--inner` filter of `opts`, compiled for headers that start at the IP layer.
pub fn inner_filter(opts: &ReadOptions) -> Result<Option<Filter>, FilterError> {
    opts.inner.as_deref().map(Filter::new_inner).transpose()
}

/// What the front counts of the frames it admits.
#[derive(Debug, Default)]
pub struct FrameCounts {
    /// Frames that passed the filter.
    pub shown: u64,
    /// Of them, frames with decoding warnings.
    pub malformed: u64,
    /// Link types not decoded, each with the first frame it appeared in, in that order.
    pub unsupported: Vec<(u64, u32)>,
    /// Frames with a bad checksum (when checked).
    pub bad_checksums: u64,
    /// Of them, frames left out of tracking.
    pub bad_checksums_dropped: u64,
}

/// Times relative to the first frame read and to the previous frame shown.
#[derive(Default)]
struct Clock {
    first: Option<i64>,
    prev: Option<i64>,
}

impl Clock {
    /// Every frame read (also those the filter drops).
    fn saw(&mut self, ts: i64) {
        self.first.get_or_insert(ts);
    }
    /// A frame shown.
    fn shown(&mut self, ts: i64) -> FrameTimes {
        let rel_ns = ts.saturating_sub(self.first.unwrap_or(ts));
        let delta_ns = self.prev.map_or(0, |p| ts.saturating_sub(p));
        self.prev = Some(ts);
        FrameTimes { rel_ns, delta_ns }
    }
}

/// Stages 1–3: filter, decode, track.
pub struct Front {
    filter: Option<Filter>,
    checksums: ChecksumMode,
    /// Tunnels peeled off, and the `--inner` filter over the innermost IP header.
    decode: DecodeOptions,
    inner: Option<Filter>,
    clock: Clock,
    /// IP reassembly runs in [`admit`](Self::admit) (false where the driver reassembles before
    /// the front sees the frames: `sharded`, see [`Front::admit_reassembled`]).
    defrag_here: bool,
    /// The protocol state.
    pub tracking: Tracking,
    /// What was admitted.
    pub counts: FrameCounts,
}

impl Front {
    /// A front for a run of `opts`, its filter compiled for `linktype`, with tracker limits
    /// `track` (a thread's share of them, with `--threads`).
    pub fn new(opts: &ReadOptions, linktype: u32, track: TrackConfig) -> Result<Self, FilterError> {
        Ok(Front {
            filter: filter(opts, linktype)?,
            checksums: opts.checksums,
            decode: opts.decode,
            inner: inner_filter(opts)?,
            clock: Clock::default(),
            defrag_here: true,
            tracking: Tracking::new(track),
            counts: FrameCounts::default(),
        })
    }

    /// True if frame bytes `raw` pass the filter.
    pub fn passes(&mut self, linktype: u32, raw: &[u8]) -> bool {
        self.filter.as_mut().is_none_or(|f| f.matches(linktype, raw))
    }

    /// Frame `n`: `None` if the filter drops it, else decoded into `frame` (which it
    /// overwrites) and its display times. Call for every frame read, in order.
    pub fn admit<'a>(&mut self, n: u64, meta: PacketMeta, raw: &'a [u8], frame: &mut Frame<'a>) -> Option<FrameTimes> {
        if meta.stamped {
            self.clock.saw(meta.ts_ns);
        }
        if !self.passes(meta.linktype, raw) {
            return None;
        }
        decode::decode_into(&self.decode, meta.linktype, raw, meta.len, frame);
        if let Some(inner) = self.inner.as_mut() {
            // the innermost network layer starts at `net_offset`; only IP can match
            let ip = raw.get(frame.net_offset as usize..).filter(|_| frame.ip().is_some());
            if !ip.is_some_and(|ip| inner.matches_inner(ip)) {
                return None;
            }
        }
        if self.defrag_here {
            self.tracking.defrag_frame(n, meta.ts_ns, frame);
        }
        self.counts.shown += 1;
        if self.checksums != ChecksumMode::Off {
            decode::checksum::verify(frame, raw);
            if decode::checksum::has_bad_checksum(frame) {
                self.counts.bad_checksums += 1;
            }
        }
        if !frame.warnings.is_empty() {
            self.counts.malformed += 1;
        }
        let linktype = meta.linktype;
        if !decode::link::linktype_supported(linktype) && !self.counts.unsupported.iter().any(|&(_, seen)| seen == linktype) {
            self.counts.unsupported.push((n, linktype));
        }
        Some(self.clock.shown(meta.ts_ns))
    }

    /// The driver reassembles IP fragments before this front sees them, and passes each
    /// fragment's verdict to [`admit_reassembled`](Self::admit_reassembled).
    pub fn reassembled_elsewhere(&mut self) {
        self.defrag_here = false;
    }

    /// [`admit`](Self::admit), for a front whose driver reassembled the frame already
    /// (`reasm`: its verdict, [`IpReasm::NotFragment`] for frames that are no fragments).
    pub fn admit_reassembled<'a>(
        &mut self,
        n: u64,
        meta: PacketMeta,
        raw: &'a [u8],
        reasm: IpReasm,
        frame: &mut Frame<'a>,
    ) -> Option<FrameTimes> {
        let times = self.admit(n, meta, raw, frame)?;
        if reasm != IpReasm::NotFragment {
            crate::track::defrag::apply(frame, reasm);
        }
        Some(times)
    }

    /// Track an admitted frame.
    pub fn track(&mut self, n: u64, ts: i64, frame: &Frame<'_>) -> Tracked {
        if self.checksums == ChecksumMode::Drop && decode::checksum::has_bad_checksum(frame) {
            // Zeek's rule: a segment the receiver's stack would discard is not part of the flow
            self.counts.bad_checksums_dropped += 1;
            return Tracked::default();
        }
        self.tracking.frame(n, ts, frame)
    }

    /// The tracking half of the expiry step: the connections finished by `ts`, in id order.
    pub fn expired(&mut self, ts: i64) -> Vec<ConnSummary> {
        self.tracking.expired(ts)
    }

    /// End of input: every connection still tracked, in id order.
    pub fn remaining(&mut self) -> Vec<ConnSummary> {
        self.tracking.remaining()
    }

    /// Adds the front's counts to a run's summary.
    pub fn summarise(&self, sum: &mut RunSummary) {
        sum.shown += self.counts.shown;
        sum.malformed += self.counts.malformed;
        sum.evicted += self.tracking.evicted();
        sum.flows.extend(self.tracking.flow_records());
        sum.bad_checksums += self.counts.bad_checksums;
        sum.bad_checksums_dropped += self.counts.bad_checksums_dropped;
        sum.defrag.add(&self.tracking.defrag.counts());
        for &(_, linktype) in &self.counts.unsupported {
            if !sum.unsupported_linktypes.contains(&linktype) {
                sum.unsupported_linktypes.push(linktype);
            }
        }
    }
}

/// Stage 4: message seams, for the flows tracking named (`None` inside: seams are off).
pub struct Back(Option<SeamState>);

/// The seam engine with its per-call output buffers.
struct SeamState {
    seams: Seams,
    out: SegOut,
    msgs: Vec<Message>,
    cap_dropped: u64,
}

impl SeamState {
    /// Hand every report of the last call on: messages of earlier frames, final messages.
    /// Returns the note for frame `n` itself.
    fn emit(&mut self, n: u64, sink: &mut dyn Sink) -> io::Result<Option<Carried>> {
        let mut mine = None;
        for e in &self.out.events {
            if let Event::CapDrop { len, .. } = e {
                self.cap_dropped += len;
            }
        }
        for c in &self.out.carried {
            if c.n == n {
                mine = Some(*c);
            } else {
                sink.late(c)?;
            }
        }
        self.seams.drain(&mut self.msgs);
        for m in self.msgs.drain(..) {
            sink.message_owned(m)?;
        }
        Ok(mine)
    }
}

impl Back {
    /// Whether the messages handed to the sink carry their frame lists (the sink's
    /// [`Sink::wants_message_frames`]); call before the first frame.
    pub fn frame_lists(&mut self, on: bool) {
        if let Some(state) = self.0.as_mut() {
            state.seams.set_frame_lists(on);
        }
    }

    /// The seam stage of a run of `opts`; `shares` stages of one run share its limits (each gets
    /// its part of the reassembly memory). `backing`: the run's frames all lie in it (file
    /// input; see [`Seams::set_backing`]). `annotated`: the sink looks at packets or messages
    /// (else no frame lists are kept).
    pub fn new(opts: &ReadOptions, shares: usize, backing: Option<Arc<dyn Backing>>, annotated: bool) -> Self {
        Back(opts.seams.clone().map(|cfg| {
            let mut seams = Seams::new(SeamConfig {
                global_cap: cfg.global_cap / shares.max(1),
                max_frames: if annotated { cfg.max_frames } else { 0 },
                reports: if annotated { cfg.reports } else { SeamReports::Counts },
                ..cfg
            });
            if let Some(b) = backing {
                seams.set_backing(b);
            }
            SeamState { seams, out: SegOut::default(), msgs: Vec::new(), cap_dropped: 0 }
        }))
    }

    /// A tracked frame: its payload to its flow's seams (FIN and RST close directions).
    /// Messages of earlier frames that it completes go to the sink first; returns the frame's
    /// own message note.
    pub fn frame(&mut self, n: u64, ts: i64, frame: &Frame<'_>, tracked: &Tracked, sink: &mut dyn Sink) -> io::Result<MsgNote> {
        let Some(st) = self.0.as_mut() else { return Ok(MsgNote::None) };
        match (&frame.net, &frame.transport, tracked) {
            (Net::Ip(_), Transport::Tcp(t), Tracked { tcp: Some(si), .. }) => {
                let mut note = MsgNote::None;
                if t.len > 0 {
                    let seg = SegIn {
                        n,
                        ts,
                        conn: si.conn,
                        dir: si.dir,
                        // A SYN's payload starts after the SYN's own sequence number.
                        rseq: if t.flags & tcpflags::SYN != 0 { si.rseq.wrapping_add(1) } else { si.rseq },
                        len: t.len,
                        payload: frame.transport_payload(),
                        retransmission: si.analysis.has(Analysis::RETRANSMISSION),
                        wire: match si.offload {
                            None => WireSegs::Whole,
                            Some(Offload::Segments { mss, .. }) => WireSegs::Offload { mss },
                            Some(Offload::UnknownMss) => WireSegs::Unknown,
                        },
                    };
                    st.seams.tcp_segment(&seg, &mut st.out);
                    note = st.emit(n, sink)?.map_or(MsgNote::Pending, MsgNote::Known);
                }
                if t.flags & tcpflags::RST != 0 {
                    for d in [Dir::C2S, Dir::S2C] {
                        st.seams.close_dir(si.conn, d, None, &mut st.out);
                        st.emit(0, sink)?;
                    }
                } else if t.flags & tcpflags::FIN != 0 {
                    st.seams.close_dir(si.conn, si.dir, Some(si.rseq.wrapping_add(t.len)), &mut st.out);
                    if let Some(c) = st.emit(n, sink)? {
                        note = MsgNote::Known(c);
                    }
                }
                Ok(note)
            }
            (_, Transport::Udp(_), Tracked { udp: Some(u), .. }) => {
                let fragments = frame.reasm.datagram().map_or(&[][..], |d| &d.frames[..]);
                st.seams.udp_datagram(
                    &Datagram { flow: u.flow, dir: u.dir, n, ts, payload: frame.transport_payload(), fragments },
                    &mut st.out,
                );
                Ok(st.emit(n, sink)?.map_or(MsgNote::None, MsgNote::Known))
            }
            _ => Ok(MsgNote::None),
        }
    }

    /// The seam half of the expiry step (and of the end of input): each connection's last
    /// messages, then its record, then its state is freed.
    pub fn conns_done(&mut self, done: Vec<ConnSummary>, sink: &mut dyn Sink) -> io::Result<()> {
        for summary in done {
            self.conn_done(summary, sink)?;
        }
        Ok(())
    }

    /// One connection of the expiry step (see [`conns_done`](Self::conns_done)).
    pub fn conn_done(&mut self, summary: ConnSummary, sink: &mut dyn Sink) -> io::Result<()> {
        let Some(st) = self.0.as_mut() else {
            return sink.conn_owned(ConnRecord { summary, seams: [None, None], kept: Default::default() });
        };
        let conn = summary.conn;
        for d in [Dir::C2S, Dir::S2C] {
            st.seams.close_dir(conn, d, None, &mut st.out);
            st.emit(0, sink)?;
        }
        let seams = [st.seams.summary(conn, Dir::C2S), st.seams.summary(conn, Dir::S2C)];
        let kept = [Dir::C2S, Dir::S2C].map(|d| {
            let (bytes, timeline, head) = st.seams.take_kept(conn, d);
            Kept { bytes, timeline, head }
        });
        sink.conn_owned(ConnRecord { summary, seams, kept })?;
        st.seams.release(conn, &mut st.out);
        st.emit(0, sink).map(|_| ())
    }

    /// End of input, after the last connection: whatever the seam engine still holds.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        if let Some(st) = self.0.as_mut() {
            st.seams.finish(&mut st.out, &mut st.msgs);
            for c in &st.out.carried {
                sink.late(c)?;
            }
            for m in st.msgs.drain(..) {
                sink.message_owned(m)?;
            }
        }
        Ok(())
    }

    /// Stream bytes dropped by the memory caps.
    pub fn cap_dropped(&self) -> u64 {
        self.0.as_ref().map_or(0, |s| s.cap_dropped)
    }
}

/// A whole core: front and back on one thread.
pub struct Core {
    /// Filter, decode, track.
    pub front: Front,
    /// Seams.
    pub back: Back,
}

impl Core {
    /// A core for `opts`; `track` and `shares` as for [`Front::new`] and [`Back::new`].
    pub fn new(
        opts: &ReadOptions,
        linktype: u32,
        track: TrackConfig,
        shares: usize,
        backing: Option<Arc<dyn Backing>>,
        annotated: bool,
    ) -> Result<Self, FilterError> {
        Ok(Core { front: Front::new(opts, linktype, track)?, back: Back::new(opts, shares, backing, annotated) })
    }

    /// Track an admitted frame, then its seams; messages of earlier frames that it completes go
    /// to the sink first.
    pub fn frame(&mut self, n: u64, ts: i64, frame: &Frame<'_>, sink: &mut dyn Sink) -> io::Result<FrameFacts> {
        let tracked = self.front.track(n, ts, frame);
        let msgs = self.back.frame(n, ts, frame, &tracked, sink)?;
        Ok(FrameFacts { tracked, msgs })
    }

    /// The expiry step at capture time `ts`.
    pub fn expire(&mut self, ts: i64, sink: &mut dyn Sink) -> io::Result<()> {
        let done = self.front.expired(ts);
        self.back.conns_done(done, sink)
    }

    /// End of input: every connection still tracked, then what the seams still hold.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        let rest = self.front.remaining();
        self.back.conns_done(rest, sink)?;
        self.back.finish(sink)
    }

    /// Adds the core's counts to a run's summary (`frames` and `damage` are the walk's).
    pub fn summarise(&self, sum: &mut RunSummary, opts: &ReadOptions) {
        self.front.summarise(sum);
        sum.cap_dropped_bytes += self.back.cap_dropped();
        sum.max_conns = opts.track.max_conns;
    }
}
