//! What an operator watches and controls in a running ratel: the metrics it exports, its
//! health and readiness, the stop a signal asks for, and the small HTTP endpoint that serves
//! them beside `ratel run`. The lowest layer: every other may report through it.

pub mod config;
pub mod endpoint;
pub mod health;
pub mod http;
pub mod metrics;
pub mod shutdown;
