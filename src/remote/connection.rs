//! One open way to run a host script: an SSH session (through its master) or this machine.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::{HostScript, RemoteError};

/// An open way to run commands on one host.
pub enum Connection {
    Ssh(openssh::Session),
    Local,
}

/// What a finished script left behind, besides the lines it printed.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was killed by a signal or the connection dropped.
    pub code: Option<i32>,
    pub stderr: String,
}

impl Connection {
    /// Runs the host script with `input` on stdin, handing each stdout line to `on_line` as it
    /// arrives.
    pub async fn run(
        &self,
        script: &HostScript,
        input: &[u8],
        on_line: impl FnMut(&str),
    ) -> Result<Finished, RemoteError> {
        let fail = |error: &dyn std::fmt::Display| {
            RemoteError::Run(std::io::Error::other(error.to_string()))
        };
        let text = script.text();
        match self {
            Self::Ssh(session) => {
                let mut child = session
                    .command("env")
                    .args(["LC_ALL=C", "sh", "-c", &text, "boma"])
                    .stdin(openssh::Stdio::piped())
                    .stdout(openssh::Stdio::piped())
                    .stderr(openssh::Stdio::piped())
                    .spawn()
                    .await
                    .map_err(|error| fail(&error))?;
                let stdin = child.stdin().take();
                let stdout = child.stdout().take();
                let stderr = child.stderr().take();
                let stderr = exchange(stdin, stdout, stderr, input, on_line)
                    .await
                    .map_err(|error| fail(&error))?;
                let code = match child.wait().await {
                    Ok(status) => status.code(),
                    Err(openssh::Error::RemoteProcessTerminated) => None,
                    Err(error) => return Err(fail(&error)),
                };
                Ok(Finished { code, stderr })
            }
            Self::Local => {
                let mut child = tokio::process::Command::new("sh")
                    .args(["-c", &text, "boma"])
                    .env("LC_ALL", "C")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    // Not killed when boma stops: like a remote script whose connection closed,
                    // it meets a closed pipe at its next line and cleans up (restores, unlocks).
                    .kill_on_drop(false)
                    .spawn()
                    .map_err(|error| fail(&error))?;
                let stdin = child.stdin.take();
                let stdout = child.stdout.take();
                let stderr = child.stderr.take();
                let stderr = exchange(stdin, stdout, stderr, input, on_line)
                    .await
                    .map_err(|error| fail(&error))?;
                let status = child.wait().await.map_err(|error| fail(&error))?;
                Ok(Finished {
                    code: status.code(),
                    stderr,
                })
            }
        }
    }

    /// Closes the master now (dropping the connection does the same, synchronously).
    pub async fn close(self) {
        if let Self::Ssh(session) = self {
            // A master that is already gone has nothing left to close.
            let _ = session.close().await;
        }
    }
}

/// Writes `input`, reads stdout line by line and stderr to the end, all at once so no pipe fills.
async fn exchange(
    stdin: Option<impl AsyncWrite + Unpin>,
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
    input: &[u8],
    mut on_line: impl FnMut(&str),
) -> std::io::Result<String> {
    let write = async {
        if let Some(mut stdin) = stdin {
            // The script may stop reading early (a refused lock); a closed pipe is not our error.
            match stdin.write_all(input).await {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            let _ = stdin.shutdown().await;
        }
        Ok::<_, std::io::Error>(())
    };
    let read = async {
        if let Some(stdout) = stdout {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await? {
                on_line(&line);
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let errors = async {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let mut bytes = Vec::new();
            stderr.read_to_end(&mut bytes).await?;
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        Ok::<_, std::io::Error>(text)
    };
    let ((), (), text) = tokio::try_join!(write, read, errors)?;
    Ok(text)
}

/// Runs `script` on a host's connection (or reports why there is none), handing each step it
/// announces to `step`; returns everything else it said and how it ended.
pub async fn converse(
    connection: Result<std::rc::Rc<Connection>, RemoteError>,
    script: &HostScript,
    input: &[u8],
    step: super::Step<'_>,
) -> (super::Transcript, Result<Finished, RemoteError>) {
    let mut transcript = super::Transcript::default();
    let finished = match connection {
        Ok(connection) => {
            connection
                .run(script, input, |line| {
                    if let Some(name) = transcript.take(line) {
                        step(name);
                    }
                })
                .await
        }
        Err(error) => Err(error),
    };
    (transcript, finished)
}
