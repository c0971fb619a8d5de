//! wireseam's view of which TCP/UDP flow each frame belongs to, for the tests that compare it
//! with tshark's `tcp.stream`/`udp.stream` (linktypes_tshark, tunnels_tshark).

use std::collections::BTreeMap;
use std::path::Path;

/// (protocol, source, source port, destination, destination port, stream) of one frame.
pub type Flow = (&'static str, String, u16, String, u16, u64);

/// wireseam's TCP/UDP frames from its JSON packet records.
pub fn wireseam_flows(file: &Path) -> BTreeMap<u64, Flow> {
    let out = crate::common::wireseam(&["read", &file.display().to_string(), "--format", "json"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    // a datagram's flow id is its message record's `conn` (docs/json-lines.md: no `udp.flow` yet)
    let mut udp_flow = BTreeMap::new();
    for record in records.iter().filter(|r| r["type"] == "message" && r["proto"] == "udp") {
        for frame in record["frames"].as_array().into_iter().flatten() {
            udp_flow.insert(frame.as_u64().unwrap(), record["conn"].as_u64().unwrap());
        }
    }
    let mut flows = BTreeMap::new();
    for record in &records {
        if record["type"] != "packet" {
            continue;
        }
        let n = record["n"].as_u64().unwrap();
        let ip = &record["ip"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        for proto in ["tcp", "udp"] {
            let layer = &record[proto];
            if layer.is_object() {
                let port = |k: &str| layer[k].as_u64().unwrap_or(0) as u16;
                let stream = match proto {
                    "tcp" => layer["conn"].as_u64(),
                    _ => udp_flow.get(&n).copied(),
                };
                let stream = stream.unwrap_or(u64::MAX);
                flows.insert(n, (proto, text(&ip["src"]), port("sport"), text(&ip["dst"]), port("dport"), stream));
            }
        }
    }
    flows
}
