//! The service catalog: reading `services.toml` into a validated, resolved model.

pub mod defaults;
mod diagnostic;
mod duplicate;
mod host_records;
pub mod model;
mod parse;
mod records;
mod resolve;
mod schema;
mod service_edge;
mod services;
mod values;

use std::path::Path;

pub use diagnostic::{CatalogErrors, Located, display_name};
pub use model::*;
pub use resolve::provider_name;
pub use schema::json_schema;

/// Larger catalogs are refused before parsing; 2,000 services take about 400 KB.
pub const MAX_CATALOG_BYTES: u64 = 8 * 1024 * 1024;

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("catalog `{path}` not found")]
    Missing { path: String },
    #[error("cannot read catalog `{path}`")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] CatalogErrors),
}

impl crate::hint::Hint for LoadError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Missing { .. } => Some(
                "run boma next to services.toml, or pass --catalog PATH (or set BOMA_CATALOG)"
                    .to_string(),
            ),
            Self::Unreadable { .. } | Self::Invalid(_) => None,
        }
    }
}

/// A secret the catalog declares that could not be read when a command needed it: what it was
/// for, where the catalog declares it, and (its source) why.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {what}: secret `{name}`, declared at {file}:{line}:{column}")]
pub struct SecretUnreadable {
    pub what: String,
    pub name: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[source]
    pub source: crate::secret::SecretError,
}

impl SecretUnreadable {
    /// One line for a report's row, whose row already says what the secret was for:
    /// `services.toml:14:10: secret `restic`: cannot read ...`.
    pub fn located(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.source
        )
    }
}

impl crate::hint::Hint for SecretUnreadable {
    fn hint(&self) -> Option<String> {
        crate::hint::Hint::hint(&self.source)
    }
}

/// The catalog a folder holds: `--catalog DIR` reads `DIR/services.toml`.
pub const FILE_NAME: &str = "services.toml";

/// Reads and validates the catalog at `path` (a folder: its `services.toml`).
pub fn load(path: &Path) -> Result<Catalog, LoadError> {
    let in_folder;
    let path = if path.is_dir() {
        in_folder = path.join(FILE_NAME);
        in_folder.as_path()
    } else {
        path
    };
    let unreadable = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::Missing {
            path: diagnostic::display_name(path),
        },
        _ => LoadError::Unreadable {
            path: diagnostic::display_name(path),
            source,
        },
    };
    // Read with a cap whatever the file is: a pipe or `/dev/zero` has no size to check first.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            // Sized once for a regular file (a pipe says 0 and grows as it is read).
            let size = file.metadata().map_or(0, |meta| meta.len());
            bytes.reserve(usize::try_from(size.min(MAX_CATALOG_BYTES + 1)).unwrap_or(0));
            std::io::Read::read_to_end(
                &mut std::io::Read::take(file, MAX_CATALOG_BYTES + 1),
                &mut bytes,
            )
        })
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_CATALOG_BYTES {
        let message = match std::fs::metadata(path)
            .ok()
            .filter(std::fs::Metadata::is_file)
        {
            Some(meta) => format!(
                "the catalog is {} bytes; boma reads catalogs of at most {MAX_CATALOG_BYTES} bytes",
                meta.len()
            ),
            None => {
                format!("the catalog is larger than {MAX_CATALOG_BYTES} bytes, the most boma reads")
            }
        };
        return Err(CatalogErrors::whole_file(path, 1, 1, message).into());
    }
    Ok(parse_bytes(path, &bytes)?)
}

/// Validates catalog bytes as if read from `path` (used by `load`, the tests and the fuzzer).
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Catalog, CatalogErrors> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = valid
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |index| index + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        CatalogErrors::whole_file(path, line, column, "the catalog is not valid UTF-8")
    })?;
    parse_str(path, text)
}

