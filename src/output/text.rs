//! The human-readable line per frame: aligned columns, colour on terminals.
//!
//! ```text
//!     n       time  link source → link destination          proto summary
//! ```
//!
//! The link column is left out of an Ethernet frame whose two MACs are zero (loopback, where
//! they say nothing) unless `-e` asks for it; `-q` leaves it out and shortens TCP lines to the
//! endpoints, flags and length, as tcpdump's `-q`.

use std::io::{self, Write};

use super::line::{Decimal, Line};
use super::style::{self, Palette};
use super::time::{write_rfc3339, write_secs};
use super::{Endpoint, FlagLetters};
use crate::analyze::Carried;
use crate::decode::link::{linktype_name, sll_pkttype_name};
use crate::decode::tcpopt::{options, sack_blocks, Opt};
use crate::decode::{names, oui, Frame, Icmp, IpReasm, Link, MacAddr, Net, Overlap, Quoted, Transport};
use crate::pipeline::{MsgNote, PacketView, RunSummary, Sink};
use crate::track::tcp::{Offload, SegInfo};
use crate::track::FlowId;

/// What the time column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since the first frame (tshark's default).
    Relative,
    /// UTC date and time.
    Absolute,
    /// Seconds since the previous frame shown.
    Delta,
    /// Seconds since the Unix epoch (tcpdump's `-tt`).
    Epoch,
    /// No time column (tcpdump's `-t`).
    Omitted,
}

/// The link-layer column (MACs, or the SLL direction and address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkColumn {
    /// Shown, except on Ethernet frames whose MACs are both zero (loopback).
    Auto,
    /// Always shown (`-e`).
    Always,
    /// Never shown (`-q` without `-e`).
    Never,
}

/// How much of each frame's line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineDetail {
    /// Every field of the summary, the TCP story and the message annotation.
    Full,
    /// Endpoints, connection, flags and length only (`-q`).
    Quick,
}

/// What is printed of each frame's transport payload under its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadDump {
    /// Nothing.
    None,
    /// Offset, hex bytes and their ASCII (`-x`, `-X`).
    Hex,
    /// The bytes as ASCII text, other bytes as `.`, line breaks kept (`-A`).
    Ascii,
}

/// How the text output looks.
#[derive(Clone, Copy, Debug)]
pub struct TextOptions {
    /// `-v` count: 1 adds a line per layer with every field, 2 adds timestamps and link types.
    pub verbose: u8,
    /// `-x`/`-X`/`-A`: the transport payload under each line.
    pub payload: PayloadDump,
    /// What the time column shows.
    pub time: TimeFormat,
    /// The link-layer column.
    pub link: LinkColumn,
    /// Full or quick (`-q`) lines.
    pub detail: LineDetail,
    /// Colours, or none.
    pub palette: Palette,
}

impl TextOptions {
    /// Full lines, no payload, relative times, the link column unless it is all zero.
    pub fn new(verbose: u8, palette: Palette) -> Self {
        TextOptions {
            verbose,
            payload: PayloadDump::None,
            time: TimeFormat::Relative,
            link: LinkColumn::Auto,
            detail: LineDetail::Full,
            palette,
        }
    }
}

/// The default output: one aligned line per frame (and more with `-v`/`-x`).
pub struct TextSink<W: Write> {
    w: W,
    opts: TextOptions,
    waiting: super::Deferred,
    causes: super::cause::Causes,
    /// The line being written: built here and handed to `w` in one write. Dozens of short
    /// pieces go into a `Vec` as inlined copies; through a `BufWriter` each was a call.
    line: Line,
    /// The link column of the last MAC pairs (see [`super::recent`]).
    macs: super::recent::MacPairs,
}

/// Width of the link column: two MAC addresses and the arrow between them.
const LINK_COL: usize = 37;

impl<W: Write> TextSink<W> {
    /// A sink writing to `w`.
    pub fn new(w: W, opts: TextOptions) -> Self {
        TextSink {
            w,
            opts,
            waiting: super::Deferred::new(256),
            causes: super::cause::Causes::default(),
            line: Line::with_capacity(512),
            macs: Default::default(),
        }
    }

