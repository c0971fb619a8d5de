//! JSON lines following `shared/contract/json-lines.md`: one object per line, fields in a fixed
//! order, written straight into the output buffer (no intermediate values, no allocation).

use std::io::{self, Write};

use super::time::{write_rfc3339, write_secs};
use crate::analyze::{Carried, FramingSpec, Message};
use crate::decode::{oui, tcpflags, Frame, Link, MacAddr, Net, Transport};
use crate::pipeline::{ConnRecord, MsgNote, PacketView, Sink};
use crate::track::tcp::ConnSummary;

pub struct JsonSink<W: Write> {
    w: W,
    waiting: super::Deferred,
}

impl<W: Write> JsonSink<W> {
    pub fn new(w: W) -> Self {
        JsonSink { w, waiting: super::Deferred::default() }
    }
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// `,"key":123` without going through core::fmt (the per-frame fields).
fn int(w: &mut impl Write, key: &[u8], n: impl itoa::Integer) -> io::Result<()> {
    w.write_all(key)?;
    w.write_all(itoa::Buffer::new().format(n).as_bytes())
}

/// Write `s` as a JSON string literal.
pub fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        w.write_all(&bytes[start..i])?;
        match esc {
            Some(e) => w.write_all(e)?,
            None => write!(w, "\\u{b:04x}")?,
        }
        start = i + 1;
    }
    w.write_all(&bytes[start..])?;
    w.write_all(b"\"")
}

fn write_mac(w: &mut impl Write, m: &MacAddr) -> io::Result<()> {
    w.write_all(b"\"")?;
    w.write_all(&m.fmt_buf())?;
    w.write_all(b"\"")
}

/// `"src_vendor":"...","src_class":"..."` extras (not in the contract; additions are allowed).
fn write_mac_notes(w: &mut impl Write, key: &str, m: &MacAddr) -> io::Result<()> {
    if let Some(c) = m.class() {
        w.write_all(b",\"")?;
        w.write_all(key.as_bytes())?;
        w.write_all(b"_class\":\"")?;
        w.write_all(c.as_bytes())?;
        w.write_all(b"\"")?;
    } else if let Some(v) = oui::vendor(m) {
        w.write_all(b",\"")?;
        w.write_all(key.as_bytes())?;
        w.write_all(b"_vendor\":")?;
        write_str(w, v)?;
    }
    Ok(())
}

