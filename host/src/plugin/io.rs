//! The tokio runtime that plugins' host calls (WASI's clocks and poll, wasi:http) run on, apart
//! from the host's. A plugin call blocks its thread, whichever that is (a blocking task's, or an
//! async runtime's in `switchyard test`), while this runtime's one thread drives the call's
//! timers and sockets.

use std::future::Future;

pub(super) struct Io(Option<tokio::runtime::Runtime>);

impl Io {
    pub(super) fn start() -> std::io::Result<Io> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("switchyard-plugin-io")
            .enable_all()
            .build()?;
        Ok(Io(Some(runtime)))
    }

    /// Runs `work` to its end on this thread, its timers and sockets on the plugins' runtime.
    pub(super) fn block_on<F: Future>(&self, work: F) -> F::Output {
        let _io = self.0.as_ref().map(|runtime| runtime.enter());
        futures::executor::block_on(work)
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        // Without waiting: the plugins may be dropped on an async runtime's thread.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
