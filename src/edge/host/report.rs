//! How the edge host's plan and push read: the diff, one row for the host, the details of a
//! failure; or JSON. The host reports are Caddy's: the same script protocol and statuses.

use super::plan::EdgeHostPlan;
use crate::caddy::report::{HostReport, counted, json, text};
use crate::ui::Report;

impl Report for EdgeHostPlan {
    fn text(&self) -> String {
        let mut out = text(std::slice::from_ref(&self.host));
        if let Some(checksum) = self.shown_checksum() {
            out.push_str(&format!("checksum {checksum}\n"));
        }
        out
    }
    fn json(&self) -> serde_json::Value {
        json(
            "check",
            self.shown_checksum(),
            std::slice::from_ref(&self.host),
        )
    }
    fn summary(&self) -> Option<String> {
        Some(counted("edge-push", std::slice::from_ref(&self.host)))
    }
}

/// What a push did on the edge's host.
#[derive(Debug)]
pub struct EdgePushed {
    pub host: HostReport,
}

impl Report for EdgePushed {
    fn text(&self) -> String {
        text(std::slice::from_ref(&self.host))
    }
    fn json(&self) -> serde_json::Value {
        json("push", None, std::slice::from_ref(&self.host))
    }
    fn summary(&self) -> Option<String> {
        Some(counted("edge-push", std::slice::from_ref(&self.host)))
    }
}
