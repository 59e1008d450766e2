//! DNS providers behind one trait: read the zone's rrsets, apply a change set.

pub mod cloudflare;
pub mod gandi;
pub mod powerdns;
pub mod zonefile;

use std::collections::HashMap;

use super::Rrset;
use super::ownership::Keeping;
use super::plan::Change;

/// A zone as a provider read it.
#[derive(Debug, Default)]
pub struct Live {
    /// Every rrset in the zone, canonical (see `Rrset`).
    pub rrsets: Vec<Rrset>,
    /// Where ownership is metadata: the mark texts found on each (name, type).
    pub marks: HashMap<(String, String), Vec<String>>,
}

impl From<Vec<Rrset>> for Live {
    fn from(rrsets: Vec<Rrset>) -> Self {
        Self {
            rrsets,
            marks: HashMap::new(),
        }
    }
}

pub trait Provider: Send {
    /// `zonefile`, `powerdns`, `gandi`, `cloudflare`: for messages.
    fn name(&self) -> &'static str;

    /// Where the provider keeps ownership.
    fn keeping(&self) -> Keeping {
        Keeping::Markers
    }

    /// The zone as it is.
    fn list(&mut self) -> anyhow::Result<Live>;

    /// Applies `changes` in order, creates and updates with the ownership mark where the provider
    /// keeps it beside the records; `progress` is told how many are done after each write.
    fn apply(
        &mut self,
        changes: &[Change],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), ApplyError>;

    /// The provider's own rules applied to a desired rrset (TTL limits, defaults), so that the
    /// plan compares like with like and a clamped TTL is not a change on every run.
    fn normalize(&self, rrset: Rrset) -> Rrset {
        rrset
    }

    /// HTTP requests sent so far (0 for zone files).
    fn requests(&self) -> usize {
        0
    }
}

/// A failure part-way: how many changes (in plan order) were applied before it.
#[derive(Debug, thiserror::Error)]
#[error("{applied} of {} applied before the failure", crate::ui::counted(*.total, "change"))]
pub struct ApplyError {
    pub applied: usize,
    pub total: usize,
    #[source]
    pub cause: anyhow::Error,
}

/// Opens a zone's provider, reading its credentials secret now (and only now). Records it writes
/// carry `owner`'s mark where the provider keeps ownership beside them.
pub fn open(
    dns: &crate::catalog::Zone,
    catalog: &crate::catalog::Catalog,
    owner: &str,
    create_zone: bool,
    log: crate::ui::Log,
) -> anyhow::Result<Box<dyn Provider>> {
    use crate::catalog::DnsProvider;
    let mark = super::ownership::Mark::text(owner, &[]);
    let token = || -> anyhow::Result<crate::secret::Secret> {
        let name = dns.credentials.as_deref().unwrap_or_default();
        let what = format!("the credentials of zone `{}`", dns.name);
        catalog.read_secret(name, &what)
    };
    Ok(match dns.provider {
        DnsProvider::Zonefile => {
            let path = dns.path.clone().unwrap_or_default();
            Box::new(zonefile::ZoneFile::new(&path, &dns.zone))
        }
        DnsProvider::Powerdns => {
            let url = dns.url.as_deref().unwrap_or_default();
            Box::new(powerdns::PowerDns::new(
                url,
                &dns.server,
                &dns.zone,
                token()?,
                mark,
                create_zone,
                log,
            )?)
        }
        DnsProvider::Gandi => Box::new(gandi::Gandi::new(
            dns.url.as_deref(),
            &dns.zone,
            token()?,
            log,
        )?),
        DnsProvider::Cloudflare => Box::new(cloudflare::Cloudflare::new(
            dns.url.as_deref(),
            &dns.zone,
            token()?,
            mark,
            dns.batch_size,
            log,
        )?),
    })
}
