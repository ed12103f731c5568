//! An invalid catalog is refused with errors that name the file, the item and the problem.

mod common;
use rating::Catalog;

/// Each case replaces one line of the example catalog and names the problem it must produce.
const CASES: &[(&str, &str, &str, &str)] = &[
    // (line to find, replacement, expected item, expected words in the problem)
    (
        "package = \"SMART_MINUTES\"\namount = 3600",
        "package = \"NO_SUCH\"\namount = 3600",
        "loyalty",
        "reward HOUR_OF_CALLS: unknown package NO_SUCH",
    ),
    (
        "points = 50\n",
        "points = 0\n",
        "loyalty",
        "points and amount must be positive",
    ),
    (
        r#"point_value = "0.50""#,
        r#"point_value = "-0.50""#,
        "loyalty",
        "point_value must be positive",
    ),
    (
        r#"fees = [{ period = "monthly", amount = "450.00" }]"#,
        r#"fees = [{ period = "monthly", amount = "450.005" }]"#,
        "plans.SMART.fees[0]",
        "more decimals than the currency's 2",
    ),
    (
        r#"fees = [{ period = "monthly", amount = "450.00" }]"#,
        r#"fees = [{ period = "monthly", amount = "450.000" }]"#,
        "plans.SMART.fees[0]",
        "more decimals than the currency's 2",
    ),
    (
        r#"detalization_fee = "30.00""#,
        r#"detalization_fee = "30.0001""#,
        "catalog",
        "detalization_fee 30.0001 has more decimals",
    ),
    (
        r#"prefixes = ["7900", "7901", "7902"]"#,
        r#"prefixes = ["7900", "79x1"]"#,
        "destinations.ONNET_MOBILE",
        "not digits",
    ),
    (
        r#"prefixes = ["7495", "7499", "7910", "7915", "7916"]"#,
        r#"prefixes = ["7495", "7900"]"#,
        "destinations.HOME_OFFNET",
        "also belongs to ONNET_MOBILE",
    ),
    (
        r#"slots = [{ from = 0, price = "3.00", per = 60, increment = 60 }]"#,
        r#"slots = [{ from = 0, price = "-3.00", per = 60, increment = 60 }]"#,
        "rates.VOICE_NATIONAL.slots[0]",
        "negative",
    ),
    (
        r#"  { from = 60, price = "2.50", per = 60, increment = 1 },"#,
        r#"  { from = 0, price = "2.50", per = 60, increment = 1 },"#,
        "rates.VOICE_HOME_PEAK.slots[1]",
        "overlapping slots",
    ),
    (
        r#"slots = [{ from = 0, price = "6.50", per = 1, increment = 1 }]"#,
        r#"slots = [{ from = 0, price = "6.50", per = 1, increment = 0 }]"#,
        "rates.SMS_INTL.slots[0]",
        "increment is zero",
    ),
    (
        r#"packages = ["SMART_MINUTES", "SMART_SMS", "SMART_DATA"]"#,
        r#"packages = ["SMART_MINUTES", "NO_SUCH"]"#,
        "plans.SMART",
        "unknown package \"NO_SUCH\"",
    ),
    (
        r#"  { service = "voice", destinations = ["NATIONAL"], rate = "VOICE_NATIONAL" },"#,
        r#"  { service = "voice", destinations = ["NATIONAL"], rate = "NO_RATE" },"#,
        "plans.SMART.prices[4]",
        "unknown rate",
    ),
    (
        r#"  { service = "data", rate = "DATA_PAYG" },"#,
        r#"  { service = "data", rate = "SMS_HOME" },"#,
        "plans.SMART.prices[16]",
        "per messages",
    ),
    (
        r#"plans = ["SMART", "BASIC"]"#,
        r#"plans = ["SMART", "PLATINUM"]"#,
        "options.TRAVEL",
        "unknown plan \"PLATINUM\"",
    ),
    (
        r#"timezone = "Europe/Moscow""#,
        r#"timezone = "Mars/Olympus""#,
        "catalog.timezone",
        "unknown time zone",
    ),
    (
        r#"from = "08:00""#,
        r#"from = "8 o'clock""#,
        "bands.PEAK",
        "not a time of day",
    ),
    (
        r#"weekdays = ["sat", "sun"]"#,
        r#"weekdays = ["sat", "sunday"]"#,
        "bands.WEEKEND",
        "unknown weekday",
    ),
    (
        r#"services = ["sms"]"#,
        r#"services = ["sms", "data"]"#,
        "packages.SMART_SMS",
        "cannot pay for data",
    ),
    (
        r#"validity_days = 7"#,
        r#"validity_days = 0"#,
        "packages.TRAVEL_MINUTES",
        "validity_days",
    ),
];

#[test]
fn each_broken_line_is_named() {
    for (find, replace, item, words) in CASES {
        assert!(
            common::EXAMPLE.contains(find),
            "fixture line not found: {find}"
        );
        let text = common::EXAMPLE.replacen(find, replace, 1);
        let err = Catalog::from_toml("catalogs/broken.toml", &text)
            .expect_err(&format!("{item} must be refused"));
        let shown = err.to_string();
        assert!(
            shown.starts_with("catalogs/broken.toml"),
            "the error names the file: {shown}"
        );
        assert!(
            err.problems()
                .iter()
                .any(|p| p.item == *item && p.problem.contains(words)),
            "expected {item}: …{words}… in\n{shown}"
        );
    }
}

#[test]
fn syntax_errors_and_unknown_keys_are_refused() {
    let err = Catalog::from_toml("c.toml", "[catalog\nid=1").unwrap_err();
    assert!(
        err.to_string().starts_with("c.toml: not a valid catalog"),
        "{err}"
    );
    let misspelt = common::EXAMPLE.replacen("connect_fee = \"5.00\"", "conect_fee = \"5.00\"", 1);
    let err = Catalog::from_toml("c.toml", &misspelt).unwrap_err();
    assert!(err.to_string().contains("conect_fee"), "{err}");
    let err = Catalog::from_bytes("c.toml", &[0xff, 0xfe]).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn the_example_loads_with_a_stable_fingerprint() {
    let a = common::example();
    let b = common::example();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.plans.len(), 3);
    let edited =
        Catalog::from_toml("x", &common::EXAMPLE.replacen("2026.11.1", "2026.11.2", 1)).unwrap();
    assert_ne!(
        a.tag(),
        edited.tag(),
        "any edit changes the catalog's identity"
    );
}

#[test]
fn a_large_prefix_table_loads_quickly_enough_to_not_matter() {
    // 100 000 destinations of one prefix each: a table the size operators run.
    let mut text = String::from("[catalog]\nid='big'\nversion='1'\ncurrency='RUB'\ndecimals=2\ntimezone='UTC'\nrounding={method='up',decimals=2}\n");
    for i in 0..100_000u32 {
        text.push_str(&format!("[[destinations]]\nid='D{i}'\nzone='international'\nnetwork='offnet'\nprefixes=['{}']\n", 10_000_000 + i * 3));
    }
    text.push_str("[[rates]]\nid='R'\nunit='seconds'\nslots=[{from=0,price='1',per=60,increment=60}]\n[[plans]]\nid='P'\nprices=[{service='voice',rate='R'}]\n");
    let cat = Catalog::from_toml("big.toml", &text).unwrap();
    assert_eq!(cat.destination(b"1000031299"), Some(104));
}
