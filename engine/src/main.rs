//! `ratel`: the command line of the rating engine. See README.md for every command.

// Product code only: a test may be a long story.
#![warn(clippy::too_many_lines)]

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use engine::file_topics::Opened;
use engine::folder::Folder;
use engine::pipeline::meter::Meter;
use engine::pipeline::{recorded_catalog, Config, Engine, DEFAULT_BATCH};
use engine::query::{self, Scope};
use engine::report::{account_view, stats};
use engine::store::Store;
use engine::workload::Workload;
use indicatif::{ProgressBar, ProgressStyle};
use rating::{Catalog, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};

/// mimalloc, not glibc's malloc: replay's reader thread allocates each input that the rating
/// thread frees, and glibc's arenas made that handoff a fifth of replay's time (`_int_free`,
/// `malloc_consolidate`, pages faulted in again); the rating thread allocates per event too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ratel",
    version,
    about = "Event-sourced billing and rating for mobile operators"
)]
struct Cli {
    /// Hide progress bars.
    #[arg(long, global = true)]
    quiet: bool,
    /// How log lines (on standard error, filtered by RATEL_LOG, default `warn`) are written:
    /// `text` for a person, `json` for a log collector (one object a line, with the fields
    /// of the event and of the spans it is in).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Settings of `run` and `serve` from a TOML file (see docs/operations.md): beneath their
    /// RATEL_* environment variables, which are beneath the flags.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum CgratesCmd {
    /// Read a CGRateS tariff-plan folder and write a ratel catalog that prices the same way.
    Import {
        /// The folder with Destinations.csv, Timings.csv, Rates.csv, DestinationRates.csv,
        /// RatingPlans.csv and RatingProfiles.csv (missing files are empty).
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// CGRateS's global rounding decimals (general.rounding_decimals; 5 by default there).
        #[arg(long, default_value_t = 5)]
        rounding_decimals: u32,
        /// Catalog id; default the folder's name.
        #[arg(long)]
        id: Option<String>,
        /// CGRateS plans name no currency; ratel's catalog does.
        #[arg(long, default_value = "XXX")]
        currency: String,
        #[arg(long, default_value_t = 4)]
        currency_decimals: u32,
        /// Time zone in which account usage is priced (IANA name).
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
}

#[derive(Subcommand)]
enum ProjectionsCmd {
    /// Delete every read model and project the whole log again.
    Rebuild {
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a workload, rate it into a local store, and print a summary (no Kafka needed).
    Demo(DemoArgs),
    /// Rate a source into the store at --data, resuming where the last commit ended.
    Run(RunArgs),
    /// Charge online: serve Diameter credit-control (Gy/Ro) requests, each decided into the
    /// store's log and durable before it is answered.
    Online(OnlineArgs),
    /// Publish a workload file to the Kafka input topics, keyed by account and timestamped with
    /// event time, as ratel expects them.
    Produce(ProduceArgs),
    /// Write a deterministic synthetic workload (JSON lines).
    Gen(GenArgs),
    /// Rebuild state from the log and check every decision byte for byte.
    Replay(ReplayArgs),
    /// Check the store independently: balances from payments, charges and fees; buckets from
    /// grants, takes and expiries; no id taking effect twice; every line read accounted for.
    /// Exit 1 on any discrepancy.
    Audit(AuditArgs),
    /// Rate the recorded inputs again with another catalog; report every movement that differs
    /// (usage, each fee, payments and transfers, package units granted), by decision and by
    /// account and kind.
    Rerate(RerateArgs),
    /// Price a hypothetical usage item: on a plan (--plan), or CGRateS-style (--tenant, with a
    /// catalog imported by `ratel cgrates import`).
    Quote(QuoteArgs),
    /// CGRateS compatibility.
    Cgrates(CgratesArgs),
    /// Balance of an account (by id or by one of its numbers): balance, credit limit, status,
    /// this month's spending per number. `--all`: the state of every account, a JSON line each.
    Balance(BalanceArgs),
    /// Remaining packages of a number: each bucket's total, used, remaining, validity and origin.
    Packages(PackagesArgs),
    /// Itemised usage and fees of a number in a period, as CSV, JSON or PDF.
    Detalization(DetalizationArgs),
    /// Spending by month and category of an account (with its payments) or of a number.
    Spending(SpendingArgs),
    /// The read models.
    Projections(ProjectionsArgs),
    /// Serve the read models over HTTP (JSON API, OpenAPI at /openapi.json, the self-care page
    /// at /self-care), following the store while `ratel run` writes it.
    Serve(ServeArgs),
    /// Counters of the store: read, rated, rejected, duplicates, dead letters; rejections by
    /// reason; the log's digest.
    Stats(StatsArgs),
    /// Why an input was decided as it was: its input, outcome (with the reason of a rejection),
    /// the money and buckets moved, the balance before and after, the price, the log position.
    Explain(ExplainArgs),
    /// List decisions: an account's, a number's holders', or the whole log's, filtered.
    Log(LogArgs),
    /// Write every decision of a period for the data warehouse (JSON lines, CSV or Parquet):
    /// input fields, outcome, money by kind, units from buckets, price, account, log position.
    Export(ExportArgs),
    /// The configuration file (`--config FILE`).
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate the file (with the RATEL_* environment) and print the effective settings of
    /// each command, secrets redacted.
    Check,
}

#[derive(clap::Args)]
struct DemoArgs {
    #[arg(long, default_value = "./ratel-data")]
    data: PathBuf,
    #[arg(long, default_value_t = 2_000)]
    accounts: u64,
    #[arg(long, default_value_t = 31)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long)]
    catalog: PathBuf,
    #[arg(long)]
    data: PathBuf,
    /// `file:PATH` (one JSON event per line), `dir:PATH` (a folder's files in name order, and
    /// those that arrive; a name that begins with `.` or ends `.tmp` or `.part` is left for its
    /// writer to rename), `gen:SPEC` (a generated workload, as `ratel gen` makes it, fed as it
    /// is made: `gen:accounts=1000000,days=3,events=8`; keys accounts, days, events, seed,
    /// duplicates, bad, transfers), or `kafka:BROKERS` (the input topics).
    #[arg(long)]
    source: String,
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    batch: usize,
    /// Do not sync the WAL per batch (experiments only: a crash may lose the last batches).
    #[arg(long)]
    no_sync: bool,
    /// Spread a file's accounts over this many partitions, as `ratel produce` spreads them
    /// over the input topics' (a Kafka source takes the topics' count). Fixed for a store.
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// How many hours of event time an account remembers its inputs' ids: a repeat within
    /// them is a duplicate, an input older than its account's latest by more is refused as
    /// too late. Fixed when the store is made (default 72).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=9600))]
    window_hours: Option<u32>,
    /// Write the changed accounts' records once this many log entries follow the last
    /// checkpoint (a start, and a reader of the store, apply the entries after it again), and
    /// four for each record to write (at most four times this many); 1 writes them with
    /// every batch.
    #[arg(long, default_value_t = engine::pipeline::DEFAULT_CHECKPOINT,
          value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    checkpoint_every: u64,
    /// Megabytes of accounts kept in memory beyond those the batches in flight read: the
    /// store holds every account, and an account not held is read from it when an input needs
    /// it. The memory of a run is bounded by this, not by the number of accounts.
    #[arg(long, default_value_t = engine::pipeline::DEFAULT_CACHE_MB,
          value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    state_cache_mb: u64,
    /// An input more than this many hours of event time ahead of its partition's clock (the
    /// latest event time it accepted) is dead-lettered, not rated: a clock years off
    /// upstream would tick every account to its date. Raise it for the run that catches up
    /// after an outage longer than the bound.
    #[arg(long, default_value_t = (engine::pipeline::DEFAULT_MAX_AHEAD / 3600) as u32,
          value_parser = clap::value_parser!(u32).range(1..=876_000))]
    max_ahead_hours: u32,
    /// A file source is complete (its writer closed it): a last line without its newline is
    /// rated. Without this, such a line is left unread for a later run, as a writer may
    /// still be appending it.
    #[arg(long)]
    complete: bool,
    /// Accept a catalog that changes what the stored balances and buckets mean (currency,
    /// decimals, time zone, a package's unit or services) without converting them: a
    /// deliberate migration, recorded in the log with what changed.
    #[arg(long)]
    migrate_catalog: bool,
    /// Kafka consumer group.
    #[arg(long, default_value = "ratel")]
    group: String,
    /// Kafka: this instance's stable name in the group (static membership), so that a
    /// restart takes its partitions back at once.
    #[arg(long)]
    instance: Option<String>,
    /// Kafka: stop once every assigned partition has been at its end this many seconds; a
    /// folder: once every file in it is rated and none has come for this many seconds (batch
    /// jobs and tests). By default run until killed.
    #[arg(long)]
    exit_when_idle: Option<f64>,
    /// A folder source: move each file into this folder (on the same file system) once all
    /// its lines are committed. Without it, the operator's files are left where they are.
    #[arg(long)]
    done_dir: Option<PathBuf>,
    /// Kafka: do not publish decisions, notifications and dead letters.
    #[arg(long)]
    no_publish: bool,
    /// Kafka: publish without the idempotent producer (for brokers without it).
    #[arg(long)]
    no_idempotence: bool,
    /// Kafka: the changelog topic (created with the input topics' partition count): each
    /// batch's writes per partition go there before they are committed, and an instance
    /// given a partition restores its state from there before it reads the inputs.
    #[arg(long, default_value = engine::changelog::DEFAULT_TOPIC)]
    changelog_topic: String,
    /// Kafka: keep no changelog (a partition that moves is rated again from its inputs).
    #[arg(long)]
    no_changelog: bool,
    /// Serve `/metrics` (Prometheus), `/healthz` and `/readyz` on this address, e.g.
    /// 127.0.0.1:9898. Without it, nothing listens.
    #[arg(long)]
    metrics: Option<std::net::SocketAddr>,
    /// Kafka: `/readyz` answers 200 once every partition this instance owns is within this
    /// many messages of its end on every input topic (a file or folder source is ready once
    /// its store is open).
    #[arg(long, default_value_t = engine::kafka::watch::DEFAULT_READY_LAG)]
    ready_max_lag: u64,
    /// Kafka: a librdkafka property for every client of the run, KEY=VALUE (repeatable; the
    /// configuration file's `[kafka]` table), e.g. security.protocol=SASL_SSL.
    #[arg(long, value_name = "KEY=VALUE")]
    kafka_property: Vec<String>,
    #[command(flatten)]
    topics: engine::kafka::Topics,
}