/// The packet record up to the open transport object (TCP/UDP), whose `messages` may come later.
fn write_head(w: &mut impl Write, p: &PacketView<'_, '_>) -> io::Result<()> {
    let f: &Frame = p.frame;
    int(w, b"{\"type\":\"packet\",\"n\":", p.n)?;
    w.write_all(b",\"t\":")?;
    write_secs(w, p.rel_ns, p.meta.nanos)?;
    w.write_all(b",\"ts\":\"")?;
    write_rfc3339(w, p.meta.ts_ns, p.meta.nanos)?;
    int(w, b"\",\"len\":", p.meta.len)?;
    int(w, b",\"caplen\":", p.meta.caplen)?;
    match f.link {
        Link::Ethernet { src, dst } => {
            w.write_all(b",\"eth\":{\"src\":")?;
            write_mac(w, &src)?;
            w.write_all(b",\"dst\":")?;
            write_mac(w, &dst)?;
            if let Some(t) = f.ethertype {
                int(w, b",\"type\":", t)?;
            }
            if f.nvlan > 0 {
                w.write_all(b",\"vlan\":[")?;
                for (i, v) in f.vlans().iter().enumerate() {
                    write!(w, "{}{v}", if i > 0 { "," } else { "" })?;
                }
                w.write_all(b"]")?;
            }
            write_mac_notes(w, "src", &src)?;
            write_mac_notes(w, "dst", &dst)?;
            w.write_all(b"}")?;
        }
        Link::Sll { v2, pkttype, hatype, .. } => {
            write!(w, ",\"sll\":{{\"version\":{},\"pkttype\":{pkttype},\"hatype\":{hatype}", if v2 { 2 } else { 1 })?;
            if let Some(m) = f.link.sll_mac() {
                w.write_all(b",\"src\":")?;
                write_mac(w, &m)?;
            }
            if let Some(t) = f.ethertype {
                write!(w, ",\"type\":{t}")?;
            }
            w.write_all(b"}")?;
        }
        _ => {}
    }
    match &f.net {
        Net::Arp(a) => {
            w.write_all(b",\"arp\":{\"op\":")?;
            match a.op {
                1 => w.write_all(b"\"request\"")?,
                2 => w.write_all(b"\"reply\"")?,
                op => write!(w, "{op}")?,
            }
            if let Some(x) = a.eth_ipv4 {
                w.write_all(b",\"sha\":")?;
                write_mac(w, &x.sha)?;
                write!(w, ",\"spa\":\"{}\",\"tha\":", x.spa)?;
                write_mac(w, &x.tha)?;
                write!(w, ",\"tpa\":\"{}\"", x.tpa)?;
            }
            if let Some(k) = a.kind() {
                write!(w, ",\"kind\":\"{}\"", k.name())?;
            }
            if let Some(c) = p.arp_conflict {
                w.write_all(b",\"conflict\":{\"previous\":")?;
                write_mac(w, &c.previous)?;
                write!(w, ",\"frame\":{}}}", c.previous_frame)?;
            }
            w.write_all(b"}")?;
        }
        Net::Ip(ip) => {
            int(w, b",\"ip\":{\"version\":", ip.version)?;
            w.write_all(b",\"src\":\"")?;
            super::write_ip(w, &ip.src)?;
            w.write_all(b"\",\"dst\":\"")?;
            super::write_ip(w, &ip.dst)?;
            int(w, b"\",\"ttl\":", ip.ttl)?;
            int(w, b",\"proto\":", ip.proto)?;
            if let Some(id) = ip.id {
                int(w, b",\"id\":", id)?;
            }
            if let Some((off, more)) = ip.frag {
                write!(w, ",\"frag\":{{\"offset\":{off},\"more\":{more}}}")?;
            }
            w.write_all(b"}")?;
        }
        Net::None | Net::Other(_) => {}
    }
    if !f.warnings.is_empty() {
        w.write_all(b",\"warnings\":[")?;
        let mut buf = Vec::new();
        for (i, warn) in f.warnings.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            buf.clear();
            write!(buf, "{warn}")?;
            write_str(w, std::str::from_utf8(&buf).unwrap_or("?"))?;
        }
        w.write_all(b"]")?;
    }
    match &f.transport {
        Transport::Udp(u) => {
            int(w, b",\"udp\":{\"sport\":", u.sport)?;
            int(w, b",\"dport\":", u.dport)?;
            int(w, b",\"len\":", u.len)?;
        }
        Transport::Icmp(i) => write!(w, ",\"icmp\":{{\"type\":{},\"code\":{}}}", i.ty, i.code)?,
        Transport::Tcp(t) => {
            int(w, b",\"tcp\":{\"sport\":", t.sport)?;
            int(w, b",\"dport\":", t.dport)?;
            w.write_all(b",\"flags\":[")?;
            let mut first = true;
            for (i, name) in tcpflags::NAMES.iter().enumerate() {
                if t.flags & (1 << i) != 0 {
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
            int(w, b",\"seq\":", t.seq)?;
            int(w, b",\"ack\":", t.ack)?;
            if let Some(si) = &p.tcp {
                int(w, b",\"rseq\":", si.rseq)?;
                if let Some(a) = si.rack {
                    int(w, b",\"rack\":", a)?;
                }
            }
            int(w, b",\"len\":", t.len)?;
            int(w, b",\"win\":", t.win)?;
            if let Some(si) = &p.tcp {
                match si.win_scaled {
                    Some(v) => int(w, b",\"win_scaled\":", v)?,
                    None => w.write_all(b",\"win_scaled\":null")?,
                }
            }
            let o = &t.opts;
            if let Some(m) = o.mss {
                int(w, b",\"mss\":", m)?;
            }
            if let Some(s) = o.ws {
                int(w, b",\"ws\":", s)?;
            }
            if o.sack_perm {
                w.write_all(b",\"sack_perm\":true")?;
            }
            if o.nsack > 0 {
                // SACK blocks acknowledge the peer's bytes: relative to the peer's ISN
                // (the acknowledged direction), absolute when that is not known.
                let base = p.tcp.and_then(|si| si.ack_base).unwrap_or(0);
                w.write_all(b",\"sack\":[")?;
                for (i, (l, r)) in o.sack().iter().enumerate() {
                    write!(w, "{}[{},{}]", if i > 0 { "," } else { "" }, l.wrapping_sub(base), r.wrapping_sub(base))?;
                }
                w.write_all(b"]")?;
            }
            if let Some((a, b)) = o.ts {
                int(w, b",\"ts\":[", a)?;
                int(w, b",", b)?;
                w.write_all(b"]")?;
            }
            if let Some(si) = &p.tcp {
                int(w, b",\"conn\":", si.conn)?;
                w.write_all(if si.dir == crate::track::tcp::Dir::C2S { b",\"dir\":\"c2s\"" } else { b",\"dir\":\"s2c\"" })?;
                match si.phase {
                    crate::track::tcp::Phase::Data => w.write_all(b",\"phase\":\"data\"")?,
                    ref ph => write!(w, ",\"phase\":\"{ph}\"")?,
                }
                w.write_all(b",\"state\":{\"client\":\"")?;
                w.write_all(si.client.name().as_bytes())?;
                w.write_all(b"\",\"server\":\"")?;
                w.write_all(si.server.name().as_bytes())?;
                w.write_all(b"\"},\"analysis\":[")?;
                for (i, name) in si.analysis.names().enumerate() {
                    w.write_all(if i > 0 { b",\"" } else { b"\"" })?;
                    w.write_all(name.as_bytes())?;
                    w.write_all(b"\"")?;
                }
                w.write_all(b"]")?;
                if let Some(b) = si.bytes_in_flight {
                    int(w, b",\"bytes_in_flight\":", b)?;
                }
                if si.dup_ack_num > 0 {
                    write!(w, ",\"dup_ack_num\":{},\"dup_ack_of\":{}", si.dup_ack_num, si.dup_ack_of)?;
                }
            }
        }
        Transport::Other(_) | Transport::None => {}
    }
    Ok(())
}

/// `,"messages":[3,4,5]` inside the transport object.
fn write_messages(w: &mut dyn Write, c: Option<&Carried>) -> io::Result<()> {
    if let Some(c) = c {
        w.write_all(b",\"messages\":[")?;
        for (i, idx) in c.indices().enumerate() {
            write!(w, "{}{idx}", if i > 0 { "," } else { "" })?;
        }
        w.write_all(b"]")?;
    }
    Ok(())
}

/// Close the transport object, then the record.
fn write_tail(w: &mut impl Write, p: &PacketView<'_, '_>) -> io::Result<()> {
    if matches!(p.frame.transport, Transport::Tcp(_) | Transport::Udp(_)) {
        w.write_all(b"}")?;
    }
    w.write_all(b"}\n")
}

/// The contract's `message` record.
pub fn write_message(w: &mut impl Write, m: &Message) -> io::Result<()> {
    write!(w, "{{\"type\":\"message\",\"conn\":{}", m.flow.id())?;
    if m.flow.is_udp() {
        w.write_all(b",\"proto\":\"udp\"")?;
    }
    write!(
        w,
        ",\"dir\":\"{}\",\"index\":{},\"offset\":{},\"len\":{},\"framing\":\"{}\",\"frames\":[",
        m.dir, m.index, m.offset, m.len, m.framing
    )?;
    for (i, f) in m.frames.iter().enumerate() {
        write!(w, "{}{f}", if i > 0 { "," } else { "" })?;
    }
    if m.framing == FramingSpec::Segment {
        // No framing recognised: where the sender's messages end is unknown.
        write!(w, "],\"sticky\":null,\"split\":null,\"complete\":{}", m.complete)?;
    } else {
        write!(w, "],\"sticky\":{},\"split\":{},\"complete\":{}", m.sticky, m.split, m.complete)?;
    }
    if m.nframes as usize > m.frames.len() {
        write!(w, ",\"nframes\":{}", m.nframes)?;
    }
    w.write_all(b"}\n")
}

impl<W: Write> Sink for JsonSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        if self.waiting.must_wait(&p.msgs) {
            let (mut head, mut tail) = self.waiting.buffers();
            write_head(&mut head, p)?;
            write_tail(&mut tail, p)?;
            self.waiting.push(p.n, head, tail, &p.msgs);
            return self.waiting.flush(&mut self.w, false, &mut write_messages);
        }
        write_head(&mut self.w, p)?;
        if let MsgNote::Known(c) = &p.msgs {
            write_messages(&mut self.w, Some(c))?;
        }
        write_tail(&mut self.w, p)
    }

    fn late(&mut self, c: &Carried) -> io::Result<()> {
        self.waiting.resolve(c);
        self.waiting.flush(&mut self.w, false, &mut write_messages)
    }

    fn message(&mut self, m: &Message) -> io::Result<()> {
        write_message(&mut self.w, m)
    }

    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        write_conn(&mut self.w, &c.summary, &super::conns::seam_counts(&c.seams))
    }

    fn finish(&mut self, _s: &crate::pipeline::RunSummary) -> io::Result<()> {
        self.waiting.flush(&mut self.w, true, &mut write_messages)?;
        self.w.flush()
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |x| x.to_string())
}

