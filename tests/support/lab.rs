//! Test hosts on loopback: each an sshd of its own with a real Caddy (own admin and site ports)
//! in front of a local backend, and a catalog that points boma at them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Daemon, free_port, require};

/// One test host: sshd on `ssh_port`, Caddy with `config` as its live Caddyfile.
pub struct TestHost {
    pub name: String,
    pub dir: PathBuf,
    pub ssh_port: u16,
    pub admin: u16,
    pub https: u16,
    pub http: u16,
    pub config: PathBuf,
    /// The login user, and the HOME sshd gives its sessions.
    pub user: String,
    pub home: PathBuf,
    pub sudo: bool,
    pub reload: String,
    pub backend: String,
    sshd: Option<Daemon>,
    _caddy: Daemon,
}

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub hosts: Vec<TestHost>,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    caddy: PathBuf,
    _backends: Vec<wiremock::MockServer>,
}

/// How one host differs from the default (root login, no sudo).
#[derive(Default, Clone)]
pub struct HostSpec {
    /// A non-root login user (created when missing); its privileged steps go through sudo.
    pub user: Option<String>,
}

/// sshd, caddy and ssh-keygen; `None` (skip) on a laptop without them, a panic when CI is set.
fn components() -> Option<PathBuf> {
    let caddy = require("caddy")?;
    require("ssh-keygen")?;
    require("ssh")?;
    if !Path::new("/usr/sbin/sshd").exists() {
        if std::env::var_os("CI").is_some() {
            panic!("/usr/sbin/sshd is required when CI is set: run scripts/test");
        }
        eprintln!(
            "skipped: /usr/sbin/sshd is not installed (scripts/test installs openssh-server)"
        );
        return None;
    }
    Some(caddy)
}

pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn keygen(path: &Path) {
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &path.to_string_lossy(),
        ],
    );
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {}: {error}", path.display()));
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    std::fs::write(path, content)
        .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

impl Lab {
    /// `count` root-login hosts `h1`, `h2`, ... whose backends answer `hello from hN`.
    pub async fn start(count: usize) -> Option<Lab> {
        Self::with_hosts(&vec![HostSpec::default(); count]).await
    }

    pub async fn with_hosts(specs: &[HostSpec]) -> Option<Lab> {
        let caddy = components()?;
        // Short: ssh control sockets and sshd paths live under it; 0755 so a deploy user can read keys.
        let dir = tempfile::Builder::new()
            .prefix("lab")
            .tempdir_in("/tmp")
            .unwrap_or_else(|error| panic!("{error}"));
        chmod(dir.path(), 0o755);
        let client_key = dir.path().join("client");
        keygen(&client_key);
        std::fs::create_dir_all("/run/sshd").unwrap_or_else(|error| panic!("/run/sshd: {error}"));
        let mut lab = Lab {
            known_hosts: dir.path().join("known_hosts"),
            client_key,
            dir,
            hosts: Vec::new(),
            caddy,
            _backends: Vec::new(),
        };
        let mut known = String::new();
        for (index, spec) in specs.iter().enumerate() {
            let name = format!("h{}", index + 1);
            let backend = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(
                    wiremock::ResponseTemplate::new(200)
                        .set_body_string(format!("hello from {name}")),
                )
                .mount(&backend)
                .await;
            let mut host = lab.start_host(&name, spec);
            host.backend = backend.uri();
            lab._backends.push(backend);
            let public = std::fs::read_to_string(host.dir.join("hostkey.pub"))
                .unwrap_or_else(|error| panic!("{error}"));
            let key: Vec<&str> = public.split_whitespace().take(2).collect();
            let _ = writeln!(known, "[127.0.0.1]:{} {}", host.ssh_port, key.join(" "));
            lab.hosts.push(host);
        }
        write(&lab.known_hosts, known);
        for host in &lab.hosts {
            wait_for_port(host.ssh_port, "sshd");
            wait_for_port(host.admin, "caddy's admin API");
        }
        Some(lab)
    }

