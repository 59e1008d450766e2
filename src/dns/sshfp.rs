//! SSHFP records from the host keys boma already trusts: the keys of a host (`sshfp = true`) in
//! the known-hosts file boma's SSH verifies it against, matched the way ssh matches them (its
//! lookup name `host` or `[host]:port`, wildcards and negations, hashed `|1|` entries by their
//! HMAC-SHA1), each published as `ALGORITHM 2 SHA-256` (what `ssh-keygen -r` prints). A key that
//! is not in that file was never verified, and is never published; there is no key scan.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{DnsError, Rrset};
use crate::catalog::{Address, Catalog, Host, SshfpHost};

/// The SSHFP rrset of one host: a value for each key its known-hosts file holds for it.
pub fn rrset(catalog: &Catalog, published: &SshfpHost) -> anyhow::Result<Rrset> {
    let host = catalog
        .hosts
        .get(&published.host)
        .ok_or_else(|| anyhow::anyhow!("host `{}` is not in the catalog", published.host))?;
    let lookup = lookup_name(host);
    let files = known_hosts_files(catalog, host);
    let mut values = Vec::new();
    for file in &files {
        let Some(bytes) = crate::files::read_regular(file, crate::files::Links::Follow)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        values.extend(keys_for(&text, &lookup).iter().filter_map(KnownKey::sshfp));
    }
    if values.is_empty() {
        return Err(DnsError::NoVerifiedKey {
            host: published.host.clone(),
            lookup,
            files: files
                .iter()
                .map(|file| format!("`{}`", file.display()))
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    }
    Ok(Rrset::new(&published.name, "SSHFP", published.ttl, values))
}

/// The files boma's ssh checks the host's key against: its `ssh.known_hosts`, else ssh's default
/// user files.
fn known_hosts_files(catalog: &Catalog, host: &Host) -> Vec<PathBuf> {
    match &host.ssh.known_hosts {
        Some(file) => vec![crate::remote::local_path(&catalog.dir, file)],
        None => ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]
            .into_iter()
            .map(|file| crate::remote::local_path(&catalog.dir, Path::new(file)))
            .collect(),
    }
}

/// The name ssh looks the host up by: its address in lowercase, `[address]:port` for a port
/// other than 22.
pub fn lookup_name(host: &Host) -> String {
    let address = match &host.address {
        Address::Remote(address) => address.to_ascii_lowercase(),
        Address::Local => "localhost".to_string(),
    };
    match host.ssh.port {
        Some(port) if port != 22 => format!("[{address}]:{port}"),
        _ => address,
    }
}

/// A host key as a known-hosts line holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub key_type: String,
    pub blob: Vec<u8>,
}

impl KnownKey {
    /// `ALGORITHM 2 SHA-256-HEX` (RFC 4255, 6594, 7479), or `None` for a key type SSHFP has no
    /// number for (security keys, certificates).
    pub fn sshfp(&self) -> Option<String> {
        let algorithm = match self.key_type.as_str() {
            "ssh-rsa" => 1,
            "ssh-dss" => 2,
            "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => 3,
            "ssh-ed25519" => 4,
            "ssh-ed448" => 6,
            _ => return None,
        };
        Some(format!(
            "{algorithm} 2 {}",
            hex::encode(Sha256::digest(&self.blob))
        ))
    }
}

/// The keys of known-hosts `text` that ssh accepts for `lookup`: lines whose host patterns match,
/// not `@cert-authority` lines (those vouch for certificates, not keys), and no key that a
/// `@revoked` line names.
pub fn keys_for(text: &str, lookup: &str) -> Vec<KnownKey> {
    let mut keys = Vec::new();
    let mut revoked = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        let (marker, patterns) = match first.strip_prefix('@') {
            Some(marker) => (Some(marker), fields.next().unwrap_or_default()),
            None => (None, first),
        };
        let (Some(key_type), Some(encoded)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            continue;
        };
        // The key's own type, inside the blob, must be the one the line claims.
        if blob_type(&blob) != Some(key_type) {
            continue;
        }
        let key = KnownKey {
            key_type: key_type.to_string(),
            blob,
        };
        match marker {
            Some("revoked") => revoked.push(key),
            Some(_) => {}
            None if host_matches(patterns, lookup) => keys.push(key),
            None => {}
        }
    }
    keys.retain(|key| !revoked.contains(key));
    keys.dedup();
    keys
}

