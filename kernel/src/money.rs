//! Exact money: integer minor units plus an ISO 4217 currency, never a float.
//!
//! At the API a price is a `Decimal` string ("19.99"); inside it is cents. Every supported
//! currency has two minor digits today (USD, EUR, GBP ...); zero- and three-digit currencies
//! (JPY, KWD) would need the exponent per currency, which is why `Currency` is a type.

use std::fmt;

/// The largest amount accepted, in minor units: a trillion of the major unit. Far beyond any
/// price, small enough that summing a cart's lines never overflows an `i64`.
const MAX_MINOR: i64 = 100_000_000_000_000;

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("amount must be a decimal number such as \"19.99\"")]
    Malformed,
    #[error("amount has more than 2 decimal places")]
    TooPrecise,
    #[error("amount is too large")]
    TooLarge,
    #[error("amount must not be negative")]
    Negative,
    #[error("currency must be a 3-letter ISO 4217 code such as \"USD\"")]
    BadCurrency,
}

/// An ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        let bytes: [u8; 3] = raw
            .as_bytes()
            .try_into()
            .map_err(|_| MoneyError::BadCurrency)?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(MoneyError::BadCurrency);
        }
        Ok(Self(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters ever enter through `parse` or the constants.
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor.abs() > MAX_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(Self { minor, currency })
    }

    /// Parses a non-negative decimal string with at most two fraction digits.
    pub fn parse_price(decimal: &str, currency: Currency) -> Result<Self, MoneyError> {
        let money = Self::parse(decimal, currency)?;
        if money.minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(money)
    }

    /// Parses a decimal string such as "19.99", "-3", "0.5".
    pub fn parse(decimal: &str, currency: Currency) -> Result<Self, MoneyError> {
        let (negative, digits) = match decimal.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, decimal),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (digits.contains('.') && fraction.is_empty())
        {
            return Err(MoneyError::Malformed);
        }
        if fraction.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let cents: i64 = format!("{fraction:0<2}")
            .parse()
            .map_err(|_| MoneyError::Malformed)?;
        let minor = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(cents))
            .ok_or(MoneyError::TooLarge)?;
        Self::from_minor(if negative { -minor } else { minor }, currency)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as an exact decimal string with two fraction digits: "19.90".
    pub fn to_decimal_string(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Result<Money, MoneyError> {
        Money::parse(s, Currency::USD)
    }

    #[test]
    fn decimal_strings_become_exact_minor_units() {
        assert_eq!(usd("19.99").map(|m| m.minor()), Ok(1999));
        assert_eq!(usd("0.5").map(|m| m.minor()), Ok(50));
        assert_eq!(usd("7").map(|m| m.minor()), Ok(700));
        assert_eq!(usd("-3.10").map(|m| m.minor()), Ok(-310));
        assert_eq!(usd("0.07").map(|m| m.minor()), Ok(7));
    }

    #[test]
    fn malformed_amounts_are_rejected() {
        for raw in [
            "", ".", "1.", ".5", "1,00", "1e3", "abc", " 1", "1.2.3", "--1", "+1",
        ] {
            assert_eq!(usd(raw), Err(MoneyError::Malformed), "{raw:?}");
        }
        assert_eq!(usd("1.999"), Err(MoneyError::TooPrecise));
        assert_eq!(usd("99999999999999999999"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse_price("-1", Currency::USD),
            Err(MoneyError::Negative)
        );
    }

    #[test]
    fn formatting_round_trips_every_cent_value() {
        for minor in (-100_000..100_000)
            .step_by(7)
            .chain([0, 1, 99, 100, MAX_MINOR])
        {
            let money = Money::from_minor(minor, Currency::USD).expect("in range");
            assert_eq!(usd(&money.to_decimal_string()), Ok(money), "{minor}");
        }
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Ok("EUR".into())
        );
        for raw in ["usd", "US", "USDT", "U$D"] {
            assert_eq!(
                Currency::parse(raw),
                Err(MoneyError::BadCurrency),
                "{raw:?}"
            );
        }
    }
}
