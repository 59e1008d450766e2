//! Secret references (`env`, `file`, `command`) and the `Secret` type that never shows its value.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::position::Position;

/// Where a named secret comes from; resolving it is deferred to the command that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub name: String,
    pub source: SecretSource,
    /// Where the catalog declares it, so that a failure can point there.
    pub declared_at: Position,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    /// Already joined to the catalog's folder when relative.
    File(PathBuf),
    Command(Vec<String>),
}

/// The most a secret file or a secret command's output may hold.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;
/// How long a secret command may run (`BOMA_SECRET_TIMEOUT` seconds overrides).
const SECRET_TIMEOUT: Duration = Duration::from_secs(30);

/// Every secret value read in this process, so that the printer can mask them wherever they turn
/// up (an API that echoes its token, a command's error message).
static READ_SO_FAR: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `text` with every secret read so far replaced by `[redacted]` (values under 4 bytes aside:
/// masking those would mangle ordinary text), written as is or escaped: an API that echoes a
/// token inside JSON writes `\"`, `\\`, `\n` or `\u00e9` for some of its characters, and
/// a Markdown cell writes `\|`.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let Ok(known) = READ_SO_FAR.lock() else {
        return std::borrow::Cow::Borrowed(text);
    };
    let mut text = std::borrow::Cow::Borrowed(text);
    for value in known.iter().filter(|value| value.len() >= 4) {
        if text.contains(value.as_str()) {
            text = std::borrow::Cow::Owned(text.replace(value.as_str(), "[redacted]"));
        }
        if text.contains('\\')
            && let Some(masked) = mask_escaped(&text, value)
        {
            text = std::borrow::Cow::Owned(masked);
        }
    }
    text
}

/// `text` with every place that reads as `secret` once backslash escapes are decoded replaced by
/// `[redacted]`; `None` when there is none.
fn mask_escaped(text: &str, secret: &str) -> Option<String> {
    let first = secret.chars().next()?;
    let mut masked = String::new();
    let (mut copied, mut index) = (0, 0);
    while let Some(rest) = text.get(index..).filter(|rest| !rest.is_empty()) {
        if rest.starts_with(['\\', first])
            && let Some(length) = escaped_length(rest, secret)
        {
            masked.push_str(&text[copied..index]);
            masked.push_str("[redacted]");
            index += length;
            copied = index;
            continue;
        }
        index += rest.chars().next().map_or(1, char::len_utf8);
    }
    (copied > 0).then(|| {
        masked.push_str(&text[copied..]);
        masked
    })
}

/// How many bytes at the start of `text` spell `secret`, each character as is or escaped (the
/// longest such run). Every offset a character can end at is kept, since a backslash in the
/// secret may stand as is or as `\\`: no backtracking, no recursion, whatever its length.
fn escaped_length(text: &str, secret: &str) -> Option<usize> {
    let mut ends = vec![0usize];
    for wanted in secret.chars() {
        let mut next = Vec::new();
        for &offset in &ends {
            let rest = &text[offset..];
            if rest.starts_with(wanted) {
                next.push(offset + wanted.len_utf8());
            }
            if let Some((decoded, length)) = unescape(rest)
                && decoded == wanted
            {
                next.push(offset + length);
            }
        }
        next.sort_unstable();
        next.dedup();
        if next.is_empty() {
            return None;
        }
        ends = next;
    }
    ends.last().copied()
}

