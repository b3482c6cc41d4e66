//! DynamoDB numbers: decimal, up to 38 significant digits, compared and added exactly.

use std::cmp::Ordering;

/// A decimal number: `digits` × 10^`exponent`, with no leading or trailing zero digits
/// (zero has no digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

/// Why text is not a DynamoDB number, in DynamoDB's words.
pub(super) fn check(text: &str) -> Result<Decimal, String> {
    let number = Decimal::parse(text)
        .ok_or_else(|| format!("The parameter cannot be converted to a numeric value: {text}"))?;
    if number.digits.len() > 38 {
        return Err("Attempting to store more than 38 significant digits in a Number".into());
    }
    if !number.digits.is_empty() {
        let magnitude = number.exponent + number.digits.len() as i64 - 1;
        if magnitude > 125 {
            return Err("Number overflow. Attempting to store a number with magnitude larger than supported range".into());
        }
        if magnitude < -130 {
            return Err("Number underflow. Attempting to store a number with magnitude smaller than supported range".into());
        }
    }
    Ok(number)
}

impl Decimal {
    /// Reads `[+-]digits[.digits][(e|E)[+-]digits]`, also `.5` and `5.` as Java's BigDecimal does.
    pub(super) fn parse(text: &str) -> Option<Decimal> {
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
        let digits = all.map(|b| b - b'0').collect();
        Some(Decimal::normalized(
            negative,
            digits,
            exponent - fraction.len() as i64,
        ))
    }

    fn normalized(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Decimal {
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Decimal {
                negative: false,
                digits,
                exponent: 0,
            };
        }
        Decimal {
            negative,
            digits,
            exponent,
        }
    }

    /// Plain decimal text (no exponent), valid as a JSON number.
    pub(super) fn to_text(&self) -> String {
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

    pub(super) fn negated(&self) -> Decimal {
        let negative = !self.negative && !self.digits.is_empty();
        Decimal {
            negative,
            ..self.clone()
        }
    }

    pub(super) fn add(&self, other: &Decimal) -> Decimal {
        let exponent = self.exponent.min(other.exponent);
        let a = self.scaled_to(exponent);
        let b = other.scaled_to(exponent);
        if self.negative == other.negative {
            return Decimal::normalized(self.negative, add_digits(&a, &b), exponent);
        }
        match compare_digits(&a, &b) {
            Ordering::Equal => Decimal::normalized(false, Vec::new(), 0),
            Ordering::Greater => Decimal::normalized(self.negative, sub_digits(&a, &b), exponent),
            Ordering::Less => Decimal::normalized(other.negative, sub_digits(&b, &a), exponent),
        }
    }

    fn scaled_to(&self, exponent: i64) -> Vec<u8> {
        let mut digits = self.digits.clone();
        digits.resize(digits.len() + (self.exponent - exponent) as usize, 0);
        digits
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |d: &Decimal| {
            if d.digits.is_empty() {
                0
            } else if d.negative {
                -1
            } else {
                1
            }
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

impl PartialOrd for Decimal {
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
