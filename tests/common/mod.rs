#![allow(dead_code)]
//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// Run the wireseam binary with a fixed, terminal-free environment.
pub fn wireseam(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wireseam"))
        .args(args)
        .env("TZ", "Pacific/Chatham")
        .env("RUST_BACKTRACE", "0")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wireseam")
}

pub fn blessing() -> bool {
    std::env::var_os("WIRESEAM_BLESS").is_some_and(|v| v != "0")
}

/// Compare `actual` with the golden file, or rewrite it when blessing. Returns a failure message.
pub fn check_golden(path: &Path, actual: &[u8]) -> Option<String> {
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = match std::fs::read(path) {
        Ok(e) => e,
        Err(_) => return Some(format!("{}: missing golden file (run `make bless` and review it)", path.display())),
    };
    if expected == actual {
        return None;
    }
    let exp = String::from_utf8_lossy(&expected);
    let act = String::from_utf8_lossy(actual);
    let mut msg = format!("{}: output differs from the golden file (WIRESEAM_BLESS=1 to accept)\n", path.display());
    for (i, (e, a)) in exp.lines().zip(act.lines()).enumerate() {
        if e != a {
            msg += &format!("  first difference at line {}:\n  - {e}\n  + {a}\n", i + 1);
            return Some(msg);
        }
    }
    msg += &format!("  line counts differ: golden {} vs actual {}\n", exp.lines().count(), act.lines().count());
    Some(msg)
}

/// Every fixture capture, sorted.
pub fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")))
        .collect();
    v.sort();
    v
}

/// A classic pcap (microseconds, Ethernet) of the given frames.
pub fn pcap(frames: impl Iterator<Item = (u64, Vec<u8>)>) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 << 20);
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (t_us, f) in frames {
        v.extend_from_slice(&((1_767_225_600 + t_us / 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&f);
    }
    v
}

#[allow(clippy::too_many_arguments)]
pub fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, seq: u32, ack: Option<u32>, syn: bool, payload: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64);
    let mut t = b.tcp(sport, dport, seq, 64240);
    if syn {
        t = t.syn();
    }
    if let Some(a) = ack {
        t = t.ack(a);
    }
    let mut v = Vec::with_capacity(64 + payload.len());
    t.write(&mut v, payload).unwrap();
    v
}
