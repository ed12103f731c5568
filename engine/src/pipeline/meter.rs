//! The engine's counters as metrics: at each look, what grew since the last one. Inputs are
//! counted when rated; a rated batch is committed, or the run ends with the error.

use crate::operations::metrics as names;
use crate::pipeline::Engine;
use crate::store::Counters;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct Meter {
    counters: Counters,
    rejections: BTreeMap<&'static str, u64>,
}

impl Meter {
    /// Adds what the engine decided since the last look; sets each partition's watermark.
    pub fn look(&mut self, engine: &Engine) {
        let (now, was) = (engine.decided, self.counters);
        let inputs = |outcome: &'static str| metrics::counter!(names::INPUTS, "outcome" => outcome);
        inputs("rated").increment(now.rated - was.rated);
        inputs("duplicate").increment(now.duplicates - was.duplicates);
        inputs("dead").increment(now.dead - was.dead);
        for (&reason, &count) in &engine.rejections {
            let before = self.rejections.get(reason).copied().unwrap_or(0);
            if count > before {
                metrics::counter!(names::INPUTS, "outcome" => "rejected", "reason" => reason)
                    .increment(count - before);
            }
        }
        metrics::counter!(names::TICKS).increment(now.ticks - was.ticks);
        metrics::counter!(names::DERIVED).increment(now.derived - was.derived);
        for p in 0..engine.partitions() {
            let at = engine.watermark(p).0 as f64;
            metrics::gauge!(names::WATERMARK, "partition" => p.to_string()).set(at);
        }
        self.counters = now;
        self.rejections.clone_from(&engine.rejections);
    }
}
