//! Malformed catalogs: each one exits 2 with `services.toml:LINE:COL: message`, never a panic.

use crate::support::{Boma, snapshot, test_name};

const HEAD: &str = "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"z.zone\"\n[hosts.indri]\naddress = \"indri.example.net\"\n";

/// `HEAD` takes lines 1-7, so a case's own text starts on line 8.
fn with_head(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

#[track_caller]
fn rejected(catalog: impl AsRef<[u8]>, expected: &str) {
    let run = Boma::new()
        .file("services.toml", catalog)
        .args(["check"])
        .run();
    run.code(2);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(expected),
        "expected a first line starting with {expected:?}, got:\n{}",
        run.stderr
    );
    // The whole of what the operator sees: every problem, the error line, the hints.
    snapshot(&test_name(), &run.stderr);
}

#[test]
fn syntax_error() {
    rejected(
        "version = 1\n[hosts.indri\naddress = \"x\"\n",
        "services.toml:2:13: invalid TOML",
    );
}

#[test]
fn duplicate_key() {
    rejected(
        with_head("[services.a]\nhost = \"indri\"\nhost = \"indri\"\n"),
        "services.toml:10:1: invalid TOML: duplicate key",
    );
}

#[test]
fn empty_file() {
    rejected("", "services.toml:1:1: the catalog has no `version`");
}

#[test]
fn unsupported_version() {
    rejected(
        "version = 2\n",
        "services.toml:1:11: catalog version 2 is not supported",
    );
}

#[test]
fn non_utf8_file() {
    rejected(
        b"version = 1\n# caf\xe9\n",
        "services.toml:2:6: the catalog is not valid UTF-8",
    );
}

#[test]
fn ten_megabyte_file() {
    let huge = format!("version = 1\n# {}\n", "x".repeat(10 * 1024 * 1024));
    rejected(huge, "services.toml:1:1: the catalog is 10485775 bytes");
}

#[test]
fn large_file_with_an_error_at_the_end() {
    let lines: String = (0..60_000)
        .map(|index| format!("# filler line {index}\n"))
        .collect();
    rejected(
        format!("version = 1\n{lines}oops\n"),
        "services.toml:60002:5: invalid TOML",
    );
}

#[test]
fn deeply_nested_arrays() {
    rejected(
        format!(
            "version = 1\nx = {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        "services.toml:2:",
    );
}

#[test]
fn deeply_nested_tables() {
    let header: Vec<&str> = std::iter::repeat_n("a", 20_000).collect();
    rejected(
        format!("version = 1\n[{}]\n", header.join(".")),
        "services.toml:",
    );
}

#[test]
fn unknown_top_level_key() {
    rejected(
        "version = 1\n[servces.a]\n",
        "services.toml:2:2: unknown top-level key `servces`",
    );
}

#[test]
fn unknown_key_in_a_service() {
    rejected(
        with_head("[services.a]\nhots = \"indri\"\n"),
        "services.toml:9:1: unknown key `hots` in `services.a`",
    );
}

#[test]
fn unknown_key_in_a_nested_table() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"a.example.org\"]\n[services.a.backup]\ntool = \"borg\"\nrepository = \"/r\"\nmax_age = \"1h\"\nretention = 3\n";
    rejected(
        with_head(service),
        "services.toml:16:1: unknown key `retention` in `services.a.backup`",
    );
}

#[test]
fn wrong_type() {
    rejected(
        with_head("[services.a]\nnames = \"a.example.org\"\n"),
        "services.toml:9:9: `services.a.names`: wrong type: string",
    );
}

#[test]
fn wrong_type_for_a_port() {
    rejected(
        "version = 1\n[hosts.h]\naddress = \"h.example\"\nssh = { port = 70000 }\n",
        "services.toml:4:16: `hosts.h.ssh.port`: wrong value",
    );
}

#[test]
fn unknown_provider() {
    rejected(
        "version = 1\n[dns]\nprovider = \"gandy\"\nzone = \"example.org\"\n",
        "services.toml:3:12: `dns.provider`: unknown value `gandy`",
    );
}

