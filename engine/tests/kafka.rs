//! The Kafka pipeline against a real Kafka-protocol broker (tansu) in its own process: a workload
//! produced to the input topics and rated from them, with an instance killed midway, decides
//! exactly what the same workload rated from a file decides; the output topics carry every
//! decision and dead letter.

mod common;
use common::{ratel, Broker};

use engine::entry::Entry;
use engine::store::Store;
use engine::workload::Workload;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn catalog() -> String {
    format!("{}/../catalogs/example.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Writes `w` into `dir`, sorted as a partition's merged topics give it (`time_sorted`).
fn sorted_workload(dir: &Path, w: &Workload) -> PathBuf {
    let (raw, file) = (dir.join("raw.jsonl"), dir.join("workload.jsonl"));
    w.write(&mut std::fs::File::create(&raw).unwrap(), |_| {})
        .unwrap();
    common::time_sorted(&raw, &file);
    file
}

/// What a store decided, partition by partition: inputs and decisions as logged, and dead lines.
type Decided = BTreeMap<u32, Vec<(Vec<u8>, Vec<u8>)>>;

/// A broker of its own and a time-sorted workload of `accounts` over `days`, with bad lines and
/// without transfers: a transfer's credit lands where the receiver's partition is when it
/// arrives, and Kafka interleaves partitions unlike a file (ARCHITECTURE.md, "Transfers").
/// `None` where no broker can be started (the test then checks nothing).
fn broker_and_workload(
    dir: &Path,
    accounts: u64,
    days: u32,
    seed: u64,
) -> Option<(Broker, PathBuf)> {
    let broker = Broker::start(&dir.join("tansu.log"))?;
    let file = sorted_workload(
        dir,
        &Workload {
            accounts,
            days,
            seed,
            bad: 0.003,
            transfers: false,
            ..Workload::default()
        },
    );
    Some((broker, file))
}

fn decided(dir: &Path) -> (Decided, Vec<Vec<u8>>, Vec<rating::Account>) {
    let store = Store::open(dir).unwrap();
    let mut log: Decided = BTreeMap::new();
    let mut dead = Vec::new();
    for item in store.log() {
        let (p, _, e) = item.unwrap();
        match e {
            Entry::Rated {
                input, decision, ..
            } => log.entry(p).or_default().push((input, decision)),
            Entry::Dead { raw, .. } => dead.push(raw),
            Entry::Catalog { .. } => {}
        }
    }
    dead.sort();
    let mut accounts: Vec<_> = store.accounts().map(|a| a.unwrap()).collect();
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    (log, dead, accounts)
}

/// Every message of a topic, from the beginning, with its headers.
fn read_topic(brokers: &str, topic: &str) -> Vec<(HashMap<String, String>, Vec<u8>)> {
    let c: BaseConsumer = engine::kafka::client_config(brokers)
        .set("group.id", "ratel-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let parts = md.topics()[0].partitions().len() as i32;
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
        let (_, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .unwrap();
        ends.insert(p, high);
    }
    c.assign(&tpl).unwrap();
    // Read until nothing comes for three seconds and every partition is past its high
    // watermark (tansu reports a watermark that can lag what it holds), skipping overlaps.
    let mut next: HashMap<i32, i64> = (0..parts).map(|p| (p, 0)).collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(3) || next.iter().any(|(p, n)| n < &ends[p]) {
        assert!(
            Instant::now() < deadline,
            "{topic}: read {next:?} of {ends:?}"
        );
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        last = Instant::now();
        let m = m.unwrap();
        let n = next.get_mut(&m.partition()).unwrap();
        if m.offset() < *n {
            continue;
        }
        *n = m.offset() + 1;
        let mut h = HashMap::new();
        if let Some(hs) = m.headers() {
            for x in hs.iter() {
                h.insert(
                    x.key.to_string(),
                    String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                );
            }
        }
        out.push((h, m.payload().unwrap_or_default().to_vec()));
    }
    out
}

#[test]
fn a_workload_from_kafka_is_decided_as_from_a_file_even_with_kills_at_random_points() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((broker, file)) = broker_and_workload(tmp.path(), 150, 12, 5) else {
        return;
    };
    let cat = catalog();
    let source = format!("file:{}", file.display());

    // From the file, over the topics' partitions.
    let by_file = tmp.path().join("by-file");
    ratel(&[
        "run",
        "--catalog",
        &cat,
        "--data",
        by_file.to_str().unwrap(),
        "--source",
        &source,
        "--partitions",
        "3",
    ]);

    // Through the broker: produce, then rate with small batches, killed again and again, then
    // resumed.
    let produced = produce(&broker.addr, &source, 3, &[]);
    assert!(produced.contains("produced"), "{produced}");
    let by_kafka = tmp.path().join("by-kafka");
    let kafka = format!("kafka:{}", broker.addr);
    let args = [
        "run",
        "--catalog",
        &cat,
        "--data",
        by_kafka.to_str().unwrap(),
        "--source",
        &kafka,
        "--batch",
        "97",
        "--instance",
        "ratel-1",
    ];
    // SIGKILLs at random points: each instance is killed once the store shows a random share
    // of the lines left committed, plus a few random milliseconds, so that a kill lands part
    // way through a batch, a commit or a publish. (A kill after a fixed while raced the
    // engine's speed: once a batch no longer waited 100 ms on its flush, the second instance
    // finished before its kill.)
    let total = std::fs::read_to_string(&file).unwrap().lines().count() as u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let (mut kills, mut mid_run, mut progress) = (0, 0, vec![]);
    for _ in 0..8 {
        let before = progress.last().copied().unwrap_or(0);
        let target = rng.gen_range(before + 1..=before + (total - before).div_ceil(2));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(args)
            .arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut follower: Option<Store> = None;
        while started.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(10));
            if follower.is_none() {
                follower = Store::open_follower(&by_kafka).ok();
            }
            let Some(f) = &follower else { continue };
            let committed = f.catch_up().and_then(|()| f.counters()).map(|c| c.read);
            if committed.is_ok_and(|read| read >= target) {
                break;
            }
        }
        drop(follower);
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..40)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let read = common::stats(&by_kafka)["counters"]["read"]
            .as_u64()
            .unwrap();
        progress.push(read);
        if read == total {
            break;
        }
        if read > 0 {
            mid_run += 1;
        }
    }
    eprintln!("{kills} kills, lines read after each: {progress:?} of {total}");
    assert!(
        mid_run >= 2,
        "only {mid_run} kills landed mid-run: {progress:?} of {total}"
    );
    let mut resumed = args.to_vec();
    resumed.extend(["--exit-when-idle", "3"]);
    let summary = ratel(&resumed);
    assert!(summary.contains("read "), "{summary}");

    let (file_log, file_dead, file_accounts) = decided(&by_file);
    let (kafka_log, kafka_dead, kafka_accounts) = decided(&by_kafka);
    assert_eq!(file_accounts.len(), 150);
    assert!(file_dead.len() > 5, "the workload has bad lines");
    assert_eq!(
        file_accounts, kafka_accounts,
        "balances, buckets, everything"
    );
    assert_eq!(file_dead, kafka_dead);
    same_decisions(&file_log, &kafka_log, 3);

    // The output topics: every decision but the duplicates, under its event id; a repeat (after
    // the kill) carries the same bytes; dead letters with their origin and reason.
    let mut want = HashMap::new();
    for entries in kafka_log.values() {
        for (_, d) in entries {
            let d = rating::codec::decode_decision(d).unwrap();
            if d.outcome != rating::Outcome::Duplicate {
                want.insert(d.event.to_string(), ());
            }
        }
    }
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    for (h, body) in read_topic(&broker.addr, "ratel.charges") {
        let id = h
            .get("ratel-event")
            .expect("every message names its event")
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["event"], id.as_str());
        if let Some(before) = seen.insert(id.clone(), body.clone()) {
            assert_eq!(before, body, "a repeat of {id} differs");
        }
    }
    let missing: Vec<_> = want
        .keys()
        .filter(|k| !seen.contains_key(*k))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} decisions not on the charges topic, e.g. {missing:?}",
        want.len() - seen.len(),
        want.len()
    );
    assert_eq!(seen.len(), want.len());
    assert!(want.keys().all(|k| seen.contains_key(k)));

    let dead = read_topic(&broker.addr, "ratel.dead-letters");
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut origins = std::collections::HashSet::new();
    for (h, body) in dead {
        assert!(!h["ratel-reason"].is_empty());
        assert!(h["ratel-topic"].starts_with("ratel."), "{h:?}");
        h["ratel-offset"].parse::<u64>().unwrap();
        if origins.insert(h["ratel-event"].clone()) {
            bodies.push(body);
        }
    }
    bodies.sort();
    assert_eq!(bodies, file_dead);

    let notes = read_topic(&broker.addr, "ratel.notifications");
    assert!(
        notes
            .iter()
            .any(|(_, b)| String::from_utf8_lossy(b).contains("payment_received")),
        "payments are notified"
    );

    audits_and_replays_clean(&by_kafka);
}

