//! TOML text to typed entries: syntax errors, unknown keys and wrong types become diagnostics that
//! name the full key path (`services.shower.edge.deny`) and suggest the key that was meant.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::Diagnostic;

pub type Value<'t> = Spanned<DeValue<'t>>;

/// Below this many entries for each core, `Reader::read_each` reads on one thread: starting a
/// worker costs more than reading a few hundred entries.
const ENTRIES_PER_WORKER: usize = 500;

/// A dotted key path (`services.shower` + `edge`), formatted only when a message needs it.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a>(pub &'a str, pub &'a str);

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// What other entries name: a kind of named entry (`[hosts.NAME]`), or a section that is one
/// thing (`[dns]`, `[edge]`, `[auth]`, whose name is "").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Hosts,
    Secrets,
    Dns,
    DnsZones,
    Edge,
    Auth,
    Registries,
    Images,
    Services,
}

/// Parses the document; a syntax error stops here (later errors would only be its echoes).
pub fn document(text: &str) -> Result<Spanned<DeTable<'_>>, Diagnostic> {
    DeTable::parse(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim();
        if message == "duplicate key" {
            return duplicate_key(text, span);
        }
        Diagnostic::new(span, format!("invalid TOML: {message}"))
    })
}

/// A key or table written twice, named by its path, with where it was first written.
fn duplicate_key(text: &str, span: Range<usize>) -> Diagnostic {
    let found = super::duplicate::find(text, &span);
    let path = found.as_ref().map_or_else(
        || text.get(span.clone()).unwrap_or_default().to_string(),
        |found| found.path.clone(),
    );
    let first = found
        .and_then(|found| found.first)
        .map(|first| {
            let (line, column) = super::diagnostic::LineIndex::new(text).position(first.start);
            format!(", first written at line {line}, column {column}")
        })
        .unwrap_or_default();
    Diagnostic::new(span, format!("invalid TOML: duplicate key `{path}`{first}"))
        .with_hint("write each table and key once: merge the two, or remove one")
}

/// Takes the document apart entry by entry, collecting diagnostics.
///
/// Entries are moved out of the tree, not copied, so the happy path allocates little; the key
/// path of an error is looked up in a second parse of the text, made only when an error occurs.
pub struct Reader<'t> {
    text: &'t str,
    root: Spanned<DeTable<'t>>,
    pristine: Option<Spanned<DeTable<'t>>>,
    pub diagnostics: Vec<Diagnostic>,
    /// Notes on a valid catalog (a deprecated record type): `boma check` shows them, nothing
    /// fails because of them. Only the main reader's are kept (`read_each`'s workers make none).
    pub notes: Vec<Diagnostic>,
    /// Entries that are written but could not be read, each with its error already recorded.
    /// They still exist for cross-references: one mistake in a host gives one error, not one
    /// more for every service that names the host.
    unread: BTreeSet<(Section, String)>,
}

impl<'t> Reader<'t> {
    pub fn new(text: &'t str, root: Spanned<DeTable<'t>>) -> Self {
        Self {
            text,
            root,
            pristine: None,
            diagnostics: Vec::new(),
            notes: Vec::new(),
            unread: BTreeSet::new(),
        }
    }

    /// Records that `name` of `section` is written but could not be read (its error is already
    /// recorded): references to it are not reported again.
    pub fn unread(&mut self, section: Section, name: &str) {
        self.unread.insert((section, name.to_string()));
    }

    /// Whether `name` of `section` is written but could not be read.
    pub fn is_unread(&self, section: Section, name: &str) -> bool {
        self.unread.contains(&(section, name.to_string()))
    }