#[test]
fn missing_required_key() {
    rejected(
        "version = 1\n[hosts.h]\nsudo = true\n",
        "services.toml:2:1: `hosts.h` is missing the required key `address`",
    );
}

#[test]
fn dangling_host_reference() {
    rejected(
        with_head("[services.a]\nhost = \"ringtail\"\n"),
        "services.toml:9:8: `services.a.host`: host `ringtail` is not in the catalog",
    );
}

#[test]
fn dangling_secret_reference() {
    rejected(
        "version = 1\n[dns]\nprovider = \"gandi\"\nzone = \"example.org\"\ncredentials = \"gandi\"\n",
        "services.toml:5:15: `dns.credentials` names secret `gandi`, which [secrets] does not declare",
    );
}

#[test]
fn dangling_auth_provider() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"a.example.org\"]\nauth = \"authentik\"\n";
    rejected(
        with_head(service),
        "services.toml:12:8: `services.a.auth` is `authentik` but [auth.authentik] is not declared",
    );
}

#[test]
fn name_outside_the_zone() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"a.example.com\"]\n";
    rejected(
        with_head(service),
        "services.toml:11:10: `services.a.names`: `a.example.com` is outside the zone `example.org`",
    );
}

#[test]
fn name_claimed_twice() {
    let services = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"a.example.org\"]\n\
                    [services.b]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:2\"\nnames = [\"a.example.org\"]\n";
    rejected(
        with_head(services),
        "services.toml:15:10: `services.b.names`: name `a.example.org` is claimed twice",
    );
}

#[test]
fn public_name_without_edge_or_public_host() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\npublic = [\"a.example.org\"]\n";
    rejected(
        with_head(service),
        "services.toml:11:11: `services.a.public`: `a.example.org` is public, but host `indri` is not public",
    );
}

#[test]
fn bad_duration() {
    let service = "[services.a.backup]\ntool = \"borg\"\nrepository = \"/r\"\nmax_age = \"26 hours and a bit\"\n";
    rejected(
        with_head(service),
        "services.toml:11:11: `services.a.backup.max_age`: `26 hours and a bit` is not a duration",
    );
}

#[test]
fn bad_rate() {
    let service = "[services.a.edge]\nrate_limit = { rate = \"3 per second\" }\n";
    rejected(
        with_head(service),
        "services.toml:9:23: `services.a.edge.rate_limit.rate`: `3 per second` is not a rate",
    );
}

#[test]
fn bad_record_type() {
    rejected(
        with_head("[[dns.records]]\nname = \"@\"\ntype = \"WKS\"\nvalues = [\"x\"]\n"),
        "services.toml:10:8: `dns.records[0].type`: unknown record type `WKS`",
    );
}

#[test]
fn bad_record_value() {
    rejected(
        with_head("[[dns.records]]\nname = \"www\"\ntype = \"A\"\nvalues = [\"300.1.1.1\"]\n"),
        "services.toml:11:11: `dns.records[0].values`: `300.1.1.1` is not a valid A value",
    );
}

#[test]
fn dns_challenge_on_a_host_that_needs_none() {
    let catalog = "version = 1\n[hosts.h]\naddress = \"h.example\"\n[hosts.h.caddy]\ndns_challenge = { provider = \"gandi\", token_env = \"T\" }\n";
    rejected(
        catalog,
        "services.toml:5:17: host `h` has a `dns_challenge` but serves no private names",
    );
}

#[test]
fn secret_with_two_sources() {
    rejected(
        "version = 1\n[secrets]\nx = { env = \"A\", file = \"b\" }\n",
        "services.toml:3:5: `secrets.x` must have exactly one of `env`, `file` or `command`",
    );
}

#[test]
fn failing_secret_command() {
    let run = Boma::new()
        .catalog("version = 1\n[secrets]\nbackup = { command = [\"sh\", \"-c\", \"exit 1\"] }\n")
        .args(["check", "--secrets"])
        .run();
    run.code(2)
        .stderr_has("services.toml:3:10: secret `backup`: command `sh` exited with status 1");
}

