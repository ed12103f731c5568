//! The one writer of online requests: a thread that owns the engine, takes every request that
//! arrived while the last write was syncing, rates them as one batch through the engine's
//! pipeline, commits the batch with one synced write, and only then answers each (group
//! commit: the window is the previous write's sync, and no request waits for a timer).

use super::credit_control::Verdict;
use super::offline::{write, Membership, Offline};
use super::route::{route, Elsewhere, Route};
use crate::directory::Directory;
use crate::operations::metrics::{ONLINE_EXPIRED, ONLINE_GROUP};
use crate::pipeline::{Appended, Engine, EngineError};
use crate::source::Line;
use crate::topics::ONLINE_TOPIC;
use compact_str::CompactString;
use rating::charge_reference::ChargeReference;
use rating::event::{SessionRequest, SessionStep};
use rating::session::Session;
use rating::{Decision, Input, Msisdn, Outcome, Rejection, Timestamp};
use std::collections::HashMap;
use std::sync::mpsc;

/// The requests of one credit-control request (session requests, or a refund), and where their
/// verdicts go.
pub struct Job {
    pub requests: Vec<Input>,
    pub reply: tokio::sync::oneshot::Sender<Vec<Verdict>>,
}

/// What the decider is handed: requests to decide (answered once durable), or a question
/// answered from the committed state at once, and not logged.
pub enum Work {
    Decide(Job),
    Ask {
        asked: SessionRequest,
        question: Question,
        reply: tokio::sync::oneshot::Sender<Result<Answer, Rejection>>,
    },
}

/// A question about a number, asked as the first request of a session would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// The units it could be granted now (up to those asked).
    MaxUsage,
    /// What the units asked would cost now.
    Price,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Units(u64),
    Money(rust_decimal::Decimal),
    /// Not answered here: the account is another instance's.
    Elsewhere(Elsewhere),
}

/// The answer to `question` about `asked`, from the state as committed.
fn ask(
    engine: &mut Engine,
    directory: Option<&Directory>,
    asked: &SessionRequest,
    question: Question,
) -> Result<Answer, Rejection> {
    if let Err(e) = engine.hold_numbers(&[asked.msisdn]) {
        return Err(Rejection::Malformed(format!("reading the account: {e}")));
    }
    match route(engine, directory, &Input::Session(asked.clone())) {
        Route::Here => {}
        Route::Elsewhere(elsewhere) => return Ok(Answer::Elsewhere(elsewhere)),
        Route::Unknown(msisdn) => return Err(Rejection::UnknownNumber(msisdn)),
    }
    match question {
        Question::MaxUsage => {
            rating::online::max_usage(&engine.state, &engine.cat, asked).map(Answer::Units)
        }
        Question::Price => {
            rating::online::price(&engine.state, &engine.cat, asked).map(Answer::Money)
        }
    }
}

/// The answer to `question` about `asked`, or `None` when the server is stopping.
pub async fn answered(
    jobs: &mpsc::SyncSender<Work>,
    asked: SessionRequest,
    question: Question,
) -> Option<Result<Answer, Rejection>> {
    let work = |reply| Work::Ask {
        asked,
        question,
        reply,
    };
    replied(jobs, work).await
}

/// The decider's reply to the work `make` makes with a reply's sender, or `None` when the
/// server is stopping.
async fn replied<T>(
    jobs: &mpsc::SyncSender<Work>,
    make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Work,
) -> Option<T> {
    let (reply, replied) = tokio::sync::oneshot::channel();
    if !hand_over(jobs, make(reply)).await {
        return None;
    }
    replied.await.ok()
}

/// Hands `work` to the decider. Its queue is bounded: when it is full, this waits on a
/// blocking thread rather than hold up the connection's other requests. False when the decider
/// is gone (the server is stopping).
pub async fn hand_over(jobs: &mpsc::SyncSender<Work>, work: Work) -> bool {
    match jobs.try_send(work) {
        Ok(()) => true,
        Err(mpsc::TrySendError::Full(work)) => {
            let jobs = jobs.clone();
            let blocking = tokio::task::spawn_blocking(move || jobs.send(work).is_ok());
            blocking.await.unwrap_or(false)
        }
        Err(mpsc::TrySendError::Disconnected(_)) => false,
    }
}

