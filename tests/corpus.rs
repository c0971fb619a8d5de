//! Every command must survive the tcpdump test corpus (830 odd and malformed real captures):
//! no panic, no hang. The corpus lives in `../shared/corpora/tcpdump-tests` beside the repo.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use wireseam::output::json::JsonSink;
use wireseam::output::style::Palette;
use wireseam::output::text::{PayloadDump, TextOptions, TextSink};
use wireseam::pipeline::{run_file, ReadOptions, RunError};

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/tcpdump-tests");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap")))
        .collect();
    v.sort();
    Some(v)
}

#[test]
fn corpus_survives_every_output() {
    let Some(files) = corpus() else {
        eprintln!("corpus not found beside the repository; skipped");
        return;
    };
    assert!(files.len() > 500, "corpus incomplete: {}", files.len());
    let mut panics = Vec::new();
    let mut mismatches = Vec::new();
    let (mut frames, mut damaged, mut unreadable) = (0u64, 0, 0);
    for f in &files {
        let opts = ReadOptions::new(f.clone());
        // Sharded over threads, JSON output must be byte-identical to the single-threaded run.
        let sharded = std::panic::catch_unwind(|| {
            let mut one = Vec::new();
            let a = run_file(&opts, &mut JsonSink::new(&mut one)).map(|s| (s.frames, s.shown, s.malformed));
            let mut three = Vec::new();
            let b = run_file(&ReadOptions { threads: 3, ..ReadOptions::new(f.clone()) }, &mut JsonSink::new(&mut three))
                .map(|s| (s.frames, s.shown, s.malformed));
            match (a, b) {
                (Ok(a), Ok(b)) => a == b && one == three,
                (Err(_), Err(_)) => true,
                _ => false,
            }
        });
        match sharded {
            Err(_) => panics.push(format!("{} (--threads 3)", f.display())),
            Ok(false) => mismatches.push(f.display().to_string()),
            Ok(true) => {}
        }
        for fmt in 0..3 {
            let start = Instant::now();
            let r = std::panic::catch_unwind(|| match fmt {
                0 => run_file(&opts, &mut JsonSink::new(io::sink())),
                _ => {
                    let o = TextOptions {
                        payload: if fmt == 2 { PayloadDump::Hex } else { PayloadDump::None },
                        ..TextOptions::new((fmt - 1) * 2, Palette::off())
                    };
                    run_file(&opts, &mut TextSink::new(io::sink(), o))
                }
            });
            match r {
                Err(_) => panics.push(format!("{} (format {fmt})", f.display())),
                Ok(Ok(s)) => {
                    if fmt == 0 {
                        frames += s.frames;
                        damaged += s.damage.is_some() as u32;
                    }
                }
                Ok(Err(RunError::File(_))) => unreadable += (fmt == 0) as u32,
                Ok(Err(e)) => panic!("{}: unexpected error {e}", f.display()),
            }
            assert!(start.elapsed() < Duration::from_secs(20), "{}: too slow (hang?)", f.display());
        }
    }
    eprintln!("corpus: {} files, {frames} frames, {damaged} damaged part-way, {unreadable} unreadable", files.len());
    assert!(panics.is_empty(), "panics on:\n{}", panics.join("\n"));
    assert!(mismatches.is_empty(), "--threads 3 output differs on:\n{}", mismatches.join("\n"));
}

/// Collects the connections and their seam counts; claims to look at packets, or not (then the
/// seam engine keeps no frame lists).
struct Conns {
    annotated: bool,
    out: Vec<String>,
}

impl wireseam::pipeline::Sink for Conns {
    fn packet(&mut self, _p: &wireseam::pipeline::PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }
    fn conn(&mut self, record: &wireseam::pipeline::ConnRecord) -> io::Result<()> {
        let (c, seams) = (&record.summary, &record.seams);
        self.out.push(format!("{c:?} {seams:?}"));
        Ok(())
    }
    fn wants_packets(&self) -> bool {
        self.annotated
    }
    fn wants_messages(&self) -> bool {
        self.annotated
    }
}

