//! Load on `ratel online`: Diameter credit-control clients against the server, in this process,
//! over TCP on the loopback. Every answer is durable before it is sent (group commit), so the
//! figures are those of the synced store. Beside them, the raw floor: the same pattern without
//! Diameter or rating (clients hand requests to one writer thread, which writes all that came
//! during its last sync as one synced RocksDB batch of the same bytes a request adds to ratel's
//! store, and then answers them).
//!
//! `cargo bench -p ratel-benches --bench diameter_load`, with `RATEL_LOAD_ACCOUNTS` (10 000),
//! `RATEL_LOAD_CONNECTIONS` (8), `RATEL_LOAD_WINDOW` (sessions in flight on a connection, 8)
//! and `RATEL_LOAD_SECONDS` (10). Each session is a voice call: INITIAL, three UPDATEs and a
//! TERMINATION, on accounts with money enough that none runs out.

use diameter_codec::{frame_length, Avp, Message, FLAG_REQUEST};
use engine::online::*;
use engine::pipeline::{Config, Engine};
use engine::source::FileSource;
use ratel_benches::{cpu_by_thread, cpu_now, cpu_spent, env, example};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests of one session: INITIAL, UPDATE × 3, TERMINATION.
const REQUESTS_PER_SESSION: u32 = 5;
/// Answers in the first second are not timed: connections and caches warm up.
const WARM_UP: Duration = Duration::from_secs(1);

/// CPU seconds by thread name, and of the whole process.
type Spent = (Vec<(String, f64)>, f64);

struct Load {
    accounts: u64,
    connections: u64,
    window: u64,
    seconds: u64,
}

