//! `[registries.NAME]` (push credentials, matched by host) and `[images.NAME]` (images that belong
//! to no service, with the keys of a service's `container`).

use std::collections::BTreeMap;

use toml::Spanned;

use super::super::model::{Container, Registry, Service};
use super::super::parse::{Reader, Section};
use super::super::schema;
use super::super::services::{self, Context, ServiceEntry};
use super::super::values::is_hostname;
use super::{check_entry_name, check_secret};
use crate::secret::SecretRef;

pub fn registries(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
) -> BTreeMap<String, Registry> {
    let mut registries: BTreeMap<String, Registry> = BTreeMap::new();
    for (name, value) in reader.entries("registries") {
        let key = format!("registries.{}", name.get_ref());
        check_entry_name(reader, &name, "registry");
        let Some(raw) = reader.read::<schema::Registry>(value, &key) else {
            reader.unread(Section::Registries, name.get_ref());
            continue;
        };
        let host = raw.host.get_ref().to_ascii_lowercase();
        let valid = host
            .rsplit_once(':')
            .map_or(is_hostname(&host), |(name, port)| {
                is_hostname(name) && port.parse::<u16>().is_ok()
            });
        if !valid {
            reader.error_with_hint(
                raw.host.span(),
                format!(
                    "`{key}.host`: `{}` is not a registry host",
                    raw.host.get_ref()
                ),
                "write it as in image references: forge.example.org or 127.0.0.1:5000",
            );
        }
        if let Some(other) = registries.values().find(|other| other.host == host) {
            reader.error(
                raw.host.span(),
                format!(
                    "`{key}.host`: `{host}` is already the host of [registries.{}]",
                    other.name
                ),
            );
        }
        if let Some(password) = &raw.password {
            check_secret(reader, secrets, password, format!("{key}.password"));
            if raw.user.is_none() {
                reader.error(
                    password.span(),
                    format!("`{key}` has a password but no `user`"),
                );
            }
        }
        registries.insert(
            name.get_ref().clone(),
            Registry {
                name: name.into_inner(),
                host,
                user: raw.user.map(Spanned::into_inner),
                password: raw.password.map(Spanned::into_inner),
                tls_verify: raw.tls_verify.is_none_or(Spanned::into_inner),
            },
        );
    }
    registries
}

/// `[images.NAME]`; a name that is also a service with a `container` is an error
/// (`container-build NAME` must mean one image).
pub fn images(
    reader: &mut Reader<'_>,
    context: &Context<'_>,
    services: &BTreeMap<String, ServiceEntry>,
) -> BTreeMap<String, Container> {
    let mut images = BTreeMap::new();
    for (name, value) in reader.entries("images") {
        let key = format!("images.{}", name.get_ref());
        check_entry_name(reader, &name, "image");
        let Some(raw) = reader.read::<schema::Container>(value, &key) else {
            reader.unread(Section::Images, name.get_ref());
            continue;
        };
        let has_container = |service: &Service| service.container.is_some();
        if services
            .get(name.get_ref())
            .is_some_and(|entry| has_container(&entry.model))
        {
            reader.error_with_hint(
                name.span(),
                format!("`{key}`: service `{}` has a container too", name.get_ref()),
                "give the image another name: container-build takes service and image names alike",
            );
        }
        let container = services::container(reader, context, &key, raw);
        images.insert(name.into_inner(), container);
    }
    images
}
