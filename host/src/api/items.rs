//! A table's items over HTTP: create (with `Idempotency-Key`), read, replace and merge-patch
//! (with `If-Match`), delete, and paging. The table's JSON Schema guards every write.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{ApiError, App};
use crate::backend::{Idempotency, Item, Page, Store, Write, Written};
use crate::config::{Generated, Key, KeySchema, KeyValue, Schema, TableId};
use crate::value::{self, AttributeValue, Image, PlainError, ValueError};

const MAX_KEY_LEN: usize = 255;
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
/// Largest oversized body read and discarded so that its client gets the 413.
const DRAIN_LIMIT: usize = 64 << 20;

/// Everything a table's handlers need, resolved once at start-up.
struct TableApi {
    id: TableId,
    /// The key attributes, e.g. `orderId`, or `id` and `createdAt`.
    key: KeySchema,
    path: String,
    schema: Option<Schema>,
    max_body: usize,
    store: Arc<dyn Store>,
}

type Table = State<Arc<TableApi>>;

pub(super) fn routes(app: &App, id: TableId) -> Router {
    let table = &app.config[id];
    let api = TableApi {
        id,
        key: table.key.clone(),
        path: table.path.clone(),
        schema: table.schema.clone(),
        max_body: app.config.host.max_body,
        store: app.store.clone(),
    };
    let item = get(read).put(replace).patch(patch).delete(remove);
    let router = Router::new().route(&table.path, get(list).post(create));
    let router = match &table.key.sort {
        None => router.route(&format!("{}/{{key}}", table.path), item),
        Some(_) => router
            .route(&format!("{}/{{partition}}", table.path), get(query))
            .route(&format!("{}/{{partition}}/{{sort}}", table.path), item),
    };
    router.with_state(Arc::new(api))
}

async fn create(State(t): Table, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let mut doc = read_object(&t, &headers, body).await?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(Idempotency {
            key: idempotency_key(value)?,
            fingerprint: fingerprint(&doc),
        }),
    };
    let now = timestamp();
    for attribute in t.key.attributes() {
        if !doc.contains_key(&attribute.name) {
            let generated = match attribute.generated {
                None => continue,
                Some(Generated::Uuid) => uuid::Uuid::now_v7().to_string(),
                Some(Generated::Timestamp) => now.clone(),
            };
            doc.insert(attribute.name.clone(), Value::String(generated));
        }
    }
    let key = t.key_of(&doc)?;
    doc.insert("version".into(), json!(1));
    if !t.key.is_key("createdAt") {
        doc.insert("createdAt".into(), Value::String(now.clone()));
    }
    doc.insert("updatedAt".into(), Value::String(now));
    let doc = t.validate(doc)?;

    let item = Item::from_plain(key, 1, &doc).map_err(invalid_value)?;
    let ours = idempotency.as_ref().map(|i| i.fingerprint.clone());
    match t
        .store
        .write(t.id, Write::Create { item, idempotency })
        .await?
    {
        Written::Replayed { fingerprint, item } if Some(&fingerprint) == ours.as_ref() => {
            let mut response = t.created(item);
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(response)
        }
        Written::Replayed { .. } => Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            message: "this Idempotency-Key was already used with a different request body".into(),
        }),
        written => Ok(t.created(written_item(written))),
    }
}

async fn read(State(t): Table, Path(path): Path<Vec<String>>) -> Result<Response, ApiError> {
    let key = t.key_in(&path)?;
    let item = t.current(&key).await?;
    Ok(with_etag(StatusCode::OK, item))
}

async fn replace(
    State(t): Table,
    Path(path): Path<Vec<String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (current, doc) = t.update_request(&path, &headers, body).await?;
    let image = value::image_of(&doc).map_err(invalid_value)?;
    t.update(current, image).await
}

async fn patch(
    State(t): Table,
    Path(path): Path<Vec<String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (current, changes) = t.update_request(&path, &headers, body).await?;
    // RFC 7396: the patch is merged into the stored item; `null` removes a member. What it
    // does not name keeps its DynamoDB type (a set stays a set).
    let mut merged = current.image().clone();
    value::merge_patch(&mut merged, &changes).map_err(invalid_value)?;
    t.update(current, merged).await
}

