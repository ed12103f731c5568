//! `ratel serve` over real HTTP: every query, the access rules, the OpenAPI description, a
//! follower that sees what the writer commits later, and the self-care page in a real headless
//! Chromium.

mod common;
use common::{append, bounded, example_engine, timed_out, tool};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const RATEL: &str = env!("CARGO_BIN_EXE_ratel");
const OPERATOR: &str = "operator-token-0123456789";
const ALICE: &str = "alice-token-0123456789abc";
const BOB: &str = "bob-token-0123456789abcde";

const EVENTS: &[&str] = &[
    r#"{"type":"open_account","id":"o-a","account":"ALICE","time":"2026-11-02T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#,
    r#"{"type":"open_account","id":"o-b","account":"BOB","time":"2026-11-02T09:00:00Z","numbers":[{"msisdn":"79002000002","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"p-a","account":"ALICE","amount":"1000.00","time":"2026-11-02T09:01:00Z"}"#,
    r#"{"type":"payment","id":"p-b","account":"BOB","amount":"200.00","time":"2026-11-02T09:01:00Z"}"#,
    r#"{"type":"usage","id":"c-1","msisdn":"79001000001","service":"voice","other":"74951234567","start":"2026-11-03T09:00:00Z","duration":90}"#,
    r#"{"type":"usage","id":"c-2","msisdn":"79001000001","service":"voice","other":"375291234567","start":"2026-11-03T10:00:00Z","duration":30}"#,
    r#"{"type":"usage","id":"s-1","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-03T11:00:00Z"}"#,
    r#"{"type":"usage","id":"d-1","msisdn":"79001000001","service":"data","start":"2026-11-03T12:00:00Z","bytes":52428800}"#,
    r#"{"type":"usage","id":"b-1","msisdn":"79002000002","service":"voice","other":"74951234567","start":"2026-11-03T09:00:00Z","duration":60}"#,
    r#"{"type":"set_group","id":"g-1","msisdn":"79001000001","group":"family","time":"2026-11-03T13:00:00Z"}"#,
];

fn rate(dir: &Path, input: &Path) {
    example_engine(dir).run_file(input).unwrap();
}

struct Server {
    child: Child,
    base: String,
    /// The server's log lines (it logs at info), as they come.
    log: std::sync::Mutex<std::sync::mpsc::Receiver<String>>,
}

impl Server {
    /// Forgets the log lines so far.
    fn forget_log(&self) {
        while self.log.lock().unwrap().try_recv().is_ok() {}
    }

    /// The first log line, from now, that contains `needle`, if one comes within `within`;
    /// else the lines that came.
    fn logged(&self, needle: &str, within: std::time::Duration) -> Result<String, Vec<String>> {
        let deadline = std::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                return Err(seen);
            };
            match self.log.lock().unwrap().recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(line) => seen.push(line),
                Err(_) => return Err(seen),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    serve_with(dir, "")
}

/// `ratel serve` with the test's tokens and `more` (TOML `[[tokens]]` tables).
fn serve_with(dir: &Path, more: &str) -> Server {
    serve_args(dir, more, &[])
}

/// `ratel serve` with the test's tokens, `more` tokens and more arguments.
fn serve_args(dir: &Path, more: &str, args: &[&str]) -> Server {
    let tokens = dir.join("tokens.toml");
    std::fs::write(
        &tokens,
        format!(
            "[[tokens]]\ntoken = \"{OPERATOR}\"\nrole = \"operator\"\n\n\
             [[tokens]]\ntoken = \"{ALICE}\"\naccount = \"ALICE\"\n\n\
             [[tokens]]\ntoken = \"{BOB}\"\naccount = \"BOB\"\n\n{more}"
        ),
    )
    .unwrap();
    let mut child = Command::new(RATEL)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("store"))
        .arg("--tokens")
        .arg(&tokens)
        .args(args)
        .env("RATEL_LOG", "engine=info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        err.read_line(&mut line).unwrap();
        if line.is_empty() {
            panic!("the server ended before it listened");
        }
        if let Some(base) = line.trim().strip_prefix("ratel serve: listening on ") {
            break base.to_string();
        }
    };
    // Keep draining stderr so that the server never blocks on a full pipe.
    let (lines, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    Server {
        child,
        base,
        log: std::sync::Mutex::new(log),
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, Server) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, EVENTS);
    rate(dir.path(), &input);
    let s = serve(dir.path());
    (dir, input, s)
}

