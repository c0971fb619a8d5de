//! The human-readable line per frame: aligned columns, MACs always shown, colour on terminals.
//!
//! ```text
//!     n       time  link source → link destination          proto summary
//! ```

use std::io::{self, Write};

use super::style::{self, Palette};
use super::time::{write_rfc3339, write_secs};
use super::{Endpoint, FlagLetters};
use crate::analyze::Carried;
use crate::decode::link::{linktype_name, sll_pkttype_name};
use crate::decode::tcpopt::{options, sack_blocks, Opt};
use crate::decode::{names, oui, Frame, Icmp, Link, MacAddr, Net, Transport};
use crate::pipeline::{MsgNote, PacketView, RunSummary, Sink};
use crate::track::tcp::SegInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since the first frame (tshark's default).
    Relative,
    /// UTC date and time.
    Absolute,
    /// Seconds since the previous frame shown.
    Delta,
}

#[derive(Clone, Copy, Debug)]
pub struct TextOptions {
    pub verbose: u8,
    pub hex: bool,
    pub time: TimeFormat,
    pub palette: Palette,
}

pub struct TextSink<W: Write> {
    w: W,
    o: TextOptions,
    waiting: super::Deferred,
}

const LINK_COL: usize = 37;

impl<W: Write> TextSink<W> {
    pub fn new(w: W, o: TextOptions) -> Self {
        TextSink { w, o, waiting: super::Deferred::default() }
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        if self.waiting.must_wait(&p.msgs) {
            let (mut head, mut tail) = self.waiting.buffers();
            write_head(&self.o, &mut head, p)?;
            write_tail(&self.o, &mut tail, p)?;
            self.waiting.push(p.n, head, tail, &p.msgs);
            return self.flush_ready(false);
        }
        write_head(&self.o, &mut self.w, p)?;
        if let MsgNote::Known(c) = &p.msgs {
            write_annotation(&mut self.w, Some(c), self.o.palette)?;
        }
        write_tail(&self.o, &mut self.w, p)
    }

    fn late(&mut self, c: &Carried) -> io::Result<()> {
        self.waiting.resolve(c);
        self.flush_ready(false)
    }

    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        self.flush_ready(true)?;
        self.w.flush()
    }
}

impl<W: Write> TextSink<W> {
    fn flush_ready(&mut self, all: bool) -> io::Result<()> {
        let pal = self.o.palette;
        self.waiting.flush(&mut self.w, all, &mut |w, c| write_annotation(w, c, pal))
    }
}

/// Everything on the frame's line before the message annotation.
fn write_head(o: &TextOptions, w: &mut impl Write, p: &PacketView<'_, '_>) -> io::Result<()> {
    let pal = o.palette;
    let mut b = itoa::Buffer::new();
    let n = b.format(p.n);
    for _ in n.len()..5 {
        w.write_all(b" ")?;
    }
    w.write_all(n.as_bytes())?;
    w.write_all(b" ")?;
    match o.time {
        TimeFormat::Relative => write_padded_secs(w, p.rel_ns, p.meta.nanos)?,
        TimeFormat::Delta => write_padded_secs(w, p.delta_ns, p.meta.nanos)?,
        TimeFormat::Absolute => write_rfc3339(w, p.meta.ts_ns, p.meta.nanos)?,
    }
    w.write_all(b"  ")?;
    write_link_col(w, p.frame)?;
    w.write_all(b"  ")?;
    write_summary(w, p, pal)
}

/// Warnings, the end of the line, then the -v and -x lines.
fn write_tail(o: &TextOptions, w: &mut impl Write, p: &PacketView<'_, '_>) -> io::Result<()> {
    let pal = o.palette;
    for warn in p.frame.warnings.iter() {
        write!(w, "  {}! {warn}{}", pal.start(style::WARN), pal.reset())?;
    }
    w.write_all(b"\n")?;
    if o.verbose > 0 {
        write_details(w, p, o.verbose)?;
    }
    if o.hex && !p.frame.payload.is_empty() {
        write_hex(w, p.frame.payload, "        ")?;
    }
    Ok(())
}

fn write_annotation(w: &mut dyn Write, c: Option<&Carried>, pal: Palette) -> io::Result<()> {
    if let Some(c) = c {
        write!(w, "  {}", pal.start(style::SEAM))?;
        super::write_msg_note(w, c)?;
        w.write_all(pal.reset().as_bytes())?;
    }
    Ok(())
}

fn num(w: &mut impl Write, n: impl itoa::Integer) -> io::Result<()> {
    w.write_all(itoa::Buffer::new().format(n).as_bytes())
}

