//! Zero-copy reader for pcap and pcapng files over a memory map.
//!
//! Why our own walker and not `pcap-file`'s parsers: a dissector must be lax. `pcap-file` rejects
//! records whose original length is below the captured length and allocates an option vector per
//! pcapng packet block; libpcap's reader refuses pcapng files whose interfaces have different link
//! types. Walking records is a few dozen lines; everything else (BPF, live capture) stays libpcap.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Backing, PacketMeta, SourceInfo};

/// Why a capture file cannot be read (or stopped being readable part-way).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be opened, read or mapped.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The path names a directory.
    #[error("{path}: is a directory; give a pcap or pcapng file")]
    IsDir {
        /// The directory.
        path: PathBuf,
    },
    /// The file has no bytes.
    #[error("{path}: file is empty; nothing to read (was the capture stopped before it wrote its header?)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The first four bytes are no pcap or pcapng magic number.
    #[error("{path}: not a pcap or pcapng file (starts with bytes {magic}); convert it with `editcap -F pcap` or check the file name")]
    NotCapture {
        /// The file.
        path: PathBuf,
        /// Its first bytes in hex, space-separated.
        magic: String,
    },
    /// The file ends inside its file header (pcap) or section header (pcapng).
    #[error("{path}: file header is truncated ({have} of {need} bytes)")]
    ShortHeader {
        /// The file.
        path: PathBuf,
        /// Bytes present.
        have: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// A structure after the header is impossible (bad block length, byte-order magic, interface id).
    #[error("{path}: corrupt {what} at byte offset {offset}: {detail}; frames before it were processed")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The structure, as a noun phrase ("pcapng packet block").
        what: &'static str,
        /// Byte offset of the structure in the file.
        offset: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The file ends inside a record (a capture cut short).
    #[error("{path}: last record is truncated at byte offset {offset} ({have} of {need} bytes present); the file was cut short, frames before it were processed")]
    TruncatedRecord {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// Bytes present from there.
        have: usize,
        /// Bytes the record needs.
        need: usize,
    },
    /// A compressed file's data cannot be decompressed far enough to hold a capture header.
    #[error("{path}: {format} data is damaged ({source}); no capture could be read from it")]
    DecompressHeader {
        /// The file.
        path: PathBuf,
        /// The compression format.
        format: &'static str,
        /// What the decompressor said.
        source: std::io::Error,
    },
    /// The decompressor of a compressed capture failed: the file is damaged or cut short.
    #[error("{path}: {format} data is damaged or cut short after {offset} bytes of capture ({source}); frames before it were processed")]
    Decompress {
        /// The file.
        path: PathBuf,
        /// The compression format (`gzip`, `zstd`, `xz`, `bzip2`).
        format: &'static str,
        /// Bytes of decompressed capture before the damage.
        offset: u64,
        /// What the decompressor said.
        source: std::io::Error,
    },
}

impl FileError {
    /// Errors after the header: the frames before were good and have been processed.
    pub fn is_partial(&self) -> bool {
        matches!(self, FileError::Corrupt { .. } | FileError::TruncatedRecord { .. } | FileError::Decompress { .. })
    }
}

/// The bytes of a capture file: a read-only map, or the whole input read into memory.
/// [`FileSource::shared`] hands it out as an `Arc`: a frame's range stays valid and its bytes
/// stay the same for as long as anyone holds it, whatever the walker does meanwhile.
pub enum Data {
    /// The map, and the pages retransmission checks have read again since they were last given
    /// back.
    Map(memmap2::Mmap, std::sync::Mutex<Reread>),
    /// Input that cannot be mapped (standard input, a FIFO) or was built in memory.
    Owned(Vec<u8>),
}

/// Pages of the map read again (a retransmission compared with its first copy) that have not
/// been given back yet: the span they lie in, and how many.
#[derive(Debug, Default)]
pub struct Reread {
    lo: usize,
    hi: usize,
    pages: usize,
}

/// Pages read again are given back this many at a time, in one call over their span: each
/// `MADV_DONTNEED` of a threaded run stops the other cores (a TLB flush), so one per check
/// would cost up to ~0.1 ms per retransmission; this way at most 128 KiB stay resident.
const REREAD_FLUSH_PAGES: usize = 32;

