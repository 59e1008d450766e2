//! How a build plan and a build read: one row an image (reference, where, status, digest, pinned
//! files), the tool's last lines for a failure; or JSON.

use serde::Serialize;

use super::plan::{Action, ImagePlan, ImagesPlan};
use crate::remote::{Finished, RemoteError, Transcript};
use crate::ui::{self, Report};

/// How many of the tool's last lines a failure shows (`-v` shows them all).
const TAIL: usize = 15;

#[derive(Debug, Clone, Serialize)]
pub struct ImageResult {
    pub name: String,
    pub reference: String,
    pub tag: String,
    pub revision: String,
    pub builder: String,
    /// `would build`, `up to date` in a plan; `pushed`, `built`, `up to date`, `failed` after.
    pub status: String,
    /// In a plan: the registry's answer (`has the tag`, `lacks the tag`, or why it cannot say).
    pub registry: String,
    pub digest: Option<String>,
    pub image_id: Option<String>,
    /// Pinned files that lag (plan) or were changed (build).
    pub bumped: Vec<String>,
    pub reason: Option<String>,
    /// The tool's last lines, for a failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    /// What the run left out or could not do without failing (a FIFO in the context).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ImageResult {
    pub fn planned(image: &ImagePlan) -> Self {
        let registry = match (&image.in_registry, &image.registry_note) {
            (Some(_), _) => "has the tag".to_string(),
            (None, Some(note)) => note.clone(),
            (None, None) => "lacks the tag".to_string(),
        };
        Self {
            name: image.name.clone(),
            reference: image.reference.clone(),
            tag: image.tag.clone(),
            revision: image.revision.clone(),
            builder: image.builder.clone(),
            status: match image.action {
                Action::Build => "would build",
                Action::UpToDate => "up to date",
            }
            .to_string(),
            registry,
            digest: image
                .in_registry
                .clone()
                .filter(|digest| !digest.is_empty()),
            image_id: None,
            bumped: image
                .bumps
                .iter()
                .filter(|bump| bump.behind)
                .map(|bump| bump.file.clone())
                .collect(),
            reason: None,
            log: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// What the build script said.
    pub fn read(&mut self, transcript: &Transcript, finished: Result<Finished, RemoteError>) {
        self.bumped.clear();
        self.image_id = transcript.facts.get("image-id").cloned();
        self.digest = transcript
            .facts
            .get("digest")
            .filter(|digest| !digest.is_empty())
            .cloned();
        let tail = transcript.details.len().saturating_sub(TAIL);
        match (&transcript.result, finished) {
            (_, Err(error)) => {
                self.status = "failed".into();
                self.reason = Some(error.one_line());
            }
            (Some((word, reason)), Ok(_)) => {
                self.status = match word.as_str() {
                    "pushed" => "pushed",
                    "built" => "built",
                    _ => "failed",
                }
                .into();
                if self.status == "failed" {
                    self.reason = Some(reason.clone());
                    self.log = transcript.details[tail..].to_vec();
                }
            }
            (None, Ok(finished)) => {
                self.status = "failed".into();
                self.reason = Some(format!(
                    "the build script ended early ({})",
                    finished
                        .code
                        .map_or("killed".to_string(), |code| format!("exit {code}"))
                ));
                self.log = transcript.details[tail..].to_vec();
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImagesReport {
    pub mode: &'static str,
    pub images: Vec<ImageResult>,
}

impl ImagesReport {
    pub fn planned(plan: &ImagesPlan) -> Self {
        Self {
            mode: "check",
            images: plan.images.iter().map(ImageResult::planned).collect(),
        }
    }

    pub fn failed(&self) -> usize {
        self.images
            .iter()
            .filter(|image| image.status == "failed")
            .count()
    }
}

impl Report for ImagesReport {
    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .images
            .iter()
            .map(|image| {
                let registry = if self.mode == "check" {
                    image.registry.clone()
                } else {
                    image.digest.clone().unwrap_or_else(|| "-".into())
                };
                vec![
                    image.name.clone(),
                    image.reference.clone(),
                    image.builder.clone(),
                    image.status.clone(),
                    registry,
                    if image.bumped.is_empty() {
                        "-".into()
                    } else {
                        image.bumped.join(", ")
                    },
                ]
            })
            .collect();
        let last = if self.mode == "check" {
            "REGISTRY"
        } else {
            "DIGEST"
        };
        let bumped = if self.mode == "check" {
            "BEHIND"
        } else {
            "PINNED"
        };
        let mut text = ui::table(
            &["IMAGE", "REFERENCE", "WHERE", "STATUS", last, bumped],
            &rows,
        );
        for image in self.images.iter().filter(|image| image.status == "failed") {
            text.push_str(&format!(
                "\n{}: {}\n",
                image.name,
                image.reason.as_deref().unwrap_or("failed")
            ));
            for line in &image.log {
                text.push_str(&format!("  {line}\n"));
            }
        }
        for image in &self.images {
            for warning in &image.warnings {
                text.push_str(&format!("{}: warning: {warning}\n", image.name));
            }
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn summary(&self) -> Option<String> {
        let count = |status: &str| {
            self.images
                .iter()
                .filter(|image| image.status == status)
                .count()
        };
        let pinned: usize = self.images.iter().map(|image| image.bumped.len()).sum();
        Some(if self.mode == "check" {
            format!(
                "container-build check: {} to build, {} up to date, {} behind",
                count("would build"),
                count("up to date"),
                crate::ui::counted(pinned, "pinned file")
            )
        } else {
            format!(
                "container-build: {} pushed, {} built, {} up to date, {} failed, {} pinned",
                count("pushed"),
                count("built"),
                count("up to date"),
                count("failed"),
                crate::ui::counted(pinned, "file")
            )
        })
    }
}
