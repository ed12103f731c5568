//! The deploy material (deploy/) holds to what ratel is: the alert rules pass promtool, every
//! metric the dashboard and the rules query is one ratel exports, docs/operations.md lists
//! every metric, and the example configuration passes `ratel config check`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The metric names a PromQL expression names: `ratel_…` and `process_…` words, histogram
/// series back to their metric.
fn metrics_named(expr: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if word.starts_with("ratel_") || word.starts_with("process_") {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .unwrap_or(&word);
            found.insert(base.to_string());
        }
        word.clear();
    }
    found
}

fn exported(name: &str) -> bool {
    engine::operations::metrics::NAMES.contains(&name)
        || (name.starts_with(engine::operations::metrics::PROCESS_PREFIX)
            && ["process_cpu_seconds_total", "process_resident_memory_bytes"].contains(&name))
}

#[test]
fn every_query_of_the_dashboard_and_the_alerts_names_a_metric_ratel_exports() {
    let text = std::fs::read_to_string(workspace().join("deploy/grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queries.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(queries.len() >= 15, "{} queries", queries.len());
    let rules = std::fs::read_to_string(workspace().join("deploy/alerts.yml")).unwrap();
    queries.extend(
        rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("expr: "))
            .map(str::to_string),
    );
    let mut shown = BTreeSet::new();
    for q in &queries {
        let names = metrics_named(q);
        assert!(
            !names.is_empty() || q.contains("up{"),
            "{q} names no metric"
        );
        for n in names {
            assert!(exported(&n), "{q} names {n}, which ratel does not export");
            shown.insert(n);
        }
    }
    // The dashboard shows what the issue asks: throughput, lag, rejects, latency, stalls, RSS.
    for needed in [
        "ratel_inputs_total",
        "ratel_consumer_lag_messages",
        "ratel_commit_seconds",
        "ratel_rocksdb_write_stall_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(shown.contains(needed), "nothing shows {needed}");
    }
}

#[test]
fn the_alert_rules_pass_promtool() {
    let Ok(status) = Command::new("promtool")
        .args(["check", "rules"])
        .arg(workspace().join("deploy/alerts.yml"))
        .status()
    else {
        assert!(
            std::env::var_os("RATEL_REQUIRE_TOOLS").is_none(),
            "promtool (Debian's prometheus) is required"
        );
        eprintln!("skipped: no promtool");
        return;
    };
    assert!(status.success(), "promtool check rules: {status}");
}

#[test]
fn docs_operations_lists_every_metric() {
    let docs = std::fs::read_to_string(workspace().join("docs/operations.md")).unwrap();
    for name in engine::operations::metrics::NAMES {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/operations.md lacks `{name}`"
        );
    }
}

#[test]
fn the_example_configuration_passes_the_check_with_its_password_redacted() {
    let out = Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args(["config", "check", "--config"])
        .arg(workspace().join("deploy/ratel.toml"))
        .env_remove("RATEL_DATA")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("# configuration valid"), "{text}");
    assert!(text.contains("sasl.password=<redacted>"), "{text}");
    assert!(!text.contains("change-me"), "{text}");
    assert!(
        text.contains("source = \"kafka:kafka-1.internal:9093,kafka-2.internal:9093\""),
        "{text}"
    );
}
