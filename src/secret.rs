//! Secret references (`env`, `file`, `command`) and the `Secret` type that never shows its value.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

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
                let value =
                    std::fs::read_to_string(path).map_err(|error| SecretError::FileUnreadable {
                        name: name.clone(),
                        path: shown.clone(),
                        reason: error.to_string(),
                    })?;
                non_empty(value).ok_or(SecretError::FileEmpty { name, path: shown })
            }
            SecretSource::Command(argv) => run_command(name, argv),
        }
    }
}

fn non_empty(value: String) -> Option<Secret> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| Secret(trimmed.to_string()))
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
    let mut stdout = String::new();
    let mut stderr = String::new();
    // Read stderr on a thread so that a chatty command cannot block on a full pipe.
    let stderr_pipe = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr_pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut stdout);
    }
    if let Ok(text) = stderr_reader.join() {
        stderr = text;
    }
    let status = child
        .wait()
        .map_err(|error| SecretError::CommandFailedToStart {
            name: name.clone(),
            program: program.clone(),
            reason: error.to_string(),
        })?;
    if !status.success() {
        // The first line of stderr says why (`pass`: "not in the password store"); stdout may hold
        // part of a secret and is never shown.
        let detail = stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
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
    fn missing_file_is_an_error() {
        let result = reference(SecretSource::File("/nonexistent/boma/token".into())).resolve();
        assert!(matches!(result, Err(SecretError::FileUnreadable { .. })));
    }
}