fn write_padded_secs(w: &mut impl Write, ns: i64, nanos: bool) -> io::Result<()> {
    let mut buf = [0u8; 32];
    let mut c = io::Cursor::new(&mut buf[..]);
    write_secs(&mut c, ns, nanos)?;
    let len = c.position() as usize;
    let width = if nanos { 13 } else { 10 };
    for _ in len..width {
        w.write_all(b" ")?;
    }
    w.write_all(&buf[..len])
}

fn write_link_col(w: &mut impl Write, f: &Frame) -> io::Result<()> {
    let mut col = [b' '; 64];
    let mut c = io::Cursor::new(&mut col[..]);
    match f.link {
        Link::Ethernet { src, dst } => {
            c.write_all(&src.fmt_buf())?;
            c.write_all(" → ".as_bytes())?;
            c.write_all(&dst.fmt_buf())?;
        }
        Link::Sll { pkttype, .. } => {
            write!(c, "{:<4}", sll_pkttype_name(pkttype))?;
            match f.link.sll_mac() {
                Some(m) => c.write_all(&m.fmt_buf())?,
                None => c.write_all(b"-")?,
            }
        }
        Link::Null { family } => write!(c, "loopback af {family}")?,
        Link::Raw => c.write_all(b"raw ip")?,
        Link::Unknown { linktype } => write!(c, "link type {linktype}")?,
        Link::Truncated { layer, .. } => write!(c, "{layer} (cut)")?,
    }
    let used = c.position() as usize;
    // "→" is three bytes but one column
    let shown = if matches!(f.link, Link::Ethernet { .. }) { used - 2 } else { used };
    w.write_all(&col[..used])?;
    for _ in shown..LINK_COL {
        w.write_all(b" ")?;
    }
    Ok(())
}

fn proto_label(f: &Frame) -> &'static str {
    match (&f.net, &f.transport) {
        (_, Transport::Tcp(_)) => "TCP",
        (_, Transport::Udp(_)) => "UDP",
        (_, Transport::Icmp(Icmp { v6: false, .. })) => "ICMP",
        (_, Transport::Icmp(Icmp { v6: true, .. })) => "ICMPv6",
        (Net::Arp(_), _) => "ARP",
        (Net::Ip(ip), _) if ip.version == 4 => "IPv4",
        (Net::Ip(_), _) => "IPv6",
        (Net::Other(t), _) => names::ethertype(*t).unwrap_or("ETH"),
        (Net::None, _) => match f.link {
            Link::Unknown { .. } => "?",
            _ => "-",
        },
    }
}

