//! Pins down what a small echo server does on the wire, the way a downstream crate's test would:
//! capture on loopback while a client talks to it, then compare with `examples/echo.golden`.
//!
//! Run: `sudo cargo run --example echo_golden` (capturing needs root, or CAP_NET_RAW and
//! CAP_NET_ADMIN on the binary); `WIRESEAM_BLESS=1` writes the golden file anew. Without the right
//! to capture it says so and exits 0 (skipped), so it can sit in a test suite that also runs
//! unprivileged.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use wireseam::golden::{check, record_live, GoldenOptions, LiveError};

/// The server's fixed port: a golden file keeps listening ports (client ports become c1, c2…).
const PORT: u16 = 47_321;

/// The code under test: an echo server that answers each line in upper case, then closes when
/// the client does.
fn serve_one(listener: TcpListener) {
    let (conn, _) = listener.accept().expect("accept");
    let mut out = conn.try_clone().expect("clone");
    for line in BufReader::new(conn).lines() {
        let line = line.expect("read");
        out.write_all(format!("{}\n", line.to_uppercase()).as_bytes()).expect("write");
    }
}

/// The client: two lines, each answer read before the next line is sent, then close.
fn talk() {
    let mut conn = TcpStream::connect(("127.0.0.1", PORT)).expect("connect");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    for line in ["hello", "golden tests"] {
        conn.write_all(format!("{line}\n").as_bytes()).expect("send");
        let mut answer = String::new();
        reader.read_line(&mut answer).expect("answer");
        assert_eq!(answer.trim_end(), line.to_uppercase());
    }
}

fn main() -> ExitCode {
    let listener = TcpListener::bind(("127.0.0.1", PORT)).expect("bind the echo server's port");
    let server = std::thread::spawn(move || serve_one(listener));
    let opts = GoldenOptions { filter: Some(format!("tcp port {PORT}")), ..GoldenOptions::default() };
    let recording = match record_live("lo", &opts, talk) {
        Ok((recording, ())) => recording,
        Err(e @ LiveError::Permission { .. }) => {
            eprintln!("echo_golden: skipped: {e}");
            // let the server thread end
            talk();
            return ExitCode::SUCCESS;
        }
        Err(e) => panic!("capture: {e}"),
    };
    server.join().expect("server");
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/echo.golden");
    match check(&golden, &recording, &opts) {
        Ok(outcome) => {
            eprintln!("echo_golden: {outcome:?}");
            ExitCode::SUCCESS
        }
        Err(diff) => {
            eprintln!("{diff}");
            ExitCode::FAILURE
        }
    }
}
