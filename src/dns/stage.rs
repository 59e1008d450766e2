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
    /// What the plan compared: kept so a write that timed out can be re-planned.
    wanted: Vec<super::Rrset>,
    options: Option<plan::Options>,
}

impl DnsStage {
    pub fn new(adopt: bool, create_zone: bool, force: bool) -> Self {
        Self {
            adopt,
            create_zone,
            force,
            provider: None,
            max_change_percent: 100,
            wanted: Vec::new(),
            options: None,
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
        let plan = plan::plan(&dns.zone, &wanted, &existing, &options);
        self.wanted = wanted;
        self.options = Some(options);
        Ok(DnsPlan {
            plan,
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
        if plan.is_empty() {
            return Ok(DnsApplied {
                line: format!("no changes for zone {}", plan.zone),
            });
        }
        let mut result = self.send(cx, &plan);
        let mut replanned = "";
        if let Err(failure) = &result
            && unsure_write(failure)
        {
            // The server may have applied the write that timed out: read the zone again and
            // send only what is still missing, once.
            cx.ui
                .status("a write timed out; reading the zone again before going on");
            let again = self.replan(&plan.zone)?;
            replanned = " after re-reading the zone once";
            result = if again.is_empty() {
                Ok(())
            } else {
                self.send(cx, &again)
            };
        }
        let Some(provider) = self.provider.as_ref() else {
            return Err(DnsError::NotPlanned.into());
        };
        result.map_err(|failure| part_way(cx, &plan, provider.name(), failure))?;
        Ok(DnsApplied {
            line: format!(
                "applied {} changes to zone {} ({} HTTP requests{replanned})",
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

impl DnsStage {
    fn send(&mut self, cx: &Context<'_>, plan: &Plan) -> Result<(), providers::ApplyError> {
        let Some(provider) = self.provider.as_mut() else {
            return Err(providers::ApplyError {
                applied: 0,
                total: plan.changes.len(),
                cause: DnsError::NotPlanned.into(),
            });
        };
        let bar = cx.ui.bar(
            plan.changes.len(),
            &format!("applying to {}", provider.name()),
        );
        let result = provider.apply(&plan.changes, &mut |done| bar.set(done));
        bar.finish();
        result
    }

    /// The plan again, against the zone as it is now.
    fn replan(&mut self, zone: &str) -> anyhow::Result<Plan> {
        let (Some(provider), Some(options)) = (self.provider.as_mut(), self.options) else {
            return Err(DnsError::NotPlanned.into());
        };
        let existing = provider.list()?;
        Ok(plan::plan(zone, &self.wanted, &existing, &options))
    }
}

/// Whether the failure is a write that timed out (the server may have applied it).
fn unsure_write(failure: &providers::ApplyError) -> bool {
    failure.cause.chain().any(|cause| {
        cause
            .downcast_ref::<crate::http::HttpError>()
            .is_some_and(|error| error.unsure_write)
    })
}

/// Lists what was and was not applied, and says whether running again converges.
fn part_way(
    cx: &Context<'_>,
    plan: &Plan,
    provider: &str,
    failure: providers::ApplyError,
) -> anyhow::Error {
    let listed = |changes: &[plan::Change]| {
        let names: Vec<String> = changes.iter().map(describe).collect();
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    };
    let applied = failure.applied.min(plan.changes.len());
    cx.ui
        .status(&format!("applied: {}", listed(&plan.changes[..applied])));
    cx.ui.status(&format!(
        "not applied: {}",
        listed(&plan.changes[applied..])
    ));
    let what = if applied == 0 {
        "failed; nothing was applied".to_string()
    } else {
        "stopped part-way; a re-run converges".to_string()
    };
    anyhow::Error::new(failure).context(format!(
        "dns-up on zone `{}` ({provider}) {what}",
        plan.zone
    ))
}

fn describe(change: &plan::Change) -> String {
    format!(
        "{}{} {}",
        change.sign(),
        change.rrset().name,
        change.rrset().record_type
    )
}
