//! Specification of periods, by event time in the catalog's zone (Europe/Moscow): monthly and
//! daily fees, renewal of packages, rollover with its cap and expiry, month ends.

mod common;
use common::*;
use rating::event::*;
use rating::*;

const A: &str = "A1";
const N: &str = "79001234567";

fn tick(id: &str, time: &str) -> Input {
    Input::Tick(Tick {
        id: id.into(),
        account: A.into(),
        time: t(time),
    })
}

fn fees(ds: &[Decision]) -> Vec<(FeeKind, String, String)> {
    let mut out = Vec::new();
    for d in ds {
        let mut all: Vec<&FeeCharge> = d.renewals.iter().flat_map(|r| &r.fees).collect();
        if let Outcome::Opened { fees, .. } | Outcome::OptionActivated { fees, .. } = &d.outcome {
            all.extend(fees);
        }
        out.extend(
            all.into_iter()
                .map(|f| (f.kind, f.at.to_string(), f.amount.to_string())),
        );
    }
    out
}

#[test]
fn a_month_that_starts_on_the_31st_ends_on_the_last_day_of_shorter_months() {
    let cat = postpaid();
    let mut s = State::new();
    // Joined 31 January 10:00 MSK.
    let ds = run(
        &mut s,
        &cat,
        &[
            open("o", A, "2026-01-31T07:00:00Z", &[(N, "SMART", &[])]),
            tick("t1", "2026-02-27T20:59:59Z"), // 23:59:59 on 27 Feb MSK: nothing yet
            tick("t2", "2026-02-27T21:00:00Z"), // 00:00 on 28 Feb MSK: the second month
            tick("t3", "2026-04-15T12:00:00Z"), // 31 March and 30 April? no: 31 March only
        ],
    );
    assert_eq!(
        fees(&ds),
        [
            (
                FeeKind::Connection,
                "2026-01-31T07:00:00Z".into(),
                "100.00".into()
            ),
            (
                FeeKind::Monthly,
                "2026-01-31T07:00:00Z".into(),
                "450.00".into()
            ),
            (
                FeeKind::Monthly,
                "2026-02-27T21:00:00Z".into(),
                "450.00".into()
            ),
            (
                FeeKind::Monthly,
                "2026-03-30T21:00:00Z".into(),
                "450.00".into()
            ),
        ]
    );
    assert_eq!(balance(&s, A), m("-1450.00"));
    let n = &s.account(A).unwrap().numbers[0];
    assert_eq!(n.months, 2);
    // The April bucket is valid to 30 April 00:00 MSK (the last day of April, since April has no 31st).
    let b = n
        .buckets
        .iter()
        .find(|b| {
            cat.packages[b.package as usize].id == "SMART_MINUTES" && b.origin != Origin::Rollover
        })
        .unwrap();
    assert_eq!(b.valid_until, t("2026-04-29T21:00:00Z"));
}

#[test]
fn rollover_carries_the_remainder_up_to_its_cap_for_one_period() {
    let cat = postpaid();
    let mut s = State::new();
    let ds = run(
        &mut s,
        &cat,
        &[
            open("o", A, "2026-11-01T07:00:00Z", &[(N, "SMART", &[])]),
            call("c1", N, "79001112233", "2026-11-10T10:00:00Z", 16_200), // 270 min used, 30 left
            tick("t1", "2026-12-01T00:00:00Z"),
        ],
    );
    let r = &ds[2].renewals[0];
    // November's minutes: 1800 s left, all carried (cap 6000); November's data: 10 GiB left,
    // 5 GiB carried (cap), 5 GiB lost; SMS: no rollover, 100 lost.
    let rolled: Vec<(String, u64)> = r
        .granted
        .iter()
        .filter(|b| b.origin == Origin::Rollover)
        .map(|b| (cat.packages[b.package as usize].id.clone(), b.total))
        .collect();
    assert_eq!(
        rolled,
        [
            ("SMART_MINUTES".to_string(), 1_800),
            ("SMART_DATA".to_string(), 5 << 30)
        ]
    );
    let lost: u64 = r.expired.iter().map(|e| e.lost).sum();
    assert_eq!(lost, 100 + (5 << 30));
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 18_000 + 1_800);

    // December's remainder rolls again, but the November rollover does not roll a second time.
    let ds = run(&mut s, &cat, &[tick("t2", "2027-01-01T00:00:00Z")]);
    let r = &ds[0].renewals[0];
    let minutes_rolled: Vec<u64> = r
        .granted
        .iter()
        .filter(|b| {
            b.origin == Origin::Rollover && cat.packages[b.package as usize].id == "SMART_MINUTES"
        })
        .map(|b| b.total)
        .collect();
    assert_eq!(
        minutes_rolled,
        [6_000],
        "December's unused 18000 s, capped at 6000"
    );
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 18_000 + 6_000);
}