fn main() {
    let load = Load {
        accounts: env("RATEL_LOAD_ACCOUNTS", 10_000),
        connections: env("RATEL_LOAD_CONNECTIONS", 8),
        window: env("RATEL_LOAD_WINDOW", 8),
        seconds: env("RATEL_LOAD_SECONDS", 10),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let engine = opened(dir.path(), &data, load.accounts);
    let bytes_before = ratel_benches::stored_bytes(&engine.store);
    let port = free_port();
    let server = std::thread::spawn(move || serve(engine, port));
    wait_for(port);
    let (latencies, spent) = drive(&load, port);
    engine::operations::shutdown::request();
    let engine = server.join().unwrap();
    let decided = engine.store.log().count() as u64;
    let added = ratel_benches::stored_bytes(&engine.store) - bytes_before;
    drop(engine);
    let requests = decided - 2 * load.accounts;
    let per_request = (added / requests.max(1)).max(1);
    let floor = raw_floor(&load, dir.path(), per_request as usize);
    report(&load, &latencies, &spent, &floor, per_request);
}

/// A store with `accounts` accounts opened an hour ago on BASIC, each paid 100 000.00.
fn opened(dir: &Path, data: &Path, accounts: u64) -> Engine {
    let at = rating::Timestamp(unix_now() - 3600).to_string();
    let mut text = String::new();
    for a in 0..accounts {
        text.push_str(&format!(
            "{{\"type\":\"open_account\",\"id\":\"open-{a}\",\"account\":\"A{a}\",\"time\":\"{at}\",\"numbers\":[{{\"msisdn\":\"{}\",\"plan\":\"BASIC\"}}]}}\n\
             {{\"type\":\"payment\",\"id\":\"pay-{a}\",\"account\":\"A{a}\",\"amount\":\"100000.00\",\"time\":\"{at}\"}}\n",
            msisdn(a)
        ));
    }
    let path = dir.join("accounts.jsonl");
    std::fs::write(&path, text).unwrap();
    let config = Config {
        sync: true,
        ..Config::default()
    };
    let catalog = engine::EXAMPLE_CATALOG;
    let mut engine = Engine::open(data, example(), catalog.as_bytes(), config).unwrap();
    let mut source = FileSource::open(path, 0).unwrap();
    engine.run(&mut source, |_, _| {}).unwrap();
    engine
}

fn msisdn(account: u64) -> String {
    format!("7900{account:07}")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn serve(mut engine: Engine, port: u16) -> Engine {
    let options = Options {
        diameter: format!("127.0.0.1:{port}").parse().unwrap(),
        origin_host: "ratel.localdomain".into(),
        origin_realm: "localdomain".into(),
        advertise: None,
        http: None,
        offline: None,
    };
    engine::online::serve(&mut engine, options).unwrap();
    engine
}

fn wait_for(port: u16) {
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("ratel online did not listen on {port}");
}

/// Runs the clients for the load's seconds; returns each timed answer's latency, and the CPU
/// seconds each thread and the whole process spent meanwhile (warm-up included).
fn drive(load: &Load, port: u16) -> (Vec<Duration>, Spent) {
    let before = (cpu_by_thread(), cpu_now());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load-client")
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let until = started + Duration::from_secs(load.seconds) + WARM_UP;
    runtime.block_on(async {
        let mut clients = Vec::new();
        for connection in 0..load.connections {
            let first = connection * load.window;
            let (accounts, window) = (load.accounts, load.window);
            clients.push(tokio::spawn(async move {
                client(port, first, window, accounts, started + WARM_UP, until).await
            }));
        }
        let mut all = Vec::new();
        for c in clients {
            all.extend(c.await.unwrap());
        }
        // Read before the runtime ends, while its threads still count.
        let spent = (cpu_spent(&before.0, &cpu_by_thread()), cpu_now() - before.1);
        (all, spent)
    })
}

/// One session a client keeps going: its account, its id and the request it is at.
struct Call {
    account: u64,
    id: String,
    number: u32,
    sent: Instant,
}

/// One connection: a capabilities exchange, then `window` calls kept going (each next request
/// sent when the last is answered, a new call when one ends) until `until`.
async fn client(
    port: u16,
    first: u64,
    window: u64,
    accounts: u64,
    timed_from: Instant,
    until: Instant,
) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let cer = capabilities(first);
    writer.write_all(&encode(&cer)).await.unwrap();
    read_message(&mut reader).await;
    let mut calls: HashMap<u32, Call> = HashMap::new();
    let mut hop = 0u32;
    let mut out = Vec::new();
    for slot in 0..window {
        let account = (first + slot) % accounts;
        let call = Call {
            account,
            id: format!("load;{first};{slot};0"),
            number: 0,
            sent: Instant::now(),
        };
        hop += 1;
        writer
            .write_all(&encode(&request(&call, hop)))
            .await
            .unwrap();
        calls.insert(hop, call);
    }
    let mut latencies = Vec::new();
    let mut started_calls = window;
    while !calls.is_empty() {
        let answer = read_message(&mut reader).await;
        let mut call = calls
            .remove(&answer.header.hop_by_hop)
            .expect("an answer to a request");
        let now = Instant::now();
        if now >= timed_from {
            latencies.push(now - call.sent);
        }
        assert_eq!(result(&answer), Some(SUCCESS), "answer to {}", call.id);
        call.number += 1;
        if call.number == REQUESTS_PER_SESSION {
            if now >= until {
                continue;
            }
            started_calls += 1;
            call = Call {
                account: (first + started_calls * 7919) % accounts,
                id: format!("load;{first};{started_calls}"),
                number: 0,
                sent: now,
            };
        }
        call.sent = Instant::now();
        hop += 1;
        out.clear();
        request(&call, hop).encode(&mut out);
        writer.write_all(&out).await.unwrap();
        calls.insert(hop, call);
    }
    latencies
}

fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

async fn read_message(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Message {
    let mut head = [0u8; 4];
    reader.read_exact(&mut head).await.unwrap();
    let length = frame_length(head).unwrap();
    let mut bytes = vec![0u8; length];
    bytes[..4].copy_from_slice(&head);
    reader.read_exact(&mut bytes[4..]).await.unwrap();
    Message::decode(&bytes).unwrap()
}

fn result(answer: &Message) -> Option<u32> {
    answer
        .find(RESULT_CODE, None)
        .and_then(|a| a.as_unsigned32().ok())
}

fn header(command: u32, application: u32, hop: u32) -> diameter_codec::Header {
    diameter_codec::Header {
        flags: FLAG_REQUEST,
        command,
        application,
        hop_by_hop: hop,
        end_to_end: hop,
    }
}

fn capabilities(first: u64) -> Message {
    let mut cer = Message {
        header: header(COMMAND_CAPABILITIES_EXCHANGE, 0, 0),
        avps: Vec::new(),
    };
    cer.push(Avp::utf8(
        ORIGIN_HOST,
        None,
        &format!("load{first}.localdomain"),
    ))
    .push(Avp::utf8(ORIGIN_REALM, None, "localdomain"))
    .push(Avp::octets(HOST_IP_ADDRESS, None, &[0, 1, 127, 0, 0, 1]))
    .push(Avp::unsigned32(VENDOR_ID, None, 0))
    .push(Avp::utf8(PRODUCT_NAME, None, "ratel-load"))
    .push(Avp::unsigned32(
        AUTH_APPLICATION_ID,
        None,
        APPLICATION_CREDIT_CONTROL,
    ));
    cer
}

/// The call's next request: INITIAL asks 60 s, each UPDATE reports 60 s used and asks 60 more,
/// the TERMINATION reports 30 s.
fn request(call: &Call, hop: u32) -> Message {
    let (kind, used, requested) = match call.number {
        0 => (INITIAL_REQUEST, None, Some(60)),
        n if n + 1 < REQUESTS_PER_SESSION => (UPDATE_REQUEST, Some(60), Some(60)),
        _ => (TERMINATION_REQUEST, Some(30), None),
    };
    let mut services = vec![Avp::unsigned32(RATING_GROUP, None, 1)];
    if let Some(seconds) = requested {
        let unit = Avp::unsigned32(CC_TIME, None, seconds);
        services.push(Avp::grouped(REQUESTED_SERVICE_UNIT, None, &[unit]));
    }
    if let Some(seconds) = used {
        let unit = Avp::unsigned32(CC_TIME, None, seconds);
        services.push(Avp::grouped(USED_SERVICE_UNIT, None, &[unit]));
    }
    let subscriber = [
        Avp::unsigned32(SUBSCRIPTION_ID_TYPE, None, END_USER_E164),
        Avp::utf8(SUBSCRIPTION_ID_DATA, None, &msisdn(call.account)),
    ];
    let called = Avp::utf8(CALLED_PARTY_ADDRESS, Some(VENDOR_3GPP), "tel:+79009999999");
    let ims = Avp::grouped(IMS_INFORMATION, Some(VENDOR_3GPP), &[called]);
    let mut ccr = Message {
        header: header(COMMAND_CREDIT_CONTROL, APPLICATION_CREDIT_CONTROL, hop),
        avps: Vec::new(),
    };
    ccr.push(Avp::utf8(SESSION_ID, None, &call.id))
        .push(Avp::utf8(ORIGIN_HOST, None, "load.localdomain"))
        .push(Avp::utf8(ORIGIN_REALM, None, "localdomain"))
        .push(Avp::utf8(SERVICE_CONTEXT_ID, None, CONTEXT_VOICE))
        .push(Avp::unsigned32(CC_REQUEST_TYPE, None, kind))
        .push(Avp::unsigned32(CC_REQUEST_NUMBER, None, call.number))
        .push(Avp::grouped(SUBSCRIPTION_ID, None, &subscriber))
        .push(Avp::grouped(
            MULTIPLE_SERVICES_CREDIT_CONTROL,
            None,
            &services,
        ))
        .push(Avp::grouped(SERVICE_INFORMATION, Some(VENDOR_3GPP), &[ims]));
    ccr
}

/// The raw floor: `load.connections × load.window` clients, each handing one request at a time
/// to the writer, which writes what came during its last sync as one synced batch of
/// `per_request` bytes a request.
fn raw_floor(load: &Load, dir: &Path, per_request: usize) -> Vec<Duration> {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    let db = Arc::new(rocksdb::DB::open(&options, dir.join("raw")).unwrap());
    let (jobs, queue) = std::sync::mpsc::sync_channel::<tokio::sync::oneshot::Sender<()>>(8_192);
    let writer = std::thread::spawn(move || write_groups(&db, &queue, per_request));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let until = started + WARM_UP + Duration::from_secs(load.seconds);
    let latencies = runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..load.connections * load.window {
            let jobs = jobs.clone();
            clients.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let (reply, answered) = tokio::sync::oneshot::channel();
                    let sent = Instant::now();
                    jobs.send(reply).unwrap();
                    answered.await.unwrap();
                    if sent >= started + WARM_UP {
                        latencies.push(sent.elapsed());
                    }
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for c in clients {
            all.extend(c.await.unwrap());
        }
        all
    });
    drop(jobs);
    writer.join().unwrap();
    latencies
}

fn write_groups(
    db: &rocksdb::DB,
    queue: &std::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
    per_request: usize,
) {
    let mut sync = rocksdb::WriteOptions::default();
    sync.set_sync(true);
    let value = vec![7u8; per_request];
    let mut key = 0u64;
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            let Ok(next) = queue.try_recv() else { break };
            group.push(next);
        }
        let mut batch = rocksdb::WriteBatch::default();
        for _ in &group {
            key += 1;
            batch.put(key.to_be_bytes(), &value);
        }
        db.write_opt(batch, &sync).unwrap();
        for reply in group {
            let _ = reply.send(());
        }
    }
}