/// Status and body of a GET with an optional token.
fn get(s: &Server, path: &str, token: Option<&str>) -> (u16, String, String) {
    let mut r = ureq::get(&format!("{}{path}", s.base));
    if let Some(t) = token {
        r = r.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match r.call() {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let ctype = resp.content_type().to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

fn json(s: &Server, path: &str, token: &str) -> serde_json::Value {
    let (status, ctype, body) = get(s, path, Some(token));
    assert_eq!(status, 200, "GET {path}: {body}");
    assert_eq!(ctype, "application/json");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn every_query_answers_over_http() {
    let (_dir, _input, s) = setup();
    // ALICE: 1000 − 100 connection − 450 monthly − 5.00 − 25.00 (the CIS call: connect fee and a
    // started minute); the 90 s call, the SMS and the 50 MB come from SMART's packages.
    let b = json(&s, "/api/v1/accounts/ALICE/balance", OPERATOR);
    assert_eq!(b["balance"], "420.00");
    assert_eq!(b["month_to_date"], "580.00");
    assert_eq!(b, json(&s, "/api/v1/numbers/79001000001/balance", OPERATOR));

    let p = json(&s, "/api/v1/numbers/79001000001/packages", OPERATOR);
    let used: Vec<(String, u64)> = p["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["package"].as_str().unwrap().to_string(),
                b["used"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        used,
        [
            ("SMART_MINUTES".to_string(), 120),
            ("SMART_SMS".to_string(), 1),
            ("SMART_DATA".to_string(), 52_428_800)
        ]
    );

    let d = json(
        &s,
        "/api/v1/numbers/79001000001/detalization?month=2026-11",
        OPERATOR,
    );
    let services: Vec<&str> = d["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["fee", "fee", "voice", "voice", "sms", "data"]);
    assert_eq!(d["total_money"], "580.00");
    let d = json(
        &s,
        "/api/v1/numbers/79001000001/detalization?service=voice,sms",
        OPERATOR,
    );
    assert_eq!(
        d["rows"].as_array().unwrap().len(),
        3,
        "the default period is the latest event's month"
    );
    let d = json(
        &s,
        "/api/v1/numbers/79001000001/detalization?from=2026-11-03T09:30:00Z&to=2026-11-03T11:00:00Z",
        OPERATOR,
    );
    assert_eq!(d["rows"].as_array().unwrap().len(), 1);

    let (status, ctype, body) = get(
        &s,
        "/api/v1/numbers/79001000001/detalization?format=csv",
        Some(OPERATOR),
    );
    assert_eq!((status, ctype.as_str()), (200, "text/csv"));
    assert_eq!(body.lines().count(), 7, "a header and six items: {body}");
    let (status, ctype, body) = get(
        &s,
        "/api/v1/numbers/79001000001/detalization?format=pdf",
        Some(OPERATOR),
    );
    assert_eq!((status, ctype.as_str()), (200, "application/pdf"));
    assert!(body.starts_with("%PDF-"));

    let sp = json(&s, "/api/v1/accounts/ALICE/spending", OPERATOR);
    assert_eq!(sp["months"][0]["month"], "2026-11");
    assert_eq!(sp["months"][0]["categories"]["calls"], "30.00");
    assert_eq!(
        sp["months"][0]["categories"]["subscriptions_and_fees"],
        "550.00"
    );
    assert_eq!(sp["payments"][0]["amount"], "1000.00");
    let sp = json(
        &s,
        "/api/v1/numbers/79001000001/spending?from=2026-11&to=2026-11",
        OPERATOR,
    );
    assert_eq!(sp["months"][0]["total"], "580.00");
    assert!(sp.get("payments").is_none());
    // A group of the account's numbers: its numbers' sum.
    let sp = json(
        &s,
        "/api/v1/accounts/ALICE/groups/family/spending",
        OPERATOR,
    );
    assert_eq!(
        (sp["of"].as_str(), sp["months"][0]["total"].as_str()),
        (Some("ALICE/family"), Some("580.00"))
    );
    assert_eq!(
        get(
            &s,
            "/api/v1/accounts/ALICE/groups/nobody/spending",
            Some(OPERATOR)
        )
        .0,
        404
    );
}

#[test]
fn access_is_by_token_and_only_to_ones_own() {
    let (_dir, _input, s) = setup();
    let code = |path: &str, token: Option<&str>| get(&s, path, token).0;
    let alice_number = "/api/v1/numbers/79001000001/balance";
    let bob_number = "/api/v1/numbers/79002000002/packages";
    // No token, an unknown one, a malformed header: 401, with no data.
    assert_eq!(code(alice_number, None), 401);
    assert_eq!(code(alice_number, Some("operator-token-0123456788")), 401);
    let (status, _, body) = get(&s, alice_number, Some(""));
    assert_eq!(status, 401);
    assert!(!body.contains("balance"), "{body}");
    // A subscriber reads its own account and numbers, nobody else's: 403 whether or not the
    // other number exists, so that a token cannot probe for numbers.
    assert_eq!(code(alice_number, Some(ALICE)), 200);
    assert_eq!(code("/api/v1/accounts/ALICE/spending", Some(ALICE)), 200);
    assert_eq!(
        code("/api/v1/accounts/ALICE/groups/family/spending", Some(ALICE)),
        200
    );
    assert_eq!(
        code("/api/v1/accounts/ALICE/groups/family/spending", Some(BOB)),
        403
    );
    assert_eq!(code(bob_number, Some(ALICE)), 403);
    assert_eq!(code("/api/v1/accounts/BOB/balance", Some(ALICE)), 403);
    assert_eq!(
        code(
            "/api/v1/numbers/79002000002/detalization?format=pdf",
            Some(ALICE)
        ),
        403
    );
    assert_eq!(
        code("/api/v1/numbers/79009999999/balance", Some(ALICE)),
        403
    );
    assert_eq!(code("/api/v1/numbers/garbage/balance", Some(ALICE)), 403);
    assert_eq!(code(bob_number, Some(BOB)), 200);
    // The operator reads everything; what does not exist is 404, what is malformed 400.
    assert_eq!(code(bob_number, Some(OPERATOR)), 200);
    assert_eq!(
        code("/api/v1/numbers/79009999999/balance", Some(OPERATOR)),
        404
    );
    assert_eq!(code("/api/v1/accounts/NOBODY/balance", Some(OPERATOR)), 404);
    assert_eq!(
        code("/api/v1/numbers/garbage/packages", Some(OPERATOR)),
        400
    );
    assert_eq!(
        code(
            "/api/v1/numbers/79001000001/detalization?month=2026-13",
            Some(OPERATOR)
        ),
        400
    );
    assert_eq!(
        code(
            "/api/v1/numbers/79001000001/detalization?format=docx",
            Some(OPERATOR)
        ),
        400
    );
    assert_eq!(
        code(
            "/api/v1/numbers/79001000001/detalization?service=telepathy",
            Some(OPERATOR)
        ),
        400
    );
    assert_eq!(
        code(
            "/api/v1/numbers/79001000001/detalization?month=2026-11&from=x",
            Some(OPERATOR)
        ),
        400
    );
    assert_eq!(
        code(
            "/api/v1/numbers/79001000001/detalization?sneaky=1",
            Some(OPERATOR)
        ),
        400
    );
    assert_eq!(
        code(
            "/api/v1/accounts/ALICE/spending?from=2026-12&to=2026-11",
            Some(OPERATOR)
        ),
        400
    );
    assert_eq!(code("/api/v1/nothing", Some(OPERATOR)), 404);
    // Without a token: the page, the description and the health check only.
    assert_eq!(code("/self-care", None), 200);
    assert_eq!(code("/openapi.json", None), 200);
    assert_eq!(code("/healthz", None), 200);
}

/// Account ids that look like other identifiers: the account routes read the account of that
/// exact id, never a number's account or a group, so a token for an account named like another
/// subscriber's number (a store made before such ids were refused at opening) reads its own.
#[test]
fn an_account_id_that_looks_like_a_number_or_a_group_reads_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, EVENTS);
    rate(dir.path(), &input);
    // Accounts a store made before the rule could hold: named as BOB's number, and as ALICE's
    // group.
    {
        let store = engine::store::Store::open(&dir.path().join("store")).unwrap();
        let mut c = engine::store::Commit::default();
        let mut buf = Vec::new();
        for id in ["79002000002", "ALICE/family"] {
            let a = rating::Account::new(
                id.into(),
                rust_decimal::Decimal::ZERO,
                Vec::new(),
                rating::Timestamp(1_793_000_000),
            );
            store.put_account(&mut c, &a, &rating::recent::Recent::default(), &mut buf);
        }
        store.commit(c, true).unwrap();
    }
    const EVE: &str = "eve-token-0123456789abcdef";
    const MALLORY: &str = "mallory-token-0123456789ab";
    let s = serve_with(
        dir.path(),
        &format!(
            "[[tokens]]\ntoken = \"{EVE}\"\naccount = \"79002000002\"\n\n\
             [[tokens]]\ntoken = \"{MALLORY}\"\naccount = \"ALICE/family\"\n"
        ),
    );
    let b = json(&s, "/api/v1/accounts/79002000002/balance", EVE);
    assert_eq!(b["account"], "79002000002", "{b}");
    assert_eq!(b["balance"], "0.00", "not BOB's money: {b}");
    assert!(!b.to_string().contains("79002000002\",\"plan"), "{b}");
    let sp = json(&s, "/api/v1/accounts/79002000002/spending", EVE);
    assert_eq!(sp["of"], "79002000002");
    assert!(
        sp["months"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["total"] == "0.00"),
        "{sp}"
    );
    // BOB's number itself stays BOB's.
    assert_eq!(
        get(&s, "/api/v1/numbers/79002000002/balance", Some(EVE)).0,
        403
    );
    // "ALICE/family" is an account id here, not ALICE's group.
    let (status, _, body) = get(
        &s,
        "/api/v1/accounts/ALICE%2Ffamily/spending",
        Some(MALLORY),
    );
    assert!(!body.contains("580.00"), "ALICE's group leaked: {body}");
    assert!(status == 200 || status == 404, "{status} {body}");
    assert_eq!(
        get(
            &s,
            "/api/v1/accounts/ALICE/groups/family/spending",
            Some(MALLORY)
        )
        .0,
        403
    );
}

/// A CSV export never hands a spreadsheet a formula: an event id that begins like one is
/// written as text.
#[test]
fn csv_cells_that_would_be_formulas_are_written_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut events = EVENTS.to_vec();
    events.push(r#"{"type":"usage","id":"=HYPERLINK(\"http://evil.example/\",\"pay\")","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-04T11:00:00Z"}"#);
    events.push(r#"{"type":"usage","id":"+1+cmd|' /C calc'!A0","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-04T11:01:00Z"}"#);
    append(&input, &events);
    rate(dir.path(), &input);
    let s = serve(dir.path());
    let (status, _, body) = get(
        &s,
        "/api/v1/numbers/79001000001/detalization?format=csv",
        Some(OPERATOR),
    );
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let event = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "event")
        .unwrap();
    let mut events = Vec::new();
    for r in reader.records() {
        let r = r.unwrap();
        for cell in &r {
            assert!(
                !cell.starts_with(['=', '+', '@']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
        events.push(r[event].to_string());
    }
    assert!(
        events.contains(&"'=HYPERLINK(\"http://evil.example/\",\"pay\")".to_string()),
        "{events:?}"
    );
}

/// Whether the server closed `socket` (a read sees its end) within `within`.
fn closed_within(socket: &mut std::net::TcpStream, within: std::time::Duration) -> bool {
    use std::io::Read;
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let started = std::time::Instant::now();
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 or the like before the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return started.elapsed() < within,
        }
    }
}

/// Slow, silent and idle clients are closed after the header timeout, connections beyond the
/// cap are closed at once, and a real client is served again as soon as the idle ones are gone.
#[test]
fn slow_and_idle_connections_are_closed_and_their_number_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, EVENTS);
    rate(dir.path(), &input);
    let s = serve_args(
        dir.path(),
        "",
        &["--max-connections", "40", "--header-timeout-secs", "2"],
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    let connect = || std::net::TcpStream::connect(&addr).unwrap();
    // Idle sockets, and sockets that send half a request's headers and then nothing.
    let mut held: Vec<std::net::TcpStream> = Vec::new();
    for i in 0..40 {
        let mut c = connect();
        if i % 2 == 0 {
            use std::io::Write;
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        }
        held.push(c);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The server is at its cap: one more connection is closed at once, not left hanging.
    let mut extra = connect();
    assert!(
        closed_within(&mut extra, std::time::Duration::from_secs(1)),
        "a connection past the cap was kept"
    );
    // Every held one is closed by the header timeout (2 s), well within 10 s.
    for (i, c) in held.iter_mut().enumerate() {
        assert!(
            closed_within(c, std::time::Duration::from_secs(10)),
            "connection {i} was held past the header timeout"
        );
    }
    // The places are free again: a real client is served.
    assert_eq!(get(&s, "/healthz", None).0, 200);
    // A keep-alive connection left idle after a request is closed too.
    let mut kept = connect();
    {
        use std::io::Write;
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    assert!(closed_within(&mut kept, std::time::Duration::from_secs(10)));
}

/// PDF reports: at most MAX_PDF_ITEMS items, at most two laid out at once, and SIGTERM ends
/// the server within seconds whatever it is laying out.
#[test]
fn pdf_reports_are_bounded_and_a_stop_signal_ends_the_server_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut events: Vec<String> = EVENTS
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    events.push(r#"{"type":"payment","id":"p-big","account":"ALICE","amount":"900000.00","time":"2026-11-03T13:00:00Z"}"#.into());
    // A busy month: more SMS than a PDF may hold (SMART's 100 free, then money).
    let items = engine::serve::MAX_PDF_ITEMS + 500;
    for i in 0..items {
        events.push(format!(
            r#"{{"type":"usage","id":"sms-{i}","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2026-11-{:02}T{:02}:{:02}:00Z"}}"#,
            4 + i / 600,
            i % 600 / 60,
            i % 60,
        ));
    }
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    append(&input, &refs);
    rate(dir.path(), &input);
    let mut s = serve(dir.path());
    let whole = "/api/v1/numbers/79001000001/detalization?month=2026-11&format=pdf";
    let (status, _, body) = get(&s, whole, Some(OPERATOR));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most"), "{body}");
    // Half the month is within the bound.
    let half = "/api/v1/numbers/79001000001/detalization?from=2026-11-01T00:00:00Z&to=2026-11-10T00:00:00Z&format=pdf";
    let (status, ctype, _) = get(&s, half, Some(OPERATOR));
    assert_eq!((status, ctype.as_str()), (200, "application/pdf"));

    // A client that asks for a PDF and leaves while it is laid out: the server stops. (One
    // that leaves before the work began starts none: the request is dropped before its query.)
    {
        let most = "/api/v1/numbers/79001000001/detalization?from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z&format=pdf";
        use std::io::Write;
        // The report asked for above was logged too.
        std::thread::sleep(std::time::Duration::from_millis(100));
        s.forget_log();
        let addr = s.base.trim_start_matches("http://");
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        write!(
            socket,
            "GET {most} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {OPERATOR}\r\n\r\n"
        )
        .unwrap();
        s.logged(
            "PDF report: laying it out",
            std::time::Duration::from_secs(60),
        )
        .unwrap_or_else(|seen| panic!("no PDF report was begun: {seen:?}"));
        drop(socket);
        let line = s
            .logged("PDF report stopped", std::time::Duration::from_secs(60))
            .unwrap_or_else(|seen| panic!("the report went on after its client left: {seen:?}"));
        let (after, items) = (log_field(&line, "after"), log_field(&line, "items"));
        assert!(after < items && items > 9_000, "{line}");
    }

    // Eight clients ask for PDFs at once; the server stops in the middle.
    let before = memory_kib(&s).1;
    let base = s.base.clone();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = format!("{base}{half}");
            std::thread::spawn(move || {
                let _ = ureq::get(&url)
                    .set("Authorization", &format!("Bearer {OPERATOR}"))
                    .timeout(std::time::Duration::from_secs(30))
                    .call();
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let peak = memory_kib(&s).1;
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = std::time::Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            stopped.elapsed() < std::time::Duration::from_secs(8),
            "the server ran on 8 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    for c in clients {
        c.join().unwrap();
    }
    // Two reports at most in memory at once: far from eight.
    assert!(
        peak < before + 600 * 1024,
        "peak {peak} KiB, {before} KiB before"
    );
}

/// The number a log line gives as `name=N`.
fn log_field(line: &str, name: &str) -> usize {
    line.split(&format!("{name}="))
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// The server's resident and peak memory, in KiB, from /proc.
fn memory_kib(s: &Server) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn hostile_clients_get_nothing_that_is_not_theirs_and_the_server_stays_up_in_bounded_memory() {
    let (_dir, _input, s) = setup();
    let huge = format!("month={}", "9".repeat(16 * 1024));
    let huger = format!("month={}", "9".repeat(1024 * 1024));
    // Each case: a path, a token, the statuses it may get (503 where the in-flight bound may
    // turn it away) and whether its body may carry data.
    let cases: Vec<(String, Option<&str>, &[u16], bool)> = vec![
        (
            "/api/v1/numbers/79001000001/balance".into(),
            Some(ALICE),
            &[200, 503],
            true,
        ),
        (
            "/api/v1/numbers/79002000002/packages".into(),
            Some(ALICE),
            &[403, 503],
            false,
        ),
        (
            "/api/v1/accounts/BOB/spending".into(),
            Some(ALICE),
            &[403, 503],
            false,
        ),
        (
            "/api/v1/numbers/79002000002/balance".into(),
            None,
            &[401],
            false,
        ),
        (
            "/api/v1/numbers/79002000002/balance".into(),
            Some("bob-token-0123456789abcdX"),
            &[401],
            false,
        ),
        (
            format!("/api/v1/numbers/79001000001/detalization?{huge}"),
            Some(ALICE),
            &[400],
            false,
        ),
        (
            "/api/v1/numbers/79001000001/detalization?month=%ZZ&month=%00".into(),
            Some(OPERATOR),
            &[400],
            false,
        ),
        (
            "/api/v1/numbers/79001000001/detalization?format=pdf".into(),
            Some(OPERATOR),
            &[200, 503],
            true,
        ),
        (
            "/api/v1/numbers/%2e%2e%2f79002000002/balance".into(),
            Some(ALICE),
            &[403, 503],
            false,
        ),
    ];
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(60))
        .build();
    let before = memory_kib(&s);
    std::thread::scope(|scope| {
        for t in 0..32 {
            let (cases, agent, s) = (&cases, &agent, &s);
            scope.spawn(move || {
                for i in 0..30 {
                    let (path, token, allowed, data) = &cases[(t + i) % cases.len()];
                    let mut r = agent.get(&format!("{}{path}", s.base));
                    if let Some(tok) = token {
                        r = r.set("Authorization", &format!("Bearer {tok}"));
                    }
                    let (status, body) = match r.call() {
                        Ok(resp) => (resp.status(), resp.into_string().unwrap_or_default()),
                        Err(ureq::Error::Status(code, resp)) => {
                            (code, resp.into_string().unwrap_or_default())
                        }
                        Err(e) => panic!("GET {}: {e}", &path[..path.len().min(80)]),
                    };
                    let shown = &path[..path.len().min(80)];
                    assert!(allowed.contains(&status), "GET {shown}: {status} {body}");
                    if !*data || status != 200 {
                        for secret in ["79002000002", "BASIC", "balance_after", "\"items\""] {
                            assert!(!body.contains(secret), "GET {shown}: {status} leaks {body}");
                        }
                    }
                }
            });
        }
    });
    // A request line of a megabyte: refused (by hyper's header limit or by the query's), or the
    // connection closed; never served.
    let big = ureq::get(&format!(
        "{}/api/v1/numbers/79001000001/detalization?{huger}",
        s.base
    ))
    .set("Authorization", &format!("Bearer {OPERATOR}"))
    .call();
    match big {
        Ok(r) => panic!("a megabyte query was served: {}", r.status()),
        Err(ureq::Error::Status(code, _)) => assert!((400..500).contains(&code), "{code}"),
        Err(ureq::Error::Transport(_)) => {}
    }
    assert_eq!(get(&s, "/healthz", None).0, 200, "the server is still up");
    assert_eq!(
        get(&s, "/api/v1/numbers/79001000001/balance", Some(ALICE)).0,
        200
    );
    let after = memory_kib(&s);
    eprintln!("server memory before/after (RSS, peak KiB): {before:?} {after:?}");
    assert!(
        after.1 < before.0 + 256 * 1024,
        "960 requests grew the server from {before:?} to {after:?} KiB"
    );
}

#[test]
fn the_openapi_description_covers_every_route() {
    let (_dir, _input, s) = setup();
    let (status, _, body) = get(&s, "/openapi.json", None);
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let mut routes: Vec<&str> = engine::serve::ROUTES.to_vec();
    routes.sort();
    let mut described: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
    described.sort();
    assert_eq!(routes, described);
    for (path, item) in doc["paths"].as_object().unwrap() {
        let op = &item["get"];
        for code in ["200", "401", "403"] {
            assert!(
                op["responses"][code].is_object(),
                "{path} does not describe {code}"
            );
        }
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for p in params {
            assert!(path.contains(&format!("{{{p}}}")), "{path} has no {p}");
        }
    }
}

#[test]
fn the_server_follows_the_writer() {
    let (dir, input, s) = setup();
    let before = json(&s, "/api/v1/accounts/BOB/balance", OPERATOR);
    assert_eq!(before["balance"], "198.50");
    append(
        &input,
        &[
            r#"{"type":"payment","id":"p-b2","account":"BOB","amount":"50.00","time":"2026-11-04T09:00:00Z"}"#,
        ],
    );
    // The writer commits while the server runs; the server catches up within its interval.
    rate(dir.path(), &input);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let b = json(&s, "/api/v1/accounts/BOB/balance", OPERATOR);
        if b["balance"] == "248.50" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}",
            b["balance"]
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The page's DOM after its scripts ran, in headless Chromium. Chromium has hung now and then
/// on a loaded machine (once holding a CI run to its time limit): an attempt that has not ended
/// after a minute is killed, reported, and made again with a fresh profile, three times at most.
fn render(url: &str, profile: &Path) -> String {
    for attempt in 1..=3 {
        let out = bounded(tool("chromium").unwrap(), 60)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}-{attempt}", profile.display()))
            .arg(url)
            .output()
            .unwrap();
        if timed_out(out.status) {
            eprintln!(
                "chromium attempt {attempt} did not render {url} within 60 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return String::from_utf8(out.stdout).unwrap();
    }
    panic!("chromium did not render {url} in three attempts");
}

#[test]
fn the_self_care_page_shows_a_number_in_a_real_browser() {
    if tool("chromium").is_none() {
        return;
    }
    let (dir, _input, s) = setup();
    let url = format!(
        "{}/self-care#msisdn=79001000001&token={ALICE}&download=pdf",
        s.base
    );
    let dom = render(&url, &dir.path().join("profile"));
    assert!(dom.contains(r#"data-loaded="yes""#), "{dom}");
    assert!(
        dom.contains(r#"<div class="amount" id="balance">420.00 RUB</div>"#),
        "{dom}"
    );
    // Packages as bars: one per bucket, with what remains.
    assert_eq!(dom.matches(r#"class="bucket""#).count(), 3, "{dom}");
    assert!(
        dom.contains(r#"data-package="SMART_MINUTES" data-remaining="17880" data-total="18000""#)
    );
    assert!(
        dom.contains(r#"style="width:99%""#),
        "17 880 of 18 000 left"
    );
    // This month's spending as a chart: a bar per category.
    assert_eq!(dom.matches("<rect").count(), 7, "{dom}");
    assert!(dom.contains(r#"data-category="calls" data-amount="30.00""#));
    // The detalization table, with its total, and the PDF downloaded through the button's code.
    assert_eq!(dom.matches(r#"<tr class="item">"#).count(), 6);
    assert!(dom.contains(r#"<th class="num" id="total">580.00 RUB</th>"#));
    let bytes: usize = dom
        .split(r#"data-pdf-bytes=""#)
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no PDF downloaded: {dom}"));
    assert!(bytes > 1000, "{bytes} bytes");

    // Another subscriber's number: the page says it cannot, and shows no data.
    let url = format!("{}/self-care#msisdn=79002000002&token={ALICE}", s.base);
    let dom = render(&url, &dir.path().join("profile2"));
    assert!(dom.contains(r#"data-loaded="error""#), "{dom}");
    assert!(dom.contains("Cannot load: 403"), "{dom}");
    assert!(!dom.contains("198.50"));
}

#[test]
fn a_tokens_file_is_checked_before_the_server_starts() {
    use engine::serve::Tokens;
    let ok = "[[tokens]]\ntoken = \"0123456789abcdef\"\nrole = \"operator\"\n[[tokens]]\ntoken = \"fedcba9876543210\"\naccount = \"A\"\n";
    assert!(Tokens::parse(ok).is_ok());
    for (text, problem) in [
        ("[[tokens]]\ntoken = \"short\"\nrole = \"operator\"\n", "shorter than 16"),
        ("[[tokens]]\ntoken = \"0123456789abcdef\"\n", "give role"),
        ("[[tokens]]\ntoken = \"0123456789abcdef\"\nrole = \"admin\"\n", "give role"),
        ("[[tokens]]\ntoken = \"0123456789abcdef\"\nrole = \"operator\"\naccount = \"A\"\n", "give role"),
        ("[[tokens]]\ntoken = \"0123456789abcdef\"\nrole = \"operator\"\n[[tokens]]\ntoken = \"0123456789abcdef\"\naccount = \"A\"\n", "twice"),
        ("[[tokens]]\ntoken = \"0123456789abcdef\"\nrole = \"operator\"\nextra = 1\n", "unknown field"),
        ("tokens = 3", "invalid type"),
    ] {
        let e = Tokens::parse(text).err().unwrap_or_else(|| panic!("accepted {text:?}"));
        assert!(e.contains(problem), "{e:?} does not say {problem:?}");
    }
    // A server does not start on a bad file, and says why.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, EVENTS);
    rate(dir.path(), &input);
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[tokens]]\ntoken = \"short\"\nrole = \"operator\"\n",
    )
    .unwrap();
    let out = Command::new(RATEL)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("store"))
        .arg("--tokens")
        .arg(dir.path().join("bad.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 16"));
}

/// The example catalog with an account blocked one day at zero or below and released a day
/// later, so that a number changes hands within a test.
fn quick_release_catalog() -> String {
    let text = engine::EXAMPLE_CATALOG
        .replace("block_after_days = 180", "block_after_days = 1")
        .replace("restore_days = 60", "restore_days = 1");
    assert_ne!(text, engine::EXAMPLE_CATALOG, "the example's rules moved");
    text
}

const OLD_HOLDER: &str = "old-holder-token-0123456789";
const NEW_HOLDER: &str = "new-holder-token-0123456789";

/// A number held by OLDIE (never paid: blocked after a day at zero, released a day later),
/// then given to NEWBIE. Each holder's calls and fees are in November. Another account's
/// opening brings the day's ticks, which release OLDIE (a refused input moves no clock).
const REISSUE: &[&str] = &[
    r#"{"type":"open_account","id":"o-old","account":"OLDIE","time":"2026-11-02T09:00:00Z","numbers":[{"msisdn":"79003000003","plan":"SMART"}]}"#,
    r#"{"type":"usage","id":"old-call","msisdn":"79003000003","service":"voice","other":"74951234567","start":"2026-11-02T10:00:00Z","duration":60}"#,
    r#"{"type":"usage","id":"old-sms","msisdn":"79003000003","service":"sms","other":"79161234567","start":"2026-11-02T11:00:00Z"}"#,
    r#"{"type":"open_account","id":"o-other","account":"OTHER","time":"2026-11-06T08:00:00Z","numbers":[{"msisdn":"79004000004","plan":"BASIC"}]}"#,
    r#"{"type":"open_account","id":"o-new","account":"NEWBIE","time":"2026-11-06T09:00:00Z","numbers":[{"msisdn":"79003000003","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"p-new","account":"NEWBIE","amount":"300.00","time":"2026-11-06T09:01:00Z"}"#,
    r#"{"type":"usage","id":"new-call","msisdn":"79003000003","service":"voice","other":"74951234567","start":"2026-11-06T10:00:00Z","duration":60}"#,
];

/// The events and accounts of a detalization's rows.
fn rows_of(report: &serde_json::Value) -> Vec<(String, String)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_string();
            (text("event"), text("account"))
        })
        .collect()
}

#[test]
fn a_reissued_number_shows_each_holder_only_its_own_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, REISSUE);
    let text = quick_release_catalog();
    let cat = rating::Catalog::from_toml("quick.toml", &text).unwrap();
    let cfg = engine::pipeline::Config::default();
    let mut e =
        engine::pipeline::Engine::open(&dir.path().join("store"), cat, text.as_bytes(), cfg)
            .unwrap();
    e.run_file(&input).unwrap();
    drop(e);
    let more = format!(
        "[[tokens]]\ntoken = \"{OLD_HOLDER}\"\naccount = \"OLDIE\"\n\n\
         [[tokens]]\ntoken = \"{NEW_HOLDER}\"\naccount = \"NEWBIE\"\n"
    );
    let s = serve_with(dir.path(), &more);
    let number = "/api/v1/numbers/79003000003";
    let detalization = format!("{number}/detalization?month=2026-11");
    let events = |token: &str| rows_of(&json(&s, &detalization, token));
    let accounts = |rows: &[(String, String)]| {
        let mut a: Vec<String> = rows.iter().map(|(_, a)| a.clone()).collect();
        a.dedup();
        a
    };
    // The new holder reads its own rows only: its call and its opening's fees.
    let new = events(NEW_HOLDER);
    assert!(new.iter().any(|(e, _)| e == "new-call"), "{new:?}");
    assert_eq!(accounts(&new), ["NEWBIE"], "{new:?}");
    // The old holder still reads what happened while it held the number, and nothing after.
    let old = events(OLD_HOLDER);
    assert!(old.iter().any(|(e, _)| e == "old-call"), "{old:?}");
    assert_eq!(accounts(&old), ["OLDIE"], "{old:?}");
    // The operator reads every holder's, each row naming its account.
    let all = events(OPERATOR);
    assert_eq!(all.len(), old.len() + new.len(), "{all:?}");
    assert_eq!(accounts(&all), ["OLDIE", "NEWBIE"], "{all:?}");
    // The number's present (balance, packages) is the holder's alone.
    assert_eq!(
        get(&s, &format!("{number}/balance"), Some(NEW_HOLDER)).0,
        200
    );
    assert_eq!(
        get(&s, &format!("{number}/balance"), Some(OLD_HOLDER)).0,
        403
    );
    assert_eq!(
        get(&s, &format!("{number}/packages"), Some(OLD_HOLDER)).0,
        403
    );
    // A number's spending: each holder's own; the operator's is the sum.
    let spent = |token: &str| {
        let v = json(
            &s,
            &format!("{number}/spending?from=2026-11&to=2026-11"),
            token,
        );
        v["months"][0]["total"].as_str().unwrap().to_string()
    };
    let (old_spent, new_spent) = (spent(OLD_HOLDER), spent(NEW_HOLDER));
    let sum = |a: &str, b: &str| {
        a.parse::<rust_decimal::Decimal>().unwrap() + b.parse::<rust_decimal::Decimal>().unwrap()
    };
    assert_eq!(
        spent(OPERATOR).parse::<rust_decimal::Decimal>().unwrap(),
        sum(&old_spent, &new_spent)
    );
    assert_ne!(old_spent, new_spent, "the two holders spent differently");
    // A released account says so, and so do its numbers.
    let old_balance = json(&s, "/api/v1/accounts/OLDIE/balance", OPERATOR);
    assert_eq!(old_balance["status"], "released", "{old_balance}");
    assert_eq!(
        old_balance["numbers"][0]["status"], "released",
        "{old_balance}"
    );
    // Someone who never held it: 403, as for a number that does not exist.
    assert_eq!(get(&s, &detalization, Some(ALICE)).0, 403);
    // An account's detalization: all its numbers, while it held them (a corporate view).
    let account_rows = |account: &str, token: &str| {
        let path = format!("/api/v1/accounts/{account}/detalization?month=2026-11");
        rows_of(&json(&s, &path, token))
    };
    assert_eq!(account_rows("OLDIE", OPERATOR), old);
    assert_eq!(account_rows("NEWBIE", NEW_HOLDER), new);
    let path = "/api/v1/accounts/OLDIE/detalization?month=2026-11&format=csv";
    assert_eq!(get(&s, path, Some(NEW_HOLDER)).0, 403);
    let (status, _, csv) = get(&s, path, Some(OLD_HOLDER));
    assert_eq!(status, 200);
    assert!(
        csv.lines().next().unwrap().ends_with(",account,msisdn"),
        "{csv}"
    );
    // The CLI follows the same rule when given an account.
    let data = dir.path().join("store");
    let cli = |more: &[&str]| {
        let mut args = vec![
            "detalization",
            "--data",
            data.to_str().unwrap(),
            "79003000003",
        ];
        args.extend_from_slice(&["--month", "2026-11"]);
        args.extend_from_slice(more);
        rows_of(&serde_json::from_str(&common::ratel(&args)).unwrap())
    };
    assert_eq!(cli(&["--account", "NEWBIE"]), new);
    assert_eq!(cli(&["--account", "OLDIE"]), old);
    assert_eq!(cli(&[]), all);
    let spending = |account: &str| {
        let args = ["spending", "--data", data.to_str().unwrap(), "79003000003"];
        let text =
            common::ratel(&[&args[..], &["--from", "2026-11", "--account", account]].concat());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["months"][0]["total"].as_str().unwrap().to_string()
    };
    assert_eq!(spending("NEWBIE"), new_spent);
    assert_eq!(spending("OLDIE"), old_spent);
}
