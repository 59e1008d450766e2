//! The image stage's plan: for each image, the commit and tag, whether the registry has that tag
//! already, where it is built, and which pinned files would follow. Reads git, the registry and
//! the bump files; writes nothing.

use std::path::PathBuf;

use serde::Serialize;

use super::report::ImagesReport;
use super::tool::Tool;
use super::{BuildError, pin, registry, source};
use crate::catalog::{BuildTool, Catalog, Container, Registry};
use crate::hint::UnknownName;
use crate::secret::Secret;
use crate::stage::Context;
use crate::ui::Report;

/// What the command line asks for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub names: Vec<String>,
    /// Build only the images whose tag the registry does not have yet.
    pub missing_only: bool,
    pub allow_dirty: bool,
    pub push: bool,
    pub tool: Option<BuildTool>,
    pub storage: Option<PathBuf>,
}

pub struct ImagesStage {
    pub options: Options,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Build (and push, and pin).
    Build,
    /// The registry has the tag: only the pinned files follow, if any lag.
    UpToDate,
}

/// A pinned file and the tags it holds for the image now.
#[derive(Debug, Clone, Serialize)]
pub struct Bump {
    pub file: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub from: Vec<String>,
    pub behind: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    pub name: String,
    pub image: String,
    pub tag: String,
    pub reference: String,
    pub revision: String,
    pub dirty: bool,
    /// `this machine` or the builder host.
    pub builder: String,
    /// In the registry already (its digest), `None` when not or unknown.
    pub in_registry: Option<String>,
    /// Why the registry could not say, when it could not.
    pub registry_note: Option<String>,
    pub action: Action,
    pub bumps: Vec<Bump>,
    #[serde(skip)]
    pub container: Container,
    #[serde(skip)]
    pub source: source::Source,
}

pub struct ImagesPlan {
    pub images: Vec<ImagePlan>,
    pub tool: Result<Tool, BuildError>,
    pub push: bool,
}

impl Report for ImagesPlan {
    fn text(&self) -> String {
        ImagesReport::planned(self).text()
    }
    fn json(&self) -> serde_json::Value {
        ImagesReport::planned(self).json()
    }
    fn summary(&self) -> Option<String> {
        ImagesReport::planned(self).summary()
    }
}

impl ImagesStage {
    /// What each selected image needs: reads git, the registry and the pinned files.
    pub(super) fn read(&self, cx: &Context<'_>) -> anyhow::Result<ImagesPlan> {
        let selected = select(cx.catalog, &self.options.names)?;
        let wanted = self.options.tool.or(cx.catalog.defaults.build_tool);
        let local = selected
            .iter()
            .any(|(_, container)| container.builder.is_none());
        // A builder host checks its own PATH; this machine's is checked now.
        // A missing tool stops the build, not the check that shows what would be built.
        let kind = super::tool::for_builds(wanted, local);
        let storage = self.options.storage.clone();
        let tool = kind.map(|kind| Tool { kind, storage });
        let mut images = Vec::new();
        for (name, container) in selected {
            images.push(self.image(cx, name, container)?);
        }
        Ok(ImagesPlan {
            images,
            tool,
            push: self.options.push,
        })
    }

