//! A private PowerDNS Authoritative (sqlite backend) on loopback, as facts.md describes.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Daemon, free_port, require};

pub const API_KEY: &str = "pdns-test-key-0b7c1e";

pub struct PowerDns {
    pub api: String,
    pub dns_port: u16,
    pub config_dir: PathBuf,
    db: PathBuf,
    _daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl PowerDns {
    /// Starts one, or returns `None` (skipped) when PowerDNS is not installed and CI is not set.
    pub fn start() -> Option<Self> {
        let server = require("pdns_server")?;
        let sqlite = require("sqlite3")?;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("pdns.sqlite3");
        let schema = std::fs::read("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
            .unwrap_or_else(|e| panic!("pdns schema: {e}"));
        let mut create = Command::new(sqlite)
            .arg(&db)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(mut stdin) = create.stdin.take() {
            std::io::Write::write_all(&mut stdin, &schema).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(
            create.wait().is_ok_and(|status| status.success()),
            "sqlite3 could not create the schema"
        );
        let (api_port, dns_port) = (free_port(), free_port());
        let config = format!(
            "launch=gsqlite3\ngsqlite3-database={}\napi=yes\napi-key={API_KEY}\nwebserver=yes\nwebserver-address=127.0.0.1\n\
             webserver-port={api_port}\nwebserver-allow-from=127.0.0.0/8\nlocal-address=127.0.0.1\nlocal-port={dns_port}\n\
             socket-dir={}\nloglevel=3\nzone-cache-refresh-interval=0\n",
            db.display(),
            dir.path().display()
        );
        std::fs::write(dir.path().join("pdns.conf"), config).unwrap_or_else(|e| panic!("{e}"));
        let log =
            std::fs::File::create(dir.path().join("pdns.log")).unwrap_or_else(|e| panic!("{e}"));
        let daemon = Daemon(
            Command::new(server)
                .arg(format!("--config-dir={}", dir.path().display()))
                .args(["--guardian=no", "--daemon=no"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start pdns_server: {e}")),
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PowerDNS did not listen: {}",
                std::fs::read_to_string(dir.path().join("pdns.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            api: format!("http://127.0.0.1:{api_port}"),
            dns_port,
            config_dir: dir.path().to_path_buf(),
            db: db.clone(),
            _daemon: daemon,
            _dir: dir,
        })
    }

    /// `dig +short` against this server.
    pub fn dig(&self, name: &str, record_type: &str) -> Vec<String> {
        let Some(dig) = require("dig") else {
            return Vec::new();
        };
        let output = Command::new(dig)
            .args([
                "@127.0.0.1",
                "-p",
                &self.dns_port.to_string(),
                "+short",
                "+norecurse",
                "+time=2",
                "+tries=1",
                name,
                record_type,
            ])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    }

    /// `dig +short -x ADDRESS` against this server: the PTR answers for an address.
    pub fn dig_x(&self, address: &str) -> Vec<String> {
        super::dig(self.dns_port, &["-x", address])
    }

    /// The backend's record rows (`id name type content ttl`, one per line, markers left out):
    /// equal before and after a run, the run did not touch a record.
    pub fn record_rows(&self) -> String {
        self.sql(
            "select id, name, type, content, ttl from records \
             where type != 'SOA' and name not like '\\_boma.%' escape '\\' order by id",
        )
    }

    /// The backend's comments as `name type account content` lines.
    pub fn comments(&self) -> Vec<String> {
        self.sql("select name, type, account, comment from comments order by name, type")
            .lines()
            .map(|line| line.replace('|', " "))
            .collect()
    }

    fn sql(&self, query: &str) -> String {
        let output = Command::new("sqlite3")
            .arg(&self.db)
            .arg(query)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "sqlite3: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates `zone` the way an operator would, outside boma (served at once: the zone cache
    /// is off in this server's config, or it would learn of the zone only minutes later).
    pub fn create_zone(&self, zone: &str) {
        let status = Command::new("pdnsutil")
            .arg(format!("--config-dir={}", self.config_dir.display()))
            .args(["create-zone", zone])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "pdnsutil create-zone failed");
    }

    /// Adds a record behind boma's back, as another tool or a person would.
    pub fn add_foreign(&self, zone: &str, name: &str, record_type: &str, content: &str) {
        let status = Command::new("pdnsutil")
            .arg(format!("--config-dir={}", self.config_dir.display()))
            .args(["add-record", zone, name, record_type, "300", content])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "pdnsutil add-record failed");
    }
}