async fn remove(
    State(t): Table,
    Path(path): Path<Vec<String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = t.key_in(&path)?;
    let expected_version = match IfMatch::optional(&headers)? {
        None => None,
        Some(condition) => {
            let current = t.current(&key).await?;
            condition.check(&current)?;
            Some(current.version())
        }
    };
    t.store
        .write(
            t.id,
            Write::Delete {
                key,
                expected_version,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(t): Table,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (limit, after) = t.page_params(params)?;
    let page = t.store.list(t.id, after.as_ref(), limit).await?;
    Ok(page_response(page))
}

/// One partition's items in sort-key order, as DynamoDB's Query gives them.
async fn query(
    State(t): Table,
    Path(partition): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let partition = t
        .key
        .partition
        .parse(&partition)
        .map_err(|message| ApiError::bad_request("invalid_key", message))?;
    let (limit, after) = t.page_params(params)?;
    let page = t
        .store
        .query(t.id, &partition, after.as_ref(), limit)
        .await?;
    Ok(page_response(page))
}

fn page_response(page: Page) -> Response {
    let next = page
        .next_after
        .map(|key| URL_SAFE_NO_PAD.encode(key.storage()));
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|item| Value::Object(item.plain()))
        .collect();
    axum::Json(json!({"items": items, "nextCursor": next})).into_response()
}

impl TableApi {
    /// A page's size and where it starts, from `?limit=&cursor=`.
    fn page_params(
        &self,
        params: Result<Query<ListParams>, QueryRejection>,
    ) -> Result<(usize, Option<Key>), ApiError> {
        let Query(params) =
            params.map_err(|err| ApiError::bad_request("invalid_query", err.body_text()))?;
        let limit = match params.limit.as_deref() {
            None | Some("") => DEFAULT_PAGE,
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("`limit` must be a whole number from 1 to {MAX_PAGE}"),
                    )
                })?,
        };
        let after = match params.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .map(|text| self.key.from_storage(&text))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_query",
                            "`cursor` is not a cursor this API returned",
                        )
                    })?,
            ),
        };
        Ok((limit, after))
    }

    /// The key a URL path names: the partition key's text, then the sort key's.
    fn key_in(&self, path: &[String]) -> Result<Key, ApiError> {
        let invalid = |message| ApiError::bad_request("invalid_key", message);
        let (partition, sort) = match path {
            [partition] => (partition, None),
            [partition, sort] => (partition, Some(sort.as_str())),
            _ => return Err(invalid("the path does not name an item".to_string())),
        };
        let key = self.key.parse(partition, sort).map_err(invalid)?;
        self.check_key(&key)?;
        Ok(key)
    }

    /// The key an item's body holds, if it is one the API can address.
    fn key_of(&self, doc: &Map<String, Value>) -> Result<Key, ApiError> {
        let key = self
            .key
            .key_of(doc)
            .map_err(|message| ApiError::bad_request("invalid_key", message))?;
        self.check_key(&key)?;
        Ok(key)
    }

    /// String keys travel in URL paths, so they keep to characters that need no escaping.
    fn check_key(&self, key: &Key) -> Result<(), ApiError> {
        let values = std::iter::once(&key.partition).chain(&key.sort);
        for (attribute, value) in self.key.attributes().zip(values) {
            if let KeyValue::S(text) = value {
                check_key(&attribute.name, text)?;
            }
        }
        Ok(())
    }

    /// Checks a PUT or PATCH: the key, `If-Match` against the stored item, and the body.
    async fn update_request(
        &self,
        path: &[String],
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(Item, Map<String, Value>), ApiError> {
        let key = self.key_in(path)?;
        let condition = IfMatch::required(headers)?;
        let doc = read_object(self, headers, body).await?;
        let current = self.current(&key).await?;
        condition.check(&current)?;
        Ok((current, doc))
    }

    async fn current(&self, key: &Key) -> Result<Item, ApiError> {
        self.store
            .get(self.id, key)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no item with key `{key}`")))
    }

    /// Writes `image` as the next version of `current`, keeping the attributes the server owns.
    async fn update(&self, current: Item, mut image: Image) -> Result<Response, ApiError> {
        for (name, value) in self.key.image(current.key()) {
            match image.get(&name) {
                None => {}
                Some(given) if value::compare(given, &value) == Some(Ordering::Equal) => {}
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "key_mismatch",
                        format!(
                            "`{name}` cannot change; it must be `{}` or absent",
                            value.to_plain()
                        ),
                    ));
                }
            }
            image.insert(name, value);
        }
        let version = current.version() + 1;
        image.insert("version".into(), AttributeValue::N(version.to_string()));
        let created = current.image().get("createdAt").cloned();
        image.insert(
            "createdAt".into(),
            created.unwrap_or(AttributeValue::Null(true)),
        );
        image.insert("updatedAt".into(), AttributeValue::S(timestamp()));
        self.validate(value::plain_of(&image))?;
        let item = Item::new(current.key().clone(), version, image);
        let written = self
            .store
            .write(
                self.id,
                Write::Replace {
                    item,
                    expected_version: current.version(),
                },
            )
            .await?;
        Ok(with_etag(StatusCode::OK, written_item(written)))
    }

    /// The document back if the table's schema accepts it (it is moved, never copied).
    fn validate(&self, doc: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
        let Some(schema) = &self.schema else {
            return Ok(doc);
        };
        let value = Value::Object(doc);
        let problems = schema.problems(&value);
        if problems.is_empty() {
            let Value::Object(doc) = value else {
                unreachable!("wrapped as an object just above")
            };
            return Ok(doc);
        }
        Err(ApiError::Unprocessable {
            code: "schema_violation",
            message: problems.join("; "),
        })
    }

    fn created(&self, item: Item) -> Response {
        let location = HeaderValue::from_str(&format!("{}/{}", self.path, item.key()));
        let mut response = with_etag(StatusCode::CREATED, item);
        if let Ok(location) = location {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

fn written_item(written: Written) -> Item {
    match written {
        Written::Created(item)
        | Written::Replaced(item)
        | Written::Deleted(item)
        | Written::Put { item, .. }
        | Written::Replayed { item, .. } => item,
    }
}

/// The item as the response body, with its version as the ETag. The store's own text of the
/// body is sent when it came with the item; the body is serialized only when it did not.
fn with_etag(status: StatusCode, item: Item) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", item.version()));
    let json = HeaderValue::from_static("application/json");
    let text = value::plain_text(item.image());
    let mut response = (status, [(header::CONTENT_TYPE, json)], text).into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Reads the request body as one JSON object, with the errors the README documents.
async fn read_object(
    t: &TableApi,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json")))
    {
        let got = if content_type.is_empty() {
            "none".to_string()
        } else {
            format!("`{content_type}`")
        };
        return Err(ApiError::UnsupportedMediaType(format!(
            "expected `Content-Type: application/json`, got {got}"
        )));
    }
    let bytes = read_limited(body, t.max_body).await?;
    value::parse_object(&bytes).map_err(|err| match err {
        PlainError::NotAnObject => {
            ApiError::bad_request("not_an_object", "the request body must be a JSON object")
        }
        PlainError::Malformed(err) => ApiError::bad_request(
            "malformed_json",
            format!("the request body is not valid JSON: {err}"),
        ),
        PlainError::Duplicate(err) => ApiError::bad_request(
            "duplicate_member",
            format!("the request body is ambiguous: {err}"),
        ),
    })
}

/// A value DynamoDB could not hold (a number beyond 38 digits, nesting beyond 32 levels).
fn invalid_value(err: ValueError) -> ApiError {
    ApiError::bad_request("invalid_value", err.to_string())
}

/// Reads at most `limit` bytes of body. A larger body is read on and thrown away (up to
/// [`DRAIN_LIMIT`]) before the 413 goes out: a server that answers and closes while the client
/// is still sending makes the client's TCP stack drop the answer with a reset.
pub(super) async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let unreadable =
        || ApiError::bad_request("unreadable_body", "the request body could not be read");
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| unreadable())?.into_data() else {
            continue;
        };
        seen += data.len();
        if seen > DRAIN_LIMIT.max(limit) {
            break;
        }
        if seen <= limit {
            bytes.extend_from_slice(&data);
        }
    }
    if seen > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

