//! Switchyard: the transactional outbox pattern in one host. An HTTP API writes items and their
//! change records in one transaction; the records flow on through pipes, a bus and queues to
//! WebAssembly consumers. Modules follow the data path; each imports only those below it.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::type_complexity))]

pub mod api;
pub mod apigateway;
pub mod backend;
pub mod batching;
pub mod bus;
#[cfg(test)]
mod captured_logs;
pub mod cli;
pub mod config;
pub mod connections;
pub mod consumer;
pub mod import;
pub mod kit;
pub mod origin;
pub mod pattern;
pub mod pipe;
pub mod plugin;
pub mod record;
pub mod runtime;
pub mod server;
pub mod stages;
pub mod tap;
pub mod telemetry;
pub mod trace;
pub mod transform;
pub mod value;
