//! Running one script on a host: over SSH through a ControlMaster per host, or on this machine.
//!
//! Masters live in a short private folder (the control socket path must fit in 107 bytes), exit
//! on their own after a short idle time, and are closed when their `Connection` is dropped, so a
//! boma that returns, fails or is interrupted leaves no ssh process behind.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::catalog::{Address, Host};

/// How connections are made, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Trust a host key seen for the first time (`StrictHostKeyChecking=accept-new`).
    pub accept_new_host_keys: bool,
    pub connect_timeout: Duration,
}

/// A master idle this long exits by itself, even if boma was killed with SIGKILL.
const MASTER_IDLE_SECONDS: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot connect to `{destination}`: {detail}")]
    Connect { destination: String, detail: String },
    #[error("cannot run the remote script: {0}")]
    Run(String),
}

/// Opens connections; owns the private folder that holds the control sockets.
pub struct Connector {
    options: Options,
    control_dir: tempfile::TempDir,
    /// Relative `identity` and `known_hosts` paths are relative to the catalog.
    catalog_dir: PathBuf,
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

impl Connector {
    pub fn new(options: Options, catalog_dir: &Path) -> std::io::Result<Self> {
        // ssh adds `/.ssh-connectionXXXXXX/master` (31 bytes) to this folder's path.
        let temp = std::env::temp_dir();
        let parent = if temp.as_os_str().len() <= 48 {
            temp
        } else {
            PathBuf::from("/tmp")
        };
        let control_dir = tempfile::Builder::new()
            .prefix("boma-")
            .tempdir_in(parent)?;
        Ok(Self {
            options,
            control_dir,
            catalog_dir: catalog_dir.to_path_buf(),
        })
    }

    pub async fn connect(&self, host: &Host) -> Result<Connection, RemoteError> {
        let Address::Remote(destination) = &host.address else {
            return Ok(Connection::Local);
        };
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(if self.options.accept_new_host_keys {
                KnownHosts::Add
            } else {
                KnownHosts::Strict
            })
            .connect_timeout(self.options.connect_timeout)
            .control_directory(self.control_dir.path())
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(MASTER_IDLE_SECONDS).unwrap_or(NonZeroUsize::MIN),
            ));
        if let Some(user) = &host.ssh.user {
            builder.user(user.clone());
        }
        if let Some(port) = host.ssh.port {
            builder.port(port);
        }
        if let Some(identity) = &host.ssh.identity {
            builder.keyfile(self.local_path(identity));
        }
        if let Some(known_hosts) = &host.ssh.known_hosts {
            builder.user_known_hosts_file(self.local_path(known_hosts));
        }
        if let Some(jump) = &host.ssh.jump {
            builder.jump_hosts([jump]);
        }
        builder
            .connect(destination)
            .await
            .map(Connection::Ssh)
            .map_err(|error| RemoteError::Connect {
                destination: destination.clone(),
                detail: describe(&error),
            })
    }

    /// `~/` is the operator's home; other relative paths are relative to the catalog.
    fn local_path(&self, path: &Path) -> PathBuf {
        match (path.strip_prefix("~"), std::env::var_os("HOME")) {
            (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => self.catalog_dir.join(path),
        }
    }
}

/// ssh's own words, with what to do about the ones an operator meets most.
fn describe(error: &openssh::Error) -> String {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    let detail = detail.trim().replace('\n', "; ");
    if detail.contains("Host key verification failed") {
        format!(
            "{detail} (the host key is unknown or has changed; check it and add it to known_hosts, or pass --accept-new-host-keys to trust a new host on first use)"
        )
    } else if detail.contains("Permission denied") {
        format!("{detail} (check the catalog's ssh user and identity)")
    } else {
        detail
    }
}

impl Connection {
    /// Runs `sh -c SCRIPT boma ARGS...` with `input` on stdin, handing each stdout line to `on_line`
    /// as it arrives.
    pub async fn run_script(
        &self,
        script: &str,
        args: &[String],
        input: &[u8],
        on_line: impl FnMut(&str),
    ) -> Result<Finished, RemoteError> {
        let fail = |error: &dyn std::fmt::Display| RemoteError::Run(error.to_string());
        match self {
            Self::Ssh(session) => {
                let mut child = session
                    .command("env")
                    .args(["LC_ALL=C", "sh", "-c", script, "boma"])
                    .args(args)
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
                    .args(["-c", script, "boma"])
                    .args(args)
                    .env("LC_ALL", "C")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
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

/// Resolves when the operator asks boma to stop: Ctrl-C (SIGINT), SIGTERM or SIGHUP. Racing work
/// against it lets that work be dropped, which closes its connections.
pub async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut streams: Vec<_> = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
    .into_iter()
    .filter_map(|kind| signal(kind).ok())
    .collect();
    if streams.is_empty() {
        // Signals cannot be watched: never resolve, as if no one asked.
        std::future::pending::<()>().await;
    }
    let waits = streams.iter_mut().map(|stream| Box::pin(stream.recv()));
    futures_util::future::select_all(waits).await;
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
