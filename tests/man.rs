//! The committed man pages must match what the clap definitions generate.
//! Regenerate with `make man` (WIRESEAM_BLESS=1).

mod common;

#[test]
fn man_pages_are_up_to_date() {
    let dir = common::root().join("man");
    let mut stale = Vec::new();
    for (name, page) in wireseam::cli::man_pages() {
        if let Some(m) = common::check_golden(&dir.join(&name), &page) {
            stale.push(m.lines().next().unwrap_or_default().to_string());
        }
    }
    assert!(stale.is_empty(), "man pages out of date; run `make man`:\n{}", stale.join("\n"));
}

#[test]
fn help_is_complete() {
    let out = common::wireseam(&["read", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--count", "--format", "--verbose", "--hex", "--color", "--time", "FILTER", "FILE"] {
        assert!(help.contains(flag), "read --help lacks {flag}");
    }
    let out = common::wireseam(&["--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("read") && help.contains("Exit status"));
}