#[derive(clap::Args)]
struct ProduceArgs {
    #[arg(long)]
    brokers: String,
    /// `file:PATH`.
    #[arg(long)]
    source: String,
    /// Create the input and output topics that are missing, with this many partitions.
    #[arg(long)]
    create: Option<u32>,
    /// Publish without the idempotent producer (for brokers without it).
    #[arg(long)]
    no_idempotence: bool,
    /// At most this many messages in one record batch (1 to 1 000 000).
    #[arg(long, default_value_t = engine::kafka::BATCH_MESSAGES,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    batch_messages: u32,
    /// Publish from the line after the first N (blank lines not counted); the lines skipped
    /// are still read, so that a number is keyed by the account that opened it there.
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// Publish at most N lines.
    #[arg(long)]
    take: Option<u64>,
    #[command(flatten)]
    topics: engine::kafka::Topics,
}

#[derive(clap::Args)]
struct GenArgs {
    /// The file to write, or `-` for the standard output. Lines are written as they are made:
    /// memory does not grow with the accounts or the days (the subscriber base and its
    /// activity: `engine/src/tools/population.rs`).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1_000)]
    accounts: u64,
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Mean events per account per day.
    #[arg(long, default_value_t = 8.0)]
    events_per_day: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fraction of lines delivered twice.
    #[arg(long, default_value_t = 0.001)]
    duplicates: f64,
    /// Fraction of bad lines.
    #[arg(long, default_value_t = 0.0005)]
    bad: f64,
    /// No money transfers between accounts (for comparing a file run with a Kafka run: a
    /// transfer's credit lands where the receiver's partition is when it arrives).
    #[arg(long)]
    no_transfers: bool,
}

#[derive(clap::Args)]
struct ReplayArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    json: bool,
    /// Megabytes of rebuilt accounts kept in memory; the others wait in a scratch store on
    /// disk. The memory of a replay is bounded by this, not by the number of accounts.
    #[arg(long, default_value_t = engine::pipeline::DEFAULT_CACHE_MB,
          value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    state_cache_mb: u64,
    /// The folder the scratch store is made in (and removed from when the replay ends); the
    /// system's temporary folder ($TMPDIR) by default. It takes about the size of the
    /// store's account records.
    #[arg(long)]
    scratch: Option<PathBuf>,
}

#[derive(clap::Args)]
struct AuditArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RerateArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    catalog: PathBuf,
    /// RFC 3339: decisions at or after this event time.
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339: decisions before this event time.
    #[arg(long)]
    to: Option<String>,
    /// CSV report.
    #[arg(long)]
    out: PathBuf,
    /// Also write the corrections that make the store follow the new catalog to this file
    /// (JSON lines: an `adjust` an account, a `grant` or a `take` a number and package whose
    /// live units differ), to be rated like any input. Their ids name the re-rating, so applying it twice adds nothing.
    #[arg(long)]
    apply: Option<PathBuf>,
}

#[derive(clap::Args)]
struct QuoteArgs {
    #[arg(long)]
    catalog: PathBuf,
    #[arg(long, conflicts_with = "tenant", required_unless_present = "tenant")]
    plan: Option<String>,
    #[arg(long, value_delimiter = ',')]
    options: Vec<String>,
    /// voice, sms, mms or data.
    #[arg(long)]
    service: String,
    #[arg(long, default_value = "out")]
    direction: String,
    #[arg(long)]
    other: Option<String>,
    /// RFC 3339; for a CGRateS quote its offset is the call's own time zone.
    #[arg(long)]
    start: String,
    /// Seconds, messages or bytes (with --plan).
    #[arg(long, required_unless_present = "tenant")]
    quantity: Option<u64>,
    /// CGRateS tenant.
    #[arg(long, requires_all = ["subject", "destination", "usage"])]
    tenant: Option<String>,
    /// CGRateS category.
    #[arg(long, default_value = "call")]
    category: String,
    /// CGRateS subject (the account or the calling number).
    #[arg(long)]
    subject: Option<String>,
    /// Dialled number, matched literally against CGRateS destination prefixes.
    #[arg(long)]
    destination: Option<String>,
    /// CGRateS usage: a duration for voice (120s, 2m30s), a count for SMS/MMS, bytes for data.
    #[arg(long)]
    usage: Option<String>,
    /// Print the breakdown (spans, increments, connect fee, rounding) as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct CgratesArgs {
    #[command(subcommand)]
    cmd: CgratesCmd,
}