fn write_summary(w: &mut impl Write, p: &PacketView<'_, '_>, pal: Palette) -> io::Result<()> {
    let f = p.frame;
    pal.start(style::PROTO).write_to(w)?;
    let label = proto_label(f);
    w.write_all(label.as_bytes())?;
    for _ in label.chars().count()..6 {
        w.write_all(b" ")?;
    }
    w.write_all(pal.reset().as_bytes())?;
    w.write_all(b" ")?;
    if !f.vlans().is_empty() {
        w.write_all(b"[vlan ")?;
        for (i, v) in f.vlans().iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write!(w, "{v}")?;
        }
        w.write_all(b"] ")?;
    }
    match (&f.net, &f.transport) {
        (Net::Arp(a), _) => {
            let kind = a.kind();
            match (a.eth_ipv4, a.op) {
                (Some(x), 1) => match kind {
                    Some(crate::decode::ArpKind::Probe) => write!(w, "probe: who-has {} (from 0.0.0.0, is the address free?)", x.tpa)?,
                    Some(crate::decode::ArpKind::Announcement) => write!(w, "announcement (gratuitous): {} is-at {}", x.spa, x.sha)?,
                    _ => write!(w, "who-has {} tell {}", x.tpa, x.spa)?,
                },
                (Some(x), 2) => {
                    if kind.is_some() {
                        w.write_all(b"gratuitous reply: ")?;
                    }
                    write!(w, "{} is-at {}", x.spa, x.sha)?
                }
                (Some(x), op) => write!(w, "{} {} {} → {} {}", names::arp_op(op), x.spa, x.sha, x.tpa, x.tha)?,
                (None, op) => write!(w, "{} op {op} hw type {} proto 0x{:04x}", names::arp_op(op), a.htype, a.ptype)?,
            }
            if let Some(c) = p.arp_conflict {
                write!(
                    w,
                    "  {}! conflict: {} was at {} (frame {}){}",
                    pal.start(style::WARN),
                    c.ip,
                    c.previous,
                    c.previous_frame,
                    pal.reset()
                )?;
            }
        }
        (Net::Ip(ip), t) => {
            match t {
                Transport::Tcp(tcp) => {
                    Endpoint(ip.src, tcp.sport).write_to(w)?;
                    w.write_all(" → ".as_bytes())?;
                    Endpoint(ip.dst, tcp.dport).write_to(w)?;
                    w.write_all(b" ")?;
                    let st = if tcp.flags & 0x04 != 0 {
                        style::RST
                    } else if tcp.flags & 0x02 != 0 {
                        style::SYN
                    } else if tcp.flags & 0x01 != 0 {
                        style::FIN
                    } else {
                        anstyle::Style::new()
                    };
                    if let Some(si) = &p.tcp {
                        // itoa: this is the hottest line of the text output
                        w.write_all(b"#")?;
                        num(w, si.conn)?;
                        w.write_all(b" ")?;
                        w.write_all(si.dir.arrow().as_bytes())?;
                        w.write_all(b" ")?;
                        pal.start(st).write_to(w)?;
                        FlagLetters(tcp.flags).write_to(w)?;
                        w.write_all(pal.reset().as_bytes())?;
                        w.write_all(b" seq ")?;
                        num(w, si.rseq)?;
                        if let Some(a) = si.rack {
                            w.write_all(b" ack ")?;
                            num(w, a)?;
                        }
                        w.write_all(b" win ")?;
                        match si.win_scaled {
                            Some(ws) => num(w, ws)?,
                            None => write!(w, "{} (scale unknown)", tcp.win)?,
                        }
                        w.write_all(b" len ")?;
                        num(w, tcp.len)?;
                    } else {
                        write!(w, "{}{}{}", pal.start(st), FlagLetters(tcp.flags), pal.reset())?;
                        write!(w, " seq {}", tcp.seq)?;
                        if tcp.flags & 0x10 != 0 {
                            write!(w, " ack {}", tcp.ack)?;
                        }
                        write!(w, " win {} len {}", tcp.win, tcp.len)?;
                    }
                    let o = &tcp.opts;
                    if o.mss.is_some() || o.ws.is_some() || o.sack_perm || o.nsack > 0 {
                        w.write_all(b" <")?;
                        let mut first = true;
                        let mut sep = |w: &mut dyn Write| -> io::Result<()> {
                            if !std::mem::take(&mut first) {
                                w.write_all(b",")?;
                            }
                            Ok(())
                        };
                        if let Some(m) = o.mss {
                            sep(w)?;
                            write!(w, "mss {m}")?;
                        }
                        if o.sack_perm {
                            sep(w)?;
                            w.write_all(b"sackOK")?;
                        }
                        if let Some(s) = o.ws {
                            sep(w)?;
                            write!(w, "wscale {s}")?;
                        }
                        if o.nsack > 0 {
                            sep(w)?;
                            // blocks acknowledge the peer's bytes: relative to the peer's ISN
                            let base = p.tcp.and_then(|si| si.ack_base).unwrap_or(0);
                            w.write_all(b"sack")?;
                            for (l, r) in o.sack() {
                                write!(w, " {}:{}", l.wrapping_sub(base), r.wrapping_sub(base))?;
                            }
                        }
                        w.write_all(b">")?;
                    }
                    if let Some(si) = &p.tcp {
                        write_tcp_story(w, si, pal)?;
                    }
                }
                Transport::Udp(u) => {
                    write!(w, "{} → {} len {}", Endpoint(ip.src, u.sport), Endpoint(ip.dst, u.dport), u.len.saturating_sub(8))?;
                }
                Transport::Icmp(i) => {
                    write!(w, "{} → {} ", ip.src, ip.dst)?;
                    let name = if i.v6 { names::icmp6(i.ty, i.code) } else { names::icmp4(i.ty, i.code) };
                    if name == "type" {
                        write!(w, "type {} code {}", i.ty, i.code)?;
                    } else {
                        w.write_all(name.as_bytes())?;
                    }
                    if let Some((id, seq)) = i.echo {
                        write!(w, " id {id} seq {seq}")?;
                    }
                    match (i.ty, i.target) {
                        (135, Some(t)) => write!(w, " who-has {t}")?,
                        (136, Some(t)) => write!(w, " {t} is here")?,
                        (_, Some(t)) => write!(w, " target {t}")?,
                        _ => {}
                    }
                }
                Transport::Other(proto) => {
                    write!(w, "{} → {} proto {} ({})", ip.src, ip.dst, proto, names::ip_proto(*proto))?;
                }
                Transport::None => write!(w, "{} → {}", ip.src, ip.dst)?,
            }
            if let Some((off, more)) = ip.frag {
                write!(w, " frag id {} off {}{}", ip.id.unwrap_or(0), off, if more { " +MF" } else { "" })?;
            }
        }
        (Net::Other(t), _) => match names::ethertype(*t) {
            Some(_) => write!(w, "ethertype 0x{t:04x} len {}", p.meta.len)?,
            None if *t < 0x0600 => write!(w, "802.3/LLC len {}", p.meta.len)?,
            None => write!(w, "ethertype 0x{t:04x} (unknown) len {}", p.meta.len)?,
        },
        (Net::None, _) => match f.link {
            Link::Unknown { linktype } => write!(w, "link type {linktype} ({}) len {}", linktype_name(linktype), p.meta.len)?,
            _ => write!(w, "len {}", p.meta.len)?,
        },
    }
    Ok(())
}

