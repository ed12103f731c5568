//! Online charging in the rating core: a session's grants never spend money the number may not
//! spend, its charge at the end is the charge of the CDR of the same usage, its requests take
//! effect once, and an abandoned session ends by event time as the catalog says.

mod common;
use common::*;
use proptest::prelude::*;
use rating::event::*;
use rating::session::Session;
use rating::*;
use rust_decimal::Decimal;

const NUMBER: &str = "79001000001";
const OTHER: &str = "79001000002";

/// An account of one number on `plan`, paid `money`, on the example catalog.
fn account(cat: &Catalog, plan: &str, money: &str) -> State {
    let mut s = State::new();
    let opened = run(
        &mut s,
        cat,
        &[
            open("o", "A", "2026-11-02T09:00:00Z", &[(NUMBER, plan, &[])]),
            pay("p", "A", "2026-11-02T09:00:01Z", money),
        ],
    );
    for d in &opened {
        assert!(!matches!(d.outcome, Outcome::Rejected(_)), "{d:?}");
    }
    s
}

fn request(
    session: &str,
    number: u32,
    step: SessionStep,
    service: Service,
    time: &str,
    requested: Option<u64>,
    used: u64,
) -> Input {
    Input::Session(SessionRequest {
        id: SessionRequest::id_for(session, number, step, t(time)),
        session: session.into(),
        request: number,
        step,
        msisdn: msisdn(NUMBER),
        service,
        direction: Direction::Out,
        other: (service != Service::Data).then(|| OTHER.into()),
        location: Zone::Home,
        rating_group: None,
        time: t(time),
        requested,
        used,
    })
}

fn voice(session: &str, number: u32, step: SessionStep, time: &str, used: u64) -> Input {
    request(session, number, step, Service::Voice, time, Some(60), used)
}

fn reserved(d: &Decision) -> &Session {
    match &d.outcome {
        Outcome::Reserved(s) => s,
        o => panic!("expected a grant for {}, got {o:?}", d.event),
    }
}

fn ended(d: &Decision) -> (Option<&Charge>, bool) {
    match &d.outcome {
        Outcome::SessionEnded {
            charge, expired, ..
        } => (charge.as_ref(), *expired),
        o => panic!("expected a session's end for {}, got {o:?}", d.event),
    }
}

fn code(d: &Decision) -> &'static str {
    match &d.outcome {
        Outcome::Rejected(r) => r.code(),
        o => o.name(),
    }
}

#[test]
fn a_call_that_runs_out_of_money_gets_its_last_units_then_nothing() {
    // BASIC: 1.50 a minute for the first whole minute, then per second. 4.00 pays 160 s.
    let cat = example();
    let mut s = account(&cat, "BASIC", "4.00");
    let first = step(
        &mut s,
        &cat,
        &voice("call", 0, SessionStep::Initial, "2026-11-03T22:00:00Z", 0),
    );
    assert_eq!(
        (reserved(&first).granted, reserved(&first).final_units),
        (60, false)
    );
    assert_eq!(reserved(&first).hold.money, m("1.50"));
    let second = step(
        &mut s,
        &cat,
        &voice("call", 1, SessionStep::Update, "2026-11-03T22:01:00Z", 60),
    );
    assert_eq!(reserved(&second).granted, 60);
    let third = step(
        &mut s,
        &cat,
        &voice("call", 2, SessionStep::Update, "2026-11-03T22:02:00Z", 60),
    );
    // 120 s used cost 3.00; 1.00 more pays 40 s: the last grant.
    assert_eq!(
        (reserved(&third).granted, reserved(&third).final_units),
        (40, true)
    );
    assert_eq!(reserved(&third).hold.money, m("4.00"));
    let fourth = step(
        &mut s,
        &cat,
        &voice("call", 3, SessionStep::Update, "2026-11-03T22:02:40Z", 40),
    );
    assert_eq!(
        (reserved(&fourth).granted, reserved(&fourth).final_units),
        (0, true)
    );
    let end = step(
        &mut s,
        &cat,
        &voice("call", 4, SessionStep::Terminate, "2026-11-03T22:02:41Z", 0),
    );
    let (charge, expired) = ended(&end);
    assert!(!expired);
    assert_eq!(
        (charge.unwrap().quantity, charge.unwrap().money),
        (160, m("4.00"))
    );
    assert_eq!(balance(&s, "A"), Decimal::ZERO);
    assert!(s.account("A").unwrap().sessions.is_empty());
}

