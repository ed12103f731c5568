//! A synthetic workload, deterministic for a seed: accounts on several plans open, pay, and use
//! voice, SMS, MMS and data with skewed activity (a few subscribers do most of it) and a daily
//! rhythm, over a span of days; with duplicated and bad lines at chosen rates.
//!
//! Output is the JSON input form, one event per line, in time order within each day.

use super::population::{Population, MAX_ACCOUNTS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::Write;

#[derive(Debug, Clone)]
pub struct Workload {
    pub accounts: u64,
    pub days: u32,
    /// Mean events per account per day.
    pub events_per_day: f64,
    pub seed: u64,
    /// Fraction of lines repeated (a redelivery).
    pub duplicates: f64,
    /// Fraction of lines replaced by a bad one.
    pub bad: f64,
    /// Unix time of the first day's local midnight (Moscow).
    pub start: i64,
    /// Money transfers between accounts. Their credit lands in the receiver's partition when it
    /// is delivered, so two runs that interleave partitions differently (a file and Kafka) may
    /// rate it at different points of the receiver's stream: comparisons of such runs turn
    /// them off.
    pub transfers: bool,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            accounts: 1_000,
            days: 30,
            events_per_day: 8.0,
            seed: 1,
            duplicates: 0.001,
            bad: 0.0005,
            start: 1_793_480_400,
            transfers: true,
        } // 2026-11-01 00:00 MSK
    }
}

/// Share of a day's traffic in each local hour.
const HOURS: [f64; 24] = [
    0.5, 0.3, 0.2, 0.2, 0.2, 0.4, 1.0, 2.5, 4.0, 5.0, 5.5, 5.5, 5.5, 5.0, 5.0, 5.0, 5.5, 6.0, 7.0,
    7.5, 7.0, 5.5, 3.5, 1.5,
];
const PLANS: [(&str, f64); 3] = [("SMART", 0.5), ("DAILY", 0.2), ("BASIC", 0.3)];

pub fn msisdn(index: u64) -> u64 {
    79_000_000_000 + index
}

fn other(rng: &mut ChaCha8Rng) -> String {
    let x: f64 = rng.gen();
    let n: u64 = rng.gen_range(0..10_000_000);
    match x {
        x if x < 0.45 => format!("7900{n:07}"),
        x if x < 0.70 => format!("7916{n:07}"),
        x if x < 0.80 => format!("7495{n:07}"),
        x if x < 0.94 => format!("7812{n:07}"),
        x if x < 0.97 => format!("37529{n:07}"),
        _ => format!("44207{n:07}"),
    }
}

fn rfc3339(seconds: i64) -> String {
    rating::Timestamp(seconds).to_string()
}

impl Workload {
    /// A workload from its spec, `key=value` pairs separated by commas, any left out at their
    /// defaults: `accounts`, `days`, `events` (a mean account's events a day), `seed`,
    /// `duplicates` and `bad` (shares of the lines), `transfers` (`yes` or `no`). For example
    /// `accounts=10000000,days=3,events=8`.
    pub fn from_spec(spec: &str) -> Result<Workload, String> {
        let mut workload = Workload::default();
        for pair in spec.split(',').filter(|pair| !pair.is_empty()) {
            let (key, value) =
                (pair.split_once('=')).ok_or_else(|| format!("{pair:?} is no key=value pair"))?;
            let bad_value = || format!("{key}: {value:?} is no value for it");
            match key {
                "accounts" => {
                    workload.accounts = value.replace('_', "").parse().map_err(|_| bad_value())?;
                }
                "days" => workload.days = value.parse().map_err(|_| bad_value())?,
                "events" => workload.events_per_day = value.parse().map_err(|_| bad_value())?,
                "seed" => workload.seed = value.parse().map_err(|_| bad_value())?,
                "duplicates" => workload.duplicates = value.parse().map_err(|_| bad_value())?,
                "bad" => workload.bad = value.parse().map_err(|_| bad_value())?,
                "transfers" => {
                    workload.transfers = match value {
                        "yes" => true,
                        "no" => false,
                        _ => return Err(format!("transfers: {value:?} is neither yes nor no")),
                    }
                }
                _ => return Err(format!("{key:?} is no key of a workload spec")),
            }
        }
        workload.check()?;
        Ok(workload)
    }

