//! Read models against hand-checked expectations: balance, packages (with a renewal and its
//! rollover), detalization across a month boundary, spending and payments, and the fee for
//! detalization reports. Example catalog (Europe/Moscow, UTC+3; SMART and BASIC plans).

mod common;
use common::{append, tool};
use engine::pipeline::Engine;
use engine::query::{self, Context, Scope};
use std::io::Write;
use std::path::Path;

/// Part 1: October, and the first days of November.
const PART1: &[&str] = &[
    // Opened on 15 October, 12:00 MSK: SMART pays 100 connection + 450 monthly.
    r#"{"type":"open_account","id":"open-1","account":"A1","time":"2026-10-15T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"SMART"},{"msisdn":"79001000002","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"pay-1","account":"A1","amount":"1000.00","time":"2026-10-15T09:01:00Z"}"#,
    // 31 Oct 23:59 MSK, SMART, 90 s to Moscow: from the minutes package, 120 s (whole minutes).
    r#"{"type":"usage","id":"c-1","msisdn":"79001000001","service":"voice","other":"74951234567","start":"2026-10-31T20:59:00Z","duration":90}"#,
    // 31 Oct 23:59:30 MSK, BASIC, 90 s: first minute 1.50, then 30 s at 1.50/min = 0.75.
    r#"{"type":"usage","id":"c-2","msisdn":"79001000002","service":"voice","other":"74951234567","start":"2026-10-31T20:59:30Z","duration":90}"#,
    // 1 Nov 00:00 MSK: November's first item, 60 s = 1.50.
    r#"{"type":"usage","id":"c-3","msisdn":"79001000002","service":"voice","other":"74951234567","start":"2026-10-31T21:00:00Z","duration":60}"#,
    r#"{"type":"usage","id":"s-1","msisdn":"79001000002","service":"sms","other":"79161234567","start":"2026-11-02T09:00:00Z"}"#,
    // 1 MB on BASIC: 1024 KB at 0.01 = 10.24.
    r#"{"type":"usage","id":"d-1","msisdn":"79001000002","service":"data","start":"2026-11-02T10:00:00Z","bytes":1048576}"#,
    // Incoming at home: free, but listed.
    r#"{"type":"usage","id":"in-1","msisdn":"79001000001","service":"voice","direction":"in","other":"74957654321","start":"2026-11-03T09:00:00Z","duration":300}"#,
];

/// Part 2: past the SMART number's monthly renewal (15 Nov), and reports ordered.
const PART2: &[&str] = &[
    r#"{"type":"payment","id":"pay-2","account":"A1","amount":"500.00","time":"2026-11-16T09:00:00Z"}"#,
    r#"{"type":"order_detalization","id":"r-1","msisdn":"79001000002","month":"2026-10","time":"2026-11-16T10:00:00Z"}"#,
    r#"{"type":"order_detalization","id":"r-2","msisdn":"79001000002","month":"2026-10","time":"2026-11-16T10:01:00Z"}"#,
    r#"{"type":"order_detalization","id":"r-3","msisdn":"79001000002","from":"2026-11-01T00:00:00Z","to":"2026-11-10T00:00:00Z","time":"2026-11-16T10:02:00Z"}"#,
    // A redelivery of a report order charges nothing.
    r#"{"type":"order_detalization","id":"r-2","msisdn":"79001000002","month":"2026-10","time":"2026-11-16T10:01:00Z"}"#,
];

/// The fixtures leave weeks between inputs: a bound on how far ahead an input may be that
/// covers them.
fn engine(dir: &Path) -> Engine {
    let text = common::postpaid();
    let cat = rating::Catalog::from_toml("postpaid.toml", &text).unwrap();
    let cfg = engine::pipeline::Config {
        max_ahead: 60 * 86_400,
        ..engine::pipeline::Config::default()
    };
    Engine::open(&dir.join("store"), cat, text.as_bytes(), cfg).unwrap()
}

/// An engine that rated part 1, and a query context on its store.
fn part1(dir: &Path) -> (Engine, Context) {
    let input = dir.join("in.jsonl");
    append(&input, PART1);
    let mut e = engine(dir);
    e.run_file(&input).unwrap();
    let ctx = Context::load(&e.store).unwrap();
    (e, ctx)
}