    fn start_host(&self, name: &str, spec: &HostSpec) -> TestHost {
        let dir = self.dir.path().join(name);
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc).unwrap_or_else(|error| panic!("{error}"));
        let user = spec.user.clone().unwrap_or_else(|| "root".to_string());
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap_or_else(|error| panic!("{error}"));
        if user != "root" {
            ensure_user(&user);
            run("chown", &[&user, &home.to_string_lossy()]);
        }
        keygen(&dir.join("hostkey"));
        let authorized = dir.join("authorized_keys");
        std::fs::copy(self.client_key.with_extension("pub"), &authorized)
            .unwrap_or_else(|error| panic!("{error}"));
        chmod(&authorized, 0o644);
        let (ssh_port, admin, http, https) = (free_port(), free_port(), free_port(), free_port());
        let config = etc.join("Caddyfile");
        write(
            &config,
            format!(
                "{{\n\tadmin 127.0.0.1:{admin}\n\thttp_port {http}\n\thttps_port {https}\n\tskip_install_trust\n}}\n"
            ),
        );
        let sshd_config = dir.join("sshd_config");
        write(
            &sshd_config,
            format!(
                "Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {dir}/hostkey\nAuthorizedKeysFile {authorized}\n\
                 PasswordAuthentication no\nUsePAM no\nStrictModes no\nPidFile {dir}/sshd.pid\n\
                 Subsystem sftp internal-sftp\nSetEnv HOME={home}\nMaxStartups 100:30:200\n",
                dir = dir.display(),
                authorized = authorized.display(),
                home = home.display(),
            ),
        );
        let sshd = Daemon(
            Command::new("/usr/sbin/sshd")
                .args(["-D", "-f"])
                .arg(&sshd_config)
                .arg("-E")
                .arg(dir.join("sshd.log"))
                .stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start sshd: {error}")),
        );
        let caddy = Daemon(
            Command::new(&self.caddy)
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&config)
                .env("HOME", &dir)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::File::create(dir.join("caddy.log"))
                        .unwrap_or_else(|error| panic!("{error}")),
                )
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start caddy: {error}")),
        );
        TestHost {
            name: name.to_string(),
            reload: format!(
                "caddy reload --config {} --adapter caddyfile --address 127.0.0.1:{admin}",
                config.display()
            ),
            backend: String::new(),
            dir,
            ssh_port,
            admin,
            https,
            http,
            config,
            sudo: user != "root",
            user,
            home,
            sshd: Some(sshd),
            _caddy: caddy,
        }
    }

    /// The catalog: each host with one service `app-hN` at `app.hN.lab.test`, proxied to its backend.
    pub fn catalog(&self) -> String {
        let mut text = String::from(
            "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"lab.test\"\npath = \"lab.test.zone\"\n",
        );
        for host in &self.hosts {
            let _ = write!(
                text,
                r#"
[hosts.{name}]
address = "127.0.0.1"
ssh = {{ user = "{user}", port = {port}, identity = "{key}", known_hosts = "{known}" }}
sudo = {sudo}
[hosts.{name}.caddy]
config = "{config}"
reload = "{reload}"
admin = "127.0.0.1:{admin}"
http_port = {http}
https_port = {https}
[services.app-{name}]
host = "{name}"
upstream = "{backend}"
names = ["app.{name}.lab.test"]
"#,
                name = host.name,
                user = host.user,
                port = host.ssh_port,
                key = self.client_key.display(),
                known = self.known_hosts.display(),
                sudo = host.sudo,
                config = host.config.display(),
                reload = host.reload,
                admin = host.admin,
                http = host.http,
                https = host.https,
                backend = host.backend,
            );
        }
        text
    }

    pub fn host(&self, name: &str) -> &TestHost {
        self.hosts
            .iter()
            .find(|host| host.name == name)
            .unwrap_or_else(|| panic!("no test host {name}"))
    }

    pub fn host_mut(&mut self, name: &str) -> &mut TestHost {
        self.hosts
            .iter_mut()
            .find(|host| host.name == name)
            .unwrap_or_else(|| panic!("no test host {name}"))
    }
}

impl TestHost {
    /// The live Caddyfile's bytes.
    pub fn live(&self) -> Vec<u8> {
        std::fs::read(&self.config).unwrap_or_else(|error| panic!("{error}"))
    }

    /// boma's state folder for this host's live Caddyfile (lock, backups, audit log).
    pub fn state(&self) -> PathBuf {
        state_for(&self.home, &self.config)
    }

