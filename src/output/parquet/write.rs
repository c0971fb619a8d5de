//! The Parquet writer (feature `parquet`): typed columns built from the same values the
//! JSON-lines sink writes ([`PacketView`], [`Message`], [`ConnRow`]), so both formats say the
//! same thing; zstd-compressed row groups of at most [`ParquetOptions::row_group_rows`] rows,
//! written as the run goes: memory holds one unfinished row group per table, not the run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::cols::{ConnCols, MessageCols, PacketCols};
use super::{ConnOrigin, ParquetOptions, Partition, Tables};
use crate::analyze::Message;
use crate::output::conns::ConnRow;
use crate::pipeline::{ConnRecord, PacketView, RunSummary, Sink};
use crate::track::tcp::Dir;
use crate::track::FlowId;

fn to_io(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

/// The table names, which are also the file names (`packets.parquet`, ...).
const PACKETS: &str = "packets";
const MESSAGES: &str = "messages";
const CONNS: &str = "conns";

/// The columns of one table: its builders, and the batch they make.
pub trait Columns: Default {
    /// The table's schema (its column order is the builders' order in [`Columns::finish`]).
    fn schema() -> SchemaRef;
    /// Rows appended so far.
    fn len(&self) -> usize;
    /// The rows appended so far as arrays in schema order; the builders are empty after.
    fn finish(&mut self) -> Vec<ArrayRef>;
}

/// The partition a row goes to under `--partition hour`: kept as a number per row (no text is
/// made until a partition's file is opened).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PartKey {
    /// Hours since the Unix epoch (UTC).
    Hour(i64),
    /// A frame without a timestamp: Hive's null partition.
    NoTime,
}

impl PartKey {
    /// The value of the `hour=` directory: `2026-12-04T16`, or Hive's null.
    fn dir_value(self) -> String {
        match self {
            PartKey::Hour(hour) => {
                let mut text = Vec::with_capacity(32);
                let _ = crate::output::time::write_rfc3339(&mut text, hour * HOUR_NS, false);
                String::from_utf8_lossy(&text[..13]).into_owned()
            }
            PartKey::NoTime => "__HIVE_DEFAULT_PARTITION__".to_string(),
        }
    }
}

const HOUR_NS: i64 = 3_600_000_000_000;

/// One partition's file of a table: its writer and unfinished row group.
struct Part<C> {
    writer: ArrowWriter<File>,
    cols: C,
}

/// A table written as the run goes: one file, or one per hour directory.
struct Table<C: Columns> {
    name: &'static str,
    opts: ParquetOptions,
    schema: SchemaRef,
    /// By partition value (`None` without `--partition`).
    parts: BTreeMap<Option<PartKey>, Part<C>>,
    /// The partition the last row went to (the others' rows were flushed when it opened).
    current: Option<Option<PartKey>>,
    rows: u64,
}

impl<C: Columns> Table<C> {
    fn new(name: &'static str, opts: &ParquetOptions) -> Self {
        Table { name, opts: opts.clone(), schema: C::schema(), parts: BTreeMap::new(), current: None, rows: 0 }
    }

