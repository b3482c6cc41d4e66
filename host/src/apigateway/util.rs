//! `$util`'s functions, with the Java behaviour behind them: commons-lang's
//! `StringEscapeUtils.escapeJavaScript`, `java.net.URLEncoder`/`URLDecoder` in UTF-8, and
//! standard padded base64.

use std::fmt::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// JavaScript string escaping as commons-lang 2 does it: quotes, `\` and `/` escaped, control
/// characters as `\n`-style or `\u00XX`, and every UTF-16 unit above 0x7f as `\uXXXX`.
pub(super) fn escape_javascript(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for unit in text.encode_utf16() {
        match unit {
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            0x0d => out.push_str("\\r"),
            0x22 => out.push_str("\\\""),
            0x27 => out.push_str("\\'"),
            0x2f => out.push_str("\\/"),
            0x5c => out.push_str("\\\\"),
            unit if !(0x20..=0x7f).contains(&unit) => {
                let _ = write!(out, "\\u{unit:04X}");
            }
            unit => out.push(char::from(u8::try_from(unit).unwrap_or(b'?'))),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` as `URLEncoder.encode(text, "UTF-8")` writes it.
pub(super) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            byte => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// The inverse of [`url_encode`]; refuses a `%` not followed by two hex digits, as Java does.
pub(super) fn url_decode(text: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = rest.get(..2).and_then(|h| std::str::from_utf8(h).ok());
                let value = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        "URLDecoder: Illegal hex characters in escape (%) pattern".to_owned()
                    })?;
                bytes.push(value);
                rest = &rest[2..];
            }
            byte => bytes.push(byte),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub(super) fn base64_encode(text: &str) -> String {
    STANDARD.encode(text)
}

pub(super) fn base64_decode(text: &str) -> Result<String, String> {
    let bytes = STANDARD.decode(text).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Java's `String.replaceAll` for the patterns templates use: literal text in which `\x`
/// stands for `x` (as in AWS's documented `.replaceAll("\\'", "'")`). Other regular-expression
/// syntax is refused rather than matched differently.
pub(super) fn replace_all(text: &str, pattern: &str, replacement: &str) -> Result<String, String> {
    let pattern = unescape(pattern, ".[]{}()*+?^$|").map_err(|c| {
        format!("`replaceAll`: the pattern's `{c}` is not supported (only literal text)")
    })?;
    let replacement = unescape(replacement, "$")
        .map_err(|c| format!("`replaceAll`: the replacement's `{c}` is not supported"))?;
    if pattern.is_empty() {
        return Err("`replaceAll`: the pattern is empty".into());
    }
    Ok(text.replace(&pattern, &replacement))
}

/// Literal text from Java regex-style text: `\x` is `x`; a bare special character is an error.
fn unescape(text: &str, special: &str) -> Result<String, char> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) if !next.is_ascii_alphanumeric() => out.push(next),
                Some(next) => return Err(next),
                None => return Err('\\'),
            },
            c if special.contains(c) => return Err(c),
            c => out.push(c),
        }
    }
    Ok(out)
}
