//! JSON lines following `docs/json-lines.md`: one object per line, fields in a fixed order,
//! written straight into the output buffer (no intermediate values, no allocation).

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;
use std::io::{self, Write};

use super::line::{Decimal, Line};
use super::time::{write_rfc3339, write_secs};
use crate::analyze::{Carried, FramingSpec, Message};
use crate::decode::{oui, tcpflags, Frame, Link, MacAddr, Net, Transport};
use crate::pipeline::{ConnRecord, MsgNote, PacketView, Sink};
use crate::track::tcp::{ConnSummary, Dir, Offload};
use crate::track::FlowId;

/// `--format json`: packet, message and conn records as JSON lines (`docs/json-lines.md`).
pub struct JsonSink<W: Write> {
    w: W,
    waiting: super::Deferred,
    /// The latest message of each direction, written once the next one (or the end) says its
    /// `next_gap`. A hash map: a message record is one lookup; the end sorts what is left.
    held: FxHashMap<(FlowId, Dir), Message>,
    /// The record being written, handed to `w` in one write (see [`Line`]).
    line: Line,
    /// Text that repeats from frame to frame.
    recent: Recent,
}

/// What a packet record repeats from the frames before it.
#[derive(Default)]
struct Recent {
    macs: super::recent::MacPairs,
    second: super::recent::Second,
}

impl<W: Write> JsonSink<W> {
    /// A sink writing to `w`.
    pub fn new(w: W) -> Self {
        JsonSink {
            w,
            waiting: super::Deferred::new(768),
            held: FxHashMap::default(),
            line: Line::with_capacity(1024),
            recent: Recent::default(),
        }
    }
    /// The writer back, after [`Sink::finish`] has flushed everything held back.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// `,"key":123` without going through core::fmt (the per-frame fields). Inlined, so that the
/// key is a copy of known length (a few stores), not a `memcpy` call.
#[inline(always)]
fn int(w: &mut Line, key: &[u8], value: impl Decimal) -> io::Result<()> {
    w.put(key);
    value.put_into(w);
    Ok(())
}

/// Write `text` as a JSON string literal (RFC 8259 escapes; other control characters as `\u00XX`).
pub fn write_str(w: &mut impl Write, text: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        w.write_all(&bytes[start..i])?;
        match escape {
            Some(escape) => w.write_all(escape)?,
            None => write!(w, "\\u{byte:04x}")?,
        }
        start = i + 1;
    }
    w.write_all(&bytes[start..])?;
    w.write_all(b"\"")
}

fn write_mac(w: &mut impl Write, mac: &MacAddr) -> io::Result<()> {
    w.write_all(b"\"")?;
    w.write_all(&mac.fmt_buf())?;
    w.write_all(b"\"")
}

/// `"src_vendor":"..."` or `"src_class":"..."` extras (not in `docs/json-lines.md`, which allows additions).
fn write_mac_notes(w: &mut impl Write, key: &str, mac: &MacAddr) -> io::Result<()> {
    if let Some(class) = mac.class() {
        w.write_all(b",\"")?;
        w.write_all(key.as_bytes())?;
        w.write_all(b"_class\":\"")?;
        w.write_all(class.as_bytes())?;
        w.write_all(b"\"")?;
    } else if let Some(vendor) = oui::vendor(mac) {
        w.write_all(b",\"")?;
        w.write_all(key.as_bytes())?;
        w.write_all(b"_vendor\":")?;
        write_str(w, vendor)?;
    }
    Ok(())
}