#[test]
fn nothing_is_granted_to_a_number_whose_money_is_gone_or_that_is_barred() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "1.00");
    let d = step(
        &mut s,
        &cat,
        &voice("a", 0, SessionStep::Initial, "2026-11-03T22:00:00Z", 0),
    );
    // The first minute is billed whole: 1.50 is more than the 1.00 there is.
    assert_eq!(code(&d), "credit_limit_reached");
    let lost = Input::ReportLost(NumberCommand {
        id: "lost".into(),
        msisdn: msisdn(NUMBER),
        time: t("2026-11-03T22:00:01Z"),
    });
    step(&mut s, &cat, &lost);
    let sms = request(
        "b",
        0,
        SessionStep::Event,
        Service::Sms,
        "2026-11-03T22:00:02Z",
        None,
        0,
    );
    assert_eq!(code(&step(&mut s, &cat, &sms)), "service_denied");
    let unknown = Input::Session(SessionRequest {
        msisdn: msisdn("79009999999"),
        ..session_of(&request(
            "c",
            0,
            SessionStep::Initial,
            Service::Data,
            "2026-11-03T22:00:03Z",
            None,
            0,
        ))
    });
    assert_eq!(code(&step(&mut s, &cat, &unknown)), "unknown_number");
    assert_eq!(balance(&s, "A"), m("1.00"));
}

fn max_usage_at(s: &State, cat: &Catalog, service: Service, time: &str) -> Result<u64, Rejection> {
    let asked = session_of(&request(
        "",
        0,
        SessionStep::Initial,
        service,
        time,
        None,
        0,
    ));
    rating::online::max_usage(s, cat, &asked)
}

#[test]
fn max_usage_is_what_a_session_begun_now_would_get_less_what_others_hold() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "4.00");
    let at = "2026-11-03T22:00:00Z";
    // 4.00 pays 160 s (1.50 the first minute, then per second).
    assert_eq!(max_usage_at(&s, &cat, Service::Voice, at), Ok(160));
    let first = step(&mut s, &cat, &voice("call", 0, SessionStep::Initial, at, 0));
    assert_eq!(reserved(&first).hold.money, m("1.50"));
    // The open call holds 1.50: 2.50 is left, 100 s of a new call.
    let left = max_usage_at(&s, &cat, Service::Voice, "2026-11-03T22:00:01Z");
    assert_eq!(left, Ok(100));
    // A read: nothing was decided, so asking again gets the same, and the state is as it was.
    let before = s.account("A").unwrap().clone();
    assert_eq!(
        max_usage_at(&s, &cat, Service::Voice, "2026-11-03T22:00:01Z"),
        left
    );
    assert_eq!(s.account("A").unwrap(), &before);
    let unknown = SessionRequest {
        msisdn: msisdn("79009999999"),
        ..session_of(&voice("", 0, SessionStep::Initial, at, 0))
    };
    assert!(matches!(
        rating::online::max_usage(&s, &cat, &unknown),
        Err(Rejection::UnknownNumber(_))
    ));
}

#[test]
fn a_price_enquiry_is_what_the_units_would_cost_now_and_charges_nothing() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "4.00");
    let at = "2026-11-03T22:00:00Z";
    let asked = |units| {
        let input = request(
            "",
            0,
            SessionStep::Event,
            Service::Voice,
            at,
            Some(units),
            0,
        );
        session_of(&input)
    };
    // 1.50 for the first minute, then 0.025 a second.
    assert_eq!(rating::online::price(&s, &cat, &asked(60)), Ok(m("1.50")));
    assert_eq!(rating::online::price(&s, &cat, &asked(100)), Ok(m("2.50")));
    // More than the money pays is still priced: a price is no grant.
    assert_eq!(rating::online::price(&s, &cat, &asked(300)), Ok(m("7.50")));
    let before = s.account("A").unwrap().clone();
    step(&mut s, &cat, &voice("call", 0, SessionStep::Initial, at, 0));
    assert_eq!(rating::online::price(&s, &cat, &asked(60)), Ok(m("1.50")));
    assert_eq!(before.balance, s.account("A").unwrap().balance);
}