/// `conns` runs without per-message frame lists: every connection's summary and seam counts
/// (messages, sticky, split, segments per message) are the same as with them, on every fixture
/// and corpus file; and the same again with three threads.
#[test]
fn seam_counts_without_frame_lists() {
    let corpus_files = corpus();
    // a checkout without ../shared (a clone elsewhere) has only the fixtures' connections
    let enough = if corpus_files.is_some() { 100 } else { 50 };
    let mut files = corpus_files.unwrap_or_default();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    files.extend(
        std::fs::read_dir(fixtures)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pcap")),
    );
    let mut conns = 0;
    for f in &files {
        let opts = ReadOptions::new(f.clone());
        let mut with = Conns { annotated: true, out: Vec::new() };
        let mut without = Conns { annotated: false, out: Vec::new() };
        let counts =
            |s: wireseam::pipeline::RunSummary| (s.frames, s.shown, s.malformed, s.unsupported_linktypes, s.damage.is_some(), s.evicted);
        let a = run_file(&opts, &mut with).map(counts);
        let b = run_file(&opts, &mut without).map(counts);
        assert_eq!(a.is_ok(), b.is_ok(), "{}", f.display());
        assert_eq!(with.out, without.out, "{}", f.display());
        // and sharded end to end over threads (`pipeline::sharded`): the same connections and counts
        let mut sharded = Conns { annotated: false, out: Vec::new() };
        let c = run_file(&ReadOptions { threads: 3, ..ReadOptions::new(f.clone()) }, &mut sharded).map(counts);
        assert_eq!(b.ok(), c.ok(), "{} --threads 3", f.display());
        assert_eq!(without.out, sharded.out, "{} --threads 3", f.display());
        conns += with.out.len();
    }
    assert!(conns > enough, "{conns} connections");
    eprintln!("{} files, {conns} connections", files.len());
}

/// `stats` (text and JSON) and `stream --follow` (each mode) survive every corpus capture: no
/// panic, no hang, the stats count every frame the run read, and their JSON is valid.
#[test]
fn corpus_survives_stats_and_follow() {
    use wireseam::output::follow::FollowMode;
    use wireseam::output::stats::{StatsFormat, StatsOptions, StatsSink};
    use wireseam::output::stream::{StreamOptions, StreamSink};
    let Some(files) = corpus() else {
        eprintln!("corpus not found beside the repository; skipped");
        return;
    };
    let mut panics = Vec::new();
    for f in &files {
        let start = Instant::now();
        for format in [StatsFormat::Text, StatsFormat::Json] {
            let r = std::panic::catch_unwind(|| {
                let mut opts = ReadOptions::new(f.clone());
                opts.seams = None;
                let mut out = Vec::new();
                let mut sink = StatsSink::new(&mut out, StatsOptions { interval_ns: None, top: 10, format, width: 80 });
                let sum = run_file(&opts, &mut sink);
                if let Ok(sum) = sum {
                    assert_eq!(sink.frames(), sum.shown, "{}: frames counted", f.display());
                    if format == StatsFormat::Json {
                        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
                        assert_eq!(v["frames"].as_u64(), Some(sum.shown), "{}", f.display());
                    }
                }
            });
            if r.is_err() {
                panics.push(format!("{} (stats {format:?})", f.display()));
            }
        }
        for mode in [FollowMode::Ascii, FollowMode::Hex, FollowMode::Raw] {
            let r = std::panic::catch_unwind(|| {
                let mut opts = ReadOptions::new(f.clone());
                if let Some(seams) = opts.seams.as_mut() {
                    seams.keep_bytes = 1 << 20;
                    seams.keep_timeline = true;
                }
                let shown = StreamOptions {
                    conn: None,
                    hex: false,
                    recv: Vec::new(),
                    recv_at: wireseam::analyze::RecvSchedule::Arrival,
                    preview: 48,
                    palette: Palette::off(),
                    follow: Some(mode),
                    keep_mib: 1,
                };
                let _ = run_file(&opts, &mut StreamSink::new(io::sink(), shown));
            });
            if r.is_err() {
                panics.push(format!("{} (follow {mode:?})", f.display()));
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}: too slow (hang?)", f.display());
    }
    assert!(panics.is_empty(), "panics on:\n{}", panics.join("\n"));
}
