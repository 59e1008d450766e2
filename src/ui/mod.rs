//! The one place that prints: data on stdout (a `Report` in the format asked for), progress,
//! logs and errors on stderr.

mod errors;
mod progress;
mod table;

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

pub use errors::{Explained, Problem};
pub use progress::{Bars, Progress};
pub use table::table;

use crate::cli::{Color, Global, Output};

/// Something a command hands to the printer, which picks the format: text, JSON or Markdown.
pub trait Report {
    /// The data for stdout in text form (may be empty).
    fn text(&self) -> String;
    fn json(&self) -> serde_json::Value;
    /// Markdown for a pull-request comment; the text where a report has no Markdown form.
    fn markdown(&self) -> String {
        self.text()
    }
    /// A closing line for stderr (counts, where things were written), not data.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// A count and its noun, plural unless the count is one: `1 record`, `0 records`, `2 hosts`.
/// Every count a summary or message prints goes through it.
pub fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Where debug lines go: what `Ui::logger` hands to HTTP clients (any thread).
pub type Log = Box<dyn Fn(&str) + Send + Sync>;

pub struct Ui {
    output: Output,
    quiet: bool,
    verbose: u8,
    color: bool,
}

const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Ui {
    pub fn new(global: &Global) -> Self {
        let color = match global.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && io::stderr().is_terminal()
            }
        };
        Self {
            output: global.output,
            quiet: global.quiet,
            verbose: global.verbose,
            color,
        }
    }

    /// Prints a report in the format `--output` asks for, then its summary line on stderr.
    pub fn report(&self, report: &dyn Report) -> io::Result<()> {
        match self.output {
            Output::Json => {
                let value = masked(report.json());
                let mut text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
                text.push('\n');
                self.data(&text)?;
            }
            Output::Markdown => self.data(&report.markdown())?,
            Output::Text => self.data(&report.text())?,
        }
        if let Some(line) = report.summary() {
            self.status(&line);
        }
        Ok(())
    }

    /// Data for stdout. A closed pipe (`boma render | head`) is not an error.
    fn data(&self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let text = clean(text);
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    /// A progress or summary line on stderr, unless `--quiet`.
    pub fn status(&self, message: &str) {
        if !self.quiet {
            eprintln!("{}", clean(message));
        }
    }

    /// Detail for `-v`.
    pub fn debug(&self, message: &str) {
        (self.logger())(message);
    }

    /// A logger for `-v` detail that a long-lived component (an HTTP client) can keep.
    pub fn logger(&self) -> crate::ui::Log {
        let (verbose, color) = (self.verbose > 0, self.color);
        Box::new(move |message| {
            if verbose {
                let line = clean(&format!("debug: {message}"));
                if color {
                    eprintln!("{CYAN}{line}{RESET}")
                } else {
                    eprintln!("{line}")
                }
            }
        })
    }

    /// A spinner on a terminal; nothing with `--quiet`, in CI or when stderr is not a terminal.
    pub fn spinner(&self, message: &str) -> Progress {
        if self.progress_shown() {
            Progress::spinner(message)
        } else {
            Progress::hidden()
        }
    }

    /// A bar of `total` steps on a terminal; nothing otherwise.
    pub fn bar(&self, total: usize, message: &str) -> Progress {
        if self.progress_shown() {
            Progress::bar(total, message)
        } else {
            Progress::hidden()
        }
    }

    /// One line a host, each showing its current step; nothing when hidden.
    pub fn bars(&self) -> Bars {
        Bars::shown(self.progress_shown())
    }

    fn progress_shown(&self) -> bool {
        !self.quiet && std::env::var_os("CI").is_none() && io::stderr().is_terminal()
    }

    /// The error printer: catalog problems one per line, then `error:`, `caused by:` and hints.
    pub fn error(&self, error: &anyhow::Error, explained: &Explained) {
        let text = errors::Painted {
            color: self.color,
            error,
            explained,
        }
        .render();
        eprint!("{text}");
    }
}

/// Control characters shown, not obeyed: an API's error body or a catalog value with `\x1b[2K\r`
/// or an OSC title sequence must not rewrite the terminal (or fake an "applied" line). Newlines
/// and tabs stay.
pub fn escape(text: &str) -> Cow<'_, str> {
    // Every control character but newline and tab is below 0x20, 0x7f, or (U+0080..U+009F)
    // behind a 0xc2 byte: a byte scan finds clean text (nearly all of it) without decoding.
    if !text
        .bytes()
        .any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f || b == 0xc2)
    {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// What the printer does to every text before it reaches a screen or a pipe: secrets masked
/// (before anything else, so no cut can leave part of one), then control characters escaped.
fn clean(text: &str) -> String {
    match crate::secret::redact(text) {
        Cow::Borrowed(text) => escape(text).into_owned(),
        Cow::Owned(text) => escape(&text).into_owned(),
    }
}

/// Every string of a JSON value, keys included, with the secrets masked: once serialised, a
/// secret with a quote, a backslash or a newline is escaped and no longer matches itself.
fn masked(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(crate::secret::redact(&text).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(masked).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| (crate::secret::redact(&key).into_owned(), masked(value)))
                .collect(),
        ),
        other => other,
    }
}

/// A report that is a plain value: its JSON is itself and its text is given.
pub struct Plain<T> {
    pub text: String,
    pub value: T,
    pub summary: Option<String>,
}

impl<T: serde::Serialize> Report for Plain<T> {
    fn text(&self) -> String {
        self.text.clone()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.value).unwrap_or_default()
    }
    fn summary(&self) -> Option<String> {
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(counted(1, "record"), "1 record");
        assert_eq!(counted(0, "record"), "0 records");
        assert_eq!(counted(2, "DNS record"), "2 DNS records");
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape("a\x1b[2Kb\r\n\tc\u{9b}é ©"),
            "a\\u{1b}[2Kb\\r\n\tc\\u{9b}é ©"
        );
        assert!(matches!(escape("plain\ttext\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_strings_and_keys_are_masked_before_they_are_escaped() {
        let value = "ui-\"json\\secret\n\t✓";
        let reference = crate::secret::SecretRef {
            name: "ui".into(),
            source: crate::secret::SecretSource::Command(vec![
                "printf".into(),
                "%s".into(),
                value.into(),
            ]),
            declared_at: crate::position::Position { line: 1, column: 1 },
        };
        assert_eq!(
            reference
                .resolve()
                .map(|s| s.expose().to_string())
                .ok()
                .as_deref(),
            Some(value)
        );
        let document = serde_json::json!({ "error": format!("echoed {value}"), value: [value, 7] });
        let text = serde_json::to_string(&masked(document)).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"[redacted]":["[redacted]",7],"error":"echoed [redacted]"}"#
        );
    }
}
