//! Where input lines come from, below everything else: a source of lines with positions, the
//! input topics, which partition a line belongs to, and a file read as the topics it would be
//! produced to.

pub mod file_topics;
pub mod partition;
pub mod source;
pub mod topics;