    /// Whether any entry of `section` could not be read: a check that needs every entry of it
    /// (which zone a name falls in, whether any service uses a host) cannot be made.
    pub fn any_unread(&self, section: Section) -> bool {
        self.unread.iter().any(|(unread, _)| *unread == section)
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(span, message));
    }

    /// A note on something valid but worth knowing, shown by `boma check`.
    pub fn note(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.notes
            .push(Diagnostic::new(span, message).with_hint(hint));
    }

    pub fn error_with_hint(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::new(span, message).with_hint(hint));
    }

    /// Deserializes one entry; on failure records a diagnostic and returns `None`.
    pub fn read<T: DeserializeOwned>(&mut self, value: Value<'t>, path: &str) -> Option<T> {
        let whole = value.span();
        match T::deserialize(value.into_deserializer()) {
            Ok(typed) => Some(typed),
            Err(error) => {
                let span = error.span().unwrap_or(whole);
                let key_path = self.path_at(&span).unwrap_or_else(|| path.to_string());
                self.diagnostics
                    .push(describe(error.message(), span, &key_path, path));
                None
            }
        }
    }

    /// Takes the named entries of a table section such as `hosts` or `services`.
    pub fn entries(&mut self, section: &str) -> Vec<(Spanned<String>, Value<'t>)> {
        let Some(value) = self.take(section) else {
            return Vec::new();
        };
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(table) => table
                .into_iter()
                .map(|(key, value)| {
                    (
                        Spanned::new(key.span(), key.into_inner().into_owned()),
                        value,
                    )
                })
                .collect(),
            _ => {
                self.error(
                    span,
                    format!("`{section}` must be a table of named entries"),
                );
                Vec::new()
            }
        }
    }

    /// Reads entries that do not depend on each other (the services of a large catalog) on
    /// every core: each worker gets a reader of its own, whose diagnostics join this one's.
    /// Results come back in the order of `items`, as if read one after another.
    pub fn read_each<I: Send, O: Send>(
        &mut self,
        items: Vec<I>,
        read: impl Fn(&mut Reader<'t>, I) -> Option<O> + Sync,
    ) -> Vec<O> {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(items.len() / ENTRIES_PER_WORKER)
            .max(1);
        if workers == 1 {
            return items
                .into_iter()
                .filter_map(|item| read(self, item))
                .collect();
        }
        let size = items.len().div_ceil(workers);
        let mut parts: Vec<Vec<I>> = Vec::with_capacity(workers);
        let mut items = items.into_iter();
        while items.len() > 0 {
            parts.push(items.by_ref().take(size).collect());
        }
        let text = self.text;
        let read = &read;
        let unread = &self.unread;
        type Done<O> = (Vec<O>, Vec<Diagnostic>, BTreeSet<(Section, String)>);
        let done: Vec<Done<O>> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    scope.spawn(move || {
                        let mut reader = Reader::new(text, Spanned::new(0..0, DeTable::new()));
                        reader.unread = unread.clone();
                        let read: Vec<O> = part
                            .into_iter()
                            .filter_map(|item| read(&mut reader, item))
                            .collect();
                        (read, reader.diagnostics, reader.unread)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut results = Vec::new();
        for (read, diagnostics, unread) in done {
            results.extend(read);
            self.diagnostics.extend(diagnostics);
            self.unread.extend(unread);
        }
        results
    }

    /// Takes a top-level value out of the document.
    pub fn take(&mut self, key: &str) -> Option<Value<'t>> {
        self.root.get_mut().remove(key)
    }

    pub fn top_level_keys(&self) -> Vec<(String, Range<usize>)> {
        self.root
            .get_ref()
            .iter()
            .map(|(key, _)| (key.get_ref().to_string(), key.span()))
            .collect()
    }

    /// The dotted key path of the key or value that starts exactly at `span`.
    fn path_at(&mut self, span: &Range<usize>) -> Option<String> {
        if self.pristine.is_none() {
            self.pristine = document(self.text).ok();
        }
        find_path(self.pristine.as_ref()?.get_ref(), span, "")
    }
}

fn find_path(table: &DeTable<'_>, span: &Range<usize>, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        if key.span() == *span || value.span() == *span {
            return Some(path);
        }
        // No pruning by span: a table opened by a `[header]` spans only its header, not its keys.
        if let Some(found) = find_in_value(value, span, &path) {
            return Some(found);
        }
    }
    None
}

fn find_in_value(value: &Value<'_>, span: &Range<usize>, path: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => find_path(table, span, path),
        DeValue::Array(array) => array.iter().enumerate().find_map(|(index, item)| {
            let item_path = format!("{path}[{index}]");
            if item.span() == *span {
                Some(item_path)
            } else {
                find_in_value(item, span, &item_path)
            }
        }),
        _ => None,
    }
}

