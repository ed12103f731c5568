//! The metrics ratel exports, in Prometheus's text format: every name, its help and its
//! buckets live here (docs/operations.md lists them with their meaning). Code anywhere
//! records through the `metrics` facade; without [`install`] (a command run without a
//! metrics endpoint, a test) a record is a no-op.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Mutex, OnceLock};

pub const INPUTS: &str = "ratel_inputs_total";
pub const TICKS: &str = "ratel_ticks_total";
pub const DERIVED: &str = "ratel_derived_inputs_total";
pub const BATCH_LINES: &str = "ratel_batch_lines";
pub const RATING_SECONDS: &str = "ratel_rating_seconds";
pub const COMMIT_SECONDS: &str = "ratel_commit_seconds";
pub const CHANGELOG_SECONDS: &str = "ratel_changelog_publish_seconds";
pub const OUTBOX_SECONDS: &str = "ratel_outbox_publish_seconds";
pub const CONSUMER_LAG: &str = "ratel_consumer_lag_messages";
pub const IN_FLIGHT: &str = "ratel_batches_in_flight";
pub const OUTBOX_BACKLOG: &str = "ratel_outbox_backlog_entries";
pub const PARTITIONS_OWNED: &str = "ratel_partitions_owned";
pub const REBALANCES: &str = "ratel_rebalances_total";
pub const WATERMARK: &str = "ratel_event_time_watermark_seconds";
pub const READY: &str = "ratel_ready";
pub const PENDING_COMPACTION: &str = "ratel_rocksdb_pending_compaction_bytes";
pub const MEMTABLES: &str = "ratel_rocksdb_memtable_bytes";
pub const LIVE_SST: &str = "ratel_rocksdb_live_sst_bytes";
pub const WRITE_STALL: &str = "ratel_rocksdb_write_stall_seconds_total";
pub const BLOCK_CACHE_HITS: &str = "ratel_rocksdb_block_cache_hits_total";
pub const BLOCK_CACHE_MISSES: &str = "ratel_rocksdb_block_cache_misses_total";
pub const HTTP_REQUESTS: &str = "ratel_http_requests_total";
pub const HTTP_SECONDS: &str = "ratel_http_request_duration_seconds";
pub const ONLINE_REQUESTS: &str = "ratel_online_requests_total";
pub const ONLINE_SECONDS: &str = "ratel_online_answer_seconds";
pub const ONLINE_GROUP: &str = "ratel_online_group_requests";
pub const ONLINE_EXPIRED: &str = "ratel_online_sessions_expired_total";
pub const ACCOUNTS_HELD: &str = "ratel_accounts_held";
pub const ACCOUNTS_HELD_BYTES: &str = "ratel_accounts_held_bytes";
pub const ACCOUNTS_EVICTED: &str = "ratel_accounts_evicted_total";
pub const ACCOUNT_HITS: &str = "ratel_account_cache_hits_total";
pub const ACCOUNTS_READ: &str = "ratel_accounts_read_total";

/// Every metric ratel exports itself (histograms also as `_bucket`, `_sum` and `_count`).
pub const NAMES: [&str; 32] = [
    INPUTS,
    TICKS,
    DERIVED,
    BATCH_LINES,
    RATING_SECONDS,
    COMMIT_SECONDS,
    CHANGELOG_SECONDS,
    OUTBOX_SECONDS,
    CONSUMER_LAG,
    IN_FLIGHT,
    OUTBOX_BACKLOG,
    PARTITIONS_OWNED,
    REBALANCES,
    WATERMARK,
    READY,
    PENDING_COMPACTION,
    MEMTABLES,
    LIVE_SST,
    WRITE_STALL,
    BLOCK_CACHE_HITS,
    BLOCK_CACHE_MISSES,
    HTTP_REQUESTS,
    HTTP_SECONDS,
    ONLINE_REQUESTS,
    ONLINE_SECONDS,
    ONLINE_GROUP,
    ONLINE_EXPIRED,
    ACCOUNTS_HELD,
    ACCOUNTS_HELD_BYTES,
    ACCOUNTS_EVICTED,
    ACCOUNT_HITS,
    ACCOUNTS_READ,
];

/// The process's own figures (CPU, memory, descriptors), Prometheus's standard `process_*`.
pub const PROCESS_PREFIX: &str = "process_";

/// Latency buckets, in seconds: a synced commit takes milliseconds, a broker's answer may take
/// seconds.
const SECONDS_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const LINES_BUCKETS: [f64; 10] = [
    1.0, 10.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 50_000.0, 100_000.0,
];

/// How often histograms are drained.
const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(String);

/// The figures read when scraped, not recorded as they happen (the store's, the process's).
type Scrape = Box<dyn Fn() + Send + Sync>;
static SCRAPE: Mutex<Option<Scrape>> = Mutex::new(None);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> Result<&'static PrometheusHandle, MetricsError> {
    if let Some(h) = HANDLE.get() {
        return Ok(h);
    }
    let err = |e: metrics_exporter_prometheus::BuildError| MetricsError(e.to_string());
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        .map_err(err)?
        .set_buckets_for_metric(Matcher::Full(BATCH_LINES.into()), &LINES_BUCKETS)
        .map_err(err)?
        .set_buckets_for_metric(Matcher::Full(ONLINE_GROUP.into()), &LINES_BUCKETS)
        .map_err(err)?
        .install_recorder()
        .map_err(err)?;
    describe();
    metrics_process::Collector::default().describe();
    let handle = HANDLE.get_or_init(|| handle);
    // Histograms keep their samples until drained: drained every few seconds, scraped or not.
    std::thread::Builder::new()
        .name("ratel-metrics-upkeep".into())
        .spawn(|| loop {
            std::thread::sleep(UPKEEP);
            handle.run_upkeep();
        })
        .map_err(|e| MetricsError(e.to_string()))?;
    Ok(handle)
}

