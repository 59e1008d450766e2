//! A private BIND (`named` 9.18) on loopback serving zone files boma wrote, so `dig` can ask it
//! what the files say.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Daemon, free_port, require};

pub struct Bind {
    pub port: u16,
    dir: tempfile::TempDir,
    _daemon: Daemon,
}

impl Bind {
    /// Serves each `(zone, file)`; `None` (skipped) when named or dig is missing and CI is not set.
    /// A port another process took between `free_port` and named's bind is given up for another.
    pub fn serve(zones: &[(&str, &Path)]) -> Option<Self> {
        let named = require("named")?;
        require("dig")?;
        for _ in 0..3 {
            let bind = Self::start(&named, zones);
            if !bind.log().contains("could not listen") {
                return Some(bind);
            }
        }
        panic!("named could not listen on three free ports")
    }

    fn start(named: &Path, zones: &[(&str, &Path)]) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let mut config = format!(
            "options {{\n  directory \"{dir}\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  \
             pid-file \"{dir}/named.pid\";\n  session-keyfile \"{dir}/session.key\";\n  managed-keys-directory \"{dir}\";\n  \
             recursion no;\n  dnssec-validation no;\n}};\ncontrols {{ }};\n",
            dir = dir.path().display()
        );
        for (zone, file) in zones {
            config.push_str(&format!(
                "zone \"{zone}\" {{ type primary; file \"{}\"; }};\n",
                file.display()
            ));
        }
        let conf = dir.path().join("named.conf");
        std::fs::write(&conf, config).unwrap_or_else(|e| panic!("{e}"));
        let log =
            std::fs::File::create(dir.path().join("named.log")).unwrap_or_else(|e| panic!("{e}"));
        let daemon = Daemon(
            Command::new(named)
                .arg("-g")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start named: {e}")),
        );
        let bind = Self {
            port,
            dir,
            _daemon: daemon,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !bind.log().contains("running") {
            assert!(
                Instant::now() < deadline,
                "named did not start: {}",
                bind.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bind
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }

    /// `dig +short NAME TYPE` against this server, answers sorted.
    pub fn dig(&self, name: &str, record_type: &str) -> Vec<String> {
        super::dig(self.port, &[name, record_type])
    }
}
