//! The output topics, fed from the log: the log is the outbox. After each committed batch, every
//! entry of a partition from `published/<partition>` on is published (decisions to the charges
//! topic, notifications derived from them, dead letters with their origin), the producer is
//! flushed, and only then is the pointer moved. A crash between the commit and the pointer
//! publishes those entries again on restart: a consumer downstream drops a repeat by the
//! `ratel-event` header (the input event id; for a dead letter, its topic/partition/offset).

use crate::entry::Entry;
use crate::kafka::{self, Deliveries, DeliveryContext, KafkaSourceError, Topics};
use crate::pipeline::Appended;
use crate::store::{Commit, Store, StoreError};
use rating::codec::{decode_decision, decode_input};
use rating::decision::Alert;
use rating::{Decision, Outcome};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kafka(#[from] KafkaSourceError),
    #[error("kafka: {0}")]
    Produce(#[from] rdkafka::error::KafkaError),
}

pub struct Outbox {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    topics: Topics,
    published: Vec<u64>,
    /// Messages sent in all.
    pub sent: u64,
    /// A message's JSON (a charge's or a notification's), reused: librdkafka copies the bytes
    /// at `send`.
    json: Vec<u8>,
}

/// What a decision tells the subscriber, if anything: (kind, details).
pub fn notifications(decision: &Decision) -> Vec<(&'static str, serde_json::Value)> {
    let mut out = Vec::new();
    if let Some(w) = &decision.written_off {
        out.push((
            "promise_written_off",
            json!({"promise": w.promise, "amount": w.amount.to_string()}),
        ));
    }
    out.extend(outcome_notification(&decision.outcome));
    if let Some(w) = &decision.inactivity {
        if let Some(at) = w.blocked {
            out.push(("blocked_for_inactivity", json!({"at": at.to_string()})));
        }
        if let Some(at) = w.released {
            out.push(("released", json!({"at": at.to_string()})));
        }
    }
    out.extend(decision.alerts.iter().filter_map(alert_notification));
    out
}

/// The notification an outcome sends, if any.
fn outcome_notification(outcome: &Outcome) -> Option<(&'static str, serde_json::Value)> {
    match outcome {
        Outcome::Paid {
            amount,
            balance_after,
            ..
        } => Some((
            "payment_received",
            json!({"amount": amount.to_string(), "balance": balance_after.to_string()}),
        )),
        Outcome::PromiseGranted {
            amount,
            expires,
            balance_after,
            ..
        } => Some((
            "promise_granted",
            json!({"amount": amount.to_string(), "expires": expires.to_string(), "balance": balance_after.to_string()}),
        )),
        Outcome::Rejected(r) => Some(("rejected", json!({"reason": r.to_string()}))),
        Outcome::PlanChanged {
            msisdn,
            fees,
            balance_after,
            ..
        } => Some((
            "plan_changed",
            json!({"msisdn": msisdn.to_string(), "charged": fees.iter().map(|f| f.amount).sum::<rust_decimal::Decimal>().to_string(), "balance": balance_after.to_string()}),
        )),
        Outcome::StatusChanged { msisdn, status, .. } => Some((
            "number_status",
            json!({"msisdn": msisdn.to_string(), "status": status.name()}),
        )),
        _ => None,
    }
}

/// The notification an alert sends, if any.
fn alert_notification(alert: &Alert) -> Option<(&'static str, serde_json::Value)> {
    match alert {
        Alert::Blocked {
            balance,
            credit_limit,
        } => Some((
            "blocked",
            json!({"balance": balance.to_string(), "credit_limit": credit_limit.to_string()}),
        )),
        Alert::Unblocked { balance } => {
            Some(("unblocked", json!({"balance": balance.to_string()})))
        }
        Alert::LowBalance { threshold, balance } => Some((
            "low_balance",
            json!({"threshold": threshold.to_string(), "balance": balance.to_string()}),
        )),
        // The request to the payment system: it tops up and the money comes back as a
        // payment event.
        Alert::Autopay {
            threshold,
            amount,
            balance,
        } => Some((
            "autopay_request",
            json!({"amount": amount.to_string(), "threshold": threshold.to_string(), "balance": balance.to_string()}),
        )),
        Alert::UsageWhileBarred { msisdn, status } => Some((
            "usage_while_barred",
            json!({"msisdn": msisdn.to_string(), "status": status.as_str()}),
        )),
        // Told once, on the item that crossed it; the rest are flagged in the log only.
        Alert::OverSpendingLimit { first: false, .. } => None,
        Alert::OverSpendingLimit {
            msisdn,
            limit,
            spent,
            first: true,
        } => Some((
            "spending_limit_reached",
            json!({"msisdn": msisdn.to_string(), "limit": limit.to_string(), "spent": spent.to_string()}),
        )),
    }
}

/// A message of the charges topic.
#[derive(serde::Serialize)]
struct ChargeMessage<'a> {
    event: &'a str,
    partition: u32,
    seq: u64,
    input: &'a str,
    decision: ChargeDecision<'a>,
}

