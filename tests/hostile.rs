//! Hostile traffic keeps memory bounded and time linear: SYN floods, many connections each with
//! unacknowledged data, sequence numbers jumping by 2 GB, a length field announcing 4 GB. The
//! captures are written here by a deterministic writer (etherparse), not committed blobs.
//!
//! Sizes: `WIRESEAM_FLOOD=N` (default 200,000 connections; the note reports runs with 1,000,000
//! in release mode).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wireseam::capture::FileSource;
use wireseam::output::conns::ConnsSink;
use wireseam::pipeline::{run, ReadOptions, Sink};

mod common;
use common::{pcap, tcp};

/// Tracks live heap bytes and their peak.
struct Peak;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = NOW.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Peak = Peak;

fn flood_size() -> usize {
    std::env::var("WIRESEAM_FLOOD").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000)
}

/// Run a capture through the full pipeline (tracking and seams) into the conns sink, returning
/// (connections summarised, peak heap growth in bytes, seconds).
fn measure(bytes: Vec<u8>) -> (usize, usize, f64) {
    let opts = ReadOptions::new("hostile.pcap".into());
    let mut src = FileSource::from_bytes("hostile.pcap", bytes).unwrap();
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    // count connections without keeping them: the table's memory is what is measured
    struct Count(usize);
    impl Sink for Count {
        fn packet(&mut self, _p: &wireseam::pipeline::PacketView<'_, '_>) -> std::io::Result<()> {
            Ok(())
        }
        fn conn(&mut self, _record: &wireseam::pipeline::ConnRecord) -> std::io::Result<()> {
            self.0 += 1;
            Ok(())
        }
    }
    let mut sink = Count(0);
    run(&mut src, &opts, &mut sink).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let _ = ConnsSink::default();
    (sink.0, peak, start.elapsed().as_secs_f64())
}

const CAP: usize = 64 << 20;

/// The heap counters are process-wide: one test at a time (generation included).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn ip(i: usize) -> [u8; 4] {
    [10, (i >> 16) as u8, (i >> 8) as u8, i as u8]
}

#[test]
fn syn_flood_from_distinct_ports() {
    let _serial = serial();
    let n = flood_size();
    let frames =
        (0..n).map(|i| (i as u64, tcp(ip(i / 60_000), 1024 + (i % 60_000) as u16, [10, 255, 0, 1], 80, i as u32 * 7919, None, true, b"")));
    let bytes = pcap(frames);
    let (conns, peak, secs) = measure(bytes);
    eprintln!("SYN flood: {n} SYNs, {conns} connections summarised, peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert_eq!(conns, n, "every half-open connection is still summarised (evicted ones too)");
    assert!(peak < CAP, "peak heap {peak} bytes over the 64 MB cap");
}

#[test]
fn many_connections_with_unacknowledged_data() {
    let _serial = serial();
    let n = flood_size() / 2;
    let frames = (0..n).flat_map(|i| {
        let (c, p) = (ip(i / 60_000), 1024 + (i % 60_000) as u16);
        let t = i as u64 * 3;
        [
            (t, tcp(c, p, [10, 255, 0, 1], 80, 1000, None, true, b"")),
            (t + 1, tcp([10, 255, 0, 1], 80, c, p, 5000, Some(1001), true, b"")),
            // data the server never acknowledges, with a hole before it (out of order)
            (t + 2, tcp(c, p, [10, 255, 0, 1], 80, 1101, Some(5001), false, &[b'x'; 200])),
        ]
    });
    let bytes = pcap(frames);
    let (conns, peak, secs) = measure(bytes);
    eprintln!(
        "{n} connections with unacknowledged out-of-order data: {conns} summarised, peak heap {:.1} MB, {secs:.2} s",
        peak as f64 / 1e6
    );
    assert_eq!(conns, n);
    assert!(peak < CAP, "peak heap {peak} bytes over the 64 MB cap");
}

#[test]
fn sequence_jumps_of_two_gigabytes() {
    let _serial = serial();
    let mut frames = vec![
        (0u64, tcp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 80, 0, None, true, b"")),
        (1, tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 4000, 0, Some(1), true, b"")),
    ];
    let mut seq = 1u32;
    for i in 0..2000u64 {
        frames.push((2 + i, tcp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 80, seq, Some(1), false, &[b'a'; 1000])));
        seq = seq.wrapping_add(0x8000_0000 - 7); // about 2 GB ahead each time
    }
    let (conns, peak, secs) = measure(pcap(frames.into_iter()));
    eprintln!("2 GB sequence jumps: peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert_eq!(conns, 1);
    assert!(peak < CAP, "peak heap {peak}");
}

#[test]
fn length_field_announcing_four_gigabytes() {
    let _serial = serial();
    let mut frames = vec![
        (0u64, tcp([10, 0, 0, 1], 4001, [10, 0, 0, 2], 80, 0, None, true, b"")),
        (1, tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 4001, 0, Some(1), true, b"")),
    ];
    // a few well-formed len:4:be messages so auto-detection picks the framing, then 0xFFFFFFF0
    let mut stream = Vec::new();
    for k in 0..20u32 {
        stream.extend_from_slice(&(10 + k).to_be_bytes());
        stream.extend(std::iter::repeat_n(b'm', 10 + k as usize));
    }
    stream.extend_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    stream.extend(std::iter::repeat_n(b'z', 3_000_000));
    let mut seq = 1u32;
    for (i, chunk) in stream.chunks(1448).enumerate() {
        frames.push((2 + i as u64, tcp([10, 0, 0, 1], 4001, [10, 0, 0, 2], 80, seq, Some(1), false, chunk)));
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    let (conns, peak, secs) = measure(pcap(frames.into_iter()));
    eprintln!("4 GB length field: peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert_eq!(conns, 1);
    assert!(peak < 16 << 20, "a 4 GB length must not allocate: peak heap {peak}");
}

/// An Ethernet frame holding a first IPv4 fragment (more fragments follow) of a UDP datagram
/// that is never completed: 1,000 bytes from `src`, identification `id`.
fn first_fragment(src: [u8; 4], id: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = 20u16 + 1000;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, (id >> 8) as u8, id as u8, 0x20, 0x00, 64, 17, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[10, 255, 0, 1]);
    // the UDP header of a 4,000-byte datagram, then its first bytes
    f.extend_from_slice(&[0x9c, 0x40, 0x23, 0x29, 0x0f, 0xa8, 0, 0]);
    f.resize(14 + 20 + 1000, b'f');
    f
}

/// A flood of first fragments that never complete (a million with WIRESEAM_FLOOD=1000000): the
/// datagrams held and their bytes stay within the reassembly caps, and the run stays linear.
#[test]
fn fragments_that_never_complete() {
    let _serial = serial();
    let n = flood_size();
    let frames = (0..n).map(|i| (i as u64, first_fragment(ip(i / 65_536), i as u16)));
    let (_, peak, secs) = measure(pcap(frames));
    eprintln!("{n} incomplete fragmented datagrams: peak heap {:.1} MB, {secs:.2} s", peak as f64 / 1e6);
    assert!(peak < CAP, "peak heap {peak} bytes over the 64 MB cap");
}