#[derive(clap::Args)]
struct BalanceArgs {
    #[arg(long)]
    data: PathBuf,
    /// Account id or MSISDN.
    who: Option<String>,
    /// Every account's state (numbers, plans, buckets), one JSON line each, sorted by id.
    #[arg(long)]
    all: bool,
}

#[derive(clap::Args)]
struct PackagesArgs {
    #[arg(long)]
    data: PathBuf,
    msisdn: String,
}

#[derive(clap::Args)]
struct DetalizationArgs {
    #[arg(long)]
    data: PathBuf,
    /// A number, or an account id: all the account's numbers, each row naming its number.
    who: String,
    /// A calendar month, YYYY-MM (default: the month of the latest event).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// RFC 3339, inclusive.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// RFC 3339, exclusive.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Only these services: voice, sms, mms, data, fee, report, adjustment, grant.
    #[arg(long, value_delimiter = ',')]
    service: Vec<String>,
    #[arg(long, default_value = "json", value_parser = ["csv", "json", "pdf"])]
    format: String,
    /// Default: standard output (not for PDF).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only what happened while this account held the number (default: every holder's, each
    /// row naming its account).
    #[arg(long)]
    account: Option<String>,
}

#[derive(clap::Args)]
struct SpendingArgs {
    #[arg(long)]
    data: PathBuf,
    /// Account id, MSISDN, or ACCOUNT/GROUP (the sum of a group's numbers).
    who: String,
    /// First month, YYYY-MM (default: eleven months before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last month, YYYY-MM (default: the month of the latest event).
    #[arg(long)]
    to: Option<String>,
    /// Of a number: only while this account held it (default: the sum of every holder's).
    #[arg(long)]
    account: Option<String>,
}

#[derive(clap::Args)]
struct ProjectionsArgs {
    #[command(subcommand)]
    cmd: ProjectionsCmd,
}

#[derive(clap::Args)]
struct OnlineArgs {
    #[arg(long)]
    catalog: PathBuf,
    #[arg(long)]
    data: PathBuf,
    /// Megabytes of accounts kept in memory beyond those the batches in flight read: the
    /// store holds every account, and an account not held is read from it when an input needs
    /// it. The memory of a run is bounded by this, not by the number of accounts.
    #[arg(long, default_value_t = engine::pipeline::DEFAULT_CACHE_MB,
          value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    state_cache_mb: u64,
    /// Where the Diameter server listens (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:3868")]
    diameter: std::net::SocketAddr,
    /// Origin-Host of every answer: this instance's Diameter identity.
    #[arg(long, default_value = "ratel.localdomain")]
    origin_host: String,
    #[arg(long, default_value = "localdomain")]
    origin_realm: String,
    /// How many partitions the store's accounts are spread over (fixed for a store).
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// Serve `/metrics`, `/healthz` and `/readyz` on this address.
    #[arg(long)]
    metrics: Option<std::net::SocketAddr>,
    /// Serve the HTTP JSON equivalent of credit control on this address (needs --tokens).
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// TOML: [[tokens]] with token and role = "operator" (only operators charge online).
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Rate offline inputs too, between online requests, in this process: `file:PATH` or
    /// `dir:PATH`, as `ratel run` reads them, or `kafka:BROKERS`: the input topics as a member
    /// of the consumer group, answering online only for the accounts of the partitions this
    /// instance is given (3006 with the owner's Diameter URI for the others).
    #[arg(long)]
    source: Option<String>,
    /// Kafka: the consumer group the instances share.
    #[arg(long, default_value = "ratel")]
    group: String,
    /// Kafka: this instance's stable name in the group (static membership).
    #[arg(long)]
    instance: Option<String>,
    /// Kafka: the changelog topic partitions are handed over through (as `ratel run`'s).
    #[arg(long, default_value = engine::changelog::DEFAULT_TOPIC)]
    changelog_topic: String,
    /// Kafka: keep no changelog (a partition that moves is rated again from its inputs).
    #[arg(long)]
    no_changelog: bool,
    /// Kafka: the directory topic (one partition, compacted): which partition holds each
    /// number and which instance owns each partition.
    #[arg(long, default_value = engine::directory::DEFAULT_TOPIC)]
    directory_topic: String,
    /// Kafka: the folder the directory's local copy is made in, on disk (and removed from at
    /// exit); the system's temporary folder if not given.
    #[arg(long, value_name = "DIR")]
    directory_scratch: Option<PathBuf>,
    /// Kafka: the Diameter URI other instances redirect this instance's subscribers' requests
    /// to (Redirect-Host); by default `aaa://ORIGIN-HOST:PORT;transport=tcp`, the port the
    /// server listens on.
    #[arg(long)]
    advertise: Option<String>,
    /// Kafka: a librdkafka property for every client, KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    kafka_property: Vec<String>,
    #[command(flatten)]
    topics: engine::kafka::Topics,
    /// The source file is whole: its last line counts even without its newline.
    #[arg(long)]
    complete: bool,
    /// Lines of the offline source rated in one batch; online requests wait at most for one.
    #[arg(long, default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch: u64,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long)]
    data: PathBuf,
    /// Loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// TOML: [[tokens]] with token and role = "operator", or token and account = "ID".
    #[arg(long)]
    tokens: PathBuf,
    /// Connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, default_value_t = engine::serve::Limits::default().connections as u32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_connections: u32,
    /// Seconds a client may take to send a request's headers, and may leave a connection
    /// idle between requests.
    #[arg(long, default_value_t = engine::serve::Limits::default().header.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    header_timeout_secs: u64,
}

#[derive(clap::Args)]
struct StatsArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ExplainArgs {
    #[arg(long)]
    data: PathBuf,
    /// The input's id (a repeat of it, decided a duplicate, is shown too).
    event: String,
    /// The account it concerns, if known: then only its entries are read, not the whole log.
    #[arg(long)]
    account: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct LogArgs {
    #[arg(long)]
    data: PathBuf,
    /// An account's decisions.
    #[arg(long, conflicts_with = "msisdn")]
    account: Option<String>,
    /// The decisions of inputs that name this number (read through its holders' entries).
    #[arg(long)]
    msisdn: Option<String>,
    /// RFC 3339, inclusive: by the decision's event time.
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339, exclusive.
    #[arg(long)]
    to: Option<String>,
    /// Only this outcome: charged, rejected, duplicate, paid, opened, ticked, dead, …
    #[arg(long)]
    outcome: Option<String>,
    /// Only rejections with this reason code (unknown_number, no_rate, …).
    #[arg(long)]
    reason: Option<String>,
    /// One JSON object a line (as `ratel explain --json` gives each).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ExportArgs {
    #[arg(long)]
    data: PathBuf,
    /// RFC 3339, inclusive: decisions by their event time. With a period, dead letters (which
    /// have none) are left out.
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339, exclusive.
    #[arg(long)]
    to: Option<String>,
    /// Start after an earlier export: the cursor it reported (`0=1200,1=983`: each partition's
    /// next sequence number).
    #[arg(long, default_value = "")]
    after: String,
    #[arg(long, value_enum)]
    format: engine::warehouse::Format,
    /// The file to write; it appears whole when the export ends (written beside it first).
    #[arg(long)]
    out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn bar(quiet: bool, len: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{elapsed_precise}] {wide_bar} {percent:>3}% {per_sec}",
        )
        .expect("template"),
    );
    b.set_message(what.to_string());
    b
}

