//! Wire forms, at the top because they name everything below: the JSON input form and the
//! versioned binary form of the log (codec), an account's stored record, and the read models'
//! requests decoded from untrusted text.

pub mod codec;
pub mod record;
pub mod request;
