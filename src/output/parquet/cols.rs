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

/// A table's columns declared once: the struct of builders, their `Default`, and the
/// [`Columns`] impl whose schema and arrays follow the same order (each line: the column's name,
/// its builder type, how the builder is made, its Arrow type, whether it may be null).
macro_rules! columns {
    ($(#[$doc:meta])* $name:ident { $($col:ident: $builder:ty = $new:expr, $dtype:expr, $nullable:expr;)* }) => {
        $(#[$doc])*
        pub struct $name {
            $($col: $builder,)*
            rows: usize,
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($col: $new,)* rows: 0 }
            }
        }

        impl Columns for $name {
            fn schema() -> SchemaRef {
                #[allow(unused_imports)]
                use DataType::*;
                Arc::new(Schema::new(vec![$(Field::new(stringify!($col), $dtype, $nullable)),*]))
            }

            fn len(&self) -> usize {
                self.rows
            }

            fn finish(&mut self) -> Vec<ArrayRef> {
                self.rows = 0;
                vec![$(Arc::new(self.$col.finish()) as ArrayRef),*]
            }
        }
    };
}

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

columns! {
    /// The `packets` table: one row per frame shown (the JSON `packet` record).
    PacketCols {
        file: StringBuilder = StringBuilder::new(), Utf8, true;
        n: UInt64Builder = UInt64Builder::new(), UInt64, false;
        ts: TimestampNanosecondBuilder = utc_builder(), utc_ns(), true;
        t_ns: Int64Builder = Int64Builder::new(), Int64, true;
        len: UInt32Builder = UInt32Builder::new(), UInt32, false;
        caplen: UInt32Builder = UInt32Builder::new(), UInt32, false;
        eth_src: StringBuilder = StringBuilder::new(), Utf8, true;
        eth_dst: StringBuilder = StringBuilder::new(), Utf8, true;
        ethertype: UInt16Builder = UInt16Builder::new(), UInt16, true;
        vlan: ListBuilder<UInt16Builder> = ListBuilder::new(UInt16Builder::new()), list_of(UInt16), true;
        ip_version: UInt8Builder = UInt8Builder::new(), UInt8, true;
        ip_src: StringBuilder = StringBuilder::new(), Utf8, true;
        ip_dst: StringBuilder = StringBuilder::new(), Utf8, true;
        ip_src_v4: UInt32Builder = UInt32Builder::new(), UInt32, true;
        ip_dst_v4: UInt32Builder = UInt32Builder::new(), UInt32, true;
        ip_ttl: UInt8Builder = UInt8Builder::new(), UInt8, true;
        ip_proto: UInt8Builder = UInt8Builder::new(), UInt8, true;
        ip_id: UInt32Builder = UInt32Builder::new(), UInt32, true;
        transport: StringBuilder = StringBuilder::new(), Utf8, true;
        sport: UInt16Builder = UInt16Builder::new(), UInt16, true;
        dport: UInt16Builder = UInt16Builder::new(), UInt16, true;
        udp_len: UInt16Builder = UInt16Builder::new(), UInt16, true;
        icmp_type: UInt8Builder = UInt8Builder::new(), UInt8, true;
        icmp_code: UInt8Builder = UInt8Builder::new(), UInt8, true;
        tcp_flags: ListBuilder<StringBuilder> = ListBuilder::new(StringBuilder::new()), list_of(Utf8), true;
        tcp_seq: UInt32Builder = UInt32Builder::new(), UInt32, true;
        tcp_ack: UInt32Builder = UInt32Builder::new(), UInt32, true;
        tcp_rseq: UInt32Builder = UInt32Builder::new(), UInt32, true;
        tcp_rack: UInt32Builder = UInt32Builder::new(), UInt32, true;
        tcp_len: UInt32Builder = UInt32Builder::new(), UInt32, true;
        tcp_win: UInt16Builder = UInt16Builder::new(), UInt16, true;
        tcp_win_scaled: UInt32Builder = UInt32Builder::new(), UInt32, true;
        tcp_mss: UInt16Builder = UInt16Builder::new(), UInt16, true;
        tcp_ws: UInt8Builder = UInt8Builder::new(), UInt8, true;
        conn: UInt32Builder = UInt32Builder::new(), UInt32, true;
        dir: StringBuilder = StringBuilder::new(), Utf8, true;
        phase: StringBuilder = StringBuilder::new(), Utf8, true;
        state_client: StringBuilder = StringBuilder::new(), Utf8, true;
        state_server: StringBuilder = StringBuilder::new(), Utf8, true;
        analysis: ListBuilder<StringBuilder> = ListBuilder::new(StringBuilder::new()), list_of(Utf8), true;
        bytes_in_flight: UInt32Builder = UInt32Builder::new(), UInt32, true;
        warnings: ListBuilder<StringBuilder> = ListBuilder::new(StringBuilder::new()), list_of(Utf8), true;
        app_proto: StringBuilder = StringBuilder::new(), Utf8, true;
        app_info: StringBuilder = StringBuilder::new(), Utf8, true;
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

columns! {
    /// The `messages` table: one row per application message (the JSON `message` record).
    MessageCols {
        file: StringBuilder = StringBuilder::new(), Utf8, true;
        conn: UInt32Builder = UInt32Builder::new(), UInt32, false;
        proto: StringBuilder = StringBuilder::new(), Utf8, false;
        dir: StringBuilder = StringBuilder::new(), Utf8, false;
        index: UInt64Builder = UInt64Builder::new(), UInt64, false;
        offset: UInt64Builder = UInt64Builder::new(), UInt64, false;
        len: UInt64Builder = UInt64Builder::new(), UInt64, false;
        framing: StringBuilder = StringBuilder::new(), Utf8, false;
        frames: ListBuilder<UInt64Builder> = ListBuilder::new(UInt64Builder::new()), list_of(UInt64), false;
        nframes: UInt64Builder = UInt64Builder::new(), UInt64, false;
        sticky: BooleanBuilder = BooleanBuilder::new(), Boolean, true;
        split: BooleanBuilder = BooleanBuilder::new(), Boolean, true;
        complete: BooleanBuilder = BooleanBuilder::new(), Boolean, false;
        first_ts: TimestampNanosecondBuilder = utc_builder(), utc_ns(), false;
        last_ts: TimestampNanosecondBuilder = utc_builder(), utc_ns(), false;
        next_gap_ns: Int64Builder = Int64Builder::new(), Int64, true;
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

columns! {
    /// The `conns` table: one row per TCP connection, UDP or ICMP flow (the JSON `conn` record).
    ConnCols {
        file: StringBuilder = StringBuilder::new(), Utf8, true;
        file_last: StringBuilder = StringBuilder::new(), Utf8, true;
        pieces: UInt32Builder = UInt32Builder::new(), UInt32, false;
        conn: UInt32Builder = UInt32Builder::new(), UInt32, false;
        proto: StringBuilder = StringBuilder::new(), Utf8, false;
        client: StringBuilder = StringBuilder::new(), Utf8, false;
        server: StringBuilder = StringBuilder::new(), Utf8, false;
        client_ip: StringBuilder = StringBuilder::new(), Utf8, false;
        client_port: UInt16Builder = UInt16Builder::new(), UInt16, false;
        server_ip: StringBuilder = StringBuilder::new(), Utf8, false;
        server_port: UInt16Builder = UInt16Builder::new(), UInt16, false;
        client_ip_v4: UInt32Builder = UInt32Builder::new(), UInt32, true;
        server_ip_v4: UInt32Builder = UInt32Builder::new(), UInt32, true;
        conn_state: StringBuilder = StringBuilder::new(), Utf8, false;
        history: StringBuilder = StringBuilder::new(), Utf8, false;
        client_state: StringBuilder = StringBuilder::new(), Utf8, true;
        server_state: StringBuilder = StringBuilder::new(), Utf8, true;
        mss_client: UInt16Builder = UInt16Builder::new(), UInt16, true;
        mss_server: UInt16Builder = UInt16Builder::new(), UInt16, true;
        ws_client: UInt8Builder = UInt8Builder::new(), UInt8, true;
        ws_server: UInt8Builder = UInt8Builder::new(), UInt8, true;
        irtt_ns: Int64Builder = Int64Builder::new(), Int64, true;
        packets_c2s: UInt64Builder = UInt64Builder::new(), UInt64, false;
        packets_s2c: UInt64Builder = UInt64Builder::new(), UInt64, false;
        bytes_c2s: UInt64Builder = UInt64Builder::new(), UInt64, false;
        bytes_s2c: UInt64Builder = UInt64Builder::new(), UInt64, false;
        missed_bytes_c2s: UInt64Builder = UInt64Builder::new(), UInt64, true;
        missed_bytes_s2c: UInt64Builder = UInt64Builder::new(), UInt64, true;
        retransmissions: UInt64Builder = UInt64Builder::new(), UInt64, true;
        dup_acks: UInt64Builder = UInt64Builder::new(), UInt64, true;
        zero_windows: UInt64Builder = UInt64Builder::new(), UInt64, true;
        sack_perm: BooleanBuilder = BooleanBuilder::new(), Boolean, true;
        timestamps: BooleanBuilder = BooleanBuilder::new(), Boolean, true;
        start: TimestampNanosecondBuilder = utc_builder(), utc_ns(), false;
        end: TimestampNanosecondBuilder = utc_builder(), utc_ns(), false;
        duration_ns: Int64Builder = Int64Builder::new(), Int64, false;
        first_frame: UInt64Builder = UInt64Builder::new(), UInt64, false;
        last_frame: UInt64Builder = UInt64Builder::new(), UInt64, false;
        icmp_errors: UInt64Builder = UInt64Builder::new(), UInt64, false;
        tunnel: StringBuilder = StringBuilder::new(), Utf8, true;
        messages_c2s: UInt64Builder = UInt64Builder::new(), UInt64, true;
        messages_s2c: UInt64Builder = UInt64Builder::new(), UInt64, true;
        framing_c2s: StringBuilder = StringBuilder::new(), Utf8, true;
        framing_s2c: StringBuilder = StringBuilder::new(), Utf8, true;
        sticky_c2s: UInt64Builder = UInt64Builder::new(), UInt64, true;
        sticky_s2c: UInt64Builder = UInt64Builder::new(), UInt64, true;
        split_c2s: UInt64Builder = UInt64Builder::new(), UInt64, true;
        split_s2c: UInt64Builder = UInt64Builder::new(), UInt64, true;
        gaps_c2s: UInt64Builder = UInt64Builder::new(), UInt64, true;
        gaps_s2c: UInt64Builder = UInt64Builder::new(), UInt64, true;
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