    /// The writer back, after [`Sink::finish`] has flushed everything held back.
    pub fn into_inner(self) -> W {
        self.w
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        let cause = self.causes.observe(view);
        if self.waiting.must_wait(&view.msgs) {
            let (mut head, mut tail) = self.waiting.buffers();
            write_head(&self.opts, &mut head, view, &cause, &mut self.macs)?;
            write_tail(&self.opts, &mut tail, view)?;
            self.waiting.push(view.n, head, tail, &view.msgs);
            return self.flush_ready(false);
        }
        let line = &mut self.line;
        line.clear();
        write_head(&self.opts, line, view, &cause, &mut self.macs)?;
        if let (MsgNote::Known(carried), LineDetail::Full) = (&view.msgs, self.opts.detail) {
            write_annotation(line, Some(carried), self.opts.palette)?;
        }
        write_tail(&self.opts, line, view)?;
        self.w.write_all(line.as_bytes())?;
        if line.capacity() > 64 * 1024 {
            // a -x dump of a jumbo frame: do not keep its buffer
            *line = Line::with_capacity(512);
        }
        Ok(())
    }

    fn late(&mut self, carried: &Carried) -> io::Result<()> {
        self.waiting.resolve(carried);
        self.flush_ready(false)
    }

    fn finish(&mut self, _summary: &RunSummary) -> io::Result<()> {
        self.flush_ready(true)?;
        self.w.flush()
    }

    /// The lines name messages by index ([`Carried`]); none shows a message's frame list.
    fn wants_message_frames(&self) -> bool {
        false
    }
}

impl<W: Write> TextSink<W> {
    fn flush_ready(&mut self, all: bool) -> io::Result<()> {
        let palette = self.opts.palette;
        let quick = self.opts.detail == LineDetail::Quick;
        self.waiting.flush(&mut self.w, all, &mut |w, carried| write_annotation(w, carried.filter(|_| !quick), palette))
    }
}

/// Everything on the frame's line before the message annotation.
fn write_head(
    opts: &TextOptions,
    w: &mut Line,
    view: &PacketView<'_, '_>,
    cause: &super::cause::Cause,
    macs: &mut super::recent::MacPairs,
) -> io::Result<()> {
    let palette = opts.palette;
    let mut itoa_buf = itoa::Buffer::new();
    let number = itoa_buf.format(view.n).as_bytes();
    // right-aligned in 5 columns, then a space: one write
    let mut col = [b' '; 26];
    let pad = 5usize.saturating_sub(number.len());
    col[pad..pad + number.len()].copy_from_slice(number);
    w.write_all(&col[..pad + number.len() + 1])?;
    match opts.time {
        TimeFormat::Omitted => {}
        // A pcapng Simple Packet Block: no timestamp.
        _ if !view.meta.stamped => {
            let width = match opts.time {
                TimeFormat::Epoch => {
                    if view.meta.nanos {
                        20
                    } else {
                        17
                    }
                }
                TimeFormat::Absolute => {
                    if view.meta.nanos {
                        30
                    } else {
                        27
                    }
                }
                _ => {
                    if view.meta.nanos {
                        13
                    } else {
                        10
                    }
                }
            };
            write!(w, "{:>width$}", "-")?
        }
        TimeFormat::Relative => write_padded_secs(w, view.rel_ns, view.meta.nanos)?,
        TimeFormat::Delta => write_padded_secs(w, view.delta_ns, view.meta.nanos)?,
        TimeFormat::Absolute => write_rfc3339(w, view.meta.ts_ns, view.meta.nanos)?,
        TimeFormat::Epoch => write_secs(w, view.meta.ts_ns, view.meta.nanos)?,
    }
    if opts.time != TimeFormat::Omitted {
        w.write_all(b"  ")?;
    }
    let link = match (opts.link, view.frame.link) {
        (LinkColumn::Always, _) => true,
        (LinkColumn::Never, _) => false,
        (LinkColumn::Auto, Link::Ethernet { src, dst }) => !(src.is_zero() && dst.is_zero()),
        (LinkColumn::Auto, _) => true,
    };
    if link {
        match view.frame.link {
            Link::Ethernet { src, dst } => {
                let pair = macs.get(src, dst, |_, _, col, _| {
                    let _ = write_link_col(col, view.frame);
                });
                w.put(&pair.addrs);
            }
            _ => write_link_col(w, view.frame)?,
        }
        w.write_all(b"  ")?;
    }
    write_summary(w, view, palette, cause, opts.detail)
}

