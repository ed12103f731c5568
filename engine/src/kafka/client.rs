//! What every Kafka client of a run shares: its settings and its error.

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum KafkaSourceError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Topology(String),
}

/// Settings shared by every client of a run.
/// librdkafka properties the operator gave (`--kafka-property`, `[kafka]`): TLS, SASL and the
/// like, set on every client the process makes.
static PROPERTIES: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Sets the operator's librdkafka properties for every client made from now on.
pub fn set_properties(properties: Vec<(String, String)>) {
    *PROPERTIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = properties;
}

pub fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        // The engine's own limit, so that a larger message arrives and is dead-lettered rather
        // than stalling its partition.
        .set("message.max.bytes", "1000000")
        .set("socket.keepalive.enable", "true");
    // After ratel's defaults, so that the operator's win; before each client's own settings
    // (a consumer's group and offsets), which ratel's exactly-once rests on.
    for (key, value) in PROPERTIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        c.set(key, value);
    }
    // librdkafka's own debug contexts (e.g. `cgrp,fetch`), for diagnosing a cluster.
    if let Ok(d) = std::env::var("RATEL_KAFKA_DEBUG") {
        c.set("debug", d);
    }
    c
}