    fn image(
        &self,
        cx: &Context<'_>,
        name: &str,
        container: &Container,
    ) -> anyhow::Result<ImagePlan> {
        let file = container.context.join(&container.file);
        let source = source::read(name, &container.context, &file)?;
        if source.dirty && !self.options.allow_dirty {
            return Err(BuildError::Dirty {
                image: name.to_string(),
            }
            .into());
        }
        let tag = source.tag(&container.version);
        let (host, _) = registry::split(&container.image);
        let (in_registry, registry_note) = if self.options.push {
            // Only a push needs the password: a plan (`--check`) whose password cannot be read
            // asks the registry without it, and says so when the registry cannot answer.
            let registry = registry_of(cx.catalog, host);
            let (found, unread) = match registry.map(|registry| login(cx.catalog, registry)) {
                Some(Ok(found)) => (Some(found), None),
                Some(Err(error)) => (None, Some(error)),
                None => (None, None),
            };
            let login = found
                .as_ref()
                .and_then(|(user, password, _)| user.as_deref().zip(password.as_ref()));
            let tls_verify = registry.is_none_or(|registry| registry.tls_verify);
            match registry::find_tag(&container.image, &tag, login, tls_verify) {
                Ok(found) => (found, None),
                Err(reason) => match unread {
                    Some(error) => {
                        let why = error
                            .downcast_ref::<crate::catalog::SecretUnreadable>()
                            .map_or_else(|| format!("{error:#}"), |error| error.located());
                        (None, Some(format!("{reason}; no password sent: {why}")))
                    }
                    None => (None, Some(reason)),
                },
            }
        } else {
            (None, Some("not asked (--no-push)".into()))
        };
        let action = if self.options.missing_only && in_registry.is_some() {
            Action::UpToDate
        } else {
            Action::Build
        };
        let mut bumps = Vec::new();
        for path in &container.bump {
            let text = pin::read(path).map_err(|error| {
                anyhow::anyhow!(
                    "`{name}`: cannot read the bump file `{}`: {error:#}",
                    path.display()
                )
            })?;
            let Some((_, from)) = pin::bump(&text, &container.image, &tag, None) else {
                return Err(BuildError::BumpTarget {
                    image: container.image.clone(),
                    file: shown(cx.catalog, path),
                }
                .into());
            };
            let behind = from.iter().any(|old| *old != tag);
            bumps.push(Bump {
                file: shown(cx.catalog, path),
                path: path.clone(),
                from,
                behind,
            });
        }
        Ok(ImagePlan {
            name: name.to_string(),
            image: container.image.clone(),
            reference: format!("{}:{tag}", container.image),
            tag,
            revision: source.revision.clone(),
            dirty: source.dirty,
            builder: container
                .builder
                .clone()
                .unwrap_or_else(|| "this machine".into()),
            in_registry,
            registry_note,
            action,
            bumps,
            container: container.clone(),
            source,
        })
    }
}

/// A path as the catalog wrote it (relative to its folder).
pub fn shown(catalog: &Catalog, path: &std::path::Path) -> String {
    path.strip_prefix(&catalog.dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The registry entry for an image host.
pub fn registry_of<'c>(catalog: &'c Catalog, host: &str) -> Option<&'c Registry> {
    catalog
        .registries
        .values()
        .find(|registry| registry.host == host)
}

/// The user, the password (read now) and whether TLS is verified.
pub fn login(
    catalog: &Catalog,
    registry: &Registry,
) -> anyhow::Result<(Option<String>, Option<Secret>, bool)> {
    let what = format!("the password of [registries.{}]", registry.name);
    let password = registry
        .password
        .as_ref()
        .map(|name| catalog.read_secret(name, &what))
        .transpose()?;
    Ok((registry.user.clone(), password, registry.tls_verify))
}

/// The reference the images stage builds and pushes for the catalog's image `wanted` (an
/// `[images.NAME]` or a service with a `container`, by name or by its `image` repository) at the
/// commit that last changed its context; `None` when `wanted` names none of them.
pub fn reference(catalog: &Catalog, wanted: &str) -> Result<Option<String>, BuildError> {
    let found = every_image(catalog)
        .into_iter()
        .find(|(name, container)| *name == wanted || container.image == wanted);
    let Some((name, container)) = found else {
        return Ok(None);
    };
    let file = container.context.join(&container.file);
    let source = source::read(name, &container.context, &file)?;
    Ok(Some(format!(
        "{}:{}",
        container.image,
        source.tag(&container.version)
    )))
}

/// Whether the catalog declares any image.
pub fn declared(catalog: &Catalog) -> bool {
    !every_image(catalog).is_empty()
}

/// Every image of the catalog: services with a `container`, then `[images]` entries.
fn every_image(catalog: &Catalog) -> Vec<(&str, &Container)> {
    catalog
        .services
        .iter()
        .filter_map(|(name, service)| Some((name.as_str(), service.container.as_ref()?)))
        .chain(
            catalog
                .images
                .iter()
                .map(|(name, image)| (name.as_str(), image)),
        )
        .collect()
}

/// The named images (services with a `container`, `[images]` entries), or every one.
fn select<'c>(
    catalog: &'c Catalog,
    names: &[String],
) -> anyhow::Result<Vec<(&'c str, &'c Container)>> {
    let all = every_image(catalog);
    if all.is_empty() {
        return Err(BuildError::NoImages.into());
    }
    if names.is_empty() {
        return Ok(all);
    }
    let mut selected = Vec::new();
    for name in names {
        match all.iter().find(|(known, _)| known == name) {
            Some(found) => selected.push(*found),
            None => {
                return Err(UnknownName {
                    kind: "image",
                    plural: "images",
                    name: name.clone(),
                    known: all.iter().map(|(known, _)| known.to_string()).collect(),
                }
                .into());
            }
        }
    }
    Ok(selected)
}
