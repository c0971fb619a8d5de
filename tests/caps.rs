//! Floods against the memory caps: TCP connections that open and never close (`--max-conns`),
//! and IPv4 datagrams of which only the first fragment comes (the reassembly limits of
//! `track::defrag::DefragConfig`: 4,096 datagrams, 8 MiB). The captures are written at test
//! time into a temporary directory (tests/common/flood.rs) and removed afterwards.
//!
//! What is asserted comes from the tool's output: the eviction and reassembly counts on stderr
//! and the number of records on stdout, never timings. The fast tests flood past small caps
//! (`--max-conns 1000`) or the fixed reassembly caps; the `#[ignore]`d ones flood with a million
//! (`cargo test --release --test caps -- --ignored`, about 20 s) and also check the peak RSS
//! where GNU time is installed. `benches/caps.sh` measures the time per frame and the memory.

mod common;
#[path = "common/flood.rs"]
mod flood;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flood::Flood;

/// The default reassembly caps (`DefragConfig::default()`), as the warnings name them.
const MAX_DATAGRAMS: u64 = 4096;
const MAX_HELD: u64 = 8 << 20;

/// A directory of its own for one test's files, removed when dropped (also on failure).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("wireseam-caps-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run told.
struct Run {
    /// Lines written to stdout.
    lines: u64,
    stderr: String,
    /// Peak RSS in KiB, when GNU time is there to measure it.
    peak_kib: Option<u64>,
}

impl Run {
    /// The number at the start of the stderr message that contains `what` (after
    /// "wireseam: " and "warning: "), or 0 when there is no such message.
    fn count(&self, what: &str) -> u64 {
        let Some(line) = self.stderr.lines().find(|l| l.contains(what)) else { return 0 };
        let rest = line.trim_start_matches("wireseam: ").trim_start_matches("warning: ");
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect();
        digits.parse().unwrap_or_else(|_| panic!("no count in {line:?}"))
    }

    /// Connections evicted from the full table.
    fn evicted_conns(&self) -> u64 {
        self.count("connections were evicted")
    }

    /// Datagrams evicted by the reassembly caps.
    fn evicted_datagrams(&self) -> u64 {
        self.count("fragmented datagrams were evicted")
    }

    /// Datagrams still incomplete at the end of input.
    fn incomplete(&self) -> u64 {
        let Some(line) = self.stderr.lines().find(|l| l.contains("were not reassembled")) else { return 0 };
        let at = line.find(" incomplete at the end").unwrap_or_else(|| panic!("{line:?}"));
        let n = line[..at].rsplit(|c: char| !c.is_ascii_digit()).next().unwrap();
        n.parse().unwrap()
    }
}

