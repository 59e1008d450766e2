//! The pieces of presentation form every type shares: fields split on unquoted whitespace,
//! character-strings with their quotes and escapes (RFC 1035 §5.1), hex, and domain names.

/// `text` split into fields on whitespace outside quotes; a field keeps its quotes and escapes as
/// written (`"SIP+D2U"`, `alpn="h3,h2"`).
pub fn fields(text: &str) -> Result<Vec<&str>, String> {
    let mut fields = Vec::new();
    let mut start = None;
    let (mut quoted, mut escaped) = (false, false);
    for (index, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if let Some(begin) = start.take() {
                    fields.push(&text[begin..index]);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(index);
    }
    if quoted {
        return Err("a quote is not closed".to_string());
    }
    if escaped {
        return Err("it ends in a lone backslash".to_string());
    }
    if let Some(begin) = start {
        fields.push(&text[begin..]);
    }
    Ok(fields)
}

/// A character-string as written (quoted or not) to its bytes: `\DDD` is the byte DDD, `\X` is X.
/// At most 255 bytes, as the wire holds.
pub fn character_string(field: &str) -> Result<Vec<u8>, String> {
    let bytes = unquoted(field)?;
    if bytes.len() > 255 {
        return Err(format!(
            "`{field}` is {} bytes; a character-string holds at most 255",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// A value as written (quoted or not) to its bytes, escapes resolved, of any length.
pub fn unquoted(field: &str) -> Result<Vec<u8>, String> {
    let inner = match field.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .filter(|inner| !ends_escaped(inner))
            .ok_or_else(|| format!("`{field}` is not one quoted string"))?,
        None => field,
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(digit) if digit.is_ascii_digit() => {
                    let digits: String = std::iter::once(digit)
                        .chain(chars.by_ref().take(2))
                        .collect();
                    let byte = (digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| digits.parse::<u8>().ok())
                        .flatten()
                        .ok_or_else(|| {
                            format!(
                                "`\\{digits}` in `{field}` is not a byte: write `\\DDD`, 000 to 255"
                            )
                        })?;
                    bytes.push(byte);
                }
                Some(other) => bytes.extend(other.to_string().as_bytes()),
                None => return Err(format!("`{field}` ends in a lone backslash")),
            },
            '"' => return Err(format!("`{field}` has a quote inside: write it `\\\"`")),
            other => bytes.extend(other.to_string().as_bytes()),
        }
    }
    Ok(bytes)
}

/// Whether `text` ends in an odd run of backslashes (its last character is escaped).
fn ends_escaped(text: &str) -> bool {
    text.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// `bytes` as a quoted character-string, the way PowerDNS and BIND print one: `"` and `\`
/// escaped, bytes outside printable ASCII as `\DDD`.
pub fn quoted(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + 2);
    text.push('"');
    for &byte in bytes {
        match byte {
            b'"' | b'\\' => {
                text.push('\\');
                text.push(byte as char);
            }
            0x20..=0x7e => text.push(byte as char),
            _ => text.push_str(&format!("\\{byte:03}")),
        }
    }
    text.push('"');
    text
}

/// A number field of at most `max`, named `what` in the error.
pub fn number(field: &str, what: &str, max: u64) -> Result<u64, String> {
    field
        .parse::<u64>()
        .ok()
        .filter(|&value| value <= max && field.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("the {what} `{field}` is not a whole number from 0 to {max}"))
}

/// Hex digits, lowercase; `what` names the field in the error.
pub fn hex(field: &str, what: &str) -> Result<String, String> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the {what} `{field}` is not hexadecimal"));
    }
    if field.len() % 2 == 1 {
        return Err(format!(
            "the {what} has an odd number of hex digits ({}): each byte is two",
            field.len()
        ));
    }
    Ok(field.to_ascii_lowercase())
}

/// A host name: dot-separated labels of letters, digits, `-` and `_` (for `_dmarc` and friends).
pub fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A domain name field, absolute and lowercase (`host.example.org.`); `.` (the root) only where
/// `root` allows it.
pub fn name(field: &str, what: &str, root: bool) -> Result<String, String> {
    if field == "." {
        return if root {
            Ok(".".to_string())
        } else {
            Err(format!("the {what} cannot be the root `.`"))
        };
    }
    let bare = field.strip_suffix('.').unwrap_or(field);
    if !is_hostname(bare) {
        return Err(format!("the {what} `{field}` is not a host name"));
    }
    Ok(format!("{}.", bare.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_quoted_spaces_together() {
        assert_eq!(
            fields(r#"10 100 "S" "SIP+D2U" "a \" b" ."#),
            Ok(vec![
                "10",
                "100",
                "\"S\"",
                "\"SIP+D2U\"",
                r#""a \" b""#,
                "."
            ])
        );
        assert_eq!(
            fields(r#"1 . key7="x y"  port=8"#),
            Ok(vec!["1", ".", "key7=\"x y\"", "port=8"])
        );
        assert!(fields("\"open").is_err());
        assert!(fields("end\\").is_err());
    }

    #[test]
    fn character_strings_round_trip_through_quoting() -> Result<(), String> {
        assert_eq!(character_string(r#""a\"b\\c\033""#)?, b"a\"b\\c!");
        assert_eq!(quoted(b"a\"b\\c\x07"), r#""a\"b\\c\007""#);
        assert_eq!(character_string(&quoted("é".as_bytes()))?, "é".as_bytes());
        assert_eq!(character_string("bare")?, b"bare");
        assert!(character_string(r#""x\""#).is_err());
        assert!(character_string(r"\300").is_err());
        assert!(character_string(&"x".repeat(256)).is_err());
        Ok(())
    }

    #[test]
    fn names_are_absolute_and_lowercase() {
        assert_eq!(
            name("Host.Example.org", "target", false),
            Ok("host.example.org.".into())
        );
        assert_eq!(name(".", "target", true), Ok(".".into()));
        assert!(name(".", "target", false).is_err());
        assert!(name("a..b", "target", false).is_err());
    }
}