/// Each number's month-to-date spending in a balance.
fn month_to_date(b: &projections::view::BalanceView) -> Vec<(&str, &str)> {
    b.numbers
        .iter()
        .map(|n| (n.msisdn.as_str(), n.month_to_date.as_str()))
        .collect()
}

fn rows(e: &Engine, msisdn: &str, month: &str, services: &[&str]) -> Vec<[String; 5]> {
    let ctx = Context::load(&e.store).unwrap();
    let period = query::period(&ctx, Some(month), None, None).unwrap();
    let services: Vec<String> = services
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    query::detalization(&e.store, &ctx, msisdn, period, &services, Scope::Everything)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| [r.time, r.service, r.quantity, r.money, r.balance_after])
        .collect()
}

fn row(t: &str, s: &str, q: &str, m: &str, b: &str) -> [String; 5] {
    [t, s, q, m, b].map(String::from)
}

fn packages(e: &Engine, msisdn: &str) -> Vec<(String, u64, u64, u64, String, String)> {
    let ctx = Context::load(&e.store).unwrap();
    query::packages(&e.store, &ctx, msisdn)
        .unwrap()
        .buckets
        .into_iter()
        .map(|b| {
            (
                b.package,
                b.total,
                b.used,
                b.remaining,
                b.origin,
                b.valid_until,
            )
        })
        .collect()
}

fn bucket(
    p: &str,
    total: u64,
    used: u64,
    origin: &str,
    until: &str,
) -> (String, u64, u64, u64, String, String) {
    (
        p.into(),
        total,
        used,
        total - used,
        origin.into(),
        until.into(),
    )
}