fn percentile(sorted: &[Duration], share: f64) -> f64 {
    let at = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(at - 1).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn report(
    load: &Load,
    latencies: &[Duration],
    spent: &Spent,
    floor: &[Duration],
    per_request: u64,
) {
    let line = |name: &str, latencies: &[Duration]| {
        let mut sorted = latencies.to_vec();
        sorted.sort_unstable();
        format!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            sorted.len() as f64 / load.seconds as f64,
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.95),
            percentile(&sorted, 0.99),
            percentile(&sorted, 0.999),
        )
    };
    println!(
        "{} accounts, {} connections × {} sessions in flight, {} s timed; {per_request} bytes a request added to the store\n",
        load.accounts, load.connections, load.window, load.seconds
    );
    println!(
        "| step | requests/s | p50 ms | p95 ms | p99 ms | p99.9 ms |\n|---|---|---|---|---|---|"
    );
    println!("{}", line("ratel online, CCR → durable CCA", latencies));
    println!(
        "{}",
        line("raw floor: group-committed synced writes", floor)
    );
    let timed = latencies.len().max(1) as f64;
    println!(
        "\nCPU of the process while loaded: {:.2} s, {:.1} µs a timed request (clients and warm-up included); by thread:",
        spent.1,
        1e6 * spent.1 / timed
    );
    for (thread, seconds) in &spent.0 {
        println!("- {thread}: {seconds:.2} s");
    }
}
