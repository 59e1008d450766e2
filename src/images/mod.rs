//! Images: each service's `container` and each `[images.NAME]`, tagged by the commit that last
//! changed their context, built with podman, buildah or docker here or on a builder host, pushed
//! with credentials that never show, and pinned in the files that deploy them.

mod apply;
mod context;
mod pin;
mod plan;
mod registry;
mod report;
mod source;
mod stage;
mod tool;

pub use plan::{ImagesStage, Options, declared, login, reference};
pub use registry::find_tag;
pub use tool::for_builds as build_tool;

use crate::hint::Hint;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no build tool found: {wanted} is not on PATH")]
    ToolMissing { wanted: String },
    #[error("`{image}`: the context `{context}` is not a folder")]
    MissingContext { image: String, context: String },
    #[error("`{image}`: the Containerfile `{file}` does not exist")]
    MissingContainerfile { image: String, file: String },
    #[error("`{image}`: cannot tell which commit its context is: {reason}")]
    NotInGit { image: String, reason: String },
    #[error("`{image}`: the context or its Containerfile has uncommitted changes")]
    Dirty { image: String },
    #[error(
        "`{image}`: `{file}` names the image nowhere (no images[].name and no `image:` line for it)"
    )]
    BumpTarget { image: String, file: String },
    #[error("the catalog declares no image (no service `container` and no [images.NAME])")]
    NoImages,
}

impl Hint for BuildError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::ToolMissing { .. } => {
                "install one: apt-get install podman (or buildah, or docker.io); --tool or defaults.build_tool chooses".into()
            }
            Self::MissingContext { .. } | Self::MissingContainerfile { .. } => {
                "paths in the catalog are relative to the catalog's folder".into()
            }
            Self::NotInGit { .. } => {
                "the tag names the commit that last changed the context: keep it in a git repository and commit it".into()
            }
            Self::Dirty { .. } => {
                "commit the changes, or pass --allow-dirty to build them as a `-dirty` tag".into()
            }
            Self::BumpTarget { image, .. } => format!(
                "add `images: [{{name: {image}, newTag: ...}}]` (kustomization) or an `image: {image}:TAG` line, or drop the file from `bump`"
            ),
            Self::NoImages => "add a `container` table to a service or an [images.NAME] table".into(),
        })
    }
}
