//! Longest-prefix lookup of a dialled number: a digit trie, so that lookup costs one step per
//! digit whatever the size of the table (hundreds of thousands of prefixes load in well under a
//! second and look up in constant time).

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    child: [u32; 10],
    value: u32,
}

const EMPTY: Node = Node {
    child: [NONE; 10],
    value: NONE,
};

#[derive(Clone)]
pub struct PrefixTable {
    nodes: Vec<Node>,
}

impl std::fmt::Debug for PrefixTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrefixTable({} nodes)", self.nodes.len())
    }
}

impl Default for PrefixTable {
    fn default() -> Self {
        PrefixTable { nodes: vec![EMPTY] }
    }
}

/// The digits of a number: a leading '+' is dropped; anything else that is not a digit is refused.
pub fn digits(number: &str) -> Option<&[u8]> {
    let b = number.as_bytes();
    let b = b.strip_prefix(b"+").unwrap_or(b);
    if b.is_empty() || b.len() > 32 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b)
}

impl PrefixTable {
    /// Inserts `prefix` → `value`; returns the value it displaced, if the prefix was already there.
    pub fn insert(&mut self, prefix: &[u8], value: u32) -> Option<u32> {
        debug_assert!(value != NONE);
        let mut at = 0usize;
        for &c in prefix {
            let d = (c - b'0') as usize;
            let next = self.nodes[at].child[d];
            at = if next == NONE {
                self.nodes.push(EMPTY);
                let n = (self.nodes.len() - 1) as u32;
                self.nodes[at].child[d] = n;
                n as usize
            } else {
                next as usize
            };
        }
        let old = std::mem::replace(&mut self.nodes[at].value, value);
        (old != NONE).then_some(old)
    }

    /// The value of the longest prefix of `number` in the table.
    pub fn longest(&self, number: &[u8]) -> Option<u32> {
        let mut at = 0usize;
        let mut best = self.nodes[0].value;
        for &c in number {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            let next = self.nodes[at].child[d as usize];
            if next == NONE {
                break;
            }
            at = next as usize;
            if self.nodes[at].value != NONE {
                best = self.nodes[at].value;
            }
        }
        (best != NONE).then_some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut t = PrefixTable::default();
        t.insert(b"7", 1);
        t.insert(b"7900", 2);
        t.insert(b"79001", 3);
        assert_eq!(t.longest(b"79001234567"), Some(3));
        assert_eq!(t.longest(b"79009999999"), Some(2));
        assert_eq!(t.longest(b"74951234567"), Some(1));
        assert_eq!(t.longest(b"8800"), None);
        assert_eq!(digits("+79001234567"), Some(&b"79001234567"[..]));
        assert_eq!(digits("7900-123"), None);
    }

    #[test]
    fn a_large_table_builds_and_answers() {
        let mut t = PrefixTable::default();
        for i in 0..200_000u32 {
            t.insert(format!("{}", 1_000_000 + i * 7).as_bytes(), i);
        }
        assert_eq!(t.longest(b"100000700"), Some(1));
    }
}