impl Data {
    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Data::Map(map, _) => map,
            Data::Owned(owned) => owned,
        }
    }

    /// Give the pages of `range` (rounded out to whole pages) back to the kernel. Any thread
    /// may, at any time: the map is read-only, so a page read again afterwards comes back from
    /// the file with the same bytes.
    pub fn release(&self, range: std::ops::Range<usize>) {
        const PAGE: usize = 4096;
        let Data::Map(map, _) = self else { return };
        let from = range.start / PAGE * PAGE;
        let to = range.end.div_ceil(PAGE).saturating_mul(PAGE).min(map.len());
        if to > from {
            // SAFETY: MADV_DONTNEED on a read-only, never-written file mapping only discards
            // clean pages; a later access re-reads them from the file, so no byte seen through
            // the map changes, also for frames other threads are still reading.
            #[allow(unsafe_code)]
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from) };
        }
    }
}

impl Backing for Data {
    fn bytes(&self) -> &[u8] {
        Data::bytes(self)
    }

    /// The pages of `range` leave the resident set again (the walker released them once
    /// already; a retransmission check brought them back), [`REREAD_FLUSH_PAGES`] at a time.
    fn reread(&self, range: std::ops::Range<usize>) {
        const PAGE: usize = 4096;
        let Data::Map(map, pending) = self else { return };
        let from = range.start / PAGE * PAGE;
        let to = range.end.div_ceil(PAGE).saturating_mul(PAGE).min(map.len());
        if to <= from {
            return;
        }
        let Ok(mut reread) = pending.lock() else { return };
        if reread.pages == 0 {
            (reread.lo, reread.hi) = (from, to);
        } else {
            (reread.lo, reread.hi) = (reread.lo.min(from), reread.hi.max(to));
        }
        reread.pages += (to - from) / PAGE;
        if reread.pages >= REREAD_FLUSH_PAGES {
            self.release(reread.lo..reread.hi);
            *reread = Reread::default();
        }
    }
}

/// A pcapng interface (Interface Description Block): its link type and how its timestamps read.
#[derive(Clone, Copy, Debug)]
struct Iface {
    linktype: u32,
    /// timestamp unit: ticks * mul / div = nanoseconds
    mul: u64,
    div: u64,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_s: i64,
    /// The resolution is finer than microseconds.
    nanos: bool,
}

impl Iface {
    fn new(linktype: u32) -> Self {
        Iface { linktype, mul: 1000, div: 1, offset_s: 0, nanos: false }
    }
    fn ts(&self, ticks: u64) -> i64 {
        let ns = (ticks as u128 * self.mul as u128 / self.div as u128) as i64;
        ns.saturating_add(self.offset_s.saturating_mul(1_000_000_000))
    }
}

/// What the file header said, and for pcapng the interfaces of the current section.
enum Format {
    Pcap { big_endian: bool, nanos: bool, rec_hdr: usize, linktype: u32 },
    PcapNg { big_endian: bool, ifaces: Vec<Iface> },
}

/// A capture file, mapped into memory and walked record by record.
pub struct FileSource {
    walker: Walker,
    data: Arc<Data>,
    pos: usize,
    /// Bytes before this offset have been handed back to the kernel (see `release_behind`).
    released: usize,
    /// When frames are still in use elsewhere (other threads), pages are released only below
    /// the offset stored here by their last user.
    release_limit: Option<Arc<AtomicUsize>>,
    /// Pages are released this many bytes at a time.
    release_step: usize,
    /// Where to announce releases (see `announce_released`).
    announce: Option<Arc<AtomicUsize>>,
    done: bool,
}

/// The record walker over a capture's bytes, wherever they are held (a map, or the window of a
/// streamed input): what the header said, and the time the last stamped packet had.
pub(crate) struct Walker {
    /// The input, for errors.
    pub(crate) path: PathBuf,
    format: Format,
    /// Time of the last packet with a timestamp (what a Simple Packet Block is given).
    last_ts: i64,
    /// Offset in the input of the first byte of the slices walked (a streamed input's window
    /// moves on): errors name offsets in the input.
    pub(crate) base: u64,
}

