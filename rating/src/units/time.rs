//! Event time: seconds since the Unix epoch (UTC), and its view in the catalog's time zone.
//!
//! Nothing here reads a clock. Every time comes from an event.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z: the range an event time may take.
pub const MIN_TIME: i64 = 0;
pub const MAX_TIME: i64 = 253_402_300_799;
/// A time no event reaches: work that is never due.
pub const NEVER: Timestamp = Timestamp(MAX_TIME);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
        let dt = DateTime::parse_from_rfc3339(text.trim())
            .map_err(|e| format!("time {text:?} is not RFC 3339: {e}"))?;
        // Event time is kept to the second: a fraction would be dropped without a word, and two
        // systems rounding it differently would disagree about a band's edge or a period's.
        if dt.timestamp_subsec_nanos() != 0 {
            return Err(format!(
                "time {text:?} has a fraction of a second; ratel keeps event time to the second"
            ));
        }
        let ts = dt.timestamp();
        if !(MIN_TIME..=MAX_TIME).contains(&ts) {
            return Err(format!("time {text:?} is outside 1970..9999"));
        }
        Ok(Timestamp(ts))
    }

    pub fn to_rfc3339(self) -> String {
        match DateTime::from_timestamp(self.0, 0) {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            None => format!("@{}", self.0),
        }
    }

    pub fn plus(self, secs: u64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(secs.min(MAX_TIME as u64) as i64)
                .min(MAX_TIME),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
        } else {
            let v = i64::deserialize(deserializer)?;
            if !(MIN_TIME..=MAX_TIME).contains(&v) {
                return Err(serde::de::Error::custom("time outside 1970..9999"));
            }
            Ok(Timestamp(v))
        }
    }
}

/// A moment as the catalog's wall clock shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    pub date: NaiveDate,
    /// 0 = Monday .. 6 = Sunday.
    pub weekday: u8,
    /// Seconds since local midnight, 0..86400.
    pub second_of_day: u32,
}

pub fn local(tz: &Tz, at: Timestamp) -> Local {
    let dt = tz
        .timestamp_opt(at.0, 0)
        .single()
        .expect("a UTC instant maps to exactly one local time");
    Local {
        date: dt.date_naive(),
        weekday: dt.weekday().num_days_from_monday() as u8,
        second_of_day: dt.num_seconds_from_midnight(),
    }
}

/// The instant of local midnight that starts `date` (the first valid instant if a DST gap eats it).
pub fn start_of_day(tz: &Tz, date: NaiveDate) -> Timestamp {
    let mut t = NaiveTime::MIN;
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&date.and_time(t)).earliest() {
            return Timestamp(dt.timestamp());
        }
        t += chrono::Duration::minutes(30);
    }
    Timestamp(date.and_time(NaiveTime::MIN).and_utc().timestamp())
}

/// `anchor` + `months` calendar months; a day past the end of the month becomes its last day
/// (a period that starts on 31 January ends on the last day of February, then 31 March).
pub fn add_months(anchor: NaiveDate, months: u32) -> NaiveDate {
    let total = i64::from(anchor.year()) * 12 + i64::from(anchor.month0()) + i64::from(months);
    let (year, month0) = ((total / 12) as i32, (total % 12) as u32);
    let mut day = anchor.day();
    loop {
        if let Some(d) = NaiveDate::from_ymd_opt(year, month0 + 1, day) {
            return d;
        }
        day -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_ends_clamp_without_drifting() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(add_months(d(2026, 1, 31), 1), d(2026, 2, 28));
        assert_eq!(add_months(d(2026, 1, 31), 2), d(2026, 3, 31));
        assert_eq!(add_months(d(2028, 1, 31), 1), d(2028, 2, 29));
        assert_eq!(add_months(d(2026, 3, 31), 1), d(2026, 4, 30));
        assert_eq!(add_months(d(2026, 12, 15), 1), d(2027, 1, 15));
    }

    #[test]
    fn rfc3339_bounds() {
        assert!(Timestamp::parse_rfc3339("1969-12-31T23:59:59Z").is_err());
        // Event time is kept to the second: a fraction is refused, not dropped.
        let frac = Timestamp::parse_rfc3339("2026-11-25T10:00:00.5Z").unwrap_err();
        assert!(frac.contains("fraction of a second"), "{frac}");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-25T10:00:00.000Z"),
            Timestamp::parse_rfc3339("2026-11-25T10:00:00Z")
        );
        assert!(Timestamp::parse_rfc3339("2026-11-25T10:00:00+03:00").is_ok());
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-25T10:00:00+03:00")
                .unwrap()
                .to_string(),
            "2026-11-25T07:00:00Z"
        );
    }

    #[test]
    fn local_view_in_moscow() {
        let tz: Tz = "Europe/Moscow".parse().unwrap();
        let t = Timestamp::parse_rfc3339("2026-11-25T21:30:00Z").unwrap();
        let l = local(&tz, t);
        assert_eq!(l.date, NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
        assert_eq!(l.weekday, 3); // Thursday
        assert_eq!(l.second_of_day, 30 * 60);
        assert_eq!(
            start_of_day(&tz, l.date),
            Timestamp::parse_rfc3339("2026-11-25T21:00:00Z").unwrap()
        );
    }
}