#[test]
fn edge_without_the_edge_section() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"a.example.org\"]\npublic = [\"www.example.org\"]\n[services.a.edge]\ndeny = [\"/admin/\"]\n";
    rejected(
        with_head(service),
        "services.toml:13:1: `services.a.edge` needs the [edge] section",
    );
}

#[test]
fn image_with_a_tag() {
    let service = "[services.a.container]\ncontext = \"c\"\nimage = \"forge.example.org/ops/a:latest\"\nversion = \"1.0.0\"\n";
    rejected(
        with_head(service),
        "services.toml:10:9: `services.a.container.image`: `forge.example.org/ops/a:latest` is not an image name",
    );
}

#[test]
fn cname_at_the_zone_apex() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"example.org\"]\n";
    rejected(
        with_head(service),
        "services.toml:11:10: `services.a.names`: the zone apex `example.org` cannot be a CNAME",
    );
}

#[test]
fn upstream_with_a_path() {
    let service = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1/app\"\nnames = [\"a.example.org\"]\n";
    rejected(
        with_head(service),
        "services.toml:10:12: `services.a.upstream`: upstream `http://127.0.0.1:1/app` must be scheme, host and port only",
    );
}

#[test]
fn record_clashing_with_a_service_name() {
    let rest = "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"a.example.org\"]\n[[dns.records]]\nname = \"a\"\ntype = \"TXT\"\nvalues = [\"x\"]\n";
    rejected(
        with_head(rest),
        "services.toml:13:8: `dns.records[0]`: `a.example.org` already has a CNAME record from service `a`",
    );
}

#[test]
fn shell_syntax_in_a_reload_that_runs_through_sudo() {
    rejected(
        "version = 1\n[hosts.h]\naddress = \"h.example\"\nsudo = true\n[hosts.h.caddy]\nreload = \"caddy reload && echo ok\"\n",
        "services.toml:6:10: `hosts.h.caddy.reload` uses shell syntax, but with `sudo = true`",
    );
}

#[test]
fn caa_value_that_smuggles_a_record() {
    rejected(
        with_head(
            "[[dns.records]]\nname = \"@\"\ntype = \"CAA\"\nvalues = [\"0 issue \\\"x\\\"\\nevil2 300 IN A 6.6.6.6\"]\n",
        ),
        "services.toml:11:11: `dns.records[0].values`:",
    );
}

#[test]
fn caa_with_bad_flags_or_an_unquoted_value() {
    rejected(
        with_head(
            "[[dns.records]]\nname = \"@\"\ntype = \"CAA\"\nvalues = [\"256 issue \\\"x\\\"\", \"0 issue x\"]\n",
        ),
        "services.toml:11:11: `dns.records[0].values`:",
    );
}

#[test]
fn label_over_63_bytes() {
    let label = "x".repeat(64);
    rejected(
        with_head(&format!(
            "[services.a]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"{label}.example.org\"]\n"
        )),
        "services.toml:11:10: `services.a.names`:",
    );
}

#[test]
fn host_with_a_bad_address_does_not_hide_its_services() {
    let run = Boma::new()
        .file(
            "services.toml",
            "version = 1\n[hosts.web]\naddress = \"not an address\"\n[services.a]\nhost = \"web\"\nupstream = \"http://127.0.0.1:1\"\n",
        )
        .args(["check"])
        .run();
    run.code(2)
        .stderr_has("services.toml:3:11: `hosts.web.address`: `not an address` is not a host name or IP address");
    assert!(
        !run.stderr.contains("is not in the catalog"),
        "{}",
        run.stderr
    );
    snapshot(&test_name(), &run.stderr);
}

