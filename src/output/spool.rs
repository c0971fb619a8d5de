//! A spool for records that wait long for their turn: each owner (one direction of a
//! connection in `stream`) appends encoded records to its own [`Extents`]; while the bytes
//! buffered by all owners stay within a budget they stay in memory, and past it the largest
//! buffers are written to one unlinked temporary file and remembered as (offset, length)
//! extents. [`Spool::take`] gives an owner's bytes back in the order they were appended.
//!
//! So what the owners hold in memory is bounded by the budget, whatever the number of owners
//! and the size of their records; the rest is in the file (the page cache, not the process).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// One owner's records: the parts already in the file, then what is still buffered.
#[derive(Debug, Default)]
pub struct Extents {
    /// (offset in the file, length), in the order they were written.
    parts: Vec<(u64, u32)>,
    /// Bytes appended since the last spill.
    buf: Vec<u8>,
}

impl Extents {
    /// Bytes buffered in memory.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Nothing was appended (or all was taken).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.buf.is_empty()
    }
}

/// The spool: the file (made at the first spill) and the count of bytes buffered in memory.
#[derive(Debug)]
pub struct Spool {
    file: Option<File>,
    /// Bytes written to the file so far (the offset of the next part).
    file_len: u64,
    /// Bytes buffered in all [`Extents`] of this spool.
    buffered: usize,
    /// [`spill`](Self::spill) writes buffers out past this many buffered bytes.
    budget: usize,
}

impl Spool {
    /// A spool keeping up to `budget` bytes in memory.
    pub fn new(budget: usize) -> Self {
        Spool { file: None, file_len: 0, buffered: 0, budget }
    }

    /// Bytes buffered in memory by all owners.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Bytes written to the file.
    pub fn spilled(&self) -> u64 {
        self.file_len
    }

    /// Appends an encoded record (or part of one) to `ext`.
    pub fn append(&mut self, ext: &mut Extents, bytes: &[u8]) {
        ext.buf.extend_from_slice(bytes);
        self.buffered += bytes.len();
    }

    /// Whether the buffers passed the budget (then call [`Self::spill`]).
    pub fn over_budget(&self) -> bool {
        self.buffered > self.budget
    }

    /// Writes the largest buffers of `owners` to the file until at most half the budget is
    /// buffered.
    pub fn spill<'a>(&mut self, owners: impl Iterator<Item = &'a mut Extents>) -> io::Result<()> {
        let mut all: Vec<&mut Extents> = owners.filter(|e| !e.buf.is_empty()).collect();
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.buf.len()));
        for ext in all {
            if self.buffered <= self.budget / 2 {
                break;
            }
            self.write_out(ext)?;
        }
        Ok(())
    }

    fn write_out(&mut self, ext: &mut Extents) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile().map_err(|e| io::Error::new(e.kind(), format!("a temporary file for the spool: {e}")))?);
        }
        let file = self.file.as_ref().expect("made above");
        // parts of at most 4 GiB - 1 (the length is a u32)
        for chunk in ext.buf.chunks(u32::MAX as usize) {
            file.write_all_at(chunk, self.file_len)?;
            ext.parts.push((self.file_len, chunk.len() as u32));
            self.file_len += chunk.len() as u64;
        }
        self.buffered -= ext.buf.len();
        ext.buf = Vec::new();
        Ok(())
    }

    /// All the bytes appended to `ext`, in order; `ext` is left empty. (The file's space is
    /// not reused: it goes with the spool.)
    pub fn take(&mut self, ext: &mut Extents) -> io::Result<Vec<u8>> {
        let on_file: usize = ext.parts.iter().map(|p| p.1 as usize).sum();
        let mut out = Vec::with_capacity(on_file + ext.buf.len());
        if let Some(file) = &self.file {
            for &(at, len) in &ext.parts {
                let start = out.len();
                out.resize(start + len as usize, 0);
                file.read_exact_at(&mut out[start..], at)?;
            }
        }
        ext.parts = Vec::new();
        self.buffered -= ext.buf.len();
        out.extend_from_slice(&ext.buf);
        ext.buf = Vec::new();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the budget the largest buffers go to the file, and every owner gets back exactly
    /// what it appended, in order.
    #[test]
    fn spills_the_largest_past_the_budget_and_gives_all_back() {
        let mut spool = Spool::new(100);
        let mut owners: Vec<Extents> = (0..3).map(|_| Extents::default()).collect();
        let mut expect: Vec<Vec<u8>> = vec![Vec::new(); 3];
        for round in 0..20u8 {
            for (i, ext) in owners.iter_mut().enumerate() {
                // owner 2 appends the most
                let rec = vec![round.wrapping_mul(7).wrapping_add(i as u8); 1 + i * 4];
                spool.append(ext, &rec);
                expect[i].extend_from_slice(&rec);
            }
            if spool.over_budget() {
                spool.spill(owners.iter_mut()).unwrap();
                assert!(spool.buffered() <= 50, "spilled down to half the budget");
            }
            assert!(spool.buffered() <= 100 + 15);
        }
        assert!(spool.spilled() > 0, "the file was used");
        assert!(!owners[2].parts.is_empty(), "the largest owner was spilled");
        for (ext, want) in owners.iter_mut().zip(&expect) {
            assert_eq!(&spool.take(ext).unwrap(), want);
            assert!(ext.is_empty());
        }
        assert_eq!(spool.buffered(), 0);
    }

    /// Within the budget nothing touches the file.
    #[test]
    fn within_the_budget_no_file() {
        let mut spool = Spool::new(1 << 20);
        let mut ext = Extents::default();
        spool.append(&mut ext, b"hello");
        assert!(!spool.over_budget());
        assert_eq!(spool.take(&mut ext).unwrap(), b"hello");
        assert!(spool.file.is_none() && spool.spilled() == 0);
    }
}