/// The contract's `conn` record (plus `sack_perm`, `timestamps`, times and frame range).
pub fn write_conn(w: &mut impl Write, c: &ConnSummary, seams: &super::conns::SeamCounts) -> io::Result<()> {
    write!(w, "{{\"type\":\"conn\",\"conn\":{},\"client\":\"{}\",\"server\":\"{}\"", c.conn, c.client, c.server)?;
    write!(w, ",\"conn_state\":\"{}\",\"history\":", c.conn_state)?;
    write_str(w, &c.history)?;
    write!(w, ",\"client_state\":\"{}\",\"server_state\":\"{}\"", c.client_state.name(), c.server_state.name())?;
    write!(w, ",\"mss\":{{\"client\":{},\"server\":{}}}", opt(c.mss.0), opt(c.mss.1))?;
    write!(w, ",\"ws\":{{\"client\":{},\"server\":{}}}", opt(c.ws.0), opt(c.ws.1))?;
    w.write_all(b",\"irtt\":")?;
    match c.irtt {
        Some(ns) => write_secs(w, ns, true)?,
        None => w.write_all(b"null")?,
    }
    write!(w, ",\"packets\":{{\"c2s\":{},\"s2c\":{}}}", c.packets[0], c.packets[1])?;
    write!(w, ",\"bytes\":{{\"c2s\":{},\"s2c\":{}}}", c.bytes[0], c.bytes[1])?;
    write!(w, ",\"retransmissions\":{},\"dup_acks\":{},\"zero_windows\":{}", c.retransmissions, c.dup_acks, c.zero_windows)?;
    write!(w, ",\"sack_perm\":{},\"timestamps\":{}", c.sack_perm, c.timestamps)?;
    w.write_all(b",\"start\":\"")?;
    write_rfc3339(w, c.first_ts, false)?;
    w.write_all(b"\",\"duration\":")?;
    write_secs(w, c.last_ts.saturating_sub(c.first_ts), false)?;
    write!(w, ",\"first_frame\":{},\"last_frame\":{}", c.first_frame, c.last_frame)?;
    if seams.iter().any(|s| s.is_some()) {
        let count = |f: &dyn Fn(&super::conns::DirCounts) -> u64| [seams[0].as_ref().map_or(0, f), seams[1].as_ref().map_or(0, f)];
        let m = count(&|s| s.messages);
        write!(w, ",\"messages\":{{\"c2s\":{},\"s2c\":{}}}", m[0], m[1])?;
        w.write_all(b",\"framing\":{")?;
        for (i, (key, s)) in [("c2s", &seams[0]), ("s2c", &seams[1])].into_iter().enumerate() {
            write!(w, "{}\"{key}\":", if i > 0 { "," } else { "" })?;
            match s.as_ref().and_then(|s| s.framing) {
                Some(spec) => write!(w, "\"{spec}\"")?,
                None => w.write_all(b"null")?,
            }
        }
        w.write_all(b"}")?;
        let st = count(&|s| s.sticky);
        let sp = count(&|s| s.split);
        write!(w, ",\"sticky\":{{\"c2s\":{},\"s2c\":{}}},\"split\":{{\"c2s\":{},\"s2c\":{}}}", st[0], st[1], sp[0], sp[1])?;
        let g = count(&|s| s.gaps);
        write!(w, ",\"gaps\":{{\"c2s\":{},\"s2c\":{}}}", g[0], g[1])?;
    }
    w.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        write_str(&mut v, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }
}
