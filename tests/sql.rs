//! docs/sql.md: every documented query runs with DuckDB (its Python package) on the export the
//! page describes, its rows equal what the JSON-lines records of the same captures say
//! (computed here from them), and the page shows the output DuckDB gives (`WIRESEAM_BLESS=1`
//! rewrites the result tables; review the diff). Skipped with a message where python3 or its
//! duckdb package is missing, unless `WIRESEAM_REQUIRE_DUCKDB=1` (`make test` installs it).
//! scripts/spark-sql.py's Spark rows are checked the same way where Java and pyspark exist.
#![cfg(feature = "parquet")]

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// The captures the page exports, as its shell loop names them.
const CAPTURES: &[&str] =
    &["tcp-basic", "many", "sticky", "lossy-stream", "zero-window", "peer-rto", "peer-zero-window-probe", "refused", "http", "udp"];

/// Runs the queries (name -> SQL) in `dir`; prints `{name: {columns, rows}}` as JSON.
const RUNNER: &str = r#"
import decimal, json, sys, duckdb
out = {}
for name, sql in json.load(sys.stdin).items():
    rel = duckdb.sql(sql)
    rows = [[float(v) if isinstance(v, decimal.Decimal) else v for v in row] for row in rel.fetchall()]
    out[name] = {"columns": rel.columns, "rows": rows}
print(json.dumps(out, default=str))
"#;

fn duckdb_available() -> bool {
    Command::new("python3").args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success())
}

/// The `-- query: NAME` SQL blocks of the page, in order.
fn documented_queries(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("```sql\n-- query: ") {
        let block = &rest[start + "```sql\n".len()..];
        let end = block.find("```").expect("closed block");
        let (first, sql) = block[..end].split_once('\n').unwrap();
        out.push((first.trim_start_matches("-- query: ").trim().to_string(), sql.trim().to_string()));
        rest = &block[end..];
    }
    out
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A result as the page shows it: a Markdown table.
fn render(result: &Value) -> String {
    let columns: Vec<String> = result["columns"].as_array().unwrap().iter().map(cell_text).collect();
    let mut text = format!("| {} |\n|{}\n", columns.join(" | "), "---|".repeat(columns.len()));
    for row in result["rows"].as_array().unwrap() {
        let cells: Vec<String> = row.as_array().unwrap().iter().map(cell_text).collect();
        text += &format!("| {} |\n", cells.join(" | "));
    }
    text
}

/// Records of one capture's `read -F json`, each tagged with `file` as the export names it.
fn json_records(file: &str) -> Vec<Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_wireseam")).current_dir(root()).args(["read", file, "-F", "json"]).output().unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["file"] = json!(file);
            v
        })
        .collect()
}

fn kind<'a>(records: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    records.iter().filter(move |r| r["type"] == t)
}

fn proto(r: &Value) -> &str {
    r["proto"].as_str().unwrap_or("tcp")
}

fn port(endpoint: &Value) -> u64 {
    endpoint.as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap()
}

fn ns(secs: &Value) -> i64 {
    (secs.as_f64().unwrap() * 1e9).round() as i64
}

