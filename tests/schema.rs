//! `boma schema`: the committed `schema/services.schema.json` is its output, every shipped catalog
//! names it on its first line and follows it, and a real validator (Debian's python3-jsonschema,
//! as an editor would use one) refuses the mistakes `boma check` refuses.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, Boma, SHIPPED};

/// Where the schema is committed, relative to the repository.
const SCHEMA_FILE: &str = "schema/services.schema.json";

/// Debian's Python, isolated (`-I`) from any other Python's packages: its python3-jsonschema
/// validates draft 2020-12, and its messages are the ones the snapshots hold.
const PYTHON: &str = "/usr/bin/python3";

#[test]
fn the_committed_schema_is_boma_schema_output() {
    let run = Boma::new().args(["schema"]).run();
    run.success();
    let committed = std::fs::read_to_string(support::repo_file(SCHEMA_FILE))
        .unwrap_or_else(|error| panic!("read {SCHEMA_FILE}: {error}"));
    if run.stdout != committed {
        let diff = similar::TextDiff::from_lines(&committed, &run.stdout)
            .unified_diff()
            .header(SCHEMA_FILE, "boma schema")
            .to_string();
        panic!(
            "{SCHEMA_FILE} is not what the catalog's types give: regenerate it with `just schema`\n{diff}"
        );
    }
    let json = Boma::new().args(["--output", "json", "schema"]).run();
    json.success();
    assert_eq!(
        json.stdout, run.stdout,
        "--output json prints the same schema"
    );
}

#[test]
fn every_shipped_catalog_names_the_schema_on_its_first_line() {
    let schema = canonical(&support::repo_file(SCHEMA_FILE));
    for relative in SHIPPED {
        let catalog = support::repo_file(relative);
        let text = std::fs::read_to_string(&catalog)
            .unwrap_or_else(|error| panic!("read {relative}: {error}"));
        let first = text.lines().next().unwrap_or_default();
        let Some(named) = first.strip_prefix("#:schema ") else {
            panic!("{relative} starts with {first:?}, not `#:schema PATH`");
        };
        let folder = catalog.parent().unwrap_or(Path::new("."));
        assert_eq!(
            canonical(&folder.join(named)),
            schema,
            "{relative}: {first}"
        );
    }
    // A catalog added to examples/ is shipped too, and must be in the list; other TOML files
    // there (mise.toml's tasks) are not catalogs: a catalog has a top-level `version`.
    for entry in std::fs::read_dir(support::repo_file("examples"))
        .into_iter()
        .flatten()
    {
        let path = entry.map(|entry| entry.path()).unwrap_or_default();
        let catalog = if path.is_dir() {
            path.join("services.toml")
        } else {
            path
        };
        let is_catalog = catalog
            .extension()
            .is_some_and(|extension| extension == "toml")
            && std::fs::read_to_string(&catalog)
                .is_ok_and(|text| text.lines().any(|line| line.starts_with("version =")));
        if is_catalog {
            let relative = catalog
                .strip_prefix(support::repo_file(""))
                .map(|relative| relative.display().to_string())
                .unwrap_or_default();
            assert!(
                SHIPPED.contains(&relative.as_str()),
                "{relative} is not in support::SHIPPED"
            );
        }
    }
}

#[test]
fn shipped_catalogs_follow_the_schema() {
    let Some(python) = validator() else { return };
    let run = validate(&python, &support::repo_file(""), &SHIPPED);
    let expected: String = SHIPPED
        .iter()
        .map(|catalog| format!("==> {catalog} <==\nvalid\n"))
        .collect();
    assert_eq!(run, expected);
}

/// A catalog `boma check` accepts, which each case below breaks in one place.
const VALID: &str = r#"version = 1

[secrets]
fly = { env = "FLY_API_TOKEN" }

[dns]
provider = "zonefile"
zone = "example.org"
path = "example.org.zone"

[hosts.indri]
address = "indri.example.net"

[edge]
app = "example-proxy"
target = "example-proxy.fly.dev"
token = "fly"
resolver = "100.100.100.100"

[services.app]
host = "indri"
upstream = "http://10.0.0.7:8000"
names = ["app.example.org"]
public = ["www.example.org"]

[services.app.edge]
deny = ["/admin/"]
"#;

/// One mistake: what it is, and the text of `VALID` it replaces with what.
struct Mistake {
    what: &'static str,
    old: &'static str,
    new: &'static str,
}