    /// Files boma leaves only while a push runs: the staged file and the incoming copy.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        for dir in [
            self.config.parent().map(Path::to_path_buf),
            Some(self.state()),
        ]
        .into_iter()
        .flatten()
        {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.contains("boma-new") || name.starts_with("incoming.") || name == "lock" {
                    found.push(format!("{}/{name}", dir.display()));
                }
            }
        }
        found
    }

    /// Stops sshd: the host is down.
    pub fn stop_ssh(&mut self) {
        self.sshd = None;
    }

    pub fn caddy_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("caddy.log")).unwrap_or_default()
    }

    /// GET `https://app.NAME.lab.test/` through this host's Caddy (retrying while Caddy's
    /// internal CA issues the certificate); `None` if it never answers.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let site = format!("app.{}.lab.test", self.name);
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .resolve(&site, ([127, 0, 0, 1], self.https).into())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|error| panic!("{error}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match client
                .get(format!("https://{site}:{}{path}", self.https))
                .send()
                .await
            {
                Ok(response) => {
                    let status = response.status().as_u16();
                    return Some((status, response.text().await.unwrap_or_default()));
                }
                Err(_) if Instant::now() > deadline => return None,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// The audit log lines in a state folder.
pub fn audit_lines(state: &Path) -> Vec<String> {
    std::fs::read_to_string(state.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The state folder boma keeps under `home` for the live file at `config`: one per live file,
/// named by its path with `%` and `/` escaped.
pub fn state_for(home: &Path, config: &Path) -> PathBuf {
    let key = config
        .to_string_lossy()
        .replace('%', "%25")
        .replace('/', "%2F");
    home.join(".local/state/boma/caddy/files").join(key)
}

/// A login user for the least-privilege test: no password (`*`, not locked), a real shell.
fn ensure_user(user: &str) {
    let exists = Command::new("id")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !exists {
        run("useradd", &["--shell", "/bin/sh", "--no-create-home", user]);
    }
    run("usermod", &["-p", "*", user]);
}

/// Whether a test may add a user and a sudoers file: root, with sudo installed. Otherwise it
/// skips, except under CI, which runs it as root with sudo.
pub fn can_add_sudoers() -> bool {
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|meta| {
        use std::os::unix::fs::MetadataExt;
        meta.uid() == 0
    });
    if is_root && require("sudo").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs this test as root with sudo"
    );
    eprintln!("skipped: needs root (to add a user and a sudoers file) and sudo");
    false
}

/// A sudoers file allowing a user some commands, removed when the test ends, pass or fail.
pub struct Sudoers {
    path: PathBuf,
    user: String,
    /// The commands a push runs through sudo, the reload last.
    commands: Vec<String>,
}

impl Sudoers {
    /// Allows `commands` (checked with `visudo`), replacing what the file allowed.
    fn allow(&self, commands: &[String]) {
        std::fs::write(
            &self.path,
            format!(
                "{} ALL=(root) NOPASSWD: {}\n",
                self.user,
                commands.join(", ")
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let file = self.path.to_string_lossy();
        run("chmod", &["0440", &file]);
        run("visudo", &["-c", "-q", "-f", &file]);
    }

    /// Takes the reload command away: a push then installs, fails to reload, and puts back.
    pub fn without_reload(&self) {
        self.allow(&self.commands[..self.commands.len() - 1]);
    }
}

impl Drop for Sudoers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `host`'s live Caddyfile owned by root and readable by `user`'s group only, and a sudoers file
/// allowing `user` exactly the commands a push runs through sudo (the README's list; `:` escaped
/// as sudoers wants).
pub fn push_sudoers(host: &TestHost, user: &str) -> Sudoers {
    let config = host.config.to_string_lossy();
    run("chown", &[&format!("root:{user}"), &config]);
    run("chmod", &["0640", &config]);
    let live = host.config.display().to_string();
    let staged = format!(
        "{}/.Caddyfile.boma-new",
        Path::new(&live)
            .parent()
            .map_or(String::new(), |dir| dir.display().to_string())
    );
    let sudoers = Sudoers {
        path: format!("/etc/sudoers.d/boma-test-{}", host.ssh_port).into(),
        user: user.to_string(),
        commands: vec![
            format!("/usr/bin/cp -p {live} {staged}"),
            format!("/usr/bin/tee {staged}"),
            format!("/usr/bin/caddy validate --adapter caddyfile --config {staged}"),
            format!("/usr/bin/mv -f {staged} {live}"),
            format!("/usr/bin/rm -f {staged}"),
            format!("/usr/bin/{}", host.reload.replace(':', "\\:")),
        ],
    };
    sudoers.allow(&sudoers.commands);
    sudoers
}