/// The verdicts on `requests` once durable, or `None` when the server is stopping.
pub async fn decided(
    jobs: &mpsc::SyncSender<Work>,
    requests: Vec<SessionRequest>,
) -> Option<Vec<Verdict>> {
    let requests = requests.into_iter().map(Input::Session).collect();
    decided_inputs(jobs, requests).await
}

/// The verdict on a refund (REFUND_ACCOUNT) once durable, or `None` when the server is
/// stopping.
pub async fn refunded(jobs: &mpsc::SyncSender<Work>, refund: Input) -> Option<Verdict> {
    decided_inputs(jobs, vec![refund]).await?.into_iter().next()
}

async fn decided_inputs(
    jobs: &mpsc::SyncSender<Work>,
    requests: Vec<Input>,
) -> Option<Vec<Verdict>> {
    replied(jobs, |reply| Work::Decide(Job { requests, reply })).await
}

/// The most requests one write commits.
pub const MAX_GROUP: usize = 4_096;

/// Decides jobs until every sender is gone. A failed write ends it with its error, after
/// answering the batch's jobs that nothing was decided: the state in memory is then ahead of the
/// store, and a restart resumes from what was committed. Between jobs, and at least every
/// second, the sessions nobody reported on past their validity and grace are ended as the
/// catalog says (`SessionStep::Expire`, at the server's clock); and between groups, the
/// offline source's next batch is rated, if there is one.
pub fn decide(
    engine: &mut Engine,
    jobs: &mpsc::Receiver<Work>,
    mut offline: Option<Offline>,
) -> Result<(), EngineError> {
    engine.keep_appended();
    if let Some(membership) = offline.as_mut().and_then(Offline::membership) {
        // Nothing is this instance's until the group gives it partitions.
        membership.settle(engine)?;
    }
    let mut expiries = Expiries::of(engine)?;
    let mut lines = Lines::default();
    loop {
        let patience = offline
            .as_ref()
            .map_or(std::time::Duration::from_secs(1), Offline::patience);
        let first = match jobs.recv_timeout(patience) {
            Ok(work) => Some(work),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let directory = offline.as_ref().and_then(Offline::directory);
        let group = gather(engine, directory, jobs, first);
        let expired = expiries.due(engine, super::clock::now(), MAX_GROUP);
        if !group.is_empty() || !expired.is_empty() {
            let membership = offline.as_mut().and_then(Offline::membership);
            decide_group(engine, membership, &mut lines, group, expired)?;
            expiries.note(engine);
        }
        if let Some(offline) = &mut offline {
            if offline.rate_next(engine)? {
                // Partitions were restored into the store: their open sessions expire here now.
                expiries = Expiries::of(engine)?;
            }
        }
    }
}

/// Rates a group of jobs and the expiries due as one batch, writes it, and answers each job
/// once it is durable. A failed write answers every job that nothing was decided, and ends the
/// decider with its error.
fn decide_group(
    engine: &mut Engine,
    membership: Option<&mut Membership>,
    lines: &mut Lines,
    group: Vec<Job>,
    expired: Vec<SessionRequest>,
) -> Result<(), EngineError> {
    let requests: usize = group.iter().map(|job| job.requests.len()).sum();
    metrics::histogram!(ONLINE_GROUP).record((requests + expired.len()) as f64);
    metrics::counter!(ONLINE_EXPIRED).increment(expired.len() as u64);
    let expired: Vec<Input> = expired.into_iter().map(Input::Session).collect();
    let made = group.iter().flat_map(|job| &job.requests).chain(&expired);
    let (batch, parsed) = lines.of(made);
    let written = engine
        .prepare_parsed(&batch, parsed)
        .and_then(|commit| write(engine, membership, commit));
    if let Err(e) = written {
        for job in group {
            let failed = vec![Verdict::Failed(e.to_string()); job.requests.len()];
            let _ = job.reply.send(failed);
        }
        return Err(e);
    }
    answer(engine, group);
    Ok(())
}

/// The jobs that came with `first`, up to [`MAX_GROUP`] requests; questions are answered on
/// the way, from the state as committed, and so are the jobs for accounts another instance
/// owns.
fn gather(
    engine: &mut Engine,
    directory: Option<&Directory>,
    jobs: &mpsc::Receiver<Work>,
    first: Option<Work>,
) -> Vec<Job> {
    let mut group: Vec<Job> = Vec::new();
    let mut requests = 0;
    let mut next = first;
    while let Some(work) = next.take() {
        match work {
            Work::Decide(job) => {
                let route = job.requests.first().map(|r| route(engine, directory, r));
                match route.and_then(not_here) {
                    None => {
                        requests += job.requests.len();
                        group.push(job);
                    }
                    Some(verdict) => {
                        let _ = job.reply.send(vec![verdict; job.requests.len()]);
                    }
                }
            }
            Work::Ask {
                asked,
                question,
                reply,
            } => {
                let _ = reply.send(ask(engine, directory, &asked, question));
            }
        }
        if requests < MAX_GROUP {
            next = jobs.try_recv().ok();
        }
    }
    group
}

/// The verdict on a request not decided here; none if it is decided here.
fn not_here(route: Route) -> Option<Verdict> {
    match route {
        Route::Here => None,
        Route::Elsewhere(elsewhere) => Some(Verdict::Elsewhere(elsewhere)),
        Route::Unknown(msisdn) => Some(Verdict::Refused(Rejection::UnknownNumber(msisdn))),
    }
}

/// The pipeline's lines of online requests: numbered in the order the decider made them.
#[derive(Default)]
struct Lines {
    position: u64,
}

impl Lines {
    fn of<'a>(
        &mut self,
        requests: impl Iterator<Item = &'a Input>,
    ) -> (Vec<Line>, Vec<Result<Input, String>>) {
        let topic: std::sync::Arc<str> = ONLINE_TOPIC.into();
        let (mut lines, mut parsed) = (Vec::new(), Vec::new());
        for input in requests {
            self.position += 1;
            let input = input.clone();
            lines.push(Line {
                topic: Some(topic.clone()),
                partition: 0,
                position: self.position,
                at: self.position,
                bytes: rating::codec::to_json(&input).into_bytes(),
                oversized: false,
                far_ahead: false,
                file: None,
            });
            parsed.push(Ok(input));
        }
        (lines, parsed)
    }
}

