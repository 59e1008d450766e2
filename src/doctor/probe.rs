//! Each host's needs checked in one run of `probe.sh` (this machine's tools too, as a `local`
//! host of the same fan-out), hosts side by side, each run bounded by the doctor's timeout.

use std::time::Duration;

use super::plan::{HostNeeds, ToolNeed};
use super::report::{Check, Status};
use crate::catalog::Address;
use crate::cli::StageName;
use crate::remote::{self, Finished, HostScript, RemoteError, Transcript};
use crate::stage::Context;

const SCRIPT: &str = include_str!("probe.sh");

/// One host's run: its needs and the script that checks them.
struct Probe<'n> {
    needs: &'n HostNeeds,
    script: HostScript,
}

/// Runs every host's probe, `cx.parallel` at a time; the checks of each, in host order.
pub fn run(
    cx: &Context<'_>,
    hosts: &[HostNeeds],
    timeout: Duration,
) -> anyhow::Result<Vec<Vec<Check>>> {
    let probes: Vec<Probe<'_>> = hosts
        .iter()
        .map(|needs| Probe {
            needs,
            script: script(needs, timeout),
        })
        .collect();
    let answers = cx.hosts()?.run(
        cx.ui,
        &probes,
        |probe: &Probe<'_>| &probe.needs.host,
        async |probe, connection, step| {
            let answered = remote::converse(connection, &probe.script, b"", step);
            match tokio::time::timeout(timeout, answered).await {
                Ok(answer) => answer,
                // Dropping the run closes its channel; each command on the host is bounded too.
                Err(_) => (
                    probe.script.transcript(),
                    Err(RemoteError::Run(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "no answer within {} (--timeout)",
                            humantime::format_duration(timeout)
                        ),
                    ))),
                ),
            }
        },
    )?;
    Ok(probes
        .iter()
        .zip(answers)
        .map(|(probe, (transcript, finished))| read(probe.needs, &transcript, finished))
        .collect())
}

/// The probe for `needs`: its tools as lines, what its Caddy and the edge need, and how long each
/// command may take (a third of the whole, so one that hangs leaves time for the rest).
fn script(needs: &HostNeeds, timeout: Duration) -> HostScript {
    let mut tools = String::new();
    for (index, tool) in needs.tools.iter().enumerate() {
        let candidates: Vec<&str> = tool.candidates.iter().map(|program| program.name).collect();
        let version = tool
            .candidates
            .first()
            .map_or("", |program| program.version);
        tools.push_str(&format!("{index} {} {version}\n", candidates.join(",")));
    }
    let caddy = needs.caddy.as_ref();
    let edge = needs.edge.as_ref();
    HostScript::new(SCRIPT)
        .set("tools", tools)
        .set("limit", (timeout.as_secs() / 3).max(1))
        .set("caddy_live", caddy.map_or("", |caddy| &caddy.live))
        .set(
            "caddy_modules",
            caddy.map_or(String::new(), |caddy| caddy.modules.join(" ")),
        )
        .set("caddy_reload", caddy.map_or("", |caddy| &caddy.reload))
        .set("use_sudo", u8::from(needs.host.sudo))
        .set("edge_prefix", edge.map_or("", |edge| &edge.prefix))
        .set(
            "edge_reload_nginx",
            edge.map_or("", |edge| &edge.reload_nginx),
        )
        .set(
            "edge_reload_fail2ban",
            edge.map_or("", |edge| &edge.reload_fail2ban),
        )
}

