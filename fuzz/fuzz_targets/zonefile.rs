//! Read arbitrary text as a zone file: any input gives rrsets or an error, never a panic, and
//! every TXT value read survives quoting and reading back.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(rrsets) = boma::dns::providers::zonefile::parse("example.org", &text) {
        for rrset in rrsets.iter().filter(|rrset| rrset.record_type == "TXT") {
            for value in &rrset.values {
                let wire = boma::dns::quote_txt(value);
                assert_eq!(&boma::dns::unquote_txt(&wire), value, "TXT round trip");
            }
        }
    }
});
