//! A synthetic workload, deterministic for a seed: accounts on several plans open, pay, and use
//! voice, SMS, MMS and data with skewed activity (a few subscribers do most of it) and a daily
//! rhythm, over a span of days; with duplicated and bad lines at chosen rates.
//!
//! Output is the JSON input form, one event per line, in time order within each day.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
    /// Number of numbers of account `account`: one in ten is a family with two.
    fn numbers(&self, account: u64) -> u64 {
        if account % 10 == 7 {
            2
        } else {
            1
        }
    }

    /// Writes the workload; returns the number of lines.
    pub fn write(
        &self,
        out: &mut dyn Write,
        mut progress: impl FnMut(u32),
    ) -> std::io::Result<u64> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut lines = 0u64;
        let mut next_number = 0u64;
        let mut first_number = Vec::with_capacity(self.accounts as usize);
        for i in 0..self.accounts {
            first_number.push(next_number);
            lines += self.write_account(&mut rng, i, &mut next_number, out)?;
        }
        let activity = Activity::of(self.accounts);
        let mut day_state = DayState::default();
        for day in 0..self.days {
            lines +=
                self.write_day(&mut rng, day, &activity, &first_number, &mut day_state, out)?;
            progress(day + 1);
        }
        Ok(lines)
    }

    /// Opens account `index` (its numbers from `next_number` on), pays into it, and gives some a
    /// spending limit or autopay; returns the lines written.
    fn write_account(
        &self,
        rng: &mut ChaCha8Rng,
        index: u64,
        next_number: &mut u64,
        out: &mut dyn Write,
    ) -> std::io::Result<u64> {
        let plan = plan_drawn(rng);
        let k = self.numbers(index);
        let first = *next_number;
        let nums = numbers_json(rng, plan, first, k);
        *next_number += k;
        let t = self.start + 60 + (index % 3600) as i64;
        write_line(
            &format!(
                r#"{{"type":"open_account","id":"open-{index}","account":"ACC{index}","time":"{}","credit_limit":"50.00","numbers":[{}]}}"#,
                rfc3339(t),
                nums
            ),
            out,
        )?;
        write_line(
            &format!(
                r#"{{"type":"payment","id":"pay-{index}-0","account":"ACC{index}","amount":"{}.00","time":"{}"}}"#,
                rng.gen_range(3..20) * 100,
                rfc3339(t + 1)
            ),
            out,
        )?;
        let mut lines = 2;
        // A family's second number (a child's) gets a monthly spending limit.
        if k == 2 {
            write_line(
                &format!(
                    r#"{{"type":"set_spending_limit","id":"limit-{index}","msisdn":"{}","limit":"100.00","time":"{}"}}"#,
                    msisdn(first + 1),
                    rfc3339(t + 2)
                ),
                out,
            )?;
            lines += 1;
        }
        // One in five links a card: autopay of 300.00 below 100.00, told below 150.00.
        if index % 5 == 2 {
            write_line(
                &format!(
                    r#"{{"type":"set_balance_alerts","id":"alerts-{index}","account":"ACC{index}","time":"{}","autopay":{{"threshold":"100.00","amount":"300.00"}},"low_balance":"150.00"}}"#,
                    rfc3339(t + 2)
                ),
                out,
            )?;
            lines += 1;
        }
        Ok(lines)
    }

    /// The lines of day `day`, in time order; returns how many.
    fn write_day(
        &self,
        rng: &mut ChaCha8Rng,
        day: u32,
        activity: &Activity,
        first_number: &[u64],
        day_state: &mut DayState,
        out: &mut dyn Write,
    ) -> std::io::Result<u64> {
        let mut day_lines: Vec<(i64, String)> = Vec::new();
        let day_start = self.start + i64::from(day) * 86_400;
        for i in 0..self.accounts {
            let expected = activity.expected(i, self.events_per_day);
            let mut count = expected.floor() as u64;
            if rng.gen::<f64>() < expected.fract() {
                count += 1;
            }
            for _ in 0..count {
                let mut h = rng.gen::<f64>() * activity.hours_total;
                let mut hour = 0;
                while hour < 23 && h >= HOURS[hour] {
                    h -= HOURS[hour];
                    hour += 1;
                }
                let t = day_start + hour as i64 * 3600 + rng.gen_range(0..3600);
                let num = msisdn(first_number[i as usize] + rng.gen_range(0..self.numbers(i)));
                day_state.seq += 1;
                let seq = day_state.seq;
                if let Some(&since) = day_state.barred.get(&num) {
                    // A barred number makes no usage; now and then, on a later day, its
                    // subscriber resumes it (first thing in the morning).
                    if since == day || rng.gen_bool(0.9) {
                        continue;
                    }
                    day_state.barred.remove(&num);
                    let t = day_start + 6 * 3600;
                    day_lines.push((
                        t,
                        format!(
                            r#"{{"type":"resume","id":"cmd:{seq}","msisdn":"{num}","time":"{}"}}"#,
                            rfc3339(t)
                        ),
                    ));
                    continue;
                }
                let line = self.event_line(rng, seq, num, t, day, first_number, day_state);
                let line = if rng.gen::<f64>() < self.bad {
                    bad_line(rng, seq, num, t)
                } else {
                    line
                };
                if rng.gen::<f64>() < self.duplicates {
                    day_lines.push((t + rng.gen_range(0..600), line.clone()));
                }
                day_lines.push((t, line));
            }
        }
        day_lines.sort_by_key(|a| a.0);
        for (_, l) in &day_lines {
            write_line(l, out)?;
        }
        Ok(day_lines.len() as u64)
    }

    /// One event of number `num` at `at`: usage mostly, now and then a payment, a transfer, a
    /// report, a promise or a command (which may bar the number).
    #[allow(clippy::too_many_arguments)]
    fn event_line(
        &self,
        rng: &mut ChaCha8Rng,
        seq: u64,
        num: u64,
        at: i64,
        day: u32,
        first_number: &[u64],
        day_state: &mut DayState,
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
                msisdn(first_number[rng.gen_range(0..self.accounts) as usize])
            };
            format!(
                r#"{{"type":"transfer","id":"xfer:{seq}","from":"{num}","to":"{to}","amount":"{}.00","time":"{}"}}"#,
                rng.gen_range(1..7) * 50,
                rfc3339(at)
            )
        } else if x > 0.9980 && x <= 0.9985 {
            let late = self.start + i64::from(day) * 86_400 + 23 * 3600 + 3000;
            command_line(rng, seq, num, at, late, (day, &mut day_state.barred))
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
    (day, barred): (u32, &mut std::collections::BTreeMap<u64, u32>),
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

/// How busy each account is: a Zipf-like skew, assigned by a seeded shuffle of ranks, and the
/// day's hours by their weights.
struct Activity {
    weights: Vec<f32>,
    mean: f64,
    hours_total: f64,
}

impl Activity {
    fn of(accounts: u64) -> Activity {
        let weights: Vec<f32> = (0..accounts)
            .map(|i| (1.0 / ((i * 7919 % accounts) as f64 + 1.0).powf(0.6)) as f32)
            .collect();
        let mean = weights.iter().map(|&w| f64::from(w)).sum::<f64>() / accounts.max(1) as f64;
        Activity {
            weights,
            mean,
            hours_total: HOURS.iter().sum(),
        }
    }

    /// Account `account`'s expected events a day, when the mean account makes `per_day`.
    fn expected(&self, account: u64, per_day: f64) -> f64 {
        per_day * f64::from(self.weights[account as usize]) / self.mean
    }
}

/// What the days carry on: numbers suspended or reported lost (until their subscriber resumes
/// them, with the day they were barred), and the events' sequence number.
#[derive(Default)]
struct DayState {
    barred: std::collections::BTreeMap<u64, u32>,
    seq: u64,
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
