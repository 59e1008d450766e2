//! TXT quoting and record values on arbitrary text: quoting round-trips, never cuts inside a
//! character or makes a string over 255 bytes, no CAA value with a control character (a record
//! smuggled after a newline) is accepted, and every value a type accepts has a canonical form
//! that reads back as itself (a second run changes nothing), LOC's PowerDNS spelling included.

#![no_main]

use boma::catalog::RecordType;
use boma::rdata::{Reading, canonical, loc::Loc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let wire = boma::dns::quote_txt(value);
    assert_eq!(boma::dns::unquote_txt(&wire), value, "TXT round trip");
    if RecordType::Caa.check_value(value).is_ok() {
        assert!(!value.chars().any(char::is_control), "CAA accepted {value:?}");
        assert!(value.trim().splitn(3, ' ').count() == 3, "CAA accepted {value:?}");
    }
    if RecordType::Txt.check_value(value).is_ok() {
        assert!(!value.contains(['\n', '\r']), "TXT accepted {value:?}");
    }
    for record_type in RecordType::ALL {
        let name = record_type.as_str();
        if record_type.check_value(value).is_err() {
            continue;
        }
        let Some(Ok(first)) = canonical(name, value, Reading::Strict) else {
            continue;
        };
        assert_eq!(
            canonical(name, &first, Reading::Strict),
            Some(Ok(first.clone())),
            "{name} {value:?}: the canonical form reads back as itself"
        );
        if let Ok(loc) = Loc::parse(&first, Reading::Strict)
            && name == "LOC"
        {
            assert_eq!(Loc::parse(&loc.powerdns(), Reading::Lenient), Ok(loc), "{value:?}");
        }
    }
});