fn round(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// What each documented query must answer, worked out from the JSON records.
fn expected(name: &str, records: &[Value]) -> Vec<Vec<Value>> {
    let conns: Vec<&Value> = kind(records, "conn").collect();
    let by_file_conn = |a: &&Value, b: &&Value| (a["file"].as_str(), a["conn"].as_u64()).cmp(&(b["file"].as_str(), b["conn"].as_u64()));
    match name {
        "slowest-handshakes" => {
            let mut v: Vec<&Value> = conns.iter().copied().filter(|c| c.get("irtt").is_some_and(|i| !i.is_null())).collect();
            v.sort_by(|a, b| ns(&b["irtt"]).cmp(&ns(&a["irtt"])).then(by_file_conn(a, b)));
            v.iter()
                .take(5)
                .map(|c| {
                    vec![
                        c["file"].clone(),
                        c["conn"].clone(),
                        c["client"].clone(),
                        c["server"].clone(),
                        json!(round(ns(&c["irtt"]) as f64 / 1e6, 3)),
                    ]
                })
                .collect()
        }
        "most-retransmissions" => {
            let mut v: Vec<&Value> = conns.iter().copied().filter(|c| c["retransmissions"].as_u64().unwrap_or(0) > 0).collect();
            v.sort_by(|a, b| b["retransmissions"].as_u64().cmp(&a["retransmissions"].as_u64()).then(by_file_conn(a, b)));
            v.iter()
                .take(5)
                .map(|c| {
                    let packets = c["packets"]["c2s"].as_u64().unwrap() + c["packets"]["s2c"].as_u64().unwrap();
                    let retrans = c["retransmissions"].as_u64().unwrap();
                    vec![
                        c["file"].clone(),
                        c["conn"].clone(),
                        c["client"].clone(),
                        c["server"].clone(),
                        json!(retrans),
                        c["dup_acks"].clone(),
                        json!(packets),
                        json!(round(100.0 * retrans as f64 / packets as f64, 1)),
                    ]
                })
                .collect()
        }
        "sticky-rate-per-port" => {
            let server: BTreeMap<(String, String, u64), u64> = conns
                .iter()
                .map(|c| ((c["file"].as_str().unwrap().to_string(), proto(c).to_string(), c["conn"].as_u64().unwrap()), port(&c["server"])))
                .collect();
            let mut counts: BTreeMap<(String, u64), (u64, u64)> = BTreeMap::new();
            for m in kind(records, "message").filter(|m| !m["sticky"].is_null()) {
                let key = (m["file"].as_str().unwrap().to_string(), proto(m).to_string(), m["conn"].as_u64().unwrap());
                let entry = counts.entry((proto(m).to_string(), server[&key])).or_default();
                entry.0 += 1;
                entry.1 += u64::from(m["sticky"] == true);
            }
            let mut v: Vec<(f64, String, u64, u64, u64)> =
                counts.into_iter().map(|((p, port), (n, s))| (round(100.0 * s as f64 / n as f64, 1), p, port, n, s)).collect();
            v.sort_by(|a, b| b.0.total_cmp(&a.0).then((&a.1, a.2).cmp(&(&b.1, b.2))));
            v.into_iter().map(|(pct, p, port, n, s)| vec![json!(p), json!(port), json!(n), json!(s), json!(pct)]).collect()
        }
        "zero-window-episodes" => {
            let mut out = Vec::new();
            let tcp: Vec<&Value> = kind(records, "packet").filter(|p| p.get("tcp").is_some()).collect();
            // per file and (conn, dir): the previous segment's window
            let mut prev: BTreeMap<(String, u64, String), u64> = BTreeMap::new();
            for (i, p) in tcp.iter().enumerate() {
                let t = &p["tcp"];
                let key = (p["file"].as_str().unwrap().to_string(), t["conn"].as_u64().unwrap(), t["dir"].as_str().unwrap().to_string());
                let zero = t["analysis"].as_array().unwrap().iter().any(|a| a == "zero_window");
                let win = t["win"].as_u64().unwrap();
                let prev_win = prev.insert(key.clone(), win);
                if zero && prev_win.is_none_or(|w| w > 0) {
                    let reopen = tcp[i + 1..].iter().find(|o| {
                        o["file"] == p["file"]
                            && o["tcp"]["conn"] == t["conn"]
                            && o["tcp"]["dir"] == t["dir"]
                            && o["tcp"]["win"].as_u64().unwrap() > 0
                    });
                    out.push((
                        key,
                        vec![
                            p["file"].clone(),
                            t["conn"].clone(),
                            t["dir"].clone(),
                            p["n"].clone(),
                            reopen.map_or(Value::Null, |o| o["n"].clone()),
                            reopen.map_or(Value::Null, |o| json!(round((ns(&o["t"]) - ns(&p["t"])) as f64 / 1e6, 3))),
                        ],
                    ));
                }
            }
            out.sort_by(|a, b| (&a.0 .0, a.0 .1, a.1[3].as_u64()).cmp(&(&b.0 .0, b.0 .1, b.1[3].as_u64())));
            out.into_iter().map(|(_, row)| row).collect()
        }
        "top-talkers" => {
            let mut hosts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            for p in kind(records, "packet").filter(|p| p.pointer("/ip/src").is_some()) {
                let e = hosts.entry(p["ip"]["src"].as_str().unwrap().to_string()).or_default();
                e.0 += 1;
                e.1 += p["len"].as_u64().unwrap();
            }
            let mut v: Vec<_> = hosts.into_iter().collect();
            v.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
            v.into_iter().take(5).map(|(h, (frames, bytes))| vec![json!(h), json!(frames), json!(bytes)]).collect()
        }
        "slow-and-why" => {
            let mut v: Vec<&Value> = conns.iter().copied().filter(|c| proto(c) == "tcp").collect();
            // the JSON duration has microseconds: order by it, then as the query breaks ties
            v.sort_by(|a, b| ns(&b["duration"]).cmp(&ns(&a["duration"])).then(by_file_conn(a, b)));
            let both = |c: &Value, key: &str| c[key]["c2s"].as_u64().unwrap_or(0) + c[key]["s2c"].as_u64().unwrap_or(0);
            v.iter()
                .take(5)
                .map(|c| {
                    vec![
                        c["file"].clone(),
                        c["conn"].clone(),
                        json!(port(&c["server"])),
                        c["conn_state"].clone(),
                        c.get("irtt").filter(|i| !i.is_null()).map_or(Value::Null, |i| json!(round(ns(i) as f64 / 1e6, 3))),
                        json!(round(ns(&c["duration"]) as f64 / 1e6, 3)),
                        c["retransmissions"].clone(),
                        c["zero_windows"].clone(),
                        json!(both(c, "sticky")),
                        json!(both(c, "split")),
                    ]
                })
                .collect()
        }
        other => panic!("docs/sql.md: query {other:?} has no check against the JSON records here: add one"),
    }
}

/// Values equal, numbers within rounding (DuckDB's doubles against the ones computed here).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9,
        (a, b) => a == b,
    }
}