/// The store's second bookkeeping (`ratel audit`) agrees with its state and counters, and a
/// replay reproduces every decision and the state byte for byte.
fn audits_and_replays_clean(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let audit = engine::audit::audit(&store).unwrap();
    assert_eq!(audit.discrepancies, 0, "{dir:?}: {:?}", audit.listed);
    let r = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(
        r.mismatches.is_empty() && r.state_differences.is_empty(),
        "{dir:?}: {r:?}"
    );
}

/// `ratel produce` of `source` to input topics created with `partitions` partitions, one
/// message per record batch: tansu 0.6's in-memory store answers a fetch from an offset inside
/// a batch with the batches after it (Kafka answers with the batch that holds it), so a restart
/// part way through a batch would wait for ever at the end of a partition, or skip the rest of
/// that batch. Kafka itself needs no such thing.
fn produce(brokers: &str, source: &str, partitions: u32, more: &[&str]) -> String {
    let n = partitions.to_string();
    let mut args = vec![
        "produce",
        "--brokers",
        brokers,
        "--source",
        source,
        "--create",
        &n,
    ];
    args.extend(["--batch-messages", "1"]);
    args.extend(more);
    ratel(&args)
}

/// Rates `file` over `partitions` partitions from a file, for comparison.
fn by_file(file: &Path, dir: &Path, partitions: u32) {
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    let cfg = engine::pipeline::Config {
        partitions,
        ..Default::default()
    };
    let mut e = engine::pipeline::Engine::open(dir, cat, text.as_bytes(), cfg).unwrap();
    e.run_file(file).unwrap();
}

