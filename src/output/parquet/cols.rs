//! The columns of the three tables (`docs/parquet.md`): Arrow builders filled from the values
//! the JSON-lines sink writes, one `push` per record.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
    UInt8Builder,
};
use arrow_array::ArrayRef;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::write::Columns;
use super::ConnOrigin;
use crate::analyze::{FramingSpec, Message};
use crate::decode::{tcpflags, Link, Net, Transport};
use crate::output::conns::{ConnRow, DirCounts};
use crate::pipeline::PacketView;

fn utc_ns() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

fn utc_builder() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}

/// An IPv4 address as a number (`ip_src_v4`, ...: ranges and subnets as integer comparisons).
fn v4(ip: &IpAddr) -> Option<u32> {
    match ip {
        IpAddr::V4(a) => Some(u32::from(*a)),
        IpAddr::V6(_) => None,
    }
}

fn put_display(b: &mut StringBuilder, value: impl std::fmt::Display) {
    let _ = write!(b, "{value}");
    b.append_value("");
}

/// The `packets` table: one row per frame shown (the JSON `packet` record).
pub struct PacketCols {
    file: StringBuilder,
    n: UInt64Builder,
    ts: TimestampNanosecondBuilder,
    t_ns: Int64Builder,
    len: UInt32Builder,
    caplen: UInt32Builder,
    eth_src: StringBuilder,
    eth_dst: StringBuilder,
    ethertype: UInt16Builder,
    vlan: ListBuilder<UInt16Builder>,
    ip_version: UInt8Builder,
    ip_src: StringBuilder,
    ip_dst: StringBuilder,
    ip_src_v4: UInt32Builder,
    ip_dst_v4: UInt32Builder,
    ip_ttl: UInt8Builder,
    ip_proto: UInt8Builder,
    ip_id: UInt32Builder,
    transport: StringBuilder,
    sport: UInt16Builder,
    dport: UInt16Builder,
    udp_len: UInt16Builder,
    icmp_type: UInt8Builder,
    icmp_code: UInt8Builder,
    tcp_flags: ListBuilder<StringBuilder>,
    tcp_seq: UInt32Builder,
    tcp_ack: UInt32Builder,
    tcp_rseq: UInt32Builder,
    tcp_rack: UInt32Builder,
    tcp_len: UInt32Builder,
    tcp_win: UInt16Builder,
    tcp_win_scaled: UInt32Builder,
    tcp_mss: UInt16Builder,
    tcp_ws: UInt8Builder,
    conn: UInt32Builder,
    dir: StringBuilder,
    phase: StringBuilder,
    state_client: StringBuilder,
    state_server: StringBuilder,
    analysis: ListBuilder<StringBuilder>,
    bytes_in_flight: UInt32Builder,
    warnings: ListBuilder<StringBuilder>,
    app_proto: StringBuilder,
    app_info: StringBuilder,
    rows: usize,
}

impl Default for PacketCols {
    fn default() -> Self {
        PacketCols {
            file: StringBuilder::new(),
            n: UInt64Builder::new(),
            ts: utc_builder(),
            t_ns: Int64Builder::new(),
            len: UInt32Builder::new(),
            caplen: UInt32Builder::new(),
            eth_src: StringBuilder::new(),
            eth_dst: StringBuilder::new(),
            ethertype: UInt16Builder::new(),
            vlan: ListBuilder::new(UInt16Builder::new()),
            ip_version: UInt8Builder::new(),
            ip_src: StringBuilder::new(),
            ip_dst: StringBuilder::new(),
            ip_src_v4: UInt32Builder::new(),
            ip_dst_v4: UInt32Builder::new(),
            ip_ttl: UInt8Builder::new(),
            ip_proto: UInt8Builder::new(),
            ip_id: UInt32Builder::new(),
            transport: StringBuilder::new(),
            sport: UInt16Builder::new(),
            dport: UInt16Builder::new(),
            udp_len: UInt16Builder::new(),
            icmp_type: UInt8Builder::new(),
            icmp_code: UInt8Builder::new(),
            tcp_flags: ListBuilder::new(StringBuilder::new()),
            tcp_seq: UInt32Builder::new(),
            tcp_ack: UInt32Builder::new(),
            tcp_rseq: UInt32Builder::new(),
            tcp_rack: UInt32Builder::new(),
            tcp_len: UInt32Builder::new(),
            tcp_win: UInt16Builder::new(),
            tcp_win_scaled: UInt32Builder::new(),
            tcp_mss: UInt16Builder::new(),
            tcp_ws: UInt8Builder::new(),
            conn: UInt32Builder::new(),
            dir: StringBuilder::new(),
            phase: StringBuilder::new(),
            state_client: StringBuilder::new(),
            state_server: StringBuilder::new(),
            analysis: ListBuilder::new(StringBuilder::new()),
            bytes_in_flight: UInt32Builder::new(),
            warnings: ListBuilder::new(StringBuilder::new()),
            app_proto: StringBuilder::new(),
            app_info: StringBuilder::new(),
            rows: 0,
        }
    }
}