/// The packet record up to the open transport object (TCP/UDP), whose `messages` may come later.
fn write_head(w: &mut Line, view: &PacketView<'_, '_>, recent: &mut Recent) -> io::Result<()> {
    let frame: &Frame = view.frame;
    int(w, b"{\"type\":\"packet\",\"n\":", view.n)?;
    if let Some(file) = view.file {
        w.write_all(b",\"file\":")?;
        super::escape::write_json_bytes(w, file.as_os_str().as_encoded_bytes())?;
    }
    if view.meta.stamped {
        w.write_all(b",\"t\":")?;
        let (text, len) = super::time::secs_buf(view.rel_ns, view.meta.nanos);
        w.put_first(&text, len);
        w.write_all(b",\"ts\":\"")?;
        let (text, len) = recent.second.rfc3339(view.meta.ts_ns, view.meta.nanos);
        w.put_first(&text, len);
        w.write_all(b"\"")?;
    } else {
        // A pcapng Simple Packet Block: no timestamp.
        w.write_all(b",\"t\":null,\"ts\":null")?;
    }
    int(w, b",\"len\":", view.meta.len)?;
    int(w, b",\"caplen\":", view.meta.caplen)?;
    match frame.link {
        Link::Ethernet { src, dst } => {
            let pair = recent.macs.get(src, dst, |src, dst, addrs, notes| {
                let _ = addrs.write_all(b",\"eth\":{\"src\":");
                let _ = write_mac(addrs, &src);
                let _ = addrs.write_all(b",\"dst\":");
                let _ = write_mac(addrs, &dst);
                let _ = write_mac_notes(notes, "src", &src);
                let _ = write_mac_notes(notes, "dst", &dst);
            });
            w.put(&pair.addrs);
            if let Some(ethertype) = frame.ethertype {
                int(w, b",\"type\":", ethertype)?;
            }
            if frame.nvlan > 0 {
                w.write_all(b",\"vlan\":[")?;
                for (i, vlan) in frame.vlans().iter().enumerate() {
                    write!(w, "{}{vlan}", if i > 0 { "," } else { "" })?;
                }
                w.write_all(b"]")?;
            }
            w.put(&pair.notes);
            w.write_all(b"}")?;
        }
        Link::Sll { v2, pkttype, hatype, .. } => {
            write!(w, ",\"sll\":{{\"version\":{},\"pkttype\":{pkttype},\"hatype\":{hatype}", if v2 { 2 } else { 1 })?;
            if let Some(mac) = frame.link.sll_mac() {
                w.write_all(b",\"src\":")?;
                write_mac(w, &mac)?;
            }
            if let Some(ethertype) = frame.ethertype {
                write!(w, ",\"type\":{ethertype}")?;
            }
            w.write_all(b"}")?;
        }
        ref link => super::link::write_json(w, link, frame.ethertype)?,
    }
    if !frame.encaps.is_empty() {
        write_encap(w, &frame.encaps)?;
    }
    match &frame.net {
        Net::Arp(arp) => {
            w.write_all(b",\"arp\":{\"op\":")?;
            match arp.op {
                1 => w.write_all(b"\"request\"")?,
                2 => w.write_all(b"\"reply\"")?,
                op => write!(w, "{op}")?,
            }
            if let Some(addrs) = arp.eth_ipv4 {
                w.write_all(b",\"sha\":")?;
                write_mac(w, &addrs.sha)?;
                write!(w, ",\"spa\":\"{}\",\"tha\":", addrs.spa)?;
                write_mac(w, &addrs.tha)?;
                write!(w, ",\"tpa\":\"{}\"", addrs.tpa)?;
            }
            if let Some(kind) = arp.kind() {
                write!(w, ",\"kind\":\"{}\"", kind.name())?;
            }
            if let Some(conflict) = view.arp_conflict {
                w.write_all(b",\"conflict\":{\"previous\":")?;
                write_mac(w, &conflict.previous)?;
                write!(w, ",\"frame\":{}}}", conflict.previous_frame)?;
            }
            w.write_all(b"}")?;
        }
        Net::Ip(ip) => {
            int(w, b",\"ip\":{\"version\":", ip.version)?;
            w.write_all(b",\"src\":\"")?;
            super::put_ip(w, &ip.src)?;
            w.write_all(b"\",\"dst\":\"")?;
            super::put_ip(w, &ip.dst)?;
            int(w, b"\",\"ttl\":", ip.ttl)?;
            int(w, b",\"proto\":", ip.proto)?;
            if let Some(id) = ip.id {
                int(w, b",\"id\":", id)?;
            }
            if let Some((offset, more)) = ip.frag {
                write!(w, ",\"frag\":{{\"offset\":{offset},\"more\":{more}}}")?;
            }
            if let Some(d) = frame.reasm.datagram() {
                w.write_all(b",\"reassembled\":{\"frames\":[")?;
                for (i, n) in d.frames.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",")?;
                    }
                    int(w, b"", *n)?;
                }
                int(w, b"],\"len\":", d.len)?;
                w.write_all(b"}")?;
            }
            w.write_all(b"}")?;
            match view.tcp.and_then(|seg| seg.offload) {
                Some(Offload::Segments { mss, segments }) => write!(w, ",\"offload\":{{\"mss\":{mss},\"segments\":{segments}}}")?,
                Some(Offload::UnknownMss) => w.write_all(b",\"offload\":{\"mss\":null,\"segments\":null}")?,
                None => {}
            }
        }
        Net::None | Net::Other(_) => {}
    }
    let reasm = reasm_warnings(frame);
    if !frame.warnings.is_empty() || reasm.iter().any(Option::is_some) {
        w.write_all(b",\"warnings\":[")?;
        let mut buf = Vec::new();
        let mut first = true;
        for warn in frame.warnings.iter() {
            if !std::mem::take(&mut first) {
                w.write_all(b",")?;
            }
            buf.clear();
            write!(buf, "{warn}")?;
            write_str(w, std::str::from_utf8(&buf).unwrap_or("?"))?;
        }
        for text in reasm.iter().flatten() {
            if !std::mem::take(&mut first) {
                w.write_all(b",")?;
            }
            write_str(w, text)?;
        }
        w.write_all(b"]")?;
    }
    match &frame.transport {
        Transport::Udp(udp) => {
            int(w, b",\"udp\":{\"sport\":", udp.sport)?;
            int(w, b",\"dport\":", udp.dport)?;
            int(w, b",\"len\":", udp.len)?;
        }
        Transport::Icmp(icmp) => {
            write!(w, ",\"icmp\":{{\"type\":{},\"code\":{}", icmp.ty, icmp.code)?;
            if let Some(q) = &icmp.quoted {
                int(w, b",\"quoted\":{\"proto\":", q.proto)?;
                w.write_all(b",\"src\":\"")?;
                super::write_ip(w, &q.src)?;
                w.write_all(b"\",\"dst\":\"")?;
                super::write_ip(w, &q.dst)?;
                w.write_all(b"\"")?;
                if let Some((sport, dport)) = q.ports {
                    int(w, b",\"sport\":", sport)?;
                    int(w, b",\"dport\":", dport)?;
                }
                if let Some(flow) = view.icmp_about {
                    int(w, b",\"conn\":", flow.id())?;
                }
                w.write_all(b"}")?;
            }
            w.write_all(b"}")?;
        }
        Transport::Tcp(tcp) => {
            int(w, b",\"tcp\":{\"sport\":", tcp.sport)?;
            int(w, b",\"dport\":", tcp.dport)?;
            w.write_all(b",\"flags\":[")?;
            let mut first = true;
            for (i, name) in tcpflags::NAMES.iter().enumerate() {
                if tcp.flags & (1 << i) != 0 {
                    if !first {
                        w.write_all(b",")?;
                    }
                    first = false;
                    w.write_all(b"\"")?;
                    w.write_all(name.as_bytes())?;
                    w.write_all(b"\"")?;
                }
            }
            w.write_all(b"]")?;
            int(w, b",\"seq\":", tcp.seq)?;
            int(w, b",\"ack\":", tcp.ack)?;
            if let Some(seg) = &view.tcp {
                int(w, b",\"rseq\":", seg.rseq)?;
                if let Some(rack) = seg.rack {
                    int(w, b",\"rack\":", rack)?;
                }
            }
            int(w, b",\"len\":", tcp.len)?;
            int(w, b",\"win\":", tcp.win)?;
            if let Some(seg) = &view.tcp {
                match seg.win_scaled {
                    Some(scaled) => int(w, b",\"win_scaled\":", scaled)?,
                    None => w.write_all(b",\"win_scaled\":null")?,
                }
            }
            let opts = &tcp.opts;
            if let Some(mss) = opts.mss {
                int(w, b",\"mss\":", mss)?;
            }
            if let Some(shift) = opts.ws {
                int(w, b",\"ws\":", shift)?;
            }
            if opts.sack_perm {
                w.write_all(b",\"sack_perm\":true")?;
            }
            if opts.nsack > 0 {
                // SACK blocks acknowledge the peer's bytes: relative to the peer's ISN
                // (the acknowledged direction), absolute when that is not known.
                let base = view.tcp.and_then(|seg| seg.ack_base).unwrap_or(0);
                w.write_all(b",\"sack\":[")?;
                for (i, (left, right)) in opts.sack().iter().enumerate() {
                    write!(w, "{}[{},{}]", if i > 0 { "," } else { "" }, left.wrapping_sub(base), right.wrapping_sub(base))?;
                }
                w.write_all(b"]")?;
            }
            if let Some((tsval, tsecr)) = opts.ts {
                int(w, b",\"ts\":[", tsval)?;
                int(w, b",", tsecr)?;
                w.write_all(b"]")?;
            }
            if let Some(seg) = &view.tcp {
                int(w, b",\"conn\":", seg.conn)?;
                w.write_all(if seg.dir == crate::track::tcp::Dir::C2S { b",\"dir\":\"c2s\"" } else { b",\"dir\":\"s2c\"" })?;
                match seg.phase {
                    crate::track::tcp::Phase::Data => w.write_all(b",\"phase\":\"data\"")?,
                    ref phase => write!(w, ",\"phase\":\"{phase}\"")?,
                }
                w.write_all(b",\"state\":{\"client\":\"")?;
                w.write_all(seg.client.name().as_bytes())?;
                w.write_all(b"\",\"server\":\"")?;
                w.write_all(seg.server.name().as_bytes())?;
                w.write_all(b"\"},\"analysis\":[")?;
                for (i, name) in seg.analysis.names().enumerate() {
                    w.write_all(if i > 0 { b",\"" } else { b"\"" })?;
                    w.write_all(name.as_bytes())?;
                    w.write_all(b"\"")?;
                }
                w.write_all(b"]")?;
                if let Some(in_flight) = seg.bytes_in_flight {
                    int(w, b",\"bytes_in_flight\":", in_flight)?;
                }
                if seg.dup_ack_num > 0 {
                    write!(w, ",\"dup_ack_num\":{},\"dup_ack_of\":{}", seg.dup_ack_num, seg.dup_ack_of)?;
                }
            }
        }
        Transport::Other(_) | Transport::None => {}
    }
    Ok(())
}

