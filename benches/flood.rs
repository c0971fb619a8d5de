//! Flood captures for `benches/caps.sh` (the same generator as tests/caps.rs):
//!
//!   cargo bench --bench flood -- syn OUT.pcap N        N connections that open and never close
//!   cargo bench --bench flood -- frag OUT.pcap N [LEN] N datagrams, only their first fragment
//!                                                      (LEN bytes of IP payload, default 64)
//!
//! The last line on standard output is `frames=F bytes=B` for scripts. `cargo bench` with no
//! arguments, or with arguments meant for another benchmark, does nothing.

#[path = "../tests/common/flood.rs"]
mod flood;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let kind = match args.first().map(String::as_str) {
        Some("syn") => flood::Flood::Syn,
        Some("frag") => flood::Flood::Frag(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64)),
        _ => return ExitCode::SUCCESS,
    };
    let (Some(out), Some(Ok(n))) = (args.get(1), args.get(2).map(|s| s.parse::<u32>())) else {
        eprintln!("usage: cargo bench --bench flood -- syn|frag OUT.pcap N [LEN]");
        return ExitCode::from(2);
    };
    match flood::write(Path::new(out), kind, n) {
        Ok(bytes) => {
            println!("frames={n} bytes={bytes}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flood: cannot write {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