/// Phase, both endpoints' states and the analysis flags in words.
fn write_tcp_story(w: &mut impl Write, si: &SegInfo, pal: Palette) -> io::Result<()> {
    w.write_all(b"  ")?;
    pal.start(style::NOTE).write_to(w)?;
    match si.phase {
        crate::track::tcp::Phase::Data => w.write_all(b"data")?,
        ref ph => write!(w, "{ph}")?,
    }
    w.write_all(pal.reset().as_bytes())?;
    w.write_all(b"  ")?;
    pal.start(style::STATE).write_to(w)?;
    w.write_all(b"client ")?;
    w.write_all(si.client.name().as_bytes())?;
    w.write_all(b" server ")?;
    w.write_all(si.server.name().as_bytes())?;
    w.write_all(pal.reset().as_bytes())?;
    for name in si.analysis.names() {
        w.write_all(b"  ")?;
        write!(w, "{}", pal.start(style::WARN))?;
        if name == "duplicate_ack" {
            write!(w, "[dup ack #{} of frame {}]", si.dup_ack_num, si.dup_ack_of)?;
        } else {
            w.write_all(b"[")?;
            for (i, part) in name.split('_').enumerate() {
                if i > 0 {
                    w.write_all(b" ")?;
                }
                w.write_all(part.as_bytes())?;
            }
            w.write_all(b"]")?;
        }
        w.write_all(pal.reset().as_bytes())?;
    }
    Ok(())
}

fn mac_note(m: &MacAddr) -> String {
    match (m.class(), oui::vendor(m)) {
        (Some(c), _) => format!("{m} ({c})"),
        (None, Some(v)) => format!("{m} ({v})"),
        (None, None) => format!("{m} (global, vendor unknown)"),
    }
}