#[test]
fn broker_down_and_request_errors_on_a_mock_cluster_lose_nothing_and_charge_nothing_twice() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let tmp = tempfile::tempdir().unwrap();
    let file = sorted_workload(
        tmp.path(),
        &Workload {
            accounts: 80,
            days: 8,
            seed: 9,
            bad: 0.003,
            transfers: false, // as above
            ..Workload::default()
        },
    );
    by_file(&file, &tmp.path().join("by-file"), 2);

    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let topics = engine::kafka::Topics::default();
    for t in topics.inputs().into_iter().chain(topics.outputs()) {
        cluster.create_topic(t, 2, 1).unwrap();
    }
    cluster
        .create_topic(engine::changelog::DEFAULT_TOPIC, 2, 1)
        .unwrap();
    engine::kafka::produce(
        &brokers,
        &topics,
        &file,
        true,
        engine::kafka::BATCH_MESSAGES,
        |_| {},
    )
    .unwrap();

    let data = tmp.path().join("by-mock");
    let run = {
        let (brokers, data, topics) = (brokers.clone(), data.clone(), topics.clone());
        std::thread::spawn(move || {
            let text = engine::EXAMPLE_CATALOG;
            let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
            let o = engine::stream::Options {
                group: engine::kafka::Group {
                    id: "mock".into(),
                    instance: None,
                },
                topics,
                exit_when_idle: Some(Duration::from_secs(4)),
                publish: true,
                idempotent: true,
                changelog: Some(engine::changelog::DEFAULT_TOPIC.into()),
                ready_lag: engine::kafka::watch::DEFAULT_READY_LAG,
            };
            let cfg = engine::pipeline::Config {
                batch: 50,
                ..Default::default()
            };
            engine::stream::run(&data, cat, text.as_bytes(), &brokers, cfg, &o, |_, _| {
                // Slowed, so that the faults fall in the middle of the run.
                std::thread::sleep(Duration::from_millis(60));
            })
            .map(|e| e.counters)
            .map_err(|e| e.to_string())
        })
    };
    // Faults while it runs: failed fetches and produces, then the broker down and back.
    std::thread::sleep(Duration::from_millis(1500));
    let errs = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION; 5];
    cluster.request_errors(RDKafkaApiKey::Fetch, &errs);
    cluster.request_errors(RDKafkaApiKey::Produce, &errs);
    cluster.request_errors(
        RDKafkaApiKey::Heartbeat,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS],
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!run.is_finished(), "the faults come while it runs");
    cluster.broker_down(1).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    cluster.broker_up(1).unwrap();
    let counters = run.join().unwrap().expect("the run ends cleanly");

    let (file_log, file_dead, file_accounts) = decided(&tmp.path().join("by-file"));
    let (mock_log, mock_dead, mock_accounts) = decided(&data);
    assert_eq!(
        counters.read as usize,
        std::io::BufReader::new(std::fs::File::open(&file).unwrap())
            .lines()
            .count()
    );
    assert_eq!(file_accounts, mock_accounts);
    assert_eq!(file_dead, mock_dead);
    assert_eq!(file_log, mock_log, "every partition's decisions, in order");
    let mut ids = std::collections::HashSet::new();
    for (h, _) in read_topic(&brokers, &topics.charges_topic) {
        ids.insert(h["ratel-event"].clone());
    }
    let want: usize = mock_log
        .values()
        .flatten()
        .filter(|(_, d)| {
            rating::codec::decode_decision(d).unwrap().outcome != rating::Outcome::Duplicate
        })
        .count();
    assert_eq!(ids.len(), want, "every decision is on the charges topic");
}