#[test]
fn read_models_follow_the_log_across_a_month_boundary_and_a_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let (e, ctx) = part1(dir.path());

    // 1000 − 550 fees − 2.25 − 1.50 − 2.00 − 10.24.
    let b = query::balance(&e.store, &ctx, "79001000002").unwrap();
    assert_eq!(
        (
            b.account.as_str(),
            b.balance.as_str(),
            b.available.as_str(),
            b.status
        ),
        ("A1", "434.01", "434.01", "active")
    );
    // November so far (the latest event is 3 Nov): 1.50 + 2.00 + 10.24, all on BASIC.
    assert_eq!(
        (b.month.as_str(), b.month_to_date.as_str()),
        ("2026-11", "13.74")
    );
    assert_eq!(
        month_to_date(&b),
        [("79001000001", "0.00"), ("79001000002", "13.74")]
    );

    // The 90 s call took two whole minutes of the package, valid until the renewal on 15 Nov.
    let until = "2026-11-14T21:00:00Z";
    assert_eq!(
        packages(&e, "79001000001"),
        [
            bucket("SMART_MINUTES", 18_000, 120, "plan SMART", until),
            bucket("SMART_SMS", 100, 0, "plan SMART", until),
            bucket("SMART_DATA", 10_737_418_240, 0, "plan SMART", until),
        ]
    );
    // Beside the raw units, what people read, and the plan's name beside its id.
    let ctx = Context::load(&e.store).unwrap();
    let view = query::packages(&e.store, &ctx, "79001000001").unwrap();
    assert_eq!(
        (view.plan.as_str(), view.plan_name.as_str()),
        ("SMART", "Smart")
    );
    let texts: Vec<[&str; 3]> = (view.buckets.iter())
        .map(|b| [&*b.total_text, &*b.used_text, &*b.remaining_text])
        .collect();
    assert_eq!(
        texts,
        [
            ["300 min", "2 min", "298 min"],
            ["100 messages", "0 messages", "100 messages"],
            ["10.0 GB", "0 B", "10.0 GB"],
        ]
    );

    // The month boundary is local midnight: 23:59:30 MSK on 31 Oct is October, 00:00 November.
    assert_eq!(
        rows(&e, "79001000002", "2026-10", &[]),
        [row(
            "2026-10-31 23:59:30",
            "voice",
            "1:30",
            "2.25",
            "447.75"
        )]
    );
    assert_eq!(
        rows(&e, "79001000001", "2026-10", &[]),
        [
            row(
                "2026-10-15 12:00:00",
                "fee",
                "connection",
                "100.00",
                "-100.00"
            ),
            row("2026-10-15 12:00:00", "fee", "monthly", "450.00", "-550.00"),
            row("2026-10-31 23:59:00", "voice", "1:30", "0.00", "450.00"),
        ]
    );
    drop(e);

    let input = dir.path().join("in.jsonl");
    append(&input, PART2);
    let mut e = engine(dir.path());
    e.run_file(&input).unwrap();
    let ctx = Context::load(&e.store).unwrap();

    // The tick at 16 Nov 00:00 renewed the SMART number (its period began 15 Nov): 450 charged
    // before the 12:00 payment; 6 000 s of the 17 880 left roll over (the catalog's maximum),
    // and 5 GB of data; SMS do not roll over.
    let until = "2026-12-14T21:00:00Z";
    assert_eq!(
        packages(&e, "79001000001"),
        [
            bucket("SMART_MINUTES", 6_000, 0, "rollover", until),
            bucket("SMART_DATA", 5_368_709_120, 0, "rollover", until),
            bucket("SMART_MINUTES", 18_000, 0, "plan SMART", until),
            bucket("SMART_SMS", 100, 0, "plan SMART", until),
            bucket("SMART_DATA", 10_737_418_240, 0, "plan SMART", until),
        ]
    );
    // Incoming calls are listed, free; the renewal's fee is an item at its period's start.
    assert_eq!(
        rows(&e, "79001000001", "2026-11", &[]),
        [
            row("2026-11-03 12:00:00", "voice", "5:00", "0.00", "434.01"),
            row("2026-11-15 00:00:00", "fee", "monthly", "450.00", "-15.99"),
        ]
    );
    // Reports: October's first whole-month report is free, the second and a partial one cost
    // the catalog's 30.00 each; the redelivered order charged nothing.
    assert_eq!(
        rows(&e, "79001000002", "2026-11", &["report", "sms"]),
        [
            row("2026-11-02 12:00:00", "sms", "1", "2.00", "444.25"),
            row("2026-11-16 13:00:00", "report", "", "0.00", "484.01"),
            row("2026-11-16 13:01:00", "report", "", "30.00", "454.01"),
            row("2026-11-16 13:02:00", "report", "", "30.00", "424.01"),
        ]
    );

    let b = query::balance(&e.store, &ctx, "A1").unwrap();
    assert_eq!(
        (b.balance.as_str(), b.month_to_date.as_str()),
        ("424.01", "523.74")
    );
    assert_eq!(
        month_to_date(&b),
        [("79001000001", "450.00"), ("79001000002", "73.74")]
    );

    let s = query::spending(&e.store, &ctx, "A1", (None, None), Scope::Everything).unwrap();
    type MonthRow<'a> = (String, Vec<(&'a str, String)>, String);
    let months: Vec<MonthRow> = s
        .months
        .iter()
        .map(|m| {
            (
                m.month.clone(),
                m.categories.iter().map(|(k, v)| (*k, v.clone())).collect(),
                m.total.clone(),
            )
        })
        .collect();
    let cats = |v: [&str; 7]| -> Vec<(&str, String)> {
        [
            "adjustments",
            "calls",
            "data",
            "mms",
            "other",
            "sms",
            "subscriptions_and_fees",
        ]
        .into_iter()
        .zip(v.map(String::from))
        .collect()
    };
    assert_eq!(
        months,
        [
            (
                "2026-10".into(),
                cats(["0.00", "2.25", "0.00", "0.00", "0.00", "0.00", "550.00"]),
                "552.25".into()
            ),
            (
                "2026-11".into(),
                cats(["0.00", "1.50", "10.24", "0.00", "60.00", "2.00", "450.00"]),
                "523.74".into()
            ),
        ]
    );
    let pays: Vec<(&str, &str, &str)> = s
        .payments
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.time.as_str(), p.amount.as_str(), p.balance_after.as_str()))
        .collect();
    assert_eq!(
        pays,
        [
            ("2026-10-15 12:01:00", "1000.00", "450.00"),
            ("2026-11-16 12:00:00", "500.00", "484.01"),
        ]
    );
    // A number's spending is its own part of the account's.
    let s = query::spending(
        &e.store,
        &ctx,
        "79001000001",
        (Some("2026-11"), Some("2026-11")),
        Scope::Everything,
    )
    .unwrap();
    assert_eq!(s.months.len(), 1);
    assert_eq!(s.months[0].total, "450.00");
    assert!(s.payments.is_none());

    // A period query: from/to bounds, the end exclusive.
    let period = query::period(
        &ctx,
        None,
        Some("2026-10-31T21:00:00Z"),
        Some("2026-11-02T10:00:00Z"),
    )
    .unwrap();
    let r = query::detalization(
        &e.store,
        &ctx,
        "79001000002",
        period,
        &[],
        Scope::Everything,
    )
    .unwrap();
    assert_eq!(
        r.rows.len(),
        2,
        "00:00 on 1 Nov and the SMS; the data session at 10:00 is out"
    );
    assert_eq!(r.total_money, "3.50");

    // Audit and replay agree with the new outcome.
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:?}", audit.listed);
    let replay = engine::replay::replay(&e.store, |_| {}).unwrap();
    assert!(replay.ok());
}

