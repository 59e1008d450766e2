//! Names sort naturally everywhere (`h2` before `h10`): the services table, the DNS plan and the
//! zone file boma writes.

use crate::support::{Boma, snapshot};

/// Hosts h1, h2 and h10 with a service each, written in the order a byte sort would give.
fn catalog() -> String {
    let mut text = String::from(
        "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"lab.test\"\npath = \"lab.test.zone\"\n\
         [[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns.example.net.\"]\n",
    );
    for number in [1, 10, 2] {
        text.push_str(&format!(
            "[hosts.h{number}]\naddress = \"h{number}.example.net\"\nip = \"192.0.2.{number}\"\n\
             [services.app{number}]\nhost = \"h{number}\"\nupstream = \"http://127.0.0.1:80{number:02}\"\nnames = [\"app{number}.lab.test\"]\n"
        ));
    }
    text
}

#[test]
fn tables_and_zone_files_list_h2_before_h10() {
    let boma = Boma::new().catalog(&catalog());
    let services = boma.run_with(["services"]);
    services.success();
    snapshot("natural_order__services", &services.stdout);
    let preview = boma.run_with(["dns-preview"]);
    snapshot("natural_order__dns_preview", &preview.stdout);
    boma.run_with(["dns-up"]).success();
    let zone = std::fs::read_to_string(boma.path().join("lab.test.zone"))
        .unwrap_or_else(|e| panic!("{e}"));
    snapshot("natural_order__zone", &zone);
}