pub fn parse_str(path: &Path, text: &str) -> Result<Catalog, CatalogErrors> {
    let root = parse::document(text)
        .map_err(|diagnostic| CatalogErrors::locate(path, text, vec![diagnostic]))?;
    let mut reader = parse::Reader::new(text, root);
    match resolve::catalog(&mut reader, path, text) {
        Some(catalog) => Ok(catalog),
        None => Err(CatalogErrors::locate(path, text, reader.diagnostics)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"
version = 1
[secrets]
fly = { env = "FLY_API_TOKEN" }
[dns]
provider = "zonefile"
zone = "Example.org."
path = "z.zone"
[[dns.records]]
name = "@"
type = "MX"
values = ["10 mx.example.net."]
[[dns.records]]
name = "alias"
type = "CNAME"
ttl = 60
values = ["target.example.net"]
[hosts.indri]
address = "indri.tail.ts.net"
[hosts.web]
address = "web.example.net"
ip = "2001:db8::7"
public = true
[edge]
app = "proxy"
target = "proxy.fly.dev"
token = "fly"
resolver = "100.100.100.100"
[services.app]
host = "indri"
upstream = "http://127.0.0.1:8000"
names = ["App.ops.example.org"]
public = ["app.example.org"]
[services.app.edge]
deny = ["/admin/"]
[services.site]
host = "web"
upstream = "http://127.0.0.1:8080"
public = ["example.org", "www.example.org"]
"#;

    fn records(catalog: &Catalog) -> Vec<String> {
        catalog
            .records
            .iter()
            .map(|record| {
                format!(
                    "{} {} {} {}",
                    record.name,
                    record.record_type,
                    record.ttl,
                    record.values.join(",")
                )
            })
            .collect()
    }

    #[test]
    fn records_are_derived_from_hosts_edge_and_declarations() -> Result<(), CatalogErrors> {
        let catalog = parse_str(Path::new("services.toml"), CATALOG)?;
        assert_eq!(
            records(&catalog),
            [
                "alias.example.org CNAME 60 target.example.net.",
                "app.example.org CNAME 300 proxy.fly.dev.",
                "app.ops.example.org CNAME 300 indri.tail.ts.net.",
                "example.org AAAA 300 2001:db8::7",
                "example.org MX 300 10 mx.example.net.",
                "www.example.org AAAA 300 2001:db8::7",
            ]
        );
        assert_eq!(catalog.services["app"].exposure(), Exposure::Edge);
        assert_eq!(catalog.services["site"].exposure(), Exposure::Public);
        assert_eq!(
            catalog.dns.as_ref().map(|dns| dns.zones[0].zone.as_str()),
            Some("example.org")
        );
        Ok(())
    }

    /// A catalog large enough to be read on several threads reads as one read on one would:
    /// every service, in order, and each mistake at its own line whichever thread met it.
    #[test]
    fn large_catalogs_read_on_several_threads_lose_nothing() {
        let mut text = String::from("version = 1\n[hosts.web]\naddress = \"web.example.net\"\n");
        let count = 2_400;
        let bad = [7, 1_300, 2_399];
        for index in 0..count {
            let host = if bad.contains(&index) { "wbe" } else { "web" };
            text.push_str(&format!(
                "[services.s{index:04}]\nhost = \"{host}\"\nupstream = \"http://127.0.0.1:{}\"\n",
                10_000 + index
            ));
        }
        let errors = match parse_str(Path::new("services.toml"), &text) {
            Ok(_) => panic!("three services name an unknown host"),
            Err(errors) => errors,
        };
        let lines: Vec<usize> = errors.problems.iter().map(|problem| problem.line).collect();
        let expected: Vec<usize> = bad.iter().map(|index| 4 + index * 3 + 1).collect();
        assert_eq!(lines, expected);
        assert!(
            errors.problems[1].message.contains("`services.s1300.host`"),
            "{}",
            errors.problems[1]
        );

        let good = text.replace("\"wbe\"", "\"web\"");
        let catalog = parse_str(Path::new("services.toml"), &good)
            .unwrap_or_else(|errors| panic!("{errors}"));
        let names: Vec<&String> = catalog.services.keys().collect();
        assert_eq!(names.len(), count);
        assert_eq!(names.first().map(|name| name.as_str()), Some("s0000"));
        assert_eq!(
            catalog.services["s1300"].upstream.as_deref(),
            Some("http://127.0.0.1:11300")
        );
    }
}