/// The catalog's wall clock, fast: a table of the zone's UTC offset for every day from 2000 to
/// 2100, so that the hot path turns an instant into local date, weekday and time of day with a
/// few integer operations. Days on which the offset changes (DST) go to chrono-tz.
#[derive(Clone, Debug)]
pub struct Calendar {
    pub tz: Tz,
    first_day: i64,
    /// Offset in seconds east of UTC for the whole UTC day; `i32::MIN` on a day of change.
    offsets: Vec<i32>,
    /// The local date of local day `first_day - 1 + i` (a local day may start a day before or
    /// end a day after the UTC table): a load instead of a calendar computation per event.
    dates: Vec<NaiveDate>,
}

const TABLE_FIRST_DAY: i64 = 10_957; // 2000-01-01
const TABLE_DAYS: i64 = 36_890; // to 2100-12-31

impl Calendar {
    pub fn new(tz: Tz) -> Calendar {
        use chrono::Offset;
        let offset_at = |t: i64| {
            tz.offset_from_utc_datetime(
                &DateTime::from_timestamp(t, 0)
                    .expect("in range")
                    .naive_utc(),
            )
            .fix()
            .local_minus_utc()
        };
        let offsets = (0..TABLE_DAYS)
            .map(|i| {
                let day = (TABLE_FIRST_DAY + i) * 86_400;
                let (a, b) = (offset_at(day), offset_at(day + 86_399));
                if a == b {
                    a
                } else {
                    i32::MIN
                }
            })
            .collect();
        let dates = (0..TABLE_DAYS + 2)
            .map(|i| {
                NaiveDate::from_num_days_from_ce_opt((TABLE_FIRST_DAY - 1 + i + 719_163) as i32)
                    .expect("within the table's years")
            })
            .collect();
        Calendar {
            tz,
            first_day: TABLE_FIRST_DAY,
            offsets,
            dates,
        }
    }

    pub fn local(&self, t: Timestamp) -> Local {
        // Inside the table every time is after 2000, so unsigned division is exact.
        if t.0 >= 0 {
            let day = (t.0 as u64 / 86_400) as i64 - self.first_day;
            if let Some(&off) = self.offsets.get(day as usize) {
                if off != i32::MIN {
                    let secs = (t.0 + i64::from(off)) as u64;
                    let days = secs / 86_400;
                    return Local {
                        date: self.dates[(days as i64 - self.first_day + 1) as usize],
                        weekday: ((days + 3) % 7) as u8,
                        second_of_day: (secs % 86_400) as u32,
                    };
                }
            }
        }
        local(&self.tz, t)
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    #[test]
    fn the_table_agrees_with_chrono_tz() {
        for zone in [
            "Europe/Moscow",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "UTC",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let cal = Calendar::new(tz);
            // Every 7919 seconds over 30 years, across DST changes.
            let mut t = 946_684_800i64;
            while t < 1_900_000_000 {
                assert_eq!(
                    cal.local(Timestamp(t)),
                    local(&tz, Timestamp(t)),
                    "{zone} at {t}"
                );
                t += 7_919;
            }
            assert_eq!(cal.local(Timestamp(0)), local(&tz, Timestamp(0)));
            assert_eq!(
                cal.local(Timestamp(MAX_TIME)),
                local(&tz, Timestamp(MAX_TIME))
            );
        }
    }
}