/// The application-layer info, warnings, the end of the line, then the -v and -x lines.
fn write_tail(opts: &TextOptions, w: &mut Line, view: &PacketView<'_, '_>) -> io::Result<()> {
    let palette = opts.palette;
    if opts.detail == LineDetail::Full {
        super::app::write_text_info(w, view.frame, palette)?;
    }
    for warn in view.frame.warnings.iter() {
        write!(w, "  {}! {warn}{}", palette.start(style::WARN), palette.reset())?;
    }
    w.write_all(b"\n")?;
    if opts.verbose > 0 {
        write_details(w, view, opts.verbose)?;
    }
    let payload = view.frame.transport_payload();
    if !payload.is_empty() {
        match opts.payload {
            PayloadDump::None => {}
            PayloadDump::Hex => write_hex(w, payload, "        ")?,
            PayloadDump::Ascii => write_ascii(w, payload)?,
        }
    }
    Ok(())
}

/// The messages a frame carries, in the seam colour.
fn write_annotation(w: &mut dyn Write, carried: Option<&Carried>, palette: Palette) -> io::Result<()> {
    if let Some(carried) = carried {
        w.write_all(b"  ")?;
        palette.start(style::SEAM).write_to(w)?;
        super::write_msg_note(w, carried)?;
        w.write_all(palette.reset().as_bytes())?;
    }
    Ok(())
}

/// An integer without `core::fmt`.
fn num(w: &mut Line, value: impl Decimal) -> io::Result<()> {
    value.put_into(w);
    Ok(())
}

/// Seconds right-aligned to the time column's width.
fn write_padded_secs(w: &mut Line, ns: i64, nanos: bool) -> io::Result<()> {
    let (text, len) = super::time::secs_buf(ns, nanos);
    let width: usize = if nanos { 13 } else { 10 };
    for _ in len..width {
        w.byte(b' ');
    }
    w.put_first(&text, len);
    Ok(())
}

/// The link column: MAC addresses, SLL packet type, or what the link layer is, padded to [`LINK_COL`].
fn write_link_col(w: &mut impl Write, frame: &Frame) -> io::Result<()> {
    let mut col = [b' '; 192];
    let mut cursor = io::Cursor::new(&mut col[..]);
    let mut cols = None;
    match frame.link {
        Link::Ethernet { src, dst } => {
            cursor.write_all(&src.fmt_buf())?;
            cursor.write_all(" → ".as_bytes())?;
            cursor.write_all(&dst.fmt_buf())?;
        }
        Link::Sll { pkttype, .. } => {
            write!(cursor, "{:<4}", sll_pkttype_name(pkttype))?;
            match frame.link.sll_mac() {
                Some(mac) => cursor.write_all(&mac.fmt_buf())?,
                None => cursor.write_all(b"-")?,
            }
        }
        Link::Null { family } => write!(cursor, "loopback af {family}")?,
        Link::Raw => cursor.write_all(b"raw ip")?,
        Link::Unknown { linktype } => write!(cursor, "link type {linktype}")?,
        Link::Truncated { layer, .. } => write!(cursor, "{layer} (cut)")?,
        ref link => cols = super::link::write_col(&mut cursor, link, LINK_COL)?,
    }
    let used = cursor.position() as usize;
    // "→" is three bytes but one column
    let shown = cols.unwrap_or(if matches!(frame.link, Link::Ethernet { .. }) { used - 2 } else { used });
    w.write_all(&col[..used])?;
    for _ in shown..LINK_COL {
        w.write_all(b" ")?;
    }
    Ok(())
}

/// The protocol column: the innermost layer decoded.
fn proto_label(frame: &Frame) -> &'static str {
    match (&frame.net, &frame.transport) {
        (_, Transport::Tcp(_)) => "TCP",
        (_, Transport::Udp(_)) => "UDP",
        (_, Transport::Icmp(Icmp { v6: false, .. })) => "ICMP",
        (_, Transport::Icmp(Icmp { v6: true, .. })) => "ICMPv6",
        (Net::Arp(_), _) if frame.ethertype == Some(0x8035) => "RARP",
        (Net::Arp(_), _) => "ARP",
        (Net::Ip(ip), _) if ip.version == 4 => "IPv4",
        (Net::Ip(_), _) => "IPv6",
        (Net::Other(t), _) => names::ethertype(*t).unwrap_or("ETH"),
        (Net::None, _) => match frame.link {
            Link::Unknown { .. } => "?",
            ref link => super::link::proto_label(link).unwrap_or("-"),
        },
    }
}

