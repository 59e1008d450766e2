//! The template engine: minijinja with built-in templates that a `templates/` folder overrides,
//! strict about undefined variables. What artifacts exist is each subsystem's business.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

pub const CADDYFILE: &str = "Caddyfile.j2";
pub const EDGE_NGINX: &str = "edge/nginx.conf.j2";
pub const EDGE_F2B_SERVER: &str = "edge/fail2ban/fail2ban.conf.j2";
pub const EDGE_F2B_JAILS: &str = "edge/fail2ban/jail.conf.j2";
pub const EDGE_F2B_FILTER: &str = "edge/fail2ban/filter.conf.j2";
pub const EDGE_F2B_ACTION: &str = "edge/fail2ban/action.conf.j2";
pub const EDGE_FLY_TOML: &str = "edge/fly.toml.j2";
pub const EDGE_CONTAINERFILE: &str = "edge/Containerfile.j2";
pub const EDGE_ENTRYPOINT: &str = "edge/entrypoint.sh.j2";

/// The templates compiled into the binary, by name.
const BUILT_IN: &[(&str, &str)] = &[
    (CADDYFILE, include_str!("../templates/Caddyfile.j2")),
    (EDGE_NGINX, include_str!("../templates/edge/nginx.conf.j2")),
    (
        EDGE_F2B_SERVER,
        include_str!("../templates/edge/fail2ban/fail2ban.conf.j2"),
    ),
    (
        EDGE_F2B_JAILS,
        include_str!("../templates/edge/fail2ban/jail.conf.j2"),
    ),
    (
        EDGE_F2B_FILTER,
        include_str!("../templates/edge/fail2ban/filter.conf.j2"),
    ),
    (
        EDGE_F2B_ACTION,
        include_str!("../templates/edge/fail2ban/action.conf.j2"),
    ),
    (EDGE_FLY_TOML, include_str!("../templates/edge/fly.toml.j2")),
    (
        EDGE_CONTAINERFILE,
        include_str!("../templates/edge/Containerfile.j2"),
    ),
    (
        EDGE_ENTRYPOINT,
        include_str!("../templates/edge/entrypoint.sh.j2"),
    ),
];

/// One rendered file, with the stable path it gets under `render --out`.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// What the operator names on the command line: `caddy/indri`.
    pub name: String,
    pub path: PathBuf,
    pub content: String,
}

/// A template that failed; minijinja's error (with its own causes) is the source, so the
/// printer shows each as a `caused by:` line.
#[derive(Debug, thiserror::Error)]
#[error("cannot render `{artifact}` from template `{template}`")]
pub struct RenderError {
    pub artifact: String,
    pub template: String,
    #[source]
    pub source: minijinja::Error,
}

pub struct Renderer {
    environment: Environment<'static>,
}

impl Renderer {
    /// Templates in `override_dir` win over the built-in ones of the same name.
    pub fn new(override_dir: Option<PathBuf>) -> Self {
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_trim_blocks(true);
        environment.set_lstrip_blocks(true);
        environment.set_keep_trailing_newline(true);
        environment.set_loader(move |name| {
            if let Some(path) = override_dir
                .as_ref()
                .map(|dir| dir.join(name))
                .filter(|path| path.is_file())
            {
                // Never through a link: one could put any file of this machine (such as
                // `/proc/self/environ`) into a rendered file that a diff then prints.
                let text = crate::files::read_regular(&path, crate::files::Links::Refuse)
                    .and_then(|bytes| Ok(String::from_utf8(bytes.unwrap_or_default())?));
                return text.map(Some).map_err(|error| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read `{}`: {error:#}", path.display()),
                    )
                });
            }
            Ok(BUILT_IN
                .iter()
                .find(|(built_in, _)| *built_in == name)
                .map(|(_, source)| source.to_string()))
        });
        Self { environment }
    }

    /// The override folder for a catalog in `catalog_dir`: `--templates`, else `templates/`
    /// beside the catalog.
    pub fn for_catalog(catalog_dir: &Path, templates: Option<&Path>) -> Self {
        let dir = templates
            .map(Path::to_path_buf)
            .or_else(|| Some(catalog_dir.join("templates")).filter(|dir| dir.is_dir()));
        Self::new(dir)
    }

    pub fn render(
        &self,
        artifact: &str,
        template: &str,
        context: impl Serialize,
    ) -> Result<String, RenderError> {
        let error = |source: minijinja::Error| RenderError {
            artifact: artifact.to_string(),
            template: template.to_string(),
            source,
        };
        self.environment
            .get_template(template)
            .and_then(|compiled| compiled.render(context))
            .map_err(error)
    }
}
