//! Inputs as tshark and mergecap users bring them: compressed captures (by magic bytes, on
//! standard input too) and several files read as one (`--merge`).

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wireseam-inputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `plain` compressed in each format, by the same crates' encoders.
fn compress(plain: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(plain).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(plain).unwrap();
    vec![
        ("gz", gz.finish().unwrap()),
        ("zst", zstd::encode_all(plain, 3).unwrap()),
        ("xz", xz.finish().unwrap()),
        ("bz2", bz.finish().unwrap()),
    ]
}

fn out(args: &[&str]) -> (i32, String, String) {
    let o = wireseam(args);
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

const CASES: &[&str] = &["http.pcap", "multi.pcapng", "tcp-basic.pcap", "loss.pcap"];

/// Every format of every case reads as the plain file does: packets, JSON and conns. The file
/// names carry no hint (`.cap`): the magic bytes decide.
#[test]
fn compressed_captures_read_like_the_plain_file() {
    let dir = tempdir("compressed");
    for case in CASES {
        let plain = fixture(case);
        let bytes = std::fs::read(&plain).unwrap();
        let expected: Vec<_> = [&["read"][..], &["read", "--format", "json"], &["conns", "--format", "tsv"]]
            .iter()
            .map(|cmd| out(&[cmd, &[plain.to_str().unwrap()][..]].concat()))
            .collect();
        for (ext, packed) in compress(&bytes) {
            assert_ne!(packed, bytes);
            let path = dir.join(format!("{case}-{ext}.cap"));
            std::fs::write(&path, &packed).unwrap();
            for (cmd, want) in [&["read"][..], &["read", "--format", "json"], &["conns", "--format", "tsv"]].iter().zip(&expected) {
                let got = out(&[cmd, &[path.to_str().unwrap()][..]].concat());
                assert_eq!(got.0, want.0, "{case} {ext} {cmd:?}: {}", got.2);
                assert_eq!(got.1, want.1, "{case} {ext} {cmd:?}");
                assert!(!want.1.is_empty());
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Standard input may be compressed too.
#[test]
fn compressed_standard_input() {
    let plain = fixture("http.pcap");
    let want = out(&["read", plain.to_str().unwrap()]);
    for (ext, packed) in compress(&std::fs::read(&plain).unwrap()) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wireseam"))
            .args(["read", "-"])
            .env("NO_COLOR", "1")
            .env("TZ", "Pacific/Chatham")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&packed));
        let o = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(o.status.code(), Some(0), "{ext}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout), want.1, "{ext} on stdin");
    }
}

/// A `.gz` cut short: the frames before the damage are printed, then one error naming the file
/// and the format; exit 1. A damaged header is an error without frames.
#[test]
fn truncated_and_damaged_compressed_files() {
    let dir = tempdir("truncated");
    let plain = fixture("loss.pcap");
    let want = out(&["read", "--format", "json", plain.to_str().unwrap()]).1;
    let (_, gz) = compress(&std::fs::read(&plain).unwrap()).remove(0);
    let cut = dir.join("cut.pcap.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();
    let (code, stdout, stderr) = out(&["read", "--format", "json", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cut.pcap.gz") && stderr.contains("gzip data is damaged or cut short"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let got: Vec<&str> = stdout.lines().filter(|l| l.contains("\"type\":\"packet\"")).collect();
    let all: Vec<&str> = want.lines().filter(|l| l.contains("\"type\":\"packet\"")).collect();
    assert!(!got.is_empty() && got.len() < all.len(), "{} of {} frames before the damage", got.len(), all.len());
    // the frames before the damage are the file's first frames (numbers and times)
    let key = |l: &str| l.split(",\"len\"").next().unwrap().to_string();
    assert_eq!(got.iter().map(|l| key(l)).collect::<Vec<_>>(), all[..got.len()].iter().map(|l| key(l)).collect::<Vec<_>>());

    let bad = dir.join("bad.gz");
    std::fs::write(&bad, b"\x1f\x8bnot really gzip at all").unwrap();
    let (code, stdout, stderr) = out(&["read", bad.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("bad.gz: gzip data is damaged"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `editcap -c N` parts of `case` in `dir`, in order.
fn split(case: &str, per_file: usize, dir: &Path) -> Option<Vec<PathBuf>> {
    let ok = Command::new("editcap")
        .args(["-c", &per_file.to_string(), fixture(case).to_str().unwrap(), dir.join("part.pcap").to_str().unwrap()])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: editcap (wireshark-common) is not installed");
        return None;
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    parts.sort();
    Some(parts)
}

fn merged_args<'a>(cmd: &[&'a str], parts: &'a [PathBuf]) -> Vec<&'a str> {
    let mut args = cmd.to_vec();
    args.push(parts[0].to_str().unwrap());
    for part in &parts[1..] {
        args.extend(["--merge", part.to_str().unwrap()]);
    }
    args
}

/// Without the `file` key a merged JSON record is the whole file's.
fn without_file_key(json: &str) -> String {
    json.lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(object) = value.as_object_mut() {
                object.remove("file");
            }
            value.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A capture split by editcap and read back with --merge is the whole capture: frame numbers,
/// connection ids, messages, conns; in any order the parts are given.
#[test]
fn split_parts_merged_read_as_the_whole() {
    for (case, per_file) in [("http.pcap", 4), ("loss.pcap", 7), ("many.pcap", 10)] {
        let dir = tempdir(&format!("split-{case}"));
        let Some(parts) = split(case, per_file, &dir) else { return };
        assert!(parts.len() >= 2, "{case} split into {parts:?}");
        let whole = fixture(case);
        for cmd in [&["read"][..], &["conns"], &["stream"], &["flow"]] {
            let want = out(&[cmd, &[whole.to_str().unwrap()][..]].concat());
            let got = out(&merged_args(cmd, &parts));
            assert_eq!(got.1, want.1, "{case} {cmd:?}: {}", got.2);
            assert_eq!(got.0, want.0);
        }
        let want = out(&["read", "--format", "json", whole.to_str().unwrap()]).1;
        let mut reversed = parts.clone();
        reversed.reverse();
        for order in [&parts, &reversed] {
            let got = out(&merged_args(&["read", "--format", "json"], order));
            assert_eq!(without_file_key(&got.1), without_file_key(&want), "{case}");
            for line in got.1.lines().filter(|l| l.contains("\"type\":\"packet\"")) {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                let file = value["file"].as_str().expect("merged packet records name their file");
                assert!(order.iter().any(|p| p.to_str() == Some(file)), "{file}");
            }
        }
        // -v names each frame's file
        let verbose = out(&merged_args(&["read", "-v"], &parts)).1;
        assert!(parts.iter().all(|p| verbose.contains(&format!(" file {}", p.display()))), "{verbose}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A damaged part: the others are read whole, then the error names the damaged file; exit 1.
/// A part that cannot be opened is an error before anything is read.
#[test]
fn merged_damage_names_the_file() {
    let dir = tempdir("merge-damage");
    let Some(parts) = split("loss.pcap", 7, &dir) else { return };
    let first = std::fs::read(&parts[0]).unwrap();
    std::fs::write(&parts[0], &first[..first.len() - 5]).unwrap();
    let (code, stdout, stderr) = out(&merged_args(&["read"], &parts));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(parts[0].to_str().unwrap()) && stderr.contains("cut short"), "{stderr}");
    let whole = out(&["read", fixture("loss.pcap").to_str().unwrap()]).1;
    assert_eq!(stdout.lines().count() + 1, whole.lines().count(), "all frames but the cut one");

    let missing = dir.join("missing.pcap");
    let (code, stdout, stderr) = out(&["read", parts[1].to_str().unwrap(), "--merge", missing.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("missing.pcap: cannot open"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A hostile file name reaches the terminal escaped, and JSON stays valid.
#[test]
fn hostile_file_names_are_escaped() {
    let dir = tempdir("hostile-name");
    let name = dir.join("a\x1b[2Jb\u{202e}c.pcap");
    std::fs::copy(fixture("tcp-basic.pcap"), &name).unwrap();
    let other = dir.join("z.pcap");
    std::fs::copy(fixture("http.pcap"), &other).unwrap();
    let verbose = out(&["read", "-v", name.to_str().unwrap(), "--merge", other.to_str().unwrap()]).1;
    assert!(!verbose.contains('\x1b') && !verbose.contains('\u{202e}'), "{verbose}");
    assert!(verbose.contains("a\\x1b[2Jb\\u{202e}c.pcap"), "{verbose}");
    let json = out(&["read", "--format", "json", name.to_str().unwrap(), "--merge", other.to_str().unwrap()]).1;
    for line in json.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
