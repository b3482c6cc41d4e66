//! Human-written durations ("30s", "5m") and sizes ("32MiB") as they appear in routes.toml.

use std::time::Duration;

/// Parses a duration such as `"30s"`, `"250ms"`, `"1h 30m"` or `"7d"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("invalid duration `{text}`: {err}"))
}

/// Parses a size such as `"256KiB"`, `"32MiB"` or `"1000"` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|err| format!("invalid size `{text}`: {err}"))
}

/// Formats a duration the way routes.toml spells it, for messages.
pub fn show_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
    }

    #[test]
    fn a_duration_in_unknown_units_names_the_unit() {
        let err = parse_duration("30 parsecs").unwrap_err();
        assert!(err.starts_with("invalid duration `30 parsecs`: "), "{err}");
        assert!(err.contains("parsecs"), "{err}");
    }

    #[test]
    fn sizes_read_in_binary_and_decimal_units() {
        assert_eq!(parse_size("256KiB"), Ok(256 * 1024));
        assert_eq!(parse_size("32MiB"), Ok(32 * 1024 * 1024));
        assert_eq!(parse_size("1kB"), Ok(1000));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("lots").is_err());
    }
}
