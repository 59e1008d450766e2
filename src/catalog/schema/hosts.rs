//! `[hosts.NAME]` as written: the address, SSH settings and the host's Caddy.

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::super::defaults::{DEFAULT_CADDY_CONFIG, DEFAULT_CADDY_RELOAD};
use super::Text;
use super::strings::{DomainName, EnvName, Name, Word};

/// `[hosts.NAME]`: a machine boma reaches over SSH (or this one).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The SSH destination (a host name or IP address), or `"local"` for this machine.
    #[schemars(with = "String", length(min = 1))]
    pub address: Text,
    /// SSH settings that override `~/.ssh/config`.
    #[serde(default)]
    pub ssh: Ssh,
    /// Privileged steps go through `sudo -n`.
    #[serde(default)]
    pub sudo: bool,
    /// The target of A (IPv4) or AAAA (IPv6) records for the names served here.
    #[schemars(with = "Option<String>")]
    pub ip: Option<Text>,
    /// Reachable from the internet: may serve public names, with HTTP-01 certificates.
    #[serde(default)]
    pub public: bool,
    /// The host's DNS name: the target of its PTR record in a reverse zone (`names = "reverse"`)
    /// and where its SSHFP records go; default its `address` when that is a host name.
    #[schemars(with = "Option<DomainName>")]
    pub name: Option<Text>,
    /// Publish SSHFP records (SHA-256) at the host's DNS name for each host key in the
    /// known-hosts file boma verifies the host against (`ssh.known_hosts`, else
    /// `~/.ssh/known_hosts`); never from a key boma has not verified.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub sshfp: Option<Spanned<bool>>,
    /// The host's Caddy.
    #[schemars(with = "Option<Caddy>")]
    pub caddy: Option<Spanned<Caddy>>,
}

/// `[hosts.NAME.ssh]`: how boma's SSH reaches the host; each value non-empty, without spaces.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// The user to log in as.
    #[schemars(with = "Option<Word>")]
    pub user: Option<Text>,
    /// The SSH port.
    #[schemars(with = "Option<u16>", range(min = 1))]
    pub port: Option<Spanned<u16>>,
    /// The private key file, relative to the catalog or `~/...`.
    #[schemars(with = "Option<Word>")]
    pub identity: Option<Text>,
    /// The known_hosts file, relative to the catalog or `~/...`.
    #[schemars(with = "Option<Word>")]
    pub known_hosts: Option<Text>,
    /// A jump host (`ssh -J`).
    #[schemars(with = "Option<Word>")]
    pub jump: Option<Text>,
}

/// `[hosts.NAME.caddy]`: the Caddy instance that serves the host's sites.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Caddy {
    /// The live Caddyfile on the host, an absolute path.
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^/"),
        extend("default" = DEFAULT_CADDY_CONFIG)
    )]
    pub config: Option<Text>,
    /// The reload command; with `sudo = true` one plain command (the line a sudoers entry
    /// allows), no shell syntax.
    #[schemars(with = "Option<String>", extend("default" = DEFAULT_CADDY_RELOAD))]
    pub reload: Option<Text>,
    /// DNS-01 certificates for the host's private names; an error on a host that serves none.
    #[schemars(with = "Option<DnsChallenge>")]
    pub dns_challenge: Option<Spanned<DnsChallenge>>,
    /// Caddy's admin endpoint: `HOST:PORT`, `unix//path` or `off`; default Caddy's own.
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^(off|unix/\S+|\S*:[0-9]{1,5})$")
    )]
    pub admin: Option<Text>,
    /// Caddy's HTTP port.
    #[schemars(with = "Option<u16>", range(min = 1), extend("default" = 80))]
    pub http_port: Option<Spanned<u16>>,
    /// Caddy's HTTPS port.
    #[schemars(with = "Option<u16>", range(min = 1), extend("default" = 443))]
    pub https_port: Option<Spanned<u16>>,
    /// Lines for Caddy's global options block, as written (validated with the whole file).
    #[schemars(with = "Option<String>")]
    pub global: Option<Text>,
    /// Caddyfile text after the sites (site blocks, snippets), as written.
    #[schemars(with = "Option<String>")]
    pub extra: Option<Text>,
    /// Zones (`ops.example.org`) each served by one `*.ZONE` site and certificate for the host's
    /// private names directly under it, and one `*.ZONE` DNS record instead of one a name; needs
    /// `dns_challenge`.
    #[serde(default)]
    #[schemars(with = "Vec<DomainName>")]
    pub wildcard: Vec<Text>,
}

/// A DNS-01 challenge: the caddy-dns module and the variable holding its token.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsChallenge {
    /// The caddy-dns module (`gandi`, `cloudflare`), which the host's Caddy must include.
    #[schemars(with = "Name")]
    pub provider: Text,
    /// The *name* of the variable holding the token in Caddy's service environment, never the
    /// token itself.
    #[schemars(with = "EnvName")]
    pub token_env: Text,
}
