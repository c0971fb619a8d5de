//! Micro-benchmarks (divan): nanoseconds per frame or per segment for each stage of the one-way
//! flow, on the capture files in `fixtures/` (read into memory before timing).
//!
//!   cargo bench --bench micro                 # everything (about 20 s on 2 cores)
//!   cargo bench --bench micro -- seams        # one group (a divan filter)
//!   cargo bench --bench micro -- --test       # run each benchmark once (smoke test)
//!
//! Every benchmark sets an `ItemsCount` (frames, or TCP segments) and a `BytesCount` (bytes of
//! frames or payload), so divan's throughput rows read `item/s` and `B/s`: ns per item is
//! 1e9 / (item/s), or the median time divided by the items of one iteration.
//!
//! Groups:
//! - `decode`: `wireseam::decode::decode` over every frame of a fixture.
//! - `track`: `Tracker::segment` over every TCP segment of a fixture, building each `Segment`
//!   from the decoded frame as `track_tcp` in src/pipeline does (decoding is done before timing).
//!   A fresh tracker per iteration, so connection set-up is included.
//! - `seams::framer`: `Seams::tcp_segment` with one explicit framing (or `auto`) over the
//!   payload segments of one direction of a fixture, the direction's stream replayed several
//!   times back to back on one connection (sequence numbers shifted) so that the figure is the
//!   steady state of a long connection. Messages are drained after every segment, as the
//!   pipeline does. Before timing, each case is checked to frame cleanly (no loss of sync, no
//!   incomplete message, the same messages in every replay).
//! - `seams::auto_new_conns`: `auto` where every replay is a new connection (detection,
//!   close and release each time): the per-connection cost of detection.
//! - `pipeline::conns` / `pipeline::json`: `wireseam::pipeline::run` over a whole fixture
//!   (`FileSource::from_bytes`), with a sink that does nothing (the work of `conns`) and with
//!   `JsonSink` writing into `io::sink()` (the work of `read --format json`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};

use wireseam::capture::{FileSource, PacketMeta};
use wireseam::decode::{self as wsdecode, Frame};
use wireseam::track::tcp::{Dir, SegInfo, TcpFlags, TrackConfig, Tracker};

fn main() {
    // At least 0.5 s per benchmark (most iterations take 1-1000 µs, so the 100 default samples
    // alone would be over in milliseconds and at the mercy of one noisy moment), at most 2 s:
    // the whole run takes about 20 s on 2 cores. `--min-time`, `--max-time` and the
    // other divan options on the command line still win.
    divan::Divan::default().min_time(Duration::from_millis(500)).max_time(Duration::from_secs(2)).config_with_args().main();
}

// ---------------------------------------------------------------------------------------------
// Inputs

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every frame of a capture file, copied out of the file (up to the first damage, if any).
struct Capture {
    frames: Vec<(PacketMeta, Vec<u8>)>,
}

impl Capture {
    fn open(path: &Path) -> Capture {
        let mut src = FileSource::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut frames = Vec::new();
        while let Some(Ok((meta, raw))) = src.next_packet() {
            frames.push((meta, raw.to_vec()));
        }
        Capture { frames }
    }