/// Writes the workload to `path` (`-`: the standard output) with a progress bar by day;
/// returns the number of lines.
fn generate(workload: &Workload, path: &Path, quiet: bool) -> Result<u64> {
    let pb = bar(quiet, u64::from(workload.days), "generating");
    let out: Box<dyn Write> = if path == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Box::new(file)
    };
    let mut f = std::io::BufWriter::with_capacity(1 << 20, out);
    let lines = workload.write(&mut f, |d| pb.set_position(u64::from(d)))?;
    f.flush()?;
    pb.finish_and_clear();
    Ok(lines)
}

fn load_catalog(path: &Path) -> Result<(Catalog, Vec<u8>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading catalog {}", path.display()))?;
    let cat = Catalog::from_bytes(&path.display().to_string(), &bytes)?;
    Ok((cat, bytes))
}

fn time_arg(text: &Option<String>, default: Timestamp) -> Result<Timestamp> {
    match text {
        None => Ok(default),
        Some(text) => Timestamp::parse_rfc3339(text).map_err(anyhow::Error::msg),
    }
}

/// How a file or folder source is read.
struct FileReading {
    complete: bool,
    done_dir: Option<PathBuf>,
    exit_when_idle: Option<std::time::Duration>,
}

fn run(
    cat: Catalog,
    bytes: &[u8],
    data: &Path,
    source: &str,
    cfg: Config,
    reading: FileReading,
    quiet: bool,
) -> Result<Engine> {
    // A bad spec is refused before a store is made for it.
    if let Some(spec) = source.strip_prefix("gen:") {
        Workload::from_spec(spec).map_err(|problem| anyhow::anyhow!("gen:{spec}: {problem}"))?;
    }
    let mut engine = Engine::open(data, cat, bytes, cfg)?;
    engine::operations::health::ready();
    if let Some(dir) = source.strip_prefix("dir:") {
        run_folder(&mut engine, Path::new(dir), reading, quiet)?;
        return Ok(engine);
    }
    if reading.done_dir.is_some() {
        bail!("--done-dir is for a folder source (dir:PATH)");
    }
    if let Some(spec) = source.strip_prefix("gen:") {
        let mut generated = engine::generated::Generated::open(&engine, spec)?;
        run_counting(&mut engine, &mut generated, quiet)?;
        return Ok(engine);
    }
    let Some(path) = source.strip_prefix("file:") else {
        bail!("unknown source {source:?}: use file:PATH, dir:PATH, gen:SPEC or kafka:BROKERS");
    };
    let opened = engine
        .file_topics(Path::new(path), reading.complete)
        .with_context(|| format!("reading {path}"))?;
    let Opened::Topics(mut src) = opened else {
        eprintln!("ratel: {path} was read to its end before: skipped");
        return Ok(engine);
    };
    let pb = bar(quiet, src.size_in_bytes(), "rating");
    let mut meter = Meter::default();
    engine.run(&mut *src, |e, end| {
        meter.look(e);
        pb.set_position(end);
    })?;
    meter.look(&engine);
    pb.finish_and_clear();
    if src.unfinished() > 0 {
        eprintln!(
            "ratel: the last {} bytes of {path} are a line without its end, left for the next run \
             (give --complete once its writer has closed the file)",
            src.unfinished()
        );
    }
    Ok(engine)
}

/// The folder source of `dir` for `engine`'s store: its files placed as the store places them.
fn folder_of(engine: &Engine, dir: &Path) -> std::io::Result<Folder> {
    let store = engine.store.clone();
    let placement = engine.placement(true);
    let open: engine::folder::Opener = Box::new(move |path, numbers| {
        engine::files::open(&store, path, placement, numbers).map_err(std::io::Error::other)
    });
    let numbers = engine.known_numbers().map_err(std::io::Error::other)?;
    Folder::new(dir.to_path_buf(), open, numbers)
}

/// Rates the files of a folder in name order, and those that arrive (`engine::folder`).
fn run_folder(engine: &mut Engine, dir: &Path, reading: FileReading, quiet: bool) -> Result<()> {
    let mut src = folder_of(engine, dir)
        .and_then(|f| f.done_dir(reading.done_dir))
        .with_context(|| format!("reading {}", dir.display()))?
        .exit_when_idle(reading.exit_when_idle);
    run_counting(engine, &mut src, quiet)?;
    eprintln!(
        "ratel: {}: {} files read to their end, {} skipped as read before",
        dir.display(),
        src.finished,
        src.skipped
    );
    Ok(())
}

/// Runs `engine` over a source of no known length, counting the lines read on a spinner.
fn run_counting(
    engine: &mut Engine,
    source: &mut dyn engine::source::Source,
    quiet: bool,
) -> Result<()> {
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    let mut meter = Meter::default();
    engine.run(source, |e, _| {
        meter.look(e);
        pb.set_message(format!("{} read", e.counters.read));
        pb.tick();
    })?;
    meter.look(engine);
    pb.finish_and_clear();
    Ok(())
}

