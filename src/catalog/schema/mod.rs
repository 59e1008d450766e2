//! The catalog as written: serde types for each section of `services.toml`, unknown keys refused.
//!
//! Every entry (a host, a service, a secret, a record) is deserialized on its own, so one mistake
//! does not hide the others; positions come from `Spanned` fields. The same types describe the
//! catalog as a JSON Schema (`boma schema`): each key's doc comment is its description, and
//! `document.rs` composes the sections the way `resolve/` reads them.

mod dns;
mod document;
mod edge;
mod hosts;
mod services;
mod strings;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use toml::Spanned;

use super::defaults::DEFAULT_TTL;
use strings::{EnvName, Name};

pub use dns::{Dns, DnsProvider, Record, ZoneNames};
pub use document::json_schema;
pub use edge::{Auth, DeployStrategy, Edge, Tailnet, Vm};
pub use hosts::{Caddy, DnsChallenge, Host, Ssh};
pub use services::{
    Backup, BackupTool, Ban, Cache, Container, Ping, RateLimit, Service, ServiceEdge,
};

pub type Text = Spanned<String>;

/// `[defaults]`: settings for the whole catalog.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The TTL of every derived DNS record, in seconds, at least 1.
    #[schemars(with = "Option<u32>", range(min = 1), extend("default" = DEFAULT_TTL))]
    pub ttl: Option<Spanned<u32>>,
    /// Caddy's global `email`: the ACME account's address.
    #[schemars(with = "Option<String>", regex(pattern = r"^[^@\s]+@[^@\s]+$"))]
    pub acme_email: Option<Text>,
    /// `container-build`'s tool (`--tool` overrides); without it the first of podman, buildah and
    /// docker found on PATH.
    #[schemars(with = "Option<BuildTool>")]
    pub build_tool: Option<Spanned<BuildTool>>,
}

/// The container build tools boma drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BuildTool {
    Podman,
    Buildah,
    Docker,
}

impl BuildTool {
    pub const ALL: [Self; 3] = [Self::Podman, Self::Buildah, Self::Docker];

    pub fn program(self) -> &'static str {
        match self {
            Self::Podman => "podman",
            Self::Buildah => "buildah",
            Self::Docker => "docker",
        }
    }
}

/// `[registries.NAME]`: push credentials, matched by the registry host of an image reference.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// The registry as written in image references, `host[:port]` (`forge.example.org`,
    /// `127.0.0.1:5000`); one registry per host.
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9._-]+(:[0-9]{1,5})?$"))]
    pub host: Text,
    /// The user to log in as; required with `password`.
    #[schemars(with = "Option<String>")]
    pub user: Option<Text>,
    /// The `[secrets]` entry holding the password, sent on the build tool's stdin, never on a
    /// command line.
    #[schemars(with = "Option<Name>")]
    pub password: Option<Text>,
    /// Whether the registry's TLS certificate is checked: `false` only for a plain-HTTP registry
    /// on a lab or loopback.
    #[schemars(with = "Option<bool>", extend("default" = true))]
    pub tls_verify: Option<Spanned<bool>>,
}

/// `[secrets.NAME]`: where a secret's value comes from, exactly one of `env`, `file` or
/// `command`. A secret is read only by a command that needs it (or `check --secrets`), and never
/// written to a rendered file, a plan, a log or an error.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct Secret {
    /// The environment variable holding the value (`GANDI_PAT`).
    #[schemars(with = "Option<EnvName>")]
    pub env: Option<Text>,
    /// The file holding the value, relative to the catalog's folder.
    #[schemars(with = "Option<String>", length(min = 1))]
    pub file: Option<Text>,
    /// A program and its arguments (`["pass", "show", "dns"]`) printing the value on stdout
    /// (trimmed; stdin is closed).
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    pub command: Option<Spanned<Vec<String>>>,
}

/// A key that takes one table or a list of tables (`rate_limit = {...}` or `[[...rate_limit]]`).
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<Spanned<T>>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table or a list of tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OneOrMany::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        deserializer.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        json_schema!({
            "anyOf": [one, { "type": "array", "items": one }],
        })
    }
}

/// The top-level keys of a catalog (`[[dns.records]]` entries are read one by one, like hosts).
pub const TOP_LEVEL_KEYS: [&str; 10] = [
    "version",
    "defaults",
    "secrets",
    "dns",
    "hosts",
    "edge",
    "auth",
    "registries",
    "images",
    "services",
];
