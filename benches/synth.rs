//! Synthetic capture for the connection-scaling benchmark (`benches/scale.sh`): N TCP
//! connections that are all open at once, so that the cost per frame can be measured against
//! the number of open connections.
//!
//!   cargo bench --bench synth -- OUT.pcap N_CONNS ROUNDS [BATCHES]
//!
//! Writes a classic pcap (little-endian, microsecond timestamps, Ethernet) holding BATCHES
//! batches (default 1) of N_CONNS connections each. One batch:
//!
//! 1. every connection's handshake: all SYNs (MSS, window scale and SACK-permitted options),
//!    then all SYN,ACKs, then all ACKs;
//! 2. ROUNDS rounds; in each, every connection sends a request (a 4-byte big-endian length
//!    and a [`REQ_BODY`]-byte body), then every server ACKs it, then every server replies (a
//!    4-byte length and a [`REP_BODY`]-byte body), then every client ACKs the reply;
//! 3. every connection closes: client FIN,ACK, server ACK, server FIN,ACK, client ACK (each
//!    step for all connections in turn).
//!
//! So consecutive frames always belong to different connections: with 1M connections every
//! frame touches a connection that is cold in the CPU caches, the worst case for the flow
//! table and the usual case on a busy server. A connection is `7 + 4 * ROUNDS` frames.
//!
//! Sequence and acknowledgement numbers are exact (no loss, no retransmission, no gap), so the
//! tracker sees clean `SF` connections and the seam engine `ROUNDS` messages each way.
//! Timestamps advance by 1 µs per frame: a batch of 1M connections with 4 rounds spans 23 s of
//! capture time, within the tracker's 60 s linger of closed connections, so no connection is
//! summarised before its batch is over. Batches are [`BATCH_GAP_S`] apart (more than the linger)
//! and use fresh client addresses, so with several batches the table holds one batch at a time:
//! files with the same N_CONNS × BATCHES have the same frames for any N_CONNS, and only the
//! number of connections open at once differs.
//!
//! Addresses: clients 10.0.0.1 upwards ([`PORTS_PER_CLIENT`] ports each, from
//! [`CLIENT_PORT0`]), one server 10.255.0.1:9000. ISNs are pseudo-random per connection.
//! Frames shorter than 60 bytes are padded to the Ethernet minimum, as on the wire.
//!
//! The last line on standard output is `frames=F bytes=B conns=C span_s=S` for scripts.
//!
//! Under `cargo test` (no `--bench` argument) it writes nothing: it builds a small capture in
//! memory and checks through `wireseam::pipeline::run` that every connection comes out clean
//! (`SF`, no retransmission, the expected messages). `cargo bench` with no arguments, or with
//! arguments meant for another benchmark (a divan filter for `micro`), does nothing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader, TcpOptionElement};

/// Request body bytes after the 4-byte length prefix.
const REQ_BODY: u32 = 100;
/// Reply body bytes after the 4-byte length prefix.
const REP_BODY: u32 = 120;
/// Request and reply segment lengths (one message per segment).
const REQ_LEN: u32 = 4 + REQ_BODY;
const REP_LEN: u32 = 4 + REP_BODY;
/// Frames per connection besides the rounds: 3 for the handshake, 4 for the close.
const FIXED_FRAMES: u64 = 7;
/// Frames per connection per round: request, its ACK, reply, its ACK.
const ROUND_FRAMES: u64 = 4;

const SERVER_IP: [u8; 4] = [10, 255, 0, 1];
const SERVER_PORT: u16 = 9000;
/// Client ports per client address; connection k uses address `k / PORTS_PER_CLIENT`.
const PORTS_PER_CLIENT: u64 = 64;
const CLIENT_PORT0: u16 = 40_000;
/// Client addresses 10.0.0.1 ..= 10.254.255.255 (below the server's 10.255.0.0/16).
const MAX_CLIENTS: u64 = (254 << 16) | 0xffff;

const CLIENT_MAC: [u8; 6] = [0x02, 0x77, 0x73, 0x00, 0x00, 0x0c];
const SERVER_MAC: [u8; 6] = [0x02, 0x77, 0x73, 0x00, 0x00, 0x05];
/// Window in SYN and SYN,ACK (unscaled), and the raw window after them (× 2^WSCALE).
const SYN_WIN: u16 = 64_240;
const WIN: u16 = 502;
const WSCALE: u8 = 7;
const MSS: u16 = 1460;

/// First timestamp: 2026-01-01T00:00:00Z.
const T0_S: u64 = 1_767_225_600;
/// Capture time between batches, more than the tracker's 60 s linger of closed connections.
const BATCH_GAP_S: u64 = 61;