/// A decision as the charges topic carries it: the decision's own JSON, less the periodic work,
/// alerts, points and spending it did not have (absent rather than `null` or `[]`: most
/// decisions have none, and every byte is compressed, sent and stored by the broker). It reads
/// back as the same [`Decision`].
#[derive(serde::Serialize)]
struct ChargeDecision<'a> {
    event: &'a rating::event::EventId,
    catalog: u64,
    time: rating::time::Timestamp,
    account: Option<&'a rating::event::AccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    written_off: Option<&'a rating::decision::WriteOff>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    renewals: &'a [rating::decision::Renewal],
    outcome: &'a Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    inactivity: Option<&'a rating::decision::InactivityWork>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    alerts: &'a [Alert],
    #[serde(skip_serializing_if = "Option::is_none")]
    loyalty: Option<&'a rating::decision::Accrual>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spent: Option<&'a rating::decision::NumberSpent>,
}

impl<'a> From<&'a Decision> for ChargeDecision<'a> {
    fn from(d: &'a Decision) -> Self {
        // Every field named: a field added to Decision fails to compile here until the charges
        // topic carries it.
        let Decision {
            event,
            catalog,
            time,
            account,
            written_off,
            renewals,
            outcome,
            inactivity,
            alerts,
            loyalty,
            spent,
        } = d;
        ChargeDecision {
            event,
            catalog: *catalog,
            time: *time,
            account: account.as_ref(),
            written_off: written_off.as_deref(),
            renewals,
            outcome,
            inactivity: inactivity.as_deref(),
            alerts,
            loyalty: loyalty.as_ref(),
            spent: spent.as_ref(),
        }
    }
}

