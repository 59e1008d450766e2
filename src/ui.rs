//! The one place that prints: data on stdout, progress, logs and errors on stderr.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::catalog::{CatalogErrors, LoadError};
use crate::cli::{Color, Global, Output};

pub struct Ui {
    pub output: Output,
    quiet: bool,
    verbose: u8,
    color: bool,
}

const RED: &str = "\x1b[1;31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
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

    pub fn json_output(&self) -> bool {
        self.output == Output::Json
    }

    /// Data for stdout. A closed pipe (`boma render | head`) is not an error.
    pub fn data(&self, text: &str) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    pub fn json(&self, value: &impl Serialize) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        self.data(&text)
    }

    /// A progress or summary line on stderr, unless `--quiet`.
    pub fn status(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// Detail for `-v`.
    pub fn debug(&self, message: &str) {
        if self.verbose > 0 {
            eprintln!("{}", self.paint(CYAN, &format!("debug: {message}")));
        }
    }

    /// A logger for `-v` detail that a long-lived component (an HTTP client) can keep.
    pub fn logger(&self) -> Box<dyn Fn(&str)> {
        let (verbose, color) = (self.verbose > 0, self.color);
        Box::new(move |message| {
            if verbose {
                let line = format!("debug: {message}");
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
        self.progress(|| {
            let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        })
    }

    /// A bar of `total` steps on a terminal; nothing otherwise.
    pub fn bar(&self, total: usize, message: &str) -> Progress {
        self.progress(|| {
            let style = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            indicatif::ProgressBar::new(total as u64)
                .with_style(style)
                .with_message(message.to_string())
        })
    }

    /// One line a host (`--parallel` runs), each showing its current step; nothing when hidden.
    pub fn bars(&self) -> Bars {
        Bars(self.progress_shown().then(indicatif::MultiProgress::new))
    }

    fn progress(&self, make: impl FnOnce() -> indicatif::ProgressBar) -> Progress {
        Progress(self.progress_shown().then(make))
    }

    fn progress_shown(&self) -> bool {
        !self.quiet && std::env::var_os("CI").is_none() && io::stderr().is_terminal()
    }

    /// The error printer: catalog problems one per line, then `error:`, `caused by:` and `hint:`.
    pub fn error(&self, error: &anyhow::Error) {
        let mut text = String::new();
        if let Some(errors) = catalog_errors(error) {
            for problem in &errors.problems {
                text.push_str(&format!(
                    "{}: {}\n",
                    self.paint(
                        BOLD,
                        &format!("{}:{}:{}", problem.file, problem.line, problem.column)
                    ),
                    problem.message
                ));
                if let Some(hint) = &problem.hint {
                    text.push_str(&format!("  {} {hint}\n", self.paint(CYAN, "hint:")));
                }
            }
        }
        text.push_str(&format!("{} {error}\n", self.paint(RED, "error:")));
        for cause in error.chain().skip(1) {
            text.push_str(&format!("  caused by: {cause}\n"));
        }
        if let Some(hinted) = error
            .chain()
            .find_map(|cause| cause.downcast_ref::<Hinted>())
        {
            text.push_str(&format!(
                "  {} {}\n",
                self.paint(CYAN, "hint:"),
                hinted.hint
            ));
        }
        eprint!("{text}");
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// A progress indicator that is a no-op when hidden and clears itself when dropped.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub fn set(&self, done: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(done as u64);
        }
    }

    pub fn message(&self, text: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(text.to_string());
        }
    }

    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// Spinners that share the terminal, one a host.
pub struct Bars(Option<indicatif::MultiProgress>);

impl Bars {
    pub fn add(&self, name: &str) -> Progress {
        Progress(self.0.as_ref().map(|bars| {
            let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<16} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            let bar = bars.add(indicatif::ProgressBar::new_spinner().with_style(style));
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        }))
    }
}

/// An error that tells the operator what to do about it; the printer shows the hint last.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

fn catalog_errors(error: &anyhow::Error) -> Option<&CatalogErrors> {
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<CatalogErrors>()
            .or_else(|| match cause.downcast_ref::<LoadError>() {
                Some(LoadError::Invalid(errors)) => Some(errors),
                _ => None,
            })
    })
}

/// A plain text table: a header row, then rows, columns padded to the widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(&mut headers.iter().copied());
    for row in rows {
        text.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns() {
        let rows = vec![
            vec!["shower".to_string(), "indri".to_string()],
            vec!["a".to_string(), "-".to_string()],
        ];
        assert_eq!(
            table(&["SERVICE", "HOST"], &rows),
            "SERVICE  HOST\nshower   indri\na        -\n"
        );
    }
}
