//! Fly.io certificates for the public names the edge serves: read for every plan that reaches
//! Fly, requested for the names that have none. `fly-deploy` requests them with its deploy;
//! `boma up` runs them as a stage of their own after DNS, since Fly validates a name by the
//! CNAME that DNS publishes.

use std::collections::BTreeSet;

use serde::Serialize;

use super::flyctl::Flyctl;
use super::machines::{self, Machines};
use super::report::{CertificateLine, certificate_table};
use super::stage::client;
use super::{Deployer, EdgeError, services};
use crate::Outcome;
use crate::catalog::Catalog;
use crate::stage::{Context, PartWay, Stage, Summary, digest};
use crate::stop;
use crate::ui::Report;

/// Each public name served through the edge, with its certificate or `request`.
pub(super) fn read(api: &Machines, catalog: &Catalog) -> anyhow::Result<Vec<CertificateLine>> {
    let listed = api.certificates()?;
    let mut names = BTreeSet::new();
    for (service, _) in services(catalog) {
        names.extend(service.public.iter().cloned());
    }
    let mut lines = Vec::new();
    for hostname in names {
        let found = match listed.iter().find(|cert| cert.hostname == hostname) {
            Some(found) => Some(found.clone()),
            // The listing may be one page of many: ask for the name itself.
            None if listed.len() >= 20 => api.certificate(&hostname)?,
            None => None,
        };
        lines.push(match found {
            Some(found) => {
                // One not issued yet: its details say which DNS records it still waits for.
                let dns = match found.status.as_str() {
                    "active" | "ready" => Vec::new(),
                    _ => api
                        .certificate(&hostname)?
                        .map(|details| details.dns())
                        .unwrap_or_default(),
                };
                CertificateLine {
                    hostname,
                    status: found.status,
                    action: "present".into(),
                    dns,
                    reason: None,
                }
            }
            None => CertificateLine {
                hostname,
                status: "missing".into(),
                action: "request".into(),
                dns: Vec::new(),
                reason: None,
            },
        });
    }
    Ok(lines)
}

/// Requests a certificate for every line whose action is `request`, through flyctl when it
/// deploys, else the Machines API; a failure is the line's, and the others go on. A stop asked
/// of the run leaves the remaining lines as they are.
pub(super) fn request(
    api: &Machines,
    flyctl: Option<&Flyctl>,
    lines: &mut [CertificateLine],
    ui: &crate::ui::Ui,
) {
    for cert in lines.iter_mut().filter(|cert| cert.action == "request") {
        if stop::requested() {
            return;
        }
        ui.debug(&format!("requesting a certificate for {}", cert.hostname));
        let requested = match flyctl {
            Some(flyctl) => flyctl.certs_add(&cert.hostname).and_then(|()| {
                Ok(api
                    .certificate(&cert.hostname)?
                    .map(|found| machines::Requested {
                        status: found.status,
                        dns: Vec::new(),
                    })
                    .unwrap_or_else(|| machines::Requested {
                        status: "unknown".into(),
                        dns: Vec::new(),
                    }))
            }),
            None => api.request_certificate(&cert.hostname),
        };
        match requested {
            Ok(requested) => {
                cert.action = "requested".into();
                cert.status = requested.status;
                cert.dns = requested.dns;
            }
            Err(error) => {
                cert.action = "failed".into();
                cert.reason = Some(format!("{error:#}"));
            }
        }
    }
}

/// The certificates stage of `boma up`.
pub struct CertificatesStage {
    pub deployer: Deployer,
    api: Option<Machines>,
}

impl CertificatesStage {
    pub fn new(deployer: Deployer) -> Self {
        Self {
            deployer,
            api: None,
        }
    }
}

/// The certificate of every public name the edge serves: a plan, or what was requested.
#[derive(Debug, Clone, Serialize)]
pub struct Certificates {
    pub app: String,
    pub certificates: Vec<CertificateLine>,
}

impl Certificates {
    fn count(&self, action: &str) -> usize {
        self.certificates
            .iter()
            .filter(|cert| cert.action == action)
            .count()
    }
}

impl Report for Certificates {
    fn text(&self) -> String {
        certificate_table(&self.certificates)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn summary(&self) -> Option<String> {
        let mut line = format!(
            "certificates of {}: {} present, {} to request, {} requested",
            self.app,
            self.count("present"),
            self.count("request"),
            self.count("requested")
        );
        let failed = self.count("failed");
        if failed > 0 {
            line.push_str(&format!(", {failed} failed"));
        }
        Some(line)
    }
}

impl Stage for CertificatesStage {
    const NAME: &'static str = "certificates";
    const PREVIEW: &'static str = "boma plan";
    const SHOW_PLAN_BEFORE_APPLY: bool = false;
    type Plan = Certificates;
    type Applied = Certificates;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<Certificates> {
        let edge = cx.catalog.edge.as_ref().ok_or(EdgeError::NoEdge)?;
        let api = client(&mut self.api, cx, edge)?;
        let progress = cx.ui.spinner("reading the app's certificates");
        let certificates = read(api, cx.catalog);
        progress.finish();
        Ok(Certificates {
            app: edge.name().to_string(),
            certificates: certificates?,
        })
    }

    fn summary(plan: &Certificates) -> Summary {
        Summary {
            create: plan.count("request"),
            unchanged: plan.certificates.len() - plan.count("request"),
            ..Summary::default()
        }
    }

    fn checksum(plan: &Certificates) -> String {
        let requested = plan
            .certificates
            .iter()
            .filter(|cert| cert.action == "request")
            .map(|cert| cert.hostname.as_str());
        digest(std::iter::once(plan.app.as_str()).chain(requested))
    }

    fn apply(&mut self, cx: &Context<'_>, mut plan: Certificates) -> anyhow::Result<Certificates> {
        let edge = cx.catalog.edge.as_ref().ok_or(EdgeError::NoEdge)?;
        let flyctl = self.deployer.flyctl(cx.catalog, edge)?;
        let api = client(&mut self.api, cx, edge)?;
        let progress = cx.ui.spinner("requesting certificates");
        request(api, flyctl.as_ref(), &mut plan.certificates, cx.ui);
        progress.finish();
        if let Err(stopped) = stop::check("while requesting certificates") {
            return Err(PartWay::error(plan, stopped.into()));
        }
        Ok(plan)
    }

    fn outcome(applied: &Certificates) -> Outcome {
        if applied.count("failed") > 0 {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }
}
