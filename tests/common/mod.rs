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
