//! Record data in zone-file presentation form for the types whose values have structure (PTR,
//! DNAME, SSHFP, TLSA, NAPTR, LOC, SVCB, HTTPS): parsed, checked, and printed in one canonical
//! form, the one PowerDNS and BIND print (lowercase hex, absolute names, LOC from its wire
//! encoding, SVCB parameters in key order). The catalog checks `[[dns.records]]` values with it;
//! the DNS code compares values in the canonical form and builds each provider's own form (PowerDNS's
//! LOC, Cloudflare's `data` objects) from the parsed values. Shared by both, it knows neither.

pub mod loc;
pub mod svcb;
mod text;

pub use text::is_hostname;

/// How strictly a value is read: the catalog's values strictly (what the RFCs allow), a
/// provider's as it prints them (PowerDNS writes a LOC second of 60.000 for a whole minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Strict,
    Lenient,
}

/// `value` in canonical form, or why it is not a `record_type` value (`None` for a type this
/// module does not read: PTR, DNAME, SSHFP, TLSA, NAPTR, LOC, SVCB and HTTPS are the ones it does).
pub fn canonical(
    record_type: &str,
    value: &str,
    reading: Reading,
) -> Option<Result<String, String>> {
    let value = value.trim();
    Some(match record_type {
        "PTR" | "DNAME" => one_name(value),
        "SSHFP" => Sshfp::parse(value).map(|sshfp| sshfp.to_string()),
        "TLSA" => Tlsa::parse(value).map(|tlsa| tlsa.to_string()),
        "NAPTR" => Naptr::parse(value).map(|naptr| naptr.to_string()),
        "LOC" => loc::Loc::parse(value, reading).map(|loc| loc.to_string()),
        "SVCB" | "HTTPS" => svcb::Svcb::parse(value).map(|svcb| svcb.to_string()),
        _ => return None,
    })
}

/// What a value of `record_type` looks like, for error messages.
pub fn expected(record_type: &str) -> &'static str {
    match record_type {
        "PTR" | "DNAME" => "one host name, e.g. `host.example.org.`",
        "SSHFP" => "`ALGORITHM TYPE FINGERPRINT`, e.g. `4 2 <64 hex digits>` (Ed25519, SHA-256)",
        "TLSA" => "`USAGE SELECTOR MATCHING-TYPE DATA`, e.g. `3 1 1 <64 hex digits>`",
        "NAPTR" => {
            "`ORDER PREFERENCE \"FLAGS\" \"SERVICES\" \"REGEXP\" REPLACEMENT`, e.g. `100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.org.`"
        }
        "LOC" => {
            "`D [M [S]] N|S D [M [S]] E|W ALTITUDEm [SIZEm [HPm [VPm]]]`, e.g. `52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m`"
        }
        "SVCB" | "HTTPS" => "`PRIORITY TARGET [KEY=VALUE ...]`, e.g. `1 . alpn=h2,h3 port=8443`",
        _ => "a value",
    }
}

fn one_name(value: &str) -> Result<String, String> {
    match text::fields(value)?.as_slice() {
        [target] => text::name(target, "target", false),
        fields => Err(format!(
            "it has {} fields; a target is one name",
            fields.len()
        )),
    }
}

/// The fields of `value`, exactly `count` of them.
fn exactly<'v>(value: &'v str, count: usize, what: &str) -> Result<Vec<&'v str>, String> {
    let fields = text::fields(value)?;
    if fields.len() != count {
        return Err(format!(
            "it has {} fields; {what} has {count}",
            fields.len()
        ));
    }
    Ok(fields)
}

/// SSHFP (RFC 4255, 6594, 7479, 8709): a host key's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sshfp {
    /// 1 RSA, 2 DSA, 3 ECDSA, 4 Ed25519, 6 Ed448.
    pub algorithm: u8,
    /// 1 SHA-1, 2 SHA-256.
    pub fingerprint_type: u8,
    /// Lowercase hex.
    pub fingerprint: String,
}

