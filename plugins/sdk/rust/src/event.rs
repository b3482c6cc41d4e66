use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Envelope, Error, StreamRecord};

/// An event in a pipe with its id: stable across deliveries, so a consumer can de-duplicate on
/// it. An enricher returns the events it makes of its input with the ids of their input
/// (`event.map(...)`), so that an event delivered again keeps its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<T = Value> {
    pub id: String,
    pub payload: T,
}

impl<T> Event<T> {
    /// The same event with another payload.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Event<U> {
        Event {
            id: self.id,
            payload: f(self.payload),
        }
    }

    /// The same event with another payload, or the error making it failed with.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Event<U>, E> {
        Ok(Event {
            id: self.id,
            payload: f(self.payload)?,
        })
    }
}

/// What a plugin may take an event as: a [`StreamRecord`], an [`Envelope`], plain JSON
/// ([`Value`]), its JSON text ([`String`]), your own type ([`Json`]), or any of those with its
/// id ([`Event`]).
pub trait FromEvent: Sized {
    fn from_event(id: &str, payload: String) -> Result<Self, Error>;
}

/// A payload parsed as JSON into a type of your own.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

fn parse<T: DeserializeOwned>(id: &str, payload: &str) -> Result<T, Error> {
    serde_json::from_str(payload).map_err(|err| Error::Invalid(format!("event {id}: {err}")))
}

impl FromEvent for String {
    fn from_event(_: &str, payload: String) -> Result<String, Error> {
        Ok(payload)
    }
}

impl FromEvent for Value {
    fn from_event(id: &str, payload: String) -> Result<Value, Error> {
        parse(id, &payload)
    }
}

impl FromEvent for StreamRecord {
    fn from_event(id: &str, payload: String) -> Result<StreamRecord, Error> {
        parse(id, &payload)
    }
}

impl<T: DeserializeOwned> FromEvent for Envelope<T> {
    fn from_event(id: &str, payload: String) -> Result<Envelope<T>, Error> {
        parse(id, &payload)
    }
}

impl<T: DeserializeOwned> FromEvent for Json<T> {
    fn from_event(id: &str, payload: String) -> Result<Json<T>, Error> {
        parse(id, &payload).map(Json)
    }
}

impl<T: FromEvent> FromEvent for Event<T> {
    fn from_event(id: &str, payload: String) -> Result<Event<T>, Error> {
        Ok(Event {
            id: id.to_string(),
            payload: T::from_event(id, payload)?,
        })
    }
}

/// What an enricher may return: events with their ids, whose payload is written as JSON, or
/// handed on as it is when it is [`crate::json::JsonText`] already.
pub trait IntoEvent {
    /// The id and the JSON text.
    fn into_event(self) -> Result<(String, String), Error>;
}

impl IntoEvent for Event<crate::json::JsonText> {
    fn into_event(self) -> Result<(String, String), Error> {
        Ok((self.id, self.payload.0))
    }
}

impl<T: Serialize> IntoEvent for Event<T> {
    fn into_event(self) -> Result<(String, String), Error> {
        let text = serde_json::to_string(&self.payload)
            .map_err(|err| Error::Invalid(format!("event {}: {err}", self.id)))?;
        Ok((self.id, text))
    }
}
