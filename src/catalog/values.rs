//! Scalar values checked while the catalog is parsed: durations, rates, record types, names, URLs.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::schema::DnsProvider;

/// A duration such as `26h` or `10m`, kept with the text the operator wrote.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Duration {
    pub text: String,
    pub seconds: u64,
}

impl TryFrom<String> for Duration {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        // The text goes into rendered files as written (a jail's comment line): humantime skips
        // any whitespace between parts, so `1h\n5m` would parse and then break the jail file.
        // Plain spaces between parts (`1h 30m`) are all the whitespace a duration holds.
        let stray = |c: char| c.is_control() || (c.is_whitespace() && c != ' ');
        if text.contains(stray) || text.starts_with(' ') || text.ends_with(' ') {
            return Err(format!(
                "duration `{}` must be one line without tabs or surrounding spaces, e.g. `10m` or `1h 30m`",
                shown(&text)
            ));
        }
        let parsed = humantime::parse_duration(&text).map_err(|error| {
            format!("`{text}` is not a duration ({error}); write e.g. `90s`, `10m`, `26h` or `7d`")
        })?;
        if parsed.as_secs() == 0 {
            return Err(format!("duration `{text}` must be at least one second"));
        }
        Ok(Self {
            seconds: parsed.as_secs(),
            text,
        })
    }
}

/// A value as an error message shows it: control characters escaped, so the message stays on the
/// line of its `file:line:col`.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || (c.is_whitespace() && c != ' ') {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A request rate in nginx's syntax: `3r/s` or `30r/m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Rate {
    pub requests: u32,
    pub per_minute: bool,
}

impl TryFrom<String> for Rate {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let invalid = || {
            format!(
                "`{}` is not a rate; write requests per second or minute, e.g. `3r/s` or `30r/m`",
                shown(&text)
            )
        };
        let (count, unit) = text.split_once("r/").ok_or_else(invalid)?;
        let requests: u32 = count.parse().map_err(|_| invalid())?;
        let per_minute = match unit {
            "s" => false,
            "m" => true,
            _ => return Err(invalid()),
        };
        if requests == 0 {
            return Err(format!("rate `{text}` must allow at least one request"));
        }
        Ok(Self {
            requests,
            per_minute,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}r/{}",
            self.requests,
            if self.per_minute { "m" } else { "s" }
        )
    }
}

/// The DNS record types boma manages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "&'static str")]
pub enum RecordType {
    A,
    Aaaa,
    Caa,
    Cname,
    Dname,
    Https,
    Loc,
    Mx,
    Naptr,
    Ns,
    Ptr,
    /// Deprecated (RFC 7208 §3.1: SPF policies are TXT records); accepted because real zones
    /// still hold it, and `boma check` notes it.
    Spf,
    Srv,
    Sshfp,
    Svcb,
    Tlsa,
    Txt,
}