/// `,"messages":[3,4,5]` inside the transport object.
fn write_messages(w: &mut dyn Write, carried: Option<&Carried>) -> io::Result<()> {
    if let Some(carried) = carried {
        w.write_all(b",\"messages\":[")?;
        let mut digits = itoa::Buffer::new();
        for (i, idx) in carried.indices().enumerate() {
            w.write_all(if i > 0 { b"," } else { b"" })?;
            w.write_all(digits.format(idx).as_bytes())?;
        }
        w.write_all(b"]")?;
    }
    Ok(())
}

/// Close the transport object, add the application layer, then close the record.
fn write_tail(w: &mut Line, view: &PacketView<'_, '_>) -> io::Result<()> {
    if matches!(view.frame.transport, Transport::Tcp(_) | Transport::Udp(_)) {
        w.write_all(b"}")?;
    }
    super::app::write_json(w, view.frame)?;
    w.write_all(b"}\n")
}

/// Nanoseconds from the arrival of `msg`'s last byte to that of `next`'s first, when they came in
/// different frames (in one frame they are glued on the wire, not in the receive buffer).
pub(crate) fn next_gap(msg: &Message, next: &Message) -> Option<i64> {
    let apart = msg.frames.last() != next.frames.first() || msg.frames.is_empty();
    apart.then(|| next.first_ts.saturating_sub(msg.last_ts).max(0))
}

