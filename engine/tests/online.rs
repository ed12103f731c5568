//! `ratel online` against an independent Diameter stack, python-diameter (PyPI; `.ci/run`
//! installs it in its virtual environment): capabilities exchange, watchdog, a voice session
//! that runs out of money, a retransmitted request, an SMS debited directly, a data session
//! redirected at zero balance, an unknown subscriber, a malformed message; then the store's
//! audit and replay.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Python with python-diameter (`RATEL_PYTHON`), or the test is skipped unless CI requires it.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("RATEL_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    let has = Command::new(&python)
        .args(["-c", "import diameter.message"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        assert!(
            std::env::var_os("RATEL_REQUIRE_TOOLS").is_none(),
            "python with python-diameter is required (RATEL_PYTHON; .ci/run makes it)"
        );
        eprintln!("SKIPPED: no python with python-diameter");
        return None;
    }
    Some(python)
}

const REDIRECT: &str = "http://topup.example/pay";

/// The example catalog with the top-up page and a validity time of ten minutes.
fn catalog(dir: &Path) -> PathBuf {
    let path = dir.join("catalog.toml");
    let text = format!(
        "{}\n[online]\nvalidity_seconds = 600\nredirect = \"{REDIRECT}\"\n",
        engine::EXAMPLE_CATALOG
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(unix: i64) -> String {
    rating::Timestamp(unix).to_string()
}

/// Accounts opened an hour ago on BASIC (pay as you go): A with 4.00 (voice), C with 3.00
/// (SMS), D with nothing (data).
fn accounts(dir: &Path) -> PathBuf {
    let opened = [
        ("A", "79001000001", "4.00"),
        ("C", "79001000003", "3.00"),
        ("D", "79001000004", ""),
    ]
    .map(|(a, n, m)| (a.to_string(), n.to_string(), m.to_string()));
    accounts_file(dir, &opened)
}

/// A file that opens each (account, number, money) an hour ago on BASIC and pays its money in.
fn accounts_file(dir: &Path, opened: &[(String, String, String)]) -> PathBuf {
    let at = rfc3339(now() - 3600);
    let mut lines = Vec::new();
    for (account, number, money) in opened {
        lines.push(
            json!({"type": "open_account", "id": format!("open-{account}"), "account": account,
            "time": at, "numbers": [{"msisdn": number, "plan": "BASIC"}]}),
        );
        if !money.is_empty() {
            lines.push(
                json!({"type": "payment", "id": format!("pay-{account}"), "account": account,
                "amount": money, "time": at}),
            );
        }
    }
    let path = dir.join("accounts.jsonl");
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ratel online` on port 0, and the address it printed.
fn start_online(catalog: &Path, data: &Path) -> (Running, String) {
    let (running, diameter, _) = start_online_with(catalog, data, &[]);
    (running, diameter)
}

/// `ratel online` on port 0 with `extra` arguments: the Diameter address it printed, and the
/// HTTP address if it printed one.
fn start_online_with(catalog: &Path, data: &Path, extra: &[&str]) -> (Running, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args(["online", "--catalog", catalog.to_str().unwrap(), "--data"])
        .arg(data)
        .args(["--diameter", "127.0.0.1:0"])
        .args(extra)
        .env(
            "RATEL_LOG",
            std::env::var("RATEL_TEST_LOG").unwrap_or("warn".into()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut http = String::new();
    let diameter = loop {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if let Some(address) = line.trim().strip_prefix("http listening on ") {
            http = address.to_string();
            continue;
        }
        break line
            .trim()
            .strip_prefix("diameter listening on ")
            .unwrap_or_else(|| panic!("ratel online printed {line:?}"))
            .to_string();
    };
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (Running(child), diameter, http)
}

/// Rates a file of inputs into the store at `data` (`ratel run`).
fn rate_file(catalog: &Path, data: &Path, file: &Path) {
    let source = format!("file:{}", file.display());
    let (catalog, data) = (catalog.to_str().unwrap(), data.to_str().unwrap());
    ratel(&[
        "run",
        "--catalog",
        catalog,
        "--data",
        data,
        "--source",
        &source,
        "--complete",
    ]);
}

/// SIGTERM: the server stops and exits cleanly.
fn stop(online: &mut Running) {
    let pid = online.0.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    // A server that does not stop fails the test rather than hang it.
    for _ in 0..300 {
        if let Some(status) = online.0.try_wait().unwrap() {
            assert!(status.success(), "ratel online exited {status}");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("ratel online did not stop within 30 s of SIGTERM");
}

/// The python-diameter peer, one command in and one answer out at a time.
struct Peer {
    child: Running,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Peer {
    fn connect(python: &Path, address: &str) -> Peer {
        let (host, port) = address.rsplit_once(':').unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/diameter_peer.py");
        let mut child = bounded(python, 300)
            .arg(script)
            .args([host, port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Peer {
            child: Running(child),
            input,
            output,
        }
    }

    fn ask(&mut self, command: Value) -> Value {
        writeln!(self.input, "{command}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("the peer printed {line:?} for {command}"));
        assert!(answer.get("failure").is_none(), "{command}: {answer}");
        answer
    }
}

fn ccr(session: &str, kind: u32, number: u32, msisdn: &str, service: &str) -> Value {
    json!({"op": "ccr", "session": session, "type": kind, "number": number, "msisdn": msisdn,
        "service": service, "other": if service == "data" { Value::Null } else { json!("79001000002") }})
}

fn with(mut command: Value, key: &str, value: Value) -> Value {
    command[key] = value;
    command
}

fn mscc(answer: &Value) -> &Value {
    &answer["mscc"][0]
}

#[test]
fn a_diameter_peer_charges_voice_sms_and_data_online_and_the_store_audits_clean() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (catalog, data) = (catalog(dir.path()), dir.path().join("data"));
    let accounts = accounts(dir.path());
    rate_file(&catalog, &data, &accounts);
    let (mut online, address) = start_online(&catalog, &data);
    let mut peer = Peer::connect(&python, &address);

    let cea = peer.ask(json!({"op": "cer"}));
    assert_eq!(
        (cea["command"].as_u64(), cea["result"].as_u64()),
        (Some(257), Some(2001))
    );
    assert_eq!(cea["origin_host"], "ratel.localdomain");
    assert_eq!(peer.ask(json!({"op": "dwr"}))["result"], 2001);

    enquiries(&mut peer);
    voice_runs_out(&mut peer);
    sms_and_unknown(&mut peer);
    data_redirected(&mut peer);
    malformed_then_on(&mut peer);

    assert_eq!(peer.ask(json!({"op": "dpr"}))["command"], 282);
    drop(peer.input);
    let _ = peer.child.0.wait();
    stop(&mut online);

    let balances = ratel(&["balance", "--all", "--data", data.to_str().unwrap()]);
    let balance_of = |account: &str| -> String {
        let line = balances
            .lines()
            .find(|l| l.contains(&format!("\"{account}\"")))
            .unwrap();
        let view: Value = serde_json::from_str(line).unwrap();
        view["balance"]
            .as_str()
            .map_or_else(|| view["balance"].to_string(), str::to_string)
    };
    assert_eq!(balance_of("A"), "0.00", "{balances}");
    assert_eq!(balance_of("C"), "1.00", "{balances}");
    assert_eq!(balance_of("D"), "0", "{balances}");
    let audit = ratel(&["audit", "--data", data.to_str().unwrap()]);
    assert!(!audit.contains("DISCREPANCY"), "{audit}");
    // The data session stays open: its hold is counted apart.
    assert!(audit.contains("online sessions open 1"), "{audit}");
    let replay = ratel(&["replay", "--data", data.to_str().unwrap()]);
    assert!(
        !replay.contains("MISMATCH") && !replay.contains("STATE DIFFERS"),
        "{replay}"
    );
    assert!(replay.contains("accounts rebuilt"), "{replay}");
}

/// BASIC voice: 1.50 a minute, the first minute whole; 4.00 pays 160 s.
fn voice_runs_out(peer: &mut Peer) {
    let call = |kind, number| ccr("gw;call;1", kind, number, "79001000001", "voice");
    let first = peer.ask(with(call(1, 0), "requested", json!(60)));
    assert_eq!(first["result"], 2001, "{first}");
    assert_eq!(
        (
            mscc(&first)["granted"].as_u64(),
            mscc(&first)["validity"].as_u64()
        ),
        (Some(60), Some(600))
    );
    let update = with(with(call(2, 1), "requested", json!(60)), "used", json!(60));
    let second = peer.ask(with(update.clone(), "hop", json!(1000)));
    assert_eq!(mscc(&second)["granted"], 60, "{second}");
    // The same request again, with the T flag: the same answer, and no second effect.
    let again = peer.ask(with(
        with(update, "hop", json!(1000)),
        "retransmit",
        json!(true),
    ));
    assert_eq!(again["mscc"], second["mscc"]);
    assert_eq!(again["hop"], 1000);
    let third = peer.ask(with(
        with(call(2, 2), "requested", json!(60)),
        "used",
        json!(60),
    ));
    assert_eq!(mscc(&third)["granted"], 40, "{third}");
    assert_eq!(mscc(&third)["fui"]["action"], 0, "terminate: {third}");
    let fourth = peer.ask(with(
        with(call(2, 3), "requested", json!(60)),
        "used",
        json!(40),
    ));
    assert_eq!(mscc(&fourth)["result"], 4012, "{fourth}");
    let end = peer.ask(call(3, 4));
    assert_eq!(end["result"], 2001, "{end}");
}

/// CHECK_BALANCE and PRICE_ENQUIRY: answers from the state, nothing held or charged (A's 4.00
/// is all there for the call after).
fn enquiries(peer: &mut Peer) {
    let enquiry = |id: &str, action: u32, seconds: u64| {
        let asked = with(
            ccr(id, 4, 0, "79001000001", "voice"),
            "requested",
            json!(seconds),
        );
        with(asked, "action", json!(action))
    };
    let enough = peer.ask(enquiry("gw;check;1", 2, 60));
    assert_eq!(
        (
            enough["result"].as_u64(),
            enough["check_balance_result"].as_u64()
        ),
        (Some(2001), Some(0)),
        "{enough}"
    );
    // 4.00 pays 160 s, not 200.
    let short = peer.ask(enquiry("gw;check;2", 2, 200));
    assert_eq!(short["check_balance_result"], 1, "{short}");
    // 100 s: 1.50 for the first minute, 40 s at 0.025: 2.50 roubles (ISO 4217 643).
    let price = peer.ask(enquiry("gw;price;1", 3, 100));
    assert_eq!(
        price["cost"],
        json!({"digits": 250, "exponent": -2, "currency": 643}),
        "{price}"
    );
    let unknown = with(enquiry("gw;price;2", 3, 60), "msisdn", json!("79009999999"));
    assert_eq!(peer.ask(unknown)["result"], 5030);
}

fn sms_and_unknown(peer: &mut Peer) {
    // SMS_HOME is 2.00: 3.00 pays one.
    let sms = |id: &str| with(ccr(id, 4, 0, "79001000003", "sms"), "requested", json!(1));
    let first = peer.ask(sms("gw;sms;1"));
    assert_eq!(
        (first["result"].as_u64(), mscc(&first)["granted"].as_u64()),
        (Some(2001), Some(1))
    );
    let second = peer.ask(sms("gw;sms;2"));
    assert_eq!(second["result"], 4012, "{second}");
    // Retransmitted (T flag), the refusal is answered again: never a free message.
    let again = peer.ask(with(sms("gw;sms;2"), "retransmit", json!(true)));
    assert_eq!(again["result"], 4012, "{again}");
    // So is a first request refused for money: C has 1.00, less than a minute's 1.50.
    let call = with(
        ccr("gw;call;C", 1, 0, "79001000003", "voice"),
        "requested",
        json!(60),
    );
    assert_eq!(peer.ask(call.clone())["result"], 4012);
    let call_again = peer.ask(with(call, "retransmit", json!(true)));
    assert_eq!(call_again["result"], 4012, "{call_again}");
    let unknown = peer.ask(ccr("gw;who", 1, 0, "79009999999", "voice"));
    assert_eq!(unknown["result"], 5030, "{unknown}");
    let ahead = with(sms("gw;sms;3"), "event_time", json!(now() + 86_400));
    assert_eq!(peer.ask(ahead)["result"], 5004);
    refund_of_a_debit(peer, &first);
    // The 2.00 came back once: 3.00 pays one message again, and no second.
    let after = peer.ask(sms("gw;sms;5"));
    assert_eq!(mscc(&after)["granted"], 1, "{after}");
    assert_eq!(peer.ask(sms("gw;sms;6"))["result"], 4012);
}

/// REFUND_ACCOUNT with the Refund-Information of C's debit: its 2.00 comes back. Sent again it
/// is answered the same and refunds nothing more; a second refund of it, the same charge named
/// under another account, a damaged value and none at all are refused.
fn refund_of_a_debit(peer: &mut Peer, debit: &Value) {
    let information = mscc(debit)["refund_information"]
        .as_str()
        .unwrap_or_else(|| panic!("a debit names its charge: {debit}"))
        .to_string();
    let refund = |id: &str, information: Value| {
        let asked = with(ccr(id, 4, 0, "79001000003", "sms"), "action", json!(1));
        with(
            with(asked, "other", Value::Null),
            "refund_information",
            information,
        )
    };
    let back = peer.ask(refund("gw;refund;1", json!(information)));
    let two_roubles = json!({"digits": 200, "exponent": -2, "currency": 643});
    assert_eq!(
        (&back["result"], &back["cost"]),
        (&json!(2001), &two_roubles),
        "{back}"
    );
    let sent_again = with(
        refund("gw;refund;1", json!(information)),
        "retransmit",
        json!(true),
    );
    let again = peer.ask(sent_again);
    assert_eq!(
        (&again["result"], &again["cost"]),
        (&json!(2001), &two_roubles),
        "{again}"
    );
    let twice = peer.ask(refund("gw;refund;2", json!(information)));
    assert_eq!(twice["result"], 5012, "nothing is left of it: {twice}");
    // [layout][account length][account][event]: the same event under account A.
    let bytes: Vec<u8> = (0..information.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&information[i..i + 2], 16).unwrap())
        .collect();
    let event = &bytes[2 + usize::from(bytes[1])..];
    let elsewhere: String = [&[1u8, 1, b'A'][..], event]
        .concat()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let other = peer.ask(refund("gw;refund;3", json!(elsewhere)));
    assert_eq!(other["result"], 5012, "A has no such charge: {other}");
    assert_eq!(
        peer.ask(refund("gw;refund;4", json!("00ff")))["result"],
        5004
    );
    assert_eq!(peer.ask(refund("gw;refund;5", Value::Null))["result"], 5005);
}

fn data_redirected(peer: &mut Peer) {
    let data = peer.ask(ccr("gw;data;1", 1, 0, "79001000004", "data"));
    assert_eq!(data["result"], 2001, "{data}");
    assert_eq!(mscc(&data)["granted"], 0, "{data}");
    assert_eq!(mscc(&data)["fui"]["action"], 1, "redirect: {data}");
    assert_eq!(mscc(&data)["fui"]["redirect"], REDIRECT, "{data}");
}

/// A credit-control request whose AVP says it is longer than the message: an error answer, and
/// the connection and its sessions go on.
fn malformed_then_on(peer: &mut Peer) {
    let mut bytes: Vec<u8> = vec![
        1, 0, 0, 32, 0x80, 0, 1, 16, 0, 0, 0, 4, 0, 0, 0, 77, 0, 0, 0, 77,
    ];
    bytes.extend_from_slice(&[0, 0, 1, 7, 0x40, 0, 0, 200]);
    bytes.extend_from_slice(b"gw;x");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let broken = peer.ask(json!({"op": "raw", "hex": hex}));
    assert_eq!(
        (broken["error"].as_bool(), broken["result"].as_u64()),
        (Some(true), Some(5014)),
        "{broken}"
    );
    assert_eq!(broken["hop"], 77);
    assert_eq!(peer.ask(json!({"op": "dwr"}))["result"], 2001);
    let sms = peer.ask(with(
        ccr("gw;sms;4", 4, 0, "79001000003", "sms"),
        "requested",
        json!(1),
    ));
    assert_eq!(sms["result"], 4012, "the connection goes on: {sms}");
}

/// The charged party of each of the crash test's sessions.
fn crash_number(i: usize) -> String {
    format!("7900200{i:04}")
}

fn round(peer: &mut Peer, requests: Vec<Value>) -> Vec<Value> {
    let answered = peer.ask(json!({"op": "round", "requests": requests}));
    answered["answers"].as_array().unwrap().clone()
}

fn calls(kind: u32, number: u32, used: u64) -> Vec<Value> {
    (0..50)
        .map(|i| {
            let call = ccr(
                &format!("gw;crash;{i}"),
                kind,
                number,
                &crash_number(i),
                "voice",
            );
            with(with(call, "requested", json!(60)), "used", json!(used))
        })
        .collect()
}

/// SIGKILL of `ratel online` while 50 sessions' updates are on their way: after a restart the
/// peer sends them again (T flag), every session goes on to its end, each is charged exactly for
/// what it used, and the audit and replay are clean.
#[test]
fn sigkill_in_the_middle_of_fifty_sessions_loses_and_doubles_nothing() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (catalog, data) = (catalog(dir.path()), dir.path().join("data"));
    let opened: Vec<_> = (0..50)
        .map(|i| (format!("K{i}"), crash_number(i), "100.00".to_string()))
        .collect();
    let file = accounts_file(dir.path(), &opened);
    rate_file(&catalog, &data, &file);
    let (mut online, address) = start_online(&catalog, &data);
    let mut peer = Peer::connect(&python, &address);
    peer.ask(json!({"op": "cer"}));
    for answer in round(&mut peer, calls(1, 0, 0))
        .iter()
        .chain(&round(&mut peer, calls(2, 1, 60)))
    {
        assert_eq!(answer["mscc"][0]["granted"], 60, "{answer}");
    }
    // The second updates go out; ratel dies while they are decided.
    peer.ask(json!({"op": "send", "requests": calls(2, 2, 60)}));
    online.0.kill().unwrap();
    online.0.wait().unwrap();
    drop(peer);

    let (mut online, address) = start_online(&catalog, &data);
    let mut peer = Peer::connect(&python, &address);
    peer.ask(json!({"op": "cer"}));
    let again: Vec<Value> = calls(2, 2, 60)
        .into_iter()
        .map(|c| with(c, "retransmit", json!(true)))
        .collect();
    for answer in round(&mut peer, again) {
        assert_eq!(
            (
                answer["result"].as_u64(),
                answer["mscc"][0]["granted"].as_u64()
            ),
            (Some(2001), Some(60)),
            "{answer}"
        );
    }
    for answer in round(&mut peer, calls(3, 3, 30)) {
        assert_eq!(answer["result"], 2001, "{answer}");
    }
    drop(peer);
    stop(&mut online);

    // 150 s each: 1.50 for the first minute, then 90 s at 1.50 a minute.
    let balances = ratel(&["balance", "--all", "--data", data.to_str().unwrap()]);
    for line in balances.lines() {
        let view: Value = serde_json::from_str(line).unwrap();
        let account = view["account"].as_str().unwrap();
        let log = || {
            ratel(&[
                "log",
                "--data",
                data.to_str().unwrap(),
                "--account",
                account,
            ])
        };
        assert_eq!(view["balance"], "96.25", "{line}\n{}", log());
    }
    assert_eq!(balances.lines().count(), 50);
    // How many of the second updates were durable before the kill (sent again, they are
    // duplicates) varies from run to run; each run must hold either way.
    eprintln!("after the restart: {}", stats(&data)["counters"]);
    let audit = ratel(&["audit", "--data", data.to_str().unwrap()]);
    assert!(
        !audit.contains("DISCREPANCY") && audit.contains("online sessions open 0"),
        "{audit}"
    );
    let replay = ratel(&["replay", "--data", data.to_str().unwrap()]);
    assert!(
        !replay.contains("MISMATCH") && !replay.contains("STATE DIFFERS"),
        "{replay}"
    );
}

/// A session nobody reports on is ended by the server's clock once its validity and the grace
/// are past, and charged for its last grant (the catalog's default for abandoned sessions).
#[test]
fn an_abandoned_session_is_ended_and_charged_for_its_grant() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let text = format!(
        "{}\n[online]\nvalidity_seconds = 1\ngrace_seconds = 1\n",
        engine::EXAMPLE_CATALOG
    );
    std::fs::write(&catalog, text).unwrap();
    let data = dir.path().join("data");
    let opened = [("A", "79001000001", "4.00")].map(|(a, n, m)| (a.into(), n.into(), m.into()));
    let file = accounts_file(dir.path(), &opened);
    rate_file(&catalog, &data, &file);
    let (mut online, address) = start_online(&catalog, &data);
    let mut peer = Peer::connect(&python, &address);
    peer.ask(json!({"op": "cer"}));
    let call = with(
        ccr("gw;gone", 1, 0, "79001000001", "voice"),
        "requested",
        json!(60),
    );
    assert_eq!(mscc(&peer.ask(call))["validity"], 1);
    // Due two seconds on; the server looks every second.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let late = with(
        ccr("gw;gone", 2, 1, "79001000001", "voice"),
        "used",
        json!(10),
    );
    assert_eq!(peer.ask(late)["result"], 5002, "the session is gone");
    drop(peer);
    stop(&mut online);
    let d = data.to_str().unwrap();
    let ended = ratel(&[
        "log",
        "--data",
        d,
        "--account",
        "A",
        "--outcome",
        "session_ended",
    ]);
    assert!(
        ended.contains("gw;gone:expired@") && ended.contains("-1.50"),
        "{ended}"
    );
    let audit = ratel(&["audit", "--data", d]);
    assert!(
        !audit.contains("DISCREPANCY") && audit.contains("online sessions open 0"),
        "{audit}"
    );
}

const OPERATOR: &str = "operator-token-0123456789";
const SUBSCRIBER: &str = "subscriber-token-0123456789";

/// A tokens file in `dir`: OPERATOR an operator's, SUBSCRIBER account A's.
fn tokens_file(dir: &Path) -> PathBuf {
    let path = dir.join("tokens.toml");
    let text = format!(
        "[[tokens]]\ntoken = \"{OPERATOR}\"\nrole = \"operator\"\n\n\
         [[tokens]]\ntoken = \"{SUBSCRIBER}\"\naccount = \"A\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A POST or GET to `ratel online --http` with `token`: the status and the JSON body.
fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = ureq::request(method, &format!("http://{base}{path}"));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = match body {
        Some(body) => request.send_json(body.clone()),
        None => request.call(),
    };
    let response = match response {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    call(base, "POST", path, Some(OPERATOR), Some(body))
}

fn max_usage(base: &str, number: &str, query: &str) -> (u16, Value) {
    let path = format!("/api/v1/numbers/{number}/max-usage?{query}");
    call(base, "GET", &path, Some(OPERATOR), None)
}

#[test]
fn the_http_api_charges_online_once_for_operators_only_and_the_store_audits_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, data) = (catalog(dir.path()), dir.path().join("data"));
    rate_file(&catalog, &data, &accounts(dir.path()));
    let tokens = tokens_file(dir.path());
    let metrics = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().to_string()
    };
    let extra = [
        "--http",
        "127.0.0.1:0",
        "--tokens",
        tokens.to_str().unwrap(),
        "--metrics",
        &metrics,
    ];
    let (mut online, _, base) = start_online_with(&catalog, &data, &extra);
    let base = base.as_str();
    let begin = json!({"session": "web-1", "number": "79001000001", "service": "voice",
                       "other": "79001000002", "requested": 60});
    let anyone = call(base, "POST", "/api/v1/sessions", None, Some(&begin));
    assert_eq!(anyone.0, 401, "{anyone:?}");
    let subscriber = call(
        base,
        "POST",
        "/api/v1/sessions",
        Some(SUBSCRIBER),
        Some(&begin),
    );
    assert_eq!(subscriber.0, 403, "{subscriber:?}");
    let asked = call(
        base,
        "GET",
        "/api/v1/numbers/79001000001/max-usage?service=data",
        Some(SUBSCRIBER),
        None,
    );
    assert_eq!(asked.0, 403, "{asked:?}");

    let (status, doc) = call(base, "GET", "/openapi.json", None, None);
    assert_eq!((status, &doc["openapi"]), (200, &json!("3.0.3")));
    http_voice_session(base);
    http_charges_and_refusals(base);
    online_metrics_count(&metrics);
    stop(&mut online);
    // Mediation's CDR of the call charged online: reconciled (95 s against 90), not charged.
    let cdr = json!({"type": "session_cdr", "session": "web-1", "usage": {"id": "cdr-web-1",
        "msisdn": "79001000001", "service": "voice", "other": "79001000002",
        "start": rfc3339(now() - 60), "duration": 95}});
    let cdrs = dir.path().join("cdrs.jsonl");
    std::fs::write(&cdrs, format!("{cdr}\n")).unwrap();
    rate_file(&catalog, &data, &cdrs);

    let balances = ratel(&["balance", "--all", "--data", data.to_str().unwrap()]);
    // A: 90 s of voice (60 then 30), 2.25 of 4.00. C: one SMS of 2.00, once though sent twice.
    assert!(balances.contains("\"balance\":\"1.75\""), "{balances}");
    // D's data session, redirected with nothing granted, is open and holds nothing.
    let held = "\"online\":{\"sessions_open\":1,\"held\":\"0\"}";
    assert!(balances.contains(held), "{balances}");
    assert!(balances.contains("\"balance\":\"1.00\""), "{balances}");
    let audit = ratel(&["audit", "--data", data.to_str().unwrap()]);
    assert!(!audit.contains("DISCREPANCY"), "{audit}");
    assert!(audit.contains("online sessions open 1"), "{audit}");
    assert!(
        audit.contains("CDRs of online sessions reconciled 1 (not charged) · of them with other units than the session 1"),
        "{audit}"
    );
    let replay = ratel(&["replay", "--data", data.to_str().unwrap()]);
    assert!(
        !replay.contains("MISMATCH") && !replay.contains("STATE DIFFERS"),
        "{replay}"
    );
    a_forged_reconciliation_is_found(&data);
}

/// The reconciliation in the log rewritten to say the session was charged nothing: the audit,
/// which vouches that a reconciled CDR matches its session's charge, finds it.
fn a_forged_reconciliation_is_found(data: &Path) {
    use engine::entry::Entry;
    use rating::codec::{decode_decision, encode_decision};
    let store = engine::store::Store::open(data).unwrap();
    let (partition, seq, position, input, mut decision) = (store.log().map(Result::unwrap))
        .find_map(|(p, seq, entry)| match entry {
            Entry::Rated {
                position,
                input,
                decision,
            } => {
                let d = decode_decision(&decision).unwrap();
                matches!(d.outcome, rating::Outcome::Reconciled { .. })
                    .then_some((p, seq, position, input, d))
            }
            _ => None,
        })
        .expect("the CDR's reconciliation is in the log");
    if let rating::Outcome::Reconciled { online_money, .. } = &mut decision.outcome {
        *online_money = rust_decimal::Decimal::ZERO;
    }
    let mut bytes = Vec::new();
    encode_decision(&decision, &mut bytes);
    let mut entry = Vec::new();
    Entry::Rated {
        position,
        input,
        decision: bytes,
    }
    .encode(&mut entry);
    let log = store.db().cf_handle("log").unwrap();
    store
        .db()
        .put_cf(log, engine::store::log_key(partition, seq), entry)
        .unwrap();
    let report = engine::audit::audit(&store).unwrap();
    assert!(!report.ok());
    let found = |l: &String| l.contains("a CDR reconciled with session web-1");
    assert!(report.listed.iter().any(found), "{:#?}", report.listed);
}

/// The metrics endpoint counts the requests answered by request and result: the call's first
/// request three times (sent twice, and the data session's), a refused charge twice (sent
/// again), the refusals by their codes.
fn online_metrics_count(metrics: &str) {
    let text = ureq::get(&format!("http://{metrics}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let value = |labels: &[&str]| -> Option<f64> {
        text.lines()
            .filter(|l| l.starts_with("ratel_online_requests_total{"))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    let http = "interface=\"http\"";
    assert_eq!(
        value(&[http, "request=\"initial\"", "result=\"2001\""]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(&[http, "request=\"event\"", "result=\"4012\""]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&[http, "request=\"max_usage\"", "result=\"5030\""]),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("ratel_online_answer_seconds_count{interface=\"http\"}"),
        "{text}"
    );
    assert!(text.contains("ratel_online_group_requests_count"), "{text}");
}

/// A voice call over HTTP: max usage before and during, a first request sent twice, an update
/// sent twice and one out of order, the end, and a request after it.
fn http_voice_session(base: &str) {
    let voice = "service=voice&other=79001000002";
    // 4.00 pays 160 s: 1.50 the first minute, then 0.025 a second.
    assert_eq!(max_usage(base, "79001000001", voice).1["max_usage"], 160);
    let begin = json!({"session": "web-1", "number": "79001000001", "service": "voice",
                       "other": "79001000002", "requested": 60});
    let first = post(base, "/api/v1/sessions", &begin);
    assert_eq!(
        (first.0, &first.1["granted"], &first.1["held"]),
        (201, &json!(60), &json!("1.50")),
        "{first:?}"
    );
    // Sent again: the same grant (its validity counted from the arrival of the repeat).
    let again = post(base, "/api/v1/sessions", &begin);
    let without_validity = |mut answer: (u16, Value)| {
        answer.1.as_object_mut().unwrap().remove("validity_seconds");
        answer
    };
    assert_eq!(without_validity(again), without_validity(first.clone()));
    // The call holds 1.50 (once): 2.50 pays a new call's 100 s.
    let during = max_usage(base, "79001000001", voice);
    assert_eq!(
        (during.0, &during.1["max_usage"], &during.1["unit"]),
        (200, &json!(100), &json!("seconds")),
        "{during:?}"
    );
    let update = json!({"number": "79001000001", "service": "voice", "other": "79001000002",
                        "request": 1, "used": 60, "requested": 60});
    let second = post(base, "/api/v1/sessions/web-1/update", &update);
    assert_eq!(
        (second.0, &second.1["granted"]),
        (200, &json!(60)),
        "{second:?}"
    );
    let again = post(base, "/api/v1/sessions/web-1/update", &update);
    assert_eq!(without_validity(again), without_validity(second.clone()));
    let zero = with(update.clone(), "request", json!(0));
    assert_eq!(post(base, "/api/v1/sessions/web-1/update", &zero).0, 400);
    let end = json!({"number": "79001000001", "service": "voice", "other": "79001000002",
                     "request": 2, "used": 30});
    let ended = post(base, "/api/v1/sessions/web-1/terminate", &end);
    assert_eq!(
        (ended.0, &ended.1["ended"]),
        (200, &json!(true)),
        "{ended:?}"
    );
    assert_eq!(
        post(base, "/api/v1/sessions/web-1/terminate", &end).0,
        200,
        "an end sent again"
    );
    let late = with(update, "request", json!(3));
    let after = post(base, "/api/v1/sessions/web-1/update", &late);
    assert_eq!(
        (after.0, &after.1["error"]),
        (404, &json!("unknown_session")),
        "{after:?}"
    );
}

/// A one-off SMS charged once though sent twice, then refused for money; an unknown number, a
/// bad number, a time a day ahead, an unknown field, a body too large, a data session at zero.
/// sms-1's 2.00 refunded by the refund_information its answer carried: once, though sent
/// twice; a second refund of it is refused, and so is one by a subscriber or with a damaged
/// value. Then C pays one message again (and ends with the 1.00 it had).
fn http_refund(base: &str, charged: &Value, sms: &Value) {
    let information = charged["refund_information"].clone();
    assert!(information.is_string(), "{charged}");
    let refund = json!({"id": "refund-1", "number": "79001000003", "service": "sms",
                        "refund_information": information});
    let by_subscriber = call(
        base,
        "POST",
        "/api/v1/events/refund",
        Some(SUBSCRIBER),
        Some(&refund),
    );
    assert_eq!(by_subscriber.0, 403, "{by_subscriber:?}");
    let back = post(base, "/api/v1/events/refund", &refund);
    assert_eq!(
        (back.0, &back.1["refunded"]),
        (200, &json!("2.00")),
        "{back:?}"
    );
    assert_eq!(
        post(base, "/api/v1/events/refund", &refund),
        back,
        "sent again"
    );
    let twice = post(
        base,
        "/api/v1/events/refund",
        &with(refund.clone(), "id", json!("refund-2")),
    );
    assert_eq!(twice.0, 409, "nothing is left of it: {twice:?}");
    let damaged = with(refund.clone(), "refund_information", json!("01zz"));
    assert_eq!(post(base, "/api/v1/events/refund", &damaged).0, 400);
    let again = post(
        base,
        "/api/v1/events/charge",
        &with(sms.clone(), "id", json!("sms-3")),
    );
    assert_eq!(
        (again.0, &again.1["charged_units"]),
        (200, &json!(1)),
        "{again:?}"
    );
}

fn http_charges_and_refusals(base: &str) {
    let sms = json!({"id": "sms-1", "number": "79001000003", "service": "sms",
                     "other": "79001000002", "requested": 1});
    let charged = post(base, "/api/v1/events/charge", &sms);
    assert_eq!(
        (charged.0, &charged.1["charged_units"]),
        (200, &json!(1)),
        "{charged:?}"
    );
    assert_eq!(
        post(base, "/api/v1/events/charge", &sms).0,
        200,
        "sent again: no second charge"
    );
    let second = post(
        base,
        "/api/v1/events/charge",
        &with(sms.clone(), "id", json!("sms-2")),
    );
    assert_eq!(
        (second.0, &second.1["error"]),
        (402, &json!("credit_limit_reached")),
        "{second:?}"
    );
    // Sent again, a refused charge is refused again: the first answer, never a free message.
    let again = post(
        base,
        "/api/v1/events/charge",
        &with(sms.clone(), "id", json!("sms-2")),
    );
    assert_eq!(again, second, "a refusal sent again");
    http_refund(base, &charged.1, &sms);
    // A charge whose id is a session's (web-1's first request): not that request's answer.
    let collide = with(
        with(sms.clone(), "id", json!("web-1")),
        "number",
        json!("79001000001"),
    );
    let collided = post(base, "/api/v1/events/charge", &collide);
    assert_ne!(collided.0, 200, "{collided:?}");
    let unknown = with(sms.clone(), "number", json!("79009999999"));
    assert_eq!(post(base, "/api/v1/events/charge", &unknown).0, 404);
    assert_eq!(max_usage(base, "79009999999", "service=data").0, 404);
    assert_eq!(max_usage(base, "not-a-number", "service=data").0, 400);
    assert_eq!(
        max_usage(base, "79001000001", "service=voice").0,
        400,
        "voice needs the other party"
    );
    let letters = with(sms.clone(), "number", json!("A"));
    assert_eq!(post(base, "/api/v1/events/charge", &letters).0, 400);
    let ahead = rfc3339(now() + 86_400);
    assert_eq!(
        post(
            base,
            "/api/v1/events/charge",
            &with(sms.clone(), "time", json!(ahead))
        )
        .0,
        400
    );
    assert_eq!(
        post(
            base,
            "/api/v1/events/charge",
            &with(sms.clone(), "price", json!("0"))
        )
        .0,
        400
    );
    let large = with(sms, "other", json!("7".repeat(8_000)));
    assert_eq!(post(base, "/api/v1/events/charge", &large).0, 413);
    let data = json!({"session": "web-data", "number": "79001000004", "service": "data"});
    let redirected = post(base, "/api/v1/sessions", &data);
    assert_eq!(
        (
            redirected.0,
            &redirected.1["granted"],
            &redirected.1["redirect"]
        ),
        (201, &json!(0), &json!(REDIRECT)),
        "{redirected:?}"
    );
}

#[test]
fn the_online_openapi_document_describes_every_route() {
    let doc: Value = serde_json::from_str(engine::online::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut described: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    described.sort_unstable();
    let mut routes = engine::online::ROUTES.to_vec();
    routes.sort_unstable();
    assert_eq!(described, routes);
    for (path, item) in doc["paths"].as_object().unwrap() {
        let (method, operation) = item.as_object().unwrap().iter().next().unwrap();
        let ok = if path == "/api/v1/sessions" {
            "201"
        } else {
            "200"
        };
        for code in [ok, "400", "401", "403", "421", "503"] {
            assert!(
                operation["responses"][code].is_object(),
                "{method} {path}: no {code}"
            );
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().unwrap();
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{path} has no {name}"
                );
            }
        }
    }
}

/// Polls `max-usage` of `number` until `ready` holds of its answer, for at most ten seconds.
fn max_usage_when(
    base: &str,
    number: &str,
    query: &str,
    ready: impl Fn(&(u16, Value)) -> bool,
) -> (u16, Value) {
    let mut last = max_usage(base, number, query);
    for _ in 0..200 {
        if ready(&last) {
            return last;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        last = max_usage(base, number, query);
    }
    panic!("max usage of {number} never became ready: {last:?}");
}

/// Writes `lines` into the folder as a whole file (written aside, then renamed in).
fn drop_file(folder: &Path, name: &str, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let aside = folder.join(format!(".{name}"));
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(aside, folder.join(name)).unwrap();
}

#[test]
fn ratel_online_rates_a_folder_of_offline_inputs_between_online_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, data) = (catalog(dir.path()), dir.path().join("data"));
    let folder = dir.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    let tokens = tokens_file(dir.path());
    let source = format!("dir:{}", folder.display());
    let args = [
        "--http",
        "127.0.0.1:0",
        "--tokens",
        tokens.to_str().unwrap(),
        "--source",
        &source,
    ];
    let (mut online, _, base) = start_online_with(&catalog, &data, &args);
    let at = rfc3339(now() - 3600);
    // The account opens offline; a call of 60 s (1.50) is charged offline; 4.00 paid.
    let opened = [
        json!({"type": "open_account", "id": "open-A", "account": "A", "time": at,
               "numbers": [{"msisdn": "79001000001", "plan": "BASIC"}]}),
        json!({"type": "payment", "id": "pay-A", "account": "A", "amount": "4.00", "time": at}),
        json!({"type": "usage", "id": "cdr-offline-1", "msisdn": "79001000001", "service": "voice",
               "other": "79001000002", "start": rfc3339(now() - 1800), "duration": 60}),
    ];
    drop_file(&folder, "001.jsonl", &opened);
    let voice = "service=voice&other=79001000002";
    // 2.50 left: 100 s.
    let ready = max_usage_when(&base, "79001000001", voice, |a| a.1["max_usage"] == 100);
    assert_eq!(ready.0, 200);
    let begin = json!({"session": "mixed-1", "number": "79001000001", "service": "voice",
                       "other": "79001000002", "requested": 60});
    assert_eq!(post(&base, "/api/v1/sessions", &begin).0, 201);
    // A payment arrives offline while the call is open: the grant holds 1.50 of 12.50.
    drop_file(
        &folder,
        "002.jsonl",
        &[json!({"type": "payment", "id": "pay-A-2", "account": "A",
        "amount": "10.00", "time": rfc3339(now() - 60)})],
    );
    // 11.00 free: 1.50 for the first minute, then 0.025 a second: 440 s.
    max_usage_when(&base, "79001000001", voice, |a| a.1["max_usage"] == 440);
    let end = json!({"number": "79001000001", "service": "voice", "other": "79001000002",
                     "request": 1, "used": 60});
    assert_eq!(
        post(&base, "/api/v1/sessions/mixed-1/terminate", &end).0,
        200
    );
    stop(&mut online);
    // Restarted on the same folder: its files were read to their end, and count once.
    let (mut online, _, base) = start_online_with(&catalog, &data, &args);
    assert_eq!(max_usage(&base, "79001000001", voice).1["max_usage"], 440);
    stop(&mut online);
    let balances = ratel(&["balance", "--all", "--data", data.to_str().unwrap()]);
    // 14.00 paid, 1.50 offline, 1.50 online.
    assert!(balances.contains("\"balance\":\"11.00\""), "{balances}");
    audits_and_replays_clean(&data);
}

#[test]
fn ratel_online_stops_on_sigterm_with_and_without_http() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, data) = (catalog(dir.path()), dir.path().join("data"));
    rate_file(&catalog, &data, &accounts(dir.path()));
    let (mut online, _) = start_online(&catalog, &data);
    stop(&mut online);
    let tokens = tokens_file(dir.path());
    let args = [
        "--http",
        "127.0.0.1:0",
        "--tokens",
        tokens.to_str().unwrap(),
    ];
    let (mut online, _, _) = start_online_with(&catalog, &data, &args);
    stop(&mut online);
    // HTTP without tokens would answer anyone: refused at the start.
    let out = Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args(["online", "--catalog", catalog.to_str().unwrap(), "--data"])
        .arg(&data)
        .args(["--diameter", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--http needs --tokens"));
}

/// Waits until `settled` gives something (at most 90 s: a consumer group's rebalance and a
/// restore take seconds), or fails the test saying what was awaited.
fn until<T>(what: &str, mut settled: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        if let Some(found) = settled() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not within 90 s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// A CHECK_BALANCE for a minute of voice: answered, logging nothing, by whoever owns `number`.
fn check(peer: &mut Peer, number: &str) -> Value {
    let id = format!("gw;check;{number}");
    let asked = with(ccr(&id, 4, 0, number, "voice"), "requested", json!(60));
    peer.ask(with(asked, "action", json!(2)))
}

/// The Diameter URI an instance listening at `address` advertises as `host`.
fn uri(host: &str, address: &str) -> String {
    let port = address.rsplit_once(':').unwrap().1;
    format!("aaa://{host}:{port};transport=tcp")
}

/// Which instance answers for `number`, if the two agree: the one that answers, while the
/// other redirects to it (3006, the E bit, Redirect-Host its URI, for the session).
fn owner_of(peers: &mut [(&str, String, Peer); 2], number: &str) -> Option<usize> {
    let answers: Vec<Value> = peers.iter_mut().map(|(_, _, p)| check(p, number)).collect();
    // Answered: granted, or refused for want of money (an open session may hold it all).
    let here = |answer: &Value| [2001, 4012].contains(&answer["result"].as_u64().unwrap_or(0));
    let owner = answers.iter().position(here)?;
    let other = &answers[1 - owner];
    let redirected = other["result"] == 3006
        && other["error"] == true
        && other["redirect_host"] == json!([peers[owner].1])
        && other["redirect_host_usage"] == 1;
    redirected.then_some(owner)
}

/// Two instances of `ratel online` share the input topics' two partitions as one consumer
/// group; the first's store was made by `ratel run`, before any directory. Each answers for its own partition's subscribers and redirects the others' to its
/// peer (3006 with Redirect-Host), which a routing agent follows: a voice session and an SMS
/// sent to the wrong instance are redirected, and charged once, by the owner. When one stops,
/// the other takes its partition over from the changelog, with what was charged there, and
/// answers for everyone; its store then audits and replays clean.
#[test]
fn two_instances_share_the_partitions_and_redirect_each_others_subscribers() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&tmp.path().join("tansu.log")) else {
        return;
    };
    let opened: Vec<(String, String, String)> = (1..=8)
        .map(|i| (format!("K{i}"), format!("7900200000{i}"), "5.00".into()))
        .collect();
    let source = format!("file:{}", accounts_file(tmp.path(), &opened).display());
    let brokers = broker.addr.as_str();
    let produce = ["produce", "--brokers", brokers, "--source", &source];
    let out = ratel(&[&produce[..], &["--create", "2", "--batch-messages", "1"]].concat());
    assert!(out.contains("produced"), "{out}");
    let catalog = catalog(tmp.path());
    let kafka = format!("kafka:{brokers}");
    let tokens = tokens_file(tmp.path());
    let start = |name: &str| {
        let host = format!("{name}.ratel");
        let tokens = tokens.to_str().unwrap();
        let extra = [
            "--source",
            &kafka,
            "--group",
            "online",
            "--origin-host",
            &host,
        ];
        let extra = [&extra[..], &["--http", "127.0.0.1:0", "--tokens", tokens]].concat();
        let data = tmp.path().join(name);
        let (running, address, base) = start_online_with(&catalog, &data, &extra);
        let mut peer = Peer::connect(&python, &address);
        assert_eq!(peer.ask(json!({"op": "cer"}))["result"], 2001);
        (running, uri(&host, &address), peer, base)
    };
    let numbers: Vec<&str> = opened.iter().map(|(_, n, _)| n.as_str()).collect();
    // A's store is made by `ratel run`, which publishes nothing to the directory: A's first
    // assignment puts the directory right from the store's numbers.
    let a_data = tmp.path().join("a");
    let pre = [
        "run",
        "--catalog",
        catalog.to_str().unwrap(),
        "--source",
        &kafka,
    ];
    let pre = [
        &pre[..],
        &["--group", "made-before", "--exit-when-idle", "2"],
    ]
    .concat();
    ratel(&[&pre[..], &["--data", a_data.to_str().unwrap()]].concat());
    let (mut a, a_uri, mut a_peer, a_http) = start("a");
    until("a lone instance answers for every subscriber", || {
        let all = numbers
            .iter()
            .all(|n| check(&mut a_peer, n)["result"] == 2001);
        all.then_some(())
    });
    let (mut b, b_uri, b_peer, b_http) = start("b");
    let http = [a_http, b_http];
    let mut peers = [("a", a_uri, a_peer), ("b", b_uri, b_peer)];
    let owners = until(
        "each subscriber answered by one instance, redirected by the other",
        || {
            let owners: Option<Vec<usize>> =
                numbers.iter().map(|n| owner_of(&mut peers, n)).collect();
            owners.filter(|o| o.contains(&0) && o.contains(&1))
        },
    );
    // A number no partition holds is unknown at both (5030), whichever partition its digits
    // would fall in.
    for (_, _, peer) in &mut peers {
        let unknown = ccr("gw;unknown", 4, 0, "79009999999", "sms");
        assert_eq!(peer.ask(unknown)["result"], 5030);
    }
    // For one subscriber of each instance: a voice session and an SMS sent to the other are
    // redirected, and the owner charges them.
    let mut left_open = None;
    for owner in [0, 1] {
        let i = owners.iter().position(|&o| o == owner).unwrap();
        let number = numbers[i];
        // Over HTTP: 421 with the owner's identity; the owner answers.
        let voice = "service=voice&other=79001000002";
        let (status, body) = max_usage(&http[1 - owner], number, voice);
        let host = ["a.ratel", "b.ratel"][owner];
        assert_eq!((status, &body["owner"]), (421, &json!(host)), "{body}");
        assert_eq!(body["uri"], json!(peers[owner].1), "{body}");
        assert_eq!(max_usage(&http[owner], number, voice).0, 200);
        let sms = ccr(&format!("gw;sms;{number}"), 4, 0, number, "sms");
        let wrong = peers[1 - owner].2.ask(sms.clone());
        assert_eq!(wrong["redirect_host"], json!([peers[owner].1]), "{wrong}");
        let debited = peers[owner].2.ask(sms);
        assert_eq!(mscc(&debited)["granted"], 1, "{debited}");
        let session = format!("gw;moved;{number}");
        let first = ccr(&session, 1, 0, number, "voice");
        let wrong = peers[1 - owner].2.ask(first.clone());
        assert_eq!(
            (wrong["result"].as_u64(), &wrong["mscc"]),
            (Some(3006), &json!([])),
            "{wrong}"
        );
        let granted = peers[owner].2.ask(first.clone());
        assert_eq!(granted["result"], 2001, "{granted}");
        // B's session stays open: B is killed with it.
        if owner == 1 {
            left_open = Some((first, granted, session, number));
        } else {
            let end = with(ccr(&session, 3, 1, number, "voice"), "used", json!(0));
            let ended = peers[owner].2.ask(end);
            assert_eq!(ended["result"], 2001, "{ended}");
        }
    }
    // B stops with a session open (SIGTERM: it leaves the group; a killed member's share
    // moves when its group session expires, which tansu 0.6, the test's broker, does not do).
    // A is given B's partition, restores it from the changelog, and answers for all; the
    // session goes on at A, and its first request sent again is answered as B answered it.
    let [(_, _, mut a_peer), (_, _, b_peer)] = peers;
    drop(b_peer);
    stop(&mut b);
    until("a answers for every subscriber again", || {
        let here = |answer: Value| [2001, 4012].contains(&answer["result"].as_u64().unwrap());
        let all = numbers.iter().all(|n| here(check(&mut a_peer, n)));
        all.then_some(())
    });
    let (first, granted, session, number) = left_open.unwrap();
    let again = a_peer.ask(with(first, "retransmit", json!(true)));
    // The same grant; its validity is what is left of it now.
    let grant = |answer: &Value| (answer["result"].clone(), mscc(answer)["granted"].clone());
    assert_eq!(grant(&again), grant(&granted), "{again}");
    let update = with(ccr(&session, 2, 1, number, "voice"), "used", json!(0));
    assert_eq!(a_peer.ask(update)["result"], 2001);
    let end = with(ccr(&session, 3, 2, number, "voice"), "used", json!(0));
    assert_eq!(a_peer.ask(end)["result"], 2001);
    drop(a_peer);
    stop(&mut a);
    let data = a_data;
    let balances = ratel(&["balance", "--all", "--data", data.to_str().unwrap()]);
    let charged = balances.lines().filter(|l| l.contains("\"3.00\"")).count();
    let untouched = balances.lines().filter(|l| l.contains("\"5.00\"")).count();
    assert_eq!(
        (charged, untouched),
        (2, 6),
        "one SMS each at A and at B:\n{balances}"
    );
    audits_and_replays_clean(&data);
}

/// `ratel audit` finds no discrepancy in the store at `data`, and `ratel replay` rebuilds it
/// exactly.
fn audits_and_replays_clean(data: &Path) {
    let audit = ratel(&["audit", "--data", data.to_str().unwrap()]);
    assert!(!audit.contains("DISCREPANCY"), "{audit}");
    let replay = ratel(&["replay", "--data", data.to_str().unwrap()]);
    assert!(
        !replay.contains("MISMATCH") && !replay.contains("STATE DIFFERS"),
        "{replay}"
    );
}
