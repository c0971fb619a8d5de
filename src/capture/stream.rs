//! Compressed captures (gzip, zstd, xz, bzip2), recognised by their magic bytes as tshark does
//! and walked while they are decompressed: a window of the decompressed bytes (at least one
//! record, [`CHUNK`] bytes at a time) is all that is held, however large the file.
//!
//! The records are walked by the same [`Walker`] as a mapped file; only where the bytes come
//! from differs. A record cut off by the end of the window is read on; cut off by the end of
//! the input it is the same [`FileError::TruncatedRecord`] as in a plain file, and a
//! decompressor that fails (a damaged or cut-short `.gz`) is [`FileError::Decompress`] after
//! every whole record before the damage.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::file::Walker;
use super::{FileError, PacketMeta, SourceInfo};

/// A compression format a capture may be wrapped in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), `1f 8b`; concatenated members are read as one stream, as `gzip -d` does.
    Gzip,
    /// Zstandard (RFC 8878), `28 b5 2f fd`.
    Zstd,
    /// xz, `fd 37 7a 58 5a 00`.
    Xz,
    /// bzip2, `BZh`.
    Bzip2,
}

impl Compression {
    /// Bytes needed to recognise every format.
    pub const MAGIC_LEN: usize = 6;

    /// The format whose magic number `prefix` starts with, if any. No pcap or pcapng magic
    /// starts with any of these.
    pub fn sniff(prefix: &[u8]) -> Option<Self> {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if prefix.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else {
            None
        }
    }

    /// The format's name, as errors say it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// A reader of the decompressed bytes of `input`.
    fn decoder(self, input: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        })
    }
}

/// Decompressed bytes are read this many at a time.
pub const CHUNK: usize = 256 << 10;

/// The largest record a streamed input holds whole. A record header that claims more is
/// damage: the window would otherwise grow with whatever the header says.
pub const MAX_RECORD: usize = 64 << 20;

/// Counts the bytes read from the compressed file (for the progress bar).
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A compressed capture, walked as it is decompressed.
pub struct StreamSource {
    walker: Walker,
    compression: Compression,
    reader: Box<dyn Read + Send>,
    /// The window: decompressed bytes from input offset `walker.base` on.
    buf: Vec<u8>,
    /// Where the next record starts in `buf`.
    pos: usize,
    /// The decompressor has nothing more (its end, or `failed`).
    eof: bool,
    /// Why the decompressor stopped early.
    failed: Option<io::Error>,
    done: bool,
    /// Size of the compressed file, when known, and how much of it has been read.
    total: Option<u64>,
    read: Arc<AtomicU64>,
}

impl StreamSource {
    /// Walk `input`, whose first bytes said `compression`; `path` names it in errors, `total`
    /// is its size when known.
    pub fn new(path: PathBuf, compression: Compression, input: Box<dyn Read + Send>, total: Option<u64>) -> Result<Self, FileError> {
        let read = Arc::new(AtomicU64::new(0));
        let counted: Box<dyn Read + Send> = Box::new(Counted { inner: input, count: Arc::clone(&read) });
        let reader = compression.decoder(counted).map_err(|source| FileError::Open { path: path.clone(), source })?;
        let mut src = StreamSource {
            walker: Walker::placeholder(path),
            compression,
            reader,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            eof: false,
            failed: None,
            done: false,
            total,
            read,
        };
        // The pcapng section header's fixed part and the pcap file header are at most 24 bytes.
        src.fill(24);
        if let Some(source) = src.failed.take() {
            if src.buf.len() < 24 {
                return Err(FileError::DecompressHeader { path: src.walker.path.clone(), format: compression.name(), source });
            }
            src.failed = Some(source);
        }
        let (walker, pos) = Walker::start(src.walker.path.clone(), &src.buf)?;
        src.walker = walker;
        src.pos = pos;
        Ok(src)
    }

