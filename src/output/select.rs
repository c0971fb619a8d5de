//! Which frames `read` shows besides the BPF filter: `-Y` (a display filter over wireseam's
//! fields), `--conn`, `--host`, `--port`; and `-c` counted after them. Frames left out are still
//! tracked and reassembled (the filter sees a frame's connection state, as tshark's `-Y` does);
//! only their packet output is skipped.

use std::io;
use std::net::IpAddr;

use super::display::Expr;
use crate::analyze::{Carried, Message};
use crate::decode::{Net, Transport};
use crate::pipeline::{ConnRecord, PacketView, RunSummary, Sink};
use crate::track::tcp::ConnSummary;
use crate::track::{FlowId, Proto};

/// The conditions a frame must all meet to be shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// `-Y EXPR`.
    pub display: Option<Expr>,
    /// `--conn N`: a segment of TCP connection N, or an ICMP error about it.
    pub conn: Option<u32>,
    /// `--host IP`: an IP packet from or to it.
    pub host: Option<IpAddr>,
    /// `--port N`: a TCP or UDP segment from or to it.
    pub port: Option<u16>,
    /// `--duration SECONDS`: a frame at most this many nanoseconds after the first; the run
    /// stops at the first frame past it.
    pub within_ns: Option<i64>,
}

impl Selection {
    /// No condition: every frame is shown.
    pub fn is_empty(&self) -> bool {
        self.display.is_none() && self.conn.is_none() && self.host.is_none() && self.port.is_none() && self.within_ns.is_none()
    }

    /// Does the frame meet every condition? `scratch`: see [`Expr::matches`].
    pub fn matches(&self, view: &PacketView<'_, '_>, scratch: &mut Vec<u8>) -> bool {
        if let Some(conn) = self.conn {
            let of_conn = view.tcp.is_some_and(|seg| seg.conn == conn) || view.icmp_about == Some(FlowId::Tcp(conn));
            if !of_conn {
                return false;
            }
        }
        if let Some(host) = self.host {
            let Net::Ip(ip) = &view.frame.net else { return false };
            if ip.src != host && ip.dst != host {
                return false;
            }
        }
        if let Some(port) = self.port {
            let ports = match &view.frame.transport {
                Transport::Tcp(tcp) => (tcp.sport, tcp.dport),
                Transport::Udp(udp) => (udp.sport, udp.dport),
                _ => return false,
            };
            if ports.0 != port && ports.1 != port {
                return false;
            }
        }
        self.display.as_ref().is_none_or(|expr| expr.matches(view, scratch))
    }

    /// Is the connection (or UDP/ICMP flow) record of `--conn`, `--host` and `--port`? (`-Y`
    /// selects frames, not records: it keeps them all.)
    fn keeps_conn(&self, c: &ConnSummary) -> bool {
        self.conn.is_none_or(|n| c.proto == Proto::Tcp && c.conn == n)
            && self.host.is_none_or(|h| c.client.ip() == h || c.server.ip() == h)
            && self.port.is_none_or(|p| c.client.port() == p || c.server.port() == p)
    }

    /// Are the messages of `flow` kept by `--conn`?
    fn keeps_flow(&self, flow: FlowId) -> bool {
        self.conn.is_none_or(|n| flow == FlowId::Tcp(n))
    }
}

/// Forwards to `inner` the frames `selection` keeps, at most `count` of them; everything else
/// (connections, messages, the end) goes through as is.
pub struct SelectSink<'s> {
    inner: &'s mut dyn Sink,
    selection: Selection,
    count: Option<u64>,
    shown: u64,
    /// A frame past `--duration` was seen: nothing more is shown.
    past: bool,
    /// A segment of the `--conn` connection went by (shown or not).
    conn_seen: bool,
    scratch: Vec<u8>,
}

impl<'s> SelectSink<'s> {
    /// Frames of `selection`, at most `count` (`-c`, counted after the selection).
    pub fn new(inner: &'s mut dyn Sink, selection: Selection, count: Option<u64>) -> Self {
        SelectSink { inner, selection, count, shown: 0, past: false, conn_seen: false, scratch: Vec::with_capacity(256) }
    }

    /// The `--conn` connection the input lacks (no segment of it went by), if any.
    pub fn missing_conn(&self) -> Option<u32> {
        self.selection.conn.filter(|_| !self.conn_seen)
    }
}

impl Sink for SelectSink<'_> {
    fn source(&mut self, info: &crate::capture::SourceInfo) {
        self.inner.source(info);
    }
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        if self.selection.within_ns.is_some_and(|limit| p.rel_ns > limit) {
            self.past = true;
        }
        if let (Some(n), Some(seg)) = (self.selection.conn, p.tcp) {
            self.conn_seen |= seg.conn == n;
        }
        if self.past || self.count.is_some_and(|c| self.shown >= c) || !self.selection.matches(p, &mut self.scratch) {
            return Ok(());
        }
        self.shown += 1;
        self.inner.packet(p)
    }
    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        if !self.selection.keeps_conn(&c.summary) {
            return Ok(());
        }
        self.inner.conn(c)
    }
    fn conn_owned(&mut self, c: ConnRecord) -> io::Result<()> {
        if !self.selection.keeps_conn(&c.summary) {
            return Ok(());
        }
        self.inner.conn_owned(c)
    }
    fn message(&mut self, m: &Message) -> io::Result<()> {
        if !self.selection.keeps_flow(m.flow) {
            return Ok(());
        }
        self.inner.message(m)
    }
    fn message_owned(&mut self, m: Message) -> io::Result<()> {
        if !self.selection.keeps_flow(m.flow) {
            return Ok(());
        }
        self.inner.message_owned(m)
    }
    fn late(&mut self, c: &Carried) -> io::Result<()> {
        self.inner.late(c)
    }
    fn finish(&mut self, s: &RunSummary) -> io::Result<()> {
        self.inner.finish(s)
    }
    fn wants_packets(&self) -> bool {
        self.inner.wants_packets()
    }
    fn wants_messages(&self) -> bool {
        self.inner.wants_messages()
    }
    fn wants_message_frames(&self) -> bool {
        self.inner.wants_message_frames()
    }
    fn satisfied(&self) -> bool {
        self.past || self.count.is_some_and(|c| self.shown >= c) || self.inner.satisfied()
    }
}
