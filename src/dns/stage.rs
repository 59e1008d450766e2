//! The DNS stage: read the zone, plan against the catalog's records, apply the change set.

use anyhow::Context as _;

use super::plan::{self, Plan};
use super::providers::{self, Provider};
use super::{DnsError, desired, report};
use crate::Outcome;
use crate::stage::{Context, Refusal, Stage, Summary};
use crate::ui::Report;

/// The DNS stage with its command-line choices.
pub struct DnsStage {
    pub adopt: bool,
    pub create_zone: bool,
    /// Apply even beyond `dns.max_change_percent`.
    pub force: bool,
    provider: Option<Box<dyn Provider>>,
    max_change_percent: u8,
}

impl DnsStage {
    pub fn new(adopt: bool, create_zone: bool, force: bool) -> Self {
        Self {
            adopt,
            create_zone,
            force,
            provider: None,
            max_change_percent: 100,
        }
    }
}

/// A zone's plan with the provider it was read from.
pub struct DnsPlan {
    pub plan: Plan,
    pub provider: &'static str,
}

impl Report for DnsPlan {
    fn text(&self) -> String {
        report::text(&self.plan, self.provider)
    }
    fn json(&self) -> serde_json::Value {
        report::json(&self.plan, self.provider)
    }
    fn markdown(&self) -> String {
        report::markdown(&self.plan, self.provider)
    }
}

/// What `dns-up` sent: a line on stderr, no data (the plan printed before is the data).
pub struct DnsApplied {
    line: String,
}

impl Report for DnsApplied {
    fn text(&self) -> String {
        String::new()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn summary(&self) -> Option<String> {
        Some(self.line.clone())
    }
}

impl Stage for DnsStage {
    const NAME: &'static str = "dns";
    const PREVIEW: &'static str = "dns-preview";
    const SHOW_PLAN_BEFORE_APPLY: bool = true;
    type Plan = DnsPlan;
    type Applied = DnsApplied;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<DnsPlan> {
        let dns = cx.catalog.dns.as_ref().ok_or(DnsError::NoDnsSection)?;
        let provider = providers::open(dns, cx.catalog, self.create_zone, cx.ui.logger())?;
        let provider = self.provider.insert(provider);
        self.max_change_percent = dns.max_change_percent;
        let spinner = cx.ui.spinner(&format!(
            "reading zone {} from {}",
            dns.zone,
            provider.name()
        ));
        let existing = provider
            .list()
            .with_context(|| format!("cannot read zone `{}` from {}", dns.zone, provider.name()));
        spinner.finish();
        let existing = existing?;
        cx.ui
            .debug(&format!("{} HTTP requests", provider.requests()));
        let wanted: Vec<_> = desired(cx.catalog)
            .into_iter()
            .map(|rrset| provider.normalize(rrset))
            .collect();
        let options = plan::Options {
            owns_everything: provider.owns_everything(),
            purge: dns.purge,
            adopt: self.adopt,
        };
        Ok(DnsPlan {
            plan: plan::plan(&dns.zone, &wanted, &existing, &options),
            provider: provider.name(),
        })
    }

    fn summary(plan: &DnsPlan) -> Summary {
        let summary = plan.plan.summary();
        Summary {
            create: summary.creates,
            update: summary.updates,
            delete: summary.deletes,
            unchanged: summary.unchanged,
            conflict: summary.conflicts,
            failed: 0,
        }
    }

    fn checksum(plan: &DnsPlan) -> String {
        plan.plan.checksum.clone()
    }

    fn gate(&self, plan: &DnsPlan) -> Result<(), Refusal> {
        let plan = &plan.plan;
        if let Some(conflict) = plan.conflicts.first() {
            return Err(Refusal::Conflicts {
                count: plan.conflicts.len(),
                example: conflict.wanted.name.clone(),
                record_type: conflict.foreign.record_type.clone(),
            });
        }
        let limit = self.max_change_percent;
        match plan.change_percent() {
            Some(percent) if plan.owned >= 10 && percent > u64::from(limit) && !self.force => {
                Err(Refusal::ChangeLimit {
                    percent,
                    owned: plan.owned,
                    limit,
                })
            }
            _ => Ok(()),
        }
    }

    fn apply(&mut self, cx: &Context<'_>, plan: DnsPlan) -> anyhow::Result<DnsApplied> {
        let DnsPlan { plan, .. } = plan;
        let Some(provider) = self.provider.as_mut() else {
            return Err(DnsError::NotPlanned.into());
        };
        if plan.is_empty() {
            return Ok(DnsApplied {
                line: format!("no changes for zone {}", plan.zone),
            });
        }
        let bar = cx.ui.bar(
            plan.changes.len(),
            &format!("applying to {}", provider.name()),
        );
        let result = provider.apply(&plan.changes, &mut |done| bar.set(done));
        bar.finish();
        if let Err(failure) = result {
            let listed = |changes: &[plan::Change]| {
                let names: Vec<String> = changes.iter().map(describe).collect();
                if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names.join(", ")
                }
            };
            cx.ui.status(&format!(
                "applied: {}",
                listed(&plan.changes[..failure.applied])
            ));
            cx.ui.status(&format!(
                "not applied: {}",
                listed(&plan.changes[failure.applied..])
            ));
            return Err(anyhow::Error::new(failure).context(format!(
                "dns-up on zone `{}` ({}) stopped part-way; a re-run converges",
                plan.zone,
                provider.name()
            )));
        }
        Ok(DnsApplied {
            line: format!(
                "applied {} changes to zone {} ({} HTTP requests)",
                plan.changes.len(),
                plan.zone,
                provider.requests()
            ),
        })
    }

    fn outcome(_applied: &DnsApplied) -> Outcome {
        Outcome::Done
    }
}

fn describe(change: &plan::Change) -> String {
    format!(
        "{}{} {}",
        change.sign(),
        change.rrset().name,
        change.rrset().record_type
    )
}