impl Columns for PacketCols {
    fn schema() -> SchemaRef {
        use DataType::*;
        let f = |name: &str, ty: DataType, nullable: bool| Field::new(name, ty, nullable);
        Arc::new(Schema::new(vec![
            f("file", Utf8, true),
            f("n", UInt64, false),
            f("ts", utc_ns(), true),
            f("t_ns", Int64, true),
            f("len", UInt32, false),
            f("caplen", UInt32, false),
            f("eth_src", Utf8, true),
            f("eth_dst", Utf8, true),
            f("ethertype", UInt16, true),
            f("vlan", list_of(UInt16), true),
            f("ip_version", UInt8, true),
            f("ip_src", Utf8, true),
            f("ip_dst", Utf8, true),
            f("ip_src_v4", UInt32, true),
            f("ip_dst_v4", UInt32, true),
            f("ip_ttl", UInt8, true),
            f("ip_proto", UInt8, true),
            f("ip_id", UInt32, true),
            f("transport", Utf8, true),
            f("sport", UInt16, true),
            f("dport", UInt16, true),
            f("udp_len", UInt16, true),
            f("icmp_type", UInt8, true),
            f("icmp_code", UInt8, true),
            f("tcp_flags", list_of(Utf8), true),
            f("tcp_seq", UInt32, true),
            f("tcp_ack", UInt32, true),
            f("tcp_rseq", UInt32, true),
            f("tcp_rack", UInt32, true),
            f("tcp_len", UInt32, true),
            f("tcp_win", UInt16, true),
            f("tcp_win_scaled", UInt32, true),
            f("tcp_mss", UInt16, true),
            f("tcp_ws", UInt8, true),
            f("conn", UInt32, true),
            f("dir", Utf8, true),
            f("phase", Utf8, true),
            f("state_client", Utf8, true),
            f("state_server", Utf8, true),
            f("analysis", list_of(Utf8), true),
            f("bytes_in_flight", UInt32, true),
            f("warnings", list_of(Utf8), true),
            f("app_proto", Utf8, true),
            f("app_info", Utf8, true),
        ]))
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        vec![
            Arc::new(self.file.finish()),
            Arc::new(self.n.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.t_ns.finish()),
            Arc::new(self.len.finish()),
            Arc::new(self.caplen.finish()),
            Arc::new(self.eth_src.finish()),
            Arc::new(self.eth_dst.finish()),
            Arc::new(self.ethertype.finish()),
            Arc::new(self.vlan.finish()),
            Arc::new(self.ip_version.finish()),
            Arc::new(self.ip_src.finish()),
            Arc::new(self.ip_dst.finish()),
            Arc::new(self.ip_src_v4.finish()),
            Arc::new(self.ip_dst_v4.finish()),
            Arc::new(self.ip_ttl.finish()),
            Arc::new(self.ip_proto.finish()),
            Arc::new(self.ip_id.finish()),
            Arc::new(self.transport.finish()),
            Arc::new(self.sport.finish()),
            Arc::new(self.dport.finish()),
            Arc::new(self.udp_len.finish()),
            Arc::new(self.icmp_type.finish()),
            Arc::new(self.icmp_code.finish()),
            Arc::new(self.tcp_flags.finish()),
            Arc::new(self.tcp_seq.finish()),
            Arc::new(self.tcp_ack.finish()),
            Arc::new(self.tcp_rseq.finish()),
            Arc::new(self.tcp_rack.finish()),
            Arc::new(self.tcp_len.finish()),
            Arc::new(self.tcp_win.finish()),
            Arc::new(self.tcp_win_scaled.finish()),
            Arc::new(self.tcp_mss.finish()),
            Arc::new(self.tcp_ws.finish()),
            Arc::new(self.conn.finish()),
            Arc::new(self.dir.finish()),
            Arc::new(self.phase.finish()),
            Arc::new(self.state_client.finish()),
            Arc::new(self.state_server.finish()),
            Arc::new(self.analysis.finish()),
            Arc::new(self.bytes_in_flight.finish()),
            Arc::new(self.warnings.finish()),
            Arc::new(self.app_proto.finish()),
            Arc::new(self.app_info.finish()),
        ]
    }
}

