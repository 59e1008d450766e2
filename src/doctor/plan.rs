//! What each stage of a catalog needs, worked out from the catalog alone (nothing is read yet):
//! the tools on this machine, the secrets, each host with what it must have, and the APIs whose
//! tokens must be accepted.

use crate::caddy;
use crate::catalog::{Address, BackupTool, Catalog, DnsProvider, Host};
use crate::cli::StageName;
use crate::remote::this_machine;
use crate::render::Renderer;

/// A program boma runs, how it tells its version, and the Debian package that has it.
#[derive(Debug, PartialEq, Eq)]
pub struct Program {
    pub name: &'static str,
    /// The arguments that make it print its version on its first line (stdout or stderr).
    pub version: &'static str,
    /// What to install when it is missing.
    pub install: &'static str,
}

const fn program(name: &'static str, version: &'static str, install: &'static str) -> Program {
    Program {
        name,
        version,
        install,
    }
}

pub const SSH: Program = program("ssh", "-V", "apt-get install openssh-client");
pub const CADDY: Program = program("caddy", "version", "apt-get install caddy");
pub const NGINX: Program = program("nginx", "-v", "apt-get install nginx-light");
pub const FAIL2BAN_CLIENT: Program =
    program("fail2ban-client", "--version", "apt-get install fail2ban");
pub const FAIL2BAN_REGEX: Program =
    program("fail2ban-regex", "--version", "apt-get install fail2ban");
pub const PODMAN: Program = program("podman", "--version", "apt-get install podman");
pub const BUILDAH: Program = program("buildah", "--version", "apt-get install buildah");
pub const DOCKER: Program = program("docker", "--version", "apt-get install docker.io");
pub const GIT: Program = program("git", "--version", "apt-get install git");
pub const TAR: Program = program("tar", "--version", "apt-get install tar");
pub const BORG: Program = program("borg", "--version", "apt-get install borgbackup");
pub const BORGMATIC: Program = program("borgmatic", "--version", "apt-get install borgmatic");
pub const RESTIC: Program = program("restic", "version", "apt-get install restic");
pub const SQLITE3: Program = program("sqlite3", "--version", "apt-get install sqlite3");
pub const NAMED_CHECKZONE: Program =
    program("named-checkzone", "-v", "apt-get install bind9-utils");
pub const FLYCTL: Program = program(
    "flyctl",
    "version",
    "see https://fly.io/docs/flyctl/install/",
);
pub const FLY: Program = program("fly", "version", "see https://fly.io/docs/flyctl/install/");

/// A tool a stage needs on one host (or on this machine).
#[derive(Debug)]
pub struct ToolNeed {
    pub stage: StageName,
    /// What the table calls it: the program, or `build tool` when any of several will do.
    pub label: &'static str,
    /// The programs that would do, in the order the stage picks them; the first found counts.
    pub candidates: Vec<&'static Program>,
    /// Why the stage does without it, when it does: then its absence is no failure.
    pub optional: Option<&'static str>,
    /// Whether the stage also finds it in an sbin folder a non-root PATH lacks (the edge's
    /// checks here do; a host runs a tool through `sudo` with sudo's own path).
    pub beyond_path: bool,
}

/// The Caddy a host's sites need: its live file, the modules its Caddyfile names, its reload.
#[derive(Debug)]
pub struct CaddyNeed {
    pub live: String,
    pub modules: Vec<String>,
    pub reload: String,
}

/// The edge on a host: where it runs from and how it reloads.
#[derive(Debug)]
pub struct EdgeNeed {
    pub prefix: String,
    pub reload_nginx: String,
    pub reload_fail2ban: String,
}

/// One host (or this machine) and what the stages that use it need there.
#[derive(Debug)]
pub struct HostNeeds {
    pub host: Host,
    /// The stages that reach it, in `up`'s order: each needs its connection.
    pub stages: Vec<StageName>,
    pub tools: Vec<ToolNeed>,
    pub caddy: Option<CaddyNeed>,
    pub edge: Option<EdgeNeed>,
}

impl HostNeeds {
    fn new(host: Host) -> Self {
        Self {
            host,
            stages: Vec::new(),
            tools: Vec::new(),
            caddy: None,
            edge: None,
        }
    }

    /// This machine's tools, not a host of the catalog.
    pub fn is_this_machine(&self) -> bool {
        self.host.name == crate::remote::THIS_MACHINE
    }

    fn used_by(&mut self, stage: StageName) {
        if !self.stages.contains(&stage) {
            self.stages.push(stage);
        }
    }

