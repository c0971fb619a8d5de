//! Recording live traffic while something runs: open the capture, run the closure, drain, stop.

use std::path::PathBuf;
use std::time::Duration;

use super::record::Recording;
use super::{read_options, GoldenOptions};
use crate::capture::live::{LiveConfig, LiveSource};
use crate::pipeline;

pub use crate::capture::live::LiveError;

/// How long the capture goes on after the closure returns, so that the last packets it caused
/// (the final ACK of a close, a reply in flight) are in the recording.
pub const DRAIN: Duration = Duration::from_millis(300);

/// Captures on `iface` (`opts.filter` as the kernel filter) while `during` runs, and returns the
/// recording with what `during` returned. The capture is open before `during` starts, so nothing
/// it sends is missed. Needs the right to capture (root, or CAP_NET_RAW and CAP_NET_ADMIN on the
/// binary); without it the error says so and `during` does not run.
pub fn record_live<T>(iface: &str, opts: &GoldenOptions, during: impl FnOnce() -> T) -> Result<(Recording, T), LiveError> {
    let live = LiveConfig {
        iface: iface.to_string(),
        filter: opts.filter.clone(),
        snaplen: 262_144,
        promisc: false,
        buffer_bytes: 64 << 20,
        write: None,
        rotate: Default::default(),
    };
    let mut src = LiveSource::open(&live)?;
    let stopper = src.stopper();
    // The kernel filter is already in the handle: the pipeline must not filter again.
    let mut read = read_options(&PathBuf::from(iface), &GoldenOptions { filter: None, ..opts.clone() })
        .map_err(|e| LiveError::Other { iface: iface.to_string(), msg: e.0 })?;
    read.progress = false;
    let capture = std::thread::spawn(move || {
        let mut recording = Recording::default();
        let result = pipeline::run(&mut src, &read, &mut recording);
        (recording, result.map(|_| ()).map_err(|e| e.to_string()))
    });
    let value = during();
    std::thread::sleep(DRAIN);
    stopper.stop();
    let (recording, result) =
        capture.join().map_err(|_| LiveError::Other { iface: iface.to_string(), msg: "the capture thread panicked".into() })?;
    result.map_err(|msg| LiveError::Other { iface: iface.to_string(), msg })?;
    Ok((recording, value))
}
