//! A catalog file: compiled, or refused with problems named by item; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match rating::Catalog::from_bytes("fuzz.toml", data) {
        Ok(cat) => assert!(!cat.plans.is_empty() || cat.cgrates.is_some()),
        Err(rating::CatalogError::Invalid { problems, .. }) => assert!(!problems.is_empty()),
        Err(_) => {}
    }
});