/// A command whose output is piped into a reader that stops early (`| head`) ends there, as
/// Unix tools do, rather than panicking in `println!`: SIGPIPE back to its default. Not for
/// the commands that hold network connections (a client that goes away must not end them).
fn end_quietly_when_the_reader_goes() {
    // SAFETY: called once, at start, before any other thread exists; it only restores the
    // signal's default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The last line of a check's report (not in JSON); a failed check exits 1.
fn verdict(ok: bool, json: bool, good: &str, bad: &str) {
    if !json {
        println!("{}", if ok { good } else { bad });
    }
    if !ok {
        std::process::exit(1);
    }
}

fn print_stats(data: &Path, json: bool) -> Result<()> {
    let store = Store::open_follower(data)?;
    let s = stats(&store)?;
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        let c = s.counters;
        println!("read        {}", c.read);
        println!("rated       {}", c.rated);
        println!("rejected    {}", c.rejected);
        println!("duplicates  {}", c.duplicates);
        println!("dead        {}", c.dead);
        println!("ticks       {} (generated)", c.ticks);
        println!("derived     {} (transfer credits and refunds)", c.derived);
        println!("accounts    {}", s.accounts);
        println!("log entries {}", s.log_entries);
        println!("log sha256  {}", s.log_sha256);
        println!("model rows  {}", s.model_rows);
        println!("models sha256 {}", s.models_sha256);
        println!(
            "balanced    {} (read = rated + rejected + duplicates + dead)",
            s.balanced
        );
        for (reason, count) in &s.rejections {
            println!("rejected    {count} {reason}");
        }
    }
    if !s.balanced {
        bail!("counters do not add up");
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Log lines on standard error, as `format` says.
fn start_logging(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RATEL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr);
    match format {
        // Colours for a person at a terminal; plain text for journald and log files.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

fn main() -> Result<()> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let file = engine::operations::config::named(&args);
    let command = engine::operations::config::layered(Cli::command(), file.as_deref())?;
    let matches = command.clone().get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    start_logging(cli.log_format);
    if !matches!(
        cli.cmd,
        Cmd::Run { .. } | Cmd::Serve { .. } | Cmd::Produce { .. } | Cmd::Online { .. }
    ) {
        end_quietly_when_the_reader_goes();
    }
    match cli.cmd {
        Cmd::Demo(args) => demo_command(args, cli.quiet),
        Cmd::Run(args) => run_command(args, cli.quiet),
        Cmd::Online(args) => online_command(args),
        Cmd::Produce(args) => produce_command(args, cli.quiet),
        Cmd::Gen(args) => gen_command(args, cli.quiet),
        Cmd::Audit(args) => audit_command(args),
        Cmd::Replay(args) => replay_command(args, cli.quiet),
        Cmd::Rerate(args) => rerate_command(args),
        Cmd::Quote(args) => quote_command(args),
        Cmd::Cgrates(args) => cgrates_command(args),
        Cmd::Balance(args) => balance_command(args),
        Cmd::Packages(args) => packages_command(args),
        Cmd::Detalization(args) => detalization_command(args),
        Cmd::Spending(args) => spending_command(args),
        Cmd::Projections(args) => projections_command(args, cli.quiet),
        Cmd::Serve(args) => serve_command(args),
        Cmd::Stats(args) => stats_command(args),
        Cmd::Explain(args) => explain_command(args),
        Cmd::Log(args) => log_command(args),
        Cmd::Export(args) => export_command(args),
        Cmd::Config(ConfigCmd::Check) => config_check(&command, file.is_some()),
    }
}

/// `ratel config check`: the file was read and every key named a flag (or `layered` failed
/// before this); each command's settings are parsed as its flags would be, and printed.
fn config_check(command: &clap::Command, named: bool) -> Result<()> {
    if !named {
        bail!("no configuration file: give --config FILE (or RATEL_CONFIG)");
    }
    let text = engine::operations::config::effective(command, &Cli::command())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{text}");
    println!("# configuration valid");
    Ok(())
}

/// An optional RFC 3339 time argument.
fn optional_time(text: &Option<String>) -> Result<Option<Timestamp>> {
    text.as_deref()
        .map(Timestamp::parse_rfc3339)
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))
}

fn export_command(args: ExportArgs) -> Result<()> {
    let request = engine::warehouse::Request {
        from: optional_time(&args.from)?,
        to: optional_time(&args.to)?,
        after: engine::warehouse::Cursor::parse(&args.after).map_err(anyhow::Error::msg)?,
        format: args.format,
    };
    let store = Store::open_follower(&args.data)?;
    let summary = engine::warehouse::export(&store, &request, &args.out)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} rows to {}; what follows: ratel export --after {}",
            summary.rows,
            args.out.display(),
            summary.next
        );
    }
    Ok(())
}

fn explain_command(
    ExplainArgs {
        data,
        event,
        account,
        json,
    }: ExplainArgs,
) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let found = engine::decisions::explain(&store, &event, account.as_deref())?;
    if found.is_empty() {
        bail!(
            "no input {event:?} in the log{}",
            account
                .map(|a| format!(" of account {a}"))
                .unwrap_or_default()
        );
    }
    for view in &found {
        if json {
            println!("{}", serde_json::to_string_pretty(view)?);
        } else {
            println!("{}\n", view.text());
        }
    }
    Ok(())
}

