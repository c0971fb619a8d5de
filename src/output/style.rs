//! Colour for terminals only: styles are emitted when the choice (from `--color`, the terminal
//! and `NO_COLOR`/`CLICOLOR_FORCE`, decided by anstream) says so, and never otherwise, so piped
//! output carries no escape codes and costs nothing to strip.

use anstyle::{AnsiColor, Style};

/// `--color`: when to colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    /// On a terminal, unless `NO_COLOR` is set (or `CLICOLOR_FORCE` forces it on).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Roles in the output, each with a style when colour is on.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    /// Colour is on: styles are written.
    pub on: bool,
}

/// Secondary text: folded runs, section rules.
pub const DIM: Style = AnsiColor::BrightBlack.on_default();
/// Protocol labels and headings.
pub const PROTO: Style = AnsiColor::Cyan.on_default().bold();
/// Segments with SYN.
pub const SYN: Style = AnsiColor::Green.on_default().bold();
/// Segments with FIN.
pub const FIN: Style = AnsiColor::Yellow.on_default().bold();
/// Segments with RST.
pub const RST: Style = AnsiColor::Red.on_default().bold();
/// Decoding warnings, conflicts and analysis flags.
pub const WARN: Style = AnsiColor::Red.on_default();
/// A segment's phase in the connection.
pub const NOTE: Style = AnsiColor::Magenta.on_default();
/// TCP endpoint states.
pub const STATE: Style = AnsiColor::Blue.on_default();
/// The messages a frame carries.
pub const SEAM: Style = AnsiColor::Yellow.on_default();

impl Palette {
    /// Decide for standard output.
    pub fn for_stdout(mode: ColorMode) -> Self {
        let choice = match mode {
            ColorMode::Always => anstream::ColorChoice::Always,
            ColorMode::Never => anstream::ColorChoice::Never,
            ColorMode::Auto => anstream::ColorChoice::Auto,
        };
        let stream = anstream::AutoStream::new(std::io::stdout(), choice);
        let on = !matches!(stream.current_choice(), anstream::ColorChoice::Never);
        Palette { on }
    }

    /// No colour.
    pub fn off() -> Self {
        Palette { on: false }
    }

    /// Opening sequence for `style` (empty when colour is off).
    pub fn start(&self, style: Style) -> Start {
        Start(self.on.then_some(style))
    }

    /// The sequence that ends a style (empty when colour is off).
    pub fn reset(&self) -> &'static str {
        if self.on {
            "\x1b[0m"
        } else {
            ""
        }
    }
}

/// The escape sequence opening a style, or nothing (without going through anstyle's formatter:
/// uncoloured output is the common, per-frame case).
pub struct Start(Option<Style>);

impl Start {
    /// Writes the sequence (nothing when colour is off) without `core::fmt` in that case.
    pub fn write_to<W: std::io::Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        match self.0 {
            Some(style) => write!(w, "{}", style.render()),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(style) => style.render().fmt(f),
            None => Ok(()),
        }
    }
}