/// The `message` record of `docs/json-lines.md`; `next_gap` in ns (absent for the last message
/// of a direction, or when the next came in the same frame).
pub fn write_message(w: &mut Line, msg: &Message, next_gap: Option<i64>) -> io::Result<()> {
    // Without core::fmt: one record per message, and on small messages as many as packets.
    let bool_ = |b: bool| if b { &b"true"[..] } else { &b"false"[..] };
    int(w, b"{\"type\":\"message\",\"conn\":", msg.flow.id())?;
    if msg.flow.is_udp() {
        w.write_all(b",\"proto\":\"udp\"")?;
    }
    w.write_all(match msg.dir {
        Dir::C2S => b",\"dir\":\"c2s\"",
        Dir::S2C => b",\"dir\":\"s2c\"",
    })?;
    int(w, b",\"index\":", msg.index)?;
    int(w, b",\"offset\":", msg.offset)?;
    int(w, b",\"len\":", msg.len)?;
    w.write_all(b",\"framing\":\"")?;
    match msg.framing.plain_name() {
        Some(name) => w.write_all(name.as_bytes())?,
        None => write!(w, "{}", msg.framing)?,
    }
    w.write_all(b"\",\"frames\":[")?;
    for (i, &frame) in msg.frames.iter().enumerate() {
        int(w, if i > 0 { b"," } else { b"" }, frame)?;
    }
    if msg.framing == FramingSpec::Segment || msg.wire_unknown {
        // No framing recognised: where the sender's messages end is unknown; or an offloaded
        // frame of unknown wire segmentation carried it.
        w.write_all(b"],\"sticky\":null,\"split\":null,\"complete\":")?;
    } else {
        w.write_all(b"],\"sticky\":")?;
        w.write_all(bool_(msg.sticky))?;
        w.write_all(b",\"split\":")?;
        w.write_all(bool_(msg.split))?;
        w.write_all(b",\"complete\":")?;
    }
    w.write_all(bool_(msg.complete))?;
    if msg.nframes as usize > msg.frames.len() {
        int(w, b",\"nframes\":", msg.nframes)?;
    }
    if let Some(gap) = next_gap {
        w.write_all(b",\"next_gap\":")?;
        write_secs(w, gap, true)?;
    }
    w.write_all(b"}\n")
}

