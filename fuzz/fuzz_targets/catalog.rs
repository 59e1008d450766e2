//! Parse and validate arbitrary bytes as a catalog: any input must give a catalog or located
//! errors, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("services.toml");
    if let Err(errors) = boma::catalog::parse_bytes(path, data) {
        assert!(!errors.problems.is_empty(), "an error without a problem");
        for problem in &errors.problems {
            assert!(problem.line >= 1 && problem.column >= 1, "positions are 1-based");
        }
    }
});
