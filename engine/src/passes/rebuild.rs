//! The read models' rebuild: every model recreated from the log with the same projection the
//! pipeline runs live, so that a rebuild gives what the live models hold, row for row.

use crate::entry::Entry;
use crate::pipeline::{Catalogs, EngineError};
use crate::store::decode_decision_at;
use crate::store::{Commit, Store};
use projections::project::LogPos;
use rating::apply;

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
    let mut catalogs = Catalogs::default();
    let mut state = store.empty_state()?;
    let mut r = Rebuilt::default();
    let mut updates = projections::Updates::default();
    let mut c = Commit::default();
    for item in store.log() {
        let (partition, seq, entry) = item?;
        r.entries += 1;
        match entry {
            Entry::Catalog { .. } | Entry::Dead { .. } => {}
            Entry::Rated { decision, .. } => {
                let d = decode_decision_at(partition, seq, &decision)?;
                apply(&mut state, &d)?;
                let cat = catalogs.get(store, d.catalog)?;
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
    store.put_models_layout(&mut c);
    store.commit(c, true)?;
    progress(r.entries);
    Ok(r)
}

pub(crate) fn model_error(error: projections::ModelError) -> EngineError {
    EngineError::Models(error.to_string())
}