impl RecordType {
    pub const ALL: [RecordType; 17] = [
        Self::A,
        Self::Aaaa,
        Self::Caa,
        Self::Cname,
        Self::Dname,
        Self::Https,
        Self::Loc,
        Self::Mx,
        Self::Naptr,
        Self::Ns,
        Self::Ptr,
        Self::Spf,
        Self::Srv,
        Self::Sshfp,
        Self::Svcb,
        Self::Tlsa,
        Self::Txt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Caa => "CAA",
            Self::Cname => "CNAME",
            Self::Dname => "DNAME",
            Self::Https => "HTTPS",
            Self::Loc => "LOC",
            Self::Mx => "MX",
            Self::Naptr => "NAPTR",
            Self::Ns => "NS",
            Self::Ptr => "PTR",
            Self::Spf => "SPF",
            Self::Srv => "SRV",
            Self::Sshfp => "SSHFP",
            Self::Svcb => "SVCB",
            Self::Tlsa => "TLSA",
            Self::Txt => "TXT",
        }
    }

    /// Whether `provider` takes records of this type (see the README's table of types and
    /// providers, with where each vendor says so): Cloudflare's API has no SPF and no DNAME.
    pub fn taken_by(self, provider: DnsProvider) -> bool {
        match provider {
            DnsProvider::Zonefile | DnsProvider::Powerdns | DnsProvider::Gandi => true,
            DnsProvider::Cloudflare => !matches!(self, Self::Spf | Self::Dname),
        }
    }

    /// Checks one value of this type; the error says what was expected.
    pub fn check_value(self, value: &str) -> Result<(), String> {
        if value.chars().any(char::is_control) {
            return Err(format!(
                "`{}` is not a valid {} value: it holds a control character (a newline would start another record)",
                value.escape_default(),
                self.as_str()
            ));
        }
        if let Some(checked) =
            crate::rdata::canonical(self.as_str(), value, crate::rdata::Reading::Strict)
        {
            return checked.map(drop).map_err(|why| {
                format!(
                    "`{value}` is not a valid {} value: {why}; expected {}",
                    self.as_str(),
                    crate::rdata::expected(self.as_str())
                )
            });
        }
        let fields: Vec<&str> = value.split_whitespace().collect();
        let ok = match self {
            Self::A => value.parse::<std::net::Ipv4Addr>().is_ok(),
            Self::Aaaa => value.parse::<std::net::Ipv6Addr>().is_ok(),
            Self::Cname | Self::Ns => is_hostname(value.trim_end_matches('.')),
            Self::Mx => matches!(fields.as_slice(), [preference, exchange]
                if preference.parse::<u16>().is_ok() && is_hostname(exchange.trim_end_matches('.'))),
            Self::Srv => matches!(fields.as_slice(), [priority, weight, port, target]
                if [priority, weight, port].iter().all(|n| n.parse::<u16>().is_ok())
                    && (*target == "." || is_hostname(target.trim_end_matches('.')))),
            Self::Caa => is_caa(value),
            Self::Txt | Self::Spf => !value.is_empty() && !value.contains(['\n', '\r']),
            // Read by `rdata` above.
            Self::Dname
            | Self::Https
            | Self::Loc
            | Self::Naptr
            | Self::Ptr
            | Self::Sshfp
            | Self::Svcb
            | Self::Tlsa => true,
        };
        if ok {
            return Ok(());
        }
        let expected = match self {
            Self::A => "an IPv4 address",
            Self::Aaaa => "an IPv6 address",
            Self::Cname | Self::Ns => "a host name",
            Self::Mx => "`PREFERENCE HOST`, e.g. `10 mx1.example.net.`",
            Self::Srv => "`PRIORITY WEIGHT PORT TARGET`, e.g. `10 5 5060 sip.example.org.`",
            Self::Caa => {
                "`FLAGS TAG \"VALUE\"`: flags 0-255, a tag of letters and digits, a quoted value, e.g. `0 issue \"letsencrypt.org\"`"
            }
            _ => "non-empty text on one line",
        };
        Err(format!(
            "`{value}` is not a valid {} value: expected {expected}",
            self.as_str()
        ))
    }
}

impl From<RecordType> for &'static str {
    fn from(record_type: RecordType) -> Self {
        record_type.as_str()
    }
}

impl FromStr for RecordType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "unknown record type `{text}`; boma manages {}",
                    known.join(", ")
                )
            })
    }
}

