//! The options of the report page, shared by `wireseam report` and `wireseam gen --lab
//! --report`, so both draw the same page from the same words.

use clap::Args;

use crate::output::report::ReportOptions;

/// Defaults of the page options (also in their help).
const TOP: usize = 10;
const ROWS: usize = 2000;
const FOLD: usize = 6;
const BUDGET: usize = 2000;
const PREVIEW: usize = 48;
const KEEP_KIB: usize = 64;

/// What the report page draws; `None` is the default named in the help.
#[derive(Args, Debug, Default)]
pub struct PageArgs {
    /// Only connection N (the `#N` of `read` and the id of `conns`).
    #[arg(long = "conn", value_name = "N")]
    pub conn: Option<u32>,

    /// Draw the N largest connections (by payload bytes) in full; the others are listed
    /// (default 10).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Rows of the connection table at most (the largest, longest, slowest to set up and most
    /// retransmitting connections; default 2000).
    #[arg(long, value_name = "N")]
    pub rows: Option<usize>,

    /// Fold runs of more than N uneventful segments in the ladders (0: never fold; default 6).
    #[arg(long, value_name = "N")]
    pub fold: Option<usize>,

    /// Points per graph before plain segments are thinned out (marked ones are always drawn;
    /// default 2000).
    #[arg(long, value_name = "N")]
    pub budget: Option<usize>,

    /// With --recv: when the application calls recv(): arrival (default), after:MS, every:MS,
    /// end or after-send (as for `stream`).
    #[arg(long, value_name = "WHEN", requires = "recv")]
    pub recv_at: Option<String>,

    /// Bytes of each message shown in its preview (default 48).
    #[arg(long, value_name = "N")]
    pub preview: Option<usize>,

    /// Stream bytes kept per direction for message bytes and recv() results (KiB; default 64).
    #[arg(long, value_name = "KIB")]
    pub keep: Option<usize>,
}

impl PageArgs {
    /// Whether any option was given (`gen` takes them only with `--report`).
    pub fn any(&self) -> bool {
        let PageArgs { conn, top, rows, fold, budget, recv_at, preview, keep } = self;
        conn.is_some()
            || top.is_some()
            || rows.is_some()
            || fold.is_some()
            || budget.is_some()
            || recv_at.is_some()
            || preview.is_some()
            || keep.is_some()
    }

    /// The page's options with `title` and the reader's `recv` sizes, and the bytes kept per
    /// direction; errors are usage errors.
    pub fn options(self, title: String, recv: Vec<usize>) -> Result<(ReportOptions, usize), String> {
        if recv.contains(&0) {
            return Err("--recv sizes must be at least 1 byte".into());
        }
        let (top, rows, budget) = (self.top.unwrap_or(TOP), self.rows.unwrap_or(ROWS), self.budget.unwrap_or(BUDGET));
        if top == 0 || rows == 0 || budget < 100 {
            return Err("--top and --rows must be at least 1, --budget at least 100".into());
        }
        let recv_at = match self.recv_at {
            Some(w) => w.parse().map_err(|e| format!("--recv-at {e}"))?,
            None => crate::analyze::RecvSchedule::Arrival,
        };
        let opts = ReportOptions {
            title,
            conn: self.conn,
            top,
            rows,
            fold: self.fold.unwrap_or(FOLD),
            budget,
            recv,
            recv_at,
            preview: self.preview.unwrap_or(PREVIEW),
            only: None,
        };
        Ok((opts, self.keep.unwrap_or(KEEP_KIB).saturating_mul(1 << 10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_report_defaults() {
        let (opts, keep) = PageArgs::default().options("t".into(), Vec::new()).unwrap();
        let d = ReportOptions::default();
        assert_eq!((opts.top, opts.rows, opts.fold, opts.budget, opts.preview), (d.top, d.rows, d.fold, d.budget, d.preview));
        assert_eq!(keep, 64 << 10);
        assert!(!PageArgs::default().any());
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = |a: PageArgs, recv: Vec<usize>| a.options(String::new(), recv).unwrap_err();
        assert!(bad(PageArgs { top: Some(0), ..PageArgs::default() }, vec![]).contains("--top"));
        assert!(bad(PageArgs { budget: Some(10), ..PageArgs::default() }, vec![]).contains("--budget at least 100"));
        assert!(bad(PageArgs::default(), vec![0]).contains("at least 1 byte"));
        assert!(bad(PageArgs { recv_at: Some("soon".into()), ..PageArgs::default() }, vec![4]).starts_with("--recv-at"));
    }
}
