//! The rating core driven by arbitrary sequences of usage, payments and commands on the example
//! catalog. After every event: the balance moved by exactly the decision's money, no bucket is
//! over-drawn, a repeated id changes nothing, and the decision is the same when computed twice.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;

const CATALOG: &str = include_str!("../../catalogs/example.toml");
const NUMBERS: [u64; 4] = [79000000001, 79000000002, 79000000003, 79000000004];
const OTHERS: [&str; 6] = [
    "79001112233",
    "74951234567",
    "441234567890",
    "375291234567",
    "86123",
    "999",
];
const PLANS: [&str; 3] = ["SMART", "DAILY", "BASIC"];
const OPTIONS: [&str; 2] = ["MESSENGERS", "TRAVEL"];

#[derive(Arbitrary, Debug)]
enum Op {
    Usage {
        number: u8,
        service: u8,
        other: u8,
        quantity: u32,
        incoming: bool,
        group: bool,
    },
    Pay {
        account: u8,
        kopecks: u32,
    },
    Tick {
        account: u8,
    },
    Option {
        number: u8,
        option: u8,
        on: bool,
    },
    Limit {
        account: u8,
        rubles: u16,
    },
    Repeat {
        back: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Script {
    plans: [u8; 4],
    ops: Vec<(Op, u16)>,
}

fn ts(t: i64) -> Timestamp {
    Timestamp(t)
}

static CAT: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();

fuzz_target!(|s: Script| {
    let cat = CAT.get_or_init(|| Catalog::from_toml("example.toml", CATALOG).unwrap());
    let mut state = State::new();
    let mut inputs: Vec<Input> = Vec::new();
    let mut now = 1_793_491_200; // 2026-11-01T00:00:00Z
    for a in 0..2usize {
        inputs.push(Input::OpenAccount(OpenAccount {
            id: format!("open-{a}").into(),
            account: format!("A{a}").into(),
            time: ts(now),
            credit_limit: Decimal::new(5_000, 2),
            numbers: (0..2)
                .map(|k| NewNumber {
                    msisdn: Msisdn(NUMBERS[a * 2 + k]),
                    plan: PLANS[s.plans[a * 2 + k] as usize % 3].into(),
                    options: vec![],
                })
                .collect(),
        }));
    }
    for (i, (op, gap)) in s.ops.iter().take(300).enumerate() {
        now += *gap as i64 * 37;
        let id: EventId = format!("e{i}").into();
        let input = match op {
            Op::Usage {
                number,
                service,
                other,
                quantity,
                incoming,
                group,
            } => {
                let service = Service::ALL[*service as usize % 4];
                let q = *quantity as u64;
                let (duration, bytes, count) = match service {
                    Service::Voice => (Some(q % 20_000), None, None),
                    Service::Data => (None, Some(q), None),
                    _ => (None, None, Some(q % 4)),
                };
                Input::Usage(Usage {
                    id,
                    msisdn: Msisdn(NUMBERS[*number as usize % 4]),
                    service,
                    direction: if *incoming {
                        Direction::In
                    } else {
                        Direction::Out
                    },
                    other: (service != Service::Data).then(|| OTHERS[*other as usize % 6].into()),
                    start: ts(now),
                    duration,
                    bytes,
                    count,
                    location: Zone::Home,
                    rating_group: group.then_some(10),
                })
            }
            Op::Pay { account, kopecks } => Input::Payment(Payment {
                id,
                account: Some(format!("A{}", account % 2).into()),
                msisdn: None,
                amount: Decimal::new(*kopecks as i64 % 10_000_000, 2),
                time: ts(now),
            }),
            Op::Tick { account } => Input::Tick(Tick {
                id,
                account: format!("A{}", account % 2).into(),
                time: ts(now),
            }),
            Op::Option { number, option, on } => {
                let c = OptionChange {
                    id,
                    msisdn: Msisdn(NUMBERS[*number as usize % 4]),
                    option: OPTIONS[*option as usize % 2].into(),
                    time: ts(now),
                };
                if *on {
                    Input::ActivateOption(c)
                } else {
                    Input::DeactivateOption(c)
                }
            }
            Op::Limit { account, rubles } => Input::SetCreditLimit(SetCreditLimit {
                id,
                account: format!("A{}", account % 2).into(),
                credit_limit: Decimal::from(*rubles),
                time: ts(now),
            }),
            Op::Repeat { back } => {
                let k = inputs.len().saturating_sub(1 + *back as usize);
                inputs[k].clone()
            }
        };
        inputs.push(input);
    }
    for input in &inputs {
        let before = state.clone();
        let d = rate(&state, cat, input);
        assert_eq!(d, rate(&state, cat, input), "rating is deterministic");
        apply(&mut state, &d).expect("a decision applies to the state it was computed from");
        let (out, inn) = d.money_flow();
        let moved: Decimal = state.accounts().map(|a| a.balance).sum::<Decimal>()
            - before.accounts().map(|a| a.balance).sum::<Decimal>();
        assert_eq!(
            moved,
            inn - out,
            "money moves only as the decision says ({})",
            d.event
        );
        if matches!(d.outcome, Outcome::Duplicate) {
            assert!(before.seen(input.id()));
            assert!(
                before.accounts().eq(state.accounts()),
                "a repeated id changes nothing"
            );
        }
        for a in state.accounts() {
            for n in &a.numbers {
                for b in &n.buckets {
                    assert!(b.remaining <= b.total, "bucket {} over-drawn", b.id);
                }
            }
        }
    }
});
