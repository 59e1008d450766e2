//! `boma render`: print the artifacts, or write them under `--out DIR` at stable paths.

use super::{OutFile, write_out};
use crate::Outcome;
use crate::cli::{Global, RenderArgs};
use crate::hint::check_known;
use crate::render::Artifact;
use crate::ui::{Plain, Ui};
use crate::{caddy, edge};

pub fn exec(global: &Global, args: &RenderArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    // Every subsystem that renders files is asked for its artifacts here.
    let mut all = caddy::artifacts(&catalog, &renderer)?;
    all.extend(edge::artifacts(&catalog, &renderer)?);
    let selected = select(all, &args.artifacts)?;
    match &args.out {
        Some(dir) => {
            let files = selected
                .into_iter()
                .map(|artifact| OutFile {
                    name: Some(artifact.name),
                    path: artifact.path,
                    content: artifact.content,
                })
                .collect();
            ui.report(&write_out(dir, files, ("rendered", "artifact"), ui)?)?;
        }
        None => ui.report(&Plain {
            text: concatenate(&selected),
            value: selected,
            summary: None,
        })?,
    }
    Ok(Outcome::Done)
}

/// Keeps the named artifacts (all when none are named); an unknown name is an error listing the
/// known. An artifact is named as the header shows it (`caddy/indri`) or by the path `--out`
/// writes it to (`caddy/indri/Caddyfile`).
fn select(all: Vec<Artifact>, wanted: &[String]) -> anyhow::Result<Vec<Artifact>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    let wanted: Vec<String> = wanted
        .iter()
        .map(|name| {
            all.iter()
                .find(|artifact| artifact.path == std::path::Path::new(name))
                .map_or_else(|| name.clone(), |artifact| artifact.name.clone())
        })
        .collect();
    let known: Vec<&str> = all.iter().map(|artifact| artifact.name.as_str()).collect();
    check_known("artifact", "artifacts", &wanted, &known)?;
    Ok(all
        .into_iter()
        .filter(|artifact| wanted.contains(&artifact.name))
        .collect())
}

/// One artifact prints as is; several get a `==> NAME <==` header each, like `head` does, with
/// the name `boma render NAME` takes.
fn concatenate(artifacts: &[Artifact]) -> String {
    if let [only] = artifacts {
        return only.content.clone();
    }
    artifacts
        .iter()
        .map(|artifact| format!("==> {} <==\n{}", artifact.name, artifact.content))
        .collect::<Vec<_>>()
        .join("\n")
}