/// The next offset of every input topic partition: where a store that rated all of it stands.
fn input_ends(brokers: &str, partitions: u32) -> BTreeMap<(String, u32), u64> {
    let c: BaseConsumer = engine::kafka::client_config(brokers).create().unwrap();
    let mut ends = BTreeMap::new();
    for t in engine::kafka::Topics::default().inputs() {
        for p in 0..partitions {
            let (_, high) = c
                .fetch_watermarks(t, p as i32, Duration::from_secs(10))
                .unwrap();
            ends.insert((t.to_string(), p), high as u64);
        }
    }
    ends
}

/// The number of lines of a time-sorted workload before the first where event time moves on,
/// about `share` of the way in: no event after it sorts before one before it.
fn time_split(file: &Path, share: f64) -> (usize, usize) {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let time = |l: &str| {
        rating::codec::parse_json(l.as_bytes())
            .ok()
            .map(|i| i.time())
    };
    let mut at = (lines.len() as f64 * share) as usize;
    while at < lines.len() && (time(lines[at]).is_none() || time(lines[at]) <= time(lines[at - 1]))
    {
        at += 1;
    }
    (at, lines.len() - at)
}

#[test]
fn instances_killed_and_added_while_events_flow_end_with_the_decisions_of_one_instance() {
    const PARTITIONS: u32 = 4;
    let tmp = tempfile::tempdir().unwrap();
    let Some((broker, file)) = broker_and_workload(tmp.path(), 120, 8, 13) else {
        return;
    };
    // One uninterrupted instance: the file over the topics' partitions (the first test shows
    // that this is what one instance rating the topics decides).
    let reference = tmp.path().join("one");
    by_file(&file, &reference, PARTITIONS);
    let (n1, n2) = time_split(&file, 0.5);
    assert!(n1 > 1000 && n2 > 1000, "{n1} + {n2} lines");
    // Published in two parts: the second is keyed by the accounts the first opened.
    let source = format!("file:{}", file.display());
    let produce_part = |skip: usize, take: usize| {
        let (s, t) = (skip.to_string(), take.to_string());
        let out = produce(
            &broker.addr,
            &source,
            PARTITIONS,
            &["--skip", &s, "--take", &t],
        );
        assert!(out.contains(&format!("produced {take} lines")), "{out}");
    };
    produce_part(0, n1);

    let cat = catalog();
    let kafka = format!("kafka:{}", broker.addr);
    let dirs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| tmp.path().join(n)).collect();
    let start = |dir: &Path, idle: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ratel"));
        c.args([
            "--quiet",
            "run",
            "--catalog",
            &cat,
            "--data",
            dir.to_str().unwrap(),
            "--source",
            &kafka,
            "--batch",
            "61",
            "--group",
            "shared",
        ]);
        if idle {
            // Longer than a killed member's session (10 s), so that its partitions are
            // taken over before the others call it a day.
            c.args(["--exit-when-idle", "20"]);
        }
        c.env("RATEL_LOG", "warn,engine::kafka=info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.with_extension("log")).unwrap(),
            ))
            .spawn()
            .unwrap()
    };
    let read = |dir: &Path| -> u64 {
        Store::open_follower(dir)
            .ok()
            .and_then(|s| s.counters().ok())
            .map_or(0, |c| c.read)
    };
    let mut a = start(&dirs[0], false);
    let mut b = start(&dirs[1], true);
    // A is killed (SIGKILL) once it has committed some of its share, part way through.
    let deadline = Instant::now() + Duration::from_secs(120);
    while read(&dirs[0]) == 0 {
        assert!(
            Instant::now() < deadline,
            "instance a never committed a batch"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(700));
    a.kill().unwrap();
    a.wait().unwrap();
    let a_read = read(&dirs[0]);
    // C joins, and the second half of the traffic arrives while B and C share the partitions
    // (and A's, once its session ends).
    let mut c = start(&dirs[2], true);
    produce_part(n1, n2);
    for (name, child) in [("b", &mut b), ("c", &mut c)] {
        let deadline = Instant::now() + Duration::from_secs(300);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("instance {name} did not finish in 300 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(status.success(), "instance {name}: {status}");
    }
    let c_read = read(&dirs[2]);
    eprintln!("a read {a_read} of {n1} lines before it was killed; c, added, read {c_read}");
    assert!(a_read > 0 && a_read < (n1 + n2) as u64);
    assert!(c_read > 0, "the instance added took a share");

    // Each partition, in every store that rated it to its end, decided what the single
    // instance decided: the same log, the same accounts. Stores that lost a partition part way
    // hold an older prefix of it, which a new assignment continues from.
    let ends = input_ends(&broker.addr, PARTITIONS);
    let (one_log, _, one_accounts) = decided(&reference);
    let of = |id: &str| engine::partition::of_bytes(id.as_bytes(), PARTITIONS);
    let mut owners = vec![0; PARTITIONS as usize];
    for dir in &dirs {
        let store = Store::open(dir).unwrap();
        let current: Vec<u32> = (0..PARTITIONS)
            .filter(|&p| {
                engine::kafka::Topics::default().inputs().iter().all(|t| {
                    let key = engine::keys::position(Some(t), p);
                    let at = store.meta_u64(&key).unwrap().unwrap_or(0);
                    assert!(
                        at <= ends[&(t.to_string(), p)],
                        "{dir:?} {key} past the end"
                    );
                    at == ends[&(t.to_string(), p)]
                })
            })
            .collect();
        drop(store);
        let (log, _, accounts) = decided(dir);
        for p in current {
            owners[p as usize] += 1;
            let (got, want) = (&log[&p], &one_log[&p]);
            if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
                let show = |e: Option<&(Vec<u8>, Vec<u8>)>| {
                    e.map(|(input, d)| {
                        format!(
                            "{:?}\n => {:?}",
                            rating::codec::decode_input(input).unwrap(),
                            rating::codec::decode_decision(d).unwrap()
                        )
                    })
                };
                panic!(
                    "{dir:?}: partition {p}'s decisions differ at {i} of {} (one instance: {}):\n{:?}\nvs one instance's\n{:?}",
                    got.len(),
                    want.len(),
                    show(got.get(i)),
                    show(want.get(i))
                );
            }
            let mine: Vec<_> = accounts.iter().filter(|a| of(&a.id) == p).collect();
            let want: Vec<_> = one_accounts.iter().filter(|a| of(&a.id) == p).collect();
            assert!(!want.is_empty());
            assert!(mine == want, "{dir:?}: partition {p}'s accounts differ");
        }
        audits_and_replays_clean(dir);
    }
    eprintln!("stores holding each partition to its end: {owners:?}");
    if owners.contains(&0) {
        // What the instances said is the story of which partition was left, and why.
        for dir in &dirs {
            let log = std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- {dir:?}:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    assert!(owners.iter().all(|&n| n >= 1), "{owners:?}");

    // The charges topic holds every charge of the single instance; a repeat (a partition rated
    // again where it moved) carries the same event id and the same bytes.
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    for (h, body) in read_topic(&broker.addr, "ratel.charges") {
        let id = h["ratel-event"].clone();
        if let Some(before) = seen.insert(id.clone(), body.clone()) {
            assert_eq!(before, body, "a repeat of {id} differs");
        }
    }
    let want: Vec<String> = one_log
        .values()
        .flatten()
        .map(|(_, d)| rating::codec::decode_decision(d).unwrap())
        .filter(|d| d.outcome != rating::Outcome::Duplicate)
        .map(|d| d.event.to_string())
        .collect();
    let missing: Vec<_> = want.iter().filter(|k| !seen.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} charges missing, e.g. {:?}",
        missing.len(),
        want.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(
        seen.len(),
        want.len(),
        "no charge the single instance did not make"
    );
}

/// `text` without terminal colour sequences (`ESC [ … m`).
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn an_instance_given_partitions_restores_them_from_the_changelog_without_reading_the_inputs() {
    const PARTITIONS: u32 = 3;
    let tmp = tempfile::tempdir().unwrap();
    let Some((broker, file)) = broker_and_workload(tmp.path(), 60, 5, 21) else {
        return;
    };
    let source = format!("file:{}", file.display());
    let out = produce(&broker.addr, &source, PARTITIONS, &[]);
    assert!(out.contains("produced"), "{out}");
    let cat = catalog();
    let kafka = format!("kafka:{}", broker.addr);
    // Runs an instance to the end of the inputs; returns what it logged about restores.
    let run = |dir: &Path, group: &str| -> String {
        let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 300)
            .args(["--quiet", "run", "--catalog", &cat, "--data"])
            .arg(dir)
            .args(["--source", &kafka, "--batch", "97", "--group", group])
            .args(["--exit-when-idle", "3"])
            .env("RATEL_LOG", "warn,engine::kafka::stream=info")
            .output()
            .unwrap();
        let log = plain(&String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{log}");
        log
    };
    // A rates every partition from the inputs and keeps the changelog.
    let a = tmp.path().join("a");
    let a_log = run(&a, "first");
    assert!(!a_log.contains("restored from the changelog"), "{a_log}");
    let charges_after_a = read_topic(&broker.addr, "ratel.charges").len();
    // B, with an empty store, is given every partition (a group of its own): it restores them
    // from the changelog and finds nothing left to read.
    let b = tmp.path().join("b");
    let b_log = run(&b, "second");
    let (sa, sb) = (common::stats(&a), common::stats(&b));
    assert!(sa["counters"]["read"].as_u64().unwrap() > 1000, "{sa}");
    for k in ["log_sha256", "models_sha256", "counters", "accounts"] {
        assert_eq!(sb[k], sa[k], "{k} of the restored store");
    }
    assert!(
        decided(&b) == decided(&a),
        "restored accounts or log differ"
    );
    // Each partition was restored whole, from the first entry after the catalog to the end of
    // A's log: B rated nothing itself (anything rated would follow what was restored).
    let (sa, sb) = (Store::open(&a).unwrap(), Store::open(&b).unwrap());
    for p in 0..PARTITIONS {
        let end = sa.meta_u64(&format!("seq/{p}")).unwrap().unwrap();
        let said = format!("partition={p} ");
        let line = b_log
            .lines()
            .find(|l| l.contains("restored from the changelog") && l.contains(&said))
            .unwrap_or_else(|| panic!("no restore of partition {p}: {b_log}"));
        assert!(line.contains(&format!("from=1 to={end}")), "{line}");
        for t in engine::kafka::Topics::default().inputs() {
            let key = engine::keys::position(Some(t), p);
            assert_eq!(
                sb.meta_u64(&key).unwrap(),
                sa.meta_u64(&key).unwrap(),
                "{key}"
            );
        }
    }
    drop((sa, sb));
    audits_and_replays_clean(&b);
    // B sends again only what A's outbox had not yet confirmed when A wrote its last pieces:
    // at most the last two batches of each partition, each repeat byte for byte.
    let charges = read_topic(&broker.addr, "ratel.charges");
    let repeats = charges.len() - charges_after_a;
    eprintln!("{charges_after_a} charges from a; b repeated {repeats}");
    assert!(repeats <= 2 * 97 * PARTITIONS as usize, "{repeats} repeats");
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    for (h, body) in charges {
        if let Some(before) = seen.insert(h["ratel-event"].clone(), body.clone()) {
            assert_eq!(before, body, "a repeat differs");
        }
    }
}

/// A backlog of two weeks on all three topics, not in event-time order (as `ratel gen` and
/// mediation files write it), produced and then rated from Kafka in one catch-up run: the same
/// decisions as the file, partition by partition, and nothing refused that the file accepts.
/// The merge waits for a topic that looks drained until the broker's end offset says so.
#[test]
fn an_unsorted_backlog_of_weeks_from_kafka_is_decided_as_from_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&tmp.path().join("tansu.log")) else {
        return;
    };
    let file = tmp.path().join("workload.jsonl");
    Workload {
        accounts: 200,
        days: 15,
        seed: 11,
        bad: 0.003,
        transfers: false,
        ..Workload::default()
    }
    .write(&mut std::fs::File::create(&file).unwrap(), |_| {})
    .unwrap();
    let file_store = tmp.path().join("by-file");
    by_file(&file, &file_store, 3);
    let source = format!("file:{}", file.display());
    let produced = ratel(&[
        "produce",
        "--brokers",
        &broker.addr,
        "--source",
        &source,
        "--create",
        "3",
    ]);
    assert!(produced.contains("produced"), "{produced}");
    let by_kafka = tmp.path().join("by-kafka");
    run_until_idle(&broker.addr, &by_kafka, &[]);
    let (file_log, file_dead, file_accounts) = decided(&file_store);
    let (kafka_log, kafka_dead, kafka_accounts) = decided(&by_kafka);
    let refused = |log: &Decided| {
        let mut n = 0;
        for entries in log.values() {
            for (_, d) in entries {
                let d = rating::codec::decode_decision(d).unwrap();
                n += usize::from(matches!(d.outcome, rating::Outcome::Rejected(_)));
            }
        }
        n
    };
    assert_eq!(refused(&kafka_log), refused(&file_log));
    assert_eq!(file_dead, kafka_dead);
    assert_eq!(file_accounts, kafka_accounts);
    same_decisions(&file_log, &kafka_log, 3);
    audits_and_replays_clean(&by_kafka);
}