    fn tool(&mut self, stage: StageName, program: &'static Program) {
        self.need(ToolNeed {
            stage,
            label: program.name,
            candidates: vec![program],
            optional: None,
            beyond_path: false,
        });
    }

    fn need(&mut self, tool: ToolNeed) {
        let known = self
            .tools
            .iter()
            .any(|have| have.stage == tool.stage && have.label == tool.label);
        if !known {
            self.tools.push(tool);
        }
    }
}

/// A secret a stage reads.
#[derive(Debug, PartialEq, Eq)]
pub struct SecretNeed {
    pub stage: StageName,
    pub name: String,
    /// What it is for, in the words of the stage's own errors.
    pub what: String,
}

/// A read-only call that proves a token is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiNeed {
    /// Read a zone from its provider (`[dns.zones.NAME]`, or the one `[dns]`).
    Zone { zone: String },
    /// Ask a registry for an image's manifest with `[registries.NAME]`'s credentials.
    Registry { registry: String, image: String },
    /// List the Fly.io app's machines.
    FlyMachines,
    /// List the Fly.io app's certificates.
    FlyCertificates,
}

impl ApiNeed {
    pub fn stage(&self) -> StageName {
        match self {
            Self::Zone { .. } => StageName::Dns,
            Self::Registry { .. } => StageName::Images,
            Self::FlyMachines => StageName::Edge,
            Self::FlyCertificates => StageName::Certificates,
        }
    }
}

/// Everything the catalog's stages need.
#[derive(Debug)]
pub struct Needs {
    /// This machine first, then the catalog's hosts that some stage reaches, in catalog order.
    pub hosts: Vec<HostNeeds>,
    pub secrets: Vec<SecretNeed>,
    pub apis: Vec<ApiNeed>,
}

impl Needs {
    fn secret(&mut self, stage: StageName, name: &str, what: String) {
        if !self
            .secrets
            .iter()
            .any(|need| need.stage == stage && need.name == name)
        {
            self.secrets.push(SecretNeed {
                stage,
                name: name.to_string(),
                what,
            });
        }
    }

    /// The needs of the catalog's host `name`, made on first use.
    fn host(&mut self, catalog: &Catalog, name: &str, stage: StageName) -> &mut HostNeeds {
        let index = match self.hosts.iter().position(|needs| needs.host.name == name) {
            Some(index) => index,
            None => {
                let host = catalog.hosts.get(name).cloned().unwrap_or_else(|| Host {
                    name: name.to_string(),
                    ..this_machine()
                });
                self.hosts.push(HostNeeds::new(host));
                self.hosts.len() - 1
            }
        };
        let needs = &mut self.hosts[index];
        needs.used_by(stage);
        needs
    }

    fn this_machine(&mut self) -> &mut HostNeeds {
        &mut self.hosts[0]
    }
}

/// What every stage of `catalog` needs. Renders each host's Caddyfile to know its modules.
pub fn needs(catalog: &Catalog, renderer: &Renderer) -> anyhow::Result<Needs> {
    let mut needs = Needs {
        hosts: vec![HostNeeds::new(this_machine())],
        secrets: Vec::new(),
        apis: Vec::new(),
    };
    images(catalog, &mut needs);
    caddy(catalog, renderer, &mut needs)?;
    edge(catalog, &mut needs);
    dns(catalog, &mut needs);
    certificates(catalog, &mut needs);
    backups(catalog, &mut needs);
    // A stage that reaches a host over SSH needs ssh here.
    let mut over_ssh: Vec<StageName> = Vec::new();
    for host in needs.hosts.iter().skip(1) {
        if matches!(host.host.address, Address::Remote(_)) {
            for stage in &host.stages {
                if !over_ssh.contains(stage) {
                    over_ssh.push(*stage);
                }
            }
        }
    }
    for stage in over_ssh {
        needs.this_machine().tool(stage, &SSH);
    }
    // In `up`'s order, each stage's tools as they were added.
    needs.this_machine().tools.sort_by_key(|tool| tool.stage);
    // Catalog order: the hosts were met stage by stage.
    let order: Vec<&String> = catalog.hosts.keys().collect();
    needs.hosts[1..].sort_by_key(|host| order.iter().position(|name| **name == host.host.name));
    Ok(needs)
}

