//! The one writer of online requests: a thread that owns the engine, takes every request that
//! arrived while the last write was syncing, rates them as one batch through the engine's
//! pipeline, commits the batch with one synced write, and only then answers each (group
//! commit: the window is the previous write's sync, and no request waits for a timer).

use super::credit_control::Verdict;
use crate::pipeline::{Appended, Engine, EngineError};
use crate::source::Line;
use crate::topics::ONLINE_TOPIC;
use rating::event::{SessionRequest, SessionStep};
use rating::{Decision, Input, Outcome};
use std::collections::HashMap;
use std::sync::mpsc;

/// The requests of one credit-control request, and where their verdicts go.
pub struct Job {
    pub requests: Vec<SessionRequest>,
    pub reply: tokio::sync::oneshot::Sender<Vec<Verdict>>,
}

/// The most requests one write commits.
pub const MAX_GROUP: usize = 4_096;

/// Decides jobs until every sender is gone. A failed write ends it with its error, after
/// answering the batch's jobs that nothing was decided: the state in memory is then ahead of the
/// store, and a restart resumes from what was committed.
pub fn decide(engine: &mut Engine, jobs: &mpsc::Receiver<Job>) -> Result<(), EngineError> {
    engine.keep_appended();
    let topic: std::sync::Arc<str> = ONLINE_TOPIC.into();
    let mut position = 0u64;
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        let mut requests = group[0].requests.len();
        while requests < MAX_GROUP {
            let Ok(job) = jobs.try_recv() else { break };
            requests += job.requests.len();
            group.push(job);
        }
        let (mut lines, mut parsed) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
        for request in group.iter().flat_map(|job| &job.requests) {
            position += 1;
            let input = Input::Session(request.clone());
            lines.push(Line {
                topic: Some(topic.clone()),
                partition: 0,
                position,
                at: position,
                bytes: rating::codec::to_json(&input).into_bytes(),
                oversized: false,
                far_ahead: false,
                file: None,
            });
            parsed.push(Ok(input));
        }
        let written = engine
            .prepare_parsed(&lines, parsed)
            .and_then(|commit| engine.commit(commit));
        if let Err(e) = written {
            for job in group {
                let failed = vec![Verdict::Failed(e.to_string()); job.requests.len()];
                let _ = job.reply.send(failed);
            }
            return Err(e);
        }
        answer(engine, group);
    }
    Ok(())
}

/// Each job's verdicts, from what the batch decided.
fn answer(engine: &Engine, group: Vec<Job>) {
    let decided: HashMap<&str, &Decision> = (engine.appended().iter())
        .filter_map(|a| match a {
            Appended::Decided { decision, .. } => Some((decision.event.as_str(), decision)),
            Appended::Dead { .. } => None,
        })
        .collect();
    for job in group {
        let verdicts = (job.requests.iter())
            .map(|r| match decided.get(r.id.as_str()) {
                Some(decision) => verdict(engine, r, decision),
                None => Verdict::Failed("not decided: dead-lettered (see the log)".into()),
            })
            .collect();
        // A peer gone before its answer: nothing to do; the decision stands.
        let _ = job.reply.send(verdicts);
    }
}

fn verdict(engine: &Engine, request: &SessionRequest, decision: &Decision) -> Verdict {
    match &decision.outcome {
        Outcome::Reserved(session) => Verdict::Granted(session.clone()),
        Outcome::SessionEnded { .. } => Verdict::Ended,
        Outcome::Charged(charge) => Verdict::Debited(charge.quantity),
        Outcome::Rejected(rejection) => Verdict::Refused(rejection.clone()),
        Outcome::Duplicate => again(engine, request),
        other => Verdict::Failed(format!("decided {}", other.name())),
    }
}

/// The answer to a request sent again: what its session holds now, which is what the first
/// answer said while no later request of the session came.
fn again(engine: &Engine, request: &SessionRequest) -> Verdict {
    let open = (engine.state.account_of_number(request.msisdn))
        .and_then(|a| a.sessions.iter().find(|s| s.id == request.session));
    match (request.step, open) {
        (SessionStep::Event, _) => {
            let unit = request.service.unit();
            Verdict::Debited(request.requested.unwrap_or(engine.cat.online.quota(unit)))
        }
        (_, Some(session)) if session.request >= request.request => {
            Verdict::Granted(Box::new(session.clone()))
        }
        _ => Verdict::Ended,
    }
}
