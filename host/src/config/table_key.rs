//! A table's key attributes as routes.toml declares them: `key` and `sort_key`, each a name or
//! `{ name, type, generated }`.

use toml::Spanned;

use super::checker::{Checker, list};
use super::raw;
use super::{Generated, KeyAttribute, KeyType};

/// Attributes the API changes on every write of an item, so that no key may be one of them.
const CHANGING_ATTRIBUTES: [&str; 2] = ["version", "updatedAt"];

impl Checker<'_> {
    /// A key attribute: a name (a string key), or `{ name, type, generated }`. The attributes
    /// the API changes on every write cannot be keys; `createdAt`, set once, can.
    pub(super) fn key_attribute(
        &mut self,
        key: &str,
        spec: &Spanned<raw::KeySpec>,
        sort: bool,
    ) -> KeyAttribute {
        let span = spec.span();
        let (name, kind, generated) = match spec.get_ref() {
            raw::KeySpec::Name(name) => (name.clone(), None, None),
            raw::KeySpec::Attribute(a) => (a.name.clone(), a.kind.clone(), a.generated.clone()),
        };
        if name.is_empty() || CHANGING_ATTRIBUTES.contains(&name.as_str()) {
            self.report(
                key.to_string(),
                span.clone(),
                format!(
                    "`{name}` cannot be a key attribute: it must be non-empty and not one of {}",
                    list(&CHANGING_ATTRIBUTES)
                ),
            );
        }
        let kind = match kind.as_deref() {
            None | Some("S") => KeyType::S,
            Some("N") => KeyType::N,
            Some(other) => {
                let why = if other == "B" {
                    " (binary keys are not supported)"
                } else {
                    ""
                };
                self.report(
                    format!("{key}.type"),
                    span.clone(),
                    format!("unknown key type `{other}`{why}; expected `S` or `N`"),
                );
                KeyType::S
            }
        };
        let generated = match generated.as_deref() {
            // A string partition key is a UUID when a create leaves it out, and a key named
            // `createdAt` is the item's creation time, as the API writes it.
            None if name == "createdAt" => Some(Generated::Timestamp),
            None if !sort && kind == KeyType::S => Some(Generated::Uuid),
            None => None,
            Some("uuid") => Some(Generated::Uuid),
            Some("timestamp") => Some(Generated::Timestamp),
            Some(other) => {
                self.report(
                    format!("{key}.generated"),
                    span.clone(),
                    format!("unknown `generated` value `{other}`; expected `uuid` or `timestamp`"),
                );
                None
            }
        };
        if generated.is_some() && kind == KeyType::N {
            self.report(
                format!("{key}.generated"),
                span,
                "a generated key is text: its `type` must be `S`".to_string(),
            );
        }
        KeyAttribute {
            name,
            kind,
            generated,
        }
    }
}
