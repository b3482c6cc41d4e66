//! Numbers as event-ruler compares them (ComparableNumber.java): as 64-bit floats, each mapped
//! to an integer whose order is the floats' order. A number is comparable only when its text
//! is exactly the decimal Java prints for its double; any other is no number to compare.

use std::io::Write;

/// The order-preserving key of a JSON number's value, if event-ruler can compare it: it must
/// be finite, and its value must equal `BigDecimal.valueOf(double)`, the double's shortest
/// decimal form (so `0.1` is comparable, `0.10000000000000001` and `1e400` are not).
pub(super) fn comparable(text: &str) -> Option<u64> {
    let written = Decimal::of(text.as_bytes())?;
    if written.digits_len == 0 {
        // BigDecimal has no negative zero: `-0` is 0.0.
        return Some(key(0.0));
    }
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() || value == 0.0 {
        return None;
    }
    (written == Decimal::java_string_of(value)?).then(|| key(value))
}

/// `bits ^ mask` of ComparableNumber.generate: positive doubles above negative ones, each side
/// in order.
fn key(value: f64) -> u64 {
    let bits = value.to_bits() as i64;
    let mask = (bits >> 63) | i64::MIN;
    (bits ^ mask) as u64
}

/// Most significant digits a double's shortest decimal form has.
const MAX_DIGITS: usize = 17;

/// A decimal as `digits × 10^exponent`, with no leading or trailing zero digits.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: [u8; MAX_DIGITS],
    digits_len: usize,
    exponent: i64,
}

impl Decimal {
    /// Reads the text of a JSON number; `None` when it has more significant digits than any
    /// double's shortest form.
    fn of(text: &[u8]) -> Option<Decimal> {
        let mut decimal = Decimal {
            negative: text.first() == Some(&b'-'),
            digits: [0; MAX_DIGITS],
            digits_len: 0,
            exponent: 0,
        };
        let mut i = usize::from(decimal.negative);
        // Zeros after the last nonzero digit so far: kept only if a nonzero digit follows.
        let mut zeros = 0;
        while let Some(&b) = text.get(i) {
            match b {
                b'0' => zeros += usize::from(decimal.digits_len > 0),
                b'1'..=b'9' => {
                    if decimal.digits_len + zeros >= MAX_DIGITS {
                        return None;
                    }
                    decimal.digits_len += zeros;
                    zeros = 0;
                    decimal.digits[decimal.digits_len] = b - b'0';
                    decimal.digits_len += 1;
                }
                b'.' => {}
                _ => break,
            }
            i += 1;
        }
        decimal.exponent = Self::exponent_of_last_digit(&text[..i]).unwrap_or(0);
        if let Some(b'e' | b'E') = text.get(i) {
            let written = std::str::from_utf8(&text[i + 1..]).ok()?;
            // Beyond i64, the value is 0 or infinite, which `comparable` refuses anyway.
            let written: i64 = written.parse().unwrap_or(if written.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            });
            decimal.exponent = decimal.exponent.saturating_add(written);
        }
        Some(decimal)
    }

    /// The place (power of ten) of the last nonzero digit of a mantissa such as `-12.50`.
    fn exponent_of_last_digit(mantissa: &[u8]) -> Option<i64> {
        let point = mantissa.iter().position(|b| *b == b'.');
        let last = mantissa.iter().rposition(|b| matches!(b, b'1'..=b'9'))?;
        Some(match point {
            Some(point) if last > point => -((last - point) as i64),
            Some(point) => (point - last - 1) as i64,
            None => (mantissa.len() - last - 1) as i64,
        })
    }

    /// The decimal `Double.toString` gives `value`, as `BigDecimal.valueOf` reads it: the
    /// shortest that reads back as `value`, except that where one digit would do, Java picks
    /// the two-digit decimal nearest `value` (so 4.9e-324, not 5e-324).
    fn java_string_of(value: f64) -> Option<Decimal> {
        let mut buffer = [0u8; 40];
        let shortest = format_into(&mut buffer, format_args!("{:e}", value.abs()))?;
        let one_digit = !shortest.contains(&b'.');
        let mut two = [0u8; 40];
        let text = if one_digit {
            format_into(&mut two, format_args!("{:.1e}", value.abs()))?
        } else {
            shortest
        };
        let mut decimal = Decimal::of_exponent_form(text)?;
        decimal.negative = value < 0.0;
        Some(decimal)
    }

    /// Reads Rust's `{:e}` output, e.g. `3.018e2`.
    fn of_exponent_form(text: &[u8]) -> Option<Decimal> {
        let e = text.iter().position(|b| *b == b'e')?;
        let mut decimal = Decimal::of(&text[..e])?;
        let written: i64 = std::str::from_utf8(&text[e + 1..]).ok()?.parse().ok()?;
        decimal.exponent += written;
        Some(decimal)
    }
}

/// Formats into `buffer` without allocating; the written bytes.
fn format_into<'b>(buffer: &'b mut [u8], args: std::fmt::Arguments<'_>) -> Option<&'b [u8]> {
    let len = buffer.len();
    let mut cursor = &mut buffer[..];
    cursor.write_fmt(args).ok()?;
    let written = len - cursor.len();
    Some(&buffer[..written])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_double_share_a_key() {
        for (a, b) in [
            ("5", "5.0"),
            ("5", "5e0"),
            ("5", "0.5E1"),
            ("-0", "0"),
            ("0.000", "-0e7"),
            ("301.8", "3.018e2"),
            ("123456789012", "1.23456789012E+11"),
            ("1e-2", "0.01"),
            ("4.9e-324", "49e-325"),
        ] {
            assert_eq!(comparable(a), comparable(b), "{a} = {b}");
            assert!(comparable(a).is_some(), "{a}");
        }
    }

    #[test]
    fn keys_keep_the_order_of_the_values() {
        // ComparableNumberTest.WHEN_WildlyVaryingNumberFormsAreProvided_THEN_TheGeneratedStringsAreSortable
        // feeds `Double.toString` of these; Rust's `{:e}` is the same shortest form.
        let values = [
            -f64::MAX,
            -5E11,
            -5_000_000_000.0,
            -122.413496,
            -0.000002,
            0.0,
            f64::MIN_POSITIVE,
            0.000001,
            3.8,
            3.9,
            999999999.999999,
            5_000_000_000.0,
            5E11,
            f64::MAX,
        ];
        let ordered: Vec<String> = values.iter().map(|v| format!("{v:e}")).collect();
        for pair in ordered.windows(2) {
            assert!(
                comparable(&pair[0]).unwrap() < comparable(&pair[1]).unwrap(),
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn numbers_a_double_does_not_hold_exactly_have_no_key() {
        for text in [
            "1e400",
            "-1e400",
            "1e-400",
            "0.10000000000000001",
            "12345678901234567890",
            "9007199254740993",
            "5e-324",
            "1e999999999999999999999",
        ] {
            assert_eq!(comparable(text), None, "{text}");
        }
        assert!(comparable("9007199254740992").is_some());
        assert!(comparable("27.807807921694092").is_some());
        assert!(comparable("1.0000000000000000000000").is_some());
    }
}
