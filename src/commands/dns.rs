//! `boma dns-preview` and `boma dns-up`: the DNS stage, previewed or applied.

use crate::Outcome;
use crate::cli::{DnsPreviewArgs, DnsUpArgs, Global};
use crate::dns::DnsStage;
use crate::stage::{self, Context};
use crate::ui::Ui;

pub fn preview(global: &Global, args: &DnsPreviewArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    let mut dns = DnsStage::new(args.options.adopt, args.options.create_zone, false);
    stage::preview(&mut dns, &cx, args.exit_code)
}

pub fn up(global: &Global, args: &DnsUpArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    let mut dns = DnsStage::new(args.options.adopt, args.options.create_zone, args.force);
    stage::up(&mut dns, &cx, args.checksum.as_deref())
}
