//! What RocksDB's flushes and compactions cost each family, read from the statistics text
//! RocksDB keeps for it (`rocksdb.cfstats-no-file-histogram`): where a store's background CPU
//! goes, for the benchmarks' reports and an operator's questions.

use super::{Store, CFS};

/// The flushes and compactions of one family since the store was opened.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyWork {
    pub family: &'static str,
    /// Bytes written by flushes and compactions (RocksDB reports them to a tenth of a GB).
    pub written: u64,
    /// CPU seconds of its flushes and compactions' merging.
    pub cpu_seconds: f64,
}

impl Store {
    /// [`FamilyWork`] of every family whose statistics read: a family RocksDB reports in a
    /// form this does not know is left out, never guessed.
    pub fn work_by_family(&self) -> Vec<FamilyWork> {
        let families = CFS.iter().chain(&projections::models::FAMILIES);
        families
            .filter_map(|&family| {
                let cf = self.db.cf_handle(family)?;
                let text = (self.db)
                    .property_value_cf(&cf, "rocksdb.cfstats-no-file-histogram")
                    .ok()??;
                let (written, cpu_seconds) = sum_of_levels(&text)?;
                Some(FamilyWork {
                    family,
                    written,
                    cpu_seconds,
                })
            })
            .collect()
    }
}

/// The bytes written and merge CPU seconds of the `Sum` row of a family's compaction table,
/// found by the header's column names. A level's size is two words ("12.3 MB"), one column.
fn sum_of_levels(text: &str) -> Option<(u64, f64)> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Level"));
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let sum: Vec<&str> = lines
        .find(|l| l.trim_start().starts_with("Sum"))?
        .split_whitespace()
        .collect();
    let size = header.iter().position(|&h| h == "Size")?;
    let column = |name: &str| -> Option<f64> {
        let i = header.iter().position(|&h| h == name)?;
        let i = if i > size { i + 1 } else { i };
        sum.get(i)?.parse().ok()
    };
    let written = column("Write(GB)")?;
    let cpu = column("CompMergeCPU(sec)")?;
    Some(((written * 1e9) as u64, cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_row_is_read_by_its_header() {
        let text = "\n** Compaction Stats [state] **\n\
Level    Files   Size     Score Read(GB)  Rn(GB) Rnp1(GB) Write(GB) Wnew(GB) Moved(GB) W-Amp Rd(MB/s) Wr(MB/s) Comp(sec) CompMergeCPU(sec) Comp(cnt) Avg(sec) KeyIn KeyDrop Rblob(GB) Wblob(GB)\n\
------------------------------------------------------------------------\n  \
L0      2/0   123.45 MB   0.5      0.0     0.0      0.0       0.1      0.1       0.0   1.0      0.0     50.0      2.00              1.80         2    1.000       0      0       0.0       0.0\n \
Sum      9/0    2.31 GB   0.0      7.5     2.0      5.5       9.7      4.2       0.0   2.1     40.1     52.0    190.50            170.25        80    2.381     91M    10M       0.0       0.0\n";
        assert_eq!(sum_of_levels(text), Some((9_700_000_000, 170.25)));
    }

    #[test]
    fn every_family_of_a_real_store_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.flush().unwrap();
        let families: Vec<&str> = store.work_by_family().iter().map(|f| f.family).collect();
        let every: Vec<&str> = CFS
            .iter()
            .chain(&projections::models::FAMILIES)
            .copied()
            .collect();
        assert_eq!(families, every);
    }

    #[test]
    fn an_unknown_form_is_not_guessed() {
        assert_eq!(
            sum_of_levels("** Compaction Stats [x] **\nnothing here\n"),
            None
        );
        assert_eq!(
            sum_of_levels("Level Files Size Score\n Sum 1/0 1 GB 0.0\n"),
            None
        );
    }
}
