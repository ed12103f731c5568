//! Where input lines come from, below everything else: a source of lines with positions, the
//! input topics, which partition a line belongs to, a file read as the topics it would be
//! produced to, and what a store remembers of each file it read.

pub mod file_record;
pub mod file_topics;
pub mod folder;
pub mod partition;
pub mod source;
pub mod topics;
