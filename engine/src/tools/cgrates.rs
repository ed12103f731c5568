//! The shell of the CGRateS import: reads a tariff-plan folder from disk and writes a ratel
//! catalog holding it; turns a command line's usage and service into a rating request. The
//! import and the pricing themselves are in `rating::cgrates`.

use rating::catalog::file::{CatalogFile, Header, PlanFile};
use rating::cgrates::csv::{import, ImportError, Warning, FILES, MAX_FILE_BYTES};
use rating::cgrates::file::PricingFile;
use rating::cgrates::parse_duration;
use rating::money::{Rounding, RoundingMethod};
use rating::{Service, Unit};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CgratesError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{0}")]
    Request(String),
}

/// Options of `ratel cgrates import`.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub rounding_decimals: u32,
    pub id: String,
    pub currency: String,
    pub currency_decimals: u32,
    /// The wall clock on which account usage is priced (CGRateS reads timings on the call's own).
    pub timezone: String,
}

/// Reads the folder's CSV files (those present; a missing one is empty, as in CGRateS).
pub fn read_folder(dir: &Path) -> Result<BTreeMap<String, String>, CgratesError> {
    if !dir.is_dir() {
        return Err(CgratesError::Io {
            path: dir.display().to_string(),
            reason: "not a folder".into(),
        });
    }
    let mut files = BTreeMap::new();
    for name in FILES {
        let p = dir.join(name);
        let io = |e: std::io::Error| CgratesError::Io {
            path: p.display().to_string(),
            reason: e.to_string(),
        };
        match std::fs::metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
            Ok(m) if m.len() as usize > MAX_FILE_BYTES => {
                return Err(CgratesError::Io {
                    path: p.display().to_string(),
                    reason: format!("larger than {MAX_FILE_BYTES} bytes"),
                })
            }
            Ok(_) => {}
        }
        let bytes = std::fs::read(&p).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|e| CgratesError::Io {
            path: p.display().to_string(),
            reason: format!("not UTF-8: {e}"),
        })?;
        files.insert(name.to_string(), text);
    }
    Ok(files)
}

/// Imports a folder into the text of a ratel catalog, with the warnings of the import.
pub fn import_folder(
    dir: &Path,
    opt: &ImportOptions,
) -> Result<(String, Vec<Warning>), CgratesError> {
    let files = read_folder(dir)?;
    let imported = import(&files, opt.rounding_decimals)?;
    // One ratel plan per tenant: a number on it is the CGRateS subject of its own MSISDN.
    let mut tenants: Vec<&str> = imported
        .tariff
        .rating_profiles
        .iter()
        .map(|p| p.tenant.as_str())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    let plans = tenants
        .iter()
        .map(|t| PlanFile {
            id: t.to_string(),
            name: Some(format!("CGRateS tenant {t}")),
            connection_fee: None,
            fees: vec![],
            packages: vec![],
            prices: vec![],
            cgrates: Some(PricingFile {
                tenant: t.to_string(),
                categories: Default::default(),
            }),
            switch_fee: None,
            when_unpaid: Default::default(),
        })
        .collect();
    let file = CatalogFile {
        promised_payment: None,
        plan_change: None,
        suspension: None,
        lost_sim: None,
        inactivity: None,
        transfers: None,
        loyalty: None,
        online: None,
        catalog: Header {
            id: opt.id.clone(),
            version: "cgrates-import".into(),
            currency: opt.currency.clone(),
            decimals: opt.currency_decimals,
            timezone: opt.timezone.clone(),
            rounding: Rounding::new(RoundingMethod::HalfUp, opt.currency_decimals),
            detalization_fee: None,
        },
        destinations: vec![],
        bands: vec![],
        rates: vec![],
        packages: vec![],
        plans,
        options: vec![],
        cgrates: Some(imported.tariff),
    };
    let body = toml::to_string_pretty(&file).map_err(|e| CgratesError::Request(e.to_string()))?;
    let mut text = format!(
        "# ratel catalog imported from the CGRateS tariff plan in {}\n\
         # by `ratel cgrates import --rounding-decimals {}`; {} warning(s) at import.\n\
         # The [cgrates] tables are CGRateS's CSV rows grouped by id; docs/cgrates.md explains them.\n\n",
        dir.display(),
        opt.rounding_decimals,
        imported.warnings.len()
    );
    text.push_str(&body);
    Ok((text, imported.warnings))
}

/// Whether a service is voice (split by time) and its usage in CGRateS's units: voice as a
/// duration ("90s", "1m30s"), SMS and MMS as a count, data as bytes.
pub fn usage(service: &str, usage: &str) -> Result<(bool, u64), CgratesError> {
    let bad = |m: String| CgratesError::Request(m);
    let name = service.trim_start_matches('*');
    let unit = match name {
        "call" => Some(Unit::Seconds),
        _ => (Service::ALL.iter())
            .find(|known| known.name() == name)
            .map(|known| known.unit()),
    };
    match unit {
        Some(Unit::Seconds) => {
            if usage.trim().bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!(
                    "voice usage {usage:?} has no unit: write a duration such as 120s or 2m"
                )));
            }
            let ns = parse_duration(usage).map_err(bad)?;
            Ok((true, ns))
        }
        Some(Unit::Messages | Unit::Bytes) => {
            let n: u64 = usage
                .trim()
                .parse()
                .map_err(|_| bad(format!("{service} usage {usage:?} is not a whole number")))?;
            if n > rating::cgrates::MAX_USAGE {
                return Err(bad(format!("usage {n} is too large")));
            }
            Ok((false, n))
        }
        None => {
            let names: Vec<&str> = Service::ALL.iter().map(|known| known.name()).collect();
            let (last, rest) = names.split_last().expect("there are services");
            Err(bad(format!(
                "unknown service {name:?}: {} or {last}",
                rest.join(", ")
            )))
        }
    }
}