impl<W: Write> Sink for JsonSink<W> {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        if self.waiting.must_wait(&view.msgs) {
            let (mut head, mut tail) = self.waiting.buffers();
            write_head(&mut head, view, &mut self.recent)?;
            write_tail(&mut tail, view)?;
            self.waiting.push(view.n, head, tail, &view.msgs);
            return self.waiting.flush(&mut self.w, false, &mut write_messages);
        }
        let line = &mut self.line;
        line.clear();
        write_head(line, view, &mut self.recent)?;
        if let MsgNote::Known(carried) = &view.msgs {
            write_messages(line, Some(carried))?;
        }
        write_tail(line, view)?;
        self.w.write_all(line.as_bytes())
    }

    fn late(&mut self, carried: &Carried) -> io::Result<()> {
        self.waiting.resolve(carried);
        self.waiting.flush(&mut self.w, false, &mut write_messages)
    }

    fn message(&mut self, msg: &Message) -> io::Result<()> {
        self.message_owned(msg.clone())
    }

    fn message_owned(&mut self, msg: Message) -> io::Result<()> {
        // Messages of a direction are final in index order, so the one held is the previous.
        match self.held.entry((msg.flow, msg.dir)) {
            Entry::Occupied(mut held) => {
                let previous = held.insert(msg);
                self.line.clear();
                write_message(&mut self.line, &previous, next_gap(&previous, held.get()))?;
                self.w.write_all(self.line.as_bytes())?;
            }
            Entry::Vacant(slot) => {
                slot.insert(msg);
            }
        }
        Ok(())
    }

    fn conn(&mut self, record: &ConnRecord) -> io::Result<()> {
        let flow = FlowId::Tcp(record.summary.conn);
        for dir in [Dir::C2S, Dir::S2C] {
            if let Some(last) = self.held.remove(&(flow, dir)) {
                self.line.clear();
                write_message(&mut self.line, &last, None)?;
                self.w.write_all(self.line.as_bytes())?;
            }
        }
        write_conn(&mut self.w, &record.summary, &super::conns::seam_counts(&record.seams))
    }

    fn finish(&mut self, summary: &crate::pipeline::RunSummary) -> io::Result<()> {
        let mut left: Vec<_> = std::mem::take(&mut self.held).into_iter().collect();
        left.sort_unstable_by_key(|(key, _)| *key);
        for (_, last) in left {
            self.line.clear();
            write_message(&mut self.line, &last, None)?;
            self.w.write_all(self.line.as_bytes())?;
        }
        // UDP and ICMP flows: final only now, after their message records
        for flow in &summary.flows {
            write_conn(&mut self.w, flow, &[None, None])?;
        }
        self.waiting.flush(&mut self.w, true, &mut write_messages)?;
        self.w.flush()
    }
}

/// A value, or `null`.
fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "null".to_string(), |value| value.to_string())
}