impl TryFrom<String> for RecordType {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CAA value: `FLAGS TAG "VALUE"` (RFC 8659): flags 0-255, a tag of 1-15 letters and digits,
/// and one quoted string without an unescaped quote inside.
fn is_caa(value: &str) -> bool {
    let mut parts = value.trim().splitn(3, ' ');
    let (Some(flags), Some(tag), Some(quoted)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let inner = quoted
        .trim()
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'));
    flags.parse::<u8>().is_ok()
        && (1..=15).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric())
        && inner.is_some_and(|inner| {
            let mut escaped = false;
            inner.chars().all(|c| {
                let fine = escaped || c != '"';
                escaped = !escaped && c == '\\';
                fine
            })
        })
}

/// Why `name` is not a host name, in the words DNS uses; `None` when it is one.
pub fn hostname_problem(name: &str) -> Option<String> {
    if is_hostname(name) {
        return None;
    }
    if name.len() > 253 {
        return Some(format!(
            "it is {} bytes; a DNS name is at most 253",
            name.len()
        ));
    }
    if let Some(label) = name.split('.').find(|label| label.len() > 63) {
        return Some(format!(
            "its label `{}…` is {} bytes; a DNS label is at most 63",
            label.chars().take(16).collect::<String>(),
            label.len()
        ));
    }
    if name.split('.').any(str::is_empty) {
        return Some("it has an empty label".to_string());
    }
    Some("labels are letters, digits, `-` and `_`, not starting or ending with `-`".to_string())
}

pub use crate::rdata::is_hostname;

/// A catalog key used as a name in generated files and commands (`indri`, `shower`, `gandi`).
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An environment variable name, as a shell accepts it.
pub fn is_env_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An `http://` or `https://` URL with a host, usable as a proxy upstream (no path, query or spaces).
pub fn check_upstream(text: &str) -> Result<(), String> {
    let rest = check_url(text)?;
    if !rest.is_empty() && rest != "/" {
        return Err(format!(
            "upstream `{text}` must be scheme, host and port only, without a path"
        ));
    }
    Ok(())
}

/// The host of an upstream URL the catalog accepted (`http(s)://HOST[:PORT]`), without the
/// brackets of an IPv6 address.
pub fn url_host(url: &str) -> &str {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or(authority);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    }
}

/// An `http://` or `https://` URL with a host name or IP address and an optional port; returns
/// what follows the authority (path and query). Stricter than RFC 3986 on purpose: the URL is
/// written into Caddyfiles and nginx configs, so spaces, quotes, braces and `;` are refused.
pub fn check_url(text: &str) -> Result<&str, String> {
    let Some((scheme, after_scheme)) = text.split_once("://") else {
        return Err(format!(
            "`{text}` is not a URL: expected http://HOST[:PORT]"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("`{text}` must be an http:// or https:// URL"));
    }
    if text.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | '"' | '\'' | ';' | '\\')
    }) {
        return Err(format!(
            "`{text}` contains a space, quote, brace, `;` or backslash"
        ));
    }
    let split = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(split);
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, after) = bracketed.split_once(']').unwrap_or((bracketed, "!"));
            let port = if after.is_empty() {
                None
            } else {
                after.strip_prefix(':').or(Some("!"))
            };
            (ip.parse::<std::net::Ipv6Addr>().is_ok().then_some(ip), port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        },
    };
    let host_ok = host.is_some_and(|host| {
        !host.contains('@')
            && (is_hostname(host)
                || host.parse::<std::net::Ipv4Addr>().is_ok()
                || authority.starts_with('['))
    });
    if !host_ok {
        return Err(format!("`{text}` has no valid host"));
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err(format!("`{text}` has an invalid port"));
    }
    Ok(rest)
}