/// GNU time, which reports the child's peak RSS (`%M`).
fn gnu_time() -> Option<&'static Path> {
    let p = Path::new("/usr/bin/time");
    let ok = Command::new(p).args(["-f", "%M", "true"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    ok.then_some(p)
}

/// Runs wireseam with `args`, stdout to a file in `dir` (counted, not held in memory).
fn run(dir: &Scratch, args: &[&str]) -> Run {
    let bin = env!("CARGO_BIN_EXE_wireseam");
    let out_path = dir.path("stdout");
    let rss_path = dir.path("rss");
    let mut cmd = match gnu_time() {
        Some(time) => {
            let mut c = Command::new(time);
            c.arg("-f").arg("%M").arg("-o").arg(&rss_path).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let out = cmd
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .stdout(File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .output()
        .expect("run wireseam");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "wireseam {args:?}: {:?}\n{stderr}", out.status);
    let lines = BufReader::new(File::open(&out_path).unwrap()).lines().count() as u64;
    let peak_kib = std::fs::read_to_string(&rss_path).ok().and_then(|s| s.trim().lines().last()?.parse().ok());
    let _ = std::fs::remove_file(&rss_path);
    Run { lines, stderr, peak_kib }
}

fn file(dir: &Scratch, flood: Flood, n: u32) -> String {
    let path = dir.path("flood.pcap");
    flood::write(&path, flood, n).expect("write the flood");
    path.to_str().unwrap().to_owned()
}

/// `n` connections open at once through a table of `cap`: every connection is still written
/// (the evicted ones summarised early), exactly `n - cap` are evicted on one thread, and the
/// warning names the cap.
fn syn_flood(n: u32, cap: Option<u32>, peak_mib: Option<u64>) {
    let dir = Scratch::new(&format!("syn{n}"));
    let f = file(&dir, Flood::Syn, n);
    let cap_arg = cap.map(|c| c.to_string());
    let cap = u64::from(cap.unwrap_or(16_384));
    let with_cap = |args: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(c) = &cap_arg {
            v.extend(["--max-conns".to_owned(), c.clone()]);
        }
        v.push(f.clone());
        v
    };
    let n = u64::from(n);
    let mut peaks = Vec::new();
    for (args, records) in [
        (&["conns", "--threads", "1", "--format", "json"][..], n),
        // a packet record per frame and a conn record per connection
        (&["read", "--threads", "1", "--format", "json"][..], 2 * n),
        (&["read", "--threads", "2"][..], n),
        (&["stream", "--threads", "1", "--keep", "0"][..], 0),
    ] {
        let argv = with_cap(args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let r = run(&dir, &argv);
        if records > 0 {
            assert_eq!(r.lines, records, "{args:?}: records");
        }
        assert_eq!(r.evicted_conns(), n - cap, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("({cap} at once)")), "{args:?}: {}", r.stderr);
        peaks.push((args.join(" "), r.peak_kib));
    }
    // conns over two threads: each holds its share of the table (2/N of it), so the evictions
    // are at least n - 2 × cap, and every connection is still written
    let argv = with_cap(&["conns", "--threads", "2", "--format", "json"]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let r = run(&dir, &argv);
    assert_eq!(r.lines, n);
    let evicted = r.evicted_conns();
    assert!(evicted >= n - 2 * cap && evicted < n, "conns --threads 2: {evicted} evicted\n{}", r.stderr);
    for (what, peak) in peaks {
        if let Some(kib) = peak {
            eprintln!("{n} open connections, --max-conns {cap}: {what}: peak RSS {} MiB", kib >> 10);
            // `conns` keeps a row per connection for its sorted table: not state, output
            if let (Some(limit), false) = (peak_mib, what.starts_with("conns")) {
                assert!(kib >> 10 <= limit, "{what}: peak RSS {} MiB > {limit} MiB", kib >> 10);
            }
        }
    }
}

/// `n` first fragments of `len`-byte IP payloads that never complete: held datagrams stay within
/// both caps, every datagram is counted as evicted or incomplete at the end.
fn frag_flood(n: u32, len: usize, peak_mib: Option<u64>) {
    let dir = Scratch::new(&format!("frag{n}x{len}"));
    let f = file(&dir, Flood::Frag(len), n);
    let n = u64::from(n);
    // a datagram held costs at least its bytes: the byte cap bounds how many stay
    let most = MAX_DATAGRAMS.min(MAX_HELD / len as u64);
    for args in [&["read", "--threads", "1", "--format", "json"][..], &["conns", "--threads", "1"][..], &["stream", "--threads", "1"][..]] {
        let mut argv = args.to_vec();
        argv.push(&f);
        let r = run(&dir, &argv);
        if args[0] == "read" {
            assert_eq!(r.lines, n, "one record per fragment");
        }
        let (evicted, incomplete) = (r.evicted_datagrams(), r.incomplete());
        assert_eq!(evicted + incomplete, n, "{args:?}: {}", r.stderr);
        assert!(incomplete <= most && incomplete > 0, "{args:?}: {incomplete} held at the end, cap {most}\n{}", r.stderr);
        if len <= 1024 {
            // only the datagram cap binds: exactly it is held at the end
            assert_eq!(incomplete, MAX_DATAGRAMS, "{args:?}");
        }
        if let Some(kib) = r.peak_kib {
            eprintln!("{n} incomplete datagrams of {len} bytes: {}: peak RSS {} MiB", args.join(" "), kib >> 10);
            if let Some(limit) = peak_mib {
                assert!(kib >> 10 <= limit, "{args:?}: peak RSS {} MiB > {limit} MiB", kib >> 10);
            }
        }
    }
}

#[test]
fn open_connections_past_max_conns_are_evicted_and_counted() {
    syn_flood(30_000, Some(1000), None);
}

#[test]
fn incomplete_datagrams_past_the_datagram_cap_are_evicted_and_counted() {
    frag_flood(20_000, 64, None);
}

#[test]
fn incomplete_datagrams_past_the_byte_cap_are_evicted_and_counted() {
    frag_flood(3_000, 8_000, None);
}

/// A million connections open at once, default `--max-conns` (16,384): read and stream stay
/// within 256 MiB (without the cap they would hold ~5 KB per connection, 5 GB).
#[test]
#[ignore = "a million frames: cargo test --release --test caps -- --ignored"]
fn million_open_connections() {
    syn_flood(1_000_000, None, Some(256));
}

/// A million incomplete datagrams: within 128 MiB.
#[test]
#[ignore = "a million frames: cargo test --release --test caps -- --ignored"]
fn million_incomplete_datagrams() {
    frag_flood(1_000_000, 64, Some(128));
}
