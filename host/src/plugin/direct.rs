//! One instance held by its caller and called directly, the baseline that benchmarks compare
//! the runtime's calls with.

use std::sync::Arc;

use wasmtime::Store;

use super::bindings::State;
use super::io::Io;
use super::{Event, FilterWorld, GuestError, PluginError, PluginWorld, Runner, Warm};

/// An instance with no pool, no deadline and no output draining.
pub struct Direct<W: PluginWorld> {
    io: Arc<Io>,
    store: Store<State>,
    bindings: W::Bindings,
}

impl<W: PluginWorld> Runner<W> {
    /// A new instance for direct calls, with no deadline.
    pub fn direct(&self) -> Result<Direct<W>, PluginError> {
        let Warm {
            mut store,
            bindings,
            ..
        } = self.instantiate()?;
        store.set_epoch_deadline(u64::MAX / 2);
        Ok(Direct {
            io: self.io.clone(),
            store,
            bindings,
        })
    }
}

impl Direct<FilterWorld> {
    pub fn keep(&mut self, event: &Event) -> wasmtime::Result<Result<bool, GuestError>> {
        self.io
            .block_on(self.bindings.call_keep(&mut self.store, event))
    }
}
