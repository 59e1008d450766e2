//! Catalog diagnostics: a message anchored to a byte span of the catalog, shown as `file:line:col`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem found in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A diagnostic with its position resolved against the catalog text.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every problem found in one catalog; it is the error `catalog::load` returns.
#[derive(Debug, thiserror::Error)]
#[error("`{file}` has {}", crate::ui::counted(.problems.len(), "error"))]
pub struct CatalogErrors {
    pub file: String,
    pub problems: Vec<Located>,
}

impl CatalogErrors {
    pub fn locate(path: &Path, text: &str, mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|diagnostic| (diagnostic.span.start, diagnostic.span.end));
        diagnostics.dedup();
        let lines = LineIndex::new(text);
        let file = display_name(path);
        let problems = diagnostics
            .into_iter()
            .map(|diagnostic| {
                let (line, column) = lines.position(diagnostic.span.start);
                Located {
                    file: file.clone(),
                    line,
                    column,
                    message: diagnostic.message,
                    hint: diagnostic.hint,
                }
            })
            .collect();
        Self { file, problems }
    }

    /// A problem with the file as a whole (unreadable, not UTF-8, too large), placed at a position.
    pub fn whole_file(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        let file = display_name(path);
        let problem = Located {
            file: file.clone(),
            line,
            column,
            message: message.into(),
            hint: None,
        };
        Self {
            file,
            problems: vec![problem],
        }
    }
}

/// A path as messages show it: without a leading `./`, and never empty (`.` stays `.`).
pub fn display_name(path: &Path) -> String {
    let shown: PathBuf = path
        .strip_prefix("./")
        .map(Path::to_path_buf)
        .ok()
        .filter(|shown| !shown.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf());
    shown.display().to_string()
}

/// Byte offsets of line starts, for turning spans into 1-based line and column (in characters).
pub struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        // Counted first: a catalog of 5,000 services has 40,000 lines, and growing the list
        // step by step cost more than the scan.
        let mut starts = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
        starts.push(0);
        starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        Self { text, starts }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let text = self.text;
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count())
            + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        let lines = LineIndex::new(text);
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(6), (2, 1));
        assert_eq!(lines.position(10), (2, 4));
        assert_eq!(lines.position(text.len()), (3, 1));
    }

    #[test]
    fn shown_paths_are_never_empty() {
        assert_eq!(display_name(Path::new("./services.toml")), "services.toml");
        assert_eq!(display_name(Path::new(".")), ".");
        assert_eq!(display_name(Path::new("./")), "./");
        assert_eq!(
            display_name(Path::new("lab/services.toml")),
            "lab/services.toml"
        );
    }

    #[test]
    fn errors_are_sorted_by_position() {
        let text = "x\ny\n";
        let errors = CatalogErrors::locate(
            Path::new("./services.toml"),
            text,
            vec![
                Diagnostic::new(2..3, "second"),
                Diagnostic::new(0..1, "first"),
            ],
        );
        let shown: Vec<String> = errors.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["services.toml:1:1: first", "services.toml:2:1: second"]
        );
        assert_eq!(errors.to_string(), "`services.toml` has 2 errors");
    }
}
