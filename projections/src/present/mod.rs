//! What people read, built from the models: balance and packages of an account, and a
//! detalization as CSV, JSON or a printable PDF.

pub mod export;
pub mod pdf;
pub mod view;
