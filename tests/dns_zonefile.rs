//! `dns-preview` / `dns-up` on a zone file, checked with the real `named-checkzone`.

use crate::support::{Boma, require};

fn catalog(services: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"zones/example.org.zone\"\nmax_change_percent = 30\n\
         [[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\", \"ns2.example.net.\"]\n\
         [[dns.records]]\nname = \"@\"\ntype = \"TXT\"\nvalues = [\"v=spf1 -all\"]\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"100.64.0.1\"\n\
         [hosts.ringtail]\naddress = \"ringtail.tail.ts.net\"\n",
    );
    for (name, host) in services {
        text.push_str(&format!("[services.{name}]\nhost = \"{host}\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"{name}.example.org\"]\n"));
    }
    text
}

fn zone(boma: &Boma) -> String {
    zone_file(boma, "example.org")
}

fn zone_file(boma: &Boma, zone: &str) -> String {
    std::fs::read_to_string(boma.path().join(format!("zones/{zone}.zone"))).unwrap_or_default()
}

fn check_zone(boma: &Boma) {
    let Some(checker) = require("named-checkzone") else {
        return;
    };
    let output = std::process::Command::new(checker)
        .args(["-i", "local", "example.org"])
        .arg(boma.path().join("zones/example.org.zone"))
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        output.status.success(),
        "named-checkzone: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        zone(boma)
    );
}

#[test]
fn first_sync_writes_a_valid_zone_and_the_second_changes_nothing() {
    let boma = Boma::new().catalog(&catalog(&[("app", "indri"), ("wiki", "ringtail")]));
    let preview = boma.run_with(["dns-preview", "--exit-code"]);
    preview
        .code(1)
        .stdout_has("+ A 300 100.64.0.1")
        .stdout_has("+ CNAME 300 ringtail.tail.ts.net.")
        .stdout_has("4 to create, 0 to update");
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("applied 4 changes");
    check_zone(&boma);
    let first = zone(&boma);
    assert!(
        first.contains("@ 3600 IN SOA ns1.example.net. hostmaster.example.org. 1 "),
        "{first}"
    );
    assert!(
        first.contains("app 300 IN A 100.64.0.1\n")
            && first.contains("@ 300 IN TXT \"v=spf1 -all\"\n"),
        "{first}"
    );

    boma.run_with(["dns-up"])
        .success()
        .stderr_has("no changes for zone example.org");
    assert_eq!(
        zone(&boma),
        first,
        "an unchanged plan leaves the file (and its serial) alone"
    );
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("0 to create, 0 to update, 0 to delete, 4 unchanged");
}

#[test]
fn serial_is_bumped_when_records_change() {
    let boma = Boma::new().catalog(&catalog(&[("app", "indri")]));
    boma.run_with(["dns-up"]).success();
    let boma = boma.file("services.toml", catalog(&[("app", "ringtail")]));
    boma.run_with(["dns-preview"])
        .success()
        .stdout_has("- A 300 100.64.0.1")
        .stdout_has("+ CNAME 300 ringtail.tail.ts.net.");
    boma.run_with(["dns-up"]).success();
    let text = zone(&boma);
    assert!(
        text.contains(" 2 3600 900 1209600 300\n")
            && text.contains("app 300 IN CNAME ringtail.tail.ts.net.\n"),
        "{text}"
    );
    assert!(!text.contains("app 300 IN A"), "{text}");
    check_zone(&boma);
}

#[test]
fn json_and_markdown_plans() {
    let boma = Boma::new().catalog(&catalog(&[("app", "indri")]));
    let run = boma.run_with(["--output", "json", "dns-preview"]);
    run.success();
    let plan = run.json();
    assert_eq!(plan["zone"], "example.org");
    assert_eq!(plan["provider"], "zonefile");
    assert_eq!(plan["summary"]["creates"], 3);
    assert_eq!(plan["checksum"].as_str().map(str::len), Some(16));
    let create = &plan["changes"].as_array().cloned().unwrap_or_default()[0];
    assert_eq!(create["action"], "create");
    assert_eq!(create["rrset"]["name"], "app.example.org");
    assert_eq!(create["rrset"]["values"][0], "100.64.0.1");
    let markdown = boma.run_with(["--output", "markdown", "dns-preview"]);
    markdown
        .success()
        .stdout_has("| + | app.example.org | A | 300 | 100.64.0.1 |")
        .stdout_has("**3 to create");
}