impl PacketCols {
    /// One packet record's row, from the values `json::write_head` writes.
    pub(super) fn push(&mut self, view: &PacketView<'_, '_>, input: Option<&str>) {
        let frame = view.frame;
        match view.file {
            Some(file) => put_display(&mut self.file, file.display()),
            None => self.file.append_option(input),
        }
        self.n.append_value(view.n);
        if view.meta.stamped {
            self.ts.append_value(view.meta.ts_ns);
            self.t_ns.append_value(view.rel_ns);
        } else {
            self.ts.append_null();
            self.t_ns.append_null();
        }
        self.len.append_value(view.meta.len);
        self.caplen.append_value(view.meta.caplen);
        match frame.link {
            Link::Ethernet { src, dst } => {
                self.eth_src.append_value(std::str::from_utf8(&src.fmt_buf()).unwrap_or("?"));
                self.eth_dst.append_value(std::str::from_utf8(&dst.fmt_buf()).unwrap_or("?"));
                if frame.nvlan > 0 {
                    for vlan in frame.vlans() {
                        self.vlan.values().append_value(*vlan);
                    }
                    self.vlan.append(true);
                } else {
                    self.vlan.append_null();
                }
            }
            _ => {
                self.eth_src.append_null();
                self.eth_dst.append_null();
                self.vlan.append_null();
            }
        }
        self.ethertype.append_option(frame.ethertype);
        match &frame.net {
            Net::Ip(ip) => {
                self.ip_version.append_value(ip.version);
                put_display(&mut self.ip_src, ip.src);
                put_display(&mut self.ip_dst, ip.dst);
                self.ip_src_v4.append_option(v4(&ip.src));
                self.ip_dst_v4.append_option(v4(&ip.dst));
                self.ip_ttl.append_value(ip.ttl);
                self.ip_proto.append_value(ip.proto);
                self.ip_id.append_option(ip.id);
            }
            _ => {
                self.ip_version.append_null();
                self.ip_src.append_null();
                self.ip_dst.append_null();
                self.ip_src_v4.append_null();
                self.ip_dst_v4.append_null();
                self.ip_ttl.append_null();
                self.ip_proto.append_null();
                self.ip_id.append_null();
            }
        }
        let (transport, ports) = match &frame.transport {
            Transport::Tcp(tcp) => (Some("tcp"), Some((tcp.sport, tcp.dport))),
            Transport::Udp(udp) => (Some("udp"), Some((udp.sport, udp.dport))),
            Transport::Icmp(_) => (Some("icmp"), None),
            Transport::Other(_) | Transport::None => (matches!(frame.net, Net::Arp(_)).then_some("arp"), None),
        };
        self.transport.append_option(transport);
        self.sport.append_option(ports.map(|p| p.0));
        self.dport.append_option(ports.map(|p| p.1));
        match &frame.transport {
            Transport::Udp(udp) => self.udp_len.append_value(udp.len),
            _ => self.udp_len.append_null(),
        }
        match &frame.transport {
            Transport::Icmp(icmp) => {
                self.icmp_type.append_value(icmp.ty);
                self.icmp_code.append_value(icmp.code);
            }
            _ => {
                self.icmp_type.append_null();
                self.icmp_code.append_null();
            }
        }
        match &frame.transport {
            Transport::Tcp(tcp) => {
                for (i, name) in tcpflags::NAMES.iter().enumerate() {
                    if tcp.flags & (1 << i) != 0 {
                        self.tcp_flags.values().append_value(name);
                    }
                }
                self.tcp_flags.append(true);
                self.tcp_seq.append_value(tcp.seq);
                self.tcp_ack.append_value(tcp.ack);
                self.tcp_len.append_value(tcp.len);
                self.tcp_win.append_value(tcp.win);
                self.tcp_mss.append_option(tcp.opts.mss);
                self.tcp_ws.append_option(tcp.opts.ws);
            }
            _ => {
                self.tcp_flags.append_null();
                self.tcp_seq.append_null();
                self.tcp_ack.append_null();
                self.tcp_len.append_null();
                self.tcp_win.append_null();
                self.tcp_mss.append_null();
                self.tcp_ws.append_null();
            }
        }
        match (&view.tcp, &view.udp) {
            (Some(seg), _) => {
                self.tcp_rseq.append_value(seg.rseq);
                self.tcp_rack.append_option(seg.rack);
                self.tcp_win_scaled.append_option(seg.win_scaled);
                self.conn.append_value(seg.conn);
                put_display(&mut self.dir, seg.dir);
                put_display(&mut self.phase, seg.phase);
                self.state_client.append_value(seg.client.name());
                self.state_server.append_value(seg.server.name());
                for name in seg.analysis.names() {
                    self.analysis.values().append_value(name);
                }
                self.analysis.append(true);
                self.bytes_in_flight.append_option(seg.bytes_in_flight);
            }
            (None, udp) => {
                self.tcp_rseq.append_null();
                self.tcp_rack.append_null();
                self.tcp_win_scaled.append_null();
                // a UDP datagram's flow id: the `conn` of its messages and its conn row
                self.conn.append_option(udp.map(|u| u.flow));
                match udp {
                    Some(u) => put_display(&mut self.dir, u.dir),
                    None => self.dir.append_null(),
                }
                self.phase.append_null();
                self.state_client.append_null();
                self.state_server.append_null();
                self.analysis.append_null();
                self.bytes_in_flight.append_null();
            }
        }
        // as the JSON record: the decoder's warnings, then what IP reassembly says of the frame
        let reasm = crate::output::json::reasm_warnings(frame);
        if frame.warnings.is_empty() && reasm.iter().all(Option::is_none) {
            self.warnings.append_null();
        } else {
            for warn in frame.warnings.iter() {
                put_display(self.warnings.values(), warn);
            }
            for text in reasm.iter().flatten() {
                self.warnings.values().append_value(text);
            }
            self.warnings.append(true);
        }
        // the JSON record's `app.proto` and `app.info` (the wire's bytes; not UTF-8 as U+FFFD)
        match crate::decode::app::summarize(frame) {
            Some(info) => {
                let mut raw = Vec::with_capacity(128);
                let _ = info.write_info(&mut raw);
                self.app_proto.append_value(info.proto().name());
                self.app_info.append_value(String::from_utf8_lossy(&raw));
            }
            None => {
                self.app_proto.append_null();
                self.app_info.append_null();
            }
        }
        self.rows += 1;
    }
}

