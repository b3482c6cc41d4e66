//! What one value of a pattern's value list tests on one leaf of an event: exact values, string
//! operators, numeric ranges, CIDR blocks, wildcards, and anything-but.

use std::net::IpAddr;

use super::event::Value;

/// The largest magnitude numeric matching handles, as AWS does: 5.0e9, with 6 decimal places.
pub(super) const NUMBER_LIMIT: i64 = 5_000_000_000;
const SCALE: i64 = 1_000_000;

/// One test on one leaf.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Matcher {
    /// A string, exactly.
    Str(Box<str>),
    /// A string that is an IP address: the same string, or the same address spelled another way.
    StrOrIp(Box<str>, IpAddr),
    /// A number: the same value (when in the numeric range) or the same text.
    Number {
        text: Box<str>,
        scaled: Option<i64>,
    },
    /// A number by value only (the members of an anything-but list).
    NumberValue(i64),
    Bool(bool),
    Null,
    Prefix(Box<str>),
    /// Lowercased.
    PrefixIgnoreCase(Box<str>),
    Suffix(Box<str>),
    /// Lowercased.
    SuffixIgnoreCase(Box<str>),
    /// Lowercased.
    EqualsIgnoreCase(Box<str>),
    Wildcard(Wildcard),
    Range(Range),
    Cidr(Cidr),
    /// Any leaf at all (`exists: true`).
    Exists,
    /// A leaf that none of these match (`anything-but`).
    Not(Vec<Matcher>),
}

impl Matcher {
    pub fn matches(&self, value: &Value<'_>) -> bool {
        match (self, value) {
            (Matcher::Exists, _) => true,
            (Matcher::Not(excluded), value) => !excluded.iter().any(|m| m.matches(value)),
            (Matcher::Str(want), Value::Str(s)) => want.as_ref() == s.as_ref(),
            (Matcher::StrOrIp(want, ip), Value::Str(s)) => {
                want.as_ref() == s.as_ref() || s.parse::<IpAddr>().is_ok_and(|got| got == *ip)
            }
            (Matcher::Number { text, scaled }, Value::Num(n)) => {
                text.as_ref() == *n || scaled.is_some_and(|want| scale(n) == Ok(want))
            }
            (Matcher::NumberValue(want), Value::Num(n)) => scale(n) == Ok(*want),
            (Matcher::Bool(want), Value::Bool(b)) => want == b,
            (Matcher::Null, Value::Null) => true,
            (Matcher::Prefix(p), Value::Str(s)) => s.starts_with(p.as_ref()),
            (Matcher::Suffix(p), Value::Str(s)) => s.ends_with(p.as_ref()),
            (Matcher::PrefixIgnoreCase(p), Value::Str(s)) => {
                fold_case(s, p, |s, p| s.starts_with(p))
            }
            (Matcher::SuffixIgnoreCase(p), Value::Str(s)) => fold_case(s, p, |s, p| s.ends_with(p)),
            (Matcher::EqualsIgnoreCase(p), Value::Str(s)) => fold_case(s, p, |s, p| s == p),
            (Matcher::Wildcard(w), Value::Str(s)) => w.matches(s),
            (Matcher::Range(range), Value::Num(n)) => scale(n).is_ok_and(|v| range.contains(v)),
            (Matcher::Cidr(cidr), Value::Str(s)) => {
                s.parse::<IpAddr>().is_ok_and(|ip| cidr.contains(ip))
            }
            _ => false,
        }
    }
}

/// Tests `value` against an already lowercased `pattern`, ignoring case. A value that is
/// lowercase ASCII already is tested in place; any other is lowercased first.
fn fold_case(value: &str, pattern: &str, test: impl Fn(&str, &str) -> bool) -> bool {
    if value
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        test(&value.to_lowercase(), pattern)
    } else {
        test(value, pattern)
    }
}

/// Why a number cannot take part in numeric matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumberProblem {
    OutOfRange,
    TooPrecise,
}

