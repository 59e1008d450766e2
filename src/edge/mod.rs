//! The public edge: an nginx with fail2ban on a Fly.io app in front of the tailnet, rendered from
//! each service's `edge` table and `[edge]`, validated with the real tools, and rolled out by
//! `fly-deploy`.

mod certificates;
mod deployed;
mod error;
mod fail2ban;
mod flyctl;
mod host;
mod image;
mod machines;
mod nginx;
mod report;
mod secrets;
mod stage;
mod validate;

pub use certificates::CertificatesStage;
pub use error::EdgeError;
pub use fail2ban::{Sample, filter_file, samples};
pub use host::{EdgeHostPlan, EdgeHostStage};
pub use machines::Machines;
pub use stage::{Deployer, EdgeStage};

use std::path::PathBuf;

use crate::catalog::{Catalog, Placement, Service, ServiceEdge};
use crate::render::{Artifact, RenderError, Renderer};

/// Where the edge lives on its machine: nginx runs as `nginx -p PREFIX -c conf/nginx.conf`,
/// fail2ban from `PREFIX/fail2ban`.
pub const PREFIX: &str = "/srv/edge/";
/// Where the machine keeps what must survive a restart or a deploy (fail2ban's database,
/// Tailscale's state): `[edge].volume` is mounted here.
pub const STATE: &str = "/srv/edge/state";
/// The addresses Fly's proxy connects from (its private networks): the only ones whose
/// `Fly-Client-IP` header is believed.
pub const FLY_PROXY: [&str; 2] = ["172.16.0.0/12", "fdaa::/16"];

/// Where an edge on a host is reached from: its own Caddy, on loopback.
pub const LOOPBACK: [&str; 2] = ["127.0.0.1", "::1"];

/// A service served through the edge, with its `edge` table.
pub type EdgeService<'a> = (&'a Service, &'a ServiceEdge);

/// The edge's artifacts, as they go onto its machines (under [`PREFIX`]) or its host (under
/// `[edge].prefix`).
pub fn artifacts(catalog: &Catalog, renderer: &Renderer) -> anyhow::Result<Vec<Artifact>> {
    let prefix = match catalog.edge.as_ref().map(|edge| &edge.placement) {
        Some(Placement::Host(on)) => on.prefix.as_str(),
        _ => PREFIX,
    };
    artifacts_under(catalog, renderer, prefix)
}

/// The machines' image: `[edge].image` as written, or, when it names one of the catalog's images
/// (by name or repository), the reference the images stage builds and pushes for the commit
/// that last changed that image's context: what `boma up` rolls the edge to after building it.
pub fn image(catalog: &Catalog) -> anyhow::Result<Option<String>> {
    let Some(wanted) = catalog.edge.as_ref().and_then(|edge| edge.image.as_deref()) else {
        return Ok(None);
    };
    Ok(Some(
        crate::images::reference(catalog, wanted)?.unwrap_or_else(|| wanted.to_string()),
    ))
}

/// The edge's artifacts with every absolute path under `prefix` (ending in `/`): the validation
/// and the tests run the very same files in a scratch folder.
pub fn artifacts_under(
    catalog: &Catalog,
    renderer: &Renderer,
    prefix: &str,
) -> anyhow::Result<Vec<Artifact>> {
    let Some(edge) = &catalog.edge else {
        return Ok(Vec::new());
    };
    let services = services(catalog);
    let mut files = nginx::files(&catalog.dir, edge, &services, renderer, prefix)?;
    files.extend(fail2ban::files(edge, &services, renderer, prefix)?);
    if edge.on_host().is_some() {
        // A host runs nginx and fail2ban itself: no image, no fly.toml.
        return Ok(files);
    }
    let machines_image = image(catalog)?;
    let app = image::files(
        edge,
        machines_image.as_deref(),
        &services,
        renderer,
        prefix,
        &files,
    )?;
    files.extend(app);
    Ok(files)
}

/// The services with an `edge` table and something to serve (public and private names).
pub fn services(catalog: &Catalog) -> Vec<EdgeService<'_>> {
    catalog.edge_services()
}

/// Where a file of the rendered edge folder (`nginx.conf`, `fail2ban/jail.conf`) goes on the
/// machine; `None` for the files that build or describe the app rather than configure it.
pub fn guest_path(local: &str, prefix: &str) -> Option<String> {
    match local {
        "fly.toml" | "Containerfile" | "entrypoint.sh" => None,
        _ if local.starts_with("fail2ban/") => Some(format!("{prefix}{local}")),
        _ => Some(format!("{prefix}conf/{local}")),
    }
}

/// The artifact `edge/NAME` rendered from its template, which goes by the same name (the name a
/// `templates/` override and a render error use).
fn rendered(
    renderer: &Renderer,
    local: &str,
    template: &str,
    context: impl serde::Serialize,
) -> Result<Artifact, RenderError> {
    let content = renderer.render(&format!("edge/{local}"), template, context)?;
    Ok(artifact(local, content))
}

/// An artifact `edge/NAME`.
fn artifact(local: &str, content: String) -> Artifact {
    let name = format!("edge/{local}");
    Artifact {
        path: PathBuf::from(&name),
        name,
        content,
    }
}