/// The text a scrape gets: what was recorded, and the figures read now.
pub fn render() -> String {
    let Some(handle) = HANDLE.get() else {
        return String::new();
    };
    metrics_process::Collector::default().collect();
    if let Some(scrape) = SCRAPE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        scrape();
    }
    handle.render()
}

/// What to read at each scrape (the store's figures); replaces what was set before.
pub fn on_scrape(read: Scrape) {
    *SCRAPE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(read);
}

fn describe() {
    describe_counter!(INPUTS, "Inputs decided since the process started, by outcome (rated, rejected, duplicate, dead) and, for a rejection, its reason.");
    describe_counter!(
        TICKS,
        "Ticks (the day's renewals, expiries and lifecycle rules) generated."
    );
    describe_counter!(
        DERIVED,
        "Inputs the engine made from its own decisions (a transfer's credit or refund)."
    );
    describe_histogram!(BATCH_LINES, "Lines in each batch rated.");
    describe_histogram!(
        RATING_SECONDS,
        Unit::Seconds,
        "Time to rate a batch into its write."
    );
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "Time to write a batch to RocksDB (with the WAL's sync unless --no-sync)."
    );
    describe_histogram!(
        CHANGELOG_SECONDS,
        Unit::Seconds,
        "Time to publish a batch's changelog pieces and have the broker acknowledge them."
    );
    describe_histogram!(
        OUTBOX_SECONDS,
        Unit::Seconds,
        "Time to publish a batch's decisions, notifications and dead letters to the output topics."
    );
    describe_gauge!(CONSUMER_LAG, "Messages of an input topic partition not yet committed: the broker's high watermark minus the offset in RocksDB.");
    describe_gauge!(
        IN_FLIGHT,
        "Batches rated and not yet durable (waiting for the changelog or the commit)."
    );
    describe_gauge!(
        OUTBOX_BACKLOG,
        "Log entries committed and not yet published to the output topics."
    );
    describe_sources();
    describe_store_and_http();
    describe_online();
}

fn describe_online() {
    describe_counter!(ONLINE_REQUESTS, "Online charging requests answered (`ratel online`), by interface (diameter, http), request (initial, update, terminate, event, check_balance, price_enquiry, max_usage) and result (the Diameter Result-Code, or its HTTP equivalent's).");
    describe_histogram!(
        ONLINE_SECONDS,
        Unit::Seconds,
        "Time from an online request read to its answer ready: decided and durable (group commit included)."
    );
    describe_histogram!(
        ONLINE_GROUP,
        "Online requests (and expiries) committed by one synced write: the group commit's size."
    );
    describe_counter!(
        ONLINE_EXPIRED,
        "Online sessions ended by the server for want of reports (abandoned)."
    );
}

fn describe_sources() {
    describe_gauge!(PARTITIONS_OWNED, "Partitions this instance owns.");
    describe_counter!(REBALANCES, "Consumer group rebalances seen.");
    describe_gauge!(
        WATERMARK,
        Unit::Seconds,
        "The latest event time a partition accepted (Unix seconds)."
    );
    describe_gauge!(READY, "1 when /readyz answers 200.");
}

fn describe_store_and_http() {
    describe_gauge!(
        PENDING_COMPACTION,
        Unit::Bytes,
        "RocksDB's estimate of the bytes compaction has to rewrite."
    );
    describe_gauge!(MEMTABLES, Unit::Bytes, "RocksDB's memtables, all families.");
    describe_gauge!(
        ACCOUNTS_HELD,
        "Accounts held in memory (the store holds them all; --state-cache-mb bounds these)."
    );
    describe_gauge!(
        ACCOUNTS_HELD_BYTES,
        Unit::Bytes,
        "The estimated bytes of the accounts held in memory, which --state-cache-mb bounds."
    );
    describe_counter!(
        ACCOUNTS_EVICTED,
        "Accounts dropped from memory to keep within --state-cache-mb (read again from the store when next needed)."
    );
    describe_counter!(
        ACCOUNT_HITS,
        "Accounts a batch read that were held in memory already (each counted once a batch)."
    );
    describe_counter!(
        ACCOUNTS_READ,
        "Accounts a batch read that were read in from the store (the cache's misses)."
    );
    describe_gauge!(
        LIVE_SST,
        Unit::Bytes,
        "RocksDB's live table files, all families."
    );
    describe_counter!(
        WRITE_STALL,
        Unit::Seconds,
        "Time RocksDB held writes back for compaction to catch up."
    );
    describe_counter!(BLOCK_CACHE_HITS, "RocksDB block cache hits.");
    describe_counter!(BLOCK_CACHE_MISSES, "RocksDB block cache misses.");
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route and status."
    );
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by route."
    );
}
