//! DynamoDB's numbers: decimal, up to 38 significant digits, magnitude 1E-130 to 9.99...E+125,
//! kept exactly, compared and added exactly, and written in one canonical form (`1.50` and
//! `15e-1` are both `1.5`).

use std::cmp::Ordering;

/// A decimal number: `digits × 10^exponent`, with no leading or trailing zero digits (zero has
/// no digits and is never negative).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

/// Most significant digits a DynamoDB number holds.
const MAX_DIGITS: usize = 38;

/// Bias that makes every scientific exponent DynamoDB allows (-129 to 126 in `0.digits` form)
/// three digits in [`Number::sortable`].
const EXPONENT_BIAS: i64 = 500;

impl Number {
    /// A DynamoDB number from its text, or why DynamoDB refuses it (in DynamoDB's words).
    pub fn parse(text: &str) -> Result<Number, String> {
        let number = Number::read(text).ok_or_else(|| {
            format!("The parameter cannot be converted to a numeric value: {text}")
        })?;
        if number.digits.len() > MAX_DIGITS {
            return Err("Attempting to store more than 38 significant digits in a Number".into());
        }
        if let Some(magnitude) = number.magnitude() {
            if magnitude > 125 {
                return Err("Number overflow. Attempting to store a number with magnitude larger than supported range".into());
            }
            if magnitude < -130 {
                return Err("Number underflow. Attempting to store a number with magnitude smaller than supported range".into());
            }
        }
        Ok(number)
    }

    /// The canonical text of a DynamoDB number, or why it is not one.
    pub fn canonical(text: &str) -> Result<String, String> {
        Number::parse(text).map(|n| n.to_text())
    }

