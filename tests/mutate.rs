//! Every fixture, randomly truncated and bit-flipped, through every output (read JSON and text,
//! conns, flow, stream with recv simulation): no panic, no hang,
//! a warning or a clear error instead. Deterministic (fixed seeds), so a failure reproduces.

mod common;

use std::io;
use std::time::{Duration, Instant};

use wireseam::capture::FileSource;
use wireseam::output::conns::ConnsSink;
use wireseam::output::flow::{FlowOptions, FlowSink};
use wireseam::output::json::JsonSink;
use wireseam::output::stream::{StreamOptions, StreamSink};
use wireseam::output::style::Palette;
use wireseam::output::text::{PayloadDump, TextOptions, TextSink};
use wireseam::pipeline::{run, ReadOptions, Sink};

/// xorshift64*: tiny, deterministic, good enough to pick offsets.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(orig: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = orig.to_vec();
    match rng.below(4) {
        0 => v.truncate(rng.below(v.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            // overwrite a stretch with random bytes (lengths and headers get garbage)
            let start = rng.below(v.len());
            for b in v.iter_mut().skip(start).take(1 + rng.below(32)) {
                *b = rng.next() as u8;
            }
        }
        _ => {
            let i = rng.below(v.len());
            v.truncate(i);
            v.extend_from_slice(&orig[..orig.len().min(64)]);
        }
    }
    v
}

fn sinks() -> Vec<Box<dyn Sink>> {
    let text = TextOptions { payload: PayloadDump::Hex, ..TextOptions::new(2, Palette::off()) };
    vec![
        Box::new(JsonSink::new(io::sink())),
        Box::new(TextSink::new(io::sink(), text)),
        Box::new(ConnsSink::default()),
        Box::new(FlowSink::new(io::sink(), FlowOptions { conn: None, fold: 6, palette: Palette::off() })),
        Box::new(StreamSink::new(
            io::sink(),
            StreamOptions {
                conn: None,
                hex: true,
                recv: vec![3, 100],
                recv_at: wireseam::analyze::RecvSchedule::Every { ms: 5 },
                preview: 64,
                palette: Palette::off(),
                follow: None,
                keep_mib: 0,
            },
        )),
        Box::new(StreamSink::new(
            io::sink(),
            StreamOptions {
                conn: None,
                hex: false,
                recv: Vec::new(),
                recv_at: wireseam::analyze::RecvSchedule::Arrival,
                preview: 48,
                palette: Palette::off(),
                follow: Some(wireseam::output::follow::FollowMode::Hex),
                keep_mib: 1,
            },
        )),
        Box::new(wireseam::output::stats::StatsSink::new(
            io::sink(),
            wireseam::output::stats::StatsOptions {
                interval_ns: None,
                top: 10,
                format: wireseam::output::stats::StatsFormat::Text,
                width: 80,
            },
        )),
    ]
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let (mut tried, mut errors, mut damaged) = (0u32, 0u32, 0u32);
    for f in common::fixtures() {
        let orig = std::fs::read(&f).unwrap();
        for _ in 0..40 {
            let bytes = mutate(&orig, &mut rng);
            for mut sink in sinks() {
                tried += 1;
                let start = Instant::now();
                let name = f.display().to_string();
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match FileSource::from_bytes(&name, bytes.clone()) {
                    Ok(mut src) => {
                        let mut o = ReadOptions::new(f.clone());
                        if let Some(s) = o.seams.as_mut() {
                            s.keep_bytes = 1 << 16;
                            s.keep_timeline = true;
                        }
                        run(&mut src, &o, sink.as_mut()).map(|s| s.damage.is_some())
                    }
                    Err(_) => Ok(false),
                }));
                match r {
                    Ok(Ok(true)) => damaged += 1,
                    Ok(Ok(false)) => {}
                    Ok(Err(_)) => errors += 1,
                    Err(_) => {
                        let path = std::env::temp_dir().join("wireseam-panic-input.pcap");
                        std::fs::write(&path, &bytes).unwrap();
                        panic!("panic on a mutation of {} (saved to {})", f.display(), path.display());
                    }
                }
                assert!(start.elapsed() < Duration::from_secs(10), "{}: hang?", f.display());
            }
        }
    }
    eprintln!("mutations: {tried} runs, {damaged} reported damage, {errors} errors, 0 panics");
    assert!(tried > 1000);
}