fn session_of(input: &Input) -> SessionRequest {
    match input {
        Input::Session(r) => r.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn two_sessions_never_hold_more_than_the_money_between_them() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "2.00");
    let a = step(
        &mut s,
        &cat,
        &voice("a", 0, SessionStep::Initial, "2026-11-03T22:00:00Z", 0),
    );
    assert_eq!(reserved(&a).hold.money, m("1.50"));
    // 0.50 is left beside the first call's hold: not a whole first minute.
    let b = step(
        &mut s,
        &cat,
        &voice("b", 0, SessionStep::Initial, "2026-11-03T22:00:01Z", 0),
    );
    assert_eq!(code(&b), "credit_limit_reached");
    // Data at 1.00 a megabyte (DATA_PER_KB): the 0.50 left buys half a megabyte's kilobytes.
    let data = request(
        "d",
        0,
        SessionStep::Initial,
        Service::Data,
        "2026-11-03T22:00:02Z",
        Some(1 << 20),
        0,
    );
    let d = step(&mut s, &cat, &data);
    let held: Decimal = s
        .account("A")
        .unwrap()
        .sessions
        .iter()
        .map(|x| x.hold.money)
        .sum();
    assert!(held <= m("2.00"), "{held}");
    assert!(reserved(&d).final_units && reserved(&d).granted < 1 << 20);
    assert!(reserved(&d).granted > 0);
}

#[test]
fn a_repeated_request_takes_no_second_effect_and_one_out_of_order_is_refused() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "10.00");
    let first = voice("call", 0, SessionStep::Initial, "2026-11-03T22:00:00Z", 0);
    step(&mut s, &cat, &first);
    let update = voice("call", 1, SessionStep::Update, "2026-11-03T22:01:00Z", 60);
    step(&mut s, &cat, &update);
    let before = s.account("A").unwrap().clone();
    assert_eq!(code(&step(&mut s, &cat, &update)), "duplicate");
    assert_eq!(code(&step(&mut s, &cat, &first)), "duplicate");
    let stale = Input::Session(SessionRequest {
        id: SessionRequest::id_of("call", 0),
        request: 0,
        ..session_of(&voice(
            "call",
            1,
            SessionStep::Update,
            "2026-11-03T22:01:01Z",
            60,
        ))
    });
    assert_eq!(code(&step(&mut s, &cat, &stale)), "duplicate");
    let behind = voice("call", 1, SessionStep::Terminate, "2026-11-03T22:01:02Z", 5);
    let behind = Input::Session(SessionRequest {
        id: SessionRequest::id_of("call", 1),
        ..session_of(&behind)
    });
    assert_eq!(code(&step(&mut s, &cat, &behind)), "duplicate");
    assert_eq!(s.account("A").unwrap(), &before);
    let end = step(
        &mut s,
        &cat,
        &voice(
            "call",
            2,
            SessionStep::Terminate,
            "2026-11-03T22:01:30Z",
            30,
        ),
    );
    assert_eq!(ended(&end).0.unwrap().quantity, 90);
    assert_eq!(
        code(&step(
            &mut s,
            &cat,
            &voice("call", 3, SessionStep::Update, "2026-11-03T22:02:00Z", 1)
        )),
        "unknown_session"
    );
}