const MISTAKES: [Mistake; 18] = [
    Mistake {
        what: "an unknown key",
        old: "upstream = \"http://10.0.0.7:8000\"\n",
        new: "upstream = \"http://10.0.0.7:8000\"\nport = 8000\n",
    },
    Mistake {
        what: "an unknown top-level table",
        old: "[hosts.indri]\n",
        new: "[host.indri]\n",
    },
    Mistake {
        what: "a wrong type",
        old: "version = 1\n",
        new: "version = 1\n\n[defaults]\nttl = \"300\"\n",
    },
    Mistake {
        what: "a version this boma does not read",
        old: "version = 1\n",
        new: "version = 2\n",
    },
    Mistake {
        what: "a bad rate",
        old: "deny = [\"/admin/\"]\n",
        new: "deny = [\"/admin/\"]\nrate_limit = { rate = \"10r/h\" }\n",
    },
    Mistake {
        what: "a bad duration",
        old: "deny = [\"/admin/\"]\n",
        new: "deny = [\"/admin/\"]\nban = { paths = [\"/login\"], statuses = [401], maxretry = 5, findtime = \"ten minutes\", bantime = \"1h\" }\n",
    },
    Mistake {
        what: "a bad enum value",
        old: "provider = \"zonefile\"\n",
        new: "provider = \"bind\"\n",
    },
    Mistake {
        what: "a port out of range",
        old: "address = \"indri.example.net\"\n",
        new: "address = \"indri.example.net\"\nssh = { port = 70000 }\n",
    },
    Mistake {
        what: "a status out of its range",
        old: "deny = [\"/admin/\"]\n",
        new: "deny = [\"/admin/\"]\nrate_limit = { rate = \"10r/s\", status = 302 }\n",
    },
    Mistake {
        what: "a percentage over 100",
        old: "path = \"example.org.zone\"\n",
        new: "path = \"example.org.zone\"\nmax_change_percent = 150\n",
    },
    Mistake {
        what: "a record type boma lacks",
        old: "[hosts.indri]\n",
        new: "[[dns.records]]\nname = \"@\"\ntype = \"HINFO\"\nvalues = [\"\\\"x86\\\" \\\"Linux\\\"\"]\n\n[hosts.indri]\n",
    },
    Mistake {
        what: "a name that is not a domain name",
        old: "names = [\"app.example.org\"]\n",
        new: "names = [\"app example.org\"]\n",
    },
    Mistake {
        what: "an entry name with a space",
        old: "[services.app]\n",
        new: "[services.\"my app\"]\n",
    },
    Mistake {
        what: "an upstream that is not a URL",
        old: "upstream = \"http://10.0.0.7:8000\"\n",
        new: "upstream = \"10.0.0.7:8000\"\n",
    },
    Mistake {
        what: "a secret with two sources",
        old: "fly = { env = \"FLY_API_TOKEN\" }\n",
        new: "fly = { env = \"FLY_API_TOKEN\", file = \"fly-token\" }\n",
    },
    Mistake {
        what: "a Fly.io edge without its token",
        old: "token = \"fly\"\n",
        new: "",
    },
    Mistake {
        what: "an edge on a host with a Fly.io key",
        old: "app = \"example-proxy\"\n",
        new: "host = \"indri\"\napp = \"example-proxy\"\n",
    },
    Mistake {
        what: "a zone's keys beside [dns.zones]",
        old: "path = \"example.org.zone\"\n",
        new: "path = \"example.org.zone\"\n\n[dns.zones.ops]\nprovider = \"zonefile\"\nzone = \"ops.example.org\"\npath = \"ops.zone\"\n",
    },
];

/// Each mistake as a diff of `VALID`, what the validator says, and the first line `boma check`
/// prints: both refuse it, each in its own words.
#[test]
fn the_validator_refuses_what_boma_check_refuses() {
    let Some(python) = validator() else { return };
    let Some(container) = tempfile::tempdir().ok() else {
        panic!("cannot create a temp folder");
    };
    let valid = Path::new("valid/services.toml");
    let mut catalogs = vec![(valid.to_path_buf(), VALID.to_string())];
    for (index, mistake) in MISTAKES.iter().enumerate() {
        assert_eq!(VALID.matches(mistake.old).count(), 1, "{}", mistake.what);
        let path = PathBuf::from(format!("mistake{index:02}/services.toml"));
        catalogs.push((path, VALID.replace(mistake.old, mistake.new)));
    }
    for (path, text) in &catalogs {
        let path = container.path().join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).unwrap_or_else(|error| panic!("mkdir: {error}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
    }
    let paths: Vec<String> = catalogs
        .iter()
        .map(|(path, _)| path.display().to_string())
        .collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let output = validate(&python, container.path(), &paths);
    let mut verdicts = output.split("==> ").skip(1).map(|section| {
        section
            .split_once(" <==\n")
            .map_or("", |(_, verdict)| verdict)
            .trim_end()
            .to_string()
    });

    assert_eq!(verdicts.next().as_deref(), Some("valid"));
    Boma::new().catalog(VALID).args(["check"]).run().success();
    let mut report = String::new();
    for mistake in &MISTAKES {
        let verdict = verdicts.next().unwrap_or_default();
        let run = Boma::new()
            .catalog(&VALID.replace(mistake.old, mistake.new))
            .args(["check"])
            .run();
        run.code(2);
        report.push_str(&format!("{}\n", mistake.what));
        for (sign, text) in [("-", mistake.old), ("+", mistake.new)] {
            for line in text.lines() {
                report.push_str(format!("  {sign} {line}").trim_end());
                report.push('\n');
            }
        }
        for line in verdict.lines() {
            report.push_str(&format!("  schema: {line}\n"));
        }
        let first = run.stderr.lines().next().unwrap_or_default();
        report.push_str(&format!("  check:  {first}\n\n"));
    }
    support::snapshot("schema__mistakes", &report);
}

/// The validator's report on `catalogs` (paths relative to `folder`).
fn validate(python: &Path, folder: &Path, catalogs: &[&str]) -> String {
    let output = Command::new(python)
        .arg("-I")
        .arg(support::repo_file("tests/support/validate_catalog.py"))
        .arg(support::repo_file(SCHEMA_FILE))
        .args(catalogs)
        .current_dir(folder)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "the validator failed:\n{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Debian's python3 with python3-jsonschema. Missing: skip with a reason on a laptop, fail when
/// `CI` is set (as `support::require` does for programs).
fn validator() -> Option<PathBuf> {
    let python = PathBuf::from(PYTHON);
    let ready = Command::new(&python)
        .args(["-I", "-c", "import jsonschema, tomllib"])
        .output()
        .is_ok_and(|output| output.status.success());
    if ready {
        return Some(python);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "python3-jsonschema is required when CI is set: run scripts/test, which installs it"
        );
    }
    eprintln!("skipped: python3-jsonschema is not installed (scripts/test installs it)");
    None
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize()
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
