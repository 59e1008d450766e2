//! The catalog's sections, read into the resolved model with every cross-reference checked.
//! One file a section: defaults and secrets, DNS, hosts (SSH and Caddy), edge and auth, registries
//! and images.

// The sections' defaults are also the schema's (`schema/`).
pub(super) mod defaults;
pub(super) mod dns;
pub(super) mod edge;
pub(super) mod hosts;
mod images;

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::diagnostic::{CatalogErrors, LineIndex};
use super::model::{Catalog, by_name};
use super::parse::Reader;
use super::{records, services};

pub use defaults::{check_entry_name, check_secret};
pub use dns::provider_name;
pub use hosts::HostEntry;

/// Reads every section. Returns `None` when any diagnostic was recorded.
pub fn catalog(reader: &mut Reader<'_>, path: &Path, text: &str) -> Option<Catalog> {
    defaults::check_top_level(reader);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let lines = LineIndex::new(text);

    let defaults = defaults::defaults(reader);
    let secrets = defaults::secrets(reader, &dir, &lines);
    let (dns, declared_records) = dns::dns(reader, &dir, &secrets);
    let hosts = hosts::hosts(reader);
    let edge = edge::edge(reader, &secrets, &hosts);
    let authentik = edge::auth(reader);
    let context = services::Context {
        hosts: &hosts,
        secrets: &secrets,
        edge: edge.as_ref(),
        authentik: &authentik,
        dir: &dir,
    };
    let services = services::services(reader, &context);
    let registries = images::registries(reader, &secrets);
    let images = images::images(reader, &context, &services);
    let (records, sshfp) = records::derive(
        reader,
        &defaults,
        dns.as_ref(),
        declared_records,
        &hosts,
        edge.as_ref(),
        &services,
    );
    hosts::check_dns_challenges(reader, &hosts, &services);
    hosts::check_wildcards(reader, &hosts, &services);

    if !reader.diagnostics.is_empty() {
        return None;
    }
    let hosts = by_name(hosts.into_iter().map(|(name, host)| (name, host.model)));
    let services = by_name(
        services
            .into_iter()
            .map(|(name, service)| (name, service.model)),
    );
    let authentik = authentik.map(Spanned::into_inner);
    Some(Catalog {
        path: path.to_path_buf(),
        dir,
        defaults,
        secrets,
        dns,
        hosts,
        edge,
        authentik,
        services,
        images: by_name(images),
        registries: by_name(registries),
        records,
        sshfp,
        notes: CatalogErrors::locate(path, text, std::mem::take(&mut reader.notes)).problems,
    })
}