/// The summary column: addresses, ports and the innermost layer's fields, tcpdump-like.
fn write_summary(
    w: &mut Line,
    view: &PacketView<'_, '_>,
    palette: Palette,
    cause: &super::cause::Cause,
    detail: LineDetail,
) -> io::Result<()> {
    let frame = view.frame;
    palette.start(style::PROTO).write_to(w)?;
    let label = proto_label(frame);
    w.write_all(label.as_bytes())?;
    for _ in label.chars().count()..6 {
        w.write_all(b" ")?;
    }
    w.write_all(palette.reset().as_bytes())?;
    w.write_all(b" ")?;
    if !frame.vlans().is_empty() {
        w.write_all(b"[vlan ")?;
        for (i, vlan) in frame.vlans().iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write!(w, "{vlan}")?;
        }
        w.write_all(b"] ")?;
    }
    if !frame.encaps.is_empty() {
        palette.start(style::PROTO).write_to(w)?;
        write!(w, "{}", frame.encaps.tag())?;
        w.write_all(palette.reset().as_bytes())?;
    }
    match (&frame.net, &frame.transport) {
        (Net::Arp(arp), _) => {
            let kind = arp.kind();
            match (arp.eth_ipv4, arp.op) {
                (Some(addrs), 1) => match kind {
                    Some(crate::decode::ArpKind::Probe) => write!(w, "probe: who-has {} (from 0.0.0.0, is the address free?)", addrs.tpa)?,
                    Some(crate::decode::ArpKind::Announcement) => {
                        write!(w, "announcement (gratuitous): {} is-at {}", addrs.spa, addrs.sha)?
                    }
                    _ => write!(w, "who-has {} tell {}", addrs.tpa, addrs.spa)?,
                },
                (Some(addrs), 2) => {
                    if kind.is_some() {
                        w.write_all(b"gratuitous reply: ")?;
                    }
                    write!(w, "{} is-at {}", addrs.spa, addrs.sha)?
                }
                // RFC 903, worded as tcpdump does
                (Some(addrs), 3) => write!(w, "rarp who-is {} tell {}", addrs.tha, addrs.sha)?,
                (Some(addrs), 4) => write!(w, "rarp reply {} at {}", addrs.tha, addrs.tpa)?,
                (Some(addrs), op) => write!(w, "{} {} {} → {} {}", names::arp_op(op), addrs.spa, addrs.sha, addrs.tpa, addrs.tha)?,
                (None, op) => write!(w, "{} op {op} hw type {} proto 0x{:04x}", names::arp_op(op), arp.htype, arp.ptype)?,
            }
            if let Some(conflict) = view.arp_conflict {
                write!(
                    w,
                    "  {}! conflict: {} was at {} (frame {}){}",
                    palette.start(style::WARN),
                    conflict.ip,
                    conflict.previous,
                    conflict.previous_frame,
                    palette.reset()
                )?;
            }
        }
        (Net::Ip(ip), transport) => {
            match transport {
                Transport::Tcp(tcp) => {
                    Endpoint(ip.src, tcp.sport).put_to(w)?;
                    w.write_all(" → ".as_bytes())?;
                    Endpoint(ip.dst, tcp.dport).put_to(w)?;
                    w.write_all(b" ")?;
                    let flag_style = if tcp.flags & 0x04 != 0 {
                        style::RST
                    } else if tcp.flags & 0x02 != 0 {
                        style::SYN
                    } else if tcp.flags & 0x01 != 0 {
                        style::FIN
                    } else {
                        anstyle::Style::new()
                    };
                    if let Some(seg) = &view.tcp {
                        // itoa: this is the hottest line of the text output
                        w.write_all(b"#")?;
                        num(w, seg.conn)?;
                        w.write_all(b" ")?;
                        w.write_all(seg.dir.arrow().as_bytes())?;
                        w.write_all(b" ")?;
                        palette.start(flag_style).write_to(w)?;
                        FlagLetters(tcp.flags).write_to(w)?;
                        w.write_all(palette.reset().as_bytes())?;
                        if detail == LineDetail::Quick {
                            w.write_all(b" len ")?;
                            return num(w, tcp.len);
                        }
                        w.write_all(b" seq ")?;
                        num(w, seg.rseq)?;
                        if let Some(rack) = seg.rack {
                            w.write_all(b" ack ")?;
                            num(w, rack)?;
                        }
                        w.write_all(b" win ")?;
                        match seg.win_scaled {
                            Some(ws) => num(w, ws)?,
                            None => write!(w, "{} (scale unknown)", tcp.win)?,
                        }
                        w.write_all(b" len ")?;
                        num(w, tcp.len)?;
                    } else {
                        write!(w, "{}{}{}", palette.start(flag_style), FlagLetters(tcp.flags), palette.reset())?;
                        if detail == LineDetail::Quick {
                            return write!(w, " len {}", tcp.len);
                        }
                        write!(w, " seq {}", tcp.seq)?;
                        if tcp.flags & 0x10 != 0 {
                            write!(w, " ack {}", tcp.ack)?;
                        }
                        write!(w, " win {} len {}", tcp.win, tcp.len)?;
                    }
                    let opts = &tcp.opts;
                    if opts.mss.is_some() || opts.ws.is_some() || opts.sack_perm || opts.nsack > 0 {
                        w.write_all(b" <")?;
                        let mut first = true;
                        let mut sep = |w: &mut dyn Write| -> io::Result<()> {
                            if !std::mem::take(&mut first) {
                                w.write_all(b",")?;
                            }
                            Ok(())
                        };
                        if let Some(mss) = opts.mss {
                            sep(w)?;
                            write!(w, "mss {mss}")?;
                        }
                        if opts.sack_perm {
                            sep(w)?;
                            w.write_all(b"sackOK")?;
                        }
                        if let Some(shift) = opts.ws {
                            sep(w)?;
                            write!(w, "wscale {shift}")?;
                        }
                        if opts.nsack > 0 {
                            sep(w)?;
                            // blocks acknowledge the peer's bytes: relative to the peer's ISN
                            let base = view.tcp.and_then(|seg| seg.ack_base).unwrap_or(0);
                            w.write_all(b"sack")?;
                            for (left, right) in opts.sack() {
                                write!(w, " {}:{}", left.wrapping_sub(base), right.wrapping_sub(base))?;
                            }
                        }
                        w.write_all(b">")?;
                    }
                    if let Some(seg) = &view.tcp {
                        write_tcp_story(w, seg, palette)?;
                        super::cause::write(w, cause)?;
                    }
                }
                Transport::Udp(udp) => {
                    write!(w, "{} → {} len {}", Endpoint(ip.src, udp.sport), Endpoint(ip.dst, udp.dport), udp.len.saturating_sub(8))?;
                }
                Transport::Icmp(icmp) => {
                    write!(w, "{} → {} ", ip.src, ip.dst)?;
                    let name = if icmp.v6 { names::icmp6(icmp.ty, icmp.code) } else { names::icmp4(icmp.ty, icmp.code) };
                    let port_unreachable = if icmp.v6 { (icmp.ty, icmp.code) == (1, 4) } else { (icmp.ty, icmp.code) == (3, 3) };
                    if let (true, Some((_, dport))) = (port_unreachable, icmp.quoted.and_then(|q| q.ports)) {
                        write!(w, "port {dport} unreachable")?;
                    } else if name == "type" {
                        write!(w, "type {} code {}", icmp.ty, icmp.code)?;
                    } else {
                        w.write_all(name.as_bytes())?;
                    }
                    if let Some((id, seq)) = icmp.echo {
                        write!(w, " id {id} seq {seq}")?;
                    }
                    match (icmp.ty, icmp.target) {
                        (135, Some(target)) => write!(w, " who-has {target}")?,
                        (136, Some(target)) => write!(w, " {target} is here")?,
                        (_, Some(target)) => write!(w, " target {target}")?,
                        _ => {}
                    }
                    if let Some(q) = &icmp.quoted {
                        write_quoted(w, q, view.icmp_about)?;
                    }
                }
                Transport::Other(proto) => {
                    write!(w, "{} → {} proto {} ({})", ip.src, ip.dst, proto, names::ip_proto(*proto))?;
                }
                Transport::None => write!(w, "{} → {}", ip.src, ip.dst)?,
            }
            if let Some((offset, more)) = ip.frag {
                write!(w, " frag id {} off {}{}", ip.id.unwrap_or(0), offset, if more { " +MF" } else { "" })?;
            }
            write_reasm(w, frame, palette)?;
        }
        (Net::Other(ethertype), _) => match names::ethertype(*ethertype) {
            Some(_) => write!(w, "ethertype 0x{ethertype:04x} len {}", view.meta.len)?,
            None if *ethertype < 0x0600 => write!(w, "802.3/LLC len {}", view.meta.len)?,
            None => write!(w, "ethertype 0x{ethertype:04x} (unknown) len {}", view.meta.len)?,
        },
        (Net::None, _) => match frame.link {
            Link::Unknown { linktype } => write!(w, "link type {linktype} ({}) len {}", linktype_name(linktype), view.meta.len)?,
            ref link => {
                if !super::link::write_summary(w, link, view.meta.len)? {
                    write!(w, "len {}", view.meta.len)?
                }
            }
        },
    }
    Ok(())
}