    /// Open a compressed file.
    pub fn open(path: &Path, compression: Compression) -> Result<Self, FileError> {
        let file = File::open(path).map_err(|source| FileError::Open { path: path.into(), source })?;
        let total = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        Self::new(path.into(), compression, Box::new(io::BufReader::with_capacity(64 << 10, file)), total)
    }

    /// The compression format.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        &self.walker.path
    }

    /// Link types and timestamp resolution seen so far.
    pub fn info(&self) -> SourceInfo {
        self.walker.info()
    }

    /// (compressed size, compressed bytes read), when the size is known.
    pub fn progress(&self) -> Option<(u64, u64)> {
        Some((self.total?, self.read.load(Ordering::Relaxed)))
    }

    /// The bytes a range from [`next_range`](Self::next_range) names, until the next call.
    pub fn window(&self) -> &[u8] {
        &self.buf
    }

    /// The next record as a range of [`window`](Self::window), `None` at the end, an error at
    /// damage (after which `None`). Every call may move the window: an earlier range is void.
    pub fn next_range(&mut self) -> Option<Result<(PacketMeta, std::ops::Range<usize>), FileError>> {
        if self.done {
            return None;
        }
        loop {
            match self.walker.next(&self.buf, &mut self.pos) {
                Ok(Some((meta, start, end))) => return Some(Ok((meta, start..end))),
                Ok(None) if self.eof => {
                    self.done = true;
                    return self.failed.take().map(|source| Err(self.damage(source)));
                }
                Ok(None) => self.fill(1),
                Err(FileError::TruncatedRecord { need, offset, .. }) if !self.eof => {
                    if need > MAX_RECORD {
                        self.done = true;
                        return Some(Err(FileError::Corrupt {
                            path: self.walker.path.clone(),
                            what: "record",
                            offset,
                            detail: format!(
                                "it claims {need} bytes, more than the {} MiB a compressed input holds at once",
                                MAX_RECORD >> 20
                            ),
                        }));
                    }
                    self.fill(need);
                }
                Err(err) => {
                    self.done = true;
                    // Cut off by a decompressor that failed: the failure is the damage.
                    if let (FileError::TruncatedRecord { .. }, Some(source)) = (&err, self.failed.take()) {
                        return Some(Err(self.damage(source)));
                    }
                    return Some(Err(err));
                }
            }
        }
    }

    /// The next frame, or `None` at the end. After an error, returns `None`.
    pub fn next_packet(&mut self) -> Option<Result<(PacketMeta, &[u8]), FileError>> {
        match self.next_range()? {
            Ok((meta, range)) => Some(Ok((meta, &self.buf[range]))),
            Err(err) => Some(Err(err)),
        }
    }

    /// Drop the walked bytes from the window and read on until `need` bytes from the next
    /// record's start are there (at least a [`CHUNK`]), or the input ends.
    fn fill(&mut self, need: usize) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.walker.base += self.pos as u64;
            self.pos = 0;
        }
        let want = need.max(CHUNK);
        while self.buf.len() < want && !self.eof {
            let len = self.buf.len();
            self.buf.resize(want, 0);
            match self.reader.read(&mut self.buf[len..]) {
                Ok(0) => {
                    self.buf.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(len + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.buf.truncate(len),
                Err(e) => {
                    self.buf.truncate(len);
                    self.failed = Some(e);
                    self.eof = true;
                }
            }
        }
    }

    fn damage(&self, source: io::Error) -> FileError {
        FileError::Decompress {
            path: self.walker.path.clone(),
            format: self.compression.name(),
            offset: self.walker.base + self.buf.len() as u64,
            source,
        }
    }
}

impl super::Source for StreamSource {
    fn next_packet(&mut self) -> super::Next<'_> {
        match StreamSource::next_packet(self) {
            Some(Ok((meta, data))) => super::Next::Packet(meta, data),
            Some(Err(e)) => super::Next::Err(super::SourceError::File(e)),
            None => super::Next::End,
        }
    }
    fn linktype_hint(&self) -> u32 {
        self.info().linktype.unwrap_or(1)
    }
    fn progress(&self) -> Option<(u64, u64)> {
        StreamSource::progress(self)
    }
}
