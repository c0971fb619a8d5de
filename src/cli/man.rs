//! Man pages from the clap definitions: `wireseam.1` and one page per command, each with the real
//! command line in its SYNOPSIS (`wireseam read [OPTIONS] <FILE> [FILTER]...`), the global
//! options, the command's notes, EXAMPLES, ENVIRONMENT and EXIT STATUS.

use clap_mangen::Man;
use roff::{bold, roman, Roff};

/// The exit status of every command but `golden`.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    ("1", "An input could not be read, or was damaged part-way (everything before the damage is printed first); a capture could not start; a generator failed."),
    ("2", "Bad arguments or filter expression."),
];

/// `wireseam golden`'s.
const GOLDEN_EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "The run matches the golden file (or --bless wrote it; --check-stable: nothing varies)."),
    ("1", "It differs (a unified diff is printed), there is no golden file yet, the command failed, or lines vary."),
    ("2", "Bad arguments, a golden file that is not one, or a capture that cannot start."),
];

/// The environment variables wireseam reads.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("NO_COLOR", "When set (to anything), --color auto does not colour (https://no-color.org)."),
    ("COLUMNS", "The width tables are fitted to; by default the terminal's own width, and no limit when the output is not a terminal."),
    ("WIRESEAM_BLESS", "With the value 1, wireseam golden writes the golden file instead of comparing (as --bless), and so does the Rust API (wireseam::golden::check)."),
];

/// `(file name, page)` for `wireseam.1` and each command's `wireseam-NAME.1`.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = super::command();
    // propagate the global options (--color) into each command
    cmd.build();
    let version = cmd.get_version().unwrap_or("").to_string();
    let mut out = vec![("wireseam.1".to_string(), page(&cmd, "wireseam", "wireseam"))];
    for sub in cmd.get_subcommands() {
        let name = sub.get_name().to_string();
        let sub = sub.clone().version(version.clone());
        out.push((format!("wireseam-{name}.1"), page(&sub, &format!("wireseam-{name}"), &format!("wireseam {name}"))));
    }
    out
}

/// One page: `title` as the page's name, `bin` as the command line users type.
fn page(cmd: &clap::Command, title: &str, bin: &str) -> Vec<u8> {
    let usage = cmd.clone().bin_name(bin).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").to_string();
    let cmd = cmd.clone().name(title.to_string()).bin_name(bin.to_string()).override_usage(usage);
    let man = clap_mangen::Man::new(cmd.clone()).title(title.to_uppercase());
    let mut buf = Vec::new();
    let sections = [
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ];
    for render in sections {
        render(&man, &mut buf).expect("render to memory");
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut buf).expect("render to memory");
    }
    let after = cmd.get_after_help().map(|s| s.to_string()).unwrap_or_default();
    // the exit status prose is replaced by the EXIT STATUS section
    let (notes, examples, _exit_prose) = split_after_help(&after);
    let mut roff = Roff::new();
    if !notes.is_empty() {
        roff.control("SH", ["NOTES"]);
        paragraphs(&mut roff, &notes);
    }
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        for line in examples.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    tagged(&mut roff, ENVIRONMENT);
    roff.control("SH", ["EXIT STATUS"]);
    tagged(&mut roff, if title == "wireseam-golden" { GOLDEN_EXIT_STATUS } else { EXIT_STATUS });
    roff.to_writer(&mut buf).expect("render to memory");
    man.render_version_section(&mut buf).expect("render to memory");
    buf
}

/// An `after_help` text cut into its prose, its `Examples:` block and its `Exit status` paragraph
/// (the last two written as their own sections).
fn split_after_help(after: &str) -> (String, String, String) {
    let mut notes = Vec::new();
    let mut examples = Vec::new();
    let mut exit = Vec::new();
    for block in after.split("\n\n") {
        if let Some(rest) = block.strip_prefix("Examples:") {
            examples.push(rest.trim_start_matches('\n').to_string());
        } else if block.starts_with("Exit status") {
            exit.push(block.to_string());
        } else if let Some((prose, rest)) = block.split_once("\nExamples:\n") {
            notes.push(prose.to_string());
            examples.push(rest.to_string());
        } else {
            notes.push(block.to_string());
        }
    }
    (notes.join("\n\n"), examples.join("\n"), exit.join("\n\n"))
}

/// Paragraphs of prose (blank-line separated), each joined into one filled text.
fn paragraphs(roff: &mut Roff, text: &str) {
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(para.lines().map(str::trim).collect::<Vec<_>>().join(" "))]);
    }
}

/// `.TP` entries: a bold tag and its text.
fn tagged(roff: &mut Roff, items: &[(&str, &str)]) {
    for (tag, text) in items {
        roff.control("TP", []);
        roff.text([bold(*tag)]);
        roff.text([roman(*text)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_help_sections() {
        let (notes, examples, exit) = split_after_help("Some prose\nmore.\n\nExamples:\n  a\n  b\n\nExit status: 0 ok.");
        assert_eq!(notes, "Some prose\nmore.");
        assert_eq!(examples, "  a\n  b");
        assert_eq!(exit, "Exit status: 0 ok.");
        let (notes, examples, _) = split_after_help("Prose.\nExamples:\n  x");
        assert_eq!((notes.as_str(), examples.as_str()), ("Prose.", "  x"));
    }

    #[test]
    fn pages_name_the_real_command() {
        let pages = man_pages();
        let read = pages.iter().find(|(n, _)| n == "wireseam-read.1").map(|(_, p)| String::from_utf8_lossy(p).into_owned()).unwrap();
        assert!(read.contains("\\fBwireseam read\\fR [OPTIONS] [FILE] [FILTER]..."), "{read}");
        for section in ["EXAMPLES", "ENVIRONMENT", "EXIT STATUS", "\\-\\-color"] {
            assert!(read.contains(section), "{section} missing:\n{read}");
        }
        let golden = pages.iter().find(|(n, _)| n == "wireseam-golden.1").map(|(_, p)| String::from_utf8_lossy(p).into_owned()).unwrap();
        assert!(golden.contains("WIRESEAM_BLESS") && golden.contains("differs"), "{golden}");
    }
}