fn images(catalog: &Catalog, needs: &mut Needs) {
    let images: Vec<_> = catalog
        .services
        .values()
        .filter_map(|service| service.container.as_ref())
        .chain(catalog.images.values())
        .collect();
    if images.is_empty() {
        return;
    }
    let stage = StageName::Images;
    let chosen = catalog.defaults.build_tool.map(|tool| match tool {
        crate::catalog::BuildTool::Podman => &PODMAN,
        crate::catalog::BuildTool::Buildah => &BUILDAH,
        crate::catalog::BuildTool::Docker => &DOCKER,
    });
    // The tag is the commit that last changed the context: git, on this machine.
    needs.this_machine().tool(stage, &GIT);
    if images.iter().any(|image| image.builder.is_none()) {
        needs.this_machine().need(ToolNeed {
            stage,
            label: chosen.map_or("build tool", |program| program.name),
            candidates: chosen
                .map_or_else(|| vec![&PODMAN, &BUILDAH, &DOCKER], |program| vec![program]),
            optional: None,
            beyond_path: false,
        });
    }
    // The builders use this machine's choice (images::tool::for_builds); when it cannot be made
    // here, this machine's row says why, and a builder is checked for podman.
    let builds_here = images.iter().any(|image| image.builder.is_none());
    let for_builders = crate::images::build_tool(catalog.defaults.build_tool, builds_here)
        .ok()
        .map(|tool| match tool {
            crate::catalog::BuildTool::Podman => &PODMAN,
            crate::catalog::BuildTool::Buildah => &BUILDAH,
            crate::catalog::BuildTool::Docker => &DOCKER,
        });
    for builder in images.iter().filter_map(|image| image.builder.as_deref()) {
        let host = needs.host(catalog, builder, stage);
        host.tool(stage, for_builders.or(chosen).unwrap_or(&PODMAN));
        host.tool(stage, &TAR);
    }
    for image in &images {
        let (registry_host, _) = image.image.split_once('/').unwrap_or((&image.image, ""));
        let Some(registry) = catalog
            .registries
            .values()
            .find(|registry| registry.host == registry_host)
        else {
            continue;
        };
        let Some(password) = &registry.password else {
            continue;
        };
        needs.secret(
            stage,
            password,
            format!("the password of [registries.{}]", registry.name),
        );
        let api = ApiNeed::Registry {
            registry: registry.name.clone(),
            image: image.image.clone(),
        };
        let asked = needs.apis.iter().any(|have| {
            matches!(have, ApiNeed::Registry { registry: name, .. } if *name == registry.name)
        });
        if !asked {
            needs.apis.push(api);
        }
    }
}

fn caddy(catalog: &Catalog, renderer: &Renderer, needs: &mut Needs) -> anyhow::Result<()> {
    let stage = StageName::Caddy;
    for (host, content) in caddy::caddyfiles(catalog, renderer)? {
        let modules = caddy::plan::required_modules(&content);
        let needs = needs.host(catalog, &host.name, stage);
        needs.tool(stage, &CADDY);
        needs.caddy = Some(CaddyNeed {
            live: host.caddy.config.clone(),
            modules,
            reload: host.caddy.reload.clone(),
        });
    }
    Ok(())
}

fn edge(catalog: &Catalog, needs: &mut Needs) {
    let Some(edge) = &catalog.edge else {
        return;
    };
    let stage = StageName::Edge;
    match (edge.fly(), edge.on_host()) {
        (Some(fly), _) => {
            // The render is checked here with the real tools before anything is sent.
            for program in [&NGINX, &FAIL2BAN_CLIENT, &FAIL2BAN_REGEX] {
                needs.this_machine().need(ToolNeed {
                    stage,
                    label: program.name,
                    candidates: vec![program],
                    optional: None,
                    beyond_path: true,
                });
            }
            needs.this_machine().need(ToolNeed {
                stage,
                label: "flyctl",
                candidates: vec![&FLYCTL, &FLY],
                optional: Some("boma rolls the machines through the Machines API"),
                beyond_path: false,
            });
            needs.secret(stage, &fly.token, "`edge.token`".to_string());
            if let Some(tailnet) = &edge.tailnet {
                needs.secret(
                    stage,
                    &tailnet.auth_key,
                    "`edge.tailnet.auth_key`".to_string(),
                );
            }
            needs.apis.push(ApiNeed::FlyMachines);
        }
        (None, Some(on)) => {
            let host = needs.host(catalog, &on.host, stage);
            // Through sudo, sudo's own path finds them; without, the SSH user's PATH must.
            let beyond_path = host.host.sudo;
            for program in [&NGINX, &FAIL2BAN_CLIENT] {
                host.need(ToolNeed {
                    stage,
                    label: program.name,
                    candidates: vec![program],
                    optional: None,
                    beyond_path,
                });
            }
            host.edge = Some(EdgeNeed {
                prefix: on.prefix.clone(),
                reload_nginx: on.reload_nginx.clone(),
                reload_fail2ban: on.reload_fail2ban.clone(),
            });
        }
        (None, None) => {}
    }
}

