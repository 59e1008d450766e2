//! `[dns]` as written: a zone's keys (in `[dns]` itself or each `[dns.zones.NAME]`) and the
//! entries of `[[dns.records]]`.

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::super::defaults::{
    DEFAULT_BATCH_SIZE, DEFAULT_MAX_CHANGE_PERCENT, DEFAULT_POWERDNS_SERVER,
};
use super::Text;
use super::strings::{DomainName, Name};
use crate::catalog::values::RecordType;

/// The DNS provider that keeps a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DnsProvider {
    Zonefile,
    Powerdns,
    Gandi,
    Cloudflare,
}

/// Which names a zone carries: a service's private `names`, its `public` names, or both; or, for
/// an `in-addr.arpa` or `ip6.arpa` zone, a PTR record for each host whose address falls in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ZoneNames {
    Private,
    Public,
    All,
    Reverse,
}

/// One zone: `[dns]` itself in the single-zone form, or each `[dns.zones.NAME]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// Where the zone is kept: a zone file of boma's, or a provider's API.
    #[schemars(with = "DnsProvider")]
    pub provider: Spanned<DnsProvider>,
    /// The domain (`example.org`); a name goes to the zone with the longest matching suffix that
    /// carries its kind of name.
    #[schemars(with = "DomainName")]
    pub zone: Text,
    /// The `[secrets]` entry holding the API token: required for powerdns, gandi and cloudflare,
    /// refused for zonefile.
    #[schemars(with = "Option<Name>")]
    pub credentials: Option<Text>,
    /// Also delete records that nobody declared (SOA and the apex NS are never touched).
    #[serde(default)]
    pub purge: bool,
    /// Refuse plans whose updates and deletes exceed this share of the records boma owns, unless
    /// `--force` (zones where it owns 10 or more).
    #[schemars(
        with = "Option<u8>",
        range(max = 100),
        extend("default" = DEFAULT_MAX_CHANGE_PERCENT)
    )]
    pub max_change_percent: Option<Spanned<u8>>,
    /// zonefile only, and required there: the zone file, relative to the catalog.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub path: Option<Text>,
    /// The API's URL: required for powerdns (`http://127.0.0.1:8081`), an override for gandi
    /// and cloudflare.
    #[schemars(with = "Option<super::strings::Url>")]
    pub url: Option<Text>,
    /// powerdns only: the server id in the API's paths.
    #[schemars(with = "Option<String>", extend("default" = DEFAULT_POWERDNS_SERVER))]
    pub server: Option<Text>,
    /// cloudflare only: record operations per batch request.
    #[schemars(
        with = "Option<u32>",
        range(min = 1),
        extend("default" = DEFAULT_BATCH_SIZE)
    )]
    pub batch_size: Option<Spanned<u32>>,
    /// Which names the zone carries: services' private `names`, their `public` names, or both;
    /// two zones of one domain must not carry the same kind. `reverse`: an octet-aligned
    /// `in-addr.arpa` or nibble-aligned `ip6.arpa` zone with a PTR record for each host whose
    /// `ip` falls in it, pointing at the host's DNS name.
    #[schemars(with = "Option<ZoneNames>", extend("default" = ZoneNames::All))]
    pub names: Option<Spanned<ZoneNames>>,
}

/// `[[dns.records]]`: a record no service implies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// `@` (the apex), a name relative to the zone (`www`, `_dmarc`) or an absolute one ending
    /// in `.`.
    #[schemars(with = "String", length(min = 1))]
    pub name: Text,
    /// The record's type.
    #[serde(rename = "type")]
    #[schemars(with = "RecordType")]
    pub record_type: Spanned<RecordType>,
    /// The TTL in seconds; default `defaults.ttl`.
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub ttl: Option<Spanned<u32>>,
    /// The values in zone-file presentation form, checked per type: an IPv4 address for A,
    /// `PREFERENCE HOST` for MX, `PRIORITY WEIGHT PORT TARGET` for SRV, `FLAGS TAG "VALUE"` for
    /// CAA, one host name for CNAME, PTR and DNAME, `ALGORITHM TYPE FINGERPRINT` for SSHFP,
    /// `USAGE SELECTOR MATCHING-TYPE DATA` for TLSA, `ORDER PREFERENCE "FLAGS" "SERVICES"
    /// "REGEXP" REPLACEMENT` for NAPTR, `D M S N|S D M S E|W ALTm [SIZEm HPm VPm]` for LOC,
    /// `PRIORITY TARGET KEY=VALUE...` for SVCB and HTTPS, text for TXT and SPF.
    #[schemars(with = "Vec<String>", length(min = 1))]
    pub values: Spanned<Vec<Text>>,
    /// cloudflare only, on A, AAAA and CNAME records: proxied through Cloudflare.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub proxied: Option<Spanned<bool>>,
    /// With several zones: the `[dns.zones.NAME]` that holds it, needed for a relative name and
    /// for an absolute one two zones of one domain could hold; otherwise the longest suffix
    /// decides.
    #[schemars(with = "Option<String>")]
    pub zone: Option<Text>,
}
