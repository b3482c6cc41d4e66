//! The plugin's `config` table from routes.toml, read from the host once per instance (an
//! instance's config never changes) and parsed to the type asked for.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::Error;
use crate::bindings::switchyard::plugin::config as host;

/// Every key and value, as routes.toml set them.
pub fn all() -> &'static BTreeMap<String, String> {
    static ALL: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    ALL.get_or_init(|| host::get_all().into_iter().collect())
}

/// The text of `key`, if routes.toml sets it.
pub fn text(key: &str) -> Option<&'static str> {
    all().get(key).map(String::as_str)
}

/// `key` parsed as a `T`, if set; an error naming the key and the value when it does not parse.
pub fn get<T: FromStr>(key: &str) -> Result<Option<T>, Error> {
    let Some(text) = text(key) else {
        return Ok(None);
    };
    match text.parse() {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(Error::Invalid(format!(
            "config `{key}` = {text:?} is not {}",
            kind::<T>()
        ))),
    }
}

/// `key` parsed as a `T`, or `default` when it is not set.
pub fn get_or<T: FromStr>(key: &str, default: T) -> Result<T, Error> {
    Ok(get(key)?.unwrap_or(default))
}

/// `key` parsed as a `T`; an error when it is not set.
pub fn require<T: FromStr>(key: &str) -> Result<T, Error> {
    get(key)?.ok_or_else(|| Error::Invalid(format!("config `{key}` is not set in routes.toml")))
}

/// What a `T` is, for an error message.
fn kind<T>() -> String {
    let name = std::any::type_name::<T>();
    let name = name.rsplit("::").next().unwrap_or(name);
    match name {
        "f32" | "f64" => "a number".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of zero or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "bool" => "true or false".into(),
        other => format!("a valid {other}"),
    }
}
