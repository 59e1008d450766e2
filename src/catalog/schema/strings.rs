//! The strings the catalog gives a form, as the JSON Schema says them: names, URLs, paths, sizes,
//! and the scalar values of `values.rs` (durations, rates, record types). A pattern checks the
//! form an editor can see; what it means (a duration of at least a second, a port in a URL that
//! fits) stays `boma check`'s to judge.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::catalog::values::{Duration, Rate, RecordType};

/// Declares a type that exists only in the schema: a string of a named form, kept once in `$defs`.
macro_rules! string_form {
    ($(#[doc = $doc:literal])+ $name:ident, $pattern:literal) => {
        $(#[doc = $doc])+
        pub enum $name {}

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "description": concat!($($doc),+).trim(),
                    "type": "string",
                    "pattern": $pattern,
                })
            }
        }
    };
}

string_form! {
    /// An entry's name (`[hosts.NAME]`, `[services.NAME]`, a `[secrets]` entry): letters, digits,
    /// `-` and `_`, starting with a letter or digit, at most 63.
    Name, r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
}

string_form! {
    /// A DNS name (`app.example.org`): dot-separated labels of letters, digits, `-` and `_`, at
    /// most 63 each, not starting or ending with `-`; a final `.` is allowed.
    DomainName,
    r"^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$"
}

string_form! {
    /// An environment variable's name (`GANDI_PAT`).
    EnvName, r"^[A-Za-z_][A-Za-z0-9_]*$"
}

string_form! {
    /// One word: not empty, no spaces.
    Word, r"^\S+$"
}

string_form! {
    /// An `http://` or `https://` URL without spaces, quotes, braces, `;` or backslashes.
    Url, r#"^https?://[^\s"'{};\\]+$"#
}

string_form! {
    /// `http://HOST[:PORT]` or `https://HOST[:PORT]`, without a path.
    Upstream, r#"^https?://[^/?#\s"'{};\\]+/?$"#
}

string_form! {
    /// A URL path prefix (`/admin/`): starts with `/`, no spaces, quotes, braces, `;` or
    /// backslashes.
    UrlPath, r#"^/[^\s"'{};\\]*$"#
}

string_form! {
    /// A size in nginx's syntax: a number with `k`, `m` or `g` (`512m`, `2g`).
    Size, r"^[0-9]{1,9}[kKmMgG]?$"
}

string_form! {
    /// An HTTP header's name: letters, digits and `-`.
    HeaderName, r"^[A-Za-z0-9-]+$"
}

string_form! {
    /// An absolute path on the host.
    AbsolutePath, r"^/"
}

/// humantime's units, longest first where one is the start of another.
const DURATION: &str = concat!(
    r"^([0-9]+(\.[0-9]+)? *(nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|",
    r"minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|",
    r"months|month|M|years|year|yrs|yr|y) *)+$"
);

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration of at least a second: numbers with units (`90s`, `10m`, `26h`, `7d`, `1h 30m`), one line, spaces only between parts.",
            "type": "string",
            "pattern": DURATION,
        })
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A request rate in nginx's syntax, at least one request per second (`3r/s`) or minute (`30r/m`).",
            "type": "string",
            "pattern": r"^\+?0*[1-9][0-9]*r/[sm]$",
        })
    }
}

impl JsonSchema for RecordType {
    fn schema_name() -> Cow<'static, str> {
        "RecordType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // boma reads a type in any case; upper and lower case are what an editor offers.
        let upper = RecordType::ALL.map(RecordType::as_str);
        let lower = upper.map(str::to_ascii_lowercase);
        json_schema!({
            "description": "A DNS record type boma manages, in upper or lower case.",
            "type": "string",
            "enum": upper.iter().map(|name| name.to_string()).chain(lower).collect::<Vec<_>>(),
        })
    }
}