/// The `conn` record of `docs/json-lines.md` (plus `sack_perm`, `timestamps`, times and frame range).
pub fn write_conn(w: &mut impl Write, conn: &ConnSummary, seams: &super::conns::SeamCounts) -> io::Result<()> {
    if conn.proto != crate::track::Proto::Tcp {
        return write_flow(w, conn);
    }
    write!(w, "{{\"type\":\"conn\",\"conn\":{},\"client\":\"{}\",\"server\":\"{}\"", conn.conn, conn.client, conn.server)?;
    write!(w, ",\"conn_state\":\"{}\",\"history\":", conn.conn_state)?;
    write_str(w, &conn.history)?;
    write!(w, ",\"client_state\":\"{}\",\"server_state\":\"{}\"", conn.client_state.name(), conn.server_state.name())?;
    write!(w, ",\"mss\":{{\"client\":{},\"server\":{}}}", opt(conn.mss.0), opt(conn.mss.1))?;
    write!(w, ",\"ws\":{{\"client\":{},\"server\":{}}}", opt(conn.ws.0), opt(conn.ws.1))?;
    w.write_all(b",\"irtt\":")?;
    match conn.irtt {
        Some(ns) => write_secs(w, ns, true)?,
        None => w.write_all(b"null")?,
    }
    write!(w, ",\"packets\":{{\"c2s\":{},\"s2c\":{}}}", conn.packets[0], conn.packets[1])?;
    write!(w, ",\"bytes\":{{\"c2s\":{},\"s2c\":{}}}", conn.bytes[0], conn.bytes[1])?;
    write!(w, ",\"missed_bytes\":{{\"c2s\":{},\"s2c\":{}}}", conn.missed_bytes[0], conn.missed_bytes[1])?;
    write!(w, ",\"retransmissions\":{},\"dup_acks\":{},\"zero_windows\":{}", conn.retransmissions, conn.dup_acks, conn.zero_windows)?;
    write!(w, ",\"sack_perm\":{},\"timestamps\":{}", conn.sack_perm, conn.timestamps)?;
    write_span(w, conn)?;
    if seams.iter().any(|dir| dir.is_some()) {
        let count =
            |field: &dyn Fn(&super::conns::DirCounts) -> u64| [seams[0].as_ref().map_or(0, field), seams[1].as_ref().map_or(0, field)];
        let messages = count(&|dir| dir.messages);
        write!(w, ",\"messages\":{{\"c2s\":{},\"s2c\":{}}}", messages[0], messages[1])?;
        w.write_all(b",\"framing\":{")?;
        for (i, (key, dir)) in [("c2s", &seams[0]), ("s2c", &seams[1])].into_iter().enumerate() {
            write!(w, "{}\"{key}\":", if i > 0 { "," } else { "" })?;
            match dir.as_ref().and_then(|dir| dir.framing) {
                Some(spec) => write!(w, "\"{spec}\"")?,
                None => w.write_all(b"null")?,
            }
        }
        w.write_all(b"}")?;
        // Unknown (null) under segment framing; 0 for a direction without payload.
        let known = |field: &dyn Fn(&super::conns::DirCounts) -> Option<u64>| {
            [seams[0].as_ref().map_or(Some(0), field), seams[1].as_ref().map_or(Some(0), field)].map(opt)
        };
        let sticky = known(&|dir| dir.sticky);
        let split = known(&|dir| dir.split);
        write!(w, ",\"sticky\":{{\"c2s\":{},\"s2c\":{}}},\"split\":{{\"c2s\":{},\"s2c\":{}}}", sticky[0], sticky[1], split[0], split[1])?;
        let gaps = count(&|dir| dir.gaps);
        write!(w, ",\"gaps\":{{\"c2s\":{},\"s2c\":{}}}", gaps[0], gaps[1])?;
    }
    w.write_all(b"}\n")
}