#[test]
fn queries_refuse_what_they_cannot_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (e, ctx) = part1(dir.path());
    use engine::query::QueryError::{Bad, NotFound};
    assert!(matches!(
        query::balance(&e.store, &ctx, "NOPE"),
        Err(NotFound(_))
    ));
    assert!(matches!(
        query::packages(&e.store, &ctx, "79009999999"),
        Err(NotFound(_))
    ));
    assert!(matches!(
        query::packages(&e.store, &ctx, "not-a-number"),
        Err(Bad(_))
    ));
    assert!(matches!(
        query::period(&ctx, Some("2026-13"), None, None),
        Err(Bad(_))
    ));
    assert!(matches!(
        query::period(
            &ctx,
            None,
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-01T00:00:00Z")
        ),
        Err(Bad(_))
    ));
    assert!(matches!(
        query::period(&ctx, Some("2026-11"), Some("2026-11-02T00:00:00Z"), None),
        Err(Bad(_))
    ));
    let p = query::period(&ctx, None, None, None).unwrap();
    assert!(matches!(
        query::detalization(
            &e.store,
            &ctx,
            "79001000001",
            p,
            &["telepathy".into()],
            Scope::Everything
        ),
        Err(Bad(_))
    ));
    assert!(matches!(
        query::spending(
            &e.store,
            &ctx,
            "A1",
            (Some("2026-12"), Some("2026-11")),
            Scope::Everything
        ),
        Err(Bad(_))
    ));
}

fn workload_engine(dir: &Path, accounts: u64, days: u32) -> Engine {
    let w = engine::workload::Workload {
        accounts,
        days,
        seed: 7,
        ..Default::default()
    };
    let input = dir.join("workload.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    w.write(&mut f, |_| {}).unwrap();
    f.flush().unwrap();
    drop(f);
    let mut e = engine(dir);
    e.run_file(&input).unwrap();
    e
}

#[test]
fn a_rebuild_gives_the_live_read_models_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let e = workload_engine(dir.path(), 300, 45);
    let live = projections::models::dump(e.store.db()).unwrap();
    let count = |f: &str| live.iter().filter(|(n, _, _)| *n == f).count();
    assert!(count("detail") > 20_000, "{} items", count("detail"));
    assert!(count("payments") > 300 && count("spending") > 1_000 && count("numbers") >= 300);
    let reports = live
        .iter()
        .filter(|(n, _, v)| {
            *n == "detail"
                && projections::item::decode_row::<projections::Item>(v)
                    .unwrap()
                    .what
                    == projections::What::Report
        })
        .count();
    assert!(reports > 0, "the workload orders reports");

    let r = engine::rebuild::rebuild(&e.store, |_| {}).unwrap();
    assert_eq!(
        r.decisions,
        e.counters.rated
            + e.counters.rejected
            + e.counters.duplicates
            + e.counters.ticks
            + e.counters.derived
    );
    let rebuilt = projections::models::dump(e.store.db()).unwrap();
    assert_eq!(live.len(), rebuilt.len());
    if let Some(i) = (0..live.len()).find(|&i| live[i] != rebuilt[i]) {
        panic!(
            "row {i} differs: live {:?}, rebuilt {:?}",
            live[i], rebuilt[i]
        );
    }
}