fn dns(catalog: &Catalog, needs: &mut Needs) {
    let Some(dns) = &catalog.dns else {
        return;
    };
    let stage = StageName::Dns;
    if dns
        .zones
        .iter()
        .any(|zone| zone.provider == DnsProvider::Zonefile)
    {
        needs.this_machine().need(ToolNeed {
            stage,
            label: NAMED_CHECKZONE.name,
            candidates: vec![&NAMED_CHECKZONE],
            optional: Some("zone files are written without its check"),
            beyond_path: false,
        });
    }
    for zone in &dns.zones {
        let Some(credentials) = &zone.credentials else {
            continue;
        };
        needs.secret(
            stage,
            credentials,
            format!("the credentials of zone `{}`", zone.name),
        );
        needs.apis.push(ApiNeed::Zone {
            zone: zone.name.clone(),
        });
    }
}

fn certificates(catalog: &Catalog, needs: &mut Needs) {
    let Some(fly) = catalog.edge.as_ref().and_then(|edge| edge.fly()) else {
        return;
    };
    if catalog.edge_services().is_empty() {
        return;
    }
    let stage = StageName::Certificates;
    needs.secret(stage, &fly.token, "`edge.token`".to_string());
    needs.apis.push(ApiNeed::FlyCertificates);
}

