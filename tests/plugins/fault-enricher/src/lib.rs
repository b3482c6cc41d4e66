//! An enricher that fails a batch holding a record that asks for it (a stream record whose
//! `NewImage.do` is `error`), and marks every other event `"enriched": true`.

wit_bindgen::generate!({ path: "../../../wit", world: "enricher" });

struct Faults;

impl Guest for Faults {
    fn enrich(events: Vec<Event>) -> Result<Vec<Event>, Error> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let mut payload: serde_json::Value =
                serde_json::from_str(&event.payload).map_err(|e| Error::Invalid(e.to_string()))?;
            if payload
                .pointer("/dynamodb/NewImage/do/S")
                .and_then(|v| v.as_str())
                == Some("error")
            {
                return Err(Error::Failed(format!(
                    "event {} asked the enricher to fail",
                    event.id
                )));
            }
            payload["enriched"] = serde_json::Value::Bool(true);
            out.push(Event {
                id: event.id,
                payload: payload.to_string(),
            });
        }
        Ok(out)
    }
}

export!(Faults);
