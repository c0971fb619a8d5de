#![allow(dead_code)]
//! `wireseam capture -i IFACE -w FILE [FILTER]` as a test fixture, optionally inside a network
//! namespace: started and waited for ("listening on"), stopped with SIGINT (the capture then
//! flushes its file), killed when dropped. Included with `#[path]` by the tests that capture.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running capture.
pub struct Capture {
    child: Child,
    file: PathBuf,
}

/// A capture file, removed when dropped.
pub struct TempFile(pub PathBuf);

impl std::ops::Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Capture {
    /// Captures on `iface` (in namespace `netns`, if given) into `file`.
    pub fn start(netns: Option<&str>, iface: &str, filter: Option<&str>, file: PathBuf) -> Capture {
        let bin = env!("CARGO_BIN_EXE_wireseam");
        let _ = std::fs::remove_file(&file);
        let mut cmd = match netns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns, bin]);
                cmd
            }
            None => Command::new(bin),
        };
        cmd.args(["capture", "-i", iface, "--format", "json", "-w", file.to_str().unwrap()]);
        cmd.args(filter);
        cmd.env("RUST_BACKTRACE", "0");
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn capture");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("listening on"), "capture did not start: {line}");
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Capture { child, file }
    }

    /// Stops the capture (after 200 ms, so that the last frames are in) and returns its file.
    pub fn stop(mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(10), "capture did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