impl Outbox {
    pub fn open(
        brokers: &str,
        topics: &Topics,
        store: &Store,
        partitions: u32,
        idempotent: bool,
    ) -> Result<Outbox, OutboxError> {
        let (producer, deliveries) = kafka::producer(brokers, idempotent, kafka::BATCH_MESSAGES)?;
        let mut published = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            published.push(store.meta_u64(&crate::keys::published(p))?.unwrap_or(0));
        }
        Ok(Outbox {
            producer,
            deliveries,
            topics: topics.clone(),
            published,
            sent: 0,
            json: Vec::with_capacity(4096),
        })
    }

    /// Takes the partition's log as published up to `to` (its last owner published it; the
    /// changelog told how far).
    pub fn skip_to(&mut self, partition: u32, to: u64) {
        let p = &mut self.published[partition as usize];
        *p = (*p).max(to);
    }

    /// Publishes every entry not yet published, up to `seq(p)` in each partition, waits for the
    /// broker to acknowledge them, and records how far it got. `appended` is what the last batch
    /// appended (Engine::appended), taken from memory; anything older is read from the log.
    pub fn publish(
        &mut self,
        store: &Store,
        seq: impl Fn(u32) -> u64,
        appended: &[Appended],
    ) -> Result<u64, OutboxError> {
        let mut sent = 0u64;
        let mut moved = Vec::new();
        // The first seq the batch appended in each partition: below it, the log.
        let mut first: rustc_hash::FxHashMap<u32, u64> = Default::default();
        for a in appended {
            let (p, s) = match a {
                Appended::Decided { partition, seq, .. }
                | Appended::Dead { partition, seq, .. } => (*partition, *seq),
            };
            first.entry(p).or_insert(s);
        }
        for p in 0..self.published.len() as u32 {
            let (from, to) = (self.published[p as usize], seq(p));
            if from >= to {
                continue;
            }
            let from_log_to = first.get(&p).copied().unwrap_or(to).min(to);
            if from < from_log_to {
                for item in store.log_from(p, from) {
                    let (s, entry) = item?;
                    if s >= from_log_to {
                        break;
                    }
                    sent += self.entry(p, s, &entry)?;
                }
            }
            moved.push((p, to));
        }
        for a in appended {
            match a {
                Appended::Decided {
                    partition,
                    seq,
                    input,
                    decision,
                } if *seq >= self.published[*partition as usize] => {
                    sent += self.decided(*partition, *seq, input, decision)?;
                }
                Appended::Dead {
                    partition,
                    seq,
                    entry,
                } if *seq >= self.published[*partition as usize] => {
                    sent += self.entry(*partition, *seq, entry)?;
                }
                _ => {}
            }
        }
        if moved.is_empty() {
            return Ok(0);
        }
        kafka::flush(&self.producer, &self.deliveries)?;
        let mut c = Commit::default();
        for (p, to) in moved {
            self.published[p as usize] = to;
            store.put_meta(&mut c, &crate::keys::published(p), &to.to_le_bytes());
        }
        // Not synced: a pointer lost in a crash only publishes some entries again.
        store.commit(c, false)?;
        self.sent += sent;
        Ok(sent)
    }

    fn entry(&mut self, partition: u32, seq: u64, entry: &Entry) -> Result<u64, OutboxError> {
        let corrupt = |e: rating::codec::DecodeError| {
            OutboxError::Store(StoreError::Corrupt(format!("log {partition}/{seq}: {e}")))
        };
        match entry {
            Entry::Catalog { .. } => Ok(0),
            Entry::Dead {
                topic,
                position,
                raw,
                reason,
            } => {
                let id = format!("{topic}/{partition}/{position}");
                let offset = position.to_string();
                let part = partition.to_string();
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: "ratel-event",
                        value: Some(&id),
                    })
                    .insert(Header {
                        key: "ratel-topic",
                        value: Some(topic),
                    })
                    .insert(Header {
                        key: "ratel-partition",
                        value: Some(&part),
                    })
                    .insert(Header {
                        key: "ratel-offset",
                        value: Some(&offset),
                    })
                    .insert(Header {
                        key: "ratel-reason",
                        value: Some(reason),
                    });
                let rec = BaseRecord::to(&self.topics.dead_topic)
                    .key(id.as_bytes())
                    .payload(&raw[..])
                    .headers(headers);
                kafka::send(&self.producer, rec)?;
                Ok(1)
            }
            Entry::Rated {
                input, decision, ..
            } => {
                let d = decode_decision(decision).map_err(corrupt)?;
                if d.outcome == Outcome::Duplicate {
                    return Ok(0);
                }
                let kind = decode_input(input).map_err(corrupt)?.kind();
                self.decided(partition, seq, kind, &d)
            }
        }
    }

    /// Publishes a decision and the notifications it implies.
    fn decided(
        &mut self,
        partition: u32,
        seq: u64,
        kind: &str,
        decision: &Decision,
    ) -> Result<u64, OutboxError> {
        if decision.outcome == Outcome::Duplicate {
            return Ok(0);
        }
        let key: &str = decision.account.as_deref().unwrap_or(&decision.event);
        let headers = || {
            OwnedHeaders::new().insert(Header {
                key: "ratel-event",
                value: Some(decision.event.as_str()),
            })
        };
        // Serialized straight from the decision: through a `serde_json::Value` (the `json!`
        // macro) every decision was first copied into a tree of maps, most of the outbox's time.
        self.json.clear();
        serde_json::to_writer(
            &mut self.json,
            &ChargeMessage {
                event: &decision.event,
                partition,
                seq,
                input: kind,
                decision: decision.into(),
            },
        )
        .expect("a decision serializes");
        let rec = BaseRecord::to(&self.topics.charges_topic)
            .key(key.as_bytes())
            .payload(&self.json[..])
            .headers(headers());
        kafka::send(&self.producer, rec)?;
        let mut n = 1;
        for (what, details) in notifications(decision) {
            let body = json!({"event": decision.event, "account": decision.account, "time": decision.time.to_string(), "notification": what, "details": details});
            self.json.clear();
            serde_json::to_writer(&mut self.json, &body).expect("json");
            let rec = BaseRecord::to(&self.topics.notifications_topic)
                .key(key.as_bytes())
                .payload(&self.json[..])
                .headers(headers());
            kafka::send(&self.producer, rec)?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::{notifications, ChargeDecision};
    use rating::codec::parse_json;
    use rating::Decision;
    use rating::{step, Catalog, State};

    /// Each line of a script rated in turn on the example catalog, from an empty state.
    fn decisions<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(&'a str, Decision)> {
        let cat = Catalog::from_toml("example", crate::EXAMPLE_CATALOG).unwrap();
        let mut s = State::new();
        (lines.into_iter())
            .map(|line| {
                (
                    line,
                    step(&mut s, &cat, &parse_json(line.as_bytes()).unwrap()),
                )
            })
            .collect()
    }

    /// The notifications the subscriber gets, event by event, for a script on the example
    /// catalog: the credit limit crossed both ways, the low-balance and autopay thresholds,
    /// a change of plan, a suspension and usage while suspended.
    #[test]
    fn decisions_tell_the_subscriber_what_happened() {
        let script = [
            (
                r#"{"type":"open_account","id":"o","account":"A","time":"2026-11-01T09:00:00Z","credit_limit":"10.00","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#,
                vec![],
            ),
            (
                r#"{"type":"set_balance_alerts","id":"b","account":"A","time":"2026-11-01T09:00:01Z","autopay":{"threshold":"4.00","amount":"300.00"},"low_balance":"8.00"}"#,
                vec![],
            ),
            (
                r#"{"type":"payment","id":"p","account":"A","amount":"9.00","time":"2026-11-01T09:01:00Z"}"#,
                vec!["payment_received"],
            ),
            // SMS at 2.00: 7.00 (low balance), 5.00, 3.00 (autopay), …, -11.00 (blocked).
            (
                r#"{"type":"usage","id":"u1","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-02T09:00:00Z"}"#,
                vec!["low_balance"],
            ),
            (
                r#"{"type":"usage","id":"u2","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-02T09:01:00Z","count":2}"#,
                vec!["autopay_request"],
            ),
            (
                r#"{"type":"usage","id":"u3","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-02T09:02:00Z","count":7}"#,
                vec!["blocked"],
            ),
            (
                r#"{"type":"payment","id":"p2","account":"A","amount":"300.00","time":"2026-11-02T10:00:00Z"}"#,
                vec!["payment_received", "unblocked"],
            ),
            (
                r#"{"type":"change_plan","id":"c","msisdn":"79001000001","plan":"DAILY","time":"2026-11-03T10:00:00Z"}"#,
                vec!["plan_changed"],
            ),
            (
                r#"{"type":"suspend","id":"s","msisdn":"79001000001","time":"2026-11-04T10:00:00Z"}"#,
                vec!["number_status"],
            ),
            (
                r#"{"type":"usage","id":"u4","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-04T11:00:00Z"}"#,
                vec!["usage_while_barred"],
            ),
            (
                r#"{"type":"resume","id":"r","msisdn":"79001000001","time":"2026-11-05T10:00:00Z"}"#,
                vec!["number_status"],
            ),
        ];
        let decided = decisions(script.iter().map(|(line, _)| *line));
        for ((line, d), (_, expected)) in decided.into_iter().zip(script) {
            let kinds: Vec<&str> = notifications(&d).iter().map(|(k, _)| *k).collect();
            assert_eq!(kinds, expected, "{line}");
        }
    }

    /// A charge's decision leaves out what it did not have, and reads back as the decision
    /// itself, whatever it had: a renewal, alerts, points, a package call, a paid one.
    #[test]
    fn a_charge_carries_the_whole_decision_without_its_empty_parts() {
        let script = [
            r#"{"type":"open_account","id":"o","account":"A","time":"2026-11-01T09:00:00Z","credit_limit":"10.00","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#,
            r#"{"type":"set_balance_alerts","id":"b","account":"A","time":"2026-11-01T09:00:01Z","low_balance":"300.00"}"#,
            r#"{"type":"payment","id":"p","account":"A","amount":"900.00","time":"2026-11-01T09:01:00Z"}"#,
            r#"{"type":"usage","id":"u1","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2026-11-02T09:00:00Z","duration":125}"#,
            r#"{"type":"usage","id":"u2","msisdn":"79001000001","service":"voice","other":"4420123456","start":"2026-11-02T09:10:00Z","duration":125}"#,
            r#"{"type":"usage","id":"u3","msisdn":"79001000001","service":"data","start":"2026-12-02T09:20:00Z","bytes":1250000}"#,
        ];
        let (mut full, mut compact, mut renewed, mut alerted) = (0, 0, 0, 0);
        for (_, d) in decisions(script) {
            let json = serde_json::to_string(&ChargeDecision::from(&d)).unwrap();
            let back: Decision = serde_json::from_str(&json).unwrap();
            assert_eq!(back, d, "{json}");
            let everything = serde_json::to_string(&d).unwrap();
            for (field, empty) in [
                ("written_off", d.written_off.is_none()),
                ("renewals", d.renewals.is_empty()),
                ("inactivity", d.inactivity.is_none()),
                ("alerts", d.alerts.is_empty()),
                ("loyalty", d.loyalty.is_none()),
                ("spent", d.spent.is_none()),
            ] {
                let key = format!("\"{field}\":");
                assert_eq!(json.contains(&key), !empty, "{field} in {json}");
                assert!(everything.contains(&key));
            }
            renewed += usize::from(!d.renewals.is_empty());
            alerted += usize::from(!d.alerts.is_empty());
            full += everything.len();
            compact += json.len();
        }
        assert!(
            renewed > 0 && alerted > 0,
            "the script covers renewals and alerts"
        );
        assert!(compact < full, "{compact} bytes against {full}");
    }
}
