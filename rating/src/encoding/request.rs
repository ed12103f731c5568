//! What a read-model request asks for, decoded from untrusted text: the period of a detalization
//! (a month of the catalog's calendar, or an explicit from/to), the months of a spending report,
//! the services to list and the export format. The HTTP API's query strings, the command line and
//! the fuzz target decode them with this one code; a bad request is an error saying what is wrong,
//! never a panic.

use crate::catalog::Catalog;
use crate::event::Month;
use crate::service::Service;
use crate::time::{start_of_day, Timestamp};
use serde::Deserialize;

/// Longest query string decoded (bytes): requests carry a few short parameters.
pub const MAX_QUERY: usize = 2048;

/// Services a detalization can be filtered by (the categories of its items): every service,
/// then fees, reports, and the operator's adjustments, goodwill grants, units taken back and
/// refunds.
pub const SERVICES: [&str; Service::ALL.len() + 6] = {
    let mut names = [""; Service::ALL.len() + 6];
    let mut i = 0;
    while i < Service::ALL.len() {
        names[i] = Service::ALL[i].name();
        i += 1;
    }
    names[i] = "fee";
    names[i + 1] = "report";
    names[i + 2] = "adjustment";
    names[i + 3] = "grant";
    names[i + 4] = "take";
    names[i + 5] = "refund";
    names
};

/// The parameters of a detalization: `month`, or `from` and `to`; `service` (comma-separated);
/// `format`.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    pub month: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// json (default), csv or pdf.
    pub format: Option<String>,
}

/// The parameters of a spending report: the first and last month, `YYYY-MM`.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct MonthsParams {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// How a detalization is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Pdf,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Format, String> {
        match text.unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "pdf" => Ok(Format::Pdf),
            _ => Err("format is json, csv or pdf".into()),
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Pdf => "pdf",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }
}

/// Decodes a query string (`a=1&b=2`, percent-encoded) into `T`: unknown, repeated or
/// ill-typed parameters and over-long strings are errors.
pub fn decode<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, String> {
    if query.len() > MAX_QUERY {
        return Err(format!("the query is longer than {MAX_QUERY} bytes"));
    }
    serde_urlencoded::from_str(query).map_err(|e| format!("bad query: {e}"))
}

/// The month event time `now` falls in, in the catalog's time zone.
pub fn month_of(cat: &Catalog, now: Timestamp) -> Month {
    Month::of(cat.calendar.local(now).date)
}

/// A month's bounds in the catalog's time zone: its first instant and the next month's.
pub fn month_bounds(cat: &Catalog, month: Month) -> (Timestamp, Timestamp) {
    (
        start_of_day(&cat.tz, month.first_day()),
        start_of_day(&cat.tz, month.next().first_day()),
    )
}

/// The period a detalization covers: `month` (default: the month of `now`) or `from`..`to`
/// (RFC 3339, `from` before `to`), never both.
pub fn period(
    cat: &Catalog,
    now: Timestamp,
    month: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Timestamp, Timestamp), String> {
    match (month, from, to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("give a month or from/to, not both".into())
        }
        (None, Some(f), Some(t)) => {
            let (f, t) = (Timestamp::parse_rfc3339(f)?, Timestamp::parse_rfc3339(t)?);
            if f >= t {
                return Err("`from` must be before `to`".into());
            }
            Ok((f, t))
        }
        (None, Some(_), None) | (None, None, Some(_)) => Err("give both `from` and `to`".into()),
        (m, None, None) => {
            let month = match m {
                Some(m) => Month::parse(m)?,
                None => month_of(cat, now),
            };
            Ok(month_bounds(cat, month))
        }
    }
}

/// The services of a comma-separated list, each one of [`SERVICES`]; none means all.
pub fn services(list: Option<&str>) -> Result<Vec<String>, String> {
    let Some(list) = list else {
        return Ok(vec![]);
    };
    list.split(',')
        .map(|s| service(s.trim()).map(str::to_string))
        .collect()
}

/// `name` if it is one of [`SERVICES`].
pub fn service(name: &str) -> Result<&str, String> {
    if SERVICES.contains(&name) {
        Ok(name)
    } else {
        Err(format!(
            "unknown service {name:?} (one of {})",
            SERVICES.join(", ")
        ))
    }
}

/// The months of a spending report: `to` defaults to the month of `now`, `from` to eleven months
/// before `to`; `from` must not be after `to`.
pub fn months(
    cat: &Catalog,
    now: Timestamp,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Month, Month), String> {
    let month = |m: Option<&str>| m.map(Month::parse).transpose();
    let to = month(to)?.unwrap_or_else(|| month_of(cat, now));
    let from = month(from)?.unwrap_or(Month(to.0.saturating_sub(11)));
    if from > to {
        return Err("the first month is after the last".into());
    }
    Ok((from, to))
}

impl PeriodParams {
    pub fn period(&self, cat: &Catalog, now: Timestamp) -> Result<(Timestamp, Timestamp), String> {
        period(
            cat,
            now,
            self.month.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
        )
    }
    pub fn services(&self) -> Result<Vec<String>, String> {
        services(self.service.as_deref())
    }
    pub fn format(&self) -> Result<Format, String> {
        Format::parse(self.format.as_deref())
    }
}

impl MonthsParams {
    pub fn months(&self, cat: &Catalog, now: Timestamp) -> Result<(Month, Month), String> {
        months(cat, now, self.from.as_deref(), self.to.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalog {
        Catalog::from_toml(
            "example.toml",
            include_str!("../../../catalogs/example.toml"),
        )
        .unwrap()
    }

    #[test]
    fn periods_months_services_and_formats() {
        let cat = cat();
        let now = Timestamp::parse_rfc3339("2026-03-15T12:00:00+03:00").unwrap();
        let p: PeriodParams = decode("month=2026-02&service=voice,%20sms&format=csv").unwrap();
        let (f, t) = p.period(&cat, now).unwrap();
        assert!(f < t);
        assert_eq!(p.services().unwrap(), ["voice", "sms"]);
        assert_eq!(p.format().unwrap(), Format::Csv);
        let (f2, _) = PeriodParams::default().period(&cat, now).unwrap();
        assert!(f2 <= now && f2 > f);
        for (query, problem) in [
            ("month=2026-13", "not a month"),
            ("month=2026-02&from=2026-02-01T00:00:00Z", "not both"),
            ("from=2026-02-01T00:00:00Z", "both `from` and `to`"),
            (
                "from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z",
                "before `to`",
            ),
            (
                "from=1969-12-31T00:00:00Z&to=2026-02-01T00:00:00Z",
                "outside",
            ),
            ("month=2026-02&month=2026-03", "bad query"),
            ("mon=2026-02", "bad query"),
        ] {
            let e = decode::<PeriodParams>(query)
                .and_then(|p| p.period(&cat, now))
                .unwrap_err();
            assert!(e.contains(problem), "{query}: {e}");
        }
        assert!(services(Some("voice,calls"))
            .unwrap_err()
            .contains("unknown service"));
        assert!(Format::parse(Some("xml")).is_err());
        assert!(decode::<PeriodParams>(&"a".repeat(MAX_QUERY + 1)).is_err());

        let m: MonthsParams = decode("from=2025-12").unwrap();
        let (a, b) = m.months(&cat, now).unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2025-12".into(), "2026-03".into())
        );
        let (a, _) = MonthsParams::default().months(&cat, now).unwrap();
        assert_eq!(a.to_string(), "2025-04");
        let m: MonthsParams = decode("from=2026-04&to=2026-03").unwrap();
        assert!(m.months(&cat, now).unwrap_err().contains("after the last"));
    }
}
