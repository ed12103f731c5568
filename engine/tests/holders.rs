//! A number changes hands: released with its account (blocked after a day at zero, released a
//! day later on this test's catalog), then opened on another. Property: whatever the sequence
//! of openings, usage, payments and days, a query scoped to an account (what a subscriber's
//! token is given) returns only that account's rows, an account that never held a number gets
//! nothing of it, and the scoped views add up to the operator's.

use engine::pipeline::{Config, Engine};
use engine::query::{self, Context, QueryError, Scope, Who};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::io::Write;

const NUMBERS: [&str; 3] = ["79003000001", "79003000002", "79003000003"];
/// Account ids, one beginning with a number (one of digits alone is refused at input).
const ACCOUNTS: [&str; 7] = ["A0", "A1", "79003000001-b", "A3", "A4", "A5", "A6"];

#[derive(Debug, Clone)]
enum Step {
    Open { account: usize, number: usize },
    Call { number: usize, seconds: u32 },
    Pay { account: usize, amount: u32 },
    Days(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..ACCOUNTS.len(), 0..NUMBERS.len())
            .prop_map(|(account, number)| Step::Open { account, number }),
        4 => (0..NUMBERS.len(), 1..600u32).prop_map(|(number, seconds)| Step::Call { number, seconds }),
        1 => (0..ACCOUNTS.len(), 1..900u32).prop_map(|(account, amount)| Step::Pay { account, amount }),
        3 => (1..4u8).prop_map(Step::Days),
    ]
}

/// The steps as input lines, a few minutes apart from 2026-11-01, each id its own.
fn lines(steps: &[Step]) -> Vec<String> {
    let mut at = chrono::DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z").unwrap();
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        at += chrono::Duration::minutes(7);
        let time = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        out.push(match s {
            Step::Open { account, number } => format!(
                r#"{{"type":"open_account","id":"o{i}","account":"{}","time":"{time}","numbers":[{{"msisdn":"{}","plan":"SMART"}}]}}"#,
                ACCOUNTS[*account], NUMBERS[*number]
            ),
            Step::Call { number, seconds } => format!(
                r#"{{"type":"usage","id":"c{i}","msisdn":"{}","service":"voice","other":"74951234567","start":"{time}","duration":{seconds}}}"#,
                NUMBERS[*number]
            ),
            Step::Pay { account, amount } => format!(
                r#"{{"type":"payment","id":"p{i}","account":"{}","amount":"{amount}.00","time":"{time}"}}"#,
                ACCOUNTS[*account]
            ),
            Step::Days(days) => {
                at += chrono::Duration::days(i64::from(*days));
                continue;
            }
        });
    }
    out
}

fn rate(dir: &std::path::Path, lines: &[String]) -> Engine {
    let text = engine::EXAMPLE_CATALOG
        .replace("block_after_days = 180", "block_after_days = 1")
        .replace("restore_days = 60", "restore_days = 1");
    let cat = rating::Catalog::from_toml("quick.toml", &text).unwrap();
    let input = dir.join("in.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    let cfg = Config {
        max_ahead: 400 * 86_400,
        ..Config::default()
    };
    let mut e = Engine::open(&dir.join("store"), cat, text.as_bytes(), cfg).unwrap();
    e.run_file(&input).unwrap();
    e
}

fn money(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// Checks one number's views: scoped rows are the account's own, and add up to the operator's.
fn check_number(e: &Engine, ctx: &Context, number: &str) {
    let period = query::period(
        ctx,
        None,
        Some("2026-01-01T00:00:00Z"),
        Some("2027-01-01T00:00:00Z"),
    )
    .unwrap();
    let months = (Some("2026-01"), Some("2026-12"));
    let all = match query::detalization(&e.store, ctx, number, period, &[], Scope::Everything) {
        Err(QueryError::NotFound(_)) => return,
        other => other.unwrap(),
    };
    let mut seen = 0;
    for account in ACCOUNTS {
        let scope = Scope::Account(account);
        let Ok(mine) = query::detalization(&e.store, ctx, number, period, &[], scope) else {
            // Never held it: nothing of the number, its spending included.
            assert!(all.rows.iter().all(|r| r.account != account));
            let who = Who::Number(rating::Msisdn::parse(number).unwrap());
            assert!(matches!(
                query::spending_of(&e.store, ctx, who, months, scope),
                Err(QueryError::NotFound(_))
            ));
            continue;
        };
        assert!(
            mine.rows.iter().all(|r| r.account == account),
            "{account} reads another's row of {number}: {:?}",
            mine.rows
        );
        let expected: Vec<_> = all
            .rows
            .iter()
            .filter(|r| r.account == account)
            .cloned()
            .collect();
        assert_eq!(mine.rows, expected);
        seen += mine.rows.len();
        let who = Who::Number(rating::Msisdn::parse(number).unwrap());
        let spent = query::spending_of(&e.store, ctx, who, months, scope).unwrap();
        let total: Decimal = spent.months.iter().map(|m| money(&m.total)).sum();
        let rows: Decimal = mine.rows.iter().map(|r| money(&r.money)).sum();
        assert_eq!(total, rows, "{account}'s spending of {number}");
    }
    assert_eq!(
        seen,
        all.rows.len(),
        "every row of {number} is some holder's"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_scoped_query_returns_only_its_accounts_rows(steps in proptest::collection::vec(step(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let e = rate(dir.path(), &lines(&steps));
        let ctx = Context::load(&e.store).unwrap();
        for number in NUMBERS {
            check_number(&e, &ctx, number);
        }
    }
}

/// The property's sequences do reissue numbers: one that surely does.
#[test]
fn the_generated_steps_can_reissue_a_number() {
    let steps = [
        Step::Open {
            account: 0,
            number: 0,
        },
        Step::Call {
            number: 0,
            seconds: 60,
        },
        Step::Days(3),
        Step::Open {
            account: 1,
            number: 1,
        },
        Step::Open {
            account: 2,
            number: 0,
        },
        Step::Call {
            number: 0,
            seconds: 60,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let e = rate(dir.path(), &lines(&steps));
    let ctx = Context::load(&e.store).unwrap();
    let period = query::period(&ctx, Some("2026-11"), None, None).unwrap();
    let all =
        query::detalization(&e.store, &ctx, NUMBERS[0], period, &[], Scope::Everything).unwrap();
    let mut holders: Vec<&str> = all.rows.iter().map(|r| r.account.as_str()).collect();
    holders.dedup();
    assert_eq!(holders, ["A0", "79003000001-b"]);
    check_number(&e, &ctx, NUMBERS[0]);
}
