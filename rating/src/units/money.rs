//! Money: exact decimal amounts, explicit rounding, and their wire forms.
//!
//! Amounts are `rust_decimal::Decimal`. In JSON an amount is a string ("12.50"): numbers,
//! exponents and NaN are refused, because a float that slipped in upstream must not become money.
//! In the binary log an amount is its mantissa and scale, validated when read back.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub type Money = Decimal;

/// The largest amount ratel accepts anywhere (a payment, a price, a balance): 10^12 in the currency.
/// Far above any real prepaid amount, far below where 96-bit arithmetic could overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 1_000_000_000_000

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMethod {
    /// Towards +infinity: a cost of 1.001 becomes 1.01.
    Up,
    /// Towards -infinity.
    Down,
    /// To nearest, a half away from zero (CGRateS's `*middle`).
    HalfUp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    pub method: RoundingMethod,
    pub decimals: u32,
}

impl Rounding {
    pub const fn new(method: RoundingMethod, decimals: u32) -> Self {
        Rounding { method, decimals }
    }

    pub fn apply(&self, amount: Decimal) -> Decimal {
        let strategy = match self.method {
            RoundingMethod::Up => RoundingStrategy::ToPositiveInfinity,
            RoundingMethod::Down => RoundingStrategy::ToNegativeInfinity,
            RoundingMethod::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        };
        amount.round_dp_with_strategy(self.decimals, strategy)
    }
}

/// The order of two amounts. Amounts of one currency mostly share a scale, and then the order
/// is that of their mantissas: the hot path compares them inline instead of calling
/// `Decimal::cmp`, which rescales in general. Same result either way.
#[inline(always)]
pub fn order(left: Decimal, right: Decimal) -> std::cmp::Ordering {
    if left.scale() == right.scale() {
        left.mantissa().cmp(&right.mantissa())
    } else {
        left.cmp(&right)
    }
}

/// Parses an amount written as a plain decimal string, refusing anything that is not one.
pub fn parse_amount(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 40 {
        return Err(format!("amount {text:?} is empty or too long"));
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(format!("amount {text:?} is not a plain decimal number"));
    }
    let d: Decimal = t.parse().map_err(|e| format!("amount {text:?}: {e}"))?;
    if d.abs() > MAX_AMOUNT {
        return Err(format!("amount {text:?} exceeds the limit of {MAX_AMOUNT}"));
    }
    Ok(d.normalize_keep_scale())
}

trait KeepScale {
    fn normalize_keep_scale(self) -> Self;
}
impl KeepScale for Decimal {
    // "1.50" keeps its scale so that a JSON round trip prints what came in; only "-0" is folded.
    fn normalize_keep_scale(self) -> Self {
        if self.is_zero() {
            Decimal::new(0, self.scale())
        } else {
            self
        }
    }
}

/// serde for an amount field: a string in JSON/TOML, mantissa and scale in bincode.
pub mod amount {
    use super::*;

    pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(amount)
        } else {
            (amount.mantissa(), amount.scale() as u8).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            parse_amount(&text).map_err(serde::de::Error::custom)
        } else {
            let (mantissa, scale) = <(i128, u8)>::deserialize(deserializer)?;
            Decimal::try_from_i128_with_scale(mantissa, u32::from(scale))
                .map_err(|e| serde::de::Error::custom(format!("invalid amount in record: {e}")))
        }
    }
}

/// serde for an optional amount field.
pub mod opt_amount {
    use super::*;

    pub fn serialize<S: Serializer>(
        amount: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct W<'a>(#[serde(with = "super::amount")] &'a Decimal);
        amount.as_ref().map(W).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::amount")] Decimal);
        Ok(Option::<W>::deserialize(deserializer)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_a_trillion() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000u64));
    }

    #[test]
    fn rounding_methods() {
        let cases = [
            (RoundingMethod::Up, "1.001", 2, "1.01"),
            (RoundingMethod::Up, "1.000", 2, "1.00"),
            (RoundingMethod::Down, "1.009", 2, "1.00"),
            (RoundingMethod::HalfUp, "1.005", 2, "1.01"),
            (RoundingMethod::HalfUp, "1.0049", 2, "1.00"),
            (RoundingMethod::Up, "-1.001", 2, "-1.00"),
        ];
        for (m, x, dp, want) in cases {
            let got = Rounding::new(m, dp).apply(x.parse().unwrap());
            assert_eq!(got.to_string(), want, "{m:?} {x} to {dp}");
        }
    }

    #[test]
    fn order_is_decimal_order() {
        let xs = [
            "0",
            "-0",
            "0.00",
            "-0.00",
            "1",
            "1.00",
            "1.01",
            "-1.01",
            "10.00",
            "9.99",
            "-10",
            "0.001",
            "500.00",
            "1000000000000",
            "-1000000000000.00",
            "0.0000000000000000000000000001",
        ];
        for a in xs {
            for b in xs {
                let (x, y): (Decimal, Decimal) = (a.parse().unwrap(), b.parse().unwrap());
                assert_eq!(order(x, y), x.cmp(&y), "{a} against {b}");
            }
        }
    }

    #[test]
    fn amounts_refuse_floats_and_exponents() {
        for bad in ["NaN", "1e5", "1E5", "inf", "", "0x10", "1.2.3", "12,5"] {
            assert!(parse_amount(bad).is_err(), "{bad} must be refused");
        }
        assert_eq!(parse_amount("12.50").unwrap().to_string(), "12.50");
        assert!(parse_amount("1000000000001").is_err());
    }
}

/// serde for an amount field that defaults to zero when absent.
pub mod amount_or_zero {
    pub use super::amount::{deserialize, serialize};
}