/// What IP reassembly made of the frame. A fragment's line is written when it arrives, before
/// the frame that completes its datagram is known: the completing frame names them all.
fn write_reasm(w: &mut Line, frame: &Frame, palette: Palette) -> io::Result<()> {
    let note = match &frame.reasm {
        IpReasm::NotFragment => return Ok(()),
        IpReasm::Atomic => {
            return write!(w, "  {}atomic fragment (RFC 6946): a whole packet{}", palette.start(style::NOTE), palette.reset())
        }
        IpReasm::Held(note) => {
            write!(w, "  {}fragment {}, held for reassembly{}", palette.start(style::NOTE), note.index, palette.reset())?;
            note
        }
        IpReasm::Completed(note, d) => {
            write!(w, "  {}reassembled from frames ", palette.start(style::NOTE))?;
            for (i, n) in d.frames.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                num(w, *n)?;
            }
            write!(w, " ({} bytes){}", crate::numbers::thousands(u64::from(d.len)), palette.reset())?;
            note
        }
        IpReasm::Dropped(note, why) => {
            write!(w, "  {}! fragment {}: {}{}", palette.start(style::WARN), note.index, why.words(), palette.reset())?;
            note
        }
    };
    match note.overlap {
        Some(Overlap::Same) => write!(w, "  {}! overlaps an earlier fragment (same bytes){}", palette.start(style::WARN), palette.reset())?,
        Some(Overlap::Differs) => write!(
            w,
            "  {}! overlaps an earlier fragment with different bytes: first copy kept (possible evasion){}",
            palette.start(style::WARN),
            palette.reset()
        )?,
        None => {}
    }
    if note.tiny {
        write!(
            w,
            "  {}! tiny first fragment: too short for the transport header (RFC 1858){}",
            palette.start(style::WARN),
            palette.reset()
        )?;
    }
    Ok(())
}