#[test]
fn checksum_guards_the_reviewed_plan() {
    let boma = Boma::new().catalog(&catalog(&[("app", "indri")]));
    let reviewed = boma.run_with(["--output", "json", "dns-preview"]).json()["checksum"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let boma = boma.file(
        "services.toml",
        catalog(&[("app", "indri"), ("wiki", "indri")]),
    );
    boma.run_with(["dns-up", "--checksum", &reviewed])
        .code(2)
        .stderr_has("the plan changed since it was reviewed");
    assert!(
        !boma.path().join("zones/example.org.zone").exists(),
        "nothing was written"
    );
    let fresh = boma.run_with(["--output", "json", "dns-preview"]).json()["checksum"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    boma.run_with(["dns-up", "--checksum", &fresh]).success();
}

#[test]
fn large_update_or_delete_plans_need_force() {
    let many: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let all: Vec<(&str, &str)> = many.iter().map(|name| (name.as_str(), "indri")).collect();
    let boma = Boma::new().catalog(&catalog(&all));
    boma.run_with(["dns-up"]).success();
    let boma = boma.file("services.toml", catalog(&all[..6]));
    boma.run_with(["dns-up"])
        .code(2)
        .stderr_has("the plan updates or deletes 43% of the 14 records boma owns; the limit is 30%")
        .stderr_has("--force");
    boma.run_with(["dns-up", "--force"])
        .success()
        .stderr_has("applied 6 changes");
}

#[test]
fn a_zone_named_checkzone_rejects_leaves_the_live_file_untouched() {
    if require("named-checkzone").is_none() {
        return;
    }
    let boma = Boma::new().catalog(&catalog(&[("app", "indri")]));
    boma.run_with(["dns-up"]).success();
    let before = zone(&boma);
    let without_ns = catalog(&[("app", "indri")]).replace(
        "type = \"NS\"\nvalues = [\"ns1.example.net.\", \"ns2.example.net.\"]",
        "type = \"CAA\"\nvalues = [\"0 issue \\\"letsencrypt.org\\\"\"]",
    );
    let boma = boma.file("services.toml", without_ns);
    boma.run_with(["dns-up", "--force"])
        .code(2)
        .stderr_has("named-checkzone rejects the new zone")
        .stderr_has("is unchanged")
        // named-checkzone's own reason, not only that it failed.
        .stderr_has("has no NS records")
        .stderr_has("nothing was applied");
    assert_eq!(zone(&boma), before);
}

#[test]
fn catalog_without_dns_is_a_clear_error() {
    Boma::new()
        .catalog("version = 1\n")
        .args(["dns-preview"])
        .run()
        .code(2)
        .stderr_has("error: the catalog has no [dns] section");
}

#[test]
fn the_shipped_catalog_works_out_of_the_box() {
    let shipped =
        std::fs::read_to_string(crate::support::repo_file("services.toml")).unwrap_or_default();
    let known_hosts =
        std::fs::read(crate::support::repo_file("ssh/known_hosts")).unwrap_or_default();
    let boma = Boma::new()
        .catalog(&shipped)
        .file("ssh/known_hosts", known_hosts);
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("applied 3 changes to zone ops.example.org")
        .stderr_has("applied 17 changes to zone example.org")
        .stderr_has("applied 2 changes to zone 113.0.203.in-addr.arpa");
    check_zone(&boma);
    // ringtail's PTR in the reverse zone, and its SSHFP from the committed known_hosts.
    assert!(
        zone_file(&boma, "113.0.203.in-addr.arpa")
            .contains("20 300 IN PTR ringtail.example.org.\n"),
        "{}",
        zone_file(&boma, "113.0.203.in-addr.arpa")
    );
    assert!(
        zone_file(&boma, "example.org").contains(
            "ringtail 300 IN SSHFP 4 2 3958add2fd3691ce85c18c622118088b99de8f9a7172e45ffed125d43793b55a\n"
        ),
        "{}",
        zone_file(&boma, "example.org")
    );
    let private = zone_file(&boma, "ops.example.org");
    // indri's private names resolve through its wildcard: one record, no record a name.
    assert!(
        private.contains("* 300 IN A 100.101.102.103\n") && !private.contains("docs"),
        "private names only: {private}"
    );
    assert!(
        private.contains("* 300 IN A") && !private.contains("grafana"),
        "the wildcard replaces the per-name records: {private}"
    );
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("no changes for zone ops.example.org")
        .stderr_has("no changes for zone example.org")
        .stderr_has("no changes for zone 113.0.203.in-addr.arpa");
}

#[test]
fn preview_text_and_markdown_show_creates_updates_and_deletes_whole() {
    let boma = Boma::new().catalog(&catalog(&[("app", "indri"), ("wiki", "ringtail")]));
    let first = boma.run_with(["dns-preview"]);
    first.success();
    crate::support::snapshot("dns_preview__first_sync_text", &first.stdout);
    boma.run_with(["dns-up"]).success();
    // indri gets a new address (an update), `wiki` leaves (a delete), `blog` arrives (a create).
    let boma = boma.file(
        "services.toml",
        catalog(&[("app", "indri"), ("blog", "ringtail")]).replace("100.64.0.1", "100.64.0.2"),
    );
    let text = boma.run_with(["dns-preview"]);
    text.success();
    crate::support::snapshot("dns_preview__changes_text", &text.stdout);
    let markdown = boma.run_with(["--output", "markdown", "dns-preview"]);
    markdown.success();
    crate::support::snapshot("dns_preview__changes_markdown", &markdown.stdout);
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map_or(0, |meta| meta.permissions().mode() & 0o7777)
}

#[test]
fn the_zone_file_keeps_its_mode_owner_and_symlink() {
    use std::os::unix::fs::MetadataExt;
    let boma = Boma::new().catalog(&catalog(&[("app", "indri")]));
    boma.run_with(["dns-up"]).success();
    let real = boma.path().join("zones/example.org.zone");
    assert_eq!(
        mode(&real),
        0o644,
        "a new zone file is world-readable, as BIND needs"
    );
    // BIND runs as `bind`: a 0640 file owned by another user must stay so.
    std::fs::set_permissions(&real, std::os::unix::fs::PermissionsExt::from_mode(0o640))
        .unwrap_or_else(|e| panic!("{e}"));
    let is_root = std::fs::metadata(boma.path()).is_ok_and(|meta| meta.uid() == 0);
    if is_root {
        std::os::unix::fs::chown(&real, Some(65534), Some(65534)).unwrap_or_else(|e| panic!("{e}"));
    }
    // The zone path becomes a symlink to the real file, as BIND setups often have.
    let data = boma.path().join("bind/db.example.org");
    std::fs::create_dir_all(boma.path().join("bind")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&real, &data).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&data, &real).unwrap_or_else(|e| panic!("{e}"));

    let boma = boma.file(
        "services.toml",
        catalog(&[("app", "indri"), ("wiki", "indri")]),
    );
    boma.run_with(["dns-up"]).success();
    assert!(
        std::fs::symlink_metadata(&real).is_ok_and(|meta| meta.file_type().is_symlink()),
        "the symlink stays a symlink"
    );
    let written = std::fs::read_to_string(&data).unwrap_or_default();
    assert!(
        written.contains("wiki"),
        "the target got the change:\n{written}"
    );
    assert_eq!(mode(&data), 0o640);
    if is_root {
        assert_eq!(
            std::fs::metadata(&data).map(|meta| meta.uid()).ok(),
            Some(65534)
        );
    }
    boma.run_with(["dns-up"]).success().stderr_has("no changes");
}

#[test]
fn a_dangling_zone_symlink_is_refused_and_nothing_is_created() {
    let boma = Boma::new().catalog(&catalog(&[("app", "indri")]));
    std::fs::create_dir_all(boma.path().join("zones")).unwrap_or_else(|e| panic!("{e}"));
    let missing = boma.path().join("gone/db.example.org");
    std::os::unix::fs::symlink(&missing, boma.path().join("zones/example.org.zone"))
        .unwrap_or_else(|e| panic!("{e}"));
    boma.run_with(["dns-up"])
        .code(2)
        .stderr_has("is a symlink to")
        .stderr_has("which cannot be followed");
    assert!(!missing.exists());
}

#[test]
fn a_local_write_failure_does_not_claim_a_rerun_converges() {
    // Readable (it does not exist yet) but not writable, even by root: /proc takes no new files.
    let boma = Boma::new().catalog(
        &catalog(&[("app", "indri")])
            .replace("zones/example.org.zone", "/proc/boma-test/example.org.zone"),
    );
    let run = boma.run_with(["dns-up"]);
    run.code(2).stderr_has("failed; nothing was applied");
    assert!(!run.stderr.contains("converges"), "{}", run.stderr);
}

#[test]
fn render_out_writes_world_readable_files() {
    let boma = Boma::new().catalog(crate::support::ONE_SERVICE);
    boma.run_with(["render", "--out", "out"]).success();
    assert_eq!(mode(&boma.path().join("out/caddy/indri/Caddyfile")), 0o644);
}

#[test]
fn two_dns_up_at_once_never_lose_a_change_set() {
    let Some(checker) = require("named-checkzone") else {
        return;
    };
    // A slow named-checkzone keeps the first run inside its write while the second one plans.
    let boma = Boma::new()
        .catalog(&catalog(&[("app", "indri")]))
        .file("a.toml", catalog(&[("app", "indri"), ("alpha", "indri")]))
        .file("b.toml", catalog(&[("app", "indri"), ("beta", "indri")]))
        .file(
            "bin/named-checkzone",
            format!("#!/bin/sh\nsleep 2\nexec {} \"$@\"\n", checker.display()),
        );
    boma.run_with(["dns-up"]).success();
    let bin = boma.path().join("bin");
    std::fs::set_permissions(
        bin.join("named-checkzone"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start = |catalog: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_boma"))
            .args(["--catalog", catalog, "dns-up"])
            .current_dir(boma.path())
            .env("PATH", &path)
            .output()
    };
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| start("a.toml"));
        std::thread::sleep(std::time::Duration::from_millis(700));
        let second = scope.spawn(|| start("b.toml"));
        (first.join(), second.join())
    });
    let outcome = |result: std::thread::Result<std::io::Result<std::process::Output>>| {
        let output = result
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("boma did not run"));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let ((first_code, _), (second_code, second_err)) = (outcome(first), outcome(second));
    assert_eq!(first_code, Some(0));
    assert_eq!(second_code, Some(2), "{second_err}");
    assert!(
        second_err.contains("changed since the plan was made"),
        "{second_err}"
    );
    let written = zone(&boma);
    assert!(
        written.contains("alpha") && !written.contains("beta"),
        "{written}"
    );
    // Run again, the second change set lands on top of the first: nothing was lost.
    boma.run_with(["--catalog", "b.toml", "dns-up"]).success();
    assert!(zone(&boma).contains("beta"));
}