    /// Whether the workload can be made: rates within 0..1, events a day within 0..10 000,
    /// accounts within [`MAX_ACCOUNTS`], days within ten years.
    pub fn check(&self) -> Result<(), String> {
        let share = 0.0..=1.0;
        if !share.contains(&self.duplicates) || !share.contains(&self.bad) {
            return Err("the shares of duplicates and bad lines are within 0..1".into());
        }
        if !(0.0..=10_000.0).contains(&self.events_per_day) {
            return Err("events a day are within 0..10000".into());
        }
        if self.accounts > MAX_ACCOUNTS || self.days > 3653 {
            return Err(format!(
                "at most {MAX_ACCOUNTS} accounts and 3653 days make a workload"
            ));
        }
        Ok(())
    }

    /// Number of numbers of account `account`: one in ten is a family with two.
    fn numbers(account: u64) -> u64 {
        if account % 10 == 7 {
            2
        } else {
            1
        }
    }

    /// The index of account `account`'s first number: the numbers of the accounts before it.
    fn first_number(account: u64) -> u64 {
        account + (account + 2) / 10
    }

    /// Writes the workload; `progress` is told each day done. Returns the number of lines.
    pub fn write(
        &self,
        out: &mut dyn Write,
        mut progress: impl FnMut(u32),
    ) -> std::io::Result<u64> {
        let mut lines = self.lines();
        let mut count = 0u64;
        let mut days_done = 0;
        while let Some(line) = lines.next() {
            write_line(&line, out)?;
            count += 1;
            if lines.days_done() > days_done {
                days_done = lines.days_done();
                progress(days_done);
            }
        }
        if lines.days_done() > days_done {
            progress(lines.days_done());
        }
        Ok(count)
    }

    /// The workload's lines, made as they are taken: the openings, then each day's events in
    /// time order. Memory does not grow with the accounts or the days.
    pub fn lines(&self) -> Lines {
        let population = Population::new(self.accounts, self.events_per_day);
        let (per_day, hours_total) = (population.events_per_day(), HOURS.iter().sum::<f64>());
        Lines {
            per_second: HOURS.map(|share| per_day * share / hours_total / 3600.0),
            population,
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            workload: self.clone(),
            next_account: 0,
            ready: VecDeque::new(),
            day: None,
            clock: 0.0,
            upcoming: None,
            repeats: BinaryHeap::new(),
            barred: BTreeMap::new(),
            seq: 0,
        }
    }

    /// The lines that open account `index`: the opening, a payment, and for some a spending
    /// limit or autopay.
    fn opening(&self, rng: &mut ChaCha8Rng, index: u64, out: &mut VecDeque<String>) {
        let plan = plan_drawn(rng);
        let count = Workload::numbers(index);
        let first = Workload::first_number(index);
        let nums = numbers_json(rng, plan, first, count);
        let t = self.start + 60 + (index % 3600) as i64;
        out.push_back(format!(
            r#"{{"type":"open_account","id":"open-{index}","account":"ACC{index}","time":"{}","credit_limit":"50.00","numbers":[{}]}}"#,
            rfc3339(t),
            nums
        ));
        out.push_back(format!(
            r#"{{"type":"payment","id":"pay-{index}-0","account":"ACC{index}","amount":"{}.00","time":"{}"}}"#,
            rng.gen_range(3..20) * 100,
            rfc3339(t + 1)
        ));
        // A family's second number (a child's) gets a monthly spending limit.
        if count == 2 {
            out.push_back(format!(
                r#"{{"type":"set_spending_limit","id":"limit-{index}","msisdn":"{}","limit":"100.00","time":"{}"}}"#,
                msisdn(first + 1),
                rfc3339(t + 2)
            ));
        }
        // One in five links a card: autopay of 300.00 below 100.00, told below 150.00.
        if index % 5 == 2 {
            out.push_back(format!(
                r#"{{"type":"set_balance_alerts","id":"alerts-{index}","account":"ACC{index}","time":"{}","autopay":{{"threshold":"100.00","amount":"300.00"}},"low_balance":"150.00"}}"#,
                rfc3339(t + 2)
            ));
        }
    }