/// ` for udp 198.18.0.1:40000 → 198.18.0.2:9002 (flow #3)`: the flow an ICMP error is about.
fn write_quoted(w: &mut Line, q: &Quoted, about: Option<FlowId>) -> io::Result<()> {
    let proto = match q.proto {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        132 => "sctp",
        _ => "",
    };
    w.write_all(b" for ")?;
    if proto.is_empty() {
        write!(w, "proto {} ", q.proto)?;
    } else {
        write!(w, "{proto} ")?;
    }
    match q.ports {
        Some((sport, dport)) => write!(w, "{} → {}", Endpoint(q.src, sport), Endpoint(q.dst, dport))?,
        None => write!(w, "{} → {}", q.src, q.dst)?,
    }
    match about {
        Some(FlowId::Tcp(id)) => write!(w, " (conn #{id})"),
        Some(FlowId::Udp(id)) => write!(w, " (flow #{id})"),
        None => Ok(()),
    }
}

/// Phase, both endpoints' states and the analysis flags in words.
fn write_tcp_story(w: &mut Line, seg: &SegInfo, palette: Palette) -> io::Result<()> {
    w.write_all(b"  ")?;
    palette.start(style::NOTE).write_to(w)?;
    match seg.phase {
        crate::track::tcp::Phase::Data => w.write_all(b"data")?,
        ref phase => write!(w, "{phase}")?,
    }
    w.write_all(palette.reset().as_bytes())?;
    w.write_all(b"  ")?;
    palette.start(style::STATE).write_to(w)?;
    w.write_all(b"client ")?;
    w.write_all(seg.client.name().as_bytes())?;
    w.write_all(b" server ")?;
    w.write_all(seg.server.name().as_bytes())?;
    w.write_all(palette.reset().as_bytes())?;
    for name in seg.analysis.names() {
        w.write_all(b"  ")?;
        write!(w, "{}", palette.start(style::WARN))?;
        if name == "duplicate_ack" {
            write!(w, "[dup ack #{} of frame {}]", seg.dup_ack_num, seg.dup_ack_of)?;
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
        w.write_all(palette.reset().as_bytes())?;
    }
    if let Some(offload) = seg.offload {
        w.write_all(b"  ")?;
        palette.start(style::NOTE).write_to(w)?;
        match offload {
            Offload::Segments { mss, segments } => write!(w, "offload: {segments} segments of MSS {mss}")?,
            Offload::UnknownMss => w.write_all(b"offload: larger than any MSS seen; wire segmentation unknown")?,
        }
        w.write_all(palette.reset().as_bytes())?;
    }
    Ok(())
}

/// A MAC address with its class or vendor.
fn mac_note(mac: &MacAddr) -> String {
    match (mac.class(), oui::vendor(mac)) {
        (Some(class), _) => format!("{mac} ({class})"),
        (None, Some(vendor)) => format!("{mac} ({vendor})"),
        (None, None) => format!("{mac} (global, vendor unknown)"),
    }
}

/// `-v`: one indented line per layer with every field.
fn write_details(w: &mut impl Write, view: &PacketView<'_, '_>, verbose: u8) -> io::Result<()> {
    let frame = view.frame;
    const IND: &str = "        ";
    write!(w, "{IND}frame len {} captured {}", view.meta.len, view.meta.caplen)?;
    if let Some(file) = view.file {
        w.write_all(b" file ")?;
        super::escape::write_text(w, file.as_os_str().as_encoded_bytes())?;
    }
    if verbose > 1 {
        w.write_all(b" at ")?;
        write_rfc3339(w, view.meta.ts_ns, view.meta.nanos)?;
        write!(w, " linktype {} ({})", view.meta.linktype, linktype_name(view.meta.linktype))?;
    }
    w.write_all(b"\n")?;
    match frame.link {
        Link::Ethernet { src, dst } => {
            write!(w, "{IND}eth  src {} dst {}", mac_note(&src), mac_note(&dst))?;
            // the 802.1Q / 802.1ad tags, outermost first; the type is the EtherType after them
            for vlan in frame.vlans() {
                write!(w, " vlan {vlan}")?;
            }
            if let Some(ethertype) = frame.ethertype {
                write!(w, " type 0x{ethertype:04x}")?;
                if let Some(name) = names::ethertype(ethertype) {
                    write!(w, " ({name})")?;
                }
            }
            w.write_all(b"\n")?;
        }
        Link::Sll { v2, pkttype, hatype, ifindex, .. } => {
            write!(w, "{IND}sll{} packet type {} ({}) arphrd {hatype}", if v2 { "2" } else { "" }, pkttype, sll_pkttype_name(pkttype))?;
            if v2 {
                write!(w, " ifindex {ifindex}")?;
            }
            if let Some(mac) = frame.link.sll_mac() {
                write!(w, " src {}", mac_note(&mac))?;
            }
            w.write_all(b"\n")?;
        }
        ref link => {
            super::link::write_details(w, link, frame.ethertype, IND)?;
        }
    }
    // one line per tunnel layer, outermost first (`[vxlan 42]` in the summary)
    for layer in frame.encaps.iter() {
        writeln!(w, "{IND}{:<4} {}", layer.encap.kind(), crate::decode::tunnel::LongEncap(layer))?;
    }
    if let Net::Arp(arp) = &frame.net {
        if let Some(addrs) = arp.eth_ipv4 {
            write!(
                w,
                "{IND}arp  {} sender {} {} target {} {}",
                names::arp_op(arp.op),
                addrs.sha,
                addrs.spa,
                if addrs.tha.is_zero() { "00:00:00:00:00:00 (unknown)".to_string() } else { addrs.tha.to_string() },
                addrs.tpa
            )?;
            if let Some(kind) = arp.kind() {
                write!(w, " [{}]", kind.name())?;
            }
            w.write_all(b"\n")?;
        }
    }
    if let Some(ip) = frame.ip() {
        if ip.version == 4 {
            write!(w, "{IND}ipv4 ttl {} id 0x{:04x} tos 0x{:02x}", ip.ttl, ip.id.unwrap_or(0), ip.tos)?;
            if ip.df {
                w.write_all(b" DF")?;
            }
        } else {
            write!(w, "{IND}ipv6 hop limit {} tclass 0x{:02x}", ip.ttl, ip.tos)?;
            if ip.ext_count > 0 {
                w.write_all(b" ext")?;
                for ext in ip.exts() {
                    write!(w, " {}", names::ipv6_ext(*ext))?;
                }
            }
        }
        write!(w, " hdr {} payload {} proto {} ({})", ip.hdr_len, ip.payload_len, ip.proto, names::ip_proto(ip.proto))?;
        if ip.len_from_frame {
            w.write_all(b" (total length 0: taken from the frame, segmentation offload)")?;
        }
        if let Some((offset, more)) = ip.frag {
            write!(w, " fragment offset {offset}{}", if more { " more" } else { " last" })?;
        }
        w.write_all(b"\n")?;
    }
    if let Transport::Tcp(tcp) = &frame.transport {
        write!(w, "{IND}tcp  hdr {} flags 0x{:02x}", tcp.hdr_len, tcp.flags)?;
        for (i, name) in crate::decode::tcpflags::NAMES.iter().enumerate() {
            if tcp.flags & (1 << i) != 0 {
                write!(w, " {name}")?;
            }
        }
        write!(w, " seq {} ack {} win {} urg {}", tcp.seq, tcp.ack, tcp.win, tcp.urg)?;
        if let Some(seg) = &view.tcp {
            write!(w, " | conn {} {} rel seq {}", seg.conn, seg.dir, seg.rseq)?;
            if let Some(rack) = seg.rack {
                write!(w, " rel ack {rack}")?;
            }
            match seg.win_scaled {
                Some(window) => write!(w, " window {window} bytes")?,
                None => w.write_all(b" window scale unknown")?,
            }
            if let Some(in_flight) = seg.bytes_in_flight {
                write!(w, ", {in_flight} bytes in flight")?;
            }
        }
        let opt_bytes = frame.tcp_opt_bytes();
        if !opt_bytes.is_empty() {
            w.write_all(b" options <")?;
            for (i, opt) in options(opt_bytes).enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                match opt {
                    Opt::Eol => w.write_all(b"eol")?,
                    Opt::Nop => w.write_all(b"nop")?,
                    Opt::Mss(mss) => write!(w, "mss {mss}")?,
                    Opt::WindowScale(shift) => write!(w, "wscale {shift} (x{})", 1u64 << shift.min(14))?,
                    Opt::SackPermitted => w.write_all(b"sackOK")?,
                    Opt::Sack(blocks) => {
                        w.write_all(b"sack")?;
                        for (left, right) in sack_blocks(blocks) {
                            write!(w, " {left}-{right}")?;
                        }
                    }
                    Opt::Timestamps(tsval, tsecr) => write!(w, "TS val {tsval} ecr {tsecr}")?,
                    Opt::Unknown { kind, data } => write!(w, "kind {kind} len {}", data.len() + 2)?,
                    Opt::Malformed { kind, offset } => write!(w, "malformed kind {kind} at {offset}")?,
                }
            }
            w.write_all(b">")?;
        }
        w.write_all(b"\n")?;
    }
    if let Transport::Udp(udp) = &frame.transport {
        writeln!(w, "{IND}udp  len {} (payload {})", udp.len, udp.len.saturating_sub(8))?;
    }
    if let Transport::Icmp(icmp) = &frame.transport {
        writeln!(w, "{IND}icmp type {} code {}", icmp.ty, icmp.code)?;
    }
    super::app::write_details(w, frame, IND)
}