    /// Reads `[+-]digits[.digits][(e|E)[+-]digits]`, also `.5` and `5.` as Java's BigDecimal
    /// does, whatever its size.
    fn read(text: &str) -> Option<Number> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let all = whole.bytes().chain(fraction.bytes());
        if !all.clone().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let exponent = exponent.checked_sub(fraction.len() as i64)?;
        Some(Number::normalized(
            negative,
            all.map(|b| b - b'0').collect(),
            exponent,
        ))
    }

    fn normalized(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Number {
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Number {
                negative: false,
                digits,
                exponent: 0,
            };
        }
        Number {
            negative,
            digits,
            exponent,
        }
    }

    /// The power of ten of the leading digit (`None` for zero).
    fn magnitude(&self) -> Option<i64> {
        (!self.digits.is_empty()).then(|| self.exponent + self.digits.len() as i64 - 1)
    }

    /// Plain decimal text without an exponent, valid as a JSON number: `150`, `-0.25`, `0`.
    pub fn to_text(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        if self.exponent >= 0 {
            return format!("{sign}{digits}{}", "0".repeat(self.exponent as usize));
        }
        let point = digits.len() as i64 + self.exponent;
        if point > 0 {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{sign}{whole}.{fraction}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        }
    }

    pub fn negated(&self) -> Number {
        Number {
            negative: !self.negative && !self.digits.is_empty(),
            ..self.clone()
        }
    }

    /// `self + other`, exactly (the caller checks the result against DynamoDB's limits).
    pub fn add(&self, other: &Number) -> Number {
        let exponent = self.exponent.min(other.exponent);
        let a = self.scaled_to(exponent);
        let b = other.scaled_to(exponent);
        if self.negative == other.negative {
            return Number::normalized(self.negative, add_digits(&a, &b), exponent);
        }
        match compare_digits(&a, &b) {
            Ordering::Equal => Number::normalized(false, Vec::new(), 0),
            Ordering::Greater => Number::normalized(self.negative, sub_digits(&a, &b), exponent),
            Ordering::Less => Number::normalized(other.negative, sub_digits(&b, &a), exponent),
        }
    }

    fn scaled_to(&self, exponent: i64) -> Vec<u8> {
        let mut digits = self.digits.clone();
        digits.resize(digits.len() + (self.exponent - exponent) as usize, 0);
        digits
    }

    /// Text whose byte order is the numbers' order: a class (`0` negative, `1` zero,
    /// `2` positive), the biased exponent of the `0.digits` form, then the digits; a negative
    /// number's exponent and digits are complemented, and end in `~` so that a longer one
    /// (more negative) sorts first.
    pub fn sortable(&self) -> String {
        let Some(magnitude) = self.magnitude() else {
            return "1".to_string();
        };
        let biased = magnitude + 1 + EXPONENT_BIAS;
        let digits = |complement: bool| -> String {
            self.digits
                .iter()
                .map(|d| char::from(b'0' + if complement { 9 - d } else { *d }))
                .collect()
        };
        if self.negative {
            format!("0{:03}{}~", 999 - biased, digits(true))
        } else {
            format!("2{biased:03}{}", digits(false))
        }
    }

    /// The number [`Number::sortable`] wrote.
    pub fn from_sortable(text: &str) -> Option<Number> {
        let class = text.get(..1)?;
        if class == "1" {
            return Some(Number::normalized(false, Vec::new(), 0));
        }
        let biased: i64 = text.get(1..4)?.parse().ok()?;
        let rest = text.get(4..)?;
        let (negative, biased, digits) = match class {
            "2" => (false, biased, rest),
            "0" => (true, 999 - biased, rest.strip_suffix('~')?),
            _ => return None,
        };
        let digits: Vec<u8> = digits
            .bytes()
            .map(|b| if negative { 9 - (b - b'0') } else { b - b'0' })
            .collect();
        let exponent = biased - EXPONENT_BIAS - digits.len() as i64;
        Some(Number::normalized(negative, digits, exponent))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| match (n.digits.is_empty(), n.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        let by_sign = sign(self).cmp(&sign(other));
        if by_sign != Ordering::Equal || sign(self) == 0 {
            return by_sign;
        }
        let exponent = self.exponent.min(other.exponent);
        let magnitude = compare_digits(&self.scaled_to(exponent), &other.scaled_to(exponent));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |d: &[u8]| d.iter().skip_while(|x| **x == 0).count();
    let (la, lb) = (strip(a), strip(b));
    la.cmp(&lb)
        .then_with(|| a[a.len() - la..].cmp(&b[b.len() - lb..]))
}

fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let (mut ia, mut ib, mut carry) = (a.iter().rev(), b.iter().rev(), 0);
    loop {
        let (x, y) = (ia.next(), ib.next());
        if x.is_none() && y.is_none() {
            break;
        }
        let sum = x.copied().unwrap_or(0) + y.copied().unwrap_or(0) + carry;
        out.push(sum % 10);
        carry = sum / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    out
}

/// `a - b` for `a >= b`.
fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let (mut ib, mut borrow) = (b.iter().rev(), 0i8);
    for x in a.iter().rev() {
        let mut d = *x as i8 - ib.next().copied().unwrap_or(0) as i8 - borrow;
        borrow = i8::from(d < 0);
        if d < 0 {
            d += 10;
        }
        out.push(d as u8);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_are_kept_as_dynamodb_keeps_them() {
        let canonical = |text: &str| Number::canonical(text).ok();
        assert_eq!(canonical("1.50").as_deref(), Some("1.5"));
        assert_eq!(canonical("1e2").as_deref(), Some("100"));
        assert_eq!(canonical("-0.0025").as_deref(), Some("-0.0025"));
        assert_eq!(canonical("-0").as_deref(), Some("0"));
        assert_eq!(canonical("007").as_deref(), Some("7"));
        assert_eq!(canonical("12.5E-1").as_deref(), Some("1.25"));
        assert_eq!(canonical("+.5").as_deref(), Some("0.5"));
        let exact = "123456789012345678901234567890.12345678";
        assert_eq!(canonical(exact).as_deref(), Some(exact));
        // DynamoDB's limits: 38 significant digits, 1E-130 to 9.9...E+125.
        assert!(canonical(&"1".repeat(39)).is_none());
        assert!(canonical(&format!("{}000", "1".repeat(38))).is_some());
        assert!(canonical("1E126").is_none());
        assert!(canonical("1E-131").is_none());
        assert!(canonical("1e-400").is_none());
        assert!(canonical("9.9E125").is_some());
        assert!(canonical("1E-130").is_some());
        for bad in [
            "abc",
            "1.2.3",
            "",
            "-",
            ".",
            "1e",
            "0x10",
            "1e99999999999999999999",
        ] {
            assert!(canonical(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Number::parse("1e-400").unwrap_err(),
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
        );
    }

    #[test]
    fn numbers_add_and_compare_exactly() {
        let n = |text: &str| Number::parse(text).unwrap();
        let big = n("99999999999999999999999999999999999999");
        assert_eq!(
            big.add(&n("-1")).to_text(),
            "99999999999999999999999999999999999998"
        );
        assert_eq!(n("0.1").add(&n("0.2")).to_text(), "0.3");
        assert_eq!(n("5").add(&n("-5")).to_text(), "0");
        assert_eq!(n("-2.5").add(&n("1")).to_text(), "-1.5");
        assert!(n("10") > n("9.99"));
        assert!(n("-10") < n("-9.99"));
        assert_eq!(n("1.0").cmp(&n("1")), Ordering::Equal);
        assert_eq!(n("0").negated().to_text(), "0");
    }

    proptest! {
        /// The sortable text of numbers sorts as the numbers do, and reads back.
        #[test]
        fn sortable_numbers_sort_by_value(a in -1e12f64..1e12, b in -1e12f64..1e12, scale in -20i32..20) {
            let text = |x: f64| format!("{x}e{scale}");
            let (na, nb) = (Number::parse(&text(a)).unwrap(), Number::parse(&text(b)).unwrap());
            prop_assert_eq!(na.sortable().cmp(&nb.sortable()), a.partial_cmp(&b).unwrap());
            prop_assert_eq!(Number::from_sortable(&na.sortable()).unwrap(), na);
        }
    }
}
