//! The whole catalog as one JSON Schema (draft 2020-12), for editors (taplo, Even Better TOML)
//! and CI: the sections composed the way `resolve/` reads them, from the same types.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use super::super::defaults::DEFAULT_OWNER;
use super::strings::Name;
use super::{Auth, Container, Defaults, Dns, Edge, Host, Record, Registry, Secret, Service};

/// A boma catalog (`services.toml`): hosts, services, their names and DNS zones, the edge, images,
/// backups and secret references. This schema checks each key, its type and its form; whether
/// entries fit together (a service's host is declared, a secret is in `[secrets]`, a name falls
/// in a zone, a provider's required keys) is `boma check`'s to say.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "boma catalog")]
#[expect(
    dead_code,
    reason = "a schema only: catalogs are read section by section"
)]
struct Document {
    /// The catalog's format; this boma reads `1`.
    #[schemars(extend("const" = 1))]
    version: u32,
    /// Settings for the whole catalog.
    defaults: Option<Defaults>,
    /// Secret references, `NAME = { env = "VAR" }`, `{ file = "path" }` or `{ command = [...] }`,
    /// named by the keys that need them.
    secrets: Option<BTreeMap<Name, Secret>>,
    /// DNS zones: one zone with its keys here, or several `[dns.zones.NAME]`.
    dns: Option<DnsSection>,
    /// The machines boma reaches: over SSH, or this one.
    hosts: Option<BTreeMap<Name, Host>>,
    /// The public edge proxy.
    edge: Option<Edge>,
    /// Single sign-on for services' sites.
    auth: Option<Auth>,
    /// The services: a service that is not in the catalog does not exist.
    services: Option<BTreeMap<Name, Service>>,
    /// Push credentials, matched by the registry host of an image reference.
    registries: Option<BTreeMap<Name, Registry>>,
    /// Images that belong to no service, with the keys of a service's `container`; a name must
    /// not be a service's that has a `container`.
    images: Option<BTreeMap<Name, Container>>,
}

/// `[dns]`: either one zone (its keys directly here), or several `[dns.zones.NAME]` tables with
/// the same keys, and then only `owner` and `[[dns.records]]` beside them.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, transform = zone_forms)]
#[expect(
    dead_code,
    reason = "a schema only: `resolve::dns` reads these keys one by one"
)]
struct DnsSection {
    /// The owner written in every ownership mark: lowercase letters, digits, `-`, `_` and `.`,
    /// at most 40. Two catalogs with different owners share a zone without touching each
    /// other's records.
    #[schemars(
        regex(pattern = r"^[a-z0-9_.-]{1,40}$"),
        extend("default" = DEFAULT_OWNER)
    )]
    owner: Option<String>,
    /// Several zones, each with its provider, credentials and settings (split horizon); the
    /// name is what `--zone` and a record's `zone` take.
    zones: Option<BTreeMap<String, Dns>>,
    /// Records no service implies; two entries with the same name and type are an error.
    records: Option<Vec<Record>>,
    #[schemars(flatten)]
    zone: Option<Dns>,
}

/// The keys `[dns]` keeps beside `[dns.zones.NAME]` tables.
const BESIDE_ZONES: [&str; 3] = ["owner", "records", "zones"];

/// With `zones`, nothing of a single zone beside them; without, a zone's `provider` and `zone`.
fn zone_forms(schema: &mut Schema) {
    schema.insert("if".into(), json!({ "required": ["zones"] }));
    schema.insert(
        "then".into(),
        json!({ "propertyNames": { "enum": BESIDE_ZONES } }),
    );
    schema.insert("else".into(), json!({ "required": ["provider", "zone"] }));
}

/// The catalog's JSON Schema, as `boma schema` prints it.
pub fn json_schema() -> Value {
    SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(without_null))
        .with_transform(RecursiveTransform(unwrapped_description))
        .into_generator()
        .into_root_schema_for::<Document>()
        .to_value()
}

/// TOML has no null: the `null` an `Option` adds to a key's schema is dropped, and an `anyOf`
/// left with one choice becomes that choice.
fn without_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|kind| kind != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    let Some(Value::Array(choices)) = object.get_mut("anyOf") else {
        return;
    };
    choices.retain(|choice| choice.get("type").is_none_or(|kind| kind != "null"));
    if let [Value::Object(_)] = choices.as_slice()
        && let Some(Value::Array(mut choices)) = object.remove("anyOf")
        && let Some(Value::Object(only)) = choices.pop()
    {
        for (key, value) in only {
            object.entry(key).or_insert(value);
        }
    }
}

/// A doc comment's lines joined into paragraphs, as an editor's hover wraps them itself.
fn unwrapped_description(schema: &mut Schema) {
    if let Some(Value::String(description)) = schema.get_mut("description") {
        *description = description
            .split("\n\n")
            .map(|paragraph| paragraph.replace('\n', " "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every property of every table, with the path it is found at.
    fn properties<'a>(
        schema: &'a Value,
        path: &str,
        found: &mut Vec<(String, &'a serde_json::Map<String, Value>)>,
    ) {
        let Some(object) = schema.as_object() else {
            return;
        };
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (key, property) in properties {
                if let Some(property) = property.as_object() {
                    found.push((format!("{path}.{key}"), property));
                }
            }
        }
        for (key, value) in object {
            match value {
                Value::Object(_) => properties(value, &format!("{path}/{key}"), found),
                Value::Array(items) => {
                    for item in items {
                        properties(item, &format!("{path}/{key}"), found);
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn every_key_has_a_description() {
        let schema = json_schema();
        let mut found = Vec::new();
        properties(&schema, "", &mut found);
        let undescribed: Vec<&String> = found
            .iter()
            .filter(|(_, property)| !property.contains_key("description"))
            .map(|(path, _)| path)
            .collect();
        assert!(found.len() > 100, "{}", found.len());
        assert!(undescribed.is_empty(), "{undescribed:#?}");
    }

    #[test]
    fn the_root_has_the_top_level_keys_the_reader_takes() {
        let schema = json_schema();
        let mut keys: Vec<&str> = schema["properties"]
            .as_object()
            .map(|properties| properties.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut known = super::super::TOP_LEVEL_KEYS.to_vec();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(keys, known);
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["version"]));
    }

    #[test]
    fn no_key_takes_null() {
        let text = json_schema().to_string();
        assert!(!text.contains("\"null\""), "{text}");
    }

    #[test]
    fn every_table_refuses_unknown_keys() {
        let schema = json_schema();
        for (name, definition) in schema["$defs"].as_object().into_iter().flatten() {
            if definition.get("properties").is_some() {
                assert_eq!(definition["additionalProperties"], json!(false), "{name}");
            }
        }
    }
}
