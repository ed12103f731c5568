//! The metrics as an operator's Prometheus sees them: Debian's `prometheus` scrapes `ratel run
//! --metrics` while it rates a folder. Once everything is rated, the counters Prometheus holds
//! equal `ratel stats` of the store, outcome by outcome and reason by reason; `/healthz` and
//! `/readyz` answer; and SIGTERM ends the run with exit status 0.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped (a test that fails leaves nothing running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ratel run` on a folder with its metrics endpoint; the address it serves them on.
fn run_with_metrics(dir: &Path) -> (Running, String) {
    let catalog = dir.join("catalog.toml");
    std::fs::write(&catalog, engine::EXAMPLE_CATALOG).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args(["--quiet", "run", "--metrics", "127.0.0.1:0", "--catalog"])
        .arg(&catalog)
        .arg("--data")
        .arg(dir.join("store"))
        .arg("--source")
        .arg(format!("dir:{}", dir.join("inbox").display()))
        .env("RATEL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = common::metrics_address(&mut child, &dir.join("ratel.log"));
    (Running(child), address)
}

fn prometheus(dir: &Path, target: &str) -> Option<(Running, String)> {
    let binary = common::tool("prometheus")?;
    let config = dir.join("prometheus.yml");
    let host = target.trim_start_matches("http://");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ratel\n    static_configs:\n      - targets: ['{host}']\n"
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("prometheus.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    Some((Running(child), format!("http://{listen}")))
}

/// An instant query's result: each series' labels (those asked for) and value.
fn query(prometheus: &str, promql: &str) -> Option<BTreeMap<String, f64>> {
    let answer: serde_json::Value = ureq::get(&format!("{prometheus}/api/v1/query"))
        .query("query", promql)
        .call()
        .ok()?
        .into_json()
        .ok()?;
    let mut out = BTreeMap::new();
    for series in answer["data"]["result"].as_array()? {
        let labels = series["metric"].as_object()?;
        let key: Vec<String> = labels
            .values()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let value: f64 = series["value"][1].as_str()?.parse().ok()?;
        out.insert(key.join("/"), value);
    }
    Some(out)
}

/// What `ratel stats` says the store decided, keyed as the query below keys Prometheus's.
fn expected(stats: &serde_json::Value) -> BTreeMap<String, f64> {
    let c = &stats["counters"];
    let mut want = BTreeMap::new();
    for (outcome, field) in [
        ("rated", "rated"),
        ("duplicate", "duplicates"),
        ("dead", "dead"),
    ] {
        let n = c[field].as_u64().unwrap();
        if n > 0 {
            want.insert(outcome.to_string(), n as f64);
        }
    }
    for (reason, n) in stats["rejections"].as_object().unwrap() {
        want.insert(format!("rejected/{reason}"), n.as_u64().unwrap() as f64);
    }
    want
}

#[test]
fn prometheus_scrapes_counters_equal_to_ratel_stats_and_sigterm_ends_the_run_cleanly() {
    if common::tool("prometheus").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("inbox")).unwrap();
    let lines = common::fault_workload(&dir.join("inbox/day-1.jsonl"), 5);
    let (mut run, metrics) = run_with_metrics(dir);
    let (_prometheus, api) = prometheus(dir, &metrics).unwrap();

    let deadline = Instant::now() + Duration::from_secs(180);
    let read = || {
        engine::store::Store::open_follower(&dir.join("store"))
            .ok()
            .and_then(|s| s.counters().ok())
            .map_or(0, |c| c.read)
    };
    while read() < lines {
        assert!(
            Instant::now() < deadline,
            "rated {} of {lines} lines",
            read()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = common::stats(&dir.join("store"));
    let want = expected(&stats);
    assert!(want.keys().any(|k| k.starts_with("rejected/")), "{want:?}");
    assert!(
        want.contains_key("dead") && want.contains_key("duplicate"),
        "{want:?}"
    );
    let promql = "sum by (outcome, reason) (ratel_inputs_total)";
    let got = loop {
        let got = query(&api, promql);
        if got.as_ref() == Some(&want) || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(got, Some(want), "Prometheus's {promql} against ratel stats");
    let one = |promql: &str| query(&api, promql).and_then(|m| m.values().next().copied());
    let ticks = stats["counters"]["ticks"].as_u64().unwrap() as f64;
    assert_eq!(one("sum(ratel_ticks_total)"), Some(ticks));
    assert_eq!(one("ratel_ready"), Some(1.0));
    assert!(one("sum(ratel_commit_seconds_count)").unwrap() > 0.0);
    assert!(one("process_resident_memory_bytes").unwrap() > 1e6);
    assert!(one("ratel_rocksdb_live_sst_bytes").is_some());
    assert!(one("ratel_event_time_watermark_seconds").unwrap() > 1.7e9);

    for (path, status) in [("/healthz", 200), ("/readyz", 200)] {
        let answer = ureq::get(&format!("{metrics}{path}")).call().unwrap();
        assert_eq!(answer.status(), status, "{path}");
    }
    // SIGTERM: the run stops between batches and exits 0.
    let pid = run.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = run.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ratel run did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "after SIGTERM: {status}");
    common::ratel(&["audit", "--data", dir.join("store").to_str().unwrap()]);
}
