//! The one-way flow for file input: capture → decode → track → sinks, in capture order.

use std::io;
use std::path::PathBuf;

use crate::capture::{bpf::Filter, FileError, FileSource, PacketMeta};
use crate::decode::{self, Frame, Net};
use crate::track::arp::{ArpConflict, ArpTable};

/// Everything a sink may print about one frame.
pub struct PacketView<'a, 'f> {
    /// Frame number in the file, 1-based (tshark's frame.number), also when a filter skips frames.
    pub n: u64,
    pub meta: PacketMeta,
    /// Nanoseconds since the first frame of the input.
    pub rel_ns: i64,
    /// Nanoseconds since the previous frame shown.
    pub delta_ns: i64,
    pub raw: &'a [u8],
    pub frame: &'f Frame<'a>,
    pub arp_conflict: Option<ArpConflict>,
}

/// An output format.
pub trait Sink {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()>;
    fn finish(&mut self, _s: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

/// What a run did, for the exit status and the closing messages.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Frames read from the input.
    pub frames: u64,
    /// Frames that passed the filter and were shown.
    pub shown: u64,
    /// Frames with decoding warnings.
    pub malformed: u64,
    /// Link types found that are not decoded.
    pub unsupported_linktypes: Vec<u32>,
    /// The input ended in damage after `frames` good frames.
    pub damage: Option<FileError>,
}

pub struct ReadOptions {
    pub path: PathBuf,
    pub filter: Option<String>,
    pub count: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}")]
    Filter(#[from] crate::capture::bpf::FilterError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Read a capture file and feed every (matching) frame to the sink.
pub fn run_file(opts: &ReadOptions, sink: &mut dyn Sink) -> Result<RunSummary, RunError> {
    let mut src = FileSource::open(&opts.path)?;
    let mut filter = match &opts.filter {
        Some(expr) => {
            let lt = src.info().linktype.unwrap_or(1);
            Some(Filter::new(expr, lt)?)
        }
        None => None,
    };
    let mut sum = RunSummary::default();
    let mut arp = ArpTable::new(1 << 16);
    let mut first_ts: Option<i64> = None;
    let mut prev_ts: Option<i64> = None;
    while let Some(item) = src.next_packet() {
        let (meta, raw) = match item {
            Ok(x) => x,
            Err(e) => {
                sum.damage = Some(e);
                break;
            }
        };
        sum.frames += 1;
        let n = sum.frames;
        let first = *first_ts.get_or_insert(meta.ts_ns);
        if let Some(f) = filter.as_mut() {
            if !f.matches(meta.linktype, raw) {
                continue;
            }
        }
        let frame = decode::decode(meta.linktype, raw, meta.len);
        if !frame.warnings.is_empty() {
            sum.malformed += 1;
        }
        if !crate::decode::link::linktype_supported(meta.linktype) && !sum.unsupported_linktypes.contains(&meta.linktype) {
            sum.unsupported_linktypes.push(meta.linktype);
        }
        let arp_conflict = match &frame.net {
            Net::Arp(a) => arp.observe(n, a),
            _ => None,
        };
        let view = PacketView {
            n,
            meta,
            rel_ns: meta.ts_ns - first,
            delta_ns: prev_ts.map_or(0, |p| meta.ts_ns - p),
            raw,
            frame: &frame,
            arp_conflict,
        };
        prev_ts = Some(meta.ts_ns);
        sink.packet(&view)?;
        sum.shown += 1;
        if opts.count.is_some_and(|c| sum.shown >= c) {
            break;
        }
    }
    sink.finish(&sum)?;
    Ok(sum)
}
