//! One open way to run a host script: an SSH session (through its master) or this machine.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The longest stdout line of a host script boma reads (a tool's JSON listing is one line); the
/// rest of a longer line is dropped, and the line never counts as protocol.
const MAX_LINE: u64 = 1024 * 1024;
/// The most a host script may print on stdout in all; past it the run is cut off as an error.
const MAX_STDOUT: u64 = 64 * 1024 * 1024;
/// What boma keeps of a script's stderr: its last bytes, for the error message.
const KEPT_STDERR: usize = 64 * 1024;

use super::{HostScript, RemoteError};

/// What a host script gets on stdin: `head` (settings it reads first, a password line), then the
/// file at `tail` streamed from disk (a build context), never held in memory whole.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub head: &'a [u8],
    pub tail: Option<&'a std::path::Path>,
}

impl<'a> From<&'a [u8]> for Input<'a> {
    fn from(head: &'a [u8]) -> Self {
        Self { head, tail: None }
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Input<'a> {
    fn from(head: &'a [u8; N]) -> Self {
        Self { head, tail: None }
    }
}

impl<'a> From<&'a Vec<u8>> for Input<'a> {
    fn from(head: &'a Vec<u8>) -> Self {
        Self { head, tail: None }
    }
}

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
        input: Input<'_>,
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
                    // Its own process group, as a remote script's session is: a terminal's
                    // Ctrl-C reaches boma alone, and the script's connection watcher stops only
                    // the script and what it started.
                    .process_group(0)
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
    input: Input<'_>,
    mut on_line: impl FnMut(&str),
) -> std::io::Result<String> {
    let write = async {
        if let Some(mut stdin) = stdin {
            let sent = async {
                stdin.write_all(input.head).await?;
                if let Some(tail) = input.tail {
                    let mut file = tokio::fs::File::open(tail).await?;
                    tokio::io::copy(&mut file, &mut stdin).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            // The script may stop reading early (a refused lock); a closed pipe is not our error.
            match sent.await {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            let _ = stdin.shutdown().await;
        }
        Ok::<_, std::io::Error>(())
    };
    let read = async {
        if let Some(stdout) = stdout {
            read_lines(BufReader::new(stdout), &mut on_line).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let errors = async {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut chunk = [0u8; 8192];
            loop {
                let read = stderr.read(&mut chunk).await?;
                if read == 0 {
                    break;
                }
                kept.extend_from_slice(&chunk[..read]);
                if kept.len() > 2 * KEPT_STDERR {
                    kept.drain(..kept.len() - KEPT_STDERR);
                }
            }
        }
        let start = kept.len().saturating_sub(KEPT_STDERR);
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&kept[start..]).into_owned())
    };
    let ((), (), text) = tokio::try_join!(write, read, errors)?;
    Ok(text)
}

/// Hands each line of `stdout` to `on_line`, reading at most `MAX_LINE` bytes of a line (the rest
/// of a longer one is skipped) and `MAX_STDOUT` bytes in all.
async fn read_lines(
    mut stdout: impl AsyncBufReadExt + Unpin,
    on_line: &mut impl FnMut(&str),
) -> std::io::Result<()> {
    let mut total: u64 = 0;
    let mut line = Vec::new();
    let mut skipping = false;
    loop {
        line.clear();
        let read = (&mut stdout)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Ok(());
        }
        total += read as u64;
        if total > MAX_STDOUT {
            return Err(std::io::Error::other(format!(
                "the host script printed more than {} MiB on stdout",
                MAX_STDOUT / (1024 * 1024)
            )));
        }
        let ended = line.last() == Some(&b'\n');
        if !skipping && ended {
            line.pop();
            on_line(&String::from_utf8_lossy(&line));
        } else if !skipping && read as u64 <= MAX_LINE {
            // The last line, without a newline.
            on_line(&String::from_utf8_lossy(&line));
        }
        // A line longer than MAX_LINE: the rest of it, up to its newline, is skipped.
        skipping = !ended && (skipping || read as u64 > MAX_LINE);
    }
}

/// Runs `script` on a host's connection (or reports why there is none), handing each step it
/// announces to `step`; returns everything else it said and how it ended.
pub async fn converse(
    connection: Result<std::rc::Rc<Connection>, RemoteError>,
    script: &HostScript,
    input: impl Into<Input<'_>>,
    step: super::Step<'_>,
) -> (super::Transcript, Result<Finished, RemoteError>) {
    let input = input.into();
    let mut transcript = script.transcript();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> std::io::Result<Vec<String>> {
        let runtime = tokio::runtime::Builder::new_current_thread().build()?;
        let mut lines = Vec::new();
        runtime.block_on(read_lines(input, &mut |line| lines.push(line.to_string())))?;
        Ok(lines)
    }

    #[test]
    fn a_huge_line_is_skipped_whole_and_the_lines_after_it_are_read() -> std::io::Result<()> {
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE as usize));
        input.extend(b"\nsecond\nlast without newline");
        assert_eq!(
            lines_of(&input)?,
            ["first", "second", "last without newline"]
        );
        Ok(())
    }

    #[test]
    fn stdout_past_its_limit_is_an_error() {
        let line = [b'y'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        let input: Vec<u8> = line.repeat((MAX_STDOUT / 1024) as usize + 1);
        let error = lines_of(&input).map(|lines| lines.len());
        assert!(error.is_err(), "{error:?}");
    }
}
