//! Helpers shared by the rating specifications.
#![allow(dead_code)]

use rating::event::*;
use rating::*;
use rust_decimal::Decimal;

pub const EXAMPLE: &str = include_str!("../../../catalogs/example.toml");

/// The example catalog as shipped: SMART, DAILY and MESSENGERS pre-paid
/// (`when_unpaid = "limit"`).
pub fn example() -> Catalog {
    Catalog::from_toml("catalogs/example.toml", EXAMPLE).expect("the example catalog is valid")
}

/// The example catalog post-paid: every fee taken at any balance (`when_unpaid` left at its
/// default, `charge`).
pub fn postpaid() -> Catalog {
    let text = EXAMPLE.replace("when_unpaid = \"limit\"\n", "");
    assert_ne!(text, EXAMPLE, "the example catalog has pre-paid offers");
    Catalog::from_toml("postpaid.toml", &text).expect("the post-paid catalog is valid")
}

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn m(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn msisdn(s: &str) -> Msisdn {
    Msisdn::parse(s).unwrap()
}

pub fn open(id: &str, account: &str, time: &str, numbers: &[(&str, &str, &[&str])]) -> Input {
    Input::OpenAccount(OpenAccount {
        id: id.into(),
        account: account.into(),
        time: t(time),
        credit_limit: Decimal::ZERO,
        numbers: numbers
            .iter()
            .map(|(n, p, o)| NewNumber {
                msisdn: msisdn(n),
                plan: (*p).into(),
                options: o.iter().map(|x| (*x).into()).collect(),
            })
            .collect(),
    })
}

pub fn pay(id: &str, account: &str, time: &str, amount: &str) -> Input {
    Input::Payment(Payment {
        id: id.into(),
        account: Some(account.into()),
        msisdn: None,
        amount: m(amount),
        time: t(time),
    })
}

pub fn usage(
    id: &str,
    number: &str,
    service: Service,
    other: Option<&str>,
    start: &str,
    qty: u64,
) -> Input {
    let (duration, bytes, count) = match service {
        Service::Voice => (Some(qty), None, None),
        Service::Data => (None, Some(qty), None),
        _ => (None, None, Some(qty)),
    };
    Input::Usage(Usage {
        id: id.into(),
        msisdn: msisdn(number),
        service,
        direction: Direction::Out,
        other: other.map(Into::into),
        start: t(start),
        duration,
        bytes,
        count,
        location: Zone::Home,
        rating_group: None,
    })
}

pub fn call(id: &str, number: &str, other: &str, start: &str, secs: u64) -> Input {
    usage(id, number, Service::Voice, Some(other), start, secs)
}

pub fn charge(d: &Decision) -> &Charge {
    match &d.outcome {
        Outcome::Charged(c) => c,
        o => panic!("expected a charge for {}, got {o:?}", d.event),
    }
}

pub fn balance(state: &State, account: &str) -> Decimal {
    state.account(account).unwrap().balance
}

/// Units left in the buckets of `number` from package `package`.
pub fn left(state: &State, cat: &Catalog, number: &str, package: &str) -> u64 {
    let a = state.account_of_number(msisdn(number)).unwrap();
    a.number(msisdn(number))
        .unwrap()
        .buckets
        .iter()
        .filter(|b| cat.packages[b.package as usize].id == package)
        .map(|b| b.remaining)
        .sum()
}

/// Runs events in order and returns their decisions.
pub fn run(state: &mut State, cat: &Catalog, events: &[Input]) -> Vec<Decision> {
    events.iter().map(|e| step(state, cat, e)).collect()
}
