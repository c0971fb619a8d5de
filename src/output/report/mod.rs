//! `wireseam report`: one self-contained HTML page of a run. An overview (the connections as
//! `conns` lists them, a timeline, counts by protocol, warnings) and, for the largest
//! connections, the ladder, the time-sequence graphs, RTT and throughput, and each direction's
//! message seams with what the reader's `recv()` calls return.
//!
//! A sink like the others: it is fed the same records as the JSON output (`packet` views,
//! `message`s, `conn` records), keeps what it needs within bounds ([`model`]) and writes the
//! page in `finish`. The page fetches nothing (everything inline; a Content-Security-Policy
//! with `default-src 'none'` and the hashes of its own script and style) and reads without
//! script: the drawings are SVG, folds and tables are `<details>`, hovering shows `<title>`s.

mod escape;
mod model;
mod page;
mod svg;
mod udp;

use std::io::{self, Write};

pub use self::model::ReportOptions;
use crate::analyze::{Carried, Message};
use crate::pipeline::{ConnRecord, PacketView, RunSummary, Sink};

pub use self::escape::{csp_hash, json_string};
pub use self::page::{SCRIPT, STYLE};

/// Collects a run and writes the report page to `w` when it finishes.
pub struct ReportSink<W: Write> {
    w: W,
    opts: ReportOptions,
    col: model::Collected,
    written: u64,
    /// Written by [`write_page`](Self::write_page) rather than at `finish` (a live capture adds
    /// the capture's own drop counts, known only after the run).
    deferred: Option<Option<page::RunFacts>>,
}

impl<W: Write> ReportSink<W> {
    /// A sink writing the page to `w`.
    pub fn new(w: W, opts: ReportOptions) -> Self {
        ReportSink { w, opts, col: model::Collected::default(), written: 0, deferred: None }
    }

    /// A sink that writes the page only when [`write_page`](Self::write_page) is called.
    pub fn deferred(w: W, opts: ReportOptions) -> Self {
        ReportSink { deferred: Some(None), ..Self::new(w, opts) }
    }

    /// Writes the page of a deferred sink after the run finished, with `warnings` added to the
    /// run's (e.g. the packets the kernel dropped).
    pub fn write_page(&mut self, warnings: Vec<String>) -> io::Result<()> {
        let mut facts = self.deferred.take().flatten().unwrap_or_default();
        facts.warnings.extend(warnings);
        self.write(&facts)
    }

    fn write(&mut self, facts: &page::RunFacts) -> io::Result<()> {
        self.written = page::render(&mut self.w, &self.opts, &mut self.col, facts)?;
        self.w.flush()
    }

    /// Did the run have TCP connection `id` (for `--conn`; after `finish`)?
    pub fn has_conn(&self, id: u32) -> bool {
        self.col.rows.iter().any(|row| row.summary.proto == crate::track::Proto::Tcp && row.summary.conn == id)
    }

    /// Bytes of the page written (after `finish`).
    pub fn written(&self) -> u64 {
        self.written
    }
}

/// The first pass of `report` over a file: every TCP connection's size as the page ranks it
/// (payload bytes both ways, ties to the lower id), so that the second pass keeps the details
/// of the largest alone.
#[derive(Debug, Default)]
pub struct Ranking {
    sizes: Vec<(u64, u32)>,
}

impl Ranking {
    /// The ids of the `top` largest connections, ascending.
    pub fn largest(&mut self, top: usize) -> Vec<u32> {
        self.sizes.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut ids: Vec<u32> = self.sizes.iter().take(top).map(|&(_, id)| id).collect();
        ids.sort_unstable();
        ids
    }
}

impl Sink for Ranking {
    fn packet(&mut self, _p: &PacketView<'_, '_>) -> io::Result<()> {
        Ok(())
    }

    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        let s = &c.summary;
        if s.proto == crate::track::Proto::Tcp {
            self.sizes.push((s.bytes[0] + s.bytes[1], s.conn));
        }
        Ok(())
    }

    fn conn_owned(&mut self, c: ConnRecord) -> io::Result<()> {
        self.conn(&c)
    }

    fn wants_packets(&self) -> bool {
        false
    }

    fn wants_messages(&self) -> bool {
        false
    }
}

impl<W: Write> Sink for ReportSink<W> {
    fn packet(&mut self, p: &PacketView<'_, '_>) -> io::Result<()> {
        self.col.packet(&self.opts, p);
        Ok(())
    }

    fn conn(&mut self, c: &ConnRecord) -> io::Result<()> {
        self.col.conn(&self.opts, c.clone());
        Ok(())
    }

    fn conn_owned(&mut self, c: ConnRecord) -> io::Result<()> {
        self.col.conn(&self.opts, c);
        Ok(())
    }

    fn message(&mut self, m: &Message) -> io::Result<()> {
        self.col.message(&self.opts, m);
        Ok(())
    }

    fn late(&mut self, _c: &Carried) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, s: &RunSummary) -> io::Result<()> {
        let facts = page::RunFacts::of(s);
        match &mut self.deferred {
            Some(later) => {
                *later = Some(facts);
                Ok(())
            }
            None => self.write(&facts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first pass ranks as the page does: payload bytes both ways, ties to the lower id.
    #[test]
    fn ranking_keeps_the_largest_ties_to_the_lower_id() {
        let mut r = Ranking { sizes: vec![(10, 4), (30, 7), (10, 2), (5, 1), (30, 9)] };
        assert_eq!(r.largest(3), vec![2, 7, 9]);
        assert_eq!(r.largest(0), Vec::<u32>::new());
        assert_eq!(r.largest(10), vec![1, 2, 4, 7, 9]);
    }
}
