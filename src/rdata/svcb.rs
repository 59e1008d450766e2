//! SVCB and HTTPS (RFC 9460): a priority, a target and service parameters. Canonical form is the
//! one PowerDNS prints and requires: parameters in key order, lists unquoted, `ech` and generic
//! `keyNNNNN` values quoted, addresses as their standard text.

use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

use super::text;

/// The keys with names (RFC 9460 §14.3.2), by number.
const NAMES: [&str; 7] = [
    "mandatory",
    "alpn",
    "no-default-alpn",
    "port",
    "ipv4hint",
    "ech",
    "ipv6hint",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svcb {
    pub priority: u16,
    /// Absolute, or `.` (the owner name itself in service mode).
    pub target: String,
    /// In key order, each key once.
    params: Vec<(u16, Param)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Mandatory(Vec<u16>),
    Alpn(Vec<String>),
    NoDefaultAlpn,
    Port(u16),
    Ipv4(Vec<Ipv4Addr>),
    Ech(String),
    Ipv6(Vec<Ipv6Addr>),
    Generic(Vec<u8>),
}

impl Svcb {
    pub fn parse(value: &str) -> Result<Self, String> {
        let fields = text::fields(value)?;
        let [priority, target, params @ ..] = fields.as_slice() else {
            return Err("it needs a priority and a target".to_string());
        };
        let priority = text::number(priority, "priority", 65535)? as u16;
        let target = text::name(target, "target", true)?;
        if priority == 0 && !params.is_empty() {
            return Err("an alias (priority 0) has no parameters".to_string());
        }
        let mut parsed: Vec<(u16, Param)> = Vec::new();
        for field in params {
            let (key, param) = param(field)?;
            if parsed.iter().any(|(seen, _)| *seen == key) {
                return Err(format!("the parameter `{}` is given twice", key_name(key)));
            }
            parsed.push((key, param));
        }
        parsed.sort_by_key(|(key, _)| *key);
        let has = |wanted: u16| parsed.iter().any(|(key, _)| *key == wanted);
        for (_, param) in &parsed {
            if let Param::Mandatory(keys) = param
                && let Some(missing) = keys.iter().find(|key| !has(**key))
            {
                return Err(format!(
                    "`mandatory` names `{}`, which the value does not give",
                    key_name(*missing)
                ));
            }
        }
        if has(2) && !has(1) {
            return Err("`no-default-alpn` needs `alpn` beside it (RFC 9460 §7.1.1)".to_string());
        }
        Ok(Self {
            priority,
            target,
            params: parsed,
        })
    }

    /// The parameters with every value quoted, the way Cloudflare keeps them in `data.value`.
    pub fn quoted_params(&self) -> String {
        self.params
            .iter()
            .map(|(key, param)| match shown(param) {
                Some(value) if value.starts_with('"') => format!("{}={value}", key_name(*key)),
                Some(value) => format!("{}=\"{value}\"", key_name(*key)),
                None => key_name(*key),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Display for Svcb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.priority, self.target)?;
        for (key, param) in &self.params {
            match shown(param) {
                Some(value) => write!(f, " {}={value}", key_name(*key))?,
                None => write!(f, " {}", key_name(*key))?,
            }
        }
        Ok(())
    }
}

/// A parameter's value as canonical text, `None` for a key without one.
fn shown(param: &Param) -> Option<String> {
    let joined = |items: Vec<String>| items.join(",");
    Some(match param {
        Param::Mandatory(keys) => joined(keys.iter().map(|key| key_name(*key)).collect()),
        Param::Alpn(ids) => ids.join(","),
        Param::NoDefaultAlpn => return None,
        Param::Port(port) => port.to_string(),
        Param::Ipv4(addresses) => joined(addresses.iter().map(ToString::to_string).collect()),
        Param::Ech(config) => format!("\"{config}\""),
        Param::Ipv6(addresses) => joined(addresses.iter().map(ToString::to_string).collect()),
        Param::Generic(bytes) => text::quoted(bytes),
    })
}

fn key_name(key: u16) -> String {
    NAMES
        .get(usize::from(key))
        .map_or_else(|| format!("key{key}"), |name| (*name).to_string())
}

/// A key by its name or as `keyNNNNN`.
fn key_number(name: &str) -> Result<u16, String> {
    if let Some(index) = NAMES.iter().position(|known| *known == name) {
        return Ok(index as u16);
    }
    let number = name
        .strip_prefix("key")
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u16>().ok())
        .ok_or_else(|| {
            format!(
                "`{name}` is not a parameter: use {} or keyNNNNN",
                NAMES.join(", ")
            )
        })?;
    if let Some(known) = NAMES.get(usize::from(number)) {
        return Err(format!("write `{name}` by its name, `{known}`"));
    }
    if number == 65535 {
        return Err("key65535 is reserved (RFC 9460 §14.3.2)".to_string());
    }
    Ok(number)
}

fn param(field: &str) -> Result<(u16, Param), String> {
    let (name, value) = match field.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (field, None),
    };
    let key = key_number(&name.to_ascii_lowercase())?;
    let name = key_name(key);
    let value = value
        .map(|value| {
            let bytes = text::unquoted(value)?;
            String::from_utf8(bytes).map_err(|_| format!("the `{name}` value is not text"))
        })
        .transpose()?;
    let needs = |what: &str| format!("`{name}` needs a value: {what}");
    let list = |value: &Option<String>, what: &str| -> Result<Vec<String>, String> {
        match value.as_deref() {
            None | Some("") => Err(needs(what)),
            Some(value) => Ok(value.split(',').map(str::to_string).collect()),
        }
    };
    let param = match key {
        0 => {
            let mut keys = Vec::new();
            for item in list(
                &value,
                "the keys a client must understand, e.g. `alpn,port`",
            )? {
                let key = key_number(&item)?;
                if key == 0 {
                    return Err("`mandatory` cannot name itself".to_string());
                }
                if keys.contains(&key) {
                    return Err(format!("`mandatory` names `{item}` twice"));
                }
                keys.push(key);
            }
            keys.sort_unstable();
            Param::Mandatory(keys)
        }
        1 => {
            let ids = list(&value, "protocol ids, e.g. `h2,h3`")?;
            if let Some(bad) = ids.iter().find(|id| {
                id.is_empty()
                    || id.len() > 255
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"')
            }) {
                return Err(format!(
                    "the alpn id `{bad}` is not 1 to 255 printable characters"
                ));
            }
            Param::Alpn(ids)
        }
        2 if value.is_some() => return Err("`no-default-alpn` takes no value".to_string()),
        2 => Param::NoDefaultAlpn,
        3 => {
            let text = value.ok_or_else(|| needs("a port number"))?;
            Param::Port(text::number(&text, "port", 65535)? as u16)
        }
        4 => Param::Ipv4(addresses(&list(&value, "IPv4 addresses")?, "IPv4")?),
        5 => {
            let config = value
                .filter(|config| !config.is_empty())
                .ok_or_else(|| needs("an ECHConfigList in base64"))?;
            base64::engine::general_purpose::STANDARD
                .decode(&config)
                .map_err(|_| format!("the `ech` value `{config}` is not base64"))?;
            Param::Ech(config)
        }
        6 => Param::Ipv6(addresses(&list(&value, "IPv6 addresses")?, "IPv6")?),
        _ => Param::Generic(value.map(String::into_bytes).unwrap_or_default()),
    };
    Ok((key, param))
}

