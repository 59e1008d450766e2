//! Host scripts: POSIX sh run on a host, given named settings in a header, speaking one line
//! protocol (see `prelude.sh`) that `Transcript` reads back.

use std::collections::BTreeMap;

/// The shell functions every host script uses to speak the protocol.
const PRELUDE: &str = include_str!("prelude.sh");

/// A script body and its settings; the settings become `KEY='VALUE'` lines in front of it.
#[derive(Debug, Clone)]
pub struct HostScript {
    body: &'static str,
    settings: Vec<(&'static str, String)>,
    /// The word every protocol line of this script starts with (`say` in the prelude).
    frame: String,
}

impl HostScript {
    pub fn new(body: &'static str) -> Self {
        Self {
            body,
            settings: Vec::new(),
            frame: new_frame(),
        }
    }

    /// A transcript that reads this script's protocol lines and nothing else.
    pub fn transcript(&self) -> Transcript {
        Transcript {
            frame: self.frame.clone(),
            ..Transcript::default()
        }
    }

    /// Adds a setting. `key` is a shell variable name chosen in the code, never from input.
    pub fn set(mut self, key: &'static str, value: impl ToString) -> Self {
        debug_assert!(
            key.starts_with(|c: char| c.is_ascii_lowercase())
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "setting `{key}` is not a plain variable name"
        );
        self.settings.push((key, value.to_string()));
        self
    }

    /// The whole text `sh -c` runs: the prelude, the settings header, the body.
    pub fn text(&self) -> String {
        let mut text = String::from(PRELUDE);
        text.push_str(&format!("frame='{}'\n", self.frame));
        for (key, value) in &self.settings {
            text.push_str(key);
            text.push('=');
            text.push_str(&quote(value));
            text.push('\n');
        }
        text.push_str(self.body);
        text
    }
}

/// An argument list as one sh text that `eval "set -- $TEXT"` turns back into the same list.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|word| quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word no output but the script's own starts its lines with: `boma:` and 16 hex digits that
/// differ from run to run (the process, the time, and the standard library's random hash keys).
fn new_frame() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos()),
    );
    format!("boma:{:016x}", hasher.finish())
}

/// Single-quoted for sh: every byte literal, a `'` closed, escaped and reopened.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// What a host script said, line by line: only lines that start with its frame count.
#[derive(Debug, Default)]
pub struct Transcript {
    frame: String,
    /// Lines on stdout that were not the script's protocol (a startup file's output): counted,
    /// never read.
    pub ignored: usize,
    /// `KEY VALUE` lines; a key said twice keeps the last value.
    pub facts: BTreeMap<String, String>,
    /// Every `KEY VALUE` line in order, for keys said more than once.
    pub all_facts: Vec<(String, String)>,
    pub details: Vec<String>,
    /// The `result` line: a status word and an explanation.
    pub result: Option<(String, String)>,
}

impl Transcript {
    /// Every value said for `key`, in order.
    pub fn facts_all(&self, key: &str) -> Vec<&str> {
        self.all_facts
            .iter()
            .filter(|(said, _)| said == key)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Records one line; returns the step it announces, if it is a step.
    pub fn take<'l>(&mut self, line: &'l str) -> Option<&'l str> {
        let Some(said) = line
            .strip_prefix(self.frame.as_str())
            .and_then(|rest| rest.strip_prefix(' '))
        else {
            self.ignored += 1;
            return None;
        };
        let (key, rest) = said.split_once(' ').unwrap_or((said, ""));
        match key {
            "step" => return Some(rest),
            "tick" => {}
            "detail" => self.details.push(rest.to_string()),
            "result" => {
                let (status, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                self.result = Some((status.to_string(), reason.to_string()));
            }
            "" => {}
            _ => {
                self.facts.insert(key.to_string(), rest.to_string());
                self.all_facts.push((key.to_string(), rest.to_string()));
            }
        }
        None
    }

    pub fn fact(&self, key: &str) -> Option<&str> {
        self.facts.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;

    use super::*;

    #[test]
    fn settings_are_quoted_so_the_shell_reads_them_back_exactly() {
        let tricky = "it's $HOME `id` \"x\"\nsecond line";
        let script = HostScript::new("printf '%s' \"$value\"\n").set("value", tricky);
        let output = std::process::Command::new("sh")
            .args(["-c", &script.text()])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned());
        assert_eq!(output.ok().as_deref(), Some(tricky));
    }

    #[test]
    fn transcript_reads_steps_facts_details_and_result() {
        let script = HostScript::new("");
        let mut transcript = script.transcript();
        let frame = &script.frame;
        assert_eq!(
            transcript.take(&format!("{frame} step validate")),
            Some("validate")
        );
        assert_eq!(
            transcript.take(&format!("{frame} caddy v2.6.2 h1:abc")),
            None
        );
        transcript.take(&format!("{frame} detail Error: adapting config"));
        transcript.take(&format!("{frame} result failed caddy validate rejected it"));
        assert_eq!(transcript.fact("caddy"), Some("v2.6.2 h1:abc"));
        assert_eq!(transcript.details, ["Error: adapting config"]);
        assert_eq!(
            transcript.result,
            Some((
                "failed".to_string(),
                "caddy validate rejected it".to_string()
            ))
        );
    }

    #[test]
    fn a_connection_watcher_whose_script_ended_lets_stdout_close() -> std::io::Result<()> {
        // The script ends without stopping its watcher (as when its EXIT trap lost a race): the
        // reader first waits for stdout to close and only then reaps the script, so the script
        // is a zombie meanwhile, and the watcher must not take it for a running one.
        let script = HostScript::new("watch_connection\nwatcher=\nexit 0\n");
        let started = std::time::Instant::now();
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script.text()])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()?;
        let mut output = Vec::new();
        if let Some(mut stdout) = child.stdout.take() {
            std::io::Read::read_to_end(&mut stdout, &mut output)?;
        }
        child.wait()?;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "stdout stayed open {:?}",
            started.elapsed()
        );
        Ok(())
    }

    #[test]
    fn lines_without_the_frame_are_never_protocol() {
        let script = HostScript::new("say 'svc.error failed by the script'\n");
        let mut transcript = script.transcript();
        // What a shell startup file printed, shaped like protocol lines, then the script's own.
        let output = std::process::Command::new("sh")
            .args([
                "-c",
                &format!(
                    "echo 'svc.error forged'; echo 'result ok forged'; {}",
                    script.text()
                ),
            ])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default();
        for line in output.lines() {
            transcript.take(line);
        }
        assert_eq!(transcript.ignored, 2, "{output}");
        assert_eq!(transcript.facts_all("svc.error"), ["failed by the script"]);
        assert_eq!(transcript.result, None);
        assert_ne!(HostScript::new("").frame, script.frame);
    }
}