#[test]
fn long_non_ascii_txt_values_stay_intact_and_converge() {
    let value = format!("{}é{}", "a".repeat(254), "ü".repeat(200));
    let text = catalog(&[("app", "indri")]).replace(
        "values = [\"v=spf1 -all\"]",
        &format!("values = [\"{value}\"]"),
    );
    let boma = Boma::new().catalog(&text);
    boma.run_with(["dns-up"]).success();
    check_zone(&boma);
    assert!(!zone(&boma).contains('\u{fffd}'));
    boma.run_with(["dns-up"]).success().stderr_has("no changes");
}

/// `dns-up` removes the lock it takes beside the zone file: during the write (held there by a
/// slow `named-checkzone`) `.NAME.boma-lock` is beside the zone; after it, only the zone is.
#[test]
fn dns_up_leaves_no_lock_file_beside_the_zone() {
    let boma = Boma::new()
        .catalog(&catalog(&[("app", "indri")]))
        .file("bin/named-checkzone", "#!/bin/sh\nsleep 1\n");
    let bin = boma.path().join("bin");
    std::fs::set_permissions(
        bin.join("named-checkzone"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_boma"))
        .arg("dns-up")
        .current_dir(boma.path())
        .env("PATH", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let zones = boma.path().join("zones");
    let listing = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&zones)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            // The temp file the zone is staged in comes and goes too.
            .filter(|name| !name.ends_with(".tmp"))
            .collect();
        names.sort();
        names
    };
    let mut seen = Vec::new();
    let status = loop {
        let now = listing();
        if now.iter().any(|name| name.ends_with(".boma-lock")) {
            seen = now;
        }
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(
        seen,
        [".example.org.zone.boma-lock"],
        "held during the write, the lock is listed"
    );
    assert_eq!(listing(), ["example.org.zone"]);
}
