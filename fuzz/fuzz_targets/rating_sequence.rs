//! The rating core driven by arbitrary sequences of usage, payments and commands on the example
//! catalog, with the account lifecycle (changes of plan, suspension, transfers, months of
//! inactivity) and online sessions (grants, updates, ends, direct debits, expiries, repeats). After every event: the balance moved by exactly the decision's money, no bucket
//! is over-drawn, a repeated id changes nothing, and the decision is the same when computed twice.
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
    Plan {
        number: u8,
        plan: u8,
    },
    Status {
        number: u8,
        kind: u8,
    },
    Transfer {
        from: u8,
        to: u8,
        rubles: u16,
    },
    Sleep {
        days: u8,
    },
    Session {
        number: u8,
        session: u8,
        step: u8,
        service: u8,
        requested: u16,
        used: u16,
        /// Send the session's last request number again.
        again: bool,
    },
    /// The CDR of an online session from the offline path: reconciled, never charged.
    SessionCdr {
        number: u8,
        session: u8,
        seconds: u16,
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
    let mut requests = [0u32; 4];
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
            Op::Plan { number, plan } => Input::ChangePlan(ChangePlan {
                id,
                msisdn: Msisdn(NUMBERS[*number as usize % 4]),
                plan: PLANS[*plan as usize % 3].into(),
                time: ts(now),
            }),
            Op::Status { number, kind } => {
                let c = NumberCommand {
                    id,
                    msisdn: Msisdn(NUMBERS[*number as usize % 4]),
                    time: ts(now),
                };
                match kind % 3 {
                    0 => Input::Suspend(c),
                    1 => Input::ReportLost(c),
                    _ => Input::Resume(c),
                }
            }
            Op::Transfer { from, to, rubles } => Input::Transfer(Transfer {
                id,
                from: Msisdn(NUMBERS[*from as usize % 4]),
                // One in five to a number nobody has: the credit bounces and is refunded.
                to: Msisdn(*NUMBERS.get(*to as usize % 5).unwrap_or(&79009999999)),
                amount: Decimal::from(*rubles),
                time: ts(now),
            }),
            Op::Session {
                number,
                session,
                step,
                service,
                requested,
                used,
                again,
            } => {
                let k = *session as usize % 4;
                if !*again {
                    requests[k] += 1;
                }
                let step = [
                    SessionStep::Initial,
                    SessionStep::Update,
                    SessionStep::Terminate,
                    SessionStep::Event,
                    SessionStep::Expire,
                ][*step as usize % 5];
                let service = [Service::Voice, Service::Data, Service::Sms][*service as usize % 3];
                let session = format!("s{k}");
                Input::Session(SessionRequest {
                    id: SessionRequest::id_for(&session, requests[k], step, ts(now)),
                    session: session.into(),
                    request: requests[k],
                    step,
                    msisdn: Msisdn(NUMBERS[*number as usize % 4]),
                    service,
                    direction: Direction::Out,
                    other: (service != Service::Data).then(|| OTHERS[k].into()),
                    location: Zone::Home,
                    rating_group: None,
                    time: ts(now),
                    requested: Some(u64::from(*requested)),
                    used: u64::from(*used),
                })
            }
            Op::SessionCdr {
                number,
                session,
                seconds,
            } => Input::SessionCdr(SessionCdr {
                session: format!("s{}", *session as usize % 4).into(),
                usage: Usage {
                    id,
                    msisdn: Msisdn(NUMBERS[*number as usize % 4]),
                    service: Service::Voice,
                    direction: Direction::Out,
                    other: Some(OTHERS[0].into()),
                    start: ts(now),
                    duration: Some(u64::from(*seconds)),
                    bytes: None,
                    count: None,
                    location: Zone::Home,
                    rating_group: None,
                },
            }),
            Op::Sleep { days } => {
                now += *days as i64 * 86_400;
                Input::Tick(Tick {
                    id,
                    account: "A0".into(),
                    time: ts(now),
                })
            }
        };
        inputs.push(input);
    }
    // Each input, then what its decisions oblige (a transfer's credit, a bounce's refund), the
    // way the engine delivers them.
    let mut queue: std::collections::VecDeque<Input> = inputs.into();
    while let Some(input) = queue.pop_front() {
        let input = &input;
        let before = state.clone();
        let d = rate(&state, cat, input);
        assert_eq!(d, rate(&state, cat, input), "rating is deterministic");
        apply(&mut state, &d).expect("a decision applies to the state it was computed from");
        if let Some(next) = rating::transfer::derived(&d) {
            queue.push_front(next);
        }
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
            assert!(before
                .accounts()
                .any(|a| before.seen(&a.id, input) == rating::recent::Seen::Repeat));
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