/// A JSON number's value times 10^6, exactly, when it is within ±5.0e9 and has at most six
/// decimal places (AWS's numeric matching).
pub(super) fn scale(text: &str) -> Result<i64, NumberProblem> {
    let bytes = text.as_bytes();
    let (negative, mut i) = if bytes.first() == Some(&b'-') {
        (true, 1)
    } else {
        (false, 0)
    };
    let mut mantissa: u128 = 0;
    let mut significant = 0usize;
    let mut exponent: i64 = 0;
    let mut dropped_nonzero = false;
    let mut push = |digit: u8, mantissa: &mut u128, significant: &mut usize| -> i64 {
        // Keep up to 30 significant digits; digits past that only shift the exponent.
        if *significant < 30 {
            *mantissa = *mantissa * 10 + u128::from(digit - b'0');
            if *mantissa > 0 {
                *significant += 1;
            }
            0
        } else {
            dropped_nonzero |= digit != b'0';
            1
        }
    };
    while let Some(d @ b'0'..=b'9') = bytes.get(i) {
        exponent += push(*d, &mut mantissa, &mut significant);
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d @ b'0'..=b'9') = bytes.get(i) {
            exponent += push(*d, &mut mantissa, &mut significant) - 1;
            i += 1;
        }
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        let written: i64 = text[i + 1..]
            .parse()
            .map_err(|_| NumberProblem::OutOfRange)?;
        exponent = exponent.saturating_add(written);
    }
    if mantissa == 0 {
        return if dropped_nonzero {
            Err(NumberProblem::OutOfRange)
        } else {
            Ok(0)
        };
    }
    if dropped_nonzero {
        return Err(NumberProblem::TooPrecise);
    }
    // value = mantissa * 10^exponent; scaled = mantissa * 10^(exponent + 6)
    let shift = exponent + 6;
    let scaled: u128 = if shift >= 0 {
        if shift > 20 {
            return Err(NumberProblem::OutOfRange);
        }
        mantissa
            .checked_mul(10u128.pow(shift as u32))
            .ok_or(NumberProblem::OutOfRange)?
    } else {
        if -shift > 38 {
            return Err(NumberProblem::TooPrecise);
        }
        let divisor = 10u128.pow((-shift) as u32);
        if !mantissa.is_multiple_of(divisor) {
            return Err(NumberProblem::TooPrecise);
        }
        mantissa / divisor
    };
    if scaled > (NUMBER_LIMIT as u128) * (SCALE as u128) {
        return Err(NumberProblem::OutOfRange);
    }
    let scaled = scaled as i64;
    Ok(if negative { -scaled } else { scaled })
}

/// A numeric interval; each end is open or closed, or absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Range {
    pub low: Option<(i64, bool)>,
    pub high: Option<(i64, bool)>,
}

impl Range {
    fn contains(&self, v: i64) -> bool {
        let above = match self.low {
            None => true,
            Some((low, inclusive)) => v > low || (inclusive && v == low),
        };
        let below = match self.high {
            None => true,
            Some((high, inclusive)) => v < high || (inclusive && v == high),
        };
        above && below
    }
}

/// An IPv4 or IPv6 block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (address, bits) = text
            .split_once('/')
            .ok_or_else(|| format!("\"{text}\" is not a CIDR block like \"10.0.0.0/24\""))?;
        let bits: u32 = bits
            .parse()
            .map_err(|_| format!("\"{text}\" has an invalid prefix length"))?;
        match address.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) if bits < 32 => {
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                Ok(Cidr::V4 {
                    network: u32::from(ip) & mask,
                    mask,
                })
            }
            Ok(IpAddr::V6(ip)) if bits < 128 => {
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                Ok(Cidr::V6 {
                    network: u128::from(ip) & mask,
                    mask,
                })
            }
            // event-ruler refuses a mask of the address's full length (CIDR.cidr): one address
            // is written as a plain string.
            Ok(IpAddr::V4(_)) if bits == 32 => Err(format!(
                "\"{text}\" has a prefix length too long for its address: IPv4 mask bits must be < 32"
            )),
            Ok(IpAddr::V6(_)) if bits == 128 => Err(format!(
                "\"{text}\" has a prefix length too long for its address: IPv6 mask bits must be < 128"
            )),
            Ok(_) => Err(format!(
                "\"{text}\" has a prefix length too long for its address"
            )),
            Err(_) => Err(format!(
                "\"{text}\" is not a CIDR block like \"10.0.0.0/24\""
            )),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Cidr::V4 { network, mask }, IpAddr::V4(ip)) => u32::from(ip) & mask == *network,
            (Cidr::V6 { network, mask }, IpAddr::V6(ip)) => u128::from(ip) & mask == *network,
            _ => false,
        }
    }
}

/// A wildcard string: `*` matches any run of characters, `\*` a star and `\\` a backslash.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Wildcard {
    /// The literal runs between stars, without empty ones.
    parts: Vec<Box<str>>,
    leading: bool,
    trailing: bool,
    stars: bool,
}