#[test]
fn the_pdf_report_renders_with_its_totals() {
    if tool("pdftoppm").is_none() || tool("tesseract").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let e = workload_engine(dir.path(), 40, 35);
    let ctx = Context::load(&e.store).unwrap();
    // The busiest number of the workload, its whole first month.
    let period = query::period(&ctx, Some("2026-11"), None, None).unwrap();
    let (report, msisdn) = (0..60)
        .map(|i| format!("790000000{i:02}"))
        .filter_map(|m| {
            query::detalization(&e.store, &ctx, &m, period, &[], Scope::Everything)
                .ok()
                .map(|r| (r, m))
        })
        .max_by_key(|(r, _)| r.rows.len())
        .unwrap();
    let per_page = projections::pdf::ROWS_PER_PAGE;
    assert!(
        report.rows.len() > per_page,
        "{} rows fit one page",
        report.rows.len()
    );
    let pdf = projections::pdf::render(&report).unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &pdf).unwrap();

    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "200", "-gray", "-png"])
        .arg(&path)
        .arg(dir.path().join("page"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    pages.sort();
    let expected = (report.rows.len() + report.totals.len() + 4).div_ceil(per_page);
    assert_eq!(pages.len(), expected, "pages of {} rows", report.rows.len());

    // Read the last page's image back as text and find the totals on it.
    let ocr = std::process::Command::new("tesseract")
        .arg(pages.last().unwrap())
        .arg("stdout")
        .args(["--psm", "6"])
        .output()
        .unwrap();
    assert!(
        ocr.status.success(),
        "{}",
        String::from_utf8_lossy(&ocr.stderr)
    );
    let text = String::from_utf8_lossy(&ocr.stdout);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(&format!("Page {expected} of {expected}")),
        "{text}"
    );
    assert!(text.contains("Totals"), "{text}");
    assert!(
        text.contains(&format!("Total charged {} RUB", report.total_money)),
        "total {} not found on the last page of +{msisdn}: {text}",
        report.total_money
    );
    for t in &report.totals {
        assert!(
            text.contains(&format!("{}: {} items {}", t.service, t.items, t.money)),
            "{} total not found: {text}",
            t.service
        );
    }
}

#[test]
fn a_promised_payment_shows_in_the_balance_and_the_payment_history() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(
        &input,
        &[
            r#"{"type":"open_account","id":"o","account":"B","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79002000001","plan":"BASIC"}]}"#,
            r#"{"type":"payment","id":"p1","account":"B","amount":"400.00","time":"2026-11-01T09:01:00Z"}"#,
            r#"{"type":"request_promise","id":"pp","msisdn":"79002000001","amount":"150.00","time":"2026-11-05T10:00:00Z"}"#,
            r#"{"type":"payment","id":"p2","account":"B","amount":"100.00","time":"2026-11-06T10:00:00Z"}"#,
        ],
    );
    let mut e = engine(dir.path());
    e.run_file(&input).unwrap();
    let ctx = Context::load(&e.store).unwrap();
    // 400 + 150 − 10 fee; then 100 paid, all of it repaying the promise.
    let b = query::balance(&e.store, &ctx, "B").unwrap();
    assert_eq!(b.balance, "540.00");
    let p = b.promised_payment.expect("50 still outstanding");
    assert_eq!(
        (
            p.amount.as_str(),
            p.outstanding.as_str(),
            p.expires.as_str()
        ),
        ("150.00", "50.00", "2026-11-08 13:00:00")
    );
    drop(e);
    // Past the expiry the rest is written off; the history shows all four movements.
    append(
        &input,
        &[
            r#"{"type":"payment","id":"p3","account":"B","amount":"10.00","time":"2026-11-09T10:00:00Z"}"#,
        ],
    );
    let mut e = engine(dir.path());
    e.run_file(&input).unwrap();
    let ctx = Context::load(&e.store).unwrap();
    let b = query::balance(&e.store, &ctx, "B").unwrap();
    assert_eq!((b.balance.as_str(), b.promised_payment), ("500.00", None));
    let s = query::spending(&e.store, &ctx, "B", (None, None), Scope::Everything).unwrap();
    let history: Vec<(String, &str, &str, &str)> = s
        .payments
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| {
            (
                serde_json::to_value(p.kind)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
                p.amount.as_str(),
                p.repaid.as_str(),
                p.balance_after.as_str(),
            )
        })
        .collect();
    let row = |k: &str, a: &'static str, r: &'static str, b: &'static str| (k.to_string(), a, r, b);
    assert_eq!(
        history,
        [
            row("payment", "400.00", "0.00", "400.00"),
            row("promised_payment", "150.00", "0.00", "540.00"),
            row("payment", "100.00", "100.00", "540.00"),
            row("promise_written_off", "-50.00", "0.00", "490.00"),
            row("payment", "10.00", "0.00", "500.00"),
        ]
    );
    // The promise's fee is the account's spending on "other".
    assert_eq!(s.months[0].categories["other"], "10.00");
    assert!(engine::audit::audit(&e.store).unwrap().ok());
}