    fn open(&self, part: &Option<PartKey>) -> io::Result<Part<C>> {
        let dir = match part {
            Some(key) => self.opts.dir.join(format!("hour={}", key.dir_value())),
            None => self.opts.dir.clone(),
        };
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.parquet", self.name));
        let file = File::create(&path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(self.opts.row_group_rows))
            .set_created_by(concat!("wireseam ", env!("CARGO_PKG_VERSION")).to_string())
            .build();
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(props)).map_err(to_io)?;
        Ok(Part { writer, cols: C::default() })
    }

    /// The columns to append the next row to, in partition `part`.
    fn cols(&mut self, part: Option<PartKey>) -> io::Result<&mut C> {
        if self.current.as_ref() != Some(&part) {
            // a new hour: the rows of the others are written out, so only one partition holds
            // an unfinished row group (rows mostly come in time order)
            let others: Vec<_> = self.parts.keys().filter(|key| **key != part).copied().collect();
            for key in others {
                self.flush(&key)?;
            }
            if !self.parts.contains_key(&part) {
                let opened = self.open(&part)?;
                self.parts.insert(part, opened);
            }
            self.current = Some(part);
        }
        Ok(&mut self.parts.get_mut(&part).expect("opened above").cols)
    }

    /// After a row was appended: a full row group is written out.
    fn appended(&mut self) -> io::Result<()> {
        self.rows += 1;
        let Some(part) = self.current else { return Ok(()) };
        if self.parts.get(&part).is_some_and(|p| p.cols.len() >= self.opts.row_group_rows) {
            self.flush(&part)?;
        }
        Ok(())
    }

    fn flush(&mut self, part: &Option<PartKey>) -> io::Result<()> {
        let Some(p) = self.parts.get_mut(part) else { return Ok(()) };
        if p.cols.len() == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new(self.schema.clone(), p.cols.finish()).map_err(to_io)?;
        p.writer.write(&batch).map_err(to_io)?;
        p.writer.flush().map_err(to_io)
    }

    /// Writes every partition out and closes its file. A table that got no row still gets its
    /// file (without `--partition`), so a reader finds every table with its schema.
    fn close(&mut self) -> io::Result<()> {
        if self.parts.is_empty() && self.opts.partition == Partition::None {
            let opened = self.open(&None)?;
            self.parts.insert(None, opened);
        }
        let keys: Vec<_> = self.parts.keys().cloned().collect();
        for key in keys {
            self.flush(&key)?;
        }
        for (_, part) in std::mem::take(&mut self.parts) {
            part.writer.close().map_err(to_io)?;
        }
        Ok(())
    }

    /// The partition of a row at `ts_ns` (`None` without a time).
    fn partition_of(&self, ts_ns: Option<i64>) -> Option<PartKey> {
        match self.opts.partition {
            Partition::None => None,
            Partition::Hour => Some(ts_ns.map_or(PartKey::NoTime, |ts| PartKey::Hour(ts.div_euclid(HOUR_NS)))),
        }
    }
}

/// Writes conn rows to `conns.parquet` (or its hour partitions), in the order given.
pub struct ConnWriter {
    table: Table<ConnCols>,
}

impl ConnWriter {
    /// A writer into `opts.dir`.
    pub fn new(opts: &ParquetOptions) -> Self {
        ConnWriter { table: Table::new(CONNS, opts) }
    }

    /// One row.
    pub fn push(&mut self, origin: &ConnOrigin, row: &ConnRow) -> io::Result<()> {
        let part = self.table.partition_of(Some(row.summary.first_ts));
        self.table.cols(part)?.push(origin, row);
        self.table.appended()
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.table.rows
    }

    /// Writes what is held and closes the files.
    pub fn close(mut self) -> io::Result<u64> {
        self.table.close()?;
        Ok(self.table.rows)
    }
}

/// `read`/`stream --format parquet`: packets, messages and conns as the run goes.
pub struct ParquetSink {
    tables: Tables,
    /// The input file every row is tagged with (`None` with `--merge`: packet rows then name
    /// their own file, message and conn rows none).
    file: Option<String>,
    packets: Table<PacketCols>,
    messages: Table<MessageCols>,
    conns: ConnWriter,
    /// The latest message of each direction, written once the next one (or the end) says its
    /// `next_gap` (as the JSON sink).
    held: BTreeMap<(FlowId, Dir), Message>,
}

impl ParquetSink {
    /// A sink writing into `opts.dir` (checked with [`super::check_dir`] first), its rows
    /// tagged with `file`.
    pub fn new(opts: &ParquetOptions, tables: Tables, file: Option<String>) -> Self {
        ParquetSink {
            tables,
            file,
            packets: Table::new(PACKETS, opts),
            messages: Table::new(MESSAGES, opts),
            conns: ConnWriter::new(opts),
            held: BTreeMap::new(),
        }
    }

    fn origin(&self) -> ConnOrigin {
        ConnOrigin { file: self.file.clone(), file_last: None, pieces: 1, handshake_cut: false }
    }

    /// Rows written: (packets, messages, conns).
    pub fn rows(&self) -> (u64, u64, u64) {
        (self.packets.rows, self.messages.rows, self.conns.rows())
    }

    fn write_message(&mut self, msg: &Message, next_gap: Option<i64>) -> io::Result<()> {
        let part = self.messages.partition_of(Some(msg.first_ts));
        self.messages.cols(part)?.push(self.file.as_deref(), msg, next_gap);
        self.messages.appended()
    }
}