fn log_command(args: LogArgs) -> Result<()> {
    let filter = engine::decisions::Filter {
        from: optional_time(&args.from)?,
        to: optional_time(&args.to)?,
        outcome: args.outcome,
        reason: args.reason,
        msisdn: args
            .msisdn
            .as_deref()
            .map(rating::Msisdn::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    let store = Store::open_follower(&args.data)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = None;
    engine::decisions::list(&store, args.account.as_deref(), &filter, |view| {
        let line = if args.json {
            serde_json::to_string(&view).expect("a view serializes")
        } else {
            view.line()
        };
        failed = writeln!(out, "{line}").err();
        failed.is_none()
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    Ok(())
}

fn demo_command(
    DemoArgs {
        data,
        accounts,
        days,
        seed,
    }: DemoArgs,
    quiet: bool,
) -> Result<()> {
    if data.exists() {
        if !data.join(".ratel-demo").exists() {
            bail!(
                "{} exists and is not a demo directory; choose another --data",
                data.display()
            );
        }
        std::fs::remove_dir_all(&data)?;
    }
    std::fs::create_dir_all(&data)?;
    std::fs::write(
        data.join(".ratel-demo"),
        b"created by ratel demo; removed by the next demo\n",
    )?;
    let workload = data.join("workload.jsonl");
    let w = Workload {
        accounts,
        days,
        seed,
        ..Workload::default()
    };
    let lines = generate(&w, &workload, quiet)?;
    let cat = Catalog::from_toml("example.toml (built in)", engine::EXAMPLE_CATALOG)?;
    let started = std::time::Instant::now();
    let e = run(
        cat,
        engine::EXAMPLE_CATALOG.as_bytes(),
        &data.join("store"),
        &format!("file:{}", workload.display()),
        Config::default(),
        FileReading {
            complete: true,
            done_dir: None,
            exit_when_idle: None,
        },
        quiet,
    )?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ratel demo: {accounts} accounts, {days} days, {lines} lines in {}",
        workload.display()
    );
    println!(
        "rated in {secs:.1} s ({:.0} lines/s) into {}",
        lines as f64 / secs,
        data.join("store").display()
    );
    demo_summary(&e);
    drop(e);
    print_stats(&data.join("store"), false)?;
    println!(
        "\nnext: ratel balance --data {} ACC7 · ratel replay --data {}",
        data.join("store").display(),
        data.join("store").display()
    );
    Ok(())
}

fn run_command(
    RunArgs {
        catalog,
        data,
        source,
        batch,
        no_sync,
        partitions,
        window_hours,
        checkpoint_every,
        state_cache_mb,
        max_ahead_hours,
        complete,
        migrate_catalog,
        group,
        instance,
        exit_when_idle,
        done_dir,
        no_publish,
        no_idempotence,
        changelog_topic,
        no_changelog,
        metrics,
        ready_max_lag,
        kafka_property,
        topics,
    }: RunArgs,
    quiet: bool,
) -> Result<()> {
    // SIGTERM and SIGINT stop the run between batches (engine::operations::shutdown).
    engine::operations::shutdown::on_signals().context("handling SIGTERM and SIGINT")?;
    if let Some(listen) = metrics {
        engine::operations::metrics::install()?;
        let bound = engine::operations::endpoint::start(listen)
            .with_context(|| format!("serving metrics on {listen}"))?;
        eprintln!("ratel run: metrics, health and readiness on http://{bound}");
    }
    engine::kafka::set_properties(kafka_properties(&kafka_property)?);
    let (cat, bytes) = load_catalog(&catalog)?;
    let cfg = Config {
        batch,
        sync: !no_sync,
        partitions,
        window: window_hours.map(|h| i64::from(h) * 3600),
        checkpoint: checkpoint_every,
        max_ahead: i64::from(max_ahead_hours) * 3600,
        migrate_catalog,
        state_cache_mb,
    };
    let e = match source.strip_prefix("kafka:") {
        Some(_) if done_dir.is_some() => bail!("--done-dir is for a folder source (dir:PATH)"),
        Some(brokers) => {
            let o = engine::stream::Options {
                group: engine::kafka::Group {
                    id: group,
                    instance,
                },
                topics,
                exit_when_idle: exit_when_idle.map(std::time::Duration::from_secs_f64),
                publish: !no_publish,
                idempotent: !no_idempotence,
                changelog: (!no_changelog).then_some(changelog_topic),
                ready_lag: ready_max_lag,
            };
            let pb = if quiet {
                ProgressBar::hidden()
            } else {
                ProgressBar::new_spinner()
            };
            let mut meter = Meter::default();
            let e = engine::stream::run(&data, cat, &bytes, brokers, cfg, &o, |e, c| {
                meter.look(e);
                pb.set_message(format!("{} read", c.read));
                pb.tick();
            })
            .with_context(|| format!("rating from {brokers}"))?;
            meter.look(&e);
            pb.finish_and_clear();
            e
        }
        None => {
            let reading = FileReading {
                complete,
                done_dir,
                exit_when_idle: exit_when_idle.map(std::time::Duration::from_secs_f64),
            };
            run(cat, &bytes, &data, &source, cfg, reading, quiet)?
        }
    };
    let c = e.counters;
    println!(
        "read {} · rated {} · rejected {} · duplicates {} · dead {} · ticks {}",
        c.read, c.rated, c.rejected, c.duplicates, c.dead, c.ticks
    );
    Ok(())
}

fn online_command(args: OnlineArgs) -> Result<()> {
    engine::operations::shutdown::on_signals().context("handling SIGTERM and SIGINT")?;
    if let Some(listen) = args.metrics {
        engine::operations::metrics::install()?;
        let bound = engine::operations::endpoint::start(listen)
            .with_context(|| format!("serving metrics on {listen}"))?;
        eprintln!("ratel online: metrics, health and readiness on http://{bound}");
    }
    engine::kafka::set_properties(kafka_properties(&args.kafka_property)?);
    let (cat, bytes) = load_catalog(&args.catalog)?;
    let brokers = args
        .source
        .as_deref()
        .and_then(|s| s.strip_prefix("kafka:"));
    let partitions = match brokers {
        Some(brokers) => engine::kafka::input_partitions(brokers, &args.topics)
            .with_context(|| format!("reading the input topics at {brokers}"))?,
        None => args.partitions,
    };
    let cfg = Config {
        partitions,
        state_cache_mb: args.state_cache_mb,
        ..Config::default()
    };
    let mut engine = Engine::open(&args.data, cat, &bytes, cfg)?;
    // Tokens without --http are ignored: a configuration file may give them to `ratel serve`.
    let http = match (args.http, &args.tokens) {
        (Some(listen), Some(path)) => Some((listen, tokens_of(path)?)),
        (Some(_), None) => bail!("--http needs --tokens: only an operator's token charges online"),
        (None, _) => None,
    };
    let offline = match (&args.source, brokers) {
        (_, Some(brokers)) => Some(group_source(&mut engine, brokers, &args)?),
        (Some(source), None) => offline_source(&engine, source, args.complete)?
            .map(|source| engine::online::Offline::new(source, args.batch as usize)),
        (None, None) => None,
    };
    let options = engine::online::Options {
        diameter: args.diameter,
        origin_host: args.origin_host,
        origin_realm: args.origin_realm,
        advertise: args.advertise,
        http,
        offline,
    };
    engine::online::serve(&mut engine, options)
        .with_context(|| format!("serving Diameter on {}", args.diameter))?;
    Ok(())
}

/// The operator's librdkafka properties, KEY=VALUE each.
fn kafka_properties(properties: &[String]) -> Result<Vec<(String, String)>> {
    let property = |p: &String| match p.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => bail!("--kafka-property {p:?}: KEY=VALUE expected"),
    };
    properties.iter().map(property).collect()
}

/// `ratel online --source kafka:BROKERS`: the input topics as a member of the consumer group,
/// the changelog, and the directory of instances.
fn group_source(
    engine: &mut Engine,
    brokers: &str,
    args: &OnlineArgs,
) -> Result<engine::online::Offline> {
    let options = engine::stream::Options {
        group: engine::kafka::Group {
            id: args.group.clone(),
            instance: args.instance.clone(),
        },
        topics: args.topics.clone(),
        exit_when_idle: None,
        publish: false,
        idempotent: true,
        changelog: (!args.no_changelog).then(|| args.changelog_topic.clone()),
        ready_lag: engine::kafka::watch::DEFAULT_READY_LAG,
    };
    let (source, changelog) = engine::stream::synchronous_source(brokers, &options, engine)
        .with_context(|| format!("joining the consumer group at {brokers}"))?;
    let scratch = args.directory_scratch.as_deref();
    let directory = engine::directory::Directory::open(brokers, &args.directory_topic, scratch)
        .with_context(|| format!("reading the directory {}", args.directory_topic))?;
    let membership = engine::online::Membership {
        source,
        changelog,
        directory,
    };
    Ok(engine::online::Offline::group(
        membership,
        args.batch as usize,
    ))
}

fn produce_command(
    ProduceArgs {
        brokers,
        source,
        create,
        no_idempotence,
        batch_messages,
        skip,
        take,
        topics,
    }: ProduceArgs,
    quiet: bool,
) -> Result<()> {
    let Some(path) = source.strip_prefix("file:") else {
        bail!("unknown source {source:?}: use file:PATH");
    };
    if let Some(n) = create {
        let mut names = topics.inputs().to_vec();
        names.extend(topics.outputs());
        engine::kafka::create_topics(&brokers, &names, n)?;
    }
    let len = std::fs::metadata(path)
        .with_context(|| path.to_string())?
        .len();
    let pb = bar(quiet, len, "producing");
    let lines = engine::kafka::Lines {
        skip,
        take: take.unwrap_or(u64::MAX),
    };
    let p = engine::kafka::produce_lines(
        &brokers,
        &topics,
        Path::new(path),
        lines,
        !no_idempotence,
        batch_messages,
        |at| pb.set_position(at),
    )?;
    pb.finish_and_clear();
    println!(
        "produced {} lines ({} not inputs, sent to be dead-lettered) to {}",
        p.lines,
        p.unreadable,
        topics.inputs().join(", ")
    );
    Ok(())
}

fn gen_command(
    GenArgs {
        out,
        accounts,
        days,
        events_per_day,
        seed,
        duplicates,
        bad,
        no_transfers,
    }: GenArgs,
    quiet: bool,
) -> Result<()> {
    let w = Workload {
        accounts,
        days,
        events_per_day,
        seed,
        duplicates,
        bad,
        transfers: !no_transfers,
        ..Workload::default()
    };
    w.check().map_err(anyhow::Error::msg)?;
    let lines = generate(&w, &out, quiet)?;
    eprintln!("{lines} lines written to {}", out.display());
    Ok(())
}

fn audit_command(AuditArgs { data, json }: AuditArgs) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let r = engine::audit::audit(&store)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "audited {} log entries: {} decisions, {} dead letters, {} ticks, {} accounts",
            r.entries, r.decisions, r.dead, r.ticks, r.accounts
        );
        println!(
            "payments {} · charges {} · fees {} · transfers {} ({} in flight)",
            r.payments, r.charges, r.fees, r.transfers, r.transfers_in_flight
        );
        println!("{}", r.totals_line());
        println!(
            "online sessions open {} · money they hold {} (not moved, outside the balances)",
            r.sessions_open, r.reserved
        );
        println!(
            "CDRs of online sessions reconciled {} (not charged) · of them with other units than the session {}",
            r.reconciled, r.reconciled_apart
        );
        for d in &r.listed {
            println!("DISCREPANCY {d}");
        }
        if r.discrepancies as usize > r.listed.len() {
            println!("… and {} more", r.discrepancies as usize - r.listed.len());
        }
    }
    verdict(
        r.ok(),
        json,
        "every balance, bucket, id and line accounted for",
        "AUDIT FAILED",
    );
    Ok(())
}

