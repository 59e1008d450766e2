//! `boma container-build`: the image stage; `--check` previews its plan, otherwise it is applied.

use crate::Outcome;
use crate::catalog::BuildTool;
use crate::cli::{ContainerBuildArgs, Global};
use crate::images::{ImagesStage, Options};
use crate::stage;
use crate::ui::Ui;

pub fn exec(global: &Global, args: &ContainerBuildArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = super::host_context(&catalog, &renderer, ui, args.parallel, &args.ssh);
    let tool = tool(args.tool.as_deref());
    let mut images = ImagesStage {
        options: Options {
            names: args.names.clone(),
            // A check asks what `--all` would build: the images whose tag the registry lacks.
            missing_only: args.all || args.check,
            allow_dirty: args.allow_dirty,
            push: !args.no_push,
            tool,
            storage: args.storage.clone(),
        },
    };
    if args.check {
        // Drift detection: an image behind its source, or a pinned file behind it, is a finding.
        stage::preview(&mut images, &cx, true)
    } else {
        stage::up(&mut images, &cx, None)
    }
}

/// `--tool NAME` as the build tool it names.
pub fn tool(name: Option<&str>) -> Option<BuildTool> {
    let name = name?;
    BuildTool::ALL
        .into_iter()
        .find(|tool| tool.program() == name)
}
