//! One thing wrong with a catalog, named by the item it is in: a catalog is checked whole, and
//! every problem is reported at once.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub item: String,
    pub problem: String,
}