#[test]
fn daily_fees_are_charged_for_every_local_day_that_began() {
    let cat = postpaid();
    let mut s = State::new();
    let ds = run(
        &mut s,
        &cat,
        &[
            open("o", A, "2026-11-01T07:00:00Z", &[(N, "DAILY", &[])]),
            pay("p", A, "2026-11-01T08:00:00Z", "100.00"),
            // 4 November 12:00 MSK: days of 2, 3 and 4 November have begun.
            usage(
                "d1",
                N,
                Service::Data,
                None,
                "2026-11-04T09:00:00Z",
                1_000_000,
            ),
        ],
    );
    assert_eq!(fees(&ds).len(), 4);
    assert_eq!(balance(&s, A), m("40.00"));
    assert_eq!(charge(&ds[2]).why, Why::Packages, "today's data package");
    let days: Vec<String> = fees(&ds).into_iter().map(|f| f.1).collect();
    assert_eq!(
        days[1..],
        [
            "2026-11-01T21:00:00Z",
            "2026-11-02T21:00:00Z",
            "2026-11-03T21:00:00Z"
        ]
    );
}

#[test]
fn an_option_charges_its_monthly_fee_on_the_numbers_month() {
    let cat = postpaid();
    let mut s = State::new();
    let ds = run(
        &mut s,
        &cat,
        &[
            open("o", A, "2026-11-01T07:00:00Z", &[(N, "SMART", &[])]),
            Input::ActivateOption(OptionChange {
                id: "on".into(),
                msisdn: msisdn(N),
                option: "MESSENGERS".into(),
                time: t("2026-11-15T10:00:00Z"),
            }),
            tick("t", "2026-12-01T10:00:00Z"),
            Input::DeactivateOption(OptionChange {
                id: "off".into(),
                msisdn: msisdn(N),
                option: "MESSENGERS".into(),
                time: t("2026-12-02T10:00:00Z"),
            }),
            tick("t2", "2027-01-01T10:00:00Z"),
        ],
    );
    let monthly: Vec<String> = fees(&ds)
        .into_iter()
        .filter(|f| f.0 == FeeKind::Monthly)
        .map(|f| f.2)
        .collect();
    assert_eq!(monthly, ["450.00", "99.00", "450.00", "99.00", "450.00"]);
}

#[test]
fn replaying_the_decisions_gives_the_same_state() {
    let cat = postpaid();
    let mut live = State::new();
    let ds = run(
        &mut live,
        &cat,
        &[
            open(
                "o",
                A,
                "2026-11-01T07:00:00Z",
                &[(N, "SMART", &["TRAVEL"]), ("79007654321", "DAILY", &[])],
            ),
            pay("p", A, "2026-11-01T08:00:00Z", "2000.00"),
            call("c1", N, "79001112233", "2026-11-10T10:00:00Z", 16_200),
            usage(
                "d1",
                "79007654321",
                Service::Data,
                None,
                "2026-11-12T09:00:00Z",
                600_000_000,
            ),
            tick("t1", "2026-12-05T00:00:00Z"),
        ],
    );
    let mut replayed = State::new();
    for d in &ds {
        apply(&mut replayed, d).unwrap();
    }
    assert_eq!(live.account(A), replayed.account(A));
}