    /// One event of number `num` at `at`: usage mostly, now and then a payment, a transfer, a
    /// report, a promise or a command (which may bar the number).
    fn event_line(
        &self,
        rng: &mut ChaCha8Rng,
        seq: u64,
        num: u64,
        at: i64,
        day: u32,
        barred: &mut BTreeMap<u64, u32>,
    ) -> String {
        let x: f64 = rng.gen();
        if x < 0.98 {
            usage_line(rng, x, seq, num, at)
        } else if x > 0.9995 {
            // A subscriber short of money asks for a promised payment.
            format!(
                r#"{{"type":"request_promise","id":"prom:{seq}","msisdn":"{num}","amount":"{}.00","time":"{}"}}"#,
                rng.gen_range(1..6) * 50,
                rfc3339(at)
            )
        } else if self.transfers && x > 0.9975 && x <= 0.9980 {
            // Money to a relative's number (another account), now and then to a
            // number that does not exist (the transfer bounces and is refunded).
            let to = if rng.gen_bool(0.05) {
                79_999_000_000 + rng.gen_range(0..1_000_000)
            } else {
                msisdn(Workload::first_number(rng.gen_range(0..self.accounts)))
            };
            format!(
                r#"{{"type":"transfer","id":"xfer:{seq}","from":"{num}","to":"{to}","amount":"{}.00","time":"{}"}}"#,
                rng.gen_range(1..7) * 50,
                rfc3339(at)
            )
        } else if x > 0.9980 && x <= 0.9985 {
            let late = self.start + i64::from(day) * 86_400 + 23 * 3600 + 3000;
            command_line(rng, seq, num, at, late, (day, barred))
        } else if x > 0.9985 {
            // A subscriber orders a report: of a whole month (the first of each
            // month is free), or of the last few days (charged).
            if rng.gen_bool(0.7) {
                let moscow = chrono::DateTime::from_timestamp(at - 20 * 86_400 + 3 * 3600, 0)
                    .expect("workload times are in range");
                format!(
                    r#"{{"type":"order_detalization","id":"rep:{seq}","msisdn":"{num}","month":"{}","time":"{}"}}"#,
                    moscow.format("%Y-%m"),
                    rfc3339(at)
                )
            } else {
                format!(
                    r#"{{"type":"order_detalization","id":"rep:{seq}","msisdn":"{num}","from":"{}","to":"{}","time":"{}"}}"#,
                    rfc3339(at - 3 * 86_400),
                    rfc3339(at),
                    rfc3339(at)
                )
            }
        } else {
            format!(
                r#"{{"type":"payment","id":"pay:{seq}","msisdn":"{num}","amount":"{}.00","time":"{}"}}"#,
                rng.gen_range(1..10) * 100,
                rfc3339(at)
            )
        }
    }
}

/// A workload's lines as they are made ([`Workload::lines`]): every account's opening, then
/// each day's events in time order, as a Poisson process whose rate follows the day's hours
/// ([`HOURS`]) and whose every event falls to an account drawn by how busy it is
/// ([`Population`]). What it holds is bounded by the repeats in flight (ten minutes of them) and
/// the numbers barred, never by the accounts or the days.
pub struct Lines {
    workload: Workload,
    population: Population,
    rng: ChaCha8Rng,
    /// The next account to open.
    next_account: u64,
    /// Lines made and not yet taken.
    ready: VecDeque<String>,
    /// The day whose events are being made, once every account is open; `days` at the end.
    day: Option<u32>,
    /// Seconds into the day of the latest event.
    clock: f64,
    /// The day's next event, with its time.
    upcoming: Option<(i64, String)>,
    /// Lines delivered a second time, by when they come again (and their sequence number).
    repeats: BinaryHeap<Reverse<(i64, u64, String)>>,
    /// Numbers suspended or reported lost, with the day they were barred.
    barred: BTreeMap<u64, u32>,
    seq: u64,
    /// Events a second in each hour of the day, over all accounts.
    per_second: [f64; 24],
}

impl Lines {
    /// How many days are made to their end.
    pub fn days_done(&self) -> u32 {
        self.day.unwrap_or(0)
    }

    /// The time of the day's next event, or `None` past its end.
    fn next_arrival(&mut self, day: u32) -> Option<i64> {
        while self.clock < 86_400.0 {
            let hour = (self.clock / 3600.0) as usize;
            let per_second = self.per_second[hour];
            if per_second <= 0.0 {
                return None;
            }
            // Exponential gaps make a Poisson process; a gap past the hour's end starts again
            // there at the next hour's rate (the process forgets its past).
            let gap = -(1.0 - self.rng.gen::<f64>()).ln() / per_second;
            let hour_end = (hour + 1) as f64 * 3600.0;
            if self.clock + gap >= hour_end {
                self.clock = hour_end;
                continue;
            }
            self.clock += gap;
            return Some(self.workload.start + i64::from(day) * 86_400 + self.clock as i64);
        }
        None
    }