/// The `messages` table: one row per application message (the JSON `message` record).
pub struct MessageCols {
    file: StringBuilder,
    conn: UInt32Builder,
    proto: StringBuilder,
    dir: StringBuilder,
    index: UInt64Builder,
    offset: UInt64Builder,
    len: UInt64Builder,
    framing: StringBuilder,
    frames: ListBuilder<UInt64Builder>,
    nframes: UInt64Builder,
    sticky: BooleanBuilder,
    split: BooleanBuilder,
    complete: BooleanBuilder,
    first_ts: TimestampNanosecondBuilder,
    last_ts: TimestampNanosecondBuilder,
    next_gap_ns: Int64Builder,
    rows: usize,
}

impl Default for MessageCols {
    fn default() -> Self {
        MessageCols {
            file: StringBuilder::new(),
            conn: UInt32Builder::new(),
            proto: StringBuilder::new(),
            dir: StringBuilder::new(),
            index: UInt64Builder::new(),
            offset: UInt64Builder::new(),
            len: UInt64Builder::new(),
            framing: StringBuilder::new(),
            frames: ListBuilder::new(UInt64Builder::new()),
            nframes: UInt64Builder::new(),
            sticky: BooleanBuilder::new(),
            split: BooleanBuilder::new(),
            complete: BooleanBuilder::new(),
            first_ts: utc_builder(),
            last_ts: utc_builder(),
            next_gap_ns: Int64Builder::new(),
            rows: 0,
        }
    }
}