impl Sshfp {
    pub fn parse(value: &str) -> Result<Self, String> {
        let fields = exactly(value, 3, "an SSHFP value")?;
        let algorithm = text::number(fields[0], "algorithm", 255)? as u8;
        if !matches!(algorithm, 1 | 2 | 3 | 4 | 6) {
            return Err(format!(
                "algorithm {algorithm} is none of 1 (RSA), 2 (DSA), 3 (ECDSA), 4 (Ed25519), 6 (Ed448)"
            ));
        }
        let fingerprint_type = text::number(fields[1], "fingerprint type", 255)? as u8;
        let digits = match fingerprint_type {
            1 => 40,
            2 => 64,
            other => {
                return Err(format!(
                    "fingerprint type {other} is neither 1 (SHA-1) nor 2 (SHA-256)"
                ));
            }
        };
        let fingerprint = text::hex(fields[2], "fingerprint")?;
        if fingerprint.len() != digits {
            let name = if digits == 40 { "SHA-1" } else { "SHA-256" };
            return Err(format!(
                "a {name} fingerprint (type {fingerprint_type}) is {digits} hex digits, not {}",
                fingerprint.len()
            ));
        }
        Ok(Self {
            algorithm,
            fingerprint_type,
            fingerprint,
        })
    }
}

impl std::fmt::Display for Sshfp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.algorithm, self.fingerprint_type, self.fingerprint
        )
    }
}

/// TLSA (RFC 6698): a certificate association for DANE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 the whole certificate, 1 its public key.
    pub selector: u8,
    /// 0 the data itself, 1 SHA-256, 2 SHA-512.
    pub matching_type: u8,
    /// Lowercase hex.
    pub data: String,
}

impl Tlsa {
    pub fn parse(value: &str) -> Result<Self, String> {
        let fields = exactly(value, 4, "a TLSA value")?;
        let usage = text::number(fields[0], "certificate usage", 3)? as u8;
        let selector = text::number(fields[1], "selector", 1)? as u8;
        let matching_type = text::number(fields[2], "matching type", 2)? as u8;
        let data = text::hex(fields[3], "certificate association data")?;
        let wanted = match matching_type {
            1 => Some((64, "SHA-256")),
            2 => Some((128, "SHA-512")),
            _ => None,
        };
        if let Some((digits, name)) = wanted.filter(|(digits, _)| *digits != data.len()) {
            return Err(format!(
                "a {name} digest (matching type {matching_type}) is {digits} hex digits, not {}",
                data.len()
            ));
        }
        Ok(Self {
            usage,
            selector,
            matching_type,
            data,
        })
    }
}

impl std::fmt::Display for Tlsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.usage, self.selector, self.matching_type, self.data
        )
    }
}

/// NAPTR (RFC 3403): a rewrite rule of the Dynamic Delegation Discovery System.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: Vec<u8>,
    pub services: Vec<u8>,
    pub regexp: Vec<u8>,
    /// Absolute, or `.` when the regexp does the rewriting.
    pub replacement: String,
}

impl Naptr {
    pub fn parse(value: &str) -> Result<Self, String> {
        let fields = exactly(value, 6, "a NAPTR value")?;
        let order = text::number(fields[0], "order", 65535)? as u16;
        let preference = text::number(fields[1], "preference", 65535)? as u16;
        let flags = text::character_string(fields[2])?;
        if !flags.iter().all(u8::is_ascii_alphanumeric) {
            return Err(format!(
                "the flags {} are not letters and digits (e.g. \"S\", \"A\", \"U\", \"P\")",
                fields[2]
            ));
        }
        let services = text::character_string(fields[3])?;
        let regexp = text::character_string(fields[4])?;
        let replacement = text::name(fields[5], "replacement", true)?;
        if !regexp.is_empty() && replacement != "." {
            return Err(
                "the regexp and the replacement exclude each other (RFC 3403 §4.1): keep one, with the other `\"\"` or `.`"
                    .to_string(),
            );
        }
        Ok(Self {
            order,
            preference,
            flags,
            services,
            regexp,
            replacement,
        })
    }

    /// A character-string field as text without its quoting (for Cloudflare's `data`).
    pub fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

impl std::fmt::Display for Naptr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.order,
            self.preference,
            text::quoted(&self.flags),
            text::quoted(&self.services),
            text::quoted(&self.regexp),
            self.replacement
        )
    }
}