    /// The day's next event and its time, or `None` past the day's end. A barred number makes
    /// no usage; now and then, on a later day, its subscriber resumes it instead.
    fn next_event(&mut self, day: u32) -> Option<(i64, String)> {
        loop {
            let at = self.next_arrival(day)?;
            let account = self.population.draw(&mut self.rng);
            let choice = self.rng.gen_range(0..Workload::numbers(account));
            let num = msisdn(Workload::first_number(account) + choice);
            self.seq += 1;
            let seq = self.seq;
            if let Some(&since) = self.barred.get(&num) {
                if since == day || self.rng.gen_bool(0.9) {
                    continue;
                }
                self.barred.remove(&num);
                let line = format!(
                    r#"{{"type":"resume","id":"cmd:{seq}","msisdn":"{num}","time":"{}"}}"#,
                    rfc3339(at)
                );
                return Some((at, line));
            }
            let rng = &mut self.rng;
            let line = (self.workload).event_line(rng, seq, num, at, day, &mut self.barred);
            let line = if rng.gen::<f64>() < self.workload.bad {
                bad_line(rng, seq, num, at)
            } else {
                line
            };
            if rng.gen::<f64>() < self.workload.duplicates {
                let again = at + rng.gen_range(0..600);
                self.repeats.push(Reverse((again, seq, line.clone())));
            }
            return Some((at, line));
        }
    }
}

impl Iterator for Lines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Some(line);
            }
            let Some(day) = self.day else {
                if self.next_account < self.workload.accounts {
                    let index = self.next_account;
                    (self.workload).opening(&mut self.rng, index, &mut self.ready);
                    self.next_account += 1;
                } else {
                    self.day = Some(0);
                }
                continue;
            };
            if day >= self.workload.days {
                return None;
            }
            if self.upcoming.is_none() {
                self.upcoming = self.next_event(day);
            }
            // A repeat comes in its turn among the day's events; those left at the day's end
            // come before the next day.
            let repeat_first = match (&self.upcoming, self.repeats.peek()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some((at, _)), Some(Reverse((again, _, _)))) => again <= at,
            };
            if repeat_first {
                return self.repeats.pop().map(|Reverse((_, _, line))| line);
            }
            match self.upcoming.take() {
                Some((_, line)) => return Some(line),
                None => {
                    self.day = Some(day + 1);
                    self.clock = 0.0;
                }
            }
        }
    }
}

/// A new account's plan, by the plans' shares.
fn plan_drawn(rng: &mut ChaCha8Rng) -> &'static str {
    let x: f64 = rng.gen();
    let mut acc = 0.0;
    let plan = PLANS.iter().find(|(_, p)| {
        acc += p;
        x < acc
    });
    plan.map_or("BASIC", |p| p.0)
}

/// The numbers of an opening: `count` from `first` on, the first on `plan` (a third of SMART ones
/// with MESSENGERS), the others on BASIC.
fn numbers_json(rng: &mut ChaCha8Rng, plan: &str, first: u64, count: u64) -> String {
    let nums: Vec<String> = (0..count)
        .map(|j| {
            let opt = if plan == "SMART" && rng.gen_bool(0.3) {
                r#","options":["MESSENGERS"]"#
            } else {
                ""
            };
            format!(
                r#"{{"msisdn":"{}","plan":"{}"{}}}"#,
                msisdn(first + j),
                if j == 0 { plan } else { "BASIC" },
                opt
            )
        })
        .collect();
    nums.join(",")
}

