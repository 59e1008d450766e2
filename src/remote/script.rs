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
}

impl HostScript {
    pub fn new(body: &'static str) -> Self {
        Self {
            body,
            settings: Vec::new(),
        }
    }

    /// Adds a setting. `key` is a shell variable name chosen in the code, never from input.
    pub fn set(mut self, key: &'static str, value: impl ToString) -> Self {
        debug_assert!(
            key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "setting `{key}` is not a plain variable name"
        );
        self.settings.push((key, value.to_string()));
        self
    }

    /// The whole text `sh -c` runs: the prelude, the settings header, the body.
    pub fn text(&self) -> String {
        let mut text = String::from(PRELUDE);
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

/// Single-quoted for sh: every byte literal, a `'` closed, escaped and reopened.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// What a host script said, line by line.
#[derive(Debug, Default)]
pub struct Transcript {
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
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "step" => return Some(rest),
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
        let mut transcript = Transcript::default();
        assert_eq!(transcript.take("step validate"), Some("validate"));
        assert_eq!(transcript.take("caddy v2.6.2 h1:abc"), None);
        transcript.take("detail Error: adapting config");
        transcript.take("result failed caddy validate rejected it");
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
}
