//! Sources of frames: capture files (memory-mapped walker) and live interfaces (libpcap).
//! Each yields `(PacketMeta, &[u8])` in capture order.

pub mod bpf;
pub mod file;
pub mod input;
pub mod live;
pub mod mem;
pub mod stream;

pub use file::{FileError, FileSource};
pub use input::{Input, MergeSource};
pub use stream::{Compression, StreamSource};

use std::sync::Arc;

/// Memory that holds every frame of the run until the run ends (a memory-mapped capture file),
/// so that later stages can read bytes again instead of copying them.
pub trait Backing: Send + Sync {
    /// Every byte of the source; each frame a source yields is a subslice of it.
    fn bytes(&self) -> &[u8];
    /// `range` of [`Backing::bytes`] was read again after the walk had passed it: give its
    /// pages back if the source can, so that memory stays flat.
    fn reread(&self, _range: std::ops::Range<usize>) {}
}

/// What the capture layer knows about one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Bytes present in the capture.
    pub caplen: u32,
    /// Length of the frame on the wire.
    pub len: u32,
    /// LINKTYPE_* value of the interface it was captured on.
    pub linktype: u32,
    /// pcapng interface id (0 for pcap).
    pub iface: u32,
    /// The source records nanosecond (or finer than microsecond) timestamps.
    pub nanos: bool,
    /// The record carries a timestamp. A pcapng Simple Packet Block has none: `ts_ns` is then
    /// the previous packet's time (so that capture time never goes back for tracking), and
    /// outputs show no time for it.
    pub stamped: bool,
    /// Which of the run's input files it came from (0 when there is one; see
    /// [`MergeSource`]).
    pub file: u32,
}

/// Facts about a source as a whole.
#[derive(Clone, Copy, Debug)]
pub struct SourceInfo {
    /// LINKTYPE_* of a pcap file, or of the first pcapng interface seen so far (`None`: none yet).
    pub linktype: Option<u32>,
    /// Timestamps finer than microseconds (a nanosecond pcap, or any pcapng interface with them).
    pub nanos: bool,
    /// The file is pcapng (else classic pcap).
    pub pcapng: bool,
}

/// Why a source stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The capture file is damaged or cut short.
    #[error(transparent)]
    File(#[from] FileError),
    /// The live capture stopped: libpcap failed, or the `-w` file could not be written.
    #[error("{0}")]
    Live(String),
}

/// One step of a source.
pub enum Next<'a> {
    /// The next frame: what was recorded about it, and its captured bytes.
    Packet(PacketMeta, &'a [u8]),
    /// Nothing yet (a live read timed out or was interrupted); ask again.
    Again,
    /// No more frames.
    End,
    /// The source stopped early; the frames before were good.
    Err(SourceError),
}

/// Anything that yields frames in capture order.
pub trait Source {
    /// The next step: a frame, nothing yet, the end, or the damage the source ended in.
    fn next_packet(&mut self) -> Next<'_>;
    /// Link type to compile user-space filters for.
    fn linktype_hint(&self) -> u32;
    /// Called once after the last packet.
    fn end(&mut self) {}
    /// (total bytes, bytes consumed) for a progress bar, when the size is known.
    fn progress(&self) -> Option<(u64, u64)> {
        None
    }
    /// What a capture file says of itself (its format, link type, time resolution); `None` for
    /// a live or in-memory source.
    fn source_info(&self) -> Option<SourceInfo> {
        None
    }
    /// Memory every packet of this source lies in for the whole run (a file), if any.
    fn backing(&self) -> Option<Arc<dyn Backing>> {
        None
    }
}

impl Source for FileSource {
    fn next_packet(&mut self) -> Next<'_> {
        match FileSource::next_packet(self) {
            Some(Ok((m, d))) => Next::Packet(m, d),
            Some(Err(e)) => Next::Err(SourceError::File(e)),
            None => Next::End,
        }
    }
    fn linktype_hint(&self) -> u32 {
        self.info().linktype.unwrap_or(1)
    }
    fn source_info(&self) -> Option<SourceInfo> {
        Some(self.info())
    }
    fn progress(&self) -> Option<(u64, u64)> {
        Some(FileSource::progress(self))
    }
    fn backing(&self) -> Option<Arc<dyn Backing>> {
        Some(self.shared())
    }
}
