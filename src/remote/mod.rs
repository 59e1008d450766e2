//! Reaching hosts: over SSH through one ControlMaster per host, or on this machine for `local`.
//!
//! `HostPool` (pool.rs) opens one connection per host on first use and keeps it for every stage
//! of a run, fans work out over N hosts at a time and handles Ctrl-C once. `HostScript`
//! (script.rs) is a POSIX sh script with a header of named settings that speaks the line protocol
//! every host script shares (`step`, `detail`, `result`, facts). Masters live in a short private
//! folder (the control socket path must fit in 107 bytes), exit on their own after a short idle
//! time, and are closed when the pool is dropped, so a boma that returns, fails or is interrupted
//! leaves no ssh process behind.

mod connection;
mod pool;
mod script;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, SessionBuilder};

use crate::catalog::{Address, Host};
use crate::hint::Hint;

pub use connection::{Connection, Finished, Input, converse};
pub use pool::{HostPool, Step};
pub use script::{HostScript, Transcript, shell_words};

/// How connections are made, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Trust a host key seen for the first time (`StrictHostKeyChecking=accept-new`).
    pub accept_new_host_keys: bool,
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A master idle this long exits by itself, even if boma was killed with SIGKILL.
const MASTER_IDLE_SECONDS: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot connect to `{destination}`")]
    Connect {
        destination: String,
        #[source]
        source: openssh::Error,
    },
    #[error("cannot run the host script")]
    Run(#[source] std::io::Error),
}

impl Hint for RemoteError {
    fn hint(&self) -> Option<String> {
        let text = self.chain_text();
        if text.contains("Host key verification failed") {
            Some("the host key is unknown or has changed; check it and add it to known_hosts, or pass --accept-new-host-keys to trust a new host on first use".to_string())
        } else if text.contains("Permission denied") {
            Some("check the catalog's ssh user and identity".to_string())
        } else {
            None
        }
    }
}

impl RemoteError {
    /// The message and every cause, `: `-joined on one line.
    fn chain_text(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(&format!(": {}", cause.to_string().trim()));
            source = cause.source();
        }
        // ssh's stderr ends its lines with `\r\n` on a terminal-less connection too.
        text.lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The whole error with its hint on one line: for a host's row in a report table.
    pub fn one_line(&self) -> String {
        match self.hint() {
            Some(hint) => format!("{} ({hint})", self.chain_text()),
            None => self.chain_text(),
        }
    }
}

/// Opens connections; owns the private folder that holds the control sockets.
pub struct Connector {
    options: Options,
    control_dir: tempfile::TempDir,
    /// Relative `identity` and `known_hosts` paths are relative to the catalog.
    catalog_dir: PathBuf,
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
        // Private (0700 whatever the umask): whoever can reach a control socket uses the
        // connection behind it.
        let control_dir = crate::files::private_dir("boma-", &parent)?;
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
        // The native multiplexer talks to the master's socket itself: no `ssh` process per command.
        builder
            .connect_mux(destination)
            .await
            .map(Connection::Ssh)
            .map_err(|source| RemoteError::Connect {
                destination: destination.clone(),
                source,
            })
    }

    fn local_path(&self, path: &Path) -> PathBuf {
        local_path(&self.catalog_dir, path)
    }
}

/// A host's `identity` or `known_hosts` on this machine: `~/` is the operator's home; other
/// relative paths are relative to the catalog's folder.
pub fn local_path(catalog_dir: &Path, path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => catalog_dir.join(path),
    }
}

/// The name reports give this machine: a catalog's host names are identifiers, never this.
pub const THIS_MACHINE: &str = "this machine";

/// This machine as a host of the fan-out (`local`: no SSH), for work the catalog places on no
/// host: a build without a builder, a backup check without `host`.
pub fn this_machine() -> crate::catalog::Host {
    use crate::catalog::{Address, Caddy, Host, Ssh};
    Host {
        name: THIS_MACHINE.to_string(),
        address: Address::Local,
        ssh: Ssh::default(),
        sudo: false,
        ip: None,
        public: false,
        caddy: Caddy {
            config: String::new(),
            reload: String::new(),
            dns_challenge: None,
            admin: None,
            http_port: None,
            https_port: None,
            global: None,
            extra: None,
            wildcard: Vec::new(),
        },
    }
}

/// A private work folder's path on a host, unique to this run: `/tmp/PREFIX.PID-NANOS`. The
/// host script makes it with `mkdir` (which fails rather than reuse one) under `umask 077`.
pub fn work_folder(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("/tmp/{prefix}.{}-{nanos:09}", std::process::id())
}
