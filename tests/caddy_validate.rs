//! Every Caddyfile boma renders from the shipped catalogs passes the real `caddy validate`.

use crate::support::{Boma, SHIPPED, require, strip_dns_challenges};

#[test]
fn shipped_caddyfiles_pass_caddy_validate() {
    let Some(caddy) = require("caddy") else {
        return;
    };
    for catalog in SHIPPED {
        let boma = Boma::new()
            .shipped(catalog)
            .args(["render", "--out", "out"]);
        boma.run().success();
        let caddy_dir = boma.path().join("out/caddy");
        let hosts = std::fs::read_dir(&caddy_dir)
            .unwrap_or_else(|error| panic!("{}: {error}", caddy_dir.display()));
        let mut validated = 0;
        for host in hosts.flatten() {
            let rendered =
                std::fs::read_to_string(host.path().join("Caddyfile")).unwrap_or_default();
            let checked = host.path().join("Caddyfile.stock");
            std::fs::write(&checked, strip_dns_challenges(&rendered))
                .unwrap_or_else(|error| panic!("{error}"));
            let output = std::process::Command::new(&caddy)
                .args(["validate", "--adapter", "caddyfile", "--config"])
                .arg(&checked)
                .env("HOME", boma.path())
                .env("XDG_DATA_HOME", boma.path().join("data"))
                .env("XDG_CONFIG_HOME", boma.path().join("config"))
                .output()
                .unwrap_or_else(|error| panic!("cannot run caddy: {error}"));
            assert!(
                output.status.success(),
                "{catalog}: caddy rejects {}:\n{}\n{rendered}",
                host.path().display(),
                String::from_utf8_lossy(&output.stderr)
            );
            validated += 1;
        }
        assert!(validated > 0, "{catalog} rendered no Caddyfile");
    }
}

#[test]
fn stripping_removes_only_dns_blocks() {
    let stripped =
        strip_dns_challenges("a {\n\ttls {\n\t\tdns gandi {env.X}\n\t}\n\treverse_proxy x\n}\n");
    assert_eq!(stripped, "a {\n\treverse_proxy x\n}\n");
}