/// tcpdump's `-A`: the payload as text, each byte that is not printable ASCII, a tab or a line
/// feed as `.` (so no control sequence reaches a terminal), a CR before a line feed left out
/// (as tcpdump does), ending with a line break.
pub fn write_ascii(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_graphic() || matches!(byte, b' ' | b'\t' | b'\n') {
            continue;
        }
        w.write_all(&bytes[start..i])?;
        if !(byte == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            w.write_all(b".")?;
        }
        start = i + 1;
    }
    w.write_all(&bytes[start..])?;
    if bytes.last() != Some(&b'\n') {
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// A hexdump, 16 bytes a line with offset and printable column, each line after `indent`
/// (tcpdump's `-X`).
pub fn write_hex(w: &mut impl Write, bytes: &[u8], indent: &str) -> io::Result<()> {
    for (i, chunk) in bytes.chunks(16).enumerate() {
        write!(w, "{indent}{:04x}  ", i * 16)?;
        for j in 0..16 {
            match chunk.get(j) {
                Some(byte) => write!(w, "{byte:02x} ")?,
                None => w.write_all(b"   ")?,
            }
            if j == 7 {
                w.write_all(b" ")?;
            }
        }
        w.write_all(b" ")?;
        for &byte in chunk {
            w.write_all(&[if byte.is_ascii_graphic() || byte == b' ' { byte } else { b'.' }])?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}