impl Columns for MessageCols {
    fn schema() -> SchemaRef {
        use DataType::*;
        let f = |name: &str, ty: DataType, nullable: bool| Field::new(name, ty, nullable);
        Arc::new(Schema::new(vec![
            f("file", Utf8, true),
            f("conn", UInt32, false),
            f("proto", Utf8, false),
            f("dir", Utf8, false),
            f("index", UInt64, false),
            f("offset", UInt64, false),
            f("len", UInt64, false),
            f("framing", Utf8, false),
            f("frames", list_of(UInt64), false),
            f("nframes", UInt64, false),
            f("sticky", Boolean, true),
            f("split", Boolean, true),
            f("complete", Boolean, false),
            f("first_ts", utc_ns(), false),
            f("last_ts", utc_ns(), false),
            f("next_gap_ns", Int64, true),
        ]))
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        vec![
            Arc::new(self.file.finish()),
            Arc::new(self.conn.finish()),
            Arc::new(self.proto.finish()),
            Arc::new(self.dir.finish()),
            Arc::new(self.index.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.len.finish()),
            Arc::new(self.framing.finish()),
            Arc::new(self.frames.finish()),
            Arc::new(self.nframes.finish()),
            Arc::new(self.sticky.finish()),
            Arc::new(self.split.finish()),
            Arc::new(self.complete.finish()),
            Arc::new(self.first_ts.finish()),
            Arc::new(self.last_ts.finish()),
            Arc::new(self.next_gap_ns.finish()),
        ]
    }
}

impl MessageCols {
    /// One message record's row, from the values `json::write_message` writes.
    pub(super) fn push(&mut self, file: Option<&str>, msg: &Message, next_gap: Option<i64>) {
        self.file.append_option(file);
        self.conn.append_value(msg.flow.id());
        self.proto.append_value(if msg.flow.is_udp() { "udp" } else { "tcp" });
        put_display(&mut self.dir, msg.dir);
        self.index.append_value(msg.index);
        self.offset.append_value(msg.offset);
        self.len.append_value(msg.len);
        put_display(&mut self.framing, msg.framing);
        for frame in &msg.frames {
            self.frames.values().append_value(*frame);
        }
        self.frames.append(true);
        self.nframes.append_value(msg.nframes);
        // unknown under segment framing or an offloaded frame of unknown wire segmentation
        let known = !(msg.framing == FramingSpec::Segment || msg.wire_unknown);
        self.sticky.append_option(known.then_some(msg.sticky));
        self.split.append_option(known.then_some(msg.split));
        self.complete.append_value(msg.complete);
        self.first_ts.append_value(msg.first_ts);
        self.last_ts.append_value(msg.last_ts);
        self.next_gap_ns.append_option(next_gap);
        self.rows += 1;
    }
}

/// The `conns` table: one row per TCP connection, UDP or ICMP flow (the JSON `conn` record).
pub struct ConnCols {
    file: StringBuilder,
    file_last: StringBuilder,
    pieces: UInt32Builder,
    conn: UInt32Builder,
    proto: StringBuilder,
    client: StringBuilder,
    server: StringBuilder,
    client_ip: StringBuilder,
    client_port: UInt16Builder,
    server_ip: StringBuilder,
    server_port: UInt16Builder,
    client_ip_v4: UInt32Builder,
    server_ip_v4: UInt32Builder,
    conn_state: StringBuilder,
    history: StringBuilder,
    client_state: StringBuilder,
    server_state: StringBuilder,
    mss_client: UInt16Builder,
    mss_server: UInt16Builder,
    ws_client: UInt8Builder,
    ws_server: UInt8Builder,
    irtt_ns: Int64Builder,
    packets_c2s: UInt64Builder,
    packets_s2c: UInt64Builder,
    bytes_c2s: UInt64Builder,
    bytes_s2c: UInt64Builder,
    missed_bytes_c2s: UInt64Builder,
    missed_bytes_s2c: UInt64Builder,
    retransmissions: UInt64Builder,
    dup_acks: UInt64Builder,
    zero_windows: UInt64Builder,
    sack_perm: BooleanBuilder,
    timestamps: BooleanBuilder,
    start: TimestampNanosecondBuilder,
    end: TimestampNanosecondBuilder,
    duration_ns: Int64Builder,
    first_frame: UInt64Builder,
    last_frame: UInt64Builder,
    icmp_errors: UInt64Builder,
    tunnel: StringBuilder,
    messages_c2s: UInt64Builder,
    messages_s2c: UInt64Builder,
    framing_c2s: StringBuilder,
    framing_s2c: StringBuilder,
    sticky_c2s: UInt64Builder,
    sticky_s2c: UInt64Builder,
    split_c2s: UInt64Builder,
    split_s2c: UInt64Builder,
    gaps_c2s: UInt64Builder,
    gaps_s2c: UInt64Builder,
    rows: usize,
}

