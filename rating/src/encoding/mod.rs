//! Wire forms, at the top because they name everything below: the JSON input form and the
//! versioned binary form of the log (codec), an account's stored record, the read models'
//! requests decoded from untrusted text, and a charge named by the network for a refund.

mod account_form;
pub mod charge_reference;
pub mod codec;
pub mod record;
pub mod request;
