//! The one error printer: catalog problems one a line, then `error:`, a `caused by:` line for each
//! cause in the chain, and every hint an error in the chain carries.

use super::clean;
use crate::catalog::{CatalogErrors, LoadError};

pub struct Painted<'a> {
    pub color: bool,
    pub error: &'a anyhow::Error,
    /// Every hint the chain carries (`crate::errors::hints`).
    pub hints: &'a [String],
}

const RED: &str = "\x1b[1;31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Painted<'_> {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// The text the printer writes to stderr.
    pub fn render(&self) -> String {
        let error = self.error;
        let mut text = String::new();
        if let Some(errors) = catalog_errors(error) {
            for problem in &errors.problems {
                let place = clean(&format!(
                    "{}:{}:{}",
                    problem.file, problem.line, problem.column
                ));
                let message = clean(&problem.message);
                text.push_str(&format!("{}: {message}\n", self.paint(BOLD, &place)));
                if let Some(hint) = &problem.hint {
                    let hint = clean(hint);
                    text.push_str(&format!("  {} {hint}\n", self.paint(CYAN, "hint:")));
                }
            }
        }
        text.push_str(&format!(
            "{} {}\n",
            self.paint(RED, "error:"),
            indented(&error.to_string())
        ));
        for cause in error.chain().skip(1) {
            text.push_str(&format!("  caused by: {}\n", indented(&cause.to_string())));
        }
        for hint in self.hints {
            text.push_str(&format!(
                "  {} {}\n",
                self.paint(CYAN, "hint:"),
                indented(hint)
            ));
        }
        text
    }
}

/// Continuation lines of a multi-line message line up under its first line; secrets and control
/// characters are cleaned first (colors are added after, so they survive).
fn indented(message: &str) -> String {
    clean(message).trim_end().replace('\n', "\n    ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_then_every_hint_with_continuation_lines_indented() {
        let error = anyhow::anyhow!("ssh said:\nline two")
            .context("cannot plan caddy")
            .context("caddy-push failed");
        let hints = ["first".to_string(), "second".to_string()];
        let text = Painted {
            color: false,
            error: &error,
            hints: &hints,
        }
        .render();
        assert_eq!(
            text,
            "error: caddy-push failed\n  caused by: cannot plan caddy\n  caused by: ssh said:\n    line two\n  hint: first\n  hint: second\n"
        );
    }
}
