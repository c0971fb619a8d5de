//! `-o DIR` and `--partition` of `--format parquet` (`read`, `conns`, `stream`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::output::parquet::{ParquetOptions, Partition};

/// The error of `--format parquet` in a build without the `parquet` feature.
pub const NOT_COMPILED: &str =
    "--format parquet: this wireseam was built without the `parquet` feature; rebuild with `cargo build --release --features parquet` (or `cargo install --features parquet`)";

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
        self.options_built(parquet, crate::output::parquet::COMPILED)
    }

    /// [`ExportArgs::options`] for a build with (`compiled`) or without the writer.
    fn options_built(&self, parquet: bool, compiled: bool) -> Result<Option<ParquetOptions>, String> {
        if !parquet {
            if let Some(dir) = &self.output {
                return Err(format!("-o {}: a directory for --format parquet; add it, or leave out -o", dir.display()));
            }
            if self.partition.is_some() {
                return Err("--partition applies only to --format parquet".into());
            }
            return Ok(None);
        }
        if !compiled {
            return Err(NOT_COMPILED.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(output: Option<&str>, partition: Option<PartitionArg>) -> ExportArgs {
        ExportArgs { output: output.map(PathBuf::from), partition }
    }

    #[test]
    fn usage_errors() {
        let e = args(None, None).options_built(true, true).unwrap_err();
        assert!(e.contains("-o DIR"), "{e}");
        let e = args(Some("out"), None).options_built(false, true).unwrap_err();
        assert!(e.contains("-o out") && e.contains("--format parquet"), "{e}");
        let e = args(None, Some(PartitionArg::Hour)).options_built(false, true).unwrap_err();
        assert!(e.contains("--partition"), "{e}");
        assert_eq!(args(None, None).options_built(false, true), Ok(None));
    }

    #[test]
    fn a_build_without_the_feature_names_it_and_how_to_build() {
        let e = args(Some("out"), None).options_built(true, false).unwrap_err();
        assert!(e.contains("`parquet` feature") && e.contains("--features parquet"), "{e}");
    }

    #[test]
    fn options_when_given() {
        let o = args(Some("out"), Some(PartitionArg::Hour)).options_built(true, true).unwrap().unwrap();
        assert_eq!((o.dir, o.partition), (PathBuf::from("out"), Partition::Hour));
    }
}