#[test]
fn suggestions_name_only_valid_hosts() {
    let run = Boma::new()
        .file(
            "services.toml",
            "version = 1\n[hosts.\"web box\"]\naddress = \"web.example.net\"\n[services.a]\nhost = \"web bo\"\nupstream = \"http://127.0.0.1:1\"\n",
        )
        .args(["check"])
        .run();
    run.code(2).stderr_has("host name `web box` is not allowed");
    assert!(
        !run.stderr.contains("did you mean `web box`"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("closest known is `web box`"),
        "{}",
        run.stderr
    );
    snapshot(&test_name(), &run.stderr);
}

#[test]
fn edge_deny_ips_that_are_not_addresses() {
    rejected(
        with_head(
            "[secrets]\nfly = { env = \"FLY\" }\n[edge]\napp = \"proxy\"\ntarget = \"proxy.fly.dev\"\ntoken = \"fly\"\ndeny_ips = [\"203.0.113.0/24\", \"300.1.2.3\", \"10.0.0.0/33\"]\n",
        ),
        "services.toml:14:31: `edge.deny_ips`: `300.1.2.3` is not an IP address or CIDR block",
    );
}

#[test]
fn registries_and_images_that_do_not_hold_together() {
    rejected(
        with_head(
            "[secrets]\nforge = { env = \"FORGE\" }\n\
             [registries.one]\nhost = \"forge.example.org\"\npassword = \"forgee\"\n\
             [registries.two]\nhost = \"forge.example.org\"\nuser = \"ops\"\n\
             [images.caddy]\ncontext = \"containers/caddy\"\nimage = \"forge.example.org/ops/caddy:latest\"\nversion = \"2.11.4\"\nbuilder = \"indrii\"\nargs = { \"BAD-NAME\" = \"x\" }\n\
             [images.app]\ncontext = \"containers/app\"\nimage = \"forge.example.org/ops/app\"\nversion = \"1.0.0\"\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.example.org\"]\n\
             [services.app.container]\ncontext = \"containers/app\"\nimage = \"forge.example.org/ops/app\"\nversion = \"1.0.0\"\n",
        ),
        "services.toml:",
    );
}

#[test]
fn containerfile_outside_its_context() {
    rejected(
        with_head(
            "[images.up]\ncontext = \"containers/app\"\nfile = \"../../etc/shadow\"\nimage = \"forge.example.org/ops/up\"\nversion = \"1.0.0\"\n\
             [images.absolute]\ncontext = \"containers/app\"\nfile = \"/etc/passwd\"\nimage = \"forge.example.org/ops/absolute\"\nversion = \"1.0.0\"\n\
             [images.inside]\ncontext = \"containers/app\"\nfile = \"build/Containerfile.prod\"\nimage = \"forge.example.org/ops/inside\"\nversion = \"1.0.0\"\n",
        ),
        "services.toml:",
    );
}

/// `[edge]` with a tailnet and one service in front of it: a case's own text follows.
const EDGE: &str = "[secrets]\nfly = { env = \"FLY\" }\nts = { env = \"TS\" }\n\
     [edge]\napp = \"proxy\"\ntarget = \"proxy.fly.dev\"\ntoken = \"fly\"\n";

#[test]
fn tailnet_without_an_auth_key() {
    rejected(
        with_head(&format!(
            "{EDGE}[edge.tailnet]\nhostname = \"proxy\"\ntags = [\"edge\"]\n"
        )),
        "services.toml:15:1: `edge.tailnet` has no `auth_key`",
    );
}

#[test]
fn edge_keys_that_do_not_hold_together() {
    // Each mistake once, each its own error: a cache without bounds, a header with a line
    // break, an upstream that is not a URL, two rate limits with one name, and their siblings.
    rejected(
        with_head(&format!(
            "{EDGE}primary_region = \"Amsterdam\"\nvolume = \"edge-state\"\nvm = {{ size = \"huge\", memory_mb = 300 }}\nresolver = \"100.100.100.100:0\"\n\
             [edge.tailnet]\nauth_key = \"tss\"\ntags = [\"edge\"]\nimage = \"tailscale/tailscale:stable; rm -rf /\"\n\
             [services.forge]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:3000\"\nnames = [\"forge.example.org\"]\npublic = [\"git.example.org\"]\n\
             [services.forge.edge]\nupstream = \"forge.tail1234.ts.net\"\nupstream_host = \"forge tailnet\"\nmax_body = \"lots\"\n\
             headers = {{ \"X-Note\" = \"one\\ntwo\", \"Content-Length\" = \"1\", \"Bad Name\" = \"x\" }}\n\
             rate_limit = [{{ rate = \"10r/s\" }}, {{ rate = \"1r/s\", paths = [\"/login\"] }}, {{ name = \"login\", rate = \"1r/m\", status = 302 }}]\n\
             cache = {{ paths = [\"/assets/\"], lifetime = \"1d\" }}\n\
             deny_body = \"no\\u0007bell\"\n\
             error_page = \"errors/missing.html\"\n"
        )),
        "services.toml:",
    );
}

#[test]
fn edge_upstream_name_without_a_resolver() {
    rejected(
        with_head(&format!(
            "{EDGE}[services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:3000\"\nnames = [\"app.example.org\"]\npublic = [\"www.example.org\"]\n\
             [services.app.edge]\ndeny = [\"/admin/\"]\n\
             [services.ip]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:3001\"\nnames = [\"ip.example.org\"]\npublic = [\"ip2.example.org\"]\n\
             [services.ip.edge]\nupstream = \"http://100.64.0.7:3001\"\n"
        )),
        "services.toml:20:1: `services.app.edge` proxies to `https://app.example.org`, a name, but [edge] has no `resolver`",
    );
}

#[test]
fn sites_that_answer_and_snippets_that_do_not_hold_together() {
    rejected(
        with_head(
            "[hosts.indri.caddy]\nglobal = \"servers {\\u0007}\"\n\
             [services.both]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nrespond = { body = \"hi\" }\nnames = [\"both.example.org\"]\n\
             [services.moved]\nhost = \"indri\"\nredirect = \"docs.example.org\"\nnames = [\"moved.example.org\"]\n\
             [services.odd]\nhost = \"indri\"\nrespond = { status = 999, body = \"a \\\\ b\" }\nnames = [\"odd.example.org\"]\n\
             [services.none]\nhost = \"indri\"\nnames = [\"none.example.org\"]\n",
        ),
        "services.toml:9:10: `hosts.indri.caddy.global` holds a control character",
    );
}

#[test]
fn wildcards_without_a_dns_challenge_or_a_service_under_them() {
    rejected(
        with_head(
            "[hosts.indri.caddy]\nwildcard = [\"ops.example.org\"]\n\
             [hosts.web]\naddress = \"web.example.net\"\n\
             [hosts.web.caddy]\ndns_challenge = { provider = \"gandi\", token_env = \"GANDI\" }\nwildcard = [\"lab.example.org\", \"tools.example.org\", \"lab.example.org\", \"bad name\"]\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.ops.example.org\"]\n\
             [services.tool]\nhost = \"web\"\nupstream = \"http://127.0.0.1:2\"\nnames = [\"x.tools.example.org\"]\n",
        ),
        "services.toml:9:13: `hosts.indri.caddy.wildcard` needs `hosts.indri.caddy.dns_challenge`",
    );
}

/// One mistake in an entry gives one error: the entry still exists for every reference to it.
/// Each case: a catalog with one unreadable entry, and the text it must not also report; the
/// same catalog without the entry reports that text, so its absence proves the entry counted.
#[test]
fn an_unreadable_entry_still_exists_for_references() {
    let backup = "[services.app.backup]\ntool = \"restic\"\nrepository = \"/r\"\nmax_age = \"1d\"\npassphrase = \"restic\"\n";
    let cases: [(&str, String, &str, &[&str]); 7] = [
        (
            "host",
            format!(
                "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"z.zone\"\n\
                 [secrets]\nrestic = {{ env = \"RESTIC\" }}\n\
                 [hosts.indri]\naddress = \"indri.example.net\"\nsudo = \"yes\"\n\
                 [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.example.org\"]\n\
                 [services.app.container]\ncontext = \"c\"\nimage = \"forge.example.org/ops/app\"\nversion = \"1.0.0\"\nbuilder = \"indri\"\n\
                 {backup}host = \"indri\"\n"
            ),
            "[hosts.indri]\naddress = \"indri.example.net\"\nsudo = \"yes\"\n",
            &["host `indri` is not in the catalog"],
        ),
        (
            "single_zone",
            "version = 1\n[dns]\nprovider = \"zonefil\"\nzone = \"example.org\"\npath = \"z.zone\"\n\
             [hosts.indri]\naddress = \"indri.example.net\"\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.example.org\"]\n"
                .to_string(),
            "[dns]\nprovider = \"zonefil\"\nzone = \"example.org\"\npath = \"z.zone\"\n",
            &["names need a [dns] zone"],
        ),
        (
            "named_zone",
            "version = 1\n[dns]\nowner = \"lab\"\n\
             [dns.zones.public]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"public.zone\"\nnames = \"public\"\n\
             [dns.zones.ops]\nprovider = \"zonefil\"\nzone = \"ops.example.org\"\npath = \"ops.zone\"\nnames = \"private\"\n\
             [[dns.records]]\nzone = \"ops\"\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns.example.net.\"]\n\
             [[dns.records]]\nname = \"mail.ops.example.org.\"\ntype = \"A\"\nvalues = [\"192.0.2.1\"]\n\
             [hosts.indri]\naddress = \"indri.example.net\"\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.ops.example.org\"]\n"
                .to_string(),
            "[dns.zones.ops]\nprovider = \"zonefil\"\nzone = \"ops.example.org\"\npath = \"ops.zone\"\nnames = \"private\"\n",
            &[
                "no zone `ops`",
                "is in no zone",
                "in no zone that carries private names",
            ],
        ),
        (
            "secret",
            format!(
                "version = 1\n[secrets]\nrestic = {{ env = 5 }}\n\
                 [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\nurl = \"http://127.0.0.1:8081\"\ncredentials = \"restic\"\n\
                 [registries.forge]\nhost = \"forge.example.org\"\nuser = \"ops\"\npassword = \"restic\"\n\
                 [services.app]\n{backup}"
            ),
            "restic = { env = 5 }\n",
            &["which [secrets] does not declare"],
        ),
        (
            "edge",
            "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"z.zone\"\n\
             [secrets]\nfly = { env = \"FLY\" }\n\
             [edge]\napp = \"proxy\"\ntarget = \"proxy.fly.dev\"\ntoken = \"fly\"\nport = \"8080\"\n\
             [hosts.indri]\naddress = \"indri.example.net\"\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.example.org\"]\npublic = [\"www.example.org\"]\n\
             [services.app.edge]\ndeny = [\"/admin/\"]\n"
                .to_string(),
            "[edge]\napp = \"proxy\"\ntarget = \"proxy.fly.dev\"\ntoken = \"fly\"\nport = \"8080\"\n",
            &["needs the [edge] section"],
        ),
        (
            "auth",
            "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"z.zone\"\n\
             [auth.authentik]\noutpost = 9000\n\
             [hosts.indri]\naddress = \"indri.example.net\"\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.example.org\"]\nauth = \"authentik\"\n"
                .to_string(),
            "[auth.authentik]\noutpost = 9000\n",
            &["[auth.authentik] is not declared"],
        ),
        (
            "service",
            "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"z.zone\"\n\
             [hosts.indri]\naddress = \"indri.example.net\"\n\
             [hosts.indri.caddy]\ndns_challenge = { provider = \"gandi\", token_env = \"GANDI\" }\nwildcard = [\"ops.example.org\"]\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.ops.example.org\"]\ndescription = 7\n"
                .to_string(),
            "[services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.ops.example.org\"]\ndescription = 7\n",
            &["serves no private names", "no service on `indri`"],
        ),
    ];
    for (case, broken, entry, absent) in cases {
        assert!(
            broken.contains(entry),
            "{case}: the entry is in the catalog"
        );
        let check = |catalog: &str| {
            let run = Boma::new().catalog(catalog).args(["check"]).run();
            run.code(2);
            run.stderr.clone()
        };
        let reported = check(&broken);
        let without = check(&broken.replace(entry, ""));
        for text in absent {
            assert!(
                without.contains(text),
                "{case}: without the entry, {text:?} is reported:\n{without}"
            );
            assert!(
                !reported.contains(text),
                "{case}: one mistake, one error, not {text:?}:\n{reported}"
            );
        }
        snapshot(&format!("bad_input__unreadable_{case}"), &reported);
    }
}

#[test]
fn wrong_types_are_named_in_the_catalog_s_words() {
    rejected(
        with_head(
            "sudo = \"yes\"\n[defaults]\nttl = -1\n\
             [hosts.web]\naddress = \"web.example.net\"\nssh = { port = \"22\" }\n\
             [hosts.box]\naddress = \"box.example.net\"\nip = [\"192.0.2.1\"]\n\
             [hosts.lab]\naddress = \"lab.example.net\"\ncaddy = { wildcard = \"ops.example.org\" }\n",
        ),
        "services.toml:8:8: `hosts.indri.sudo`: wrong type: string \"yes\", expected true or false",
    );
}

#[test]
fn a_table_written_twice_names_both_places() {
    rejected(
        with_head(
            "[services.a]\nhost = \"indri\"\n[hosts.web]\naddress = \"web.example.net\"\n[services.a]\nupstream = \"http://127.0.0.1:1\"\n",
        ),
        "services.toml:12:11: invalid TOML: duplicate key `services.a`, first written at line 8, column 11",
    );
}

#[test]
fn texts_that_would_leak_or_mislead_and_a_wildcard_on_two_hosts() {
    rejected(
        with_head(&format!(
            "{EDGE}resolver = \"100.100.100.100\"\n\
             [hosts.indri.caddy]\ndns_challenge = {{ provider = \"gandi\", token_env = \"GANDI\" }}\nwildcard = [\"ops.example.org\"]\n\
             [hosts.web]\naddress = \"web.example.net\"\n\
             [hosts.web.caddy]\ndns_challenge = {{ provider = \"gandi\", token_env = \"GANDI\" }}\nwildcard = [\"ops.example.org\"]\n\
             [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:1\"\nnames = [\"app.ops.example.org\"]\npublic = [\"app.example.org\"]\n\
             [services.app.edge]\nrate_limit = {{ rate = \"5r/s\", status = 503 }}\nerror_page = \"../../etc/passwd\"\n\
             [services.tool]\nhost = \"web\"\nnames = [\"tool.ops.example.org\"]\nrespond = {{ body = \"token: {{env.GANDI}} {{$HOME}}\" }}\n"
        )),
        "services.toml:",
    );
}

#[test]
fn an_edge_on_a_host_with_fly_keys_and_bad_values() {
    // Each mistake once: Fly.io's keys on an edge that runs on a host, a relative prefix, a
    // reload with shell syntax on a sudo host, and an empty one.
    rejected(
        with_head(
            "sudo = true\n\
             [secrets]\nfly = { env = \"FLY\" }\n\
             [edge]\nhost = \"indri\"\napp = \"proxy\"\ntoken = \"fly\"\nvolume = \"edge_state\"\n\
             prefix = \"srv/edge\"\nreload_nginx = \"nginx -s reload; rm -rf /\"\nreload_fail2ban = \"\"\n",
        ),
        "services.toml:",
    );
}

#[test]
fn an_edge_on_a_host_the_catalog_lacks() {
    rejected(
        with_head("[edge]\nhost = \"indir\"\n"),
        "services.toml:9:8: `edge.host`: host `indir` is not in the catalog",
    );
}

#[test]
fn an_edge_with_neither_an_app_nor_a_host() {
    rejected(
        with_head(
            "[secrets]\nfly = { env = \"FLY\" }\n[edge]\ntarget = \"proxy.fly.dev\"\ntoken = \"fly\"\n",
        ),
        "services.toml:",
    );
}

#[test]
fn a_fly_edge_with_the_keys_of_an_edge_on_a_host() {
    rejected(
        with_head(&format!(
            "{EDGE}prefix = \"/srv/edge/\"\nreload_nginx = \"nginx -s reload\"\n"
        )),
        "services.toml:15:10: `edge.prefix` is for an edge on a host",
    );
}

#[test]
fn cloudflare_takes_no_spf_or_dname() {
    rejected(
        "version = 1\n[secrets]\ncf = { env = \"CF\" }\n[dns]\nprovider = \"cloudflare\"\nzone = \"example.org\"\ncredentials = \"cf\"\n\
         [[dns.records]]\nname = \"@\"\ntype = \"SPF\"\nvalues = [\"v=spf1 -all\"]\n\
         [[dns.records]]\nname = \"old\"\ntype = \"DNAME\"\nvalues = [\"new.example.net.\"]\n",
        "services.toml:10:8: `dns.records[0].type`: the cloudflare provider (zone `example.org`) takes no SPF records",
    );
}

/// One mistake in each value, one error each, at the value.
#[test]
fn record_values_that_do_not_read() {
    let records = [
        ("SSHFP", "4 2 7426870656afb9855efdb9d7073d1618d28000c4"),
        (
            "TLSA",
            "3 1 2 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
        ),
        (
            "NAPTR",
            "100 10 \\\"U\\\" \\\"E2U+sip\\\" \\\"!^.*$!sip:a@example.org!\\\" sip.example.org.",
        ),
        (
            "NAPTR",
            "100 10 \\\"S+\\\" \\\"SIP+D2U\\\" \\\"\\\" _sip._udp.example.org.",
        ),
        ("LOC", "91 0 0 N 4 53 32 E 0m"),
        ("SVCB", "1 . mandatory=port alpn=h2"),
        ("HTTPS", "0 . alpn=h2"),
        ("PTR", "a.example.org. b.example.org."),
    ];
    let text: String = records
        .iter()
        .enumerate()
        .map(|(index, (kind, value))| {
            format!(
                "[[dns.records]]\nname = \"r{index}\"\ntype = \"{kind}\"\nvalues = [\"{value}\"]\n"
            )
        })
        .collect();
    rejected(
        with_head(&text),
        "services.toml:11:11: `dns.records[0].values`: `4 2 7426870656afb9855efdb9d7073d1618d28000c4` is not a valid SSHFP value: a SHA-256 fingerprint (type 2) is 64 hex digits, not 40",
    );
}

#[test]
fn a_classless_reverse_zone() {
    rejected(
        "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"0/26.2.0.192.in-addr.arpa\"\nnames = \"reverse\"\npath = \"rev.zone\"\n",
        "services.toml:4:8: `dns.zone`: `0/26.2.0.192.in-addr.arpa` cannot be a reverse zone: `0/26` is a classless (RFC 2317) label",
    );
}

#[test]
fn a_host_in_a_reverse_zone_without_a_dns_name() {
    rejected(
        "version = 1\n[dns.zones.rev]\nprovider = \"zonefile\"\nzone = \"2.0.192.in-addr.arpa\"\nnames = \"reverse\"\npath = \"rev.zone\"\n\
         [hosts.nas]\naddress = \"192.0.2.5\"\n",
        "services.toml:8:11: `hosts.nas`: 192.0.2.5 is in the reverse zone `2.0.192.in-addr.arpa` (rev), but the host has no DNS name for its PTR record",
    );
}

#[test]
fn a_declared_ptr_where_a_host_has_one() {
    rejected(
        "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"2.0.192.in-addr.arpa\"\nnames = \"reverse\"\npath = \"rev.zone\"\n\
         [[dns.records]]\nname = \"5\"\ntype = \"PTR\"\nvalues = [\"printer.example.org.\"]\n\
         [hosts.nas]\naddress = \"nas.example.org\"\nip = \"192.0.2.5\"\n",
        "services.toml:8:8: `dns.records[0]`: `5.2.0.192.in-addr.arpa` PTR is already declared by host `nas`",
    );
}

#[test]
fn sshfp_on_hosts_without_what_it_needs() {
    rejected(
        with_head(
            "sshfp = true\nname = \"indri.example.net\"\n\
             [hosts.nas]\naddress = \"192.0.2.5\"\nsshfp = true\n\
             [hosts.here]\naddress = \"local\"\nname = \"here.example.org\"\nsshfp = true\n\
             [hosts.bad]\naddress = \"bad.example.org\"\nname = \"bad name\"\n",
        ),
        "services.toml:8:9: `hosts.indri.sshfp`: `indri.example.net`, where the SSHFP records would go, is in no zone of the catalog",
    );
}