/// What IP reassembly says of a frame beyond `ip.frag`/`ip.reassembled`, as warning strings:
/// a discarded datagram, an overlap, a tiny first fragment.
pub(crate) fn reasm_warnings(frame: &Frame<'_>) -> [Option<&'static str>; 3] {
    use crate::decode::{IpReasm, Overlap};
    let Some(note) = frame.reasm.note() else { return [None; 3] };
    let dropped = match &frame.reasm {
        IpReasm::Dropped(_, why) => Some(why.words()),
        _ => None,
    };
    let overlap = note.overlap.map(|o| match o {
        Overlap::Same => "fragment overlaps an earlier fragment (same bytes)",
        Overlap::Differs => "fragment overlaps an earlier fragment with different bytes: first copy kept (possible evasion)",
    });
    let tiny = note.tiny.then_some("tiny first fragment: too short for the transport header (RFC 1858)");
    [dropped, overlap, tiny]
}

/// `start`, `duration`, the frame range and `icmp_errors` (when any): the keys every `conn`
/// record has in that place, whatever its protocol.
fn write_span(w: &mut impl Write, conn: &ConnSummary) -> io::Result<()> {
    w.write_all(b",\"start\":\"")?;
    write_rfc3339(w, conn.first_ts, false)?;
    w.write_all(b"\",\"duration\":")?;
    write_secs(w, conn.last_ts.saturating_sub(conn.first_ts), false)?;
    write!(w, ",\"first_frame\":{},\"last_frame\":{}", conn.first_frame, conn.last_frame)?;
    if conn.icmp_errors > 0 {
        write!(w, ",\"icmp_errors\":{}", conn.icmp_errors)?;
    }
    if let Some(tunnel) = &conn.tunnel {
        w.write_all(b",\"tunnel\":")?;
        write_str(w, tunnel)?;
    }
    Ok(())
}

/// The `conn` record of a UDP or ICMP flow: the contract's keys for those protocols (TCP-only
/// keys absent); `messages` per direction for UDP, one per datagram.
fn write_flow(w: &mut impl Write, flow: &ConnSummary) -> io::Result<()> {
    write!(
        w,
        "{{\"type\":\"conn\",\"conn\":{},\"proto\":\"{}\",\"client\":\"{}\",\"server\":\"{}\",\"conn_state\":\"{}\",\"history\":",
        flow.conn,
        flow.proto.name(),
        flow.client,
        flow.server,
        flow.conn_state
    )?;
    write_str(w, &flow.history)?;
    write!(w, ",\"packets\":{{\"c2s\":{},\"s2c\":{}}}", flow.packets[0], flow.packets[1])?;
    write!(w, ",\"bytes\":{{\"c2s\":{},\"s2c\":{}}}", flow.bytes[0], flow.bytes[1])?;
    write_span(w, flow)?;
    if flow.proto == crate::track::Proto::Udp {
        write!(w, ",\"messages\":{{\"c2s\":{},\"s2c\":{}}}", flow.packets[0], flow.packets[1])?;
    }
    w.write_all(b"}\n")
}

