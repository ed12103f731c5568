//! A generated workload as a source (`--source gen:SPEC`): its lines made as the engine takes
//! them, so that a benchmark of millions of accounts over days needs no file of tens of
//! gigabytes.
//!
//! The lines are one stream, as a file's are: each line's position is its number in the
//! workload, placed on its partition by its key, and the store keeps the position after the
//! last line it rated (`pos/0`, audited as a file's). A store fed by one spec resumes it where
//! it stopped, made again from the start and the lines before skipped; it refuses another spec,
//! and any source other than a generated one (a position of another source means nothing here).

use crate::pipeline::Engine;
use crate::source::{Line, Source};
use crate::store::{Commit, StoreError};
use crate::workload::{Lines, Workload};

/// `meta`: the spec of the workload a store was fed by `gen:SPEC`.
const SPEC: &str = "generated";

#[derive(Debug, thiserror::Error)]
pub enum GeneratedError {
    #[error("gen:{spec}: {problem}")]
    Spec { spec: String, problem: String },
    #[error("this store was fed gen:{found}, not gen:{spec}: a generated store resumes its own spec only")]
    OtherSpec { spec: String, found: String },
    #[error(
        "this store read another source ({found}): a generated workload needs a store of its own"
    )]
    OtherSource { found: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Generated {
    lines: Lines,
    spec: String,
    /// Lines made so far (those skipped on resuming included).
    made: u64,
}

impl Generated {
    /// The workload `spec` for `engine`'s store, past the lines it rated before.
    pub fn open(engine: &Engine, spec: &str) -> Result<Generated, GeneratedError> {
        let workload = Workload::from_spec(spec).map_err(|problem| GeneratedError::Spec {
            spec: spec.to_string(),
            problem,
        })?;
        let store = &engine.store;
        match store.meta_bytes(SPEC)? {
            Some(found) if found != spec.as_bytes() => {
                return Err(GeneratedError::OtherSpec {
                    spec: spec.to_string(),
                    found: String::from_utf8_lossy(&found).into_owned(),
                })
            }
            Some(_) => {}
            None => {
                if let Some(found) = store.meta_bytes(crate::keys::SOURCE)? {
                    return Err(GeneratedError::OtherSource {
                        found: String::from_utf8_lossy(&found).into_owned(),
                    });
                }
                let mut commit = Commit::default();
                store.put_meta(&mut commit, SPEC, spec.as_bytes());
                store.commit(commit, true)?;
            }
        }
        let rated = store.meta_u64(&crate::keys::position(None, 0))?;
        let mut generated = Generated {
            lines: workload.lines(),
            spec: spec.to_string(),
            made: 0,
        };
        for _ in 0..rated.unwrap_or(0) {
            if generated.lines.next().is_none() {
                break;
            }
            generated.made += 1;
        }
        Ok(generated)
    }
}

impl Source for Generated {
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        for line in self.lines.by_ref().take(max) {
            self.made += 1;
            out.push(Line {
                topic: None,
                partition: 0,
                position: self.made,
                at: self.made - 1,
                bytes: line.into_bytes(),
                oversized: false,
                far_ahead: false,
                file: None,
            });
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("gen:{}", self.spec)
    }
}
