//! `-o DIR` and `--partition` of `--format parquet` (`read`, `conns`, `stream`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::output::parquet::{ParquetOptions, Partition};

/// Where `--format parquet` writes.
#[derive(Args, Debug, Default)]
pub struct ExportArgs {
    /// With --format parquet: the directory the Parquet files go into (created when missing):
    /// packets.parquet, messages.parquet and conns.parquet (docs/parquet.md).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// With --format parquet: `hour` writes Hive-style hour=YYYY-MM-DDTHH directories (UTC) that
    /// DuckDB, Polars and Spark read as an `hour` column.
    #[arg(long, value_enum, value_name = "BY")]
    pub partition: Option<PartitionArg>,
}

/// `--partition`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionArg {
    /// One directory per hour of capture time (UTC).
    Hour,
}

impl ExportArgs {
    /// The Parquet options when `parquet` (the format asked for is parquet); usage errors for
    /// `-o`/`--partition` without it, parquet without `-o`, and a build without the feature.
    pub fn options(&self, parquet: bool) -> Result<Option<ParquetOptions>, String> {
        if !parquet {
            if let Some(dir) = &self.output {
                return Err(format!("-o {}: a directory for --format parquet; add it, or leave out -o", dir.display()));
            }
            if self.partition.is_some() {
                return Err("--partition applies only to --format parquet".into());
            }
            return Ok(None);
        }
        if !crate::output::parquet::COMPILED {
            return Err("--format parquet: this wireseam was built without Parquet support; rebuild with `cargo build --release --features parquet`".into());
        }
        let Some(dir) = &self.output else {
            return Err("--format parquet writes files into a directory: add -o DIR".into());
        };
        let partition = match self.partition {
            Some(PartitionArg::Hour) => Partition::Hour,
            None => Partition::None,
        };
        Ok(Some(ParquetOptions { partition, ..ParquetOptions::new(dir.clone()) }))
    }
}