/// The `encap` list: each tunnel layer, outermost first, with its identifiers and the outer
/// addresses that carried it.
fn write_encap(w: &mut impl Write, encaps: &crate::decode::Encaps) -> io::Result<()> {
    use crate::decode::Encap;
    w.write_all(b",\"encap\":[")?;
    for (i, layer) in encaps.iter().enumerate() {
        write!(w, "{}{{\"kind\":\"{}\"", if i > 0 { "," } else { "" }, layer.encap.kind())?;
        match layer.encap {
            Encap::Gre { version, proto, key, seq } => {
                write!(w, ",\"version\":{version},\"proto\":{proto}")?;
                if let Some(key) = key {
                    write!(w, ",\"key\":{key}")?;
                }
                if let Some(seq) = seq {
                    write!(w, ",\"seq\":{seq}")?;
                }
            }
            Encap::Erspan { kind, session, vlan, cos, index_or_time } => {
                write!(w, ",\"type\":{kind}")?;
                if let Some(session) = session {
                    write!(w, ",\"session\":{session}")?;
                }
                if let Some(vlan) = vlan {
                    write!(w, ",\"vlan\":{vlan}")?;
                }
                if let Some(cos) = cos {
                    write!(w, ",\"cos\":{cos}")?;
                }
                match index_or_time {
                    Some(crate::decode::tunnel::ErspanExtra::Index(i)) => write!(w, ",\"index\":{i}")?,
                    Some(crate::decode::tunnel::ErspanExtra::Timestamp(t)) => write!(w, ",\"timestamp\":{t}")?,
                    None => {}
                }
            }
            Encap::Vxlan { vni } => write!(w, ",\"vni\":{vni}")?,
            Encap::Geneve { vni, proto, opt_len } => write!(w, ",\"vni\":{vni},\"proto\":{proto},\"opt_len\":{opt_len}")?,
            Encap::GtpU { teid, seq, extensions } => {
                write!(w, ",\"teid\":{teid}")?;
                if let Some(seq) = seq {
                    write!(w, ",\"seq\":{seq}")?;
                }
                if extensions > 0 {
                    write!(w, ",\"extensions\":{extensions}")?;
                }
            }
            Encap::Teredo { origin } => {
                if let Some((port, addr)) = origin {
                    write!(w, ",\"origin_addr\":\"{addr}\",\"origin_port\":{port}")?;
                }
            }
            Encap::IpInIp(_) => {}
            Encap::Mpls { .. } => {
                w.write_all(b",\"labels\":[")?;
                for (j, label) in layer.encap.labels().iter().enumerate() {
                    write!(w, "{}{label}", if j > 0 { "," } else { "" })?;
                }
                w.write_all(b"]")?;
                if let Encap::Mpls { pseudowire, depth, .. } = layer.encap {
                    write!(w, ",\"depth\":{depth}")?;
                    match pseudowire {
                        crate::decode::tunnel::Pseudowire::None => {}
                        crate::decode::tunnel::Pseudowire::Ethernet => w.write_all(b",\"pw\":\"eth\"")?,
                        crate::decode::tunnel::Pseudowire::EthernetWithControlWord => w.write_all(b",\"pw\":\"eth-cw\"")?,
                    }
                }
            }
            Encap::Pppoe { session, ppp } => write!(w, ",\"session\":{session},\"ppp\":{ppp}")?,
            Encap::Ether { src, dst, ethertype, vlans, nvlan } => {
                w.write_all(b",\"src\":")?;
                write_mac(w, &src)?;
                w.write_all(b",\"dst\":")?;
                write_mac(w, &dst)?;
                write!(w, ",\"type\":{ethertype}")?;
                if nvlan > 0 {
                    w.write_all(b",\"vlan\":[")?;
                    for (i, vlan) in vlans[..usize::from(nvlan)].iter().enumerate() {
                        write!(w, "{}{vlan}", if i > 0 { "," } else { "" })?;
                    }
                    w.write_all(b"]")?;
                }
            }
        }
        if let Some((src, dst)) = layer.outer {
            write!(w, ",\"src\":\"{src}\",\"dst\":\"{dst}\"")?;
        }
        if let Some((sport, dport)) = layer.udp {
            write!(w, ",\"sport\":{sport},\"dport\":{dport}")?;
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(index: u64, frames: &[u64], first_ts: i64, last_ts: i64) -> Message {
        Message {
            flow: FlowId::Tcp(0),
            dir: Dir::C2S,
            index,
            offset: 0,
            len: 5,
            framing: FramingSpec::Lines,
            frames: frames.to_vec(),
            nframes: frames.len() as u64,
            sticky: false,
            split: false,
            wire_unknown: false,
            complete: true,
            first_ts,
            last_ts,
            head: None,
        }
    }

    #[test]
    fn next_gap_only_between_frames() {
        // "hello" in frame 4 at 1.000 s, "world" in frame 6 at 1.041 ms later: 41 µs apart.
        assert_eq!(next_gap(&msg(0, &[4], 1_000_000_000, 1_000_000_000), &msg(1, &[6], 1_000_041_000, 1_000_041_000)), Some(41_000));
        // Both in frame 4: glued on the wire, no arrival gap.
        assert_eq!(next_gap(&msg(0, &[3, 4], 0, 10), &msg(1, &[4], 10, 10)), None);
        let mut sink = JsonSink::new(Vec::new());
        sink.message_owned(msg(0, &[4], 1_000_000_000, 1_000_000_000)).unwrap();
        assert!(sink.w.is_empty(), "held until the next message says its gap");
        sink.message_owned(msg(1, &[6], 1_000_041_000, 1_000_041_000)).unwrap();
        let out = String::from_utf8(sink.w.clone()).unwrap();
        assert!(out.ends_with(",\"next_gap\":0.000041000}\n"), "{out}");
    }

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        write_str(&mut v, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }
}
