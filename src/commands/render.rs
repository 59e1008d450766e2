//! `boma render`: print the artifacts, or write them under `--out DIR` at stable paths.

use anyhow::Context;
use serde::Serialize;

use crate::Outcome;
use crate::cli::{Global, RenderArgs};
use crate::files::{WriteStatus, write_if_changed};
use crate::render::{Artifact, Renderer, artifacts};
use crate::ui::{Hinted, Ui};

#[derive(Serialize)]
struct Written<'a> {
    name: &'a str,
    path: String,
    status: WriteStatus,
}

pub fn exec(global: &Global, args: &RenderArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = super::load_catalog(global)?;
    let renderer = Renderer::for_catalog(&catalog, global.templates.as_deref());
    let selected = select(artifacts(&catalog, &renderer)?, &args.artifacts)?;
    match &args.out {
        None if ui.json_output() => ui.json(&selected)?,
        None => ui.data(&concatenate(&selected))?,
        Some(dir) => {
            let mut written = Vec::new();
            for artifact in &selected {
                let path = dir.join(&artifact.path);
                let status = write_if_changed(&path, artifact.content.as_bytes())
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
                written.push(Written {
                    name: &artifact.name,
                    path: path.display().to_string(),
                    status,
                });
            }
            if ui.json_output() {
                ui.json(&written)?;
            } else {
                let changed = written
                    .iter()
                    .filter(|file| file.status == WriteStatus::Written)
                    .count();
                for file in written
                    .iter()
                    .filter(|file| file.status == WriteStatus::Written)
                {
                    ui.debug(&format!("wrote {}", file.path));
                }
                ui.status(&format!(
                    "rendered {} artifacts into {}: {changed} written, {} unchanged",
                    written.len(),
                    dir.display(),
                    written.len() - changed
                ));
            }
        }
    }
    Ok(Outcome::Done)
}

/// Keeps the named artifacts (all when none are named); an unknown name is an error listing the known.
fn select(all: Vec<Artifact>, wanted: &[String]) -> anyhow::Result<Vec<Artifact>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|name| !all.iter().any(|artifact| &artifact.name == *name))
    {
        let known: Vec<&str> = all.iter().map(|artifact| artifact.name.as_str()).collect();
        return Err(Hinted::new(
            format!("no artifact named `{unknown}`"),
            format!("the catalog renders: {}", known.join(", ")),
        )
        .into());
    }
    Ok(all
        .into_iter()
        .filter(|artifact| wanted.contains(&artifact.name))
        .collect())
}

/// One artifact prints as is; several get a `==> path <==` header each, like `head` does.
fn concatenate(artifacts: &[Artifact]) -> String {
    if let [only] = artifacts {
        return only.content.clone();
    }
    artifacts
        .iter()
        .map(|artifact| format!("==> {} <==\n{}", artifact.path.display(), artifact.content))
        .collect::<Vec<_>>()
        .join("\n")
}
