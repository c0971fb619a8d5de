//! Opening what a file command was given: one capture (mapped when it is a plain file,
//! streamed when compressed), or several read as one, merged by time as `mergecap` does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::Data;
use super::stream::{Compression, StreamSource};
use super::{Backing, FileError, FileSource, Next, PacketMeta, Source, SourceError, SourceInfo};

/// One capture file, opened.
pub enum Input {
    /// An uncompressed file (mapped; standard input and FIFOs read into memory).
    Mapped(FileSource),
    /// A compressed file or stream, walked as it is decompressed.
    Streamed(StreamSource),
}

/// Read up to [`Compression::MAGIC_LEN`] bytes: fewer only at the end of the input.
fn read_prefix(reader: &mut dyn Read, path: &Path) -> Result<Vec<u8>, FileError> {
    let mut prefix = vec![0; Compression::MAGIC_LEN];
    let mut have = 0;
    while have < prefix.len() {
        match reader.read(&mut prefix[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(FileError::Open { path: path.into(), source }),
        }
    }
    prefix.truncate(have);
    Ok(prefix)
}

/// A stream that is not a regular file (standard input, a FIFO): compressed, walked as it comes;
/// else read whole into memory, as before.
fn open_stream(path: &Path, mut reader: Box<dyn Read + Send>) -> Result<Input, FileError> {
    let prefix = read_prefix(&mut reader, path)?;
    if let Some(compression) = Compression::sniff(&prefix) {
        let chained = Box::new(io::Cursor::new(prefix).chain(reader));
        return Ok(Input::Streamed(StreamSource::new(path.into(), compression, chained, None)?));
    }
    let mut bytes = prefix;
    reader.read_to_end(&mut bytes).map_err(|source| FileError::Open { path: path.into(), source })?;
    Ok(Input::Mapped(FileSource::from_data(path.into(), Data::Owned(bytes))?))
}

impl Input {
    /// Open `path` (`-`: standard input). What it holds is told by its first bytes, not its
    /// name: a gzip, zstd, xz or bzip2 magic number means a compressed capture.
    pub fn open(path: &Path) -> Result<Input, FileError> {
        if path.as_os_str() == "-" {
            return open_stream(path, Box::new(io::stdin()));
        }
        let mut file = File::open(path).map_err(|source| FileError::Open { path: path.into(), source })?;
        let metadata = file.metadata().map_err(|source| FileError::Open { path: path.into(), source })?;
        if metadata.is_dir() {
            return Err(FileError::IsDir { path: path.into() });
        }
        if !metadata.is_file() {
            return open_stream(path, Box::new(file));
        }
        match Compression::sniff(&read_prefix(&mut file, path)?) {
            Some(compression) => Ok(Input::Streamed(StreamSource::open(path, compression)?)),
            None => Ok(Input::Mapped(FileSource::open(path)?)),
        }
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        match self {
            Input::Mapped(src) => src.path(),
            Input::Streamed(src) => src.path(),
        }
    }

    /// Link types and timestamp resolution seen so far.
    pub fn info(&self) -> SourceInfo {
        match self {
            Input::Mapped(src) => src.info(),
            Input::Streamed(src) => src.info(),
        }
    }

    /// The next record as a range of [`bytes`](Self::bytes).
    pub fn next_range(&mut self) -> Option<Result<(PacketMeta, Range<usize>), FileError>> {
        match self {
            Input::Mapped(src) => src.next_range(),
            Input::Streamed(src) => src.next_range(),
        }
    }

    /// What the ranges of [`next_range`](Self::next_range) index (for a streamed input, only
    /// the last one is valid).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Input::Mapped(src) => src.shared_bytes(),
            Input::Streamed(src) => src.window(),
        }
    }
}