/// Asks the CPU to load the next record's first two cache lines (its header and the frame's
/// Ethernet/IP/TCP headers) while the caller processes this frame. Nothing else reads ahead:
/// payload bytes are not touched on the common path, so without this every frame's headers cost
/// two trips to memory, one after the other.
#[inline]
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(here) = bytes.get(at..) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint: it never faults and changes no memory; both addresses lie
        // inside `b`.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(here.as_ptr().cast());
            if let Some(next_line) = here.get(64..) {
                _mm_prefetch::<_MM_HINT_T0>(next_line.as_ptr().cast());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}

/// Map a capture file for reading from start to end.
fn map_file(file: &File, path: &Path) -> Result<memmap2::Mmap, FileError> {
    // SAFETY: the map is read-only; a capture file being appended to while we read it only
    // grows, and a file truncated under us is the caller's race (as with tcpdump).
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(file) }.map_err(|source| FileError::Open { path: path.into(), source })?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

fn rd16(bytes: &[u8], big_endian: bool) -> u16 {
    let raw = [bytes[0], bytes[1]];
    if big_endian {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    }
}
fn rd32(bytes: &[u8], big_endian: bool) -> u32 {
    let raw = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    }
}

/// pcapng Section Header Block type (the same in either byte order).
const SHB: u32 = 0x0A0D_0D0A;
/// Release walked pages every 2 MiB (at most that much of the file is resident behind
/// the reader; one madvise call per 2 MiB costs nothing measurable).
const RELEASE_STEP: usize = 2 << 20;
/// Release step for a walker whose frames other threads read: every release also stops the other
/// cores to flush their TLBs (an inter-processor interrupt per call). That is about 12 % of the
/// walker's time at 2 MiB and near 1 % at 8 MiB on 2 cores; 4 MiB keeps `read` on a 2 GB
/// capture within 64 MB peak (63.7 MB, 66.1 MB at 8 MiB) for 1-2 % more wall time.
pub const THREADED_RELEASE_STEP: usize = 4 << 20;
/// pcapng byte-order magic, as written by the section's writer.
const BOM: u32 = 0x1A2B_3C4D;