impl Default for ConnCols {
    fn default() -> Self {
        ConnCols {
            file: StringBuilder::new(),
            file_last: StringBuilder::new(),
            pieces: UInt32Builder::new(),
            conn: UInt32Builder::new(),
            proto: StringBuilder::new(),
            client: StringBuilder::new(),
            server: StringBuilder::new(),
            client_ip: StringBuilder::new(),
            client_port: UInt16Builder::new(),
            server_ip: StringBuilder::new(),
            server_port: UInt16Builder::new(),
            client_ip_v4: UInt32Builder::new(),
            server_ip_v4: UInt32Builder::new(),
            conn_state: StringBuilder::new(),
            history: StringBuilder::new(),
            client_state: StringBuilder::new(),
            server_state: StringBuilder::new(),
            mss_client: UInt16Builder::new(),
            mss_server: UInt16Builder::new(),
            ws_client: UInt8Builder::new(),
            ws_server: UInt8Builder::new(),
            irtt_ns: Int64Builder::new(),
            packets_c2s: UInt64Builder::new(),
            packets_s2c: UInt64Builder::new(),
            bytes_c2s: UInt64Builder::new(),
            bytes_s2c: UInt64Builder::new(),
            missed_bytes_c2s: UInt64Builder::new(),
            missed_bytes_s2c: UInt64Builder::new(),
            retransmissions: UInt64Builder::new(),
            dup_acks: UInt64Builder::new(),
            zero_windows: UInt64Builder::new(),
            sack_perm: BooleanBuilder::new(),
            timestamps: BooleanBuilder::new(),
            start: utc_builder(),
            end: utc_builder(),
            duration_ns: Int64Builder::new(),
            first_frame: UInt64Builder::new(),
            last_frame: UInt64Builder::new(),
            icmp_errors: UInt64Builder::new(),
            tunnel: StringBuilder::new(),
            messages_c2s: UInt64Builder::new(),
            messages_s2c: UInt64Builder::new(),
            framing_c2s: StringBuilder::new(),
            framing_s2c: StringBuilder::new(),
            sticky_c2s: UInt64Builder::new(),
            sticky_s2c: UInt64Builder::new(),
            split_c2s: UInt64Builder::new(),
            split_s2c: UInt64Builder::new(),
            gaps_c2s: UInt64Builder::new(),
            gaps_s2c: UInt64Builder::new(),
            rows: 0,
        }
    }
}

