//! What one value of a pattern's value list tests on one leaf of an event: exact values, string
//! operators, numeric ranges, CIDR blocks, wildcards, and anything-but.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::event::Value;
use super::number::comparable;

/// One test on one leaf.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Matcher {
    /// A string, exactly.
    Str(Box<str>),
    /// A string that is an IP address: the same address, however it is spelled.
    StrOrIp(Box<str>, IpAddr),
    /// A number: the same text, or the same value when event-ruler can compare it.
    Number {
        text: Box<str>,
        key: Option<u64>,
    },
    /// A number by value only (the members of an anything-but list).
    NumberValue(u64),
    Bool(bool),
    Null,
    Prefix(Box<str>),
    PrefixIgnoreCase(Folded),
    Suffix(Box<str>),
    SuffixIgnoreCase(Folded),
    EqualsIgnoreCase(Folded),
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
                want.as_ref() == s.as_ref() || ip_address(s) == Some(*ip)
            }
            (Matcher::Number { text, key }, Value::Num(n)) => {
                text.as_ref() == *n || key.is_some_and(|want| comparable(n) == Some(want))
            }
            (Matcher::NumberValue(want), Value::Num(n)) => comparable(n) == Some(*want),
            (Matcher::Bool(want), Value::Bool(b)) => want == b,
            (Matcher::Null, Value::Null) => true,
            (Matcher::Prefix(p), Value::Str(s)) => s.starts_with(p.as_ref()),
            (Matcher::Suffix(p), Value::Str(s)) => s.ends_with(p.as_ref()),
            (Matcher::PrefixIgnoreCase(f), Value::Str(s)) => f.starts(s),
            (Matcher::SuffixIgnoreCase(f), Value::Str(s)) => f.ends(s),
            (Matcher::EqualsIgnoreCase(f), Value::Str(s)) => f.equals(s),
            (Matcher::Wildcard(w), Value::Str(s)) => w.matches(s),
            (Matcher::Range(range), Value::Num(n)) => {
                comparable(n).is_some_and(|v| range.contains(v))
            }
            (Matcher::Cidr(cidr), Value::Str(s)) => {
                ip_address(s).is_some_and(|ip| cidr.contains(ip))
            }
            _ => false,
        }
    }
}

/// A string matched ignoring case as event-ruler does (EqualsIgnoreCaseParser): each UTF-16 unit
/// of the pattern stands for its `toLowerCase(Locale.ROOT)` or its `toUpperCase(Locale.ROOT)`,
/// and the event's text must be one of the two at each place. The event is not folded, so `ß`
/// matches `SS` but not `ss`. Half of a surrogate pair is `?`, as Java encodes it alone.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Folded {
    /// Runs that must appear as they are, and places that take one of two spellings.
    parts: Vec<Fold>,
}

#[derive(Debug, Clone, PartialEq)]
enum Fold {
    Same(Box<str>),
    Either(Box<str>, Box<str>),
}

impl Folded {
    pub fn new(text: &str) -> Folded {
        let mut parts = Vec::new();
        let mut same = String::new();
        for c in text.chars() {
            if c.len_utf16() == 2 {
                same.push_str("??");
                continue;
            }
            let lower: String = c.to_lowercase().collect();
            let upper: String = c.to_uppercase().collect();
            if lower == upper {
                same.push_str(&lower);
            } else {
                if !same.is_empty() {
                    parts.push(Fold::Same(std::mem::take(&mut same).into_boxed_str()));
                }
                parts.push(Fold::Either(lower.into_boxed_str(), upper.into_boxed_str()));
            }
        }
        if !same.is_empty() {
            parts.push(Fold::Same(same.into_boxed_str()));
        }
        Folded { parts }
    }

    fn equals(&self, value: &str) -> bool {
        Self::from_start(&self.parts, value, true)
    }

    fn starts(&self, value: &str) -> bool {
        Self::from_start(&self.parts, value, false)
    }

    fn ends(&self, value: &str) -> bool {
        Self::to_end(&self.parts, value)
    }

    /// Whether `parts` spell the end of `value`.
    fn to_end(parts: &[Fold], value: &str) -> bool {
        let Some((last, rest)) = parts.split_last() else {
            return true;
        };
        let ends = |part: &str| {
            value
                .strip_suffix(part)
                .is_some_and(|before| Folded::to_end(rest, before))
        };
        match last {
            Fold::Same(part) => ends(part),
            Fold::Either(lower, upper) => ends(lower) || ends(upper),
        }
    }

