//! Writes a synthetic catalog of N services over M hosts, for `just bench`.
//!
//! Usage: cargo run --release --example gen-catalog -- SERVICES HOSTS OUT.toml
//! Every fourth service is public through the edge, every seventh sits behind Authentik,
//! every fifth has a backup and every sixth an image, so all code paths get exercised.

use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [services, hosts, out] = args.as_slice() else {
        return Err("usage: gen-catalog SERVICES HOSTS OUT.toml".into());
    };
    let (services, hosts): (usize, usize) = (services.parse()?, hosts.parse()?);
    std::fs::write(out, catalog(services, hosts.max(1)))?;
    Ok(())
}

fn catalog(services: usize, hosts: usize) -> String {
    let mut text = String::from(
        "version = 1\n\n[defaults]\nttl = 300\nacme_email = \"ops@bench.example\"\n\n\
         [secrets]\nfly = { env = \"FLY_API_TOKEN\" }\nborg = { env = \"BORG_PASSPHRASE\" }\ngandi = { env = \"GANDI_PAT\" }\n\n\
         [dns]\nprovider = \"zonefile\"\nzone = \"bench.example\"\npath = \"bench.example.zone\"\n\n\
         [[dns.records]]\nname = \"@\"\ntype = \"MX\"\nvalues = [\"10 mx.bench.example.\"]\n\n\
         [edge]\napp = \"bench-edge\"\ntarget = \"bench-edge.fly.dev\"\ntoken = \"fly\"\nresolver = \"100.100.100.100\"\n\n\
         [auth.authentik]\noutpost = \"http://authentik.internal:9000\"\n",
    );
    for host in 0..hosts {
        let _ = write!(
            text,
            "\n[hosts.host{host}]\naddress = \"host{host}.tail.example\"\nssh = {{ user = \"deploy\" }}\nsudo = true\nip = \"100.64.{}.{}\"\n\
             [hosts.host{host}.caddy]\ndns_challenge = {{ provider = \"gandi\", token_env = \"GANDI_BEARER_TOKEN\" }}\n",
            host / 250,
            host % 250 + 1
        );
    }
    for service in 0..services {
        let host = service % hosts;
        let _ = write!(
            text,
            "\n[services.app{service}]\ndescription = \"Benchmark service {service}\"\nhost = \"host{host}\"\n\
             upstream = \"http://127.0.0.1:{}\"\nnames = [\"app{service}.ops.bench.example\"]\n",
            10_000 + service % 50_000
        );
        if service % 7 == 0 {
            text.push_str("auth = \"authentik\"\n");
        }
        if service % 4 == 0 {
            let _ = write!(
                text,
                "public = [\"app{service}.bench.example\"]\n[services.app{service}.edge]\ndeny = [\"/admin/\"]\nallow = [\"/admin/login/\"]\n\
                 rate_limit = {{ rate = \"3r/s\", burst = 10, paths = [\"/admin/login/\"] }}\n\
                 ban = {{ paths = [\"/admin/login/\"], statuses = [401, 403, 429], maxretry = 5, findtime = \"10m\", bantime = \"1h\" }}\n"
            );
        }
        if service % 6 == 0 {
            let _ = write!(
                text,
                "[services.app{service}.container]\ncontext = \"containers/app{service}\"\nimage = \"forge.bench.example/ops/app{service}\"\nversion = \"1.0.{service}\"\n"
            );
        }
        if service % 5 == 0 {
            let _ = write!(
                text,
                "[services.app{service}.backup]\ntool = \"borg\"\nhost = \"host{host}\"\nrepository = \"ssh://borg@vault/./app{service}\"\n\
                 passphrase = \"borg\"\nmax_age = \"26h\"\npaths = [\"/srv/app{service}\"]\n"
            );
        }
    }
    text
}
