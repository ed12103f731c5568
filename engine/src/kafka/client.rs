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
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        // The engine's own limit, so that a larger message arrives and is dead-lettered rather
        // than stalling its partition.
        .set("message.max.bytes", "1000000")
        .set("socket.keepalive.enable", "true");
    // librdkafka's own debug contexts (e.g. `cgrp,fetch`), for diagnosing a cluster.
    if let Ok(d) = std::env::var("RATEL_KAFKA_DEBUG") {
        c.set("debug", d);
    }
    c
}
