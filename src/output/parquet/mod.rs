//! `--format parquet -o DIR`: the packet, message and conn records of `docs/json-lines.md` as
//! typed columns in Parquet files (`docs/parquet.md` is the schema). The options and checks
//! are always compiled (so a build without the `parquet` feature says so clearly); the writer
//! is behind the feature.

use std::fs::File;
use std::path::{Path, PathBuf};

#[cfg(feature = "parquet")]
mod cols;
pub mod set;
#[cfg(feature = "parquet")]
mod write;
#[cfg(feature = "parquet")]
pub use write::{ConnWriter, ParquetSink};

/// Is the Parquet writer compiled in (cargo feature `parquet`)?
pub const COMPILED: bool = cfg!(feature = "parquet");

/// How the directory of Parquet files is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Partition {
    /// One file per kind: `DIR/packets.parquet`, `DIR/messages.parquet`, `DIR/conns.parquet`.
    #[default]
    None,
    /// Hive-style hour directories, `DIR/hour=2026-12-04T16/packets.parquet`, by each row's time
    /// (UTC; a packet's capture time, a message's first byte, a connection's start). Rows without
    /// a time (pcapng Simple Packet Blocks) go to `hour=__HIVE_DEFAULT_PARTITION__`, the
    /// directory Hive, Spark and DuckDB read as a null partition value.
    Hour,
}

/// Where and how the Parquet files are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParquetOptions {
    /// The output directory (created when missing).
    pub dir: PathBuf,
    /// One file per kind, or hour directories.
    pub partition: Partition,
    /// Rows per row group: a table's builders are written out (and their memory reused) at
    /// this many rows.
    pub row_group_rows: usize,
}

/// Which tables a run writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tables {
    /// `read`: packets, messages and conns.
    #[default]
    All,
    /// `stream`: messages and conns (no packet rows).
    MessagesAndConns,
}

impl ParquetOptions {
    /// Rows per row group unless a test asks for fewer: large enough for good compression and
    /// fast scans, small enough (tens of MB for packets) to bound memory.
    pub const DEFAULT_ROW_GROUP_ROWS: usize = 16_384;

    /// Files in `dir`, one per kind, default row groups.
    pub fn new(dir: PathBuf) -> Self {
        ParquetOptions { dir, partition: Partition::None, row_group_rows: Self::DEFAULT_ROW_GROUP_ROWS }
    }
}

/// Checks that `dir` can take the files before the run starts (a clear error naming the
/// directory instead of one after reading the whole capture): creates it when missing and
/// writes and removes a probe file.
pub fn check_dir(dir: &Path) -> Result<(), String> {
    if dir.as_os_str().is_empty() || dir.as_os_str() == "-" {
        return Err("-o DIR: --format parquet writes files into a directory; name one (e.g. -o out/)".into());
    }
    if dir.exists() && !dir.is_dir() {
        return Err(format!("-o {}: not a directory; --format parquet writes its files into a directory", dir.display()));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("-o {}: cannot create the directory: {e}", dir.display()))?;
    let probe = dir.join(format!(".wireseam-probe-{}", std::process::id()));
    File::create(&probe).map_err(|e| format!("-o {}: cannot write there: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Where a connection row came from: its file(s) in a capture set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnOrigin {
    /// The file of its first packet (`None` for one input read alone).
    pub file: Option<String>,
    /// The file of its last packet, when it continued across rotated files.
    pub file_last: Option<String>,
    /// How many files' records were joined into this row (1: none joined).
    pub pieces: u32,
    /// A file boundary fell inside the handshake (SYN in one file, SYN-ACK in the next): the
    /// facts that need both (iRTT, SACK-permitted and timestamps by both sides) are unknown.
    pub handshake_cut: bool,
}
