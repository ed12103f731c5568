//! The output topics, fed from the log: the log is the outbox. After each committed batch, every
//! entry of a partition from `published/<partition>` on is published (decisions to the charges
//! topic, notifications derived from them, dead letters with their origin), the producer is
//! flushed, and only then is the pointer moved. A crash between the commit and the pointer
//! publishes those entries again on restart: a consumer downstream drops a repeat by the
//! `ratel-event` header (the input event id; for a dead letter, its topic/partition/offset).

use crate::kafka::{self, Deliveries, DeliveryContext, KafkaSourceError, Topics};
use crate::pipeline::Appended;
use crate::record::Entry;
use crate::store::{Commit, Store, StoreError};
use rating::codec::{decode_decision, decode_input};
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
}

/// What a decision tells the subscriber, if anything: (kind, details).
pub fn notifications(d: &Decision) -> Vec<(&'static str, serde_json::Value)> {
    let mut out = Vec::new();
    if let Some(w) = &d.written_off {
        out.push((
            "promise_written_off",
            json!({"promise": w.promise, "amount": w.amount.to_string()}),
        ));
    }
    match &d.outcome {
        Outcome::Paid {
            amount,
            balance_after,
            ..
        } => out.push((
            "payment_received",
            json!({"amount": amount.to_string(), "balance": balance_after.to_string()}),
        )),
        Outcome::PromiseGranted {
            amount,
            expires,
            balance_after,
            ..
        } => out.push((
            "promise_granted",
            json!({"amount": amount.to_string(), "expires": expires.to_string(), "balance": balance_after.to_string()}),
        )),
        Outcome::Rejected(r) => out.push(("rejected", json!({"reason": r.to_string()}))),
        _ => {}
    }
    out
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
            published.push(store.meta_u64(&format!("published/{p}"))?.unwrap_or(0));
        }
        Ok(Outbox {
            producer,
            deliveries,
            topics: topics.clone(),
            published,
            sent: 0,
        })
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
            store.put_meta(&mut c, &format!("published/{p}"), &to.to_le_bytes());
        }
        // Not synced: a pointer lost in a crash only publishes some entries again.
        store.commit(c, false)?;
        self.sent += sent;
        Ok(sent)
    }

    fn entry(&self, p: u32, seq: u64, entry: &Entry) -> Result<u64, OutboxError> {
        let corrupt = |e: rating::codec::DecodeError| {
            OutboxError::Store(StoreError::Corrupt(format!("log {p}/{seq}: {e}")))
        };
        match entry {
            Entry::Catalog { .. } => Ok(0),
            Entry::Dead {
                topic,
                position,
                raw,
                reason,
            } => {
                let id = format!("{topic}/{p}/{position}");
                let offset = position.to_string();
                let part = p.to_string();
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
                self.decided(p, seq, kind, &d)
            }
        }
    }

    /// Publishes a decision and the notifications it implies.
    fn decided(&self, p: u32, seq: u64, kind: &str, d: &Decision) -> Result<u64, OutboxError> {
        if d.outcome == Outcome::Duplicate {
            return Ok(0);
        }
        let key = d.account.as_deref().unwrap_or(&d.event).to_string();
        let headers = || {
            OwnedHeaders::new().insert(Header {
                key: "ratel-event",
                value: Some(d.event.as_str()),
            })
        };
        let body =
            json!({"event": d.event, "partition": p, "seq": seq, "input": kind, "decision": d});
        let bytes = serde_json::to_vec(&body).expect("a decision serializes");
        let rec = BaseRecord::to(&self.topics.charges_topic)
            .key(key.as_bytes())
            .payload(&bytes[..])
            .headers(headers());
        kafka::send(&self.producer, rec)?;
        let mut n = 1;
        for (what, details) in notifications(d) {
            let body = json!({"event": d.event, "account": d.account, "time": d.time.to_string(), "notification": what, "details": details});
            let bytes = serde_json::to_vec(&body).expect("json");
            let rec = BaseRecord::to(&self.topics.notifications_topic)
                .key(key.as_bytes())
                .payload(&bytes[..])
                .headers(headers());
            kafka::send(&self.producer, rec)?;
            n += 1;
        }
        Ok(n)
    }
}
