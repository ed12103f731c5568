//! Where an export starts and where the next one starts: each partition's next sequence
//! number of the log, written `0=1200,1=983`.

/// Where an export starts: each partition's first sequence number to export (absent: 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub Vec<u64>);

impl Cursor {
    /// `0=1200,1=983` (partition=next seq); empty: from the start.
    pub fn parse(text: &str) -> Result<Cursor, String> {
        let mut next = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (partition, seq) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: a cursor is partition=seq, comma separated"))?;
            let partition: usize = (partition.trim().parse())
                .map_err(|_| format!("{partition:?}: not a partition"))?;
            if partition >= crate::partition::MAX_PARTITIONS as usize {
                return Err(format!(
                    "partition {partition} is past the most a store has"
                ));
            }
            let seq: u64 =
                (seq.trim().parse()).map_err(|_| format!("{seq:?}: not a sequence number"))?;
            if next.len() <= partition {
                next.resize(partition + 1, 0);
            }
            next[partition] = seq;
        }
        Ok(Cursor(next))
    }

    pub(super) fn start(&self, partition: u32) -> u64 {
        self.0.get(partition as usize).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = (self.0.iter().enumerate())
            .map(|(partition, seq)| format!("{partition}={seq}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn a_cursor_reads_back_what_it_prints() {
        let cursor = Cursor::parse("2=7, 0=1200").unwrap();
        assert_eq!(cursor, Cursor(vec![1200, 0, 7]));
        assert_eq!(cursor.to_string(), "0=1200,1=0,2=7");
        assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
        assert_eq!(Cursor::parse("").unwrap(), Cursor::default());
        for bad in [
            "0",
            "=1",
            "0=",
            "a=1",
            "0=1=2",
            "-1=3",
            "0=18446744073709551616",
            "4096=1",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