/// The character an escape at the start of `text` stands for, and its length: JSON's (`\n`,
/// `\t`, `\uXXXX` with surrogate pairs, ...) and a backslash before any ASCII punctuation (JSON's
/// `\"`, `\\`, `\/`, Markdown's `\|`).
fn unescape(text: &str) -> Option<(char, usize)> {
    let rest = text.strip_prefix('\\')?;
    let escaped = rest.chars().next()?;
    let simple = match escaped {
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        c if c.is_ascii_punctuation() => Some(c),
        _ => None,
    };
    if let Some(decoded) = simple {
        return Some((decoded, 2));
    }
    let unit = |at: &str| {
        at.strip_prefix('u')
            .and_then(|hex| hex.get(..4))
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
    };
    let high = unit(rest)?;
    if (0xd800..0xdc00).contains(&high) {
        let low = rest[5..].strip_prefix('\\').and_then(unit)?;
        let combined = 0x10000 + ((high - 0xd800) << 10) + low.checked_sub(0xdc00)?;
        return (low < 0xe000)
            .then(|| char::from_u32(combined))
            .flatten()
            .map(|c| (c, 12));
    }
    char::from_u32(high).map(|c| (c, 6))
}

fn remember(value: &str) {
    if let Ok(mut known) = READ_SO_FAR.lock()
        && !known.iter().any(|old| old == value)
    {
        known.push(value.to_string());
        // Longest first, so a secret that contains another is masked whole.
        known.sort_by_key(|value| std::cmp::Reverse(value.len()));
    }
}

/// A resolved secret. Its `Debug` and `Display` print `[redacted]`; only `expose` reveals it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a secret could not be read. It names the secret and its source, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{name}`: environment variable `{variable}` is not set")]
    EnvMissing { name: String, variable: String },
    #[error("secret `{name}`: environment variable `{variable}` is empty")]
    EnvEmpty { name: String, variable: String },
    #[error("secret `{name}`: cannot read `{path}`: {reason}")]
    FileUnreadable {
        name: String,
        path: String,
        reason: String,
    },
    #[error("secret `{name}`: file `{path}` is empty")]
    FileEmpty { name: String, path: String },
    #[error("secret `{name}`: command `{program}` not found on PATH")]
    CommandNotFound { name: String, program: String },
    #[error("secret `{name}`: command `{program}` could not run: {reason}")]
    CommandFailedToStart {
        name: String,
        program: String,
        reason: String,
    },
    #[error("secret `{name}`: command `{program}` exited with {status}{detail}")]
    CommandFailed {
        name: String,
        program: String,
        status: String,
        detail: String,
    },
    #[error("secret `{name}`: command `{program}` printed nothing")]
    CommandEmpty { name: String, program: String },
}

impl crate::hint::Hint for SecretError {
    /// What to set: the variable, the file or the command the catalog reads it from.
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::EnvMissing { variable, .. } | Self::EnvEmpty { variable, .. } => {
                format!("set `{variable}` in boma's environment, e.g. export {variable}=...")
            }
            Self::FileUnreadable { path, .. } | Self::FileEmpty { path, .. } => {
                format!("write the secret on one line to `{path}` (mode 0600)")
            }
            Self::CommandNotFound { name, program } => {
                format!("install `{program}`, or change the `command` of [secrets].{name}")
            }
            Self::CommandFailedToStart { name, .. }
            | Self::CommandFailed { name, .. }
            | Self::CommandEmpty { name, .. } => format!(
                "run the `command` of [secrets].{name} yourself: it must print the secret and exit 0"
            ),
        })
    }
}

impl SecretRef {
    /// Reads the value now. Trailing newlines and surrounding spaces are trimmed.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        let name = self.name.clone();
        match &self.source {
            SecretSource::Env(variable) => match std::env::var_os(variable) {
                None => Err(SecretError::EnvMissing {
                    name,
                    variable: variable.clone(),
                }),
                Some(value) => {
                    non_empty(value.to_string_lossy().into_owned()).ok_or(SecretError::EnvEmpty {
                        name,
                        variable: variable.clone(),
                    })
                }
            },
            SecretSource::File(path) => {
                let shown = path.display().to_string();
                let unreadable = |reason: String| SecretError::FileUnreadable {
                    name: name.clone(),
                    path: shown.clone(),
                    reason,
                };
                // A FIFO would block the read and a device never end it: regular files only.
                let metadata =
                    std::fs::metadata(path).map_err(|error| unreadable(error.to_string()))?;
                if !metadata.is_file() {
                    return Err(unreadable(
                        "it is not a regular file (a folder, a FIFO or a device)".to_string(),
                    ));
                }
                let mut bytes = Vec::new();
                std::fs::File::open(path)
                    .and_then(|file| file.take(MAX_SECRET_BYTES + 1).read_to_end(&mut bytes))
                    .map_err(|error| unreadable(error.to_string()))?;
                if bytes.len() as u64 > MAX_SECRET_BYTES {
                    return Err(unreadable(format!(
                        "it holds more than {} KiB, more than a secret",
                        MAX_SECRET_BYTES >> 10
                    )));
                }
                let value = String::from_utf8(bytes)
                    .map_err(|_| unreadable("it is not UTF-8 text".to_string()))?;
                non_empty(value).ok_or(SecretError::FileEmpty { name, path: shown })
            }
            SecretSource::Command(argv) => run_command(name, argv),
        }
    }
}