/// A URL path prefix for edge rules: starts with `/`, no spaces, quotes, braces or `;`.
pub fn check_url_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with `/`"));
    }
    if path.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | '"' | '\'' | ';' | '\\')
    }) {
        return Err(format!(
            "path `{path}` contains a space, quote, brace, `;` or backslash"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_host_is_the_name_or_address_nginx_connects_to() {
        assert_eq!(url_host("http://app.ops.lab.test:8080"), "app.ops.lab.test");
        assert_eq!(
            url_host("https://forge.tail1234.ts.net"),
            "forge.tail1234.ts.net"
        );
        assert_eq!(url_host("http://100.64.0.7:3000"), "100.64.0.7");
        assert_eq!(url_host("http://[fd7a:115c::7]:3000"), "fd7a:115c::7");
        assert_eq!(url_host("https://[fd7a:115c::7]"), "fd7a:115c::7");
    }

    #[test]
    fn durations_parse_and_reject_garbage() {
        assert_eq!(
            Duration::try_from("26h".to_string()).map(|d| d.seconds),
            Ok(26 * 3600)
        );
        assert_eq!(
            Duration::try_from("10m".to_string()).map(|d| d.seconds),
            Ok(600)
        );
        assert!(Duration::try_from("ten minutes".to_string()).is_err());
        assert!(Duration::try_from("0s".to_string()).is_err());
        assert!(Duration::try_from(String::new()).is_err());
    }

    #[test]
    fn durations_are_one_line_with_spaces_only_between_parts() {
        assert_eq!(
            Duration::try_from("1h 30m".to_string()).map(|d| d.seconds),
            Ok(5400)
        );
        for bad in [
            "1h\n",
            "1h\n5m",
            "10m\r",
            "1h\t30m",
            "1h\u{2028}5m",
            " 1h",
            "1h ",
            "1h\u{a0}",
        ] {
            let error = Duration::try_from(bad.to_string())
                .err()
                .unwrap_or_default();
            assert!(error.contains("must be one line"), "{bad:?}: {error}");
            assert!(!error.contains(['\n', '\r', '\t']), "{error}");
        }
    }

    #[test]
    fn rates_follow_nginx_syntax() {
        assert_eq!(
            Rate::try_from("3r/s".to_string()),
            Ok(Rate {
                requests: 3,
                per_minute: false
            })
        );
        assert_eq!(
            Rate::try_from("30r/m".to_string()).map(|r| r.to_string()),
            Ok("30r/m".to_string())
        );
        for bad in ["3/s", "3r/h", "r/s", "0r/s", "-1r/s", "3 r/s"] {
            assert!(
                Rate::try_from(bad.to_string()).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn record_types_and_values() {
        assert_eq!("cname".parse::<RecordType>(), Ok(RecordType::Cname));
        assert_eq!("spf".parse::<RecordType>(), Ok(RecordType::Spf));
        assert!("DS".parse::<RecordType>().is_err());
        assert!(RecordType::A.check_value("192.0.2.1").is_ok());
        assert!(RecordType::A.check_value("2001:db8::1").is_err());
        assert!(RecordType::Aaaa.check_value("2001:db8::1").is_ok());
        assert!(
            RecordType::Mx
                .check_value("10 mx1.mail.example.net.")
                .is_ok()
        );
        assert!(RecordType::Mx.check_value("mx1.mail.example.net.").is_err());
        assert!(
            RecordType::Srv
                .check_value("10 5 5060 sip.example.org.")
                .is_ok()
        );
        assert!(
            RecordType::Caa
                .check_value("0 issue \"letsencrypt.org\"")
                .is_ok()
        );
        assert!(RecordType::Cname.check_value("bad name").is_err());
        assert!(RecordType::Txt.check_value("v=spf1 -all").is_ok());
    }

    #[test]
    fn names_and_urls() {
        assert!(is_hostname("_dmarc.example.org"));
        let long = format!("{}.example.org", "a".repeat(64));
        assert!(hostname_problem(&long).is_some_and(|why| why.contains("64 bytes")));
        assert_eq!(hostname_problem("example.org"), None);
        assert!(!is_hostname("-bad.example.org"));
        assert!(!is_hostname("a..b"));
        assert!(is_identifier("indri"));
        assert!(!is_identifier("in dri"));
        assert!(is_env_name("GANDI_BEARER_TOKEN"));
        assert!(!is_env_name("1TOKEN"));
        assert!(check_upstream("http://127.0.0.1:8000").is_ok());
        assert!(check_upstream("http://127.0.0.1:8000/app").is_err());
        assert!(check_upstream("ftp://host").is_err());
        assert!(check_upstream("http://[::1]:8080").is_ok());
        assert!(check_upstream("http://host:99999").is_err());
        assert!(check_upstream("http://:80").is_err());
        assert!(check_upstream("http://user@host").is_err());
        assert_eq!(check_url("https://hc-ping.com/uuid?x=1"), Ok("/uuid?x=1"));
        assert!(check_url_path("/admin/").is_ok());
        assert!(check_url_path("admin").is_err());
        assert!(check_url_path("/a b").is_err());
    }
}
