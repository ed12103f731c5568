//! The read models' rebuild: every model recreated from the log with the same projection the
//! pipeline runs live, so that a rebuild gives what the live models hold, row for row.

use crate::pipeline::{recorded_catalog, EngineError};
use crate::record::Entry;
use crate::replay::decode_rated;
use crate::store::{Commit, Store};
use projections::project::LogPos;
use rating::{apply, Catalog, State};
use std::collections::HashMap;

/// Entries projected per committed batch.
const BATCH: u64 = 8_192;

#[derive(Debug, Default, serde::Serialize)]
pub struct Rebuilt {
    pub entries: u64,
    pub decisions: u64,
    pub rows: u64,
}

/// Deletes the read models and projects the whole log again. `progress` sees entries done.
pub fn rebuild(store: &Store, mut progress: impl FnMut(u64)) -> Result<Rebuilt, EngineError> {
    projections::models::clear(store.db()).map_err(model_error)?;
    let mut catalogs: HashMap<u64, Catalog> = HashMap::new();
    let mut state = State::new();
    let mut r = Rebuilt::default();
    let mut updates = projections::Updates::default();
    let mut c = Commit::default();
    for item in store.log() {
        let (partition, seq, entry) = item?;
        r.entries += 1;
        match entry {
            Entry::Catalog { tag, .. } => {
                if let std::collections::hash_map::Entry::Vacant(v) = catalogs.entry(tag) {
                    v.insert(recorded_catalog(store, tag)?);
                }
            }
            Entry::Dead { .. } => {}
            Entry::Rated {
                input, decision, ..
            } => {
                let (_, d) = decode_rated(partition, seq, &input, &decision)?;
                apply(&mut state, &d)?;
                let cat = match catalogs.get(&d.catalog) {
                    Some(c) => c,
                    None => {
                        let c = recorded_catalog(store, d.catalog)?;
                        catalogs.entry(d.catalog).or_insert(c)
                    }
                };
                updates.clear();
                projections::project(cat, &state, &d, LogPos { partition, seq }, &mut updates);
                r.rows += (updates.puts.len() + updates.adds.len()) as u64;
                projections::models::stage(store.db(), &mut c.batch, &updates);
                r.decisions += 1;
            }
        }
        if r.entries % BATCH == 0 {
            store.commit(std::mem::take(&mut c), false)?;
            progress(r.entries);
        }
    }
    store.commit(c, true)?;
    progress(r.entries);
    Ok(r)
}

pub(crate) fn model_error(e: projections::ModelError) -> EngineError {
    EngineError::Models(e.to_string())
}