fn replay_command(
    ReplayArgs {
        data,
        json,
        state_cache_mb,
        scratch,
    }: ReplayArgs,
    quiet: bool,
) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let total = store.counters()?;
    let pb = bar(
        quiet,
        total.rated + total.rejected + total.duplicates + total.ticks + total.derived,
        "replaying",
    );
    let started = std::time::Instant::now();
    let limits = engine::replay::Limits {
        cache_mb: state_cache_mb,
        scratch,
    };
    let r = engine::replay::replay_within(&store, &limits, |n| pb.set_position(n))?;
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("replayed {} decisions ({} log entries, {} dead letters) in {secs:.2} s: {:.0} decisions/s", r.decisions, r.entries, r.dead, r.decisions as f64 / secs);
        println!(
            "{} accounts rebuilt, at most {} held in memory at once",
            r.accounts, r.held_at_most
        );
        for m in &r.mismatches {
            println!(
                "MISMATCH {}/{} event {}\n  recorded: {}\n  replayed: {}",
                m.partition, m.seq, m.event, m.recorded, m.replayed
            );
        }
        for a in &r.state_differences {
            println!("STATE DIFFERS: {a}");
        }
    }
    verdict(
        r.ok(),
        json,
        "every decision reproduced byte for byte; state equal",
        "REPLAY DIFFERS",
    );
    Ok(())
}

fn rerate_command(
    RerateArgs {
        data,
        catalog,
        from,
        to,
        out,
        apply,
    }: RerateArgs,
) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let (cat, bytes) = load_catalog(&catalog)?;
    let from = time_arg(&from, Timestamp(0))?;
    let to = time_arg(&to, Timestamp(rating::time::MAX_TIME))?;
    let (r, rerated) = engine::rerate::rerate_with_state(&store, &cat, (from, to))?;
    std::fs::write(&out, r.to_csv())?;
    let accounts: std::collections::BTreeSet<&str> =
        r.totals.keys().map(|(a, _)| a.as_str()).collect();
    println!(
        "{} decisions compared, {} movements differ, {} accounts affected, net effect on balances {}; report in {}",
        r.decisions_compared,
        r.differences.len(),
        accounts.len(),
        r.net,
        out.display()
    );
    for (kind, (count, total)) in r.by_kind() {
        println!("  {kind}: {count} differ, {total:+} in all");
    }
    if let Some(file) = apply {
        write_corrections(&store, (&cat, &bytes), &r, &rerated, (from, to), &file)?;
    }
    Ok(())
}

/// `ratel rerate --apply`: the corrections to `file`, named by the re-rating's run id.
fn write_corrections(
    store: &Store,
    (cat, bytes): (&Catalog, &[u8]),
    report: &engine::rerate::RerateReport,
    rerated: &rating::State,
    (from, to): (Timestamp, Timestamp),
    file: &Path,
) -> Result<()> {
    use sha2::Digest;
    let mut run = sha2::Sha256::new();
    run.update(bytes);
    run.update(from.0.to_be_bytes());
    run.update(to.0.to_be_bytes());
    let run: String = run.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (actual, _) = store.load_state()?;
    let at = Timestamp(store.meta_u64(engine::keys::WATERMARK)?.unwrap_or(0) as i64);
    let c = engine::rerate::corrections(report, cat, (&actual, rerated), (&run, at));
    let mut text = String::new();
    for input in &c.inputs {
        text += &rating::codec::to_json(input);
        text.push('\n');
    }
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "run {run}: {} corrections ({} net) in {}; rate them like any input (ratel run --source file:{})",
        c.inputs.len(),
        c.net,
        file.display(),
        file.display()
    );
    for (msisdn, package, units) in &c.short {
        println!("  {msisdn}: {units} units of {package} taken back");
    }
    Ok(())
}

fn quote_command(
    QuoteArgs {
        catalog,
        plan,
        options,
        service,
        direction,
        other,
        start,
        quantity,
        tenant,
        category,
        subject,
        destination,
        usage,
        json,
    }: QuoteArgs,
) -> Result<()> {
    let (cat, _) = load_catalog(&catalog)?;
    if let Some(tenant) = tenant {
        let tariff = cat.cgrates.as_ref().with_context(|| {
            format!(
                "{} holds no CGRateS tariff plan: import one with `ratel cgrates import`",
                catalog.display()
            )
        })?;
        let (voice, usage) =
            engine::cgrates::usage(&service, usage.as_deref().unwrap_or_default())?;
        let start = chrono::DateTime::parse_from_rfc3339(start.trim())
            .with_context(|| format!("start {start:?} is not RFC 3339"))?;
        let req = rating::cgrates::CgrRequest {
            tenant: &tenant,
            category: &category,
            subject: subject.as_deref().unwrap_or_default(),
            destination: destination.as_deref().unwrap_or_default(),
            start,
            usage,
            voice,
        };
        let q = tariff
            .price(&req)
            .map_err(|e| anyhow::anyhow!("cannot price: {e}"))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&q)?);
        } else {
            println!("{}", q.cost);
        }
        return Ok(());
    }
    let service = serde_json::from_value(serde_json::Value::String(service.clone()))
        .map_err(|_| anyhow::anyhow!("unknown service {service:?}"))?;
    let direction = serde_json::from_value(serde_json::Value::String(direction.clone()))
        .map_err(|_| anyhow::anyhow!("unknown direction {direction:?}"))?;
    let q = rating::QuoteRequest {
        plan: plan.context("--plan is required")?.into(),
        options: options.into_iter().map(Into::into).collect(),
        service,
        direction,
        other: other.map(Into::into),
        start: Timestamp::parse_rfc3339(&start).map_err(anyhow::Error::msg)?,
        quantity: quantity.context("--quantity is required")?,
        location: rating::Zone::Home,
        rating_group: None,
    };
    let quote = rating::quote(&cat, &q).map_err(|e| anyhow::anyhow!("cannot price: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&quote)?);
    } else {
        println!("{} {}", quote.money, cat.currency);
    }
    Ok(())
}

fn cgrates_command(
    CgratesArgs {
        cmd:
            CgratesCmd::Import {
                dir,
                out,
                rounding_decimals,
                id,
                currency,
                currency_decimals,
                timezone,
            },
    }: CgratesArgs,
) -> Result<()> {
    let id = id.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cgrates".into())
    });
    let opt = engine::cgrates::ImportOptions {
        rounding_decimals,
        id,
        currency,
        currency_decimals,
        timezone,
    };
    let (text, warnings) = engine::cgrates::import_folder(&dir, &opt)?;
    // The written catalog must load as any other: check before writing it.
    Catalog::from_bytes(&out.display().to_string(), text.as_bytes())?;
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "imported {} into {} with {} warning(s)",
        dir.display(),
        out.display(),
        warnings.len()
    );
    Ok(())
}

