//! The images stage: plan what each image needs (build, push, pin), apply exactly that.

use super::plan::{Action, ImagesPlan, ImagesStage};
use super::report::ImagesReport;
use crate::Outcome;
use crate::stage::{Context, Stage, Summary, digest};

impl Stage for ImagesStage {
    const NAME: &'static str = "images";
    const PREVIEW: &'static str = "container-build --check";
    const SHOW_PLAN_BEFORE_APPLY: bool = false;
    type Plan = ImagesPlan;
    type Applied = ImagesReport;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<ImagesPlan> {
        self.read(cx)
    }

    fn summary(plan: &ImagesPlan) -> Summary {
        let mut summary = Summary::default();
        for image in &plan.images {
            let behind =
                image.action == Action::Build || image.bumps.iter().any(|bump| bump.behind);
            *if behind {
                &mut summary.update
            } else {
                &mut summary.unchanged
            } += 1;
        }
        summary
    }

    fn checksum(plan: &ImagesPlan) -> String {
        let parts = plan.images.iter().flat_map(|image| {
            [
                image.name.as_str(),
                image.reference.as_str(),
                image.revision.as_str(),
            ]
        });
        digest(parts)
    }

    fn apply(&mut self, cx: &Context<'_>, plan: ImagesPlan) -> anyhow::Result<ImagesReport> {
        super::apply::apply(cx, plan)
    }

    fn outcome(applied: &ImagesReport) -> Outcome {
        if applied.failed() > 0 {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }
}