/// The type string at the start of a key blob (a uint32 length, then the name).
fn blob_type(blob: &[u8]) -> Option<&str> {
    let length = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + length)?).ok()
}

/// Whether a line's host field names `lookup`: a hashed entry by its HMAC, else a comma list of
/// patterns (`*`, `?`), any negated one that matches ruling the line out.
fn host_matches(patterns: &str, lookup: &str) -> bool {
    if let Some(hashed) = patterns.strip_prefix("|1|") {
        return hashed_matches(hashed, lookup);
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if glob(&pattern.to_ascii_lowercase(), lookup) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `SALT|HASH` (both base64): HASH is HMAC-SHA1 of the lookup name keyed with SALT
/// (`HashKnownHosts yes`, `ssh-keygen -H`).
fn hashed_matches(hashed: &str, lookup: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(lookup.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// ssh's pattern match: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 host key and what `ssh-keygen -r indri.example.org -f key.pub` prints for it.
    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIMVn7iH0KlMnunJ7QN4+ThNkSZAK3pHknt5CB1SJBgZL";
    const SSHFP: &str = "4 2 5b8847aaf90a18cdd78f29ff688c798669a679bf8dbaf77bf530dea2a8329456";

    fn key() -> KnownKey {
        KnownKey {
            key_type: "ssh-ed25519".to_string(),
            blob: base64::engine::general_purpose::STANDARD
                .decode(KEY)
                .unwrap_or_default(),
        }
    }

    #[test]
    fn ssh_lookup_names_have_the_port_unless_it_is_22() {
        let text = format!(
            "indri.example.org ssh-ed25519 {KEY}\n[indri.example.org]:2222 ssh-ed25519 {KEY} root@indri\n"
        );
        assert_eq!(keys_for(&text, "indri.example.org"), [key()]);
        assert_eq!(keys_for(&text, "[indri.example.org]:2222"), [key()]);
        assert!(keys_for(&text, "[indri.example.org]:2200").is_empty());
    }

    #[test]
    fn patterns_negations_markers_and_comments() {
        let text = format!(
            "# a comment\n*.example.org,!bad.example.org ssh-ed25519 {KEY}\n@cert-authority *.example.net ssh-ed25519 {KEY}\n"
        );
        assert_eq!(keys_for(&text, "indri.example.org"), [key()]);
        assert!(keys_for(&text, "bad.example.org").is_empty());
        assert!(
            keys_for(&text, "ca.example.net").is_empty(),
            "a CA key is no host key"
        );
        let revoked = format!("indri ssh-ed25519 {KEY}\n@revoked * ssh-ed25519 {KEY}\n");
        assert!(keys_for(&revoked, "indri").is_empty());
        let lying = format!("indri ssh-rsa {KEY}\n");
        assert!(
            keys_for(&lying, "indri").is_empty(),
            "the blob says ed25519"
        );
    }

    /// A line `ssh-keygen -H` hashed: `|1|SALT|HMAC-SHA1(SALT, name)`.
    #[test]
    fn hashed_entries_match_by_their_hmac() {
        let engine = base64::engine::general_purpose::STANDARD;
        let salt = [7u8; 20];
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).unwrap_or_else(|_| unreachable!());
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let text = format!(
            "|1|{}|{} ssh-ed25519 {KEY}\n",
            engine.encode(salt),
            engine.encode(hash)
        );
        assert_eq!(keys_for(&text, "[127.0.0.1]:2222"), [key()]);
        assert!(keys_for(&text, "127.0.0.1").is_empty());
    }

    #[test]
    fn globs_match_like_ssh() {
        assert!(glob("*.example.org", "a.example.org"));
        assert!(glob("host?", "host1"));
        assert!(!glob("host?", "host12"));
        assert!(glob("[127.0.0.1]:*", "[127.0.0.1]:2222"));
        assert!(!glob("*.example.org", "example.org"));
    }

    #[test]
    fn fingerprints_are_what_ssh_keygen_prints() {
        assert_eq!(key().sshfp().as_deref(), Some(SSHFP));
    }
}