#[test]
fn an_abandoned_session_ends_by_event_time_as_the_catalog_says() {
    for (abandoned, charged) in [("charge", 120), ("release", 60)] {
        let text = format!("{EXAMPLE}\n[online]\nabandoned = \"{abandoned}\"\nvalidity_seconds = 600\ngrace_seconds = 60\n");
        let cat = Catalog::from_toml("online.toml", &text).unwrap();
        let mut s = account(&cat, "BASIC", "10.00");
        step(
            &mut s,
            &cat,
            &voice("call", 0, SessionStep::Initial, "2026-11-03T22:00:00Z", 0),
        );
        step(
            &mut s,
            &cat,
            &voice("call", 1, SessionStep::Update, "2026-11-03T22:01:00Z", 60),
        );
        // The grant of 22:01 lapses at 22:11; with the grace, the session may end at 22:12.
        let early = request(
            "call",
            2,
            SessionStep::Expire,
            Service::Voice,
            "2026-11-03T22:11:59Z",
            None,
            0,
        );
        assert_eq!(code(&step(&mut s, &cat, &early)), "session_refused");
        let late = request(
            "call",
            3,
            SessionStep::Expire,
            Service::Voice,
            "2026-11-03T22:12:00Z",
            None,
            0,
        );
        let d = step(&mut s, &cat, &late);
        let (charge, expired) = ended(&d);
        assert!(expired);
        assert_eq!(charge.unwrap().quantity, charged, "{abandoned}");
        assert_eq!(d.time, t("2026-11-03T22:12:00Z"));
        assert_eq!(charge.unwrap().start, t("2026-11-03T22:00:00Z"));
    }
}

#[test]
fn packages_pay_first_and_a_session_holds_their_units_from_the_others() {
    let cat = example();
    let mut s = account(&cat, "SMART", "600.00");
    let minutes = left(&s, &cat, NUMBER, "SMART_MINUTES");
    assert!(minutes > 0);
    let a = request(
        "a",
        0,
        SessionStep::Initial,
        Service::Voice,
        "2026-11-03T10:00:00Z",
        Some(minutes),
        0,
    );
    let a = step(&mut s, &cat, &a);
    assert!(reserved(&a).hold.money.is_zero());
    let held: u64 = reserved(&a).hold.takes.iter().map(|t| t.units).sum();
    assert_eq!(held, minutes);
    // The second call finds the minutes held: it is paid in money.
    let b = step(
        &mut s,
        &cat,
        &voice("b", 0, SessionStep::Initial, "2026-11-03T10:00:05Z", 0),
    );
    assert!(reserved(&b).hold.takes.is_empty());
    assert!(reserved(&b).hold.money > Decimal::ZERO);
    let end = step(
        &mut s,
        &cat,
        &voice("b", 1, SessionStep::Terminate, "2026-11-03T10:01:00Z", 55),
    );
    assert!(ended(&end).0.unwrap().takes.is_empty());
    assert_eq!(left(&s, &cat, NUMBER, "SMART_MINUTES"), minutes);
}

#[test]
fn a_direct_debit_charges_as_its_cdr_or_is_refused() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "2.00");
    let mut cdr_state = s.clone();
    let sms = request(
        "sms-1",
        0,
        SessionStep::Event,
        Service::Sms,
        "2026-11-03T12:00:00Z",
        None,
        0,
    );
    let online = step(&mut s, &cat, &sms);
    let offline = step(
        &mut cdr_state,
        &cat,
        &usage(
            "sms-1",
            NUMBER,
            Service::Sms,
            Some(OTHER),
            "2026-11-03T12:00:00Z",
            1,
        ),
    );
    assert_eq!(charge(&online), charge(&offline));
    let mut spent = 1;
    while balance(&s, "A") > Decimal::ZERO {
        let sms = request(
            &format!("sms-{}", spent + 1),
            0,
            SessionStep::Event,
            Service::Sms,
            "2026-11-03T12:00:01Z",
            None,
            0,
        );
        step(&mut s, &cat, &sms);
        spent += 1;
        assert!(spent < 100);
    }
    let refused = request(
        "sms-last",
        0,
        SessionStep::Event,
        Service::Sms,
        "2026-11-03T12:00:02Z",
        None,
        0,
    );
    assert_eq!(code(&step(&mut s, &cat, &refused)), "credit_limit_reached");
    assert!(balance(&s, "A") >= Decimal::ZERO);
}

