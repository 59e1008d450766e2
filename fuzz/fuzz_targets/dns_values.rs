//! TXT quoting and CAA checking on arbitrary text: quoting round-trips, never cuts inside a
//! character or makes a string over 255 bytes, and no CAA value with a control character (a
//! record smuggled after a newline) is accepted.

#![no_main]

use boma::catalog::RecordType;
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
});