/// When each open session may be ended for want of reports: (due, number, session, its last
/// request number). An entry whose session has moved on since is stale and skipped.
struct Expiries(std::collections::BTreeSet<(Timestamp, Msisdn, CompactString, u32)>);

impl Expiries {
    fn of(engine: &Engine) -> Result<Expiries, EngineError> {
        let mut expiries = Expiries(std::collections::BTreeSet::new());
        for session in engine.open_sessions()? {
            expiries.add(engine, &session);
        }
        Ok(expiries)
    }

    fn add(&mut self, engine: &Engine, session: &Session) {
        let due = rating::online::expiry(&engine.cat, session);
        (self.0).insert((due, session.msisdn, session.id.clone(), session.request));
    }

    /// The sessions granted by the last batch.
    fn note(&mut self, engine: &Engine) {
        for appended in engine.appended() {
            if let Appended::Decided { decision, .. } = appended {
                if let Outcome::Reserved(session) = &decision.outcome {
                    self.add(engine, session);
                }
            }
        }
    }

    /// Expiries of the sessions due by `now`, at most `most`.
    fn due(&mut self, engine: &mut Engine, now: Timestamp, most: usize) -> Vec<SessionRequest> {
        let mut made = Vec::new();
        while made.len() < most {
            let Some(first) = self.0.first() else { break };
            if first.0 > now {
                break;
            }
            let (due, msisdn, id, request) = self.0.pop_first().expect("looked at");
            if let Err(e) = engine.hold_numbers(&[msisdn]) {
                // Asked again at the next pass: the store could not be read now.
                tracing::warn!(%msisdn, error = %e, "an expiry waits: its account was not read");
                self.0.insert((due, msisdn, id, request));
                break;
            }
            let account = engine.state.account_of_number(msisdn);
            // A session of a partition another instance owns now is that instance's to end.
            let owned = account.is_some_and(|a| {
                engine.owns(crate::partition::of_bytes(
                    a.id.as_bytes(),
                    engine.partitions(),
                ))
            });
            let open = (account.filter(|_| owned))
                .and_then(|a| a.sessions.iter().find(|s| s.id == id && s.msisdn == msisdn));
            if let Some(session) = open.filter(|s| s.request == request) {
                made.push(expire(session, now));
            }
        }
        made
    }
}