/// A corporate account's numbers in groups: a group's spending is its numbers' sum, the
/// balance shows each number's group, status and the account's autopay; transfers show in the
/// payment history.
#[test]
fn groups_statuses_and_transfers_show_in_the_read_models() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(
        &input,
        &[
            r#"{"type":"open_account","id":"o","account":"CORP","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79003000001","plan":"BASIC"},{"msisdn":"79003000002","plan":"BASIC"},{"msisdn":"79003000003","plan":"BASIC"}]}"#,
            r#"{"type":"open_account","id":"o2","account":"OTHER","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79003000009","plan":"BASIC"}]}"#,
            r#"{"type":"payment","id":"p","account":"CORP","amount":"1000.00","time":"2026-11-01T09:01:00Z"}"#,
            r#"{"type":"set_group","id":"g1","msisdn":"79003000001","group":"sales","time":"2026-11-01T09:02:00Z"}"#,
            r#"{"type":"set_group","id":"g2","msisdn":"79003000002","group":"sales","time":"2026-11-01T09:02:00Z"}"#,
            r#"{"type":"set_group","id":"g3","msisdn":"79003000003","group":"it","time":"2026-11-01T09:02:00Z"}"#,
            r#"{"type":"set_group","id":"g4","msisdn":"79003000003","group":"a/b","time":"2026-11-01T09:02:00Z"}"#,
            r#"{"type":"set_balance_alerts","id":"al","account":"CORP","time":"2026-11-01T09:03:00Z","autopay":{"threshold":"100.00","amount":"500.00"}}"#,
            // SMS at 2.00 each: sales 2 + 1, it 1.
            r#"{"type":"usage","id":"s1","msisdn":"79003000001","service":"sms","other":"79161234567","start":"2026-11-02T09:00:00Z","count":2}"#,
            r#"{"type":"usage","id":"s2","msisdn":"79003000002","service":"sms","other":"79161234567","start":"2026-11-02T09:00:00Z"}"#,
            r#"{"type":"usage","id":"s3","msisdn":"79003000003","service":"sms","other":"79161234567","start":"2026-11-02T09:00:00Z"}"#,
            r#"{"type":"suspend","id":"sus","msisdn":"79003000003","time":"2026-11-03T09:00:00Z"}"#,
            r#"{"type":"transfer","id":"t","from":"79003000001","to":"79003000009","amount":"100.00","time":"2026-11-04T09:00:00Z"}"#,
        ],
    );
    let mut e = engine(dir.path());
    e.run_file(&input).unwrap();
    let c = e.counters;
    assert_eq!(
        (c.dead, c.rejected, c.derived),
        (1, 0, 1),
        "the bad group name is not an input; the transfer's credit is derived"
    );
    let ctx = Context::load(&e.store).unwrap();
    let total = |who: &str| {
        let s = query::spending(&e.store, &ctx, who, (None, None), Scope::Everything).unwrap();
        let m = s.months.iter().find(|m| m.month == "2026-11").unwrap();
        m.total.clone()
    };
    assert_eq!(total("CORP/sales"), "6.00");
    assert_eq!(
        total("CORP/it"),
        "4.00",
        "its SMS and a day suspended (2.00)"
    );
    assert!(query::spending(
        &e.store,
        &ctx,
        "CORP/nobody",
        (None, None),
        Scope::Everything
    )
    .is_err());
    let b = query::balance(&e.store, &ctx, "CORP").unwrap();
    let groups: Vec<(Option<&str>, &str)> = b
        .numbers
        .iter()
        .map(|n| (n.group.as_deref(), n.status))
        .collect();
    assert_eq!(
        groups,
        vec![
            (Some("sales"), "active"),
            (Some("sales"), "active"),
            (Some("it"), "suspended")
        ]
    );
    assert_eq!(
        b.autopay.as_ref().map(|a| a.amount.as_str()),
        Some("500.00")
    );
    let s = query::spending(&e.store, &ctx, "CORP", (None, None), Scope::Everything).unwrap();
    let kinds: Vec<String> = s
        .payments
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                serde_json::to_value(p.kind).unwrap().as_str().unwrap(),
                p.amount
            )
        })
        .collect();
    assert_eq!(kinds, vec!["payment 1000.00", "transfer_sent -100.00"]);
    let s = query::spending(&e.store, &ctx, "OTHER", (None, None), Scope::Everything).unwrap();
    assert_eq!(s.payments.unwrap()[0].amount, "100.00");
}