fn non_empty(value: String) -> Option<Secret> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| {
        remember(trimmed);
        Secret(trimmed.to_string())
    })
}

fn run_command(name: String, argv: &[String]) -> Result<Secret, SecretError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(SecretError::CommandEmpty {
            name,
            program: String::new(),
        });
    };
    let resolved = which::which(program).map_err(|_| SecretError::CommandNotFound {
        name: name.clone(),
        program: program.clone(),
    })?;
    let mut child = Command::new(resolved)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| SecretError::CommandFailedToStart {
            name: name.clone(),
            program: program.clone(),
            reason: error.to_string(),
        })?;
    let stdout_pipe = capped_reader(child.stdout.take());
    let stderr_pipe = capped_reader(child.stderr.take());
    let timeout = secret_timeout();
    let deadline = Instant::now() + timeout;
    let mut stdout: Option<Vec<u8>> = None;
    let fail = |status: String| SecretError::CommandFailed {
        name: name.clone(),
        program: program.clone(),
        status,
        detail: String::new(),
    };
    let status = loop {
        if stdout.is_none() {
            stdout = stdout_pipe.try_recv().ok();
        }
        // A command that prints without end is stopped as soon as it passes the cap.
        if stdout
            .as_ref()
            .is_some_and(|bytes| bytes.len() as u64 > MAX_SECRET_BYTES)
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "more than {} KiB of output",
                MAX_SECRET_BYTES >> 10
            )));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("no answer within {}s", timeout.as_secs_f64())));
            }
            Err(error) => {
                return Err(SecretError::CommandFailedToStart {
                    name: name.clone(),
                    program: program.clone(),
                    reason: error.to_string(),
                });
            }
        }
    };
    // A command that exited has closed its pipes, unless it left a child holding them: then
    // what was read by now is all there is.
    let stdout = stdout
        .or_else(|| stdout_pipe.recv_timeout(Duration::from_secs(1)).ok())
        .unwrap_or_default();
    let stderr = stderr_pipe
        .recv_timeout(Duration::from_secs(1))
        .unwrap_or_default();
    if stdout.len() as u64 > MAX_SECRET_BYTES {
        return Err(fail(format!(
            "more than {} KiB of output",
            MAX_SECRET_BYTES >> 10
        )));
    }
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    if !status.success() {
        // The first line of stderr says why (`pass`: "not in the password store"); stdout may hold
        // part of a secret and is never shown. Every secret is masked before the line is cut, so
        // the cut cannot leave part of one that the printer would no longer recognise.
        let detail = stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .map(|line| redact(&mask(line, &stdout)).into_owned())
            .map(|line| format!(": {}", line.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        let status = status
            .code()
            .map_or_else(|| "a signal".to_string(), |code| format!("status {code}"));
        return Err(SecretError::CommandFailed {
            name,
            program: program.clone(),
            status,
            detail,
        });
    }
    non_empty(stdout).ok_or(SecretError::CommandEmpty {
        name,
        program: program.clone(),
    })
}

/// Reads a pipe on a thread, up to one byte past the cap, and sends what it read.
fn capped_reader(pipe: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(pipe) = pipe {
            let _ = pipe.take(MAX_SECRET_BYTES + 1).read_to_end(&mut bytes);
        }
        let _ = sender.send(bytes);
    });
    receiver
}

