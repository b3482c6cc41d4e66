//! The three WIT worlds, as the runtime needs them: the export each must have, and how its
//! pre-instantiated component becomes an instance.

use std::future::Future;

use wasmtime::Store;

use super::bindings::{self, State};
use crate::config::World;

/// A WIT world, as the runtime needs it.
pub trait PluginWorld {
    const WORLD: World;
    /// The function the world exports.
    const EXPORT: &'static str;
    type Pre: Send + Sync;
    type Bindings: Send;
    fn pre(pre: wasmtime::component::InstancePre<State>) -> wasmtime::Result<Self::Pre>;
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<State>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + 'a;
}

pub struct FilterWorld;
pub struct EnricherWorld;
pub struct ConsumerWorld;

impl PluginWorld for FilterWorld {
    const WORLD: World = World::Filter;
    const EXPORT: &'static str = "keep";
    type Pre = bindings::filter::FilterPre<State>;
    type Bindings = bindings::filter::Filter;
    fn pre(pre: wasmtime::component::InstancePre<State>) -> wasmtime::Result<Self::Pre> {
        Self::Pre::new(pre)
    }
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<State>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + 'a {
        pre.instantiate_async(store)
    }
}

impl PluginWorld for EnricherWorld {
    const WORLD: World = World::Enricher;
    const EXPORT: &'static str = "enrich";
    type Pre = bindings::enricher::EnricherPre<State>;
    type Bindings = bindings::enricher::Enricher;
    fn pre(pre: wasmtime::component::InstancePre<State>) -> wasmtime::Result<Self::Pre> {
        Self::Pre::new(pre)
    }
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<State>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + 'a {
        pre.instantiate_async(store)
    }
}

impl PluginWorld for ConsumerWorld {
    const WORLD: World = World::Consumer;
    const EXPORT: &'static str = "handle";
    type Pre = bindings::consumer::ConsumerPre<State>;
    type Bindings = bindings::consumer::Consumer;
    fn pre(pre: wasmtime::component::InstancePre<State>) -> wasmtime::Result<Self::Pre> {
        Self::Pre::new(pre)
    }
    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<State>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + 'a {
        pre.instantiate_async(store)
    }
}
