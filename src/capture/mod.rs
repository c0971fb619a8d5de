//! Sources of frames: capture files (memory-mapped walker) and live interfaces (libpcap).
//! Each yields `(PacketMeta, &[u8])` in capture order.

pub mod bpf;
pub mod file;

pub use file::{FileError, FileSource};

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
}

/// Facts about a source as a whole.
#[derive(Clone, Copy, Debug)]
pub struct SourceInfo {
    pub linktype: Option<u32>,
    pub nanos: bool,
    pub pcapng: bool,
}
