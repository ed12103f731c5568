//! `--config FILE`, the RATEL_* environment and the flags, layered: a flag beats its variable,
//! which beats the file, which beats the default; a key that names no flag, a value of the
//! wrong type or a malformed file is an error naming what is wrong; `ratel config check`
//! prints where each setting came from, secrets redacted.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn ratel(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ratel"));
    c.arg("--quiet").args(args).env("RATEL_LOG", "warn");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Three one-line input files, each opening a different account, and a catalog.
fn inputs(dir: &Path) {
    std::fs::write(dir.join("catalog.toml"), engine::EXAMPLE_CATALOG).unwrap();
    for name in ["file", "env", "flag"] {
        std::fs::write(
            dir.join(format!("{name}.jsonl")),
            format!(
                "{{\"type\":\"open_account\",\"id\":\"o1\",\"account\":\"{}\",\"time\":\"2026-11-01T09:00:00Z\",\"numbers\":[{{\"msisdn\":\"79001000001\",\"plan\":\"SMART\"}}]}}\n",
                name.to_uppercase()
            ),
        )
        .unwrap();
    }
}

/// The accounts of the store at `data`.
fn accounts(data: &Path) -> String {
    common::ratel(&["balance", "--all", "--data", data.to_str().unwrap()])
}

#[test]
fn a_flag_beats_its_variable_which_beats_the_file_which_beats_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    inputs(d);
    let config = d.join("ratel.toml");
    std::fs::write(
        &config,
        format!(
            "data = \"{0}/store-file\"\n[run]\ncatalog = \"{0}/catalog.toml\"\nsource = \"file:{0}/file.jsonl\"\nbatch = 7\nno-sync = true\n",
            d.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // The file alone.
    let out = ratel(&["run", "--config", config], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(accounts(&d.join("store-file")).contains("FILE"));
    // The variable beats the file; the other settings still come from the file.
    let env_source = format!("file:{}/env.jsonl", d.display());
    let env_data = format!("{}/store-env", d.display());
    let out = ratel(
        &["run", "--config", config],
        &[("RATEL_SOURCE", &env_source), ("RATEL_DATA", &env_data)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let seen = accounts(&d.join("store-env"));
    assert!(seen.contains("ENV") && !seen.contains("FILE"), "{seen}");
    // The flag beats both.
    let flag_source = format!("file:{}/flag.jsonl", d.display());
    let flag_data = format!("{}/store-flag", d.display());
    let out = ratel(
        &[
            "run",
            "--config",
            config,
            "--source",
            &flag_source,
            "--data",
            &flag_data,
        ],
        &[("RATEL_SOURCE", &env_source)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let seen = accounts(&d.join("store-flag"));
    assert!(seen.contains("FLAG") && !seen.contains("ENV"), "{seen}");
    // `config check` says where each came from.
    let out = ratel(
        &["config", "check", "--config", config],
        &[("RATEL_BATCH", "9")],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("batch = \"9\"  # environment"), "{shown}");
    assert!(shown.contains("no-sync = \"true\"  # file"), "{shown}");
    assert!(shown.contains("group = \"ratel\"  # default"), "{shown}");
    // Serve has no tokens in this file: it cannot run from it alone, and check says so.
    assert!(
        shown.contains("[serve]\n# not runnable from this configuration alone"),
        "{shown}"
    );
    // `ratel online` reads the same file: the shared data, its own table, the environment.
    let online = d.join("online.toml");
    std::fs::write(
        &online,
        format!("data = \"{0}/store-file\"\n[online]\ncatalog = \"{0}/catalog.toml\"\ndiameter = \"127.0.0.1:0\"\n", d.display()),
    )
    .unwrap();
    let out = ratel(
        &["config", "check", "--config", online.to_str().unwrap()],
        &[("RATEL_ORIGIN_HOST", "ocs-1.example")],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let table = shown.split("[online]").nth(1).unwrap_or_default();
    assert!(
        table.contains("diameter = \"127.0.0.1:0\"  # file"),
        "{shown}"
    );
    assert!(
        table.contains("origin-host = \"ocs-1.example\"  # environment"),
        "{shown}"
    );
    assert!(table.contains("data = "), "{shown}");
}

#[test]
fn unknown_keys_bad_values_and_broken_files_are_errors_that_name_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("datta = \"x\"\n", "unknown key `datta`"),
        ("[run]\nbach = 5\n", "unknown key `run.bach`"),
        // A flag of serve only, in run's table.
        (
            "[run]\nlisten = \"127.0.0.1:1\"\n",
            "unknown key `run.listen`",
        ),
        (
            "[gateway]\ndiameter = \"127.0.0.1:3868\"\n",
            "unknown key `gateway`",
        ),
        ("[run]\nbatch = \"many\"\n", "batch"),
        (
            "[run]\nbatch = { a = 1 }\n",
            "`batch`: a table is not a setting's value",
        ),
        ("[kafka]\n\"sasl\" = { a = 1 }\n", "`kafka.sasl`"),
        ("[run\nbatch = 1\n", "ratel.toml"),
    ];
    for (body, needle) in cases {
        let config = tmp.path().join("ratel.toml");
        std::fs::write(&config, body).unwrap();
        let out = ratel(
            &["config", "check", "--config", config.to_str().unwrap()],
            &[],
        );
        let shown = text(&out);
        assert!(!out.status.success(), "{body:?} passed:\n{shown}");
        assert!(
            shown.contains(needle),
            "{body:?}: {needle:?} not in:\n{shown}"
        );
        assert!(!shown.contains("panicked"), "{shown}");
    }
    // A bad value in the environment is named as the flag's.
    let config = tmp.path().join("ratel.toml");
    std::fs::write(&config, "").unwrap();
    let out = ratel(
        &["config", "check", "--config", config.to_str().unwrap()],
        &[("RATEL_MAX_AHEAD_HOURS", "0")],
    );
    assert!(
        !out.status.success() && text(&out).contains("max-ahead-hours"),
        "{}",
        text(&out)
    );
    // A file that is not there.
    let out = ratel(
        &["config", "check", "--config", "/nonexistent/ratel.toml"],
        &[],
    );
    assert!(
        !out.status.success() && text(&out).contains("/nonexistent/ratel.toml"),
        "{}",
        text(&out)
    );
    // No file at all.
    let out = ratel(&["config", "check"], &[]);
    assert!(
        !out.status.success() && text(&out).contains("--config"),
        "{}",
        text(&out)
    );
}

#[test]
fn kafka_properties_reach_the_client_and_their_secrets_are_redacted() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("ratel.toml");
    std::fs::write(
        &config,
        "[kafka]\n\"sasl.password\" = \"hunter2\"\n\"security.protocol\" = \"sasl_plaintext\"\n\"sasl.mechanisms\" = \"PLAIN\"\n\"sasl.username\" = \"u\"\n\"bogus.property\" = \"x\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = ratel(&["config", "check", "--config", config], &[]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("sasl.password=<redacted>") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(
        shown.contains("security.protocol=sasl_plaintext"),
        "{shown}"
    );
    // librdkafka itself reads them: a property it does not know is its error, named.
    std::fs::write(tmp.path().join("catalog.toml"), engine::EXAMPLE_CATALOG).unwrap();
    let catalog = tmp.path().join("catalog.toml");
    let data = tmp.path().join("store");
    let out = ratel(
        &[
            "run",
            "--config",
            config,
            "--catalog",
            catalog.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--source",
            "kafka:127.0.0.1:1",
        ],
        &[],
    );
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("bogus.property"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
