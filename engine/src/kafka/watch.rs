//! What a Kafka run shows the operator about its partitions, looked at about once a second
//! at a turn of the reading (busy or idle): each owned partition's lag behind the broker, the
//! partitions owned, the rebalances, and whether the instance is ready. Ready means: it has
//! had its first assignment, and every partition it owns (restored from the changelog before
//! it was read) is within `max_lag` messages of the broker's end on every input topic.

use crate::kafka::KafkaSource;
use crate::operations::{health, metrics as names};
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the partitions are looked at.
const EVERY: Duration = Duration::from_secs(1);

/// The default of `max_lag`: a few seconds of traffic at the rates ratel rates.
pub const DEFAULT_READY_LAG: u64 = 10_000;

pub struct Watch {
    store: Arc<Store>,
    max_lag: u64,
    looked: Option<Instant>,
    rebalances: u64,
    /// The (topic, partition) pairs whose lag was reported: one given up is reported 0.
    reported: Vec<(String, u32)>,
}

impl Watch {
    pub fn new(store: Arc<Store>, max_lag: u64) -> Watch {
        health::not_ready("waiting for the consumer group's first assignment");
        Watch {
            store,
            max_lag,
            looked: None,
            rebalances: 0,
            reported: Vec::new(),
        }
    }

    /// Looks at the source, at most once every [`EVERY`].
    pub fn look(&mut self, src: &KafkaSource) {
        if self.looked.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        self.looked = Some(Instant::now());
        let owned: Vec<u32> = src.assigned().collect();
        metrics::gauge!(names::PARTITIONS_OWNED).set(owned.len() as f64);
        metrics::counter!(names::REBALANCES).increment(src.rebalances() - self.rebalances);
        self.rebalances = src.rebalances();
        let mut behind: Option<String> = None;
        let mut reported = Vec::new();
        for &p in &owned {
            for topic in src.topic_names() {
                let key = crate::keys::position(Some(topic), p);
                let committed = self.store.meta_u64(&key).ok().flatten().unwrap_or(0);
                let Some(end) = src.fetched_end(topic, p) else {
                    behind.get_or_insert_with(|| format!("{topic}/{p}: its end is not known yet"));
                    continue;
                };
                let lag = end.saturating_sub(committed);
                metrics::gauge!(names::CONSUMER_LAG, "topic" => topic.to_string(), "partition" => p.to_string())
                    .set(lag as f64);
                reported.push((topic.to_string(), p));
                if lag > self.max_lag {
                    behind.get_or_insert_with(|| {
                        format!(
                            "{topic}/{p}: {lag} messages behind (ready within {})",
                            self.max_lag
                        )
                    });
                }
            }
        }
        for (topic, p) in self.reported.iter().filter(|r| !reported.contains(r)) {
            metrics::gauge!(names::CONSUMER_LAG, "topic" => topic.clone(), "partition" => p.to_string())
                .set(0.0);
        }
        self.reported = reported;
        match behind {
            _ if self.rebalances == 0 => {}
            Some(why) => health::not_ready(why),
            None => health::ready(),
        }
    }
}