/// The request that ends `session` for want of reports, at `now`.
fn expire(session: &Session, now: Timestamp) -> SessionRequest {
    let step = SessionStep::Expire;
    SessionRequest {
        id: SessionRequest::id_for(&session.id, session.request.saturating_add(1), step, now),
        session: session.id.clone(),
        request: session.request.saturating_add(1),
        step,
        msisdn: session.msisdn,
        service: session.service,
        direction: session.direction,
        other: session.other.clone(),
        location: session.location,
        rating_group: session.rating_group,
        time: now,
        requested: None,
        used: 0,
    }
}

/// Each job's verdicts, from what the batch decided. A request sent again gets its first
/// decision's verdict: the batch's, or the log's (found by its id in its account's entries).
fn answer(engine: &Engine, group: Vec<Job>) {
    let decided: HashMap<&str, &Decision> = (engine.appended().iter())
        .filter_map(|a| match a {
            Appended::Decided { decision, .. } if decision.outcome != Outcome::Duplicate => {
                Some((decision.event.as_str(), decision))
            }
            Appended::Decided { .. } | Appended::Dead { .. } => None,
        })
        .collect();
    for job in group {
        let verdicts = (job.requests.iter())
            .map(|input| match decided.get(input.id().as_str()) {
                Some(decision) => verdict(input, decision),
                None => first_verdict(engine, input),
            })
            .collect();
        // A peer gone before its answer: nothing to do; the decision stands.
        let _ = job.reply.send(verdicts);
    }
}

/// The verdict of the first decision of a request decided in an earlier batch, from the log.
fn first_verdict(engine: &Engine, input: &Input) -> Verdict {
    let not_decided = || Verdict::Failed("not decided: dead-lettered (see the log)".into());
    let account = match input {
        Input::Session(request) => match engine.state.account_of_number(request.msisdn) {
            Some(account) => account.id.clone(),
            None => return not_decided(),
        },
        other => match other.refers_to() {
            Some((account, _)) => account.clone(),
            None => return not_decided(),
        },
    };
    let first = |d: &Decision| d.outcome != Outcome::Duplicate;
    match engine.store.find_decision(&account, input.id(), first) {
        Ok(Some(decision)) => verdict(input, &decision),
        Ok(None) => not_decided(),
        Err(e) => Verdict::Failed(e.to_string()),
    }
}

/// The verdict a decision gives `input`. A decision of another kind under the same id (a
/// charge whose id is a session's first request's, say) is no answer to it.
fn verdict(input: &Input, decision: &Decision) -> Verdict {
    match (input, &decision.outcome) {
        (_, Outcome::Rejected(rejection)) => Verdict::Refused(rejection.clone()),
        (Input::Session(request), _) => session_verdict(request, decision),
        (
            Input::Refund(_),
            Outcome::Refunded {
                money, units_money, ..
            },
        ) => Verdict::Refunded(money + units_money),
        (_, other) => Verdict::Failed(format!(
            "the id {} is another request's ({})",
            input.id(),
            other.name()
        )),
    }
}

/// The verdict a decision that is no refusal gives a session's `request`.
fn session_verdict(request: &SessionRequest, decision: &Decision) -> Verdict {
    let step = request.step;
    match &decision.outcome {
        Outcome::Reserved(session)
            if matches!(step, SessionStep::Initial | SessionStep::Update) =>
        {
            Verdict::Granted(session.clone())
        }
        Outcome::SessionEnded { .. }
            if matches!(step, SessionStep::Terminate | SessionStep::Expire) =>
        {
            Verdict::Ended
        }
        Outcome::Charged(charge) if step == SessionStep::Event => Verdict::Debited {
            units: charge.quantity,
            charge: ChargeReference {
                account: decision.account.clone().unwrap_or_default(),
                event: decision.event.clone(),
            },
        },
        other => Verdict::Failed(format!(
            "the id {} is another request's ({})",
            request.id,
            other.name()
        )),
    }
}
