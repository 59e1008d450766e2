//! The node_exporter textfile: one gauge family a fact, labelled by service, tool and host,
//! written to a temp file beside the target and renamed over it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::Finding;

pub fn write(path: &Path, findings: &[Finding]) -> anyhow::Result<()> {
    let text = render(findings);
    crate::files::write_if_changed(path, text.as_bytes())
        .with_context(|| format!("cannot write the Prometheus textfile `{}`", path.display()))?;
    Ok(())
}

/// A metric family: its name, its help text, and its value for a finding (none: no sample).
type Family = (&'static str, &'static str, fn(&Finding) -> Option<f64>);

/// The textfile. A check on this machine is labelled with its host name (what a dashboard
/// matches against), not the report's "this machine".
pub fn render(findings: &[Finding]) -> String {
    let machine = crate::provenance::machine();
    let families: [Family; 4] = [
        (
            "boma_backup_last_archive_timestamp_seconds",
            "Time of the newest archive or snapshot, seconds since the epoch.",
            |finding| finding.newest_time,
        ),
        (
            "boma_backup_max_age_seconds",
            "The oldest the newest archive may be (the catalog's max_age).",
            |finding| Some(finding.max_age_seconds as f64),
        ),
        (
            "boma_backup_check_success",
            "1 when every check of the backup passed, else 0.",
            |finding| Some(if finding.ok() { 1.0 } else { 0.0 }),
        ),
        (
            "boma_backup_check_duration_seconds",
            "How long the backup's checks took on its host.",
            |finding| Some(finding.duration_seconds),
        ),
    ];
    let mut text = String::new();
    for (name, help, value) in families {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} gauge");
        for finding in findings {
            if let Some(value) = value(finding) {
                let tool = serde_json::to_value(finding.tool)
                    .ok()
                    .and_then(|tool| tool.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    text,
                    "{name}{{service=\"{}\",tool=\"{}\",host=\"{}\"}} {}",
                    label(&finding.service),
                    label(&tool),
                    label(if finding.host == crate::remote::THIS_MACHINE {
                        &machine
                    } else {
                        &finding.host
                    }),
                    number(value)
                );
            }
        }
    }
    text
}

/// A label value in the text format: `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.3}")
    }
}
