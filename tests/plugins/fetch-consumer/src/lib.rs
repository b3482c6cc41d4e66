//! A consumer that fetches the `url` each message names over wasi:http and reads the whole
//! response: a 2xx answer is `ok`, any other status dead-letters the message with it, and a
//! request that fails fails the batch with the guest-side error, naming the request. A message
//! with `sleep_ms` instead sleeps that long (a host call: WASI's monotonic clock) and is `ok`.

wit_bindgen::generate!({ path: "../../../wit", world: "consumer" });

struct Fetch;

impl Guest for Fetch {
    fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
        messages.iter().map(fetch).collect()
    }
}

fn fetch(message: &Message) -> Result<Outcome, Error> {
    let body: serde_json::Value = serde_json::from_str(&message.body)
        .map_err(|err| Error::Invalid(format!("message {}: {err}", message.id)))?;
    if let Some(ms) = body["sleep_ms"].as_u64() {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        return Ok(Outcome::Ok);
    }
    let Some(url) = body["url"].as_str() else {
        return Err(Error::Invalid(format!(
            "message {} names no `url`",
            message.id
        )));
    };
    let response = waki::Client::new()
        .get(url)
        .send()
        .map_err(|err| Error::Failed(format!("GET {url}: {err}")))?;
    let status = response.status_code();
    response
        .body()
        .map_err(|err| Error::Failed(format!("GET {url}: reading the body: {err}")))?;
    if (200..300).contains(&status) {
        Ok(Outcome::Ok)
    } else {
        Ok(Outcome::DeadLetter(format!("GET {url}: status {status}")))
    }
}

export!(Fetch);