/// What one host's probe said, as checks.
fn read(
    needs: &HostNeeds,
    transcript: &Transcript,
    finished: Result<Finished, RemoteError>,
) -> Vec<Check> {
    let place = needs.host.name.as_str();
    let failure = match &finished {
        Err(error) => Some(error.one_line()),
        Ok(done) if transcript.result.is_none() => Some(format!(
            "the probe ended early: {}",
            done.stderr.lines().last().unwrap_or("no reason given")
        )),
        Ok(_) => None,
    };
    if let Some(reason) = failure {
        // A host that cannot be reached has one row a stage; this machine, one a tool.
        return if needs.is_this_machine() {
            needs
                .tools
                .iter()
                .map(|tool| Check::new(tool.stage, tool.label, place, Status::Failed, &reason))
                .collect()
        } else {
            needs
                .stages
                .iter()
                .map(|stage| {
                    Check::new(
                        *stage,
                        "connection",
                        place,
                        Status::Failed,
                        format!("{reason}; nothing else was checked there"),
                    )
                })
                .collect()
        };
    }
    let mut checks = Vec::new();
    let user = transcript.fact("user").unwrap_or("unknown");
    for stage in &needs.stages {
        let how = match &needs.host.address {
            Address::Remote(destination) => format!("ssh to {destination} as {user}"),
            Address::Local => format!("local: this machine, as {user}"),
        };
        checks.push(Check::new(*stage, "connection", place, Status::Ok, how));
    }
    for (index, tool) in needs.tools.iter().enumerate() {
        checks.push(tool_check(
            tool,
            place,
            transcript.fact(&format!("tool.{index}")),
            transcript.fact(&format!("tool-path.{index}")),
        ));
    }
    if let Some(caddy) = &needs.caddy {
        checks.extend(caddy_checks(caddy, place, transcript));
        // Without sudo a push writes the new file beside the live one as the SSH user.
        let live = caddy.live.as_str();
        let folder = match live.rsplit_once('/') {
            Some(("", _)) | None => "/",
            Some((folder, _)) => folder,
        };
        checks.push(folder_check(
            StageName::Caddy,
            "Caddyfile folder",
            place,
            folder,
            transcript.fact("caddy-dir"),
            !needs.host.sudo,
            user,
        ));
        if needs.host.sudo {
            checks.push(sudo_check(
                StageName::Caddy,
                "caddy-push",
                place,
                transcript,
                "caddy",
            ));
        }
    }
    if let Some(edge) = &needs.edge {
        // edge-push stages and moves folders inside the prefix as the SSH user, sudo or not.
        checks.push(folder_check(
            StageName::Edge,
            "edge prefix",
            place,
            &edge.prefix,
            transcript.fact("edge-prefix"),
            true,
            user,
        ));
    }
    if needs.edge.is_some() && needs.host.sudo {
        checks.push(sudo_check(
            StageName::Edge,
            "edge-push",
            place,
            transcript,
            "edge",
        ));
    }
    checks
}

/// A tool's row from its fact: `PROGRAM on-path|off-path STATUS VERSION-LINE` or `- missing`.
fn tool_check(tool: &ToolNeed, place: &str, said: Option<&str>, path: Option<&str>) -> Check {
    let check =
        |status: Status, detail: String| Check::new(tool.stage, tool.label, place, status, detail);
    let said = said.unwrap_or("- missing");
    let mut words = said.splitn(4, ' ');
    let (program, where_found, exit, line) = (
        words.next().unwrap_or("-"),
        words.next().unwrap_or("missing"),
        words.next().unwrap_or(""),
        words.next().unwrap_or("").trim(),
    );
    let install = tool
        .candidates
        .iter()
        .map(|program| program.install)
        .collect::<Vec<_>>();
    let not_found = |why: String| match tool.optional {
        Some(instead) => check(Status::Skipped, format!("{why}; optional: {instead}")),
        None => check(
            Status::Missing,
            format!("{why}; install it: {}", install.join(", or ")),
        ),
    };
    let names: Vec<&str> = tool.candidates.iter().map(|program| program.name).collect();
    match where_found {
        "on-path" => {}
        "off-path" if tool.beyond_path => {}
        "off-path" => {
            return not_found(format!(
                "{} is not on {}'s PATH",
                path.unwrap_or(program),
                if place == remote::THIS_MACHINE {
                    "boma"
                } else {
                    "the SSH user"
                }
            ));
        }
        _ => return not_found(format!("{} not installed", either(&names))),
    }
    // Several candidates: say which one the stage would use.
    let shown = if names.len() > 1 {
        format!("{program} ")
    } else {
        String::new()
    };
    match exit {
        "0" => check(Status::Ok, format!("{shown}{}", version(line))),
        // The probe said `no answer within Ns` for these: coreutils' timeout ended it.
        "124" | "137" => check(Status::Failed, format!("{shown}{line}")),
        _ if line.is_empty() => check(
            Status::Failed,
            format!("{shown}its version command exited with status {exit}"),
        ),
        _ => check(
            Status::Failed,
            format!("{shown}its version command exited with status {exit}: {line}"),
        ),
    }
}