impl Columns for ConnCols {
    fn schema() -> SchemaRef {
        use DataType::*;
        let f = |name: &str, ty: DataType, nullable: bool| Field::new(name, ty, nullable);
        Arc::new(Schema::new(vec![
            f("file", Utf8, true),
            f("file_last", Utf8, true),
            f("pieces", UInt32, false),
            f("conn", UInt32, false),
            f("proto", Utf8, false),
            f("client", Utf8, false),
            f("server", Utf8, false),
            f("client_ip", Utf8, false),
            f("client_port", UInt16, false),
            f("server_ip", Utf8, false),
            f("server_port", UInt16, false),
            f("client_ip_v4", UInt32, true),
            f("server_ip_v4", UInt32, true),
            f("conn_state", Utf8, false),
            f("history", Utf8, false),
            f("client_state", Utf8, true),
            f("server_state", Utf8, true),
            f("mss_client", UInt16, true),
            f("mss_server", UInt16, true),
            f("ws_client", UInt8, true),
            f("ws_server", UInt8, true),
            f("irtt_ns", Int64, true),
            f("packets_c2s", UInt64, false),
            f("packets_s2c", UInt64, false),
            f("bytes_c2s", UInt64, false),
            f("bytes_s2c", UInt64, false),
            f("missed_bytes_c2s", UInt64, true),
            f("missed_bytes_s2c", UInt64, true),
            f("retransmissions", UInt64, true),
            f("dup_acks", UInt64, true),
            f("zero_windows", UInt64, true),
            f("sack_perm", Boolean, true),
            f("timestamps", Boolean, true),
            f("start", utc_ns(), false),
            f("end", utc_ns(), false),
            f("duration_ns", Int64, false),
            f("first_frame", UInt64, false),
            f("last_frame", UInt64, false),
            f("icmp_errors", UInt64, false),
            f("tunnel", Utf8, true),
            f("messages_c2s", UInt64, true),
            f("messages_s2c", UInt64, true),
            f("framing_c2s", Utf8, true),
            f("framing_s2c", Utf8, true),
            f("sticky_c2s", UInt64, true),
            f("sticky_s2c", UInt64, true),
            f("split_c2s", UInt64, true),
            f("split_s2c", UInt64, true),
            f("gaps_c2s", UInt64, true),
            f("gaps_s2c", UInt64, true),
        ]))
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        vec![
            Arc::new(self.file.finish()),
            Arc::new(self.file_last.finish()),
            Arc::new(self.pieces.finish()),
            Arc::new(self.conn.finish()),
            Arc::new(self.proto.finish()),
            Arc::new(self.client.finish()),
            Arc::new(self.server.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.client_port.finish()),
            Arc::new(self.server_ip.finish()),
            Arc::new(self.server_port.finish()),
            Arc::new(self.client_ip_v4.finish()),
            Arc::new(self.server_ip_v4.finish()),
            Arc::new(self.conn_state.finish()),
            Arc::new(self.history.finish()),
            Arc::new(self.client_state.finish()),
            Arc::new(self.server_state.finish()),
            Arc::new(self.mss_client.finish()),
            Arc::new(self.mss_server.finish()),
            Arc::new(self.ws_client.finish()),
            Arc::new(self.ws_server.finish()),
            Arc::new(self.irtt_ns.finish()),
            Arc::new(self.packets_c2s.finish()),
            Arc::new(self.packets_s2c.finish()),
            Arc::new(self.bytes_c2s.finish()),
            Arc::new(self.bytes_s2c.finish()),
            Arc::new(self.missed_bytes_c2s.finish()),
            Arc::new(self.missed_bytes_s2c.finish()),
            Arc::new(self.retransmissions.finish()),
            Arc::new(self.dup_acks.finish()),
            Arc::new(self.zero_windows.finish()),
            Arc::new(self.sack_perm.finish()),
            Arc::new(self.timestamps.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            Arc::new(self.duration_ns.finish()),
            Arc::new(self.first_frame.finish()),
            Arc::new(self.last_frame.finish()),
            Arc::new(self.icmp_errors.finish()),
            Arc::new(self.tunnel.finish()),
            Arc::new(self.messages_c2s.finish()),
            Arc::new(self.messages_s2c.finish()),
            Arc::new(self.framing_c2s.finish()),
            Arc::new(self.framing_s2c.finish()),
            Arc::new(self.sticky_c2s.finish()),
            Arc::new(self.sticky_s2c.finish()),
            Arc::new(self.split_c2s.finish()),
            Arc::new(self.split_s2c.finish()),
            Arc::new(self.gaps_c2s.finish()),
            Arc::new(self.gaps_s2c.finish()),
        ]
    }
}

impl ConnCols {
    /// One conn record's row, from the values `json::write_conn` writes.
    pub(super) fn push(&mut self, origin: &ConnOrigin, row: &ConnRow) {
        let c = &row.summary;
        let tcp = c.proto == crate::track::Proto::Tcp;
        self.file.append_option(origin.file.as_deref());
        self.file_last.append_option(origin.file_last.as_deref().or(origin.file.as_deref()));
        self.pieces.append_value(origin.pieces.max(1));
        self.conn.append_value(c.conn);
        self.proto.append_value(c.proto.name());
        put_display(&mut self.client, c.client);
        put_display(&mut self.server, c.server);
        let endpoint = |ip: &mut StringBuilder, port: &mut UInt16Builder, v4col: &mut UInt32Builder, a: &SocketAddr| {
            put_display(ip, a.ip());
            port.append_value(a.port());
            v4col.append_option(v4(&a.ip()));
        };
        endpoint(&mut self.client_ip, &mut self.client_port, &mut self.client_ip_v4, &c.client);
        endpoint(&mut self.server_ip, &mut self.server_port, &mut self.server_ip_v4, &c.server);
        put_display(&mut self.conn_state, c.conn_state);
        self.history.append_value(&c.history);
        // TCP-only columns are null for UDP and ICMP flows, as their JSON records lack the keys
        let tcp_u64 = |b: &mut UInt64Builder, v: u64| b.append_option(tcp.then_some(v));
        if tcp {
            self.client_state.append_value(c.client_state.name());
            self.server_state.append_value(c.server_state.name());
        } else {
            self.client_state.append_null();
            self.server_state.append_null();
        }
        self.mss_client.append_option(c.mss.0.filter(|_| tcp));
        self.mss_server.append_option(c.mss.1.filter(|_| tcp));
        self.ws_client.append_option(c.ws.0.filter(|_| tcp));
        self.ws_server.append_option(c.ws.1.filter(|_| tcp));
        self.irtt_ns.append_option(c.irtt.filter(|_| tcp));
        self.packets_c2s.append_value(c.packets[0]);
        self.packets_s2c.append_value(c.packets[1]);
        self.bytes_c2s.append_value(c.bytes[0]);
        self.bytes_s2c.append_value(c.bytes[1]);
        tcp_u64(&mut self.missed_bytes_c2s, c.missed_bytes[0]);
        tcp_u64(&mut self.missed_bytes_s2c, c.missed_bytes[1]);
        tcp_u64(&mut self.retransmissions, c.retransmissions);
        tcp_u64(&mut self.dup_acks, c.dup_acks);
        tcp_u64(&mut self.zero_windows, c.zero_windows);
        // both SYNs decide them: unknown when a file boundary cut the handshake
        let both_syns = tcp && !origin.handshake_cut;
        self.sack_perm.append_option(both_syns.then_some(c.sack_perm));
        self.timestamps.append_option(both_syns.then_some(c.timestamps));
        self.start.append_value(c.first_ts);
        self.end.append_value(c.last_ts);
        self.duration_ns.append_value(c.last_ts.saturating_sub(c.first_ts));
        self.first_frame.append_value(c.first_frame);
        self.last_frame.append_value(c.last_frame);
        self.icmp_errors.append_value(c.icmp_errors);
        self.tunnel.append_option(c.tunnel.as_deref());
        // seam columns: as the JSON record, present for TCP when seams were read (0 for a
        // direction without payload; sticky/split null where unknown), the datagram count for UDP
        let seams = &row.seams;
        let any_seams = seams.iter().any(Option::is_some);
        let count = |dir: &Option<DirCounts>, field: fn(&DirCounts) -> u64| dir.as_ref().map_or(0, field);
        let known = |dir: &Option<DirCounts>, field: fn(&DirCounts) -> Option<u64>| dir.as_ref().map_or(Some(0), field);
        if tcp && any_seams {
            self.messages_c2s.append_value(count(&seams[0], |d| d.messages));
            self.messages_s2c.append_value(count(&seams[1], |d| d.messages));
            for (b, dir) in [(&mut self.framing_c2s, &seams[0]), (&mut self.framing_s2c, &seams[1])] {
                match dir.as_ref().and_then(|d| d.framing) {
                    Some(spec) => put_display(b, spec),
                    None => b.append_null(),
                }
            }
            self.sticky_c2s.append_option(known(&seams[0], |d| d.sticky));
            self.sticky_s2c.append_option(known(&seams[1], |d| d.sticky));
            self.split_c2s.append_option(known(&seams[0], |d| d.split));
            self.split_s2c.append_option(known(&seams[1], |d| d.split));
            self.gaps_c2s.append_value(count(&seams[0], |d| d.gaps));
            self.gaps_s2c.append_value(count(&seams[1], |d| d.gaps));
        } else {
            if c.proto == crate::track::Proto::Udp {
                self.messages_c2s.append_value(c.packets[0]);
                self.messages_s2c.append_value(c.packets[1]);
            } else {
                self.messages_c2s.append_null();
                self.messages_s2c.append_null();
            }
            for b in [&mut self.framing_c2s, &mut self.framing_s2c] {
                b.append_null();
            }
            for b in [
                &mut self.sticky_c2s,
                &mut self.sticky_s2c,
                &mut self.split_c2s,
                &mut self.split_s2c,
                &mut self.gaps_c2s,
                &mut self.gaps_s2c,
            ] {
                b.append_null();
            }
        }
        self.rows += 1;
    }
}
