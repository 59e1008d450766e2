//! `version`, the top-level keys, `[defaults]` and `[secrets]`, and the checks other sections
//! share: secret references and entry names.

use super::super::defaults::DEFAULT_TTL;
use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;

use super::super::diagnostic::LineIndex;
use super::super::model::{Defaults, Position};
use super::super::parse::{Reader, Section, suggest};
use super::super::schema::{self, TOP_LEVEL_KEYS};
use super::super::values::{is_env_name, is_hostname, is_identifier};
use crate::secret::{SecretRef, SecretSource};

pub fn check_top_level(reader: &mut Reader<'_>) {
    let unknown = reader
        .top_level_keys()
        .into_iter()
        .filter(|(key, _)| !TOP_LEVEL_KEYS.contains(&key.as_str()));
    for (key, span) in unknown {
        let hint = suggest(&key, &TOP_LEVEL_KEYS).map_or_else(
            || format!("known keys: {}", TOP_LEVEL_KEYS.join(", ")),
            |close| format!("did you mean `{close}`?"),
        );
        reader.error_with_hint(span, format!("unknown top-level key `{key}`"), hint);
    }
    match reader.take("version") {
        None => reader.error_with_hint(
            0..0,
            "the catalog has no `version`",
            "start the file with `version = 1`",
        ),
        Some(value) => {
            let version: Option<Spanned<i64>> = reader.read(value, "version");
            if let Some(version) = version.filter(|version| *version.get_ref() != 1) {
                reader.error_with_hint(
                    version.span(),
                    format!("catalog version {} is not supported", version.get_ref()),
                    "this boma reads `version = 1`",
                );
            }
        }
    }
}

pub fn defaults(reader: &mut Reader<'_>) -> Defaults {
    let raw: Option<schema::Defaults> = reader
        .take("defaults")
        .and_then(|value| reader.read(value, "defaults"));
    let mut defaults = Defaults {
        ttl: DEFAULT_TTL,
        acme_email: None,
        build_tool: None,
    };
    let Some(raw) = raw else { return defaults };
    defaults.build_tool = raw.build_tool.map(Spanned::into_inner);
    if let Some(ttl) = raw.ttl {
        if *ttl.get_ref() == 0 {
            reader.error(ttl.span(), "`defaults.ttl` must be at least 1 second");
        }
        defaults.ttl = ttl.into_inner();
    }
    if let Some(email) = raw.acme_email {
        let valid = email
            .get_ref()
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && is_hostname(domain))
            && !email.get_ref().contains(char::is_whitespace);
        if !valid {
            reader.error(
                email.span(),
                format!(
                    "`defaults.acme_email`: `{}` is not an email address",
                    email.get_ref()
                ),
            );
        }
        defaults.acme_email = Some(email.into_inner());
    }
    defaults
}

pub fn secrets(
    reader: &mut Reader<'_>,
    dir: &Path,
    lines: &LineIndex,
) -> BTreeMap<String, SecretRef> {
    let mut secrets = BTreeMap::new();
    for (name, value) in reader.entries("secrets") {
        let path = format!("secrets.{}", name.get_ref());
        check_entry_name(reader, &name, "secret");
        let span = value.span();
        let Some(source) = reader
            .read::<schema::Secret>(value, &path)
            .and_then(|raw| secret_source(reader, &path, raw, span.clone(), dir))
        else {
            reader.unread(Section::Secrets, name.get_ref());
            continue;
        };
        let (line, column) = lines.position(span.start);
        let declared_at = Position { line, column };
        secrets.insert(
            name.get_ref().clone(),
            SecretRef {
                name: name.into_inner(),
                source,
                declared_at,
            },
        );
    }
    secrets
}

/// Exactly one of `env`, `file` or `command`, each checked.
fn secret_source(
    reader: &mut Reader<'_>,
    path: &str,
    raw: schema::Secret,
    span: std::ops::Range<usize>,
    dir: &Path,
) -> Option<SecretSource> {
    match (raw.env, raw.file, raw.command) {
        (Some(variable), None, None) => {
            if !is_env_name(variable.get_ref()) {
                reader.error(
                    variable.span(),
                    format!(
                        "`{path}.env`: `{}` is not a variable name",
                        variable.get_ref()
                    ),
                );
            }
            Some(SecretSource::Env(variable.into_inner()))
        }
        (None, Some(file), None) => {
            if file.get_ref().trim().is_empty() {
                reader.error(file.span(), format!("`{path}.file` is empty"));
            }
            Some(SecretSource::File(dir.join(file.get_ref())))
        }
        (None, None, Some(command)) => {
            if command
                .get_ref()
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                reader.error(
                    command.span(),
                    format!("`{path}.command` needs a program, e.g. [\"pass\", \"show\", \"x\"]"),
                );
            }
            Some(SecretSource::Command(command.into_inner()))
        }
        _ => {
            reader.error_with_hint(
                span.clone(),
                format!("`{path}` must have exactly one of `env`, `file` or `command`"),
                "e.g. { env = \"GANDI_PAT\" }",
            );
            None
        }
    }
}

/// Checks that `reference` names a declared secret.
pub fn check_secret(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
    reference: &Spanned<String>,
    key: impl std::fmt::Display,
) {
    if secrets.contains_key(reference.get_ref())
        || reader.is_unread(Section::Secrets, reference.get_ref())
    {
        return;
    }
    let known: Vec<&String> = secrets.keys().filter(|name| is_identifier(name)).collect();
    let hint = crate::hint::did_you_mean(
        reference.get_ref(),
        &known,
        format!(
            "declare it under [secrets], e.g. {} = {{ env = \"VAR\" }}",
            reference.get_ref()
        ),
    );
    reader.error_with_hint(
        reference.span(),
        format!(
            "`{key}` names secret `{}`, which [secrets] does not declare",
            reference.get_ref()
        ),
        hint,
    );
}

pub fn check_entry_name(reader: &mut Reader<'_>, name: &Spanned<String>, kind: &str) {
    if !is_identifier(name.get_ref()) {
        reader.error_with_hint(
            name.span(),
            format!("{kind} name `{}` is not allowed", name.get_ref()),
            "use letters, digits, `-` and `_`, starting with a letter or digit",
        );
    }
}