#[test]
fn an_account_record_keeps_its_open_sessions() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "10.00");
    step(
        &mut s,
        &cat,
        &voice("call", 0, SessionStep::Initial, "2026-11-03T22:00:00Z", 0),
    );
    let a = s.account("A").unwrap();
    let mut bytes = Vec::new();
    let recent = rating::recent::Recent::default();
    rating::record::encode_account(a, &recent, &mut bytes);
    let (back, _) = rating::record::decode_account("A", &bytes).unwrap();
    assert_eq!(back.sessions, a.sessions);
    assert_eq!(back.sessions.len(), 1);
    step(
        &mut s,
        &cat,
        &voice(
            "call",
            1,
            SessionStep::Terminate,
            "2026-11-03T22:01:00Z",
            60,
        ),
    );
    let a = s.account("A").unwrap();
    rating::record::encode_account(a, &recent, &mut bytes);
    let (back, _) = rating::record::decode_account("A", &bytes).unwrap();
    assert_eq!(back.ended_sessions.len(), 1);
    assert_eq!(back, *a);
}

/// The CDR of `session` from the offline path: `secs` of voice to OTHER.
fn session_cdr(id: &str, session: &str, start: &str, secs: u64) -> Input {
    let Input::Usage(usage) = call(id, NUMBER, OTHER, start, secs) else {
        unreachable!("a call is usage")
    };
    Input::SessionCdr(SessionCdr {
        session: session.into(),
        usage,
    })
}

fn reconciled(d: &Decision) -> (u64, u64, bool, Decimal) {
    match &d.outcome {
        Outcome::Reconciled {
            units,
            online_units,
            open,
            online_money,
            ..
        } => (*units, *online_units, *open, *online_money),
        other => panic!("expected a reconciliation, got {other:?}"),
    }
}

#[test]
fn the_cdr_of_an_online_session_is_reconciled_and_never_charged_again() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "10.00");
    let at = "2026-11-03T22:00:00Z";
    step(&mut s, &cat, &voice("call", 0, SessionStep::Initial, at, 0));
    // While the call is open, its partial CDR is reconciled against what it reported so far.
    let partial = step(&mut s, &cat, &session_cdr("cdr-0", "call", at, 50));
    assert_eq!(reconciled(&partial), (50, 0, true, Decimal::ZERO));
    let end = voice(
        "call",
        1,
        SessionStep::Terminate,
        "2026-11-03T22:01:30Z",
        90,
    );
    let end = step(&mut s, &cat, &end);
    assert_eq!(ended(&end).0.unwrap().money, m("2.25"));
    let after_end = balance(&s, "A");
    assert_eq!(after_end, m("7.75"));
    // The final CDR: 92 s where the network reported 90 online; reconciled, the 2 s reported.
    let cdr = step(&mut s, &cat, &session_cdr("cdr-1", "call", at, 92));
    assert_eq!(reconciled(&cdr), (92, 90, false, m("2.25")));
    // Sent again under another id: reconciled again, still not charged.
    let again = step(&mut s, &cat, &session_cdr("cdr-2", "call", at, 92));
    assert_eq!(reconciled(&again).1, 90);
    assert_eq!(balance(&s, "A"), after_end);
    // A session this account never had online: refused.
    let unknown = step(&mut s, &cat, &session_cdr("cdr-3", "other", at, 30));
    assert_eq!(code(&unknown), "unknown_session");
    assert_eq!(balance(&s, "A"), after_end);
}