/// Turns serde's wording into boma's: key paths, `key` instead of `field`, and a hint.
fn describe(message: &str, span: Range<usize>, key_path: &str, entry_path: &str) -> Diagnostic {
    let quoted = |text: &str| text.split('`').nth(1).map(str::to_string);
    let expected: Vec<String> = message
        .split_once("expected")
        .map(|(_, rest)| {
            rest.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let key = quoted(rest).unwrap_or_default();
        let parent = key_path
            .rsplit_once('.')
            .map_or(entry_path, |(parent, _)| parent);
        let diagnostic = Diagnostic::new(span, format!("unknown key `{key}` in `{parent}`"));
        return match suggest(&key, &expected) {
            Some(close) => diagnostic.with_hint(format!("did you mean `{close}`?")),
            None if expected.is_empty() => diagnostic.with_hint("this table takes no keys"),
            None => diagnostic.with_hint(format!("known keys: {}", expected.join(", "))),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let value = quoted(rest).unwrap_or_default();
        let diagnostic = Diagnostic::new(span, format!("`{key_path}`: unknown value `{value}`"));
        return match suggest(&value, &expected) {
            Some(close) => diagnostic.with_hint(format!("did you mean `{close}`?")),
            None => diagnostic.with_hint(format!("one of: {}", expected.join(", "))),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let key = quoted(rest).unwrap_or_default();
        return Diagnostic::new(
            span,
            format!("`{key_path}` is missing the required key `{key}`"),
        );
    }
    let message = message
        .replace("invalid type: ", "wrong type: ")
        .replace("invalid value: ", "wrong value: ");
    let message = match message.trim().rsplit_once(", expected ") {
        Some((found, expected)) if found.starts_with("wrong ") => {
            format!(
                "{}, expected {}",
                found_words(found),
                expected_words(expected)
            )
        }
        _ => message.trim().to_string(),
    };
    Diagnostic::new(span, format!("`{key_path}`: {message}"))
}

/// What serde says it found (`sequence`, `floating point `1.5``), in the catalog's words.
fn found_words(found: &str) -> String {
    let (verdict, what) = found.split_once(": ").unwrap_or(("", found));
    let what = match what {
        "sequence" => "an array".to_string(),
        "map" => "a table".to_string(),
        _ => match what.strip_prefix("floating point ") {
            Some(number) => format!("the number {number}"),
            None => what.to_string(),
        },
    };
    format!("{verdict}: {what}")
}

/// What serde says it expected (`u16`, `a sequence`, `struct Host`), in words an operator
/// reads without knowing Rust: "a whole number from 0 to 65535".
fn expected_words(expected: &str) -> String {
    let whole = |max: u64| format!("a whole number from 0 to {max}");
    match expected {
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" => "a whole number, 0 or more".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a boolean" => "true or false".to_string(),
        "a string" | "a borrowed string" => "text in quotes".to_string(),
        "a character" | "a char" => "one character in quotes".to_string(),
        "a sequence" => "an array, e.g. [\"a\", \"b\"]".to_string(),
        "a map" => "a table".to_string(),
        other if other.starts_with("struct ") => "a table".to_string(),
        other => other.to_string(),
    }
}

/// The closest known name to `given`, when it is close enough to be a typo.
pub use crate::hint::suggest;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Entry {
        host: String,
        port: Option<u16>,
    }

    fn read_entry(text: &str) -> Vec<String> {
        let root = document(text).map_err(|d| d.message);
        let Ok(root) = root else {
            return vec![format!("{root:?}")];
        };
        let mut reader = Reader::new(text, root);
        for (name, value) in reader.entries("entries") {
            let _: Option<Entry> = reader.read(value, &format!("entries.{}", name.get_ref()));
        }
        reader
            .diagnostics
            .into_iter()
            .map(|d| format!("{} | {}", d.message, d.hint.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn unknown_keys_name_the_table_and_suggest_the_key() {
        let found = read_entry("[entries.a]\nhots = 'x'\n");
        assert_eq!(
            found,
            ["unknown key `hots` in `entries.a` | did you mean `host`?"]
        );
    }

    #[test]
    fn wrong_types_name_the_full_key_path() {
        let found = read_entry("[entries.a]\nhost = 'x'\nport = 'ssh'\n");
        assert_eq!(
            found,
            [
                "`entries.a.port`: wrong type: string \"ssh\", expected a whole number from 0 to 65535 | "
            ]
        );
    }

    #[test]
    fn wrong_types_are_said_in_the_catalog_s_words() {
        let said = |text: &str| {
            describe(text, 0..0, "k", "k")
                .message
                .trim_start_matches("`k`: ")
                .to_string()
        };
        assert_eq!(
            said("invalid value: integer `70000`, expected u16"),
            "wrong value: integer `70000`, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            said("invalid type: string \"yes\", expected a boolean"),
            "wrong type: string \"yes\", expected true or false"
        );
        assert_eq!(
            said("invalid value: integer `300`, expected u8"),
            "wrong value: integer `300`, expected a whole number from 0 to 255"
        );
        assert_eq!(
            said("invalid type: integer `5`, expected u32"),
            "wrong type: integer `5`, expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            said("invalid type: sequence, expected a string"),
            "wrong type: an array, expected text in quotes"
        );
        assert_eq!(
            said("invalid type: string \"x\", expected a sequence"),
            "wrong type: string \"x\", expected an array, e.g. [\"a\", \"b\"]"
        );
        assert_eq!(
            said("invalid type: floating point `1.5`, expected struct Ssh"),
            "wrong type: the number `1.5`, expected a table"
        );
        // A message of boma's own, which happens to hold the word, is left as it is.
        assert_eq!(
            said("`26 hours` is not a duration, expected e.g. 26h"),
            "`26 hours` is not a duration, expected e.g. 26h"
        );
    }

    #[test]
    fn each_entry_is_checked_on_its_own() {
        let found = read_entry("[entries.a]\nport = 1\n[entries.b]\nhost = 2\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("missing the required key `host`"));
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(
            suggest("servces", &["services", "secrets"]),
            Some("services".to_string())
        );
        assert_eq!(suggest("zzz", &["services", "secrets"]), None);
    }
}