/// Refunds and reversals from Kafka find the charge or payment they name, however the batches
/// cut: the stream lands its batches in flight before it rates one that names an earlier
/// decision. Decided as from the file, every refund refunded.
#[test]
fn refunds_from_kafka_find_their_charges_as_from_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&tmp.path().join("tansu.log")) else {
        return;
    };
    let mut lines = Vec::new();
    for a in 0..6 {
        let (acc, num) = (format!("R{a}"), format!("7900200000{a}"));
        lines.push(format!(r#"{{"type":"open_account","id":"o{a}","account":"{acc}","time":"2026-11-01T09:00:0{a}Z","numbers":[{{"msisdn":"{num}","plan":"BASIC"}}]}}"#));
        lines.push(format!(r#"{{"type":"payment","id":"p{a}","account":"{acc}","amount":"100.00","time":"2026-11-01T09:10:0{a}Z"}}"#));
        for c in 0..3 {
            lines.push(format!(r#"{{"type":"usage","id":"c{a}-{c}","msisdn":"{num}","service":"voice","direction":"out","other":"79161234567","start":"2026-11-01T1{c}:0{a}:00Z","duration":120}}"#));
            lines.push(format!(r#"{{"type":"refund","id":"r{a}-{c}","account":"{acc}","charge":"c{a}-{c}","reason":"dropped_call","operator":"op","time":"2026-11-01T1{c}:0{a}:01Z"}}"#));
        }
        lines.push(format!(r#"{{"type":"reverse_payment","id":"v{a}","account":"{acc}","payment":"p{a}","reason":"chargeback","operator":"bank","time":"2026-11-01T15:00:0{a}Z"}}"#));
    }
    let (raw, file) = (
        tmp.path().join("raw.jsonl"),
        tmp.path().join("refunds.jsonl"),
    );
    std::fs::write(&raw, lines.join("\n") + "\n").unwrap();
    common::time_sorted(&raw, &file);
    let file_store = tmp.path().join("by-file");
    by_file(&file, &file_store, 3);
    let produced = produce(&broker.addr, &format!("file:{}", file.display()), 3, &[]);
    assert!(produced.contains("produced"), "{produced}");
    let by_kafka = tmp.path().join("by-kafka");
    run_until_idle(&broker.addr, &by_kafka, &["--batch", "2"]);
    let (file_log, _, file_accounts) = decided(&file_store);
    let (kafka_log, _, kafka_accounts) = decided(&by_kafka);
    let outcomes = |log: &Decided, name: &str| {
        (log.values().flatten())
            .filter(|(_, d)| rating::codec::decode_decision(d).unwrap().outcome.name() == name)
            .count()
    };
    assert_eq!(outcomes(&file_log, "refunded"), 18);
    assert_eq!(outcomes(&kafka_log, "refunded"), 18);
    assert_eq!(outcomes(&kafka_log, "payment_reversed"), 6);
    assert_eq!(file_accounts, kafka_accounts);
    same_decisions(&file_log, &kafka_log, 3);
    audits_and_replays_clean(&by_kafka);
}

/// `ratel run` from the broker's input topics into `data` (with `more` flags), until they have
/// been idle for three seconds.
fn run_until_idle(brokers: &str, data: &Path, more: &[&str]) {
    let source = format!("kafka:{brokers}");
    let (catalog, data) = (catalog(), data.to_str().unwrap());
    let mut args = vec![
        "run",
        "--catalog",
        &catalog,
        "--data",
        data,
        "--source",
        &source,
    ];
    args.extend(more);
    args.extend(["--exit-when-idle", "3"]);
    ratel(&args);
}

/// Each of `partitions` partitions holds the same decisions, in the same order, in both logs.
fn same_decisions(a: &Decided, b: &Decided, partitions: u32) {
    let none = Vec::new();
    for p in 0..partitions {
        let (a, b) = (a.get(&p).unwrap_or(&none), b.get(&p).unwrap_or(&none));
        assert_eq!(a.len(), b.len(), "partition {p}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(x == y, "partition {p}, entry {i}: the decisions differ");
        }
    }
}

/// `ratel run` on the input topics in group `group` with its metrics endpoint; the child and
/// the endpoint's address.
fn instance_with_metrics(brokers: &str, dir: &Path, group: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args([
            "--quiet",
            "run",
            "--metrics",
            "127.0.0.1:0",
            "--batch",
            "61",
        ])
        .args(["--catalog", &catalog(), "--group", group, "--data"])
        .arg(dir)
        .arg("--source")
        .arg(format!("kafka:{brokers}"))
        .env("RATEL_LOG", "warn,engine::kafka=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = common::metrics_address(&mut child, &dir.with_extension("log"));
    (child, address)
}

/// The consumer group session timeout `ratel run` sets (engine/src/kafka/consume.rs).
const SESSION: Duration = Duration::from_secs(10);

static LOGS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A gauge's value as an instance's `/metrics` shows it (no labels).
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    let text = ureq::get(&format!("{metrics}/metrics"))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits until `metrics` shows `name` at `value`; how long that took.
fn until_gauge(metrics: &str, name: &str, value: f64, within: Duration) -> Duration {
    let started = Instant::now();
    while gauge(metrics, name) != Some(value) {
        if started.elapsed() > within {
            let mut logs = String::new();
            for dir in LOGS.lock().unwrap().iter() {
                for e in std::fs::read_dir(dir).unwrap().flatten() {
                    if e.path().extension().is_some_and(|x| x == "log") {
                        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                        let tail: Vec<&str> = text.lines().rev().take(40).collect();
                        logs.push_str(&format!(
                            "== {:?}\n{}\n",
                            e.path(),
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                        ));
                    }
                }
            }
            panic!(
                "{name} did not reach {value} in {within:?} at {metrics} (it is {:?})\n{logs}\n{}",
                gauge(metrics, name),
                String::from_utf8_lossy(
                    &Command::new("ps")
                        .args(["-eo", "pid,stat,args"])
                        .output()
                        .unwrap()
                        .stdout
                )
                .lines()
                .filter(|l| l.contains("ratel") && l.contains("run"))
                .collect::<Vec<_>>()
                .join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

fn exits_within(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_hands_partitions_over_before_the_session_times_out_and_loses_or_doubles_nothing() {
    const PARTITIONS: u32 = 2;
    let tmp = tempfile::tempdir().unwrap();
    let Some((broker, file)) = broker_and_workload(tmp.path(), 60, 6, 29) else {
        return;
    };
    let reference = tmp.path().join("one");
    by_file(&file, &reference, PARTITIONS);
    let (n1, n2) = time_split(&file, 0.5);
    let source = format!("file:{}", file.display());
    let produce_part = |skip: usize, take: usize| {
        let (s, t) = (skip.to_string(), take.to_string());
        produce(
            &broker.addr,
            &source,
            PARTITIONS,
            &["--skip", &s, "--take", &t],
        );
    };
    produce_part(0, n1);
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    LOGS.lock().unwrap().push(tmp.path().to_path_buf());
    let owned = "ratel_partitions_owned";
    let long = Duration::from_secs(120);
    let (mut a, a_metrics) = instance_with_metrics(&broker.addr, &a_dir, "g");
    let (mut b, b_metrics) = instance_with_metrics(&broker.addr, &b_dir, "g");
    until_gauge(&a_metrics, owned, 1.0, long);
    until_gauge(&b_metrics, owned, 1.0, long);

    // SIGTERM while the second half of the traffic arrives: A lands what it read, publishes,
    // leaves the group and exits 0; B is given A's partition without waiting for a session.
    let producer = std::thread::scope(|scope| {
        let p = scope.spawn(|| produce_part(n1, n2));
        std::thread::sleep(Duration::from_millis(300));
        let sent = Instant::now();
        let pid = a.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let moved = std::panic::catch_unwind(|| until_gauge(&b_metrics, owned, 2.0, long))
            .unwrap_or_else(|_| {
                let log = std::fs::read_to_string(b_dir.with_extension("log")).unwrap_or_default();
                let a_log =
                    std::fs::read_to_string(a_dir.with_extension("log")).unwrap_or_default();
                panic!("B's log:\n{log}\nA's log:\n{a_log}")
            });
        let status = exits_within(&mut a, Duration::from_secs(30));
        assert!(status.success(), "A after SIGTERM: {status}");
        p.join().unwrap();
        (sent.elapsed(), moved)
    });
    let (_, after_term) = producer;
    // Without leaving the group, the partition would wait for A's session to time out (the
    // session timeout ratel's consumer sets); `instances_killed_and_added_…` shows SIGKILL's.
    eprintln!("a partition moved {after_term:?} after SIGTERM (session timeout {SESSION:?})");
    assert!(
        after_term < SESSION,
        "SIGTERM moved the partition in {after_term:?}: no faster than a kill"
    );

    // B, owning both, catches up and is ready; stopped, its log is the single instance's.
    until_gauge(&b_metrics, "ratel_ready", 1.0, long);
    let ends = input_ends(&broker.addr, PARTITIONS);
    let at_end = || {
        let store = Store::open_follower(&b_dir).unwrap();
        ends.iter().all(|((t, p), &end)| {
            store
                .meta_u64(&engine::keys::position(Some(t), *p))
                .unwrap()
                == Some(end)
        })
    };
    let deadline = Instant::now() + long;
    while !at_end() {
        assert!(
            Instant::now() < deadline,
            "B did not reach the end of the topics"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = b.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(exits_within(&mut b, Duration::from_secs(30)).success());
    same_decisions(&decided(&b_dir).0, &decided(&reference).0, PARTITIONS);
    audits_and_replays_clean(&b_dir);
}