/// `line` with whatever the command printed on stdout masked: a failing command may echo the
/// secret in its error.
fn mask(line: &str, stdout: &str) -> String {
    let mut line = line.to_string();
    let whole = stdout.trim();
    let parts = std::iter::once(whole).chain(stdout.lines().map(str::trim));
    for part in parts.filter(|part| part.len() >= 4) {
        line = line.replace(part, "[redacted]");
    }
    line
}

/// `BOMA_SECRET_TIMEOUT` seconds when it is a sane number, else 30 s.
fn secret_timeout() -> Duration {
    std::env::var("BOMA_SECRET_TIMEOUT")
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds <= 3600.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .unwrap_or(SECRET_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(source: SecretSource) -> SecretRef {
        SecretRef {
            name: "demo".into(),
            source,
            declared_at: Position { line: 1, column: 1 },
        }
    }

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret("hunter2".into());
        assert_eq!(format!("{secret}"), "[redacted]");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn command_output_is_trimmed() {
        let secret = reference(SecretSource::Command(vec![
            "printf".into(),
            "  s3cret\\n".into(),
        ]))
        .resolve();
        assert_eq!(
            secret.map(|s| s.expose().to_string()).ok().as_deref(),
            Some("s3cret")
        );
    }

    #[test]
    fn failing_command_names_the_secret_not_the_output() {
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "echo leaked-value; echo 'not in store' >&2; exit 3".into(),
        ];
        let error = reference(SecretSource::Command(argv))
            .resolve()
            .map(|_| ())
            .err()
            .map(|e| e.to_string());
        let message = error.unwrap_or_default();
        assert_eq!(
            message,
            "secret `demo`: command `sh` exited with status 3: not in store"
        );
    }

    #[test]
    fn missing_program_and_empty_output_are_errors() {
        let missing =
            reference(SecretSource::Command(vec!["no-such-program-boma".into()])).resolve();
        assert!(matches!(missing, Err(SecretError::CommandNotFound { .. })));
        let empty = reference(SecretSource::Command(vec!["true".into()])).resolve();
        assert!(matches!(empty, Err(SecretError::CommandEmpty { .. })));
    }

    #[test]
    fn escaped_forms_of_a_secret_are_masked_and_plain_text_is_not() {
        let secret = "q\"b\\n|é🔑\n\x1bz";
        // As serde_json, an ASCII-only encoder (surrogate pairs), Go (`\u003c`-style) and a
        // Markdown cell write it, each inside other text.
        let forms = [
            r#"q\"b\\n|é🔑\n\u001bz"#,
            r#"q\"b\\n|\u00e9\ud83d\udd11\n\u001bz"#,
            r#"\u0071\u0022b\\n\|\u00E9🔑\u000a\u001Bz"#,
        ];
        for form in forms {
            assert_eq!(
                mask_escaped(&format!("said: {form}; end"), secret).as_deref(),
                Some("said: [redacted]; end"),
                "{form}"
            );
        }
        // A backslash in the secret as is, next to one that is escaped.
        assert_eq!(
            mask_escaped(r"a\b\\c\\", "b\\c\\").as_deref(),
            Some(r"a\[redacted]")
        );
        for clean in [
            r#"q\"b\\n|é🔑\n"#,
            r"\\\\\\",
            r"\u12",
            r"\ud83d\u0041",
            "no escapes",
        ] {
            assert_eq!(mask_escaped(clean, secret), None, "{clean}");
        }
    }

    #[test]
    fn missing_file_is_an_error() {
        let result = reference(SecretSource::File("/nonexistent/boma/token".into())).resolve();
        assert!(matches!(result, Err(SecretError::FileUnreadable { .. })));
    }
}