fn addresses<T: std::str::FromStr>(items: &[String], family: &str) -> Result<Vec<T>, String> {
    items
        .iter()
        .map(|item| {
            item.parse::<T>()
                .map_err(|_| format!("`{item}` is not an {family} address"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Result<String, String> {
        Svcb::parse(text).map(|svcb| svcb.to_string())
    }

    /// The spellings PowerDNS 4.7 answered with for these values.
    #[test]
    fn parameters_come_out_in_key_order_as_powerdns_prints_them() {
        assert_eq!(
            canonical(
                "2 . port=8443 alpn=h2 ipv6hint=2001:db8::1,2001:DB8::2 mandatory=port,alpn ipv4hint=192.0.2.2,192.0.2.1"
            ),
            Ok("2 . mandatory=alpn,port alpn=h2 port=8443 ipv4hint=192.0.2.2,192.0.2.1 ipv6hint=2001:db8::1,2001:db8::2".into())
        );
        assert_eq!(
            canonical("1 www.Unit.tests alpn=\"h3,h2\" ipv4hint=\"127.0.0.2\""),
            Ok("1 www.unit.tests. alpn=h3,h2 ipv4hint=127.0.0.2".into())
        );
        assert_eq!(
            canonical("4 . key65000=hello key7 ech=AEn+DQ=="),
            Ok("4 . ech=\"AEn+DQ==\" key7=\"\" key65000=\"hello\"".into())
        );
        assert_eq!(
            canonical("0 Www.unit.tests."),
            Ok("0 www.unit.tests.".into())
        );
    }

    #[test]
    fn cloudflare_keeps_every_value_quoted() -> Result<(), String> {
        let svcb = Svcb::parse("1 . alpn=h3,h2 no-default-alpn port=443")?;
        assert_eq!(
            svcb.quoted_params(),
            "alpn=\"h3,h2\" no-default-alpn port=\"443\""
        );
        Ok(())
    }

    #[test]
    fn mistakes_are_refused() {
        for bad in [
            "1",
            "x .",
            "0 . alpn=h2",
            "1 . alpn=h2 alpn=h3",
            "1 . mandatory=port",
            "1 . mandatory=mandatory",
            "1 . no-default-alpn",
            "1 . no-default-alpn=x alpn=h2",
            "1 . port=99999",
            "1 . ipv4hint=2001:db8::1",
            "1 . ipv6hint=192.0.2.1",
            "1 . ech=***",
            "1 . key1=h2",
            "1 . key65535=x",
            "1 . color=blue",
            "1 . alpn=",
        ] {
            assert!(canonical(bad).is_err(), "{bad} should be refused");
        }
    }
}