/// What to generate.
#[derive(Clone, Copy, Debug)]
struct Plan {
    conns: u64,
    rounds: u64,
    batches: u64,
}

impl Plan {
    fn frames(&self) -> u64 {
        self.conns * self.batches * (FIXED_FRAMES + ROUND_FRAMES * self.rounds)
    }
}

/// What was written.
#[derive(Debug, Default)]
struct Written {
    frames: u64,
    bytes: u64,
    /// Capture time from the first frame to the last, in µs.
    span_us: u64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` appends `--bench`; `cargo test` (also `--all-targets`, `--benches`) runs
    // this binary without it, as a test.
    if !args.iter().any(|a| a == "--bench") {
        return match self_check() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("synth self-check failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let pos: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    if !(3..=4).contains(&pos.len()) {
        // Plain `cargo bench`, or a filter for another benchmark: nothing to do here.
        eprintln!("synth: nothing to do (usage: cargo bench --bench synth -- OUT.pcap N_CONNS ROUNDS [BATCHES])");
        return ExitCode::SUCCESS;
    }
    match parse(&pos).and_then(|plan| run(pos[0], plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse(pos: &[&str]) -> Result<Plan, String> {
    let num = |i: usize, what: &str, default: u64| -> Result<u64, String> {
        match pos.get(i) {
            None => Ok(default),
            Some(s) => s.replace('_', "").parse().map_err(|_| format!("{what}: not a number: {s}")),
        }
    };
    let plan = Plan { conns: num(1, "N_CONNS", 0)?, rounds: num(2, "ROUNDS", 0)?, batches: num(3, "BATCHES", 1)? };
    if plan.conns == 0 || plan.batches == 0 {
        return Err("N_CONNS and BATCHES must be at least 1".into());
    }
    if plan.conns * plan.batches > MAX_CLIENTS * PORTS_PER_CLIENT {
        return Err(format!("at most {} connections in all", MAX_CLIENTS * PORTS_PER_CLIENT));
    }
    if plan.rounds > u64::from(u32::MAX / (REQ_LEN + REP_LEN)) {
        return Err("ROUNDS too large for one sequence space".into());
    }
    Ok(plan)
}

fn run(path: &str, plan: Plan) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let w = write_capture(&mut out, plan).and_then(|w| out.flush().map(|()| w)).map_err(|e| format!("{path}: {e}"))?;
    debug_assert_eq!(w.frames, plan.frames());
    let span_s = w.span_us as f64 / 1e6;
    let batch_s = (plan.frames() / plan.batches) as f64 / 1e6;
    if batch_s >= 60.0 {
        eprintln!("synth: warning: a batch spans {batch_s:.1} s of capture time, past the tracker's 60 s linger");
    }
    println!(
        "{path}: {} connections ({} at once, {} rounds each), {} frames, {:.1} MB",
        plan.conns * plan.batches,
        plan.conns,
        plan.rounds,
        w.frames,
        w.bytes as f64 / 1e6
    );
    println!("frames={} bytes={} conns={} span_s={span_s:.6}", w.frames, w.bytes, plan.conns * plan.batches);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Connections

/// One connection's fixed facts; everything else follows from the round number.
#[derive(Clone, Copy)]
struct Conn {
    /// Global connection number (over all batches).
    k: u64,
    ip: [u8; 4],
    port: u16,
    /// Initial sequence numbers of client and server.
    isn_c: u32,
    isn_s: u32,
}

impl Conn {
    fn new(k: u64) -> Conn {
        let host = k / PORTS_PER_CLIENT + 1;
        let ip = [10, (host >> 16) as u8, (host >> 8) as u8, host as u8];
        let port = CLIENT_PORT0 + (k % PORTS_PER_CLIENT) as u16;
        let r = splitmix64(k);
        Conn { k, ip, port, isn_c: r as u32, isn_s: (r >> 32) as u32 }
    }

    /// Client's next sequence number after `r` rounds (past its SYN).
    fn cseq(&self, r: u64) -> u32 {
        self.isn_c.wrapping_add(1).wrapping_add((r as u32).wrapping_mul(REQ_LEN))
    }

    /// Server's next sequence number after `r` rounds (past its SYN,ACK).
    fn sseq(&self, r: u64) -> u32 {
        self.isn_s.wrapping_add(1).wrapping_add((r as u32).wrapping_mul(REP_LEN))
    }

    /// Ethernet, IPv4 and TCP headers of a segment from the client (flags and options follow).
    fn client_seg(&self, seq: u32, win: u16) -> PacketBuilderStep<TcpHeader> {
        PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC).ipv4(self.ip, SERVER_IP, 64).tcp(self.port, SERVER_PORT, seq, win)
    }

    /// The same from the server.
    fn server_seg(&self, seq: u32, win: u16) -> PacketBuilderStep<TcpHeader> {
        PacketBuilder::ethernet2(SERVER_MAC, CLIENT_MAC).ipv4(SERVER_IP, self.ip, 64).tcp(SERVER_PORT, self.port, seq, win)
    }
}

/// A well-mixed 64-bit function of `x` (SplitMix64's finaliser), for ISNs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Options of a SYN and a SYN,ACK: MSS, window scale, SACK permitted (12 bytes).
const SYN_OPTS: [TcpOptionElement; 6] = [
    TcpOptionElement::MaximumSegmentSize(MSS),
    TcpOptionElement::Noop,
    TcpOptionElement::WindowScale(WSCALE),
    TcpOptionElement::Noop,
    TcpOptionElement::Noop,
    TcpOptionElement::SelectiveAcknowledgementPermitted,
];

/// The message of `len` bytes (4-byte big-endian length, then the body) that connection `k`
/// sends in round `r`: the body starts with k and r, then printable filler.
fn message(buf: &mut Vec<u8>, len: u32, k: u64, r: u64) {
    buf.clear();
    buf.extend_from_slice(&(len - 4).to_be_bytes());
    buf.extend_from_slice(&(k as u32).to_be_bytes());
    buf.extend_from_slice(&(r as u32).to_be_bytes());
    let fill = b'a' + ((k + r) % 26) as u8;
    buf.resize(len as usize, fill);
}

// ---------------------------------------------------------------------------------------------
// pcap

/// Writes classic pcap records with a 1 µs clock.
struct PcapOut<'w, W: Write> {
    out: &'w mut W,
    /// Capture time of the next frame, µs since `T0_S`.
    t_us: u64,
    first_us: Option<u64>,
    frame: Vec<u8>,
    written: Written,
}

impl<'w, W: Write> PcapOut<'w, W> {
    fn new(out: &'w mut W) -> io::Result<Self> {
        // Global header: magic (µs), version 2.4, thiszone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET.
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&65_535u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&h)?;
        let written = Written { bytes: h.len() as u64, ..Written::default() };
        Ok(PcapOut { out, t_us: 0, first_us: None, frame: Vec::with_capacity(256), written })
    }

    /// Builds the frame and writes it as the next record.
    fn push(&mut self, step: PacketBuilderStep<TcpHeader>, payload: &[u8]) -> io::Result<()> {
        self.frame.clear();
        step.write(&mut self.frame, payload).map_err(io::Error::other)?;
        if self.frame.len() < 60 {
            self.frame.resize(60, 0);
        }
        let t = T0_S * 1_000_000 + self.t_us;
        let len = self.frame.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(&self.frame)?;
        self.first_us.get_or_insert(self.t_us);
        self.written.span_us = self.t_us - self.first_us.unwrap_or(0);
        self.written.frames += 1;
        self.written.bytes += 16 + u64::from(len);
        self.t_us += 1;
        Ok(())
    }
}

/// Writes the whole capture described by `plan`.
fn write_capture<W: Write>(out: &mut W, plan: Plan) -> io::Result<Written> {
    let mut p = PcapOut::new(out)?;
    let mut payload = Vec::with_capacity(REQ_LEN.max(REP_LEN) as usize);
    for b in 0..plan.batches {
        if b > 0 {
            p.t_us += BATCH_GAP_S * 1_000_000;
        }
        let batch = || (0..plan.conns).map(|i| Conn::new(b * plan.conns + i));
        // Handshake.
        for c in batch() {
            p.push(c.client_seg(c.isn_c, SYN_WIN).syn().options(&SYN_OPTS).map_err(io::Error::other)?, &[])?;
        }
        for c in batch() {
            p.push(c.server_seg(c.isn_s, SYN_WIN).syn().ack(c.cseq(0)).options(&SYN_OPTS).map_err(io::Error::other)?, &[])?;
        }
        for c in batch() {
            p.push(c.client_seg(c.cseq(0), WIN).ack(c.sseq(0)), &[])?;
        }
        // Request / reply rounds.
        for r in 0..plan.rounds {
            for c in batch() {
                message(&mut payload, REQ_LEN, c.k, r);
                p.push(c.client_seg(c.cseq(r), WIN).psh().ack(c.sseq(r)), &payload)?;
            }
            for c in batch() {
                p.push(c.server_seg(c.sseq(r), WIN).ack(c.cseq(r + 1)), &[])?;
            }
            for c in batch() {
                message(&mut payload, REP_LEN, c.k, r);
                p.push(c.server_seg(c.sseq(r), WIN).psh().ack(c.cseq(r + 1)), &payload)?;
            }
            for c in batch() {
                p.push(c.client_seg(c.cseq(r + 1), WIN).ack(c.sseq(r + 1)), &[])?;
            }
        }
        // Close: the client first.
        let n = plan.rounds;
        for c in batch() {
            p.push(c.client_seg(c.cseq(n), WIN).fin().ack(c.sseq(n)), &[])?;
        }
        for c in batch() {
            p.push(c.server_seg(c.sseq(n), WIN).ack(c.cseq(n).wrapping_add(1)), &[])?;
        }
        for c in batch() {
            p.push(c.server_seg(c.sseq(n), WIN).fin().ack(c.cseq(n).wrapping_add(1)), &[])?;
        }
        for c in batch() {
            p.push(c.client_seg(c.cseq(n).wrapping_add(1), WIN).ack(c.sseq(n).wrapping_add(1)), &[])?;
        }
    }
    Ok(p.written)
}

// ---------------------------------------------------------------------------------------------
// Self-check (`cargo test`)

/// Builds a small capture (2 batches, so batch boundaries are covered too) and checks that
/// wireseam sees exactly the connections and messages meant: all `SF`, no retransmission, no
/// duplicate ACK, `ROUNDS` complete messages each way framed as `len:4:be`.
fn self_check() -> Result<(), String> {
    use wireseam::analyze::Message;
    use wireseam::capture::FileSource;
    use wireseam::pipeline::{self, ConnSeams, PacketView, ReadOptions, Sink};
    use wireseam::track::tcp::ConnSummary;

    #[derive(Default)]
    struct Collect {
        conns: Vec<(ConnSummary, ConnSeams)>,
        messages: Vec<Message>,
        frames: u64,
        flagged: u64,
    }
    impl Sink for Collect {
        fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
            self.frames += 1;
            self.flagged += u64::from(p.tcp.is_some_and(|t| !t.analysis.is_empty()));
            Ok(())
        }
        fn conn(&mut self, record: &wireseam::pipeline::ConnRecord) -> io::Result<()> {
            let (c, seams) = (&record.summary, &record.seams);
            self.conns.push((c.clone(), seams.clone()));
            Ok(())
        }
        fn message(&mut self, m: &Message) -> io::Result<()> {
            self.messages.push(m.clone());
            Ok(())
        }
    }

    let plan = Plan { conns: 70, rounds: 17, batches: 2 };
    let mut bytes = Vec::new();
    let w = write_capture(&mut bytes, plan).map_err(|e| e.to_string())?;
    if w.frames != plan.frames() || w.bytes != bytes.len() as u64 {
        return Err(format!("wrote {} frames, {} bytes; expected {} frames, {} bytes", w.frames, w.bytes, plan.frames(), bytes.len()));
    }
    let mut src = FileSource::from_bytes("synth", bytes).map_err(|e| e.to_string())?;
    let opts = ReadOptions::new("synth".into());
    let mut sink = Collect::default();
    let sum = pipeline::run(&mut src, &opts, &mut sink).map_err(|e| e.to_string())?;
    let total = plan.conns * plan.batches;
    if sum.frames != w.frames || sink.frames != w.frames || sum.malformed != 0 || sum.evicted != 0 {
        return Err(format!("{sum:?}"));
    }
    if sink.flagged != 0 {
        return Err(format!("{} frames with TCP analysis flags", sink.flagged));
    }
    if sink.conns.len() as u64 != total {
        return Err(format!("{} connections, expected {total}", sink.conns.len()));
    }
    let rounds = plan.rounds;
    for (c, seams) in &sink.conns {
        let clean = c.conn_state.as_str() == "SF"
            && c.packets == [4 + 2 * rounds, 3 + 2 * rounds]
            && c.bytes == [rounds * u64::from(REQ_LEN), rounds * u64::from(REP_LEN)]
            && c.retransmissions == 0
            && c.dup_acks == 0
            && c.mss == (Some(MSS), Some(MSS))
            && c.ws == (Some(WSCALE), Some(WSCALE))
            && c.sack_perm;
        if !clean {
            return Err(format!("connection not clean: {c:?}"));
        }
        for s in seams {
            let s = s.as_ref().ok_or("a direction without seam summary")?;
            let framing = s.framing.as_ref().map(|d| d.spec.to_string());
            if s.messages != rounds || s.incomplete != 0 || s.gaps != 0 || framing.as_deref() != Some("len:4:be") {
                return Err(format!("direction not framed cleanly: {s:?}"));
            }
        }
    }
    if sink.messages.len() as u64 != total * 2 * rounds || sink.messages.iter().any(|m| !m.complete || m.sticky || m.split) {
        return Err(format!("{} messages, expected {} whole ones", sink.messages.len(), total * 2 * rounds));
    }
    Ok(())
}