/// A store whose read models are of an older layout (before numbers' holders were kept) is
/// refused by the writer and the queries, with the command that fixes it; a rebuild does.
#[test]
fn a_store_of_an_older_read_model_layout_is_rebuilt_before_use() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, PART1);
    let catalog = dir.path().join("example.toml");
    std::fs::write(&catalog, engine::EXAMPLE_CATALOG).unwrap();
    let data = dir.path().join("store");
    let data = data.to_str().unwrap();
    let source = format!("file:{}", input.display());
    let run = [
        "run",
        "--catalog",
        catalog.to_str().unwrap(),
        "--data",
        data,
        "--source",
        &source,
        "--max-ahead-hours",
        "1500",
    ];
    common::ratel(&run);
    {
        let store = engine::store::Store::open(std::path::Path::new(data)).unwrap();
        let mut c = engine::store::Commit::default();
        store.put_meta(&mut c, engine::keys::MODELS_LAYOUT, &1u64.to_le_bytes());
        store.commit(c, true).unwrap();
    }
    let detalization = [
        "detalization",
        "--data",
        data,
        "79001000002",
        "--month",
        "2026-10",
    ];
    for args in [&run[..], &detalization[..]] {
        let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 60)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran on old read models");
        assert!(
            err.contains("layout 1") && err.contains("ratel projections rebuild"),
            "{args:?}: {err}"
        );
    }
    common::ratel(&["projections", "rebuild", "--data", data]);
    let report: serde_json::Value = serde_json::from_str(&common::ratel(&detalization)).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(
        (&rows[0]["event"], &rows[0]["account"]),
        (&"c-2".into(), &"A1".into())
    );
    common::ratel(&run);
}

/// An account's detalization holds every number's items in time order, each naming its number.
#[test]
fn an_account_detalization_merges_its_numbers_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let (e, ctx) = part1(dir.path());
    let period = query::period(&ctx, Some("2026-11"), None, None).unwrap();
    let whole = query::account_detalization(&e.store, &ctx, "A1", period, &[]).unwrap();
    assert_eq!(whole.account.as_deref(), Some("A1"));
    let mut expected = Vec::new();
    for m in ["79001000001", "79001000002"] {
        let one = query::detalization(&e.store, &ctx, m, period, &[], Scope::Everything).unwrap();
        assert!(one.rows.iter().all(|r| r.msisdn == m));
        expected.extend(one.rows);
    }
    expected.sort_by(|a, b| a.time.cmp(&b.time));
    assert_eq!(whole.rows, expected);
    let numbers: std::collections::BTreeSet<_> =
        whole.rows.iter().map(|r| r.msisdn.as_str()).collect();
    assert_eq!(numbers.len(), 2, "{:?}", whole.rows);
    let total: rust_decimal::Decimal = whole
        .rows
        .iter()
        .map(|r| r.money.parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(whole.total_money, total.to_string());
    // Unknown accounts and services are refused, as for a number.
    assert!(query::account_detalization(&e.store, &ctx, "nobody", period, &[]).is_err());
    assert!(
        query::account_detalization(&e.store, &ctx, "A1", period, &["telepathy".into()]).is_err()
    );
}