    /// `fixtures/NAME.pcap`, or every capture in `fixtures/` for `all`.
    fn fixture(name: &str) -> Capture {
        if name != "all" {
            return Capture::open(&fixtures_dir().join(format!("{name}.pcap")));
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
            .expect("fixtures/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        let mut frames = Vec::new();
        for p in paths {
            // multi.pcapng is readable here (the file walker handles several link types).
            frames.extend(Capture::open(&p).frames);
        }
        Capture { frames }
    }

    fn bytes(&self) -> usize {
        self.frames.iter().map(|(_, d)| d.len()).sum()
    }

    fn decoded(&self) -> Vec<Frame<'_>> {
        self.frames.iter().map(|(m, d)| wsdecode::decode(m.linktype, d, m.len)).collect()
    }
}

use wireseam::track::segment_of;

/// The pipeline's table size (`ReadOptions::new`).
fn track_config() -> TrackConfig {
    TrackConfig { max_conns: wireseam::pipeline::DEFAULT_MAX_CONNS, ..TrackConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// decode

mod decode {
    use super::*;

    /// A mix of link types and protocols; `all` is every fixture, frame after frame.
    const FIXTURES: &[&str] = &["loss", "many", "tcp-ipv6", "udp", "vlan", "sll", "options", "all"];

    #[divan::bench(args = FIXTURES)]
    fn frames(bencher: Bencher, fixture: &str) {
        let cap = Capture::fixture(fixture);
        bencher.counter(ItemsCount::new(cap.frames.len())).counter(BytesCount::new(cap.bytes())).bench_local(|| {
            for (m, d) in &cap.frames {
                black_box(wsdecode::decode(m.linktype, black_box(d), m.len));
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// track

mod track {
    use super::*;

    /// One bulk transfer with loss (retransmissions, dup ACKs, SACK), 20 short connections,
    /// two-way framed traffic, a zero-window stall.
    const FIXTURES: &[&str] = &["loss", "many", "framed", "zero-window"];

    #[divan::bench(args = FIXTURES)]
    fn segments(bencher: Bencher, fixture: &str) {
        let cap = Capture::fixture(fixture);
        let frames = cap.decoded();
        // (n, ts, frame) of the frames `track_tcp` would feed to the tracker.
        let tcp: Vec<(u64, i64, &Frame<'_>)> = frames
            .iter()
            .enumerate()
            .filter(|(i, f)| segment_of(*i as u64 + 1, 0, f).is_some())
            .map(|(i, f)| (i as u64 + 1, cap.frames[i].0.ts_ns, f))
            .collect();
        assert!(!tcp.is_empty(), "{fixture}: no TCP segments");
        let bytes: usize = tcp.iter().map(|(_, _, f)| f.payload.len()).sum();
        bencher
            .with_inputs(|| Tracker::new(track_config()))
            .counter(ItemsCount::new(tcp.len()))
            .counter(BytesCount::new(bytes))
            .bench_local_values(|mut tracker| {
                for &(n, ts, f) in &tcp {
                    if let Some(seg) = segment_of(n, ts, f) {
                        black_box(tracker.segment(&seg));
                    }
                }
                tracker
            });
    }
}

// ---------------------------------------------------------------------------------------------
// seams

mod seams {
    use super::*;
    use wireseam::analyze::{FramingChoice, FramingSpec, Message, SeamConfig, Seams, SegIn, SegOut};

    /// One payload-carrying segment of a direction, as `feed_seams` hands it to the engine.
    struct Seg {
        n: u64,
        ts: i64,
        rseq: u32,
        len: u32,
        payload: Vec<u8>,
        retransmission: bool,
    }

    /// The payload segments of one direction of one connection, in capture order.
    struct DirStream {
        dir: wireseam::track::Dir,
        segs: Vec<Seg>,
        /// rseq of the first byte and the stream length (first byte to last byte seen).
        first: u32,
        len: u32,
        /// Frames in the source (to number replayed frames after the originals).
        nframes: u64,
    }

    impl DirStream {
        /// Segment `s` of replay `rep` (frames numbered after the earlier replays, sequence
        /// numbers shifted by the stream length) on connection `conn`.
        fn seg_in<'a>(&self, s: &'a Seg, rep: u32, conn: u32) -> SegIn<'a> {
            SegIn {
                n: s.n + u64::from(rep) * self.nframes,
                ts: s.ts,
                conn,
                dir: self.dir,
                rseq: s.rseq.wrapping_add(rep.wrapping_mul(self.len)),
                len: s.len,
                payload: &s.payload,
                retransmission: s.retransmission,
                wire: Default::default(),
            }
        }

        /// Direction `dir` of connection 0 of a fixture, through the real tracker (for `rseq`
        /// and the retransmission flag), the way `feed_seams` builds its `SegIn`s.
        fn from_fixture(fixture: &str, dir: Dir) -> DirStream {
            let cap = Capture::fixture(fixture);
            let frames = cap.decoded();
            let mut tracker = Tracker::new(track_config());
            let mut segs = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                let n = i as u64 + 1;
                let ts = cap.frames[i].0.ts_ns;
                let Some(seg) = segment_of(n, ts, f) else { continue };
                let si: SegInfo = tracker.segment(&seg);
                if si.conn != 0 || si.dir != dir || seg.len == 0 {
                    continue;
                }
                let syn = seg.flags.has(TcpFlags::SYN);
                segs.push(Seg {
                    n,
                    ts,
                    rseq: if syn { si.rseq.wrapping_add(1) } else { si.rseq },
                    len: seg.len,
                    payload: seg.payload.to_vec(),
                    retransmission: si.analysis.has(wireseam::track::tcp::Analysis::RETRANSMISSION),
                });
            }
            assert!(!segs.is_empty(), "{fixture} {dir}: no payload");
            DirStream::new(dir, segs, cap.frames.len() as u64)
        }

        fn new(dir: wireseam::track::Dir, segs: Vec<Seg>, nframes: u64) -> DirStream {
            let first = segs.iter().map(|s| s.rseq).min().expect("segments");
            let end = segs.iter().map(|s| s.rseq.wrapping_add(s.len)).max().expect("segments");
            DirStream { dir, segs, first, len: end.wrapping_sub(first), nframes }
        }

        /// Synthetic TLS: a handshake record, then application-data records of 1..=4000 bytes
        /// (a fixed LCG), cut into 1448-byte segments 1 ms apart. No fixture has TLS traffic.
        fn tls() -> DirStream {
            let mut stream = Vec::new();
            let mut record = |ty: u8, len: usize, fill: u8| {
                stream.extend_from_slice(&[ty, 3, 3]);
                stream.extend_from_slice(&(len as u16).to_be_bytes());
                stream.extend(std::iter::repeat_n(fill, len));
            };
            record(0x16, 310, 0x01);
            let mut x: u32 = 20_260_101;
            for i in 0..60u8 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                record(0x17, 1 + (x >> 8) as usize % 4000, i);
            }
            let segs: Vec<Seg> = stream
                .chunks(1448)
                .enumerate()
                .map(|(i, c)| Seg {
                    n: i as u64 + 1,
                    ts: 1_767_225_600_000_000_000 + i as i64 * 1_000_000,
                    rseq: 1 + (i * 1448) as u32,
                    len: c.len() as u32,
                    payload: c.to_vec(),
                    retransmission: false,
                })
                .collect();
            let n = segs.len() as u64;
            DirStream::new(wireseam::track::Dir::C2S, segs, n)
        }

        fn payload_bytes(&self) -> usize {
            self.segs.iter().map(|s| s.payload.len()).sum()
        }

        /// Replays to reach at least `min_segs` segments per iteration.
        fn reps_for(&self, min_segs: usize) -> u32 {
            min_segs.div_ceil(self.segs.len()) as u32
        }
    }

    fn config(framing: &str) -> SeamConfig {
        let framing = FramingChoice::parse(framing).unwrap_or_else(|e| panic!("{e}"));
        SeamConfig { framing, ..SeamConfig::default() }
    }

    /// Feed `reps` copies of the stream back to back on connection 0, then the FIN, then the
    /// end of input. Messages are drained after every call (as `SeamState::emit` does).
    fn feed_long(seams: &mut Seams, st: &DirStream, reps: u32, out: &mut SegOut, msgs: &mut Vec<Message>) {
        for r in 0..reps {
            for s in &st.segs {
                seams.tcp_segment(&st.seg_in(s, r, 0), out);
                seams.drain(msgs);
                msgs.clear();
            }
        }
        let fin = st.first.wrapping_add(reps.wrapping_mul(st.len));
        seams.close_dir(0, st.dir, Some(fin), out);
        seams.finish(out, msgs);
        msgs.clear();
    }

    /// One framer case: `(framing, fixture, direction)`; `tls` is synthetic.
    fn case(framing: &str) -> (&'static str, DirStream) {
        match framing {
            "lines" => ("lines.pcap c2s", DirStream::from_fixture("lines", Dir::C2S)),
            "crlf" => ("http.pcap c2s (request heads)", DirStream::from_fixture("http", Dir::C2S)),
            "len:4:be" => ("framed.pcap c2s", DirStream::from_fixture("framed", Dir::C2S)),
            "jsonhdr" => ("jsonhdr.pcap c2s", DirStream::from_fixture("jsonhdr", Dir::C2S)),
            "http" => ("http.pcap s2c (responses)", DirStream::from_fixture("http", Dir::S2C)),
            "tls" => ("synthetic TLS records", DirStream::tls()),
            "fixed:100" | "segment" | "auto" => ("framed.pcap c2s", DirStream::from_fixture("framed", Dir::C2S)),
            other => panic!("no input for framing {other}"),
        }
    }

    /// Before timing: the case frames cleanly, so the figure is the framer's and not the
    /// `segment` fallback's.
    fn check(framing: &str, what: &str, st: &DirStream, reps: u32) {
        let mut seams = Seams::new(config(framing));
        let (mut out, mut all) = (SegOut::default(), Vec::new());
        for r in 0..reps {
            for s in &st.segs {
                seams.tcp_segment(&st.seg_in(s, r, 0), &mut out);
                seams.drain(&mut all);
            }
        }
        let fin = st.first.wrapping_add(reps.wrapping_mul(st.len));
        seams.close_dir(0, st.dir, Some(fin), &mut out);
        seams.finish(&mut out, &mut all);
        let sum = seams.summary(0, st.dir).expect("summary");
        let ctx = format!("{framing} on {what}");
        assert_eq!(sum.fallback_at, None, "{ctx}: lost sync");
        assert_eq!(sum.gaps, 0, "{ctx}: gaps");
        if let Ok(FramingSpec::Fixed(size)) = FramingSpec::parse(framing) {
            // The replays need not end on a message boundary: only the last message is cut.
            let bytes = u64::from(reps) * u64::from(st.len);
            assert_eq!(sum.messages, bytes.div_ceil(u64::from(size)), "{ctx}: messages");
            assert!(sum.incomplete <= 1, "{ctx}: incomplete messages");
        } else {
            assert_eq!(sum.incomplete, 0, "{ctx}: incomplete messages");
            assert!(
                sum.messages > 0 && sum.messages.is_multiple_of(u64::from(reps)),
                "{ctx}: {} messages over {reps} replays",
                sum.messages
            );
        }
        let det = sum.framing.as_ref().map(|d| d.spec);
        match FramingChoice::parse(framing).expect("spec").dirs[st.dir.idx()] {
            wireseam::analyze::DirFraming::Spec(s) => assert_eq!(det, Some(s), "{ctx}"),
            wireseam::analyze::DirFraming::Auto => {
                assert!(!matches!(det, None | Some(FramingSpec::Segment)), "{ctx}: auto chose {det:?}")
            }
        }
    }

    /// Segments fed per iteration (at least), to amortise the per-iteration engine set-up.
    const MIN_SEGS: usize = 300;

    const FRAMINGS: &[&str] = &["lines", "crlf", "len:4:be", "jsonhdr", "http", "tls", "fixed:100", "segment", "auto"];

    #[divan::bench(args = FRAMINGS)]
    fn framer(bencher: Bencher, framing: &str) {
        let (what, st) = case(framing);
        let reps = st.reps_for(MIN_SEGS);
        check(framing, what, &st, reps);
        let cfg = config(framing);
        let mut out = SegOut::default();
        let mut msgs = Vec::new();
        bencher
            .with_inputs(|| Seams::new(cfg.clone()))
            .counter(ItemsCount::new(st.segs.len() * reps as usize))
            .counter(BytesCount::new(st.payload_bytes() * reps as usize))
            .bench_local_values(|mut seams| {
                feed_long(&mut seams, &st, reps, &mut out, &mut msgs);
                seams
            });
    }

    /// `auto` with every replay on a new connection: detection each time, then the FIN, the
    /// last messages and the release, as the pipeline does when a connection is over.
    #[divan::bench(args = ["lines", "http", "framed", "jsonhdr"])]
    fn auto_new_conns(bencher: Bencher, fixture: &str) {
        let st = DirStream::from_fixture(fixture, if fixture == "http" { Dir::S2C } else { Dir::C2S });
        let conns = st.reps_for(MIN_SEGS);
        let cfg = config("auto");
        check("auto", fixture, &st, 1);
        let mut out = SegOut::default();
        let mut msgs = Vec::new();
        bencher
            .with_inputs(|| Seams::new(cfg.clone()))
            .counter(ItemsCount::new(st.segs.len() * conns as usize))
            .counter(BytesCount::new(st.payload_bytes() * conns as usize))
            .bench_local_values(|mut seams| {
                for conn in 0..conns {
                    for s in &st.segs {
                        seams.tcp_segment(&st.seg_in(s, 0, conn), &mut out);
                        seams.drain(&mut msgs);
                        msgs.clear();
                    }
                    seams.close_dir(conn, st.dir, Some(st.first.wrapping_add(st.len)), &mut out);
                    black_box(seams.summary(conn, st.dir));
                    seams.release(conn, &mut out);
                    seams.drain(&mut msgs);
                    msgs.clear();
                }
                seams
            });
    }
}

// ---------------------------------------------------------------------------------------------
// pipeline

mod pipeline {
    use super::*;
    use wireseam::output::json::JsonSink;
    use wireseam::pipeline::{run, PacketView, ReadOptions, Sink};

    /// Does nothing with anything: the engine work of `conns` without the table.
    struct NullSink;

    impl Sink for NullSink {
        fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
            black_box(p.n);
            Ok(())
        }
        fn wants_packets(&self) -> bool {
            false
        }
        fn wants_messages(&self) -> bool {
            false
        }
    }

    const FIXTURES: &[&str] = &["loss", "framed", "many", "all"];

    /// The file's bytes (for `FileSource::from_bytes`) and its frame count. `all` is every
    /// frame of every fixture, written as one Ethernet pcap (only Ethernet frames, so that a
    /// single classic pcap holds them).
    fn input(fixture: &str) -> (Vec<u8>, usize) {
        if fixture != "all" {
            let bytes = std::fs::read(fixtures_dir().join(format!("{fixture}.pcap"))).expect("fixture");
            let n = Capture::fixture(fixture).frames.len();
            return (bytes, n);
        }
        let cap = Capture::fixture("all");
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65_535u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        let mut n = 0;
        for (m, d) in cap.frames.iter().filter(|(m, _)| m.linktype == 1) {
            let ts = m.ts_ns.max(0) as u64;
            b.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
            b.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
            b.extend_from_slice(&(d.len() as u32).to_le_bytes());
            b.extend_from_slice(&m.len.to_le_bytes());
            b.extend_from_slice(d);
            n += 1;
        }
        (b, n)
    }

    fn bench_run<S: Sink>(bencher: Bencher, fixture: &str, mut make_sink: impl FnMut() -> S) {
        let (bytes, frames) = input(fixture);
        let opts = ReadOptions::new(PathBuf::from(fixture));
        // Before timing: the whole input goes through.
        {
            let mut src = FileSource::from_bytes(fixture, bytes.clone()).expect("capture");
            let sum = run(&mut src, &opts, &mut make_sink()).expect("run");
            assert_eq!(sum.frames as usize, frames, "{fixture}");
            assert!(sum.damage.is_none(), "{fixture}: {:?}", sum.damage);
        }
        bencher
            .with_inputs(|| (FileSource::from_bytes(fixture, bytes.clone()).expect("capture"), make_sink()))
            .counter(ItemsCount::new(frames))
            .counter(BytesCount::new(bytes.len()))
            .bench_local_values(|(mut src, mut sink)| {
                black_box(run(&mut src, &opts, &mut sink).expect("run").frames);
                (src, sink)
            });
    }

    /// `conns`-like: decode, track, seams (auto), summaries; the sink ignores everything.
    #[divan::bench(args = FIXTURES)]
    fn conns(bencher: Bencher, fixture: &str) {
        bench_run(bencher, fixture, || NullSink);
    }

    /// `read --format json` into `io::sink()`.
    #[divan::bench(args = FIXTURES)]
    fn json(bencher: Bencher, fixture: &str) {
        bench_run(bencher, fixture, || JsonSink::new(io::sink()));
    }
}
