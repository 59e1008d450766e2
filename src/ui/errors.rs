//! The one error printer: catalog problems one a line, then `error:`, a `caused by:` line for each
//! cause in the chain, and every hint an error in the chain carries.

use super::clean;

/// What the dispatcher found in an error chain for the printer (`crate::errors::explain`): the
/// catalog's problems, each at its place, and every hint.
#[derive(Debug, Default)]
pub struct Explained {
    pub problems: Vec<Problem>,
    pub hints: Vec<String>,
}

/// A catalog mistake: `file:line:column`, the message and its hint.
#[derive(Debug)]
pub struct Problem {
    pub place: String,
    pub message: String,
    pub hint: Option<String>,
}

pub struct Painted<'a> {
    pub color: bool,
    pub error: &'a anyhow::Error,
    pub explained: &'a Explained,
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
        for problem in &self.explained.problems {
            {
                let place = clean(&problem.place);
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
        for hint in &self.explained.hints {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_then_every_hint_with_continuation_lines_indented() {
        let error = anyhow::anyhow!("ssh said:\nline two")
            .context("cannot plan caddy")
            .context("caddy-push failed");
        let explained = Explained {
            problems: Vec::new(),
            hints: vec!["first".to_string(), "second".to_string()],
        };
        let text = Painted {
            color: false,
            error: &error,
            explained: &explained,
        }
        .render();
        assert_eq!(
            text,
            "error: caddy-push failed\n  caused by: cannot plan caddy\n  caused by: ssh said:\n    line two\n  hint: first\n  hint: second\n"
        );
    }
}
