//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use engine::pipeline::{Config, Engine};
use std::io::{BufRead, Write};
use std::path::Path;

/// Appends JSON lines to a source file (a later run resumes after what it already rated).
pub fn append(path: &Path, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// An engine on the example catalog with its store in `dir/store`.
pub fn example_engine(dir: &Path) -> Engine {
    example_engine_with(&dir.join("store"), Config::default())
}

/// An engine on the example catalog with its store at `data`, configured.
pub fn example_engine_with(data: &Path, cfg: Config) -> Engine {
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    Engine::open(data, cat, text.as_bytes(), cfg).unwrap()
}

/// The example catalog post-paid: every fee taken at any balance (its pre-paid offers'
/// `when_unpaid = "limit"` removed), for tests of what does not depend on funds.
pub fn postpaid() -> String {
    let text = engine::EXAMPLE_CATALOG.replace("when_unpaid = \"limit\"\n", "");
    assert_ne!(
        text,
        engine::EXAMPLE_CATALOG,
        "the example catalog has pre-paid offers"
    );
    text
}

/// An engine on the post-paid example catalog with its store at `data`, configured.
pub fn postpaid_engine_with(data: &Path, cfg: Config) -> Engine {
    let text = postpaid();
    let cat = rating::Catalog::from_toml("postpaid.toml", &text).unwrap();
    Engine::open(data, cat, text.as_bytes(), cfg).unwrap()
}

/// A command for `program` that is killed, and fails its test, after `seconds`: a child that hangs
/// (a browser once did on a CI machine) must not hold the whole run until CI's time limit.
pub fn bounded(program: impl AsRef<std::ffi::OsStr>, seconds: u32) -> std::process::Command {
    let mut c = std::process::Command::new("timeout");
    c.args(["--kill-after=5", &seconds.to_string()])
        .arg(program);
    c
}

/// Whether `status` is that of a command `bounded` killed for running out of time.
pub fn timed_out(status: std::process::ExitStatus) -> bool {
    status.code() == Some(124) || status.code() == Some(137)
}

/// Runs the `ratel` binary quietly and returns what it printed; an error exit, or five minutes
/// without one, fails the test.
pub fn ratel(args: &[&str]) -> String {
    let out = bounded(env!("CARGO_BIN_EXE_ratel"), 300)
        .arg("--quiet")
        .args(args)
        .env("RATEL_LOG", "warn")
        .output()
        .unwrap();
    assert!(!timed_out(out.status), "ratel {args:?} ran for 300 s");
    assert!(
        out.status.success(),
        "ratel {args:?}: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `ratel stats --json` of the store at `data`: counters, the log's and read models' digests.
pub fn stats(data: &Path) -> serde_json::Value {
    serde_json::from_str(&ratel(&[
        "stats",
        "--json",
        "--data",
        data.to_str().unwrap(),
    ]))
    .unwrap()
}

/// Writes the workload the fault tests rate to `path`: 400 accounts over 20 days (some 40 000
/// lines) with duplicated and bad lines. Returns its line count.
pub fn fault_workload(path: &Path, seed: u64) -> u64 {
    let w = engine::workload::Workload {
        accounts: 400,
        days: 20,
        events_per_day: 5.0,
        seed,
        duplicates: 0.01,
        bad: 0.005,
        ..engine::workload::Workload::default()
    };
    w.write(&mut std::fs::File::create(path).unwrap(), |_| {})
        .unwrap()
}

/// A tool the test needs from Debian's packages: CI installs it (RATEL_REQUIRE_TOOLS=1 there);
/// elsewhere a missing tool skips the test with a note.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::process::Command::new("which")
        .arg(name)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().into());
    if found.is_none() {
        assert!(
            std::env::var_os("RATEL_REQUIRE_TOOLS").is_none(),
            "{name} is required (apt-get install poppler-utils tesseract-ocr chromium)"
        );
        eprintln!("SKIPPED: {name} is not installed");
    }
    found
}

/// Orders a workload by event time, kinds in the topics' tie order (commands, payments, usage),
/// keeping the file's order otherwise; a line that is not an input keeps the time of the line
/// before it and goes with usage. This is the order a partition's merged topics give.
pub fn time_sorted(input: &Path, output: &Path) {
    let mut keyed = Vec::new();
    let mut last = 0i64;
    for line in std::io::BufReader::new(std::fs::File::open(input).unwrap()).lines() {
        let line = line.unwrap();
        let key = match rating::codec::parse_json(line.as_bytes()) {
            Ok(i) => {
                last = i.time().0;
                (last, engine::kafka::Topics::rank_of(&i))
            }
            Err(_) => (last, 2),
        };
        keyed.push((key, line));
    }
    keyed.sort_by_key(|(k, _)| *k);
    let mut f = std::io::BufWriter::new(std::fs::File::create(output).unwrap());
    for (_, l) in keyed {
        writeln!(f, "{l}").unwrap();
    }
}

/// The address `ratel run --metrics …` serves its endpoint on, read from its standard error
/// (piped); the rest of that output goes on into `log` (drained, so that the child never
/// blocks on a full pipe).
pub fn metrics_address(child: &mut std::process::Child, log: &Path) -> String {
    let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    let address = loop {
        line.clear();
        err.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "ratel run ended before it served its metrics"
        );
        if let Some(a) = line
            .trim()
            .strip_prefix("ratel run: metrics, health and readiness on ")
        {
            break a.to_string();
        }
    };
    let mut out = std::fs::File::create(log).unwrap();
    std::thread::spawn(move || std::io::copy(&mut err, &mut out));
    address
}

/// A tansu broker on a loopback port, killed when dropped.
pub struct Broker {
    child: std::process::Child,
    pub addr: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tansu() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("RATEL_TANSU") {
        return Some(p.into());
    }
    tool("tansu")
}

impl Broker {
    pub fn start(log: &Path) -> Option<Broker> {
        let bin = tansu()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let out = std::fs::File::create(log).unwrap();
        let child = std::process::Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("tansu starts");
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "tansu did not listen on {addr}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Some(Broker { child, addr })
    }
}
