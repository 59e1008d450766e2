//! Progress on a terminal: spinners, bars and one line a host; no-ops when hidden.

use std::time::Duration;

/// A progress indicator that is a no-op when hidden and clears itself when dropped.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub fn hidden() -> Self {
        Self(None)
    }

    pub fn spinner(message: &str) -> Self {
        let bar = indicatif::ProgressBar::new_spinner().with_message(super::clean(message));
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(Some(bar))
    }

    pub fn bar(total: usize, message: &str) -> Self {
        let style = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        Self(Some(
            indicatif::ProgressBar::new(total as u64)
                .with_style(style)
                .with_message(super::clean(message)),
        ))
    }

    pub fn set(&self, done: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(done as u64);
        }
    }

    pub fn message(&self, text: &str) {
        if let Some(bar) = &self.0 {
            // Masked like every other text: a machine id or a host's step can carry a secret.
            bar.set_message(super::clean(text));
        }
    }

    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// Spinners that share the terminal, one a host.
pub struct Bars(Option<indicatif::MultiProgress>);

impl Bars {
    pub fn shown(shown: bool) -> Self {
        Self(shown.then(indicatif::MultiProgress::new))
    }

    pub fn add(&self, name: &str) -> Progress {
        Progress(self.0.as_ref().map(|bars| {
            let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<16} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            let bar = bars.add(indicatif::ProgressBar::new_spinner().with_style(style));
            bar.set_prefix(super::clean(name));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        }))
    }
}