/// Keys travel in URL paths, so they keep to characters that need no escaping.
fn check_key(attribute: &str, key: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_KEY_LEN).contains(&key.len())
        && !key.contains("..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        return Ok(());
    }
    let shown: String = key.chars().take(64).collect();
    Err(ApiError::bad_request(
        "invalid_key",
        format!(
            "`{attribute}` must be 1 to {MAX_KEY_LEN} letters, digits, `-`, `_`, `.` or `:`, without `..`; got {shown:?}"
        ),
    ))
}

fn idempotency_key(value: &HeaderValue) -> Result<String, ApiError> {
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "`Idempotency-Key` must be 1 to 255 visible ASCII characters",
            )
        })
}

/// Identifies a request body regardless of its whitespace and member order.
fn fingerprint(doc: &Map<String, Value>) -> String {
    let canonical = serde_json::to_string(doc).unwrap_or_default();
    format!("{:x}", Sha256::digest(canonical.as_bytes()))
}

/// `If-Match` as RFC 9110 gives it: `*`, or a list of entity tags (`"3"`, `W/"3"`; a bare `3`
/// is accepted too).
enum IfMatch {
    Any,
    Versions(Vec<u64>),
}

impl IfMatch {
    fn optional(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
        let Some(value) = headers.get(header::IF_MATCH) else {
            return Ok(None);
        };
        let text = value
            .to_str()
            .map_err(|_| ApiError::bad_request("invalid_if_match", "`If-Match` must be ASCII"))?;
        if text.trim() == "*" {
            return Ok(Some(IfMatch::Any));
        }
        let versions = text
            .split(',')
            .filter_map(|tag| {
                tag.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .parse()
                    .ok()
            })
            .collect();
        Ok(Some(IfMatch::Versions(versions)))
    }

    fn required(headers: &HeaderMap) -> Result<IfMatch, ApiError> {
        IfMatch::optional(headers)?.ok_or_else(|| {
            ApiError::PreconditionRequired(
                "this write needs `If-Match` with the item's version (its ETag)".into(),
            )
        })
    }

    fn check(&self, item: &Item) -> Result<(), ApiError> {
        match self {
            IfMatch::Versions(versions) if !versions.contains(&item.version()) => {
                Err(ApiError::PreconditionFailed(format!(
                    "item `{}` is at version {}, which `If-Match` does not name; read it again and retry",
                    item.key(),
                    item.version()
                )))
            }
            _ => Ok(()),
        }
    }
}

pub(crate) fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