fn balance_command(BalanceArgs { data, who, all }: BalanceArgs) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let tag = store
        .meta_u64(engine::keys::CATALOG_IN_FORCE)?
        .context("the store has no catalog: nothing was run here")?;
    let cat = recorded_catalog(&store, tag)?;
    if all {
        let out = std::io::stdout();
        let mut out = out.lock();
        for a in store.accounts() {
            writeln!(out, "{}", serde_json::to_string(&account_view(&cat, &a?))?)?;
        }
    } else {
        let who = who.context("give an account id or an MSISDN, or --all")?;
        let ctx = query::Context::load(&store)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&query::balance(&store, &ctx, &who)?)?
        );
    }
    Ok(())
}

fn packages_command(PackagesArgs { data, msisdn }: PackagesArgs) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let ctx = query::Context::load(&store)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&query::packages(&store, &ctx, &msisdn)?)?
    );
    Ok(())
}

fn detalization_command(
    DetalizationArgs {
        data,
        who,
        month,
        from,
        to,
        service,
        format,
        out,
        account,
    }: DetalizationArgs,
) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let ctx = query::Context::load(&store)?;
    let period = query::period(&ctx, month.as_deref(), from.as_deref(), to.as_deref())?;
    let scope = account.as_deref().map_or(Scope::Everything, Scope::Account);
    let r = match (query::Who::guess(&store, &who)?, account.is_some()) {
        (query::Who::Number(_), _) => {
            query::detalization(&store, &ctx, &who, period, &service, scope)?
        }
        (query::Who::Account(id), false) => {
            query::account_detalization(&store, &ctx, id, period, &service)?
        }
        (query::Who::Account(_), true) => {
            bail!("--account narrows a number's detalization, and {who} is no number anyone held")
        }
        (query::Who::Group(..), _) => bail!("a detalization is a number's or an account's"),
    };

    let bytes = match format.as_str() {
        "csv" => projections::export::csv(&r),
        "pdf" => projections::pdf::render(&r)?,
        _ => projections::export::json(&r),
    };
    match out {
        Some(path) => {
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} items, {} {} charged; written to {}",
                r.rows.len(),
                r.total_money,
                r.currency,
                path.display()
            );
        }
        None if format == "pdf" => bail!("a PDF needs --out FILE"),
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

fn spending_command(
    SpendingArgs {
        data,
        who,
        from,
        to,
        account,
    }: SpendingArgs,
) -> Result<()> {
    let store = Store::open_follower(&data)?;
    let ctx = query::Context::load(&store)?;
    let scope = account.as_deref().map_or(Scope::Everything, Scope::Account);
    let months = (from.as_deref(), to.as_deref());
    let v = query::spending(&store, &ctx, &who, months, scope)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn projections_command(
    ProjectionsArgs {
        cmd: ProjectionsCmd::Rebuild { data },
    }: ProjectionsArgs,
    quiet: bool,
) -> Result<()> {
    let store = Store::open_existing(&data)?;
    let total = store.meta_u64(&engine::keys::sequence(0))?.unwrap_or(0);
    let pb = bar(quiet, total, "projecting");
    let started = std::time::Instant::now();
    let r = engine::rebuild::rebuild(&store, |n| pb.set_position(n))?;
    pb.finish_and_clear();
    println!(
        "rebuilt the read models from {} log entries ({} decisions, {} rows) in {:.1} s",
        r.entries,
        r.decisions,
        r.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The offline source `ratel online --source` names: a file's lines not rated yet (none: it
/// was read to its end before), or a folder's files.
fn offline_source(
    engine: &Engine,
    source: &str,
    complete: bool,
) -> Result<Option<Box<dyn engine::source::Source + Send>>> {
    if let Some(dir) = source.strip_prefix("dir:") {
        let folder = folder_of(engine, Path::new(dir)).with_context(|| format!("reading {dir}"))?;
        return Ok(Some(Box::new(folder)));
    }
    let Some(path) = source.strip_prefix("file:") else {
        bail!("unknown source {source:?} for ratel online: use file:PATH or dir:PATH");
    };
    match engine
        .file_topics(Path::new(path), complete)
        .with_context(|| format!("reading {path}"))?
    {
        Opened::Topics(topics) => Ok(Some(topics)),
        Opened::Finished => {
            eprintln!("ratel online: {path} was read to its end before: skipped");
            Ok(None)
        }
    }
}

/// The tokens file at `path`.
fn tokens_of(path: &std::path::Path) -> Result<engine::serve::Tokens> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading tokens {}", path.display()))?;
    engine::serve::Tokens::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn serve_command(
    ServeArgs {
        data,
        listen,
        tokens,
        max_connections,
        header_timeout_secs,
    }: ServeArgs,
) -> Result<()> {
    let tokens = tokens_of(&tokens)?;
    let store = Store::open_follower(&data)?;
    engine::operations::metrics::install()?;
    let app = std::sync::Arc::new(engine::serve::App::new(store, tokens)?);
    let limits = engine::serve::Limits {
        connections: max_connections as usize,
        header: std::time::Duration::from_secs(header_timeout_secs),
        ..engine::serve::Limits::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(engine::serve::MAX_QUERY_THREADS)
        .enable_all()
        .build()?;
    runtime.block_on(engine::serve::serve(app, listen, limits))?;
    // A query still running on a blocking thread (it sees the server stopping at its
    // next page) is not waited for past this.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

fn stats_command(StatsArgs { data, json }: StatsArgs) -> Result<()> {
    print_stats(&data, json)?;
    Ok(())
}

fn demo_summary(engine: &Engine) {
    use rust_decimal::Decimal;
    let mut negative = 0;
    let mut total = Decimal::ZERO;
    let mut accounts = 0;
    for a in engine.store.accounts() {
        let a = match a {
            Ok(a) => a,
            Err(e) => return eprintln!("the accounts could not be read: {e}"),
        };
        accounts += 1;
        total += a.balance;
        if a.balance < Decimal::ZERO {
            negative += 1;
        }
    }
    println!(
        "{} accounts, {} below zero, sum of balances {} {}",
        accounts, negative, total, engine.cat.currency
    );
    match engine::report::happenings(&engine.store, engine.partitions()) {
        Ok(h) => {
            let fees: Vec<String> = h.fees.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("fees: {}", fees.join(", "));
            println!(
                "promised payments: {} granted, {} repayments, {} written off",
                h.promises_granted, h.promise_repayments, h.promises_written_off
            );
            println!(
                "lifecycle: {} plan changes, {} suspended, {} SIMs lost, {} resumed, {} usage items while barred",
                h.plan_changes, h.suspended, h.lost, h.resumed, h.usage_while_barred
            );
            println!(
                "alerts: {} blocked at the credit limit, {} unblocked, {} low balance, {} autopay requests",
                h.blocked, h.unblocked, h.low_balance_alerts, h.autopay_requests
            );
            println!(
                "transfers: {} sent, {} received, {} refunded",
                h.transfers_sent, h.transfers_received, h.transfers_refunded
            );
            println!(
                "family limits: {} reached, {} usage items over; loyalty: {} points earned",
                h.spending_limits_reached, h.over_spending_limit, h.loyalty_points
            );
            println!(
                "inactivity: {} blocked, {} released",
                h.blocked_for_inactivity, h.released
            );
        }
        Err(error) => println!("(the log could not be summarised: {error})"),
    }
}
