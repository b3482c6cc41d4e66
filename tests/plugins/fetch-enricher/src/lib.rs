//! An enricher that fetches its config's `url` over wasi:http and adds the response body to
//! each event as `fetched`; a failed request fails the batch with the error. An event whose
//! payload says `"do": "bad-json"` comes back as text that is not JSON.

wit_bindgen::generate!({ path: "../../../wit", world: "enricher" });

use switchyard::plugin::config;

struct Fetch;

impl Guest for Fetch {
    fn enrich(events: Vec<Event>) -> Result<Vec<Event>, Error> {
        let url =
            config::get("url").ok_or_else(|| Error::Invalid("config `url` is not set".into()))?;
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let mut payload: serde_json::Value =
                serde_json::from_str(&event.payload).map_err(|e| Error::Invalid(e.to_string()))?;
            if payload["do"] == "bad-json" {
                out.push(Event {
                    id: event.id,
                    payload: "{not json".into(),
                });
                continue;
            }
            let response = waki::Client::new()
                .get(&url)
                .send()
                .map_err(|err| Error::Failed(format!("GET {url}: {err}")))?;
            let body = response
                .body()
                .map_err(|err| Error::Failed(format!("GET {url}: {err}")))?;
            payload["fetched"] =
                serde_json::Value::String(String::from_utf8_lossy(&body).into_owned());
            out.push(Event {
                id: event.id,
                payload: payload.to_string(),
            });
        }
        Ok(out)
    }
}

export!(Fetch);