fn export(dir: &Path) {
    for name in CAPTURES {
        let file = format!("fixtures/{name}.pcap");
        let out = dir.join("out").join(name);
        let o = Command::new(env!("CARGO_BIN_EXE_wireseam"))
            .current_dir(root())
            .args(["read", &file, "-F", "parquet", "-o", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{file}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn documented_queries_answer_what_the_json_records_say() {
    if !duckdb_available() {
        assert!(
            std::env::var_os("WIRESEAM_REQUIRE_DUCKDB").is_none_or(|v| v == "0"),
            "WIRESEAM_REQUIRE_DUCKDB is set but python3 cannot import duckdb (python3 -m pip install duckdb)"
        );
        eprintln!("skipped: python3 with the duckdb package is needed (python3 -m pip install duckdb)");
        return;
    }
    let doc_path = root().join("docs/sql.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    assert!(doc.contains(&format!("for f in {}; do", CAPTURES.join(" "))), "docs/sql.md exports the captures this test does");
    let queries = documented_queries(&doc);
    assert!(queries.len() >= 5, "the page has its queries: {queries:?}");

    let dir: PathBuf = std::env::temp_dir().join(format!("wireseam-sql-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    export(&dir);
    let mut child = Command::new("python3")
        .args(["-c", RUNNER])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input: BTreeMap<&str, &str> = queries.iter().map(|(n, q)| (n.as_str(), q.as_str())).collect();
    child.stdin.take().unwrap().write_all(serde_json::to_string(&input).unwrap().as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "duckdb: {}", String::from_utf8_lossy(&o.stderr));
    let results: Value = serde_json::from_slice(&o.stdout).unwrap();

    let records: Vec<Value> = CAPTURES.iter().flat_map(|name| json_records(&format!("fixtures/{name}.pcap"))).collect();
    let mut new_doc = doc.clone();
    let mut failures = Vec::new();
    for (name, _) in &queries {
        let result = &results[name.as_str()];
        let rows: Vec<Vec<Value>> = result["rows"].as_array().unwrap().iter().map(|r| r.as_array().unwrap().clone()).collect();
        assert!(!rows.is_empty(), "{name}: the example shows some rows");
        let want = expected(name, &records);
        let agree =
            rows.len() == want.len() && rows.iter().zip(&want).all(|(r, w)| r.len() == w.len() && r.iter().zip(w).all(|(a, b)| same(a, b)));
        if !agree {
            failures.push(format!("{name}: DuckDB says\n  {rows:?}\nthe JSON records say\n  {want:?}"));
        }
        // the page's table
        let open = format!("<!-- result: {name} -->\n");
        let start = new_doc.find(&open).unwrap_or_else(|| panic!("docs/sql.md: no `{}` after query {name}", open.trim())) + open.len();
        let end = start + new_doc[start..].find("<!-- end result -->").expect("end marker");
        let table = render(result);
        if new_doc[start..end] != table {
            if blessing() {
                new_doc.replace_range(start..end, &table);
            } else {
                failures.push(format!(
                    "{name}: docs/sql.md shows\n{}\nDuckDB gives\n{table}(WIRESEAM_BLESS=1 to accept)",
                    &new_doc[start..end]
                ));
            }
        }
    }
    if blessing() && new_doc != doc {
        std::fs::write(&doc_path, new_doc).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// scripts/spark-sql.py: Spark (pyspark in local mode) reads the same export and its queries
/// give the rows the JSON records say. Skipped with a message without Java or pyspark (`make
/// test` installs neither: a JVM and pyspark are some 400 MB).
#[test]
fn spark_reads_the_same_files() {
    let java = Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success());
    let pyspark = Command::new("python3").args(["-c", "import pyspark"]).output().is_ok_and(|o| o.status.success());
    if !java || !pyspark {
        eprintln!("skipped: Spark needs java and python3's pyspark (python3 -m pip install pyspark)");
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("wireseam-spark-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    export(&dir);
    let o = Command::new("python3").arg(root().join("scripts/spark-sql.py")).arg(dir.join("out")).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "spark-sql.py: {}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("-- ") {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
        } else if let Some(name) = &current {
            sections.get_mut(name).unwrap().push(line.to_string());
        }
    }
    assert!(sections.len() >= 3, "spark-sql.py ran its queries: {stdout}");
    let records: Vec<Value> = CAPTURES.iter().flat_map(|name| json_records(&format!("fixtures/{name}.pcap"))).collect();
    for (name, rows) in &sections {
        let want: Vec<String> =
            expected(name, &records).iter().map(|row| row.iter().map(cell_text).collect::<Vec<_>>().join(" | ")).collect();
        assert_eq!(rows, &want, "{name}: Spark's rows against the JSON records");
    }
}