impl Wildcard {
    /// Parses as AWS does: no two stars in a row, and a backslash escapes only `*` or `\`.
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let mut parts = Vec::new();
        let mut current = String::new();
        let (mut leading, mut trailing, mut stars) = (false, false, false);
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            trailing = false;
            match c {
                '*' => {
                    if chars.peek().is_some_and(|(_, next)| *next == '*') {
                        return Err(format!("consecutive wildcard characters at position {i}"));
                    }
                    if i == 0 {
                        leading = true;
                    }
                    stars = true;
                    trailing = true;
                    if !current.is_empty() {
                        parts.push(std::mem::take(&mut current).into_boxed_str());
                    }
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => current.push(escaped),
                    _ => return Err(format!("invalid escape character at position {i}")),
                },
                other => current.push(other),
            }
        }
        if !current.is_empty() || parts.is_empty() && !stars {
            parts.push(current.into_boxed_str());
        }
        Ok(Wildcard {
            parts,
            leading,
            trailing,
            stars,
        })
    }

    fn matches(&self, value: &str) -> bool {
        if !self.stars {
            return self.parts.first().is_some_and(|p| p.as_ref() == value);
        }
        let mut rest = value;
        let (mut first, mut last) = (0, self.parts.len());
        if !self.leading {
            let Some(after) = rest.strip_prefix(self.parts[0].as_ref()) else {
                return false;
            };
            rest = after;
            first = 1;
        }
        if !self.trailing && last > first {
            let Some(before) = rest.strip_suffix(self.parts[last - 1].as_ref()) else {
                return false;
            };
            rest = before;
            last -= 1;
        }
        for part in &self.parts[first..last] {
            match rest.find(part.as_ref()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_scale_exactly_whatever_their_spelling() {
        for (text, want) in [
            ("5", 5_000_000),
            ("5.0", 5_000_000),
            ("5e0", 5_000_000),
            ("0.5E1", 5_000_000),
            ("-0", 0),
            ("3.018e2", 301_800_000),
            ("-1.000001", -1_000_001),
            ("5000000000", 5_000_000_000_000_000),
            ("1e-6", 1),
        ] {
            assert_eq!(scale(text), Ok(want), "{text}");
        }
        assert_eq!(scale("5000000000.000001"), Err(NumberProblem::OutOfRange));
        assert_eq!(scale("1e10"), Err(NumberProblem::OutOfRange));
        assert_eq!(scale("1.0000001"), Err(NumberProblem::TooPrecise));
        assert_eq!(scale("1e-7"), Err(NumberProblem::TooPrecise));
        assert_eq!(
            scale("1.5000000"),
            Ok(1_500_000),
            "trailing zeros are not precision"
        );
        assert_eq!(scale("0.000000"), Ok(0));
        assert_eq!(scale("1e999999999999"), Err(NumberProblem::OutOfRange));
    }

    #[test]
    fn wildcards_match_runs_and_honour_escapes() {
        let w = |p: &str| Wildcard::parse(p).unwrap();
        assert!(w("*.png").matches("a.png") && !w("*.png").matches("a.png.gz"));
        assert!(w("dir/*/file").matches("dir/x/y/file") && !w("dir/*/file").matches("dir/file"));
        assert!(w("a*a").matches("aa") && !w("a*a").matches("a"));
        assert!(w("*").matches("") && w("*Title*").matches("My Title Page"));
        assert!(w("a\\*b").matches("a*b") && !w("a\\*b").matches("axb"));
        assert!(w("a\\\\*").matches("a\\xyz"));
        assert!(w("").matches("") && !w("").matches("x"));
        assert_eq!(
            Wildcard::parse("a**b").unwrap_err(),
            "consecutive wildcard characters at position 1"
        );
        assert_eq!(
            Wildcard::parse("a\\b").unwrap_err(),
            "invalid escape character at position 1"
        );
    }

    #[test]
    fn cidr_blocks_hold_their_addresses() {
        let v4 = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(
            v4.contains("10.0.0.255".parse().unwrap()) && !v4.contains("10.0.1.0".parse().unwrap())
        );
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(
            v6.contains("2001:db8:ffff::1".parse().unwrap())
                && !v6.contains("10.0.0.1".parse().unwrap())
        );
        assert!(
            Cidr::parse("10.0.0.0/33").is_err()
                && Cidr::parse("10.0.0/8").is_err()
                && Cidr::parse("10.0.0.0").is_err()
        );
    }
}