#[test]
fn a_cdr_of_a_session_forgotten_is_refused_never_charged() {
    let cat = example();
    let mut s = account(&cat, "BASIC", "100.00");
    let ended_count = rating::session::MAX_ENDED_SESSIONS + 1;
    for n in 0..ended_count {
        let at = format!("2026-11-03T10:{n:02}:00Z");
        let id = format!("call-{n}");
        step(&mut s, &cat, &voice(&id, 0, SessionStep::Initial, &at, 0));
        step(
            &mut s,
            &cat,
            &voice(&id, 1, SessionStep::Terminate, &at, 10),
        );
    }
    let ended = &s.account("A").unwrap().ended_sessions;
    assert_eq!(ended.len(), rating::session::MAX_ENDED_SESSIONS);
    let before = balance(&s, "A");
    // The first is forgotten: its CDR is refused, not charged.
    let first = step(
        &mut s,
        &cat,
        &session_cdr("cdr-first", "call-0", "2026-11-03T10:00:00Z", 10),
    );
    assert_eq!(code(&first), "unknown_session");
    let last_id = format!("call-{}", ended_count - 1);
    let last = step(
        &mut s,
        &cat,
        &session_cdr("cdr-last", &last_id, "2026-11-03T10:16:00Z", 10),
    );
    assert_eq!(reconciled(&last).1, 10);
    // A week after, an ended session is forgotten as the next one ends.
    let later = "2026-11-11T10:00:00Z";
    step(
        &mut s,
        &cat,
        &voice("late", 0, SessionStep::Initial, later, 0),
    );
    step(
        &mut s,
        &cat,
        &voice("late", 1, SessionStep::Terminate, later, 10),
    );
    assert_eq!(s.account("A").unwrap().ended_sessions.len(), 1);
    assert!(balance(&s, "A") < before);
}

/// A session's steps: the units reported used by each update, then by the termination.
fn session_script() -> impl Strategy<Value = (Service, Vec<u64>, u64, &'static str)> {
    let service = prop_oneof![
        Just(Service::Voice),
        Just(Service::Data),
        Just(Service::Sms)
    ];
    let plan = prop_oneof![Just("BASIC"), Just("SMART"), Just("DAILY")];
    (service, plan).prop_flat_map(|(service, plan)| {
        let most = match service {
            Service::Voice => 900u64,
            Service::Data => 5 << 20,
            _ => 3,
        };
        (
            Just(service),
            proptest::collection::vec(0..most, 0..6),
            0..most,
            Just(plan),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A session's charge is the charge of the CDR of its usage, and its grants never hold
    /// more money than the account may spend.
    #[test]
    fn a_session_is_charged_as_the_cdr_of_its_usage((service, updates, last, plan) in session_script(), money in 1u32..300) {
        let cat = example();
        let start = "2026-11-03T21:59:30Z";
        let mut s = account(&cat, plan, &format!("{money}.00"));
        let mut offline = s.clone();
        let mut decisions = vec![step(&mut s, &cat, &request("x", 0, SessionStep::Initial, service, start, None, 0))];
        if let Outcome::Rejected(_) = decisions[0].outcome {
            return Ok(());
        }
        let mut time = t(start);
        for (i, used) in updates.iter().enumerate() {
            time = Timestamp(time.0 + 30);
            let update = Input::Session(SessionRequest {
                time,
                ..session_of(&request("x", i as u32 + 1, SessionStep::Update, service, start, None, *used))
            });
            let d = step(&mut s, &cat, &update);
            let acct = s.account("A").unwrap();
            let held: Decimal = acct.sessions.iter().map(|x| x.hold.money).sum();
            let grant = reserved(&d);
            prop_assert!(grant.granted == 0 || grant.hold.money.is_zero() || held <= acct.balance + acct.credit_limit);
            decisions.push(d);
        }
        let end = Input::Session(SessionRequest {
            time: Timestamp(time.0 + 30),
            ..session_of(&request("x", updates.len() as u32 + 1, SessionStep::Terminate, service, start, None, last))
        });
        let ended_decision = step(&mut s, &cat, &end);
        let total: u64 = updates.iter().sum::<u64>() + last;
        let (session_charge, _) = ended(&ended_decision);
        let cdr = usage("cdr", NUMBER, service, (service != Service::Data).then_some(OTHER), start, total);
        let cdr = step(&mut offline, &cat, &cdr);
        match session_charge {
            // A CDR of nothing is malformed: there is nothing to compare.
            None => prop_assert_eq!(total, 0),
            Some(session_charge) => {
                prop_assert_eq!(session_charge, charge(&cdr));
                prop_assert_eq!(balance(&s, "A"), balance(&offline, "A"));
            }
        }
        decisions.push(ended_decision);
        // The decisions alone rebuild the state: replay.
        let mut replayed = account(&cat, plan, &format!("{money}.00"));
        for d in &decisions {
            apply(&mut replayed, d).unwrap();
        }
        prop_assert_eq!(replayed.account("A"), s.account("A"));
    }
}