impl Sink for ParquetSink {
    fn packet(&mut self, view: &PacketView<'_, '_>) -> io::Result<()> {
        if self.tables == Tables::MessagesAndConns {
            return Ok(());
        }
        let part = self.packets.partition_of(view.meta.stamped.then_some(view.meta.ts_ns));
        self.packets.cols(part)?.push(view, self.file.as_deref());
        self.packets.appended()
    }

    fn message(&mut self, msg: &Message) -> io::Result<()> {
        self.message_owned(msg.clone())
    }

    fn message_owned(&mut self, msg: Message) -> io::Result<()> {
        // Messages of a direction are final in index order, so the one held is the previous.
        if let Some(previous) = self.held.insert((msg.flow, msg.dir), msg) {
            let gap = crate::output::json::next_gap(&previous, &self.held[&(previous.flow, previous.dir)]);
            self.write_message(&previous, gap)?;
        }
        Ok(())
    }

    fn conn(&mut self, record: &ConnRecord) -> io::Result<()> {
        let flow = FlowId::Tcp(record.summary.conn);
        for dir in [Dir::C2S, Dir::S2C] {
            if let Some(last) = self.held.remove(&(flow, dir)) {
                self.write_message(&last, None)?;
            }
        }
        self.conns.push(&self.origin(), &ConnRow::new(&record.summary, &record.seams))
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        for last in std::mem::take(&mut self.held).into_values() {
            self.write_message(&last, None)?;
        }
        for flow in &summary.flows {
            self.conns.push(&self.origin(), &ConnRow::new(flow, &[None, None]))?;
        }
        if self.tables == Tables::All {
            self.packets.close()?;
        }
        self.messages.close()?;
        self.conns.table.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table's builders make arrays that fit its schema (a batch of zero rows).
    #[test]
    fn schemas_match_builders() {
        RecordBatch::try_new(PacketCols::schema(), PacketCols::default().finish()).unwrap();
        RecordBatch::try_new(MessageCols::schema(), MessageCols::default().finish()).unwrap();
        RecordBatch::try_new(ConnCols::schema(), ConnCols::default().finish()).unwrap();
    }

    /// Rows are written out in row groups of `row_group_rows` as they come (what bounds the
    /// memory), and every row is in the file.
    #[test]
    fn row_groups_of_the_given_size() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = std::env::temp_dir().join(format!("wireseam-rowgroups-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        super::super::check_dir(&dir).unwrap();
        let opts = ParquetOptions { row_group_rows: 2, ..ParquetOptions::new(dir.clone()) };
        let mut writer = ConnWriter::new(&opts);
        for conn in 0..5 {
            let row = crate::output::parquet::set::tests::row(conn, "10.0.0.1:40000", "10.0.0.2:80", "ShADadFf", 0, 1);
            writer.push(&ConnOrigin::default(), &row).unwrap();
        }
        assert_eq!(writer.close().unwrap(), 5);
        let reader = SerializedFileReader::new(File::open(dir.join("conns.parquet")).unwrap()).unwrap();
        let groups: Vec<i64> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [2, 2, 1]);
        // the unsigned columns are stored as Parquet's unsigned logical types
        let schema = reader.metadata().file_metadata().schema_descr();
        let packets = schema.columns().iter().find(|c| c.name() == "packets_c2s").unwrap();
        assert_eq!(format!("{:?}", packets.logical_type_ref()), "Some(Integer(IntType { bit_width: 64, is_signed: false }))");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn hour_partitions_by_utc_time() {
        let opts = ParquetOptions { partition: Partition::Hour, ..ParquetOptions::new("x".into()) };
        let t: Table<ConnCols> = Table::new(CONNS, &opts);
        // 2026-12-04T16:59:59.999999999Z and one nanosecond later
        let ts = 1_796_403_599_999_999_999;
        let dir = |ts: Option<i64>| t.partition_of(ts).map(PartKey::dir_value);
        assert_eq!(dir(Some(ts)).as_deref(), Some("2026-12-04T16"));
        assert_eq!(dir(Some(ts + 1)).as_deref(), Some("2026-12-04T17"));
        assert_eq!(dir(None).as_deref(), Some("__HIVE_DEFAULT_PARTITION__"));
        let flat: Table<ConnCols> = Table::new(CONNS, &ParquetOptions::new("x".into()));
        assert_eq!(flat.partition_of(Some(ts)), None);
    }
}