impl Source for Input {
    fn next_packet(&mut self) -> Next<'_> {
        match self {
            Input::Mapped(src) => Source::next_packet(src),
            Input::Streamed(src) => match src.next_packet() {
                Some(Ok((meta, data))) => Next::Packet(meta, data),
                Some(Err(e)) => Next::Err(SourceError::File(e)),
                None => Next::End,
            },
        }
    }
    fn linktype_hint(&self) -> u32 {
        self.info().linktype.unwrap_or(1)
    }
    fn source_info(&self) -> Option<SourceInfo> {
        Some(self.info())
    }
    fn progress(&self) -> Option<(u64, u64)> {
        match self {
            Input::Mapped(src) => Some(src.progress()),
            Input::Streamed(src) => src.progress(),
        }
    }
    fn backing(&self) -> Option<Arc<dyn Backing>> {
        match self {
            Input::Mapped(src) => Source::backing(src),
            Input::Streamed(_) => None,
        }
    }
}

/// Several captures read as one: frames in time order across the files (a k-way merge over
/// each file's next frame; within a file, its own order), as `mergecap` writes them. Each frame
/// keeps its file's link type; [`PacketMeta::file`] says which file it came from. On equal
/// times the file given first goes first.
pub struct MergeSource {
    inputs: Vec<Input>,
    /// Each input's next frame, not yet handed out.
    heads: Vec<Option<(PacketMeta, Range<usize>)>>,
    /// (time, input) of every head.
    order: BinaryHeap<Reverse<(i64, usize)>>,
    /// The input whose frame was handed out last (its bytes are borrowed until the next call).
    taken: Option<usize>,
    started: bool,
    /// Damage met in any input: that input ends there, the others go on, and the first damage
    /// ends the merged run after the last good frame.
    damage: Option<FileError>,
}

impl MergeSource {
    /// Open every file of `paths` (an error names the file that cannot be opened).
    pub fn open(paths: &[PathBuf]) -> Result<Self, FileError> {
        let inputs = paths.iter().map(|path| Input::open(path)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(inputs))
    }

    /// Merge opened inputs.
    pub fn new(inputs: Vec<Input>) -> Self {
        let heads = inputs.iter().map(|_| None).collect();
        MergeSource { inputs, heads, order: BinaryHeap::new(), taken: None, started: false, damage: None }
    }

    /// The inputs' paths, in the order given (a frame's [`PacketMeta::file`] indexes it).
    pub fn paths(&self) -> Vec<PathBuf> {
        self.inputs.iter().map(|input| input.path().to_path_buf()).collect()
    }

    fn advance(&mut self, index: usize) {
        self.heads[index] = match self.inputs[index].next_range() {
            Some(Ok((mut meta, range))) => {
                meta.file = index as u32;
                self.order.push(Reverse((meta.ts_ns, index)));
                Some((meta, range))
            }
            Some(Err(err)) => {
                self.damage.get_or_insert(err);
                None
            }
            None => None,
        };
    }
}

impl Source for MergeSource {
    fn next_packet(&mut self) -> Next<'_> {
        if !self.started {
            self.started = true;
            for index in 0..self.inputs.len() {
                self.advance(index);
            }
        }
        if let Some(index) = self.taken.take() {
            self.advance(index);
        }
        match self.order.pop() {
            Some(Reverse((_, index))) => {
                self.taken = Some(index);
                let Some((meta, range)) = self.heads[index].clone() else { return Next::End };
                Next::Packet(meta, &self.inputs[index].bytes()[range])
            }
            None => match self.damage.take() {
                Some(err) => Next::Err(SourceError::File(err)),
                None => Next::End,
            },
        }
    }
    fn linktype_hint(&self) -> u32 {
        self.inputs.first().map_or(1, |input| input.linktype_hint())
    }
    /// The first file's facts, except that the set counts as pcapng when any file is one or
    /// their link types differ (one pcap holds one link type).
    fn source_info(&self) -> Option<SourceInfo> {
        let infos: Vec<SourceInfo> = self.inputs.iter().map(Input::info).collect();
        let first = *infos.first()?;
        let mixed = infos.iter().any(|i| i.linktype.is_some() && i.linktype != first.linktype);
        Some(SourceInfo { pcapng: infos.iter().any(|i| i.pcapng) || mixed, nanos: infos.iter().any(|i| i.nanos), ..first })
    }
    fn progress(&self) -> Option<(u64, u64)> {
        let mut sum = (0, 0);
        for input in &self.inputs {
            let (total, done) = input.progress()?;
            sum = (sum.0 + total, sum.1 + done);
        }
        Some(sum)
    }
}