/// `nginx is`, `flyctl or fly is`, `podman, buildah or docker is`.
fn either(names: &[&str]) -> String {
    match names {
        [] => "nothing is".to_string(),
        [one] => format!("{one} is"),
        [rest @ .., last] => format!("{} or {last} is", rest.join(", ")),
    }
}

/// `version 1.22.1` from a tool's first line (`nginx version: nginx/1.22.1`, `OpenSSH_9.2p1
/// Debian-2`, `v2.6.2 h1:...`, `Docker version 28.2.2, build ...`); the line itself when it names
/// none.
pub fn version(line: &str) -> String {
    let found = line
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '_' | ',' | '(' | ')'))
        .map(|word| word.strip_prefix('v').unwrap_or(word))
        .find(|word| {
            let mut parts = word.splitn(2, '.');
            let major = parts.next().unwrap_or("");
            !major.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && parts
                    .next()
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        });
    match found {
        Some(version) => format!("version {version}"),
        None if line.is_empty() => "found (it told no version)".to_string(),
        None => line.to_string(),
    }
}

/// The host's Caddy: its live file and the modules its Caddyfile needs.
fn caddy_checks(
    caddy: &super::plan::CaddyNeed,
    place: &str,
    transcript: &Transcript,
) -> Vec<Check> {
    let stage = StageName::Caddy;
    let mut checks = Vec::new();
    let live = &caddy.live;
    let (status, detail) = match transcript.fact("caddy-live").unwrap_or("") {
        "readable" => (Status::Ok, format!("{live} readable")),
        "absent" => (
            Status::Ok,
            format!("{live} absent: the first push creates it"),
        ),
        "unreadable" => (
            Status::Missing,
            format!("{live} is not readable by the SSH user (a plan reads it)"),
        ),
        "dangling" => (
            Status::Failed,
            format!("{live} is a dangling symlink or a loop"),
        ),
        other => (Status::Failed, format!("the probe said `{other}`")),
    };
    checks.push(Check::new(stage, "Caddyfile", place, status, detail));
    if caddy.modules.is_empty() {
        return checks;
    }
    let check =
        |status: Status, detail: String| Check::new(stage, "caddy modules", place, status, detail);
    if let Some(failed) = transcript.fact("caddy-modules") {
        checks.push(check(
            Status::Failed,
            format!("caddy list-modules: {failed}"),
        ));
        return checks;
    }
    let said = transcript.facts_all("caddy-module");
    if said.is_empty() {
        checks.push(check(
            Status::Skipped,
            "not checked: caddy is not on the SSH user's PATH".to_string(),
        ));
        return checks;
    }
    let absent: Vec<&str> = said
        .iter()
        .filter_map(|fact| fact.strip_suffix(" absent"))
        .collect();
    checks.push(if absent.is_empty() {
        check(Status::Ok, format!("has {}", caddy.modules.join(", ")))
    } else {
        check(
            Status::Missing,
            format!(
                "lacks {}: build caddy with it (xcaddy --with github.com/caddy-dns/...)",
                absent.join(", ")
            ),
        )
    });
    checks
}

