//! What runs the edge on Fly.io: `fly.toml` (the image, the HTTP service, every rendered config
//! file as a `[[files]]` entry), and the edge image's `Containerfile` and entrypoint (nginx and
//! fail2ban side by side) for when `[edge].image` is built by boma or flyctl.

use serde::Serialize;

use super::{EdgeService, LISTEN, guest_path, rendered};
use crate::catalog::Edge;
use crate::render::{
    Artifact, EDGE_CONTAINERFILE, EDGE_ENTRYPOINT, EDGE_FLY_TOML, RenderError, Renderer,
};

#[derive(Serialize)]
struct FlyFile {
    guest_path: String,
    local_path: String,
}

/// `fly.toml`, `Containerfile` and `entrypoint.sh`; `image` is the machines' image (see
/// `edge::image`), `config` the files the machines get.
pub fn files(
    edge: &Edge,
    image: Option<&str>,
    services: &[EdgeService<'_>],
    renderer: &Renderer,
    prefix: &str,
    config: &[Artifact],
) -> Result<Vec<Artifact>, RenderError> {
    let files: Vec<FlyFile> = config
        .iter()
        .filter_map(|file| {
            let local = file.name.strip_prefix("edge/")?;
            Some(FlyFile {
                guest_path: toml_string(&guest_path(local, prefix)?),
                local_path: toml_string(local),
            })
        })
        .collect();
    let banned: Vec<&str> = services
        .iter()
        .filter(|(_, table)| table.ban.is_some())
        .map(|(service, _)| service.name.as_str())
        .collect();
    let context = minijinja::context! {
        app => toml_string(&edge.app),
        image => image.map(toml_string),
        listen => LISTEN,
        prefix,
        files,
        banned,
    };
    let app = minijinja::context! { app => &edge.app, prefix, listen => LISTEN, banned };
    Ok(vec![
        rendered(renderer, "fly.toml", EDGE_FLY_TOML, &context)?,
        rendered(renderer, "Containerfile", EDGE_CONTAINERFILE, &app)?,
        rendered(renderer, "entrypoint.sh", EDGE_ENTRYPOINT, &app)?,
    ])
}

/// A TOML basic string, quoted and escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
