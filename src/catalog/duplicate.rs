//! A key or table written twice: toml says only "duplicate key" at the second one, so its key
//! path is worked out from the text, and its first definition looked up in the text before it.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::parse::Value;

/// The key path of a duplicated key and, when it can be found, the span of its first definition.
#[derive(Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub path: String,
    pub first: Option<Range<usize>>,
}

/// What is duplicated at `at` (the span toml gives: the second definition's key).
pub fn find(text: &str, at: &Range<usize>) -> Option<Duplicate> {
    let line_start = text
        .get(..at.start)?
        .rfind('\n')
        .map_or(0, |index| index + 1);
    let line = text.get(line_start..at.end)?;
    let indent = line.len() - line.trim_start().len();
    // Everything before the second definition's line is whole TOML (a key is never written
    // inside a string), and holds the first definition as toml read it.
    let (before, _) = DeTable::parse_recoverable(&text[..line_start]);
    let before = before.into_inner();
    let (mut path, keys) = if let Some(header) = line.trim_start().strip_prefix('[') {
        // `[a.b]` or `[[a.b]]`: the path is the header's, up to the key at `at`.
        let keys = header.strip_prefix('[').unwrap_or(header);
        (Vec::new(), keys)
    } else {
        // `key = ...` or `a.b = ...` in the table of the last header before it. An inline table
        // (`x = { a = 1, a = 2 }`) names only the key.
        if line.contains(['=', '{']) {
            return None;
        }
        (current_table(&before, text), &line[indent..])
    };
    path.extend(key_names(keys)?);
    let first = lookup(&before, &path);
    Some(Duplicate {
        path: path.join("."),
        first,
    })
}

/// The dotted key `keys` (`a."b c".d`) as its names.
fn key_names(keys: &str) -> Option<Vec<String>> {
    let document = format!("{keys} = 0");
    let parsed = DeTable::parse(&document).ok()?.into_inner();
    let mut names = Vec::new();
    let mut table = &parsed;
    loop {
        let (key, value) = table.iter().next()?;
        names.push(key.get_ref().to_string());
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return Some(names),
        }
    }
}

/// The path of the table the last `[header]` of `table` opened (none: the root).
fn current_table(table: &DeTable<'_>, text: &str) -> Vec<String> {
    let mut best: Option<(usize, Vec<String>)> = None;
    headers(table, text, &mut Vec::new(), &mut best);
    best.map(|(_, path)| path).unwrap_or_default()
}

/// Each table opened by a header (its span starts with `[`; an implicit table's is its key's, an
/// inline table's its `{`), keeping the one that starts last.
fn headers(
    table: &DeTable<'_>,
    text: &str,
    path: &mut Vec<String>,
    best: &mut Option<(usize, Vec<String>)>,
) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        let tables: Vec<&Value<'_>> = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        for item in tables {
            if let DeValue::Table(inner) = item.get_ref() {
                let start = item.span().start;
                if text.get(start..).is_some_and(|rest| rest.starts_with('['))
                    && best.as_ref().is_none_or(|(last, _)| start > *last)
                {
                    *best = Some((start, path.clone()));
                }
                headers(inner, text, path, best);
            }
        }
        path.pop();
    }
}

/// The span of the key at `path` (the last table of an array of tables, as toml extends it).
fn lookup(table: &DeTable<'_>, path: &[String]) -> Option<Range<usize>> {
    let (name, rest) = path.split_first()?;
    let (key, value) = table.get_key_value(name.as_str())?;
    if rest.is_empty() {
        return Some(key.span());
    }
    let value = match value.get_ref() {
        DeValue::Array(items) => items.last()?,
        _ => value,
    };
    match value.get_ref() {
        DeValue::Table(inner) => lookup(inner, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The duplicate toml reports in `text`, found as boma finds it, with its first definition
    /// as the text there.
    fn duplicate(text: &str) -> Option<(String, Option<String>)> {
        let error = DeTable::parse(text).err()?;
        assert!(error.message().starts_with("duplicate key"), "{error}");
        let found = find(text, &error.span()?)?;
        let first = found.first.map(|span| {
            let line = text[..span.start].matches('\n').count() + 1;
            format!("{line}:{}", &text[span])
        });
        Some((found.path, first))
    }

    #[test]
    fn a_table_written_twice_names_its_path_and_first_header() {
        assert_eq!(
            duplicate("version = 1\n[hosts.a]\naddress = \"x\"\n[hosts.a]\naddress = \"y\"\n"),
            Some(("hosts.a".into(), Some("2:a".into())))
        );
    }

    #[test]
    fn a_key_written_twice_names_its_table() {
        assert_eq!(
            duplicate("[hosts.a]\naddress = \"x\"\n  address = \"y\"\n"),
            Some(("hosts.a.address".into(), Some("2:address".into())))
        );
        assert_eq!(
            duplicate("top = 1\ntop = 2\n[x]\n"),
            Some(("top".into(), Some("1:top".into())))
        );
    }

    #[test]
    fn dotted_keys_quoted_names_and_arrays_of_tables() {
        assert_eq!(
            duplicate("[hosts.a.ssh]\nuser = \"x\"\n[hosts.a]\nssh.user = \"y\"\n"),
            Some(("hosts.a.ssh".into(), Some("1:ssh".into())))
        );
        assert_eq!(
            duplicate("[hosts.\"web box\"]\nip = \"1\"\nip = \"2\"\n"),
            Some(("hosts.web box.ip".into(), Some("2:ip".into())))
        );
        assert_eq!(
            duplicate(
                "[[dns.records]]\nname = \"a\"\n[[dns.records]]\nname = \"b\"\nname = \"c\"\n"
            ),
            Some(("dns.records.name".into(), Some("4:name".into())))
        );
    }

    #[test]
    fn a_key_inside_an_inline_table_is_not_guessed() {
        assert_eq!(duplicate("x = { a = 1, a = 2 }\n"), None);
    }
}