/// A command of number `num`'s subscriber: a change of plan at `t`, or late in the evening
/// (`late`), after the day's usage, a suspension or a lost SIM, which bars the number from `day`.
fn command_line(
    rng: &mut ChaCha8Rng,
    seq: u64,
    num: u64,
    at: i64,
    late: i64,
    (day, barred): (u32, &mut BTreeMap<u64, u32>),
) -> String {
    // A subscriber changes plan, suspends the number or reports the SIM
    // lost (late in the evening, after the day's usage).
    let y: f64 = rng.gen();
    let t = if y < 0.5 { at } else { late };
    let (kind, extra) = if y < 0.5 {
        let plan = PLANS[rng.gen_range(0..PLANS.len())].0;
        ("change_plan", format!(r#","plan":"{plan}""#))
    } else if y < 0.95 {
        barred.insert(num, day);
        ("suspend", String::new())
    } else {
        barred.insert(num, day);
        ("report_lost", String::new())
    };
    format!(
        r#"{{"type":"{kind}","id":"cmd:{seq}","msisdn":"{num}"{extra},"time":"{}"}}"#,
        rfc3339(t)
    )
}

/// A usage record of number `num` at `at`, of the kind its draw `draw` (below 0.98) picks: voice,
/// SMS, MMS or data, by their shares.
fn usage_line(rng: &mut ChaCha8Rng, draw: f64, seq: u64, num: u64, at: i64) -> String {
    if draw < 0.44 {
        let dur = ((-(1.0 - rng.gen::<f64>()).ln()) * 110.0) as u64 + 1;
        let dir = if rng.gen_bool(0.35) { "in" } else { "out" };
        format!(
            r#"{{"type":"usage","id":"msc:{seq}","msisdn":"{num}","service":"voice","direction":"{dir}","other":"{}","start":"{}","duration":{}}}"#,
            other(rng),
            rfc3339(at),
            dur.min(7200)
        )
    } else if draw < 0.60 {
        format!(
            r#"{{"type":"usage","id":"smsc:{seq}","msisdn":"{num}","service":"sms","other":"{}","start":"{}"}}"#,
            other(rng),
            rfc3339(at)
        )
    } else if draw < 0.62 {
        format!(
            r#"{{"type":"usage","id":"mmsc:{seq}","msisdn":"{num}","service":"mms","other":"{}","start":"{}"}}"#,
            other(rng),
            rfc3339(at)
        )
    } else {
        let bytes = (10f64.powf(rng.gen_range(3.0..7.7))) as u64;
        let rg = if rng.gen_bool(0.3) {
            ",\"rating_group\":10"
        } else {
            ""
        };
        format!(
            r#"{{"type":"usage","id":"pgw:{seq}","msisdn":"{num}","service":"data","start":"{}","bytes":{bytes}{rg}}}"#,
            rfc3339(at)
        )
    }
}

fn write_line(line: &str, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}

/// One of the kinds of bad input a mediation system really sends.
fn bad_line(rng: &mut ChaCha8Rng, seq: u64, num: u64, at: i64) -> String {
    match rng.gen_range(0..6) {
        0 => {
            format!(r#"{{"type":"usage","id":"bad:{seq}","msisdn":"{num}","service":"voice","oth"#)
        }
        1 => format!(
            r#"{{"type":"usage","id":"bad:{seq}","msisdn":"{num}","service":"voice","other":"79001234567","start":"{}","duration":-30}}"#,
            rfc3339(at)
        ),
        2 => format!(
            r#"{{"type":"usage","id":"bad:{seq}","msisdn":"79999999999","service":"sms","other":"79001234567","start":"{}"}}"#,
            rfc3339(at)
        ),
        3 => format!(
            r#"{{"type":"payment","id":"bad:{seq}","msisdn":"{num}","amount":"10.005","time":"{}"}}"#,
            rfc3339(at)
        ),
        4 => format!(
            r#"{{"type":"usage","id":"bad:{seq}","msisdn":"{num}","service":"sms","other":"79001234567","start":"1990-01-01T00:00:00Z"}}"#
        ),
        _ => "not json at all".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::Workload;
    use rating::codec::{parse_json, parse_json_tagged};

    /// Without repeats or bad lines, each day's usage comes in time order, every account opens
    /// before any event, and the lines taken one by one are those written.
    #[test]
    fn a_day_s_usage_comes_in_time_order_after_every_opening() {
        let w = Workload {
            accounts: 300,
            days: 3,
            bad: 0.0,
            duplicates: 0.0,
            ..Workload::default()
        };
        let mut written = Vec::new();
        w.write(&mut written, |_| {}).unwrap();
        let lines: Vec<String> = w.lines().collect();
        assert_eq!(String::from_utf8(written).unwrap(), lines.join("\n") + "\n");
        let opened = lines.iter().filter(|l| l.contains("open_account")).count();
        assert_eq!(opened, 300);
        assert!(lines[..opened * 2]
            .iter()
            .all(|l| !l.contains(r#""type":"usage""#)));
        let starts: Vec<&str> = (lines.iter())
            .filter_map(|l| l.split_once(r#""start":""#))
            .map(|(_, rest)| &rest[..20])
            .collect();
        assert!(starts.len() > 300 * 3 * 6, "{} usage lines", starts.len());
        assert!(
            starts.windows(2).all(|pair| pair[0] <= pair[1]),
            "usage out of order"
        );
    }

    /// Every line of a generated workload (bad lines and duplicates included) decodes the same
    /// the fast way (usage and payments with their type first) and the general way, and most
    /// of them take the fast way.
    #[test]
    fn workload_lines_decode_alike_both_ways() {
        let w = Workload {
            accounts: 200,
            days: 3,
            bad: 0.02,
            duplicates: 0.02,
            ..Workload::default()
        };
        let mut out = Vec::new();
        let n = w.write(&mut out, |_| {}).unwrap();
        let mut fast = 0;
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert_eq!(
                parse_json(line),
                parse_json_tagged(line),
                "{}",
                String::from_utf8_lossy(line)
            );
            fast += usize::from(
                line.starts_with(br#"{"type":"usage","#)
                    || line.starts_with(br#"{"type":"payment","#),
            );
        }
        assert!(fast as u64 > n * 9 / 10, "{fast} of {n} lines");
    }
}