/// Builds a character-string field from text (Cloudflare's `data` holds them unquoted).
pub fn quoted_text(text: &str) -> String {
    text::quoted(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(record_type: &str, value: &str) -> Result<String, String> {
        canonical(record_type, value, Reading::Strict).unwrap_or_else(|| Err("unknown".into()))
    }

    #[test]
    fn sshfp_needs_the_digest_length_of_its_type() {
        let sha256 = "A".repeat(64);
        assert_eq!(
            canon("SSHFP", &format!("4 2 {sha256}")),
            Ok(format!("4 2 {}", "a".repeat(64)))
        );
        assert_eq!(
            canon("SSHFP", &format!("4 2 {}", "a".repeat(40))),
            Err("a SHA-256 fingerprint (type 2) is 64 hex digits, not 40".into())
        );
        assert!(canon("SSHFP", &format!("1 1 {}", "b".repeat(40))).is_ok());
        assert!(canon("SSHFP", &format!("5 2 {sha256}")).is_err());
        assert!(canon("SSHFP", &format!("4 3 {sha256}")).is_err());
        assert!(canon("SSHFP", "4 2").is_err());
        assert!(canon("SSHFP", &format!("4 2 {}", "g".repeat(64))).is_err());
    }

    #[test]
    fn tlsa_checks_ranges_and_digest_lengths() {
        let sha256 = "c".repeat(64);
        assert!(canon("TLSA", &format!("3 1 1 {sha256}")).is_ok());
        assert!(canon("TLSA", &format!("3 1 2 {sha256}")).is_err());
        assert!(canon("TLSA", &format!("3 1 2 {}", "d".repeat(128))).is_ok());
        assert!(canon("TLSA", "3 0 0 30820122").is_ok());
        assert!(canon("TLSA", "3 0 0 308").is_err());
        assert!(canon("TLSA", &format!("4 1 1 {sha256}")).is_err());
        assert!(canon("TLSA", &format!("3 2 1 {sha256}")).is_err());
    }

    #[test]
    fn naptr_quotes_its_strings_and_keeps_one_of_regexp_and_replacement() {
        assert_eq!(
            canon("NAPTR", "100 10 S SIP+D2U \"\" _Sip._udp.Example.org"),
            Ok("100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.org.".into())
        );
        assert_eq!(
            canon(
                "NAPTR",
                r#"10 100 "u" "E2U+sip" "!^\\+?(.*)$!sip:\\1@example.org!" ."#
            ),
            Ok(r#"10 100 "u" "E2U+sip" "!^\\+?(.*)$!sip:\\1@example.org!" ."#.into())
        );
        assert!(canon("NAPTR", r#"10 100 "u" "E2U+sip" "!x!y!" host.example.org."#).is_err());
        assert!(canon("NAPTR", r#"10 100 "u+" "E2U" "" ."#).is_err());
        assert!(canon("NAPTR", r#"70000 100 "u" "E2U" "" ."#).is_err());
        assert!(canon("NAPTR", r#"10 100 "u" "E2U" """#).is_err());
    }

    /// The property a second run rests on: a canonical value is its own canonical form, read
    /// strictly (the catalog) or leniently (a provider).
    #[test]
    fn canonical_forms_read_back_as_themselves() {
        let values = [
            ("SSHFP", "1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF01"),
            ("TLSA", "0 0 0 0A0b"),
            ("NAPTR", r#"1 2 "" "" "" ."#),
            ("NAPTR", r#"1 2 a "x y" "\\1 \" \255" ."#),
            ("LOC", "0 S 0 W 0m 0m 0m 0m"),
            (
                "LOC",
                "89 59 59.999 S 179 59 59.999 W 21374836.47m 42949672.95m 9m 1m",
            ),
            ("LOC", "45 N 90 E 1.01m 0.09m"),
            (
                "SVCB",
                r#"65535 Target.Example. key65534="a\\b\"c" ipv6hint=::ffff:1.2.3.4,::1"#,
            ),
            (
                "HTTPS",
                "1 . mandatory=ipv4hint,alpn ipv4hint=0.0.0.0 alpn=h2 no-default-alpn",
            ),
            ("PTR", "A-B.example."),
        ];
        for (record_type, value) in values {
            let Some(Ok(first)) = canonical(record_type, value, Reading::Strict) else {
                panic!("{record_type} {value} should read");
            };
            for reading in [Reading::Strict, Reading::Lenient] {
                assert_eq!(
                    canonical(record_type, &first, reading),
                    Some(Ok(first.clone())),
                    "{record_type} {value}"
                );
            }
        }
    }

    #[test]
    fn names_are_one_absolute_host_name() {
        assert_eq!(
            canon("PTR", "Indri.Example.org"),
            Ok("indri.example.org.".into())
        );
        assert!(canon("DNAME", "a b").is_err());
        assert!(canon("PTR", ".").is_err());
    }
}