/// Whether sudo allows every command a push runs through it, without a password: sudo's rules
/// permit each (`sudo -n -l COMMAND`), and the rule that decides for it (the last that matches,
/// as sudo picks) has NOPASSWD (`!authenticate` in `sudo -n -ll`). `sudo -l COMMAND` alone cannot
/// tell: it says yes for a rule that needs a password as soon as any rule needs none.
fn sudo_check(
    stage: StageName,
    push: &str,
    place: &str,
    transcript: &Transcript,
    key: &str,
) -> Check {
    let said = transcript.facts_all(&format!("sudo.{key}"));
    let check = |status: Status, detail: String| Check::new(stage, "sudo", place, status, detail);
    if said.contains(&"unavailable") {
        return check(
            Status::Missing,
            "sudo is not installed, and the host has `sudo = true`".to_string(),
        );
    }
    let refused: Vec<&str> = said
        .iter()
        .filter_map(|fact| fact.strip_prefix("refused "))
        .collect();
    let permitted: Vec<&str> = said
        .iter()
        .filter_map(|fact| fact.strip_prefix("permitted "))
        .collect();
    let rules = match transcript.fact("sudo-ll-failed") {
        Some(_) => None,
        None => SudoRules::read(transcript),
    };
    let mut password = Vec::new();
    let mut denied = Vec::new();
    for command in &permitted {
        let mut words = command.split(' ');
        let path = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        match rules.as_ref().map(|rules| rules.decides(path, &args)) {
            None => {
                let why = transcript
                    .fact("sudo-ll-failed")
                    .map(|text| format!(" (sudo: {})", text.trim_start_matches("sudo: ")))
                    .unwrap_or_default();
                return check(
                    Status::Failed,
                    format!(
                        "cannot tell whether sudo needs a password: `sudo -n -ll` could not be read{why}"
                    ),
                );
            }
            Some(Decision::NoPassword) => {}
            Some(Decision::Password) => password.push(*command),
            Some(Decision::Denied) => denied.push(*command),
        }
    }
    if refused.is_empty() && password.is_empty() && denied.is_empty() {
        return check(
            Status::Ok,
            format!(
                "{} allowed without a password",
                crate::ui::counted(said.len(), &format!("{push} command"))
            ),
        );
    }
    let mut problems = Vec::new();
    if !refused.is_empty() || !denied.is_empty() {
        let sudo_said = transcript
            .fact(&format!("sudo-said.{key}"))
            .map(|text| format!(" (sudo: {})", text.trim_start_matches("sudo: ")))
            .unwrap_or_default();
        let mut not_allowed: Vec<&str> = refused;
        not_allowed.extend(denied);
        problems.push(format!(
            "not allowed without a password: {}{sudo_said}",
            not_allowed.join("; ")
        ));
    }
    if !password.is_empty() {
        problems.push(format!(
            "allowed but needs a password: {}",
            password.join("; ")
        ));
    }
    check(
        Status::Missing,
        format!(
            "{}; see the sudoers lines in the README ({push})",
            problems.join("; ")
        ),
    )
}

/// How sudo's rules decide one command.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    NoPassword,
    Password,
    /// No rule matches (or a `!COMMAND` does): sudo would refuse it.
    Denied,
}

/// One `Sudoers entry:` of `sudo -ll`.
#[derive(Debug, Default)]
struct SudoRule {
    /// Runs as root: `RunAsUsers` names root or ALL (none named: root).
    as_root: bool,
    /// `!authenticate` among its options: NOPASSWD.
    no_password: bool,
    commands: Vec<String>,
}

/// The user's rules, read from `sudo-ll` facts, with each command path's real path
/// (`sudo-real`), as sudo matches a path by the file it names.
#[derive(Debug)]
struct SudoRules {
    rules: Vec<SudoRule>,
    real: std::collections::HashMap<String, String>,
}

impl SudoRules {
    /// `None` when the lines hold no rule.
    fn read(transcript: &Transcript) -> Option<Self> {
        Self::parse(
            &transcript.facts_all("sudo-ll"),
            &transcript.facts_all("sudo-real"),
        )
    }

    fn parse(lines: &[&str], real: &[&str]) -> Option<Self> {
        let mut rules: Vec<SudoRule> = Vec::new();
        let mut in_commands = false;
        for line in lines {
            if line.starts_with("Sudoers entry") {
                rules.push(SudoRule {
                    as_root: true,
                    ..SudoRule::default()
                });
                in_commands = false;
                continue;
            }
            let Some(rule) = rules.last_mut() else {
                continue;
            };
            let trimmed = line.trim();
            if let Some(users) = trimmed.strip_prefix("RunAsUsers:") {
                rule.as_root = users
                    .split(',')
                    .any(|user| matches!(user.trim(), "ALL" | "root" | "#0"));
                in_commands = false;
            } else if let Some(options) = trimmed.strip_prefix("Options:") {
                rule.no_password = options
                    .split(',')
                    .any(|option| option.trim() == "!authenticate");
                in_commands = false;
            } else if trimmed == "Commands:" {
                in_commands = true;
            } else if in_commands && line.starts_with(char::is_whitespace) && !trimmed.is_empty() {
                rule.commands.push(trimmed.to_string());
            } else if !line.starts_with(char::is_whitespace) {
                in_commands = false;
            }
        }
        if rules.is_empty() {
            return None;
        }
        let real = real
            .iter()
            .filter_map(|fact| fact.split_once(' '))
            .map(|(path, real)| (path.to_string(), real.to_string()))
            .collect();
        Some(Self { rules, real })
    }

