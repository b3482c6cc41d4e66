//! A filter that misbehaves as each event asks, to prove the host survives it. The payload's
//! `do` (or a stream record's `NewImage.do`) says what to do: `loop`, `sleep` (10 s in a host
//! call), `hog` (allocate without end), `panic`, `error`, `invalid`, `count` (keep only on an
//! instance's first call), `print`, or anything else to keep the event.

wit_bindgen::generate!({ path: "../../../wit", world: "filter" });

use std::sync::atomic::{AtomicU64, Ordering};

use switchyard::plugin::log;

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Faults;

impl Guest for Faults {
    fn keep(event: Event) -> Result<bool, Error> {
        let payload: serde_json::Value =
            serde_json::from_str(&event.payload).map_err(|e| Error::Invalid(e.to_string()))?;
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        // `do` sits at the top of a test event, or in a stream record's NewImage.
        let asked = payload["do"].as_str().or_else(|| {
            payload
                .pointer("/dynamodb/NewImage/do/S")
                .and_then(|v| v.as_str())
        });
        match asked.unwrap_or("keep") {
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(10));
                Ok(true)
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the event asked for a panic"),
            "error" => Err(Error::Failed("the event asked for an error".into())),
            "invalid" => Err(Error::Invalid(
                "the event asked to be called invalid".into(),
            )),
            "count" => Ok(calls == 1),
            "print" => {
                println!("hello from the guest's stdout");
                eprintln!("and from its stderr");
                log::log(
                    log::Level::Warn,
                    "a structured line",
                    &[("event".into(), event.id.clone())],
                );
                Ok(true)
            }
            _ => Ok(true),
        }
    }
}

export!(Faults);
