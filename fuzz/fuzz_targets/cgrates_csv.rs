//! A CGRateS tariff-plan folder (the six files, separated by form feeds): imported with
//! warnings, or refused; what imports compiles and prices any call without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::cgrates::csv::{import, FILES};
use rating::cgrates::{CgrRequest, Tariff};
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\u{c}');
    let files: BTreeMap<String, String> = FILES
        .iter()
        .map(|f| (f.to_string(), parts.next().unwrap_or("").to_string()))
        .collect();
    let probe = parts.next().unwrap_or("1002");
    let Ok(imp) = import(&files, 5) else { return };
    let t = Tariff::compile(&imp.tariff).expect("an import always compiles");
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-25T23:59:30+01:00").unwrap();
    for p in &imp.tariff.rating_profiles {
        for (usage, voice) in [(90_000_000_000, true), (1_048_576, false)] {
            let _ = t.price(&CgrRequest {
                tenant: &p.tenant,
                category: &p.category,
                subject: &p.subject,
                destination: probe,
                start,
                usage,
                voice,
            });
        }
    }
});
