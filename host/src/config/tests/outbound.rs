//! A plugin's outgoing requests: the hosts it may call and how long each request may wait.

use std::time::Duration;

use super::{compile_text, problems};
use crate::config::OutboundLimits;

#[test]
fn outbound_limits_have_defaults_and_each_can_be_set() {
    let consumer = "[plugins.c]\nworld = \"consumer\"\nwasm = \"c.wasm\"\n";
    let config = compile_text(consumer).unwrap();
    assert_eq!(
        config.plugins[0].outbound,
        OutboundLimits {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(10),
            between_bytes: Duration::from_secs(10),
        }
    );
    let config = compile_text(&format!(
        "{consumer}outbound_connect_timeout = \"250ms\"\noutbound_first_byte_timeout = \"2s\"\noutbound_between_bytes_timeout = \"1m\"\n"
    ))
    .unwrap();
    assert_eq!(
        config.plugins[0].outbound,
        OutboundLimits {
            connect: Duration::from_millis(250),
            first_byte: Duration::from_secs(2),
            between_bytes: Duration::from_secs(60),
        }
    );
}

#[test]
fn outbound_limits_out_of_range_or_on_a_filter_are_refused_at_their_line() {
    let text = r#"[plugins.e]
world = "enricher"
wasm = "e.wasm"
outbound_connect_timeout = "0s"
outbound_first_byte_timeout = "soon"
outbound_between_bytes_timeout = "16m"

[plugins.f]
world = "filter"
wasm = "f.wasm"
outbound_first_byte_timeout = "1s"
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:4:28: plugins.e.outbound_connect_timeout: `0s` is out of range: it must be from 1ms to 15m",
            "routes.toml:5:31: plugins.e.outbound_first_byte_timeout: invalid duration `soon`: expected number at 0",
            "routes.toml:6:34: plugins.e.outbound_between_bytes_timeout: `16m` is out of range: it must be from 1ms to 15m",
            "routes.toml:11:31: plugins.f.outbound_first_byte_timeout: a filter cannot make outgoing requests: only enrichers and consumers may have `outbound_first_byte_timeout`",
        ]
    );
}