    /// Whether `parts` spell the beginning of `value` (all of it, with `whole`).
    fn from_start(parts: &[Fold], value: &str, whole: bool) -> bool {
        let Some((first, rest)) = parts.split_first() else {
            return !whole || value.is_empty();
        };
        let starts = |part: &str| {
            value
                .strip_prefix(part)
                .is_some_and(|after| Folded::from_start(rest, after, whole))
        };
        match first {
            Fold::Same(part) => starts(part),
            Fold::Either(lower, upper) => starts(lower) || starts(upper),
        }
    }
}

/// The address an event or pattern string stands for, as event-ruler reads one (CIDR.ipToBytes):
/// only a string that IPv4_REGEX or IPv6_REGEX matches (Constants.java: four runs of digits
/// between dots, or hex digits and colons with at least one colon) and that then parses, with an
/// IPv4-mapped IPv6 address read as the IPv4 address (InetAddress returns an Inet4Address).
pub(super) fn ip_address(text: &str) -> Option<IpAddr> {
    let bytes = text.as_bytes();
    let ipv4 = bytes.split(|b| *b == b'.').count() == 4
        && bytes
            .split(|b| *b == b'.')
            .all(|run| !run.is_empty() && run.iter().all(u8::is_ascii_digit));
    if ipv4 {
        return text.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    let ipv6 = bytes.contains(&b':') && bytes.iter().all(|b| *b == b':' || b.is_ascii_hexdigit());
    if !ipv6 {
        return None;
    }
    let ip = text.parse::<Ipv6Addr>().ok()?;
    Some(match ip.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(ip),
    })
}

/// A numeric interval; each end is open or closed, or absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Range {
    pub low: Option<(u64, bool)>,
    pub high: Option<(u64, bool)>,
}

impl Range {
    fn contains(&self, v: u64) -> bool {
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
    /// Parses as CIDR.cidr does: `String.split("/")` (which drops trailing empty parts) must
    /// give two parts, the mask is read by `Integer.parseInt` (a sign is allowed), and the
    /// address is read like any IP address string (see [`ip_address`]).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let not_cidr = || format!("\"{text}\" is not a CIDR block like \"10.0.0.0/24\"");
        let mut parts: Vec<&str> = text.split('/').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        let [address, bits] = parts[..] else {
            return Err(not_cidr());
        };
        let bits: u32 = bits
            .parse::<i32>()
            .ok()
            .and_then(|bits| u32::try_from(bits).ok())
            .ok_or_else(|| format!("\"{text}\" has an invalid prefix length"))?;
        match ip_address(address) {
            Some(IpAddr::V4(ip)) if bits < 32 => {
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
            Some(IpAddr::V6(ip)) if bits < 128 => {
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
            // event-ruler refuses a mask of the address's full length too (CIDR.cidr): one
            // address is written as a plain string.
            Some(IpAddr::V4(_)) => Err(format!(
                "\"{text}\" has a prefix length too long for its address: IPv4 mask bits must be < 32"
            )),
            Some(IpAddr::V6(_)) => Err(format!(
                "\"{text}\" has a prefix length too long for its address: IPv6 mask bits must be < 128"
            )),
            None => Err(not_cidr()),
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
    fn ip_addresses_follow_event_rulers_regexes_then_parse() {
        let ip = |s: &str| ip_address(s).map(|ip| ip.to_string());
        assert_eq!(ip("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip("::ffff:a00:1").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip("::1").as_deref(), Some("::1"));
        for not_ip in [
            "10.0.0.01",
            "::ffff:10.0.0.1",
            "08:23",
            "fe80::1%eth0",
            "1.2.3",
            "256.0.0.1",
            "",
        ] {
            assert_eq!(ip(not_ip), None, "{not_ip}");
        }
    }

    #[test]
    fn folding_takes_either_case_of_each_pattern_character() {
        let f = Folded::new("aß");
        assert!(!f.equals("ass") && f.equals("Aß") && f.equals("ASS") && f.equals("aSS"));
        assert!(f.starts("ASSx") && !f.starts("As") && f.ends("xaß") && !f.ends("ss"));
        assert!(
            Folded::new("").equals("") && Folded::new("").starts("x") && Folded::new("").ends("x")
        );
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