fn backups(catalog: &Catalog, needs: &mut Needs) {
    let stage = StageName::Backups;
    for (service, backup) in catalog
        .services
        .iter()
        .filter_map(|(name, service)| Some((name, service.backup.as_ref()?)))
    {
        let programs: &[&'static Program] = match backup.tool {
            BackupTool::Borg => &[&BORG],
            // borgmatic runs borg.
            BackupTool::Borgmatic => &[&BORGMATIC, &BORG],
            BackupTool::Restic => &[&RESTIC],
        };
        let host = match &backup.host {
            Some(name) => needs.host(catalog, name, stage),
            None => needs.this_machine(),
        };
        for program in programs {
            host.tool(stage, program);
        }
        if !backup.sqlite.is_empty() {
            host.tool(stage, &SQLITE3);
        }
        if let Some(passphrase) = &backup.passphrase {
            needs.secret(
                stage,
                passphrase,
                format!("the passphrase of `{service}`'s backup"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CATALOG: &str = r#"
version = 1
[defaults]
build_tool = "buildah"
[secrets]
pdns = { env = "PDNS_KEY" }
fly = { env = "FLY_TOKEN" }
forge = { file = "forge.pw" }
restic = { env = "RESTIC_PW" }
unused = { env = "NOBODY_READS_IT" }
[dns.zones.public]
provider = "powerdns"
zone = "example.org"
url = "http://127.0.0.1:8081"
credentials = "pdns"
[dns.zones.private]
provider = "zonefile"
zone = "ops.example.org"
names = "private"
path = "ops.zone"
[hosts.web]
address = "web.example.net"
sudo = true
[hosts.web.caddy]
dns_challenge = { provider = "gandi", token_env = "GANDI_TOKEN" }
[hosts.nas]
address = "nas.example.net"
[hosts.here]
address = "local"
ip = "192.0.2.1"
[edge]
app = "proxy"
target = "proxy.fly.dev"
token = "fly"
resolver = "100.100.100.100"
[registries.forge]
host = "forge.example.org"
user = "ops"
password = "forge"
[services.app]
host = "web"
upstream = "http://127.0.0.1:8000"
names = ["app.ops.example.org"]
public = ["app.example.org"]
[services.app.edge]
[services.app.container]
context = "app"
image = "forge.example.org/ops/app"
version = "1"
builder = "nas"
[services.app.backup]
tool = "restic"
host = "nas"
repository = "/srv/restic"
passphrase = "restic"
max_age = "1d"
sqlite = ["/srv/app.db"]
[services.wiki]
host = "here"
upstream = "http://127.0.0.1:8001"
names = ["wiki.ops.example.org"]
[services.wiki.backup]
tool = "borgmatic"
repository = "/srv/borg"
config = "/etc/borgmatic.d/wiki.yaml"
max_age = "1d"
"#;

    fn needs_of(text: &str) -> Needs {
        let catalog = crate::catalog::parse_str(Path::new("services.toml"), text)
            .unwrap_or_else(|errors| panic!("{errors}"));
        let renderer = Renderer::new(None);
        needs(&catalog, &renderer).unwrap_or_else(|error| panic!("{error:#}"))
    }

    fn tools(host: &HostNeeds) -> Vec<String> {
        host.tools
            .iter()
            .map(|tool| {
                let names: Vec<&str> = tool.candidates.iter().map(|program| program.name).collect();
                let optional = if tool.optional.is_some() { "?" } else { "" };
                format!("{} {}{optional}", tool.stage.as_str(), names.join("|"))
            })
            .collect()
    }

    #[test]
    fn each_stage_needs_only_what_the_catalog_uses() {
        let needs = needs_of(CATALOG);
        let hosts: Vec<&str> = needs
            .hosts
            .iter()
            .map(|needs| needs.host.name.as_str())
            .collect();
        // The catalog's order: its sections are sorted by name.
        assert_eq!(hosts, ["this machine", "here", "nas", "web"]);
        assert_eq!(
            tools(&needs.hosts[0]),
            [
                "images git",
                "images ssh",
                "caddy ssh",
                "edge nginx",
                "edge fail2ban-client",
                "edge fail2ban-regex",
                "edge flyctl|fly?",
                "dns named-checkzone?",
                "backups borgmatic",
                "backups borg",
                "backups ssh",
            ]
        );
        // `app` builds on `nas`: no build tool here, buildah (the catalog's) there.
        let nas = &needs.hosts[2];
        assert_eq!(nas.stages, [StageName::Images, StageName::Backups]);
        assert_eq!(
            tools(nas),
            [
                "images buildah",
                "images tar",
                "backups restic",
                "backups sqlite3"
            ]
        );
        let web = &needs.hosts[3];
        assert!(web.host.sudo);
        assert_eq!(tools(web), ["caddy caddy"]);
        let caddy = web
            .caddy
            .as_ref()
            .unwrap_or_else(|| panic!("web serves sites"));
        assert_eq!(caddy.modules, ["dns.providers.gandi"]);
        assert_eq!(caddy.reload, "systemctl reload caddy");
        assert_eq!(needs.hosts[1].host.address, Address::Local);
        assert_eq!(tools(&needs.hosts[1]), ["caddy caddy"]);
        let secrets: Vec<String> = needs
            .secrets
            .iter()
            .map(|need| format!("{} {}", need.stage.as_str(), need.name))
            .collect();
        assert_eq!(
            secrets,
            [
                "images forge",
                "edge fly",
                "dns pdns",
                "certificates fly",
                "backups restic"
            ]
        );
        assert_eq!(
            needs.apis,
            [
                ApiNeed::Registry {
                    registry: "forge".into(),
                    image: "forge.example.org/ops/app".into()
                },
                ApiNeed::FlyMachines,
                ApiNeed::Zone {
                    zone: "public".into()
                },
                ApiNeed::FlyCertificates,
            ]
        );
    }

    #[test]
    fn an_edge_on_a_host_is_checked_there_and_local_builds_need_a_tool_here() {
        let needs = needs_of(
            r#"
version = 1
[dns]
provider = "zonefile"
zone = "example.net"
path = "example.net.zone"
[hosts.vps]
address = "vps.example.net"
[edge]
host = "vps"
[services.site]
host = "vps"
upstream = "http://127.0.0.1:8000"
names = ["site.example.net"]
[images.caddy]
context = "caddy"
image = "forge.example.org/ops/caddy"
version = "2"
"#,
        );
        assert_eq!(
            tools(&needs.hosts[0]),
            [
                "images git",
                "images podman|buildah|docker",
                "caddy ssh",
                "edge ssh",
                "dns named-checkzone?",
            ]
        );
        let vps = &needs.hosts[1];
        assert_eq!(vps.stages, [StageName::Caddy, StageName::Edge]);
        assert_eq!(
            tools(vps),
            ["caddy caddy", "edge nginx", "edge fail2ban-client"]
        );
        assert!(
            vps.edge
                .as_ref()
                .is_some_and(|edge| edge.prefix == "/srv/edge/")
        );
        assert!(needs.secrets.is_empty() && needs.apis.is_empty());
    }
}