    /// How the last rule whose command matches `path ARGS` (run as root) decides it.
    fn decides(&self, path: &str, args: &[&str]) -> Decision {
        let mut decision = Decision::Denied;
        for rule in self.rules.iter().filter(|rule| rule.as_root) {
            for command in &rule.commands {
                let (negated, command) = match command.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, command.as_str()),
                };
                if !self.matches(command, path, args) {
                    continue;
                }
                decision = if negated {
                    Decision::Denied
                } else if rule.no_password {
                    Decision::NoPassword
                } else {
                    Decision::Password
                };
            }
        }
        decision
    }

    /// Whether a rule's command covers `path ARGS`: `ALL`, the path alone (any arguments), or the
    /// path with exactly these arguments (`""`: none), with sudoers' backslash escapes undone.
    fn matches(&self, command: &str, path: &str, args: &[&str]) -> bool {
        if command == "ALL" {
            return true;
        }
        let (rule_path, rule_args) = match command.split_once(' ') {
            Some((rule_path, rule_args)) => (rule_path, Some(rule_args.trim())),
            None => (command, None),
        };
        let rule_real = self.real.get(rule_path).map_or(rule_path, String::as_str);
        if rule_path != path && rule_real != path {
            return false;
        }
        match rule_args {
            None => true,
            Some("\"\"") => args.is_empty(),
            Some(rule_args) => {
                let wanted: Vec<String> = rule_args.split_whitespace().map(unescape).collect();
                wanted == args
            }
        }
    }
}

