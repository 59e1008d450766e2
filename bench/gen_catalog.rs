//! Writes a synthetic catalog of N services over M hosts, for `just bench`.
//!
//! Usage: cargo run --release --example gen-catalog -- SERVICES HOSTS OUT.toml [ZONE [POWERDNS_URL [SHIFT]]]
//! With POWERDNS_URL the zone lives in that PowerDNS (key from `$PDNS_API_KEY`); SHIFT moves the
//! first SHIFT services to the next host, which changes that many records.
//! Every fourth service is public through the edge (two rate limits, a cache, a header; the
//! edge joins a tailnet), every seventh sits behind Authentik,
//! every fifth has a backup and every sixth an image, so all code paths get exercised.

use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(services), Some(hosts), Some(out)) = (args.first(), args.get(1), args.get(2)) else {
        return Err(
            "usage: gen-catalog SERVICES HOSTS OUT.toml [ZONE [POWERDNS_URL [SHIFT]]]".into(),
        );
    };
    let (services, hosts): (usize, usize) = (services.parse()?, hosts.parse()?);
    let zone = args.get(3).map_or("bench.example", String::as_str);
    let dns = match args.get(4).filter(|url| !url.is_empty()) {
        Some(url) => format!(
            "provider = \"powerdns\"\nzone = \"{zone}\"\ncredentials = \"pdns\"\nurl = \"{url}\"\nmax_change_percent = 100\n"
        ),
        None => format!("provider = \"zonefile\"\nzone = \"{zone}\"\npath = \"{zone}.zone\"\n"),
    };
    let shift: usize = args.get(5).map_or(Ok(0), |shift| shift.parse())?;
    std::fs::write(out, catalog(services, hosts.max(1), zone, &dns, shift))?;
    Ok(())
}

fn catalog(services: usize, hosts: usize, zone: &str, dns: &str, shift: usize) -> String {
    let mut text = format!(
        "version = 1\n\n[defaults]\nttl = 300\nacme_email = \"ops@{zone}\"\n\n\
         [secrets]\nfly = {{ env = \"FLY_API_TOKEN\" }}\nborg = {{ env = \"BORG_PASSPHRASE\" }}\npdns = {{ env = \"PDNS_API_KEY\" }}\n\n\
         [dns]\n{dns}\n\
         [[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n\n\
         [[dns.records]]\nname = \"@\"\ntype = \"MX\"\nvalues = [\"10 mx.example.net.\"]\n\n\
         [edge]\napp = \"bench-edge\"\ntarget = \"bench-edge.fly.dev\"\ntoken = \"fly\"\nresolver = \"100.100.100.100\"\nvolume = \"edge_state\"\n\
         [edge.tailnet]\nauth_key = \"fly\"\ntags = [\"tag:edge\"]\n\n\
         [auth.authentik]\noutpost = \"http://authentik.internal:9000\"\n"
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
        let host = if service < shift {
            (service + 1) % hosts
        } else {
            service % hosts
        };
        let _ = write!(
            text,
            "\n[services.app{service}]\ndescription = \"Benchmark service {service}\"\nhost = \"host{host}\"\n\
             upstream = \"http://127.0.0.1:{}\"\nnames = [\"app{service}.ops.{zone}\"]\n",
            10_000 + service % 50_000
        );
        if service % 7 == 0 {
            text.push_str("auth = \"authentik\"\n");
        }
        if service % 4 == 0 {
            let _ = write!(
                text,
                "public = [\"app{service}.{zone}\"]\n[services.app{service}.edge]\ndeny = [\"/admin/\"]\nallow = [\"/admin/login/\"]\n\
                 rate_limit = [{{ rate = \"20r/s\", burst = 40 }}, {{ name = \"login\", rate = \"3r/s\", burst = 10, paths = [\"/admin/login/\"] }}]\n\
                 ban = {{ paths = [\"/admin/login/\"], statuses = [401, 403, 429], maxretry = 5, findtime = \"10m\", bantime = \"1h\" }}\n\
                 cache = {{ paths = [\"/static/\"], lifetime = \"1d\", max_size = \"100m\" }}\n\
                 headers = {{ \"Content-Security-Policy\" = \"default-src 'self'\" }}\n"
            );
        }
        if service % 6 == 0 {
            let _ = write!(
                text,
                "[services.app{service}.container]\ncontext = \"containers/app{service}\"\nimage = \"forge.example.net/ops/app{service}\"\nversion = \"1.0.{service}\"\n"
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