impl FileSource {
    /// Open a file (`-` reads standard input into memory).
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let data = if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map_err(|source| FileError::Open { path: path.into(), source })?;
            Data::Owned(bytes)
        } else {
            let file = File::open(path).map_err(|source| FileError::Open { path: path.into(), source })?;
            let metadata = file.metadata().map_err(|source| FileError::Open { path: path.into(), source })?;
            if metadata.is_dir() {
                return Err(FileError::IsDir { path: path.into() });
            }
            if metadata.is_file() {
                if metadata.len() == 0 {
                    return Err(FileError::Empty { path: path.into() });
                }
                Data::Map(map_file(&file, path)?, Default::default())
            } else {
                // a FIFO or character device: read it all
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(|source| FileError::Open { path: path.into(), source })?;
                Data::Owned(bytes)
            }
        };
        Self::from_data(path.into(), data)
    }

    /// Parse a capture held in memory; `name` stands for the path in errors.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self, FileError> {
        Self::from_data(PathBuf::from(name), Data::Owned(bytes))
    }

    /// Walk `data`; `path` names it in errors.
    pub(crate) fn from_data(path: PathBuf, data: Data) -> Result<Self, FileError> {
        let (walker, pos) = Walker::start(path, data.bytes())?;
        Ok(FileSource {
            walker,
            data: Arc::new(data),
            pos,
            released: 0,
            release_limit: None,
            release_step: RELEASE_STEP,
            announce: None,
            done: false,
        })
    }

    /// The path the source was opened with (`-` for standard input).
    pub fn path(&self) -> &Path {
        &self.walker.path
    }

    /// The file's bytes (what [`next_range`](Self::next_range)'s ranges index).
    pub fn shared_bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    /// The file's bytes, for readers that keep frames beyond the next call: every range
    /// returned by [`next_range`](Self::next_range) indexes them.
    pub fn shared(&self) -> Arc<Data> {
        Arc::clone(&self.data)
    }

    /// Release walked pages only below the offset `limit` holds (whoever uses the frames last
    /// stores it), instead of right behind the walker, and `step` bytes at a time.
    pub fn set_release_limit(&mut self, limit: Arc<AtomicUsize>, step: usize) {
        self.release_limit = Some(limit);
        self.release_step = step;
    }

    /// Before each release, store in `mark` the offset below which pages are being released: a
    /// reader still working below it knows that the pages it touches come back into memory (and
    /// can release them itself).
    pub fn announce_released(&mut self, mark: Arc<AtomicUsize>) {
        self.announce = Some(mark);
    }

    /// Total size in bytes and current offset (for progress).
    pub fn progress(&self) -> (u64, u64) {
        (self.data.bytes().len() as u64, self.pos as u64)
    }

    /// Link type of a classic pcap file, or of the first pcapng interface seen so far.
    pub fn info(&self) -> SourceInfo {
        self.walker.info()
    }

    /// The next frame, or `None` at the end of the file. After an error, returns `None`.
    pub fn next_packet(&mut self) -> Option<Result<(PacketMeta, &[u8]), FileError>> {
        match self.next_range()? {
            Ok((meta, range)) => Some(Ok((meta, &self.data.bytes()[range]))),
            Err(err) => Some(Err(err)),
        }
    }

    /// Like [`next_packet`](Self::next_packet), but the frame as a range of [`shared`](Self::shared).
    pub fn next_range(&mut self) -> Option<Result<(PacketMeta, std::ops::Range<usize>), FileError>> {
        if self.done {
            return None;
        }
        if self.pos - self.released >= self.release_step {
            self.release_behind();
        }
        let record = self.walker.next(self.data.bytes(), &mut self.pos);
        match record {
            Ok(Some((meta, start, end))) => {
                prefetch(self.data.bytes(), self.pos);
                Some(Ok((meta, start..end)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }

    /// Drop the pages already walked from this process's resident set, so memory stays flat
    /// however large the file is (they remain in the page cache).
    fn release_behind(&mut self) {
        const PAGE: usize = 4096;
        let upto = match &self.release_limit {
            Some(limit) => self.pos.min(limit.load(Ordering::Relaxed)),
            None => self.pos,
        };
        let end = upto / PAGE * PAGE;
        if end <= self.released {
            return;
        }
        if let Some(mark) = &self.announce {
            mark.store(end, Ordering::SeqCst);
        }
        self.data.release(self.released..end);
        self.released = end;
    }
}

impl Walker {
    /// A walker for `path` before its header has been read (it walks as an empty pcap).
    pub(crate) fn placeholder(path: PathBuf) -> Walker {
        Walker { path, format: Format::Pcap { big_endian: false, nanos: false, rec_hdr: 16, linktype: 1 }, last_ts: 0, base: 0 }
    }

    /// Read the file header at the start of `bytes`: the walker, and where the first record starts.
    pub(crate) fn start(path: PathBuf, bytes: &[u8]) -> Result<(Walker, usize), FileError> {
        if bytes.is_empty() {
            return Err(FileError::Empty { path });
        }
        if bytes.len() < 4 {
            return Err(FileError::NotCapture { path, magic: hex_prefix(bytes) });
        }
        let magic_le = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let magic_be = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let pcap = |magic: u32| match magic {
            0xa1b2_c3d4 => Some((false, 16)),
            0xa1b2_3c4d => Some((true, 16)),
            0xa1b2_cd34 => Some((false, 24)), // Kuznetzov's modified pcap
            _ => None,
        };
        let (format, pos) = if let Some((nanos, rec_hdr)) = pcap(magic_le) {
            Walker::pcap_header(&path, bytes, false, nanos, rec_hdr)?
        } else if let Some((nanos, rec_hdr)) = pcap(magic_be) {
            Walker::pcap_header(&path, bytes, true, nanos, rec_hdr)?
        } else if magic_le == SHB {
            if bytes.len() < 12 {
                return Err(FileError::ShortHeader { path, have: bytes.len(), need: 12 });
            }
            let big_endian = match u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) {
                BOM => false,
                magic if magic.swap_bytes() == BOM => true,
                _ => {
                    return Err(FileError::Corrupt {
                        path,
                        what: "pcapng section header",
                        offset: 8,
                        detail: "bad byte-order magic".into(),
                    })
                }
            };
            (Format::PcapNg { big_endian, ifaces: Vec::new() }, 0)
        } else {
            return Err(FileError::NotCapture { path, magic: hex_prefix(bytes) });
        };
        Ok((Walker { path, format, last_ts: 0, base: 0 }, pos))
    }

    fn pcap_header(path: &Path, bytes: &[u8], big_endian: bool, nanos: bool, rec_hdr: usize) -> Result<(Format, usize), FileError> {
        if bytes.len() < 24 {
            return Err(FileError::ShortHeader { path: path.into(), have: bytes.len(), need: 24 });
        }
        // The upper bits of the link-type word carry FCS information (pcap spec §"LinkType").
        let linktype = rd32(&bytes[20..24], big_endian) & 0x03ff_ffff;
        Ok((Format::Pcap { big_endian, nanos, rec_hdr, linktype }, 24))
    }

    /// Link type of a classic pcap file, or of the first pcapng interface seen so far.
    pub(crate) fn info(&self) -> SourceInfo {
        match &self.format {
            Format::Pcap { linktype, nanos, .. } => SourceInfo { linktype: Some(*linktype), nanos: *nanos, pcapng: false },
            Format::PcapNg { ifaces, .. } => {
                SourceInfo { linktype: ifaces.first().map(|i| i.linktype), nanos: ifaces.iter().any(|i| i.nanos), pcapng: true }
            }
        }
    }

    /// The record at `*at` in `bytes`: its metadata and where its frame lies; `*at` moves past
    /// it. `Ok(None)`: `bytes` ends at `*at`. A record cut off by the end of `bytes` is
    /// [`FileError::TruncatedRecord`] and leaves the walker as it was (a streamed input reads
    /// more and asks again).
    #[inline]
    pub(crate) fn next(&mut self, bytes: &[u8], at: &mut usize) -> Result<Option<(PacketMeta, usize, usize)>, FileError> {
        match self.format {
            Format::Pcap { big_endian, nanos, rec_hdr, linktype } => self.next_pcap(bytes, at, big_endian, nanos, rec_hdr, linktype),
            Format::PcapNg { .. } => self.next_pcapng(bytes, at),
        }
    }

    #[inline]
    fn next_pcap(
        &mut self,
        bytes: &[u8],
        at: &mut usize,
        big_endian: bool,
        nanos: bool,
        rec_hdr: usize,
        linktype: u32,
    ) -> Result<Option<(PacketMeta, usize, usize)>, FileError> {
        let pos = *at;
        if pos >= bytes.len() {
            return Ok(None);
        }
        let rest = &bytes[pos..];
        if rest.len() < rec_hdr {
            return Err(FileError::TruncatedRecord {
                path: self.path.clone(),
                offset: self.base + pos as u64,
                have: rest.len(),
                need: rec_hdr,
            });
        }
        let sec = rd32(&rest[0..4], big_endian) as i64;
        let frac = rd32(&rest[4..8], big_endian) as i64;
        let caplen = rd32(&rest[8..12], big_endian);
        let len = rd32(&rest[12..16], big_endian);
        let need = rec_hdr as u64 + caplen as u64;
        if (rest.len() as u64) < need {
            return Err(FileError::TruncatedRecord {
                path: self.path.clone(),
                offset: self.base + pos as u64,
                have: rest.len(),
                need: need as usize,
            });
        }
        let start = pos + rec_hdr;
        let end = start + caplen as usize;
        *at = end;
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        Ok(Some((PacketMeta { ts_ns, caplen, len: len.max(caplen), linktype, iface: 0, nanos, stamped: true, file: 0 }, start, end)))
    }

    fn next_pcapng(&mut self, bytes: &[u8], at: &mut usize) -> Result<Option<(PacketMeta, usize, usize)>, FileError> {
        loop {
            let pos = *at;
            if pos >= bytes.len() {
                return Ok(None);
            }
            let rest = &bytes[pos..];
            if rest.len() < 12 {
                return Err(FileError::TruncatedRecord {
                    path: self.path.clone(),
                    offset: self.base + pos as u64,
                    have: rest.len(),
                    need: 12,
                });
            }
            let (big_endian_before, ifaces_len) = match &self.format {
                Format::PcapNg { big_endian, ifaces } => (*big_endian, ifaces.len()),
                _ => unreachable!("pcapng walker on pcap"),
            };
            let raw_type = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let mut big_endian = big_endian_before;
            if raw_type == SHB {
                // A new section may switch byte order.
                big_endian = match u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) {
                    BOM => false,
                    magic if magic.swap_bytes() == BOM => true,
                    _ => return Err(self.corrupt("pcapng section header", pos, "bad byte-order magic".into())),
                };
            }
            let btype = rd32(&rest[0..4], big_endian);
            let blen = rd32(&rest[4..8], big_endian) as usize;
            if blen < 12 || !blen.is_multiple_of(4) {
                return Err(self.corrupt("pcapng block", pos, format!("block length {blen} is not a multiple of 4 of at least 12")));
            }
            if rest.len() < blen {
                return Err(FileError::TruncatedRecord {
                    path: self.path.clone(),
                    offset: self.base + pos as u64,
                    have: rest.len(),
                    need: blen,
                });
            }
            let body = &rest[8..blen - 4];
            *at = pos + blen;
            match btype {
                SHB => {
                    if let Format::PcapNg { big_endian: section_big_endian, ifaces } = &mut self.format {
                        *section_big_endian = big_endian;
                        ifaces.clear();
                    }
                }
                1 => {
                    // Interface Description Block
                    if body.len() < 8 {
                        return Err(self.corrupt("pcapng interface block", pos, "shorter than 8 bytes".into()));
                    }
                    let mut iface = Iface::new(rd16(&body[0..2], big_endian) as u32);
                    walk_options(&body[8..], big_endian, |code, val| match (code, val.len()) {
                        (9, 1) => {
                            let tsresol = val[0];
                            let (mul, div) = if tsresol & 0x80 == 0 {
                                let exponent = (tsresol & 0x7f) as u32;
                                if exponent <= 9 {
                                    (10u64.pow(9 - exponent), 1)
                                } else {
                                    (1, 10u64.saturating_pow(exponent - 9))
                                }
                            } else {
                                let exponent = (tsresol & 0x7f) as u32;
                                if exponent < 64 {
                                    (1_000_000_000, 1u64 << exponent)
                                } else {
                                    (1, u64::MAX)
                                }
                            };
                            iface.mul = mul;
                            iface.div = div.max(1);
                            iface.nanos = !(tsresol & 0x80 == 0 && tsresol <= 6);
                        }
                        (14, 8) => {
                            let hi = rd32(&val[0..4], big_endian) as u64;
                            let lo = rd32(&val[4..8], big_endian) as u64;
                            let offset = if big_endian { (hi << 32) | lo } else { (lo << 32) | hi };
                            iface.offset_s = offset as i64;
                        }
                        _ => {}
                    });
                    if let Format::PcapNg { ifaces, .. } = &mut self.format {
                        if ifaces.len() < 65536 {
                            ifaces.push(iface);
                        }
                    }
                }
                6 | 2 => {
                    // Enhanced Packet Block / obsolete Packet Block
                    if body.len() < 20 {
                        return Err(self.corrupt("pcapng packet block", pos, "shorter than 20 bytes".into()));
                    }
                    let ifid = if btype == 6 { rd32(&body[0..4], big_endian) } else { rd16(&body[0..2], big_endian) as u32 };
                    let hi = rd32(&body[4..8], big_endian) as u64;
                    let lo = rd32(&body[8..12], big_endian) as u64;
                    let caplen = rd32(&body[12..16], big_endian);
                    let len = rd32(&body[16..20], big_endian);
                    if caplen as usize > body.len() - 20 {
                        return Err(self.corrupt("pcapng packet block", pos, format!("captured length {caplen} exceeds the block")));
                    }
                    let Some(iface) = self.iface(ifid as usize, ifaces_len) else {
                        return Err(self.corrupt("pcapng packet block", pos, format!("interface id {ifid} has no interface description")));
                    };
                    let start = pos + 8 + 20;
                    let meta = PacketMeta {
                        ts_ns: iface.ts((hi << 32) | lo),
                        caplen,
                        len: len.max(caplen),
                        linktype: iface.linktype,
                        iface: ifid,
                        nanos: iface.nanos,
                        stamped: true,
                        file: 0,
                    };
                    self.last_ts = meta.ts_ns;
                    return Ok(Some((meta, start, start + caplen as usize)));
                }
                3 => {
                    // Simple Packet Block: interface 0, no timestamp
                    if body.len() < 4 {
                        return Err(self.corrupt("pcapng simple packet block", pos, "shorter than 4 bytes".into()));
                    }
                    let Some(iface) = self.iface(0, ifaces_len) else {
                        return Err(self.corrupt("pcapng simple packet block", pos, "no interface description before it".into()));
                    };
                    let len = rd32(&body[0..4], big_endian);
                    let caplen = (len as usize).min(body.len() - 4) as u32;
                    let start = pos + 12;
                    let meta = PacketMeta {
                        ts_ns: self.last_ts,
                        caplen,
                        len: len.max(caplen),
                        linktype: iface.linktype,
                        iface: 0,
                        nanos: iface.nanos,
                        stamped: false,
                        file: 0,
                    };
                    return Ok(Some((meta, start, start + caplen as usize)));
                }
                _ => {} // name resolution, statistics, custom, journal...: skipped
            }
        }
    }

    fn iface(&self, id: usize, count: usize) -> Option<Iface> {
        match &self.format {
            Format::PcapNg { ifaces, .. } if id < count => Some(ifaces[id]),
            _ => None,
        }
    }

    fn corrupt(&self, what: &'static str, offset: usize, detail: String) -> FileError {
        FileError::Corrupt { path: self.path.clone(), what, offset: self.base + offset as u64, detail }
    }
}

/// Walk pcapng options (code, length, value padded to 4) until opt_endofopt or the end.
fn walk_options(mut options: &[u8], big_endian: bool, mut visit: impl FnMut(u16, &[u8])) {
    while options.len() >= 4 {
        let code = rd16(&options[0..2], big_endian);
        let len = rd16(&options[2..4], big_endian) as usize;
        if code == 0 {
            break;
        }
        let padded = (len + 3) & !3;
        if options.len() < 4 + len {
            break;
        }
        visit(code, &options[4..4 + len]);
        if options.len() < 4 + padded {
            break;
        }
        options = &options[4 + padded..];
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_file(nanos: bool, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(if nanos { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4 }).to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        for (sec, frac, data) in recs {
            bytes.extend_from_slice(&sec.to_le_bytes());
            bytes.extend_from_slice(&frac.to_le_bytes());
            bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&(data.len() as u32 + 10).to_le_bytes());
            bytes.extend_from_slice(data);
        }
        bytes
    }

    #[test]
    fn pcap_records_and_truncation() {
        let mut file = pcap_file(false, &[(1, 5, b"abc"), (2, 0, b"defg")]);
        file.truncate(file.len() - 2);
        let mut src = FileSource::from_bytes("t.pcap", file).unwrap();
        let (meta, data) = src.next_packet().unwrap().unwrap();
        assert_eq!((meta.ts_ns, meta.caplen, meta.len, meta.linktype, data), (1_000_005_000, 3, 13, 1, &b"abc"[..]));
        let err = src.next_packet().unwrap().unwrap_err();
        assert!(matches!(err, FileError::TruncatedRecord { have: 18, need: 20, .. }), "{err}");
        assert!(src.next_packet().is_none());
    }

    /// Pages read again are given back in one call once 32 have gathered, over their span.
    #[test]
    fn reread_pages_are_given_back_in_batches() {
        let path = std::env::temp_dir().join(format!("ws-reread-{}.pcap", std::process::id()));
        let frame = vec![0x5au8; 4000];
        let recs: Vec<(u32, u32, &[u8])> = (0..100).map(|i| (i, 0, &frame[..])).collect();
        std::fs::write(&path, pcap_file(false, &recs)).unwrap();
        let src = FileSource::open(&path).unwrap();
        let data = src.shared();
        let pending = |data: &Data| match data {
            Data::Map(_, reread) => reread.lock().unwrap().pages,
            Data::Owned(_) => unreachable!("a file is mapped"),
        };
        data.reread(10..20);
        assert_eq!(pending(&data), 1);
        data.reread(4096 * 10..4096 * 12 + 1);
        assert_eq!(pending(&data), 4, "pages 10, 11 and 12");
        data.reread(4096 * 50..4096 * 78);
        assert_eq!(pending(&data), 0, "32 pages gathered: given back");
        assert!(data.bytes()[4096 * 60..4096 * 61].contains(&0x5a), "still readable");
        std::fs::remove_file(&path).unwrap();
    }

    /// Pages given back (any thread may, while others read them) read back the same bytes.
    #[test]
    fn released_pages_read_back_the_same() {
        let path = std::env::temp_dir().join(format!("ws-release-{}.pcap", std::process::id()));
        let frames: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 3000]).collect();
        let recs: Vec<(u32, u32, &[u8])> = frames.iter().enumerate().map(|(i, frame)| (i as u32, 0, &frame[..])).collect();
        let file = pcap_file(false, &recs);
        std::fs::write(&path, &file).unwrap();
        let src = FileSource::open(&path).unwrap();
        let data = src.shared();
        assert_eq!(data.bytes(), &file[..]);
        data.release(4096 * 3 + 100..4096 * 20 - 7);
        data.release(0..1);
        data.release(file.len() - 10..file.len() + 4096 * 4);
        data.release(50..50);
        assert_eq!(data.bytes(), &file[..], "released pages come back from the file");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn nanosecond_pcap() {
        let file = pcap_file(true, &[(1, 5, b"abc")]);
        let mut src = FileSource::from_bytes("t.pcap", file).unwrap();
        let (meta, _) = src.next_packet().unwrap().unwrap();
        assert_eq!(meta.ts_ns, 1_000_000_005);
        assert!(meta.nanos);
    }

    #[test]
    fn not_a_capture() {
        assert!(matches!(FileSource::from_bytes("x", b"hello world".to_vec()), Err(FileError::NotCapture { .. })));
        assert!(matches!(FileSource::from_bytes("x", vec![]), Err(FileError::Empty { .. })));
        assert!(matches!(FileSource::from_bytes("x", vec![0xd4, 0xc3, 0xb2, 0xa1, 0]), Err(FileError::ShortHeader { .. })));
    }

    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&block_type.to_le_bytes());
        bytes.extend_from_slice(&(len as u32).to_le_bytes());
        bytes.extend_from_slice(body);
        bytes.resize(len - 4, 0);
        bytes.extend_from_slice(&(len as u32).to_le_bytes());
        bytes
    }

    #[test]
    fn pcapng_two_linktypes_and_tsresol() {
        let mut file = block(SHB, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        file.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        // second interface: linktype 113 with if_tsresol = 9 (nanoseconds)
        file.extend(block(1, &[113, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
        let epb = |ifid: u32, ts: u64, data: &[u8]| {
            let mut body = Vec::new();
            body.extend_from_slice(&ifid.to_le_bytes());
            body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            body.extend_from_slice(&(ts as u32).to_le_bytes());
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            block(6, &body)
        };
        file.extend(epb(0, 1_500_000, b"xy"));
        file.extend(epb(1, 2_000_000_007, b"z"));
        file.extend(block(5, &[0; 8])); // statistics: skipped
        let mut src = FileSource::from_bytes("t.pcapng", file).unwrap();
        let (meta, data) = src.next_packet().unwrap().unwrap();
        assert_eq!((meta.linktype, meta.ts_ns, data), (1, 1_500_000_000, &b"xy"[..]));
        let (meta, data) = src.next_packet().unwrap().unwrap();
        assert_eq!((meta.linktype, meta.ts_ns, meta.nanos, data), (113, 2_000_000_007, true, &b"z"[..]));
        assert!(src.next_packet().is_none());
    }

    #[test]
    fn pcapng_bad_block_length() {
        let mut file = block(SHB, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        file.extend_from_slice(&[6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
        let mut src = FileSource::from_bytes("t.pcapng", file).unwrap();
        assert!(matches!(src.next_packet(), Some(Err(FileError::Corrupt { offset: 28, .. }))));
    }
}