/// A sudoers word with its backslash escapes (`\:`, `\,`, `\=`, `\\`) undone.
fn unescape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// A row for a folder a push writes in: `writable`, `present` (not writable by the SSH user) or
/// `absent`.
fn folder_check(
    stage: StageName,
    label: &str,
    place: &str,
    folder: &str,
    said: Option<&str>,
    must_write: bool,
    user: &str,
) -> Check {
    let check = |status: Status, detail: String| Check::new(stage, label, place, status, detail);
    match said.unwrap_or("") {
        "writable" => check(Status::Ok, format!("{folder} writable by {user}")),
        "present" if !must_write => check(Status::Ok, format!("{folder} exists")),
        "present" => check(
            Status::Missing,
            format!("{folder} is not writable by {user}: make it owned by {user}"),
        ),
        "absent" => check(
            Status::Missing,
            format!("{folder} does not exist: create it, owned by {user}"),
        ),
        other => check(Status::Failed, format!("the probe said `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_each_tools_own_words() {
        for (line, expected) in [
            ("nginx version: nginx/1.22.1", "version 1.22.1"),
            (
                "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024",
                "version 9.2p1",
            ),
            ("v2.6.2 h1:abc=", "version 2.6.2"),
            ("2.6.2", "version 2.6.2"),
            ("Fail2Ban v1.0.2", "version 1.0.2"),
            (
                "buildah version 1.28.2 (image-spec 1.1.0-rc2)",
                "version 1.28.2",
            ),
            ("Docker version 28.2.2, build e6534b4", "version 28.2.2"),
            (
                "restic 0.14.0 compiled with go1.19.8 on linux/amd64",
                "version 0.14.0",
            ),
            (
                "9.18.49-1~deb12u3-Debian",
                "version 9.18.49-1~deb12u3-Debian",
            ),
            ("3.40.1 2022-12-28 14:03:47 df5c253c", "version 3.40.1"),
            ("tar (GNU tar) 1.34", "version 1.34"),
            ("", "found (it told no version)"),
        ] {
            assert_eq!(version(line), expected, "{line}");
        }
    }

    #[test]
    fn a_version_command_that_fails_or_hangs_is_a_failure() {
        let tool = ToolNeed {
            stage: StageName::Caddy,
            label: "caddy",
            candidates: vec![&super::super::plan::CADDY],
            optional: None,
            beyond_path: false,
        };
        let row = |said: &str| {
            let check = tool_check(&tool, "h1", Some(said), Some("/usr/bin/caddy"));
            (check.status, check.detail)
        };
        assert_eq!(
            row("caddy on-path 0 v2.6.2 h1:abc="),
            (Status::Ok, "version 2.6.2".to_string())
        );
        assert_eq!(
            row("caddy on-path 124 no answer within 3s"),
            (Status::Failed, "no answer within 3s".to_string())
        );
        assert_eq!(
            row("caddy on-path 137 no answer within 3s"),
            (Status::Failed, "no answer within 3s".to_string())
        );
        assert_eq!(
            row("caddy on-path 1 caddy: error while loading shared libraries"),
            (
                Status::Failed,
                "its version command exited with status 1: caddy: error while loading shared libraries"
                    .to_string()
            )
        );
        assert_eq!(
            row("caddy on-path 2 "),
            (
                Status::Failed,
                "its version command exited with status 2".to_string()
            )
        );
    }

    /// `sudo -n -ll` for a user with a password rule for everything and NOPASSWD for a few
    /// commands, as sudo 1.9 prints it.
    const MIXED: &str = "Matching Defaults entries for u on vm:
    env_reset, secure_path=/usr/local/sbin\\:/usr/bin

User u may run the following commands on vm:

Sudoers entry: /etc/sudoers.d/u
    RunAsUsers: ALL
    Commands:
\tALL

Sudoers entry:
    RunAsUsers: root
    Options: !authenticate
    Commands:
\t/usr/bin/true
\t/usr/bin/cp -p /etc/a\\:b /tmp/x
\t/bin/systemctl reload caddy
\t/usr/bin/tee \"\"

Sudoers entry:
    RunAsUsers: nobody
    Options: !authenticate
    Commands:
\tALL

Sudoers entry:
    RunAsUsers: root
    Options: setenv, !authenticate
    Commands:
\t/usr/bin/ls
\t!/usr/bin/rm
";

    #[test]
    fn only_a_nopasswd_rule_that_covers_the_exact_command_needs_no_password() {
        let lines: Vec<&str> = MIXED.lines().collect();
        let rules = SudoRules::parse(&lines, &["/bin/systemctl /usr/bin/systemctl"])
            .unwrap_or_else(|| panic!("no rules read"));
        for (path, args, expected) in [
            ("/usr/bin/true", &[][..], Decision::NoPassword),
            // A path alone allows any arguments.
            ("/usr/bin/ls", &["-l", "/root"][..], Decision::NoPassword),
            // Escapes undone; other arguments than the rule's need the ALL rule's password.
            (
                "/usr/bin/cp",
                &["-p", "/etc/a:b", "/tmp/x"][..],
                Decision::NoPassword,
            ),
            (
                "/usr/bin/cp",
                &["-p", "/etc/hostname", "/tmp/x"][..],
                Decision::Password,
            ),
            // `""`: no arguments only.
            ("/usr/bin/tee", &[][..], Decision::NoPassword),
            ("/usr/bin/tee", &["/tmp/x"][..], Decision::Password),
            // The same file by another path (merged /usr).
            (
                "/usr/bin/systemctl",
                &["reload", "caddy"][..],
                Decision::NoPassword,
            ),
            (
                "/usr/bin/systemctl",
                &["restart", "caddy"][..],
                Decision::Password,
            ),
            // The last matching rule decides: a negation after ALL denies.
            ("/usr/bin/rm", &["-f", "/tmp/x"][..], Decision::Denied),
        ] {
            assert_eq!(rules.decides(path, args), expected, "{path} {args:?}");
        }
        // Without the ALL rule, nothing else is allowed; a rule for another user does not count.
        let only_nopasswd: Vec<&str> = MIXED.lines().filter(|line| *line != "\tALL").collect();
        let rules = SudoRules::parse(&only_nopasswd, &[]).unwrap_or_else(|| panic!("no rules"));
        assert_eq!(rules.decides("/usr/bin/mv", &["a", "b"]), Decision::Denied);
        assert!(SudoRules::parse(&["sudo: a password is required"], &[]).is_none());
    }
}