/// `-v`: one indented line per layer with every field.
fn write_details(w: &mut impl Write, p: &PacketView<'_, '_>, verbose: u8) -> io::Result<()> {
    let f = p.frame;
    const IND: &str = "        ";
    write!(w, "{IND}frame len {} captured {}", p.meta.len, p.meta.caplen)?;
    if verbose > 1 {
        w.write_all(b" at ")?;
        write_rfc3339(w, p.meta.ts_ns, p.meta.nanos)?;
        write!(w, " linktype {} ({})", p.meta.linktype, linktype_name(p.meta.linktype))?;
    }
    w.write_all(b"\n")?;
    match f.link {
        Link::Ethernet { src, dst } => {
            write!(w, "{IND}eth  src {} dst {}", mac_note(&src), mac_note(&dst))?;
            if let Some(t) = f.ethertype {
                write!(w, " type 0x{t:04x}")?;
                if let Some(n) = names::ethertype(t) {
                    write!(w, " ({n})")?;
                }
            }
            w.write_all(b"\n")?;
        }
        Link::Sll { v2, pkttype, hatype, ifindex, .. } => {
            write!(w, "{IND}sll{} packet type {} ({}) arphrd {hatype}", if v2 { "2" } else { "" }, pkttype, sll_pkttype_name(pkttype))?;
            if v2 {
                write!(w, " ifindex {ifindex}")?;
            }
            if let Some(m) = f.link.sll_mac() {
                write!(w, " src {}", mac_note(&m))?;
            }
            w.write_all(b"\n")?;
        }
        _ => {}
    }
    if let Net::Arp(a) = &f.net {
        if let Some(x) = a.eth_ipv4 {
            write!(
                w,
                "{IND}arp  {} sender {} {} target {} {}",
                names::arp_op(a.op),
                x.sha,
                x.spa,
                if x.tha.is_zero() { "00:00:00:00:00:00 (unknown)".to_string() } else { x.tha.to_string() },
                x.tpa
            )?;
            if let Some(k) = a.kind() {
                write!(w, " [{}]", k.name())?;
            }
            w.write_all(b"\n")?;
        }
    }
    if let Some(ip) = f.ip() {
        if ip.version == 4 {
            write!(w, "{IND}ipv4 ttl {} id 0x{:04x} tos 0x{:02x}", ip.ttl, ip.id.unwrap_or(0), ip.tos)?;
            if ip.df {
                w.write_all(b" DF")?;
            }
        } else {
            write!(w, "{IND}ipv6 hop limit {} tclass 0x{:02x}", ip.ttl, ip.tos)?;
            if ip.ext_count > 0 {
                w.write_all(b" ext")?;
                for e in ip.exts() {
                    write!(w, " {}", names::ipv6_ext(*e))?;
                }
            }
        }
        write!(w, " hdr {} payload {} proto {} ({})", ip.hdr_len, ip.payload_len, ip.proto, names::ip_proto(ip.proto))?;
        if let Some((off, more)) = ip.frag {
            write!(w, " fragment offset {off}{}", if more { " more" } else { " last" })?;
        }
        w.write_all(b"\n")?;
    }
    if let Transport::Tcp(t) = &f.transport {
        write!(w, "{IND}tcp  hdr {} flags 0x{:02x}", t.hdr_len, t.flags)?;
        for (i, n) in crate::decode::tcpflags::NAMES.iter().enumerate() {
            if t.flags & (1 << i) != 0 {
                write!(w, " {n}")?;
            }
        }
        write!(w, " seq {} ack {} win {} urg {}", t.seq, t.ack, t.win, t.urg)?;
        if let Some(si) = &p.tcp {
            write!(w, " | conn {} {} rel seq {}", si.conn, si.dir, si.rseq)?;
            if let Some(a) = si.rack {
                write!(w, " rel ack {a}")?;
            }
            match si.win_scaled {
                Some(ws) => write!(w, " window {ws} bytes")?,
                None => w.write_all(b" window scale unknown")?,
            }
            if let Some(b) = si.bytes_in_flight {
                write!(w, " in flight {b}")?;
            }
        }
        if !t.opt_bytes.is_empty() {
            w.write_all(b" options <")?;
            for (i, o) in options(t.opt_bytes).enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                match o {
                    Opt::Eol => w.write_all(b"eol")?,
                    Opt::Nop => w.write_all(b"nop")?,
                    Opt::Mss(m) => write!(w, "mss {m}")?,
                    Opt::WindowScale(s) => write!(w, "wscale {s} (x{})", 1u64 << s.min(14))?,
                    Opt::SackPermitted => w.write_all(b"sackOK")?,
                    Opt::Sack(d) => {
                        w.write_all(b"sack")?;
                        for (l, r) in sack_blocks(d) {
                            write!(w, " {l}-{r}")?;
                        }
                    }
                    Opt::Timestamps(a, b) => write!(w, "TS val {a} ecr {b}")?,
                    Opt::Unknown { kind, data } => write!(w, "kind {kind} len {}", data.len() + 2)?,
                    Opt::Malformed { kind, offset } => write!(w, "malformed kind {kind} at {offset}")?,
                }
            }
            w.write_all(b">")?;
        }
        w.write_all(b"\n")?;
    }
    if let Transport::Udp(u) = &f.transport {
        writeln!(w, "{IND}udp  len {} (payload {})", u.len, u.len.saturating_sub(8))?;
    }
    if let Transport::Icmp(i) = &f.transport {
        writeln!(w, "{IND}icmp type {} code {}", i.ty, i.code)?;
    }
    Ok(())
}

/// A hexdump, 16 bytes a line with offset and printable column, each line after `indent`.
pub fn write_hex(w: &mut impl Write, b: &[u8], indent: &str) -> io::Result<()> {
    for (i, chunk) in b.chunks(16).enumerate() {
        write!(w, "{indent}{:04x}  ", i * 16)?;
        for j in 0..16 {
            match chunk.get(j) {
                Some(x) => write!(w, "{x:02x} ")?,
                None => w.write_all(b"   ")?,
            }
            if j == 7 {
                w.write_all(b" ")?;
            }
        }
        w.write_all(b" ")?;
        for &x in chunk {
            w.write_all(&[if x.is_ascii_graphic() || x == b' ' { x } else { b'.' }])?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}
