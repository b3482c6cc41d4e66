//! The tokio runtime that plugins' host calls (WASI's clocks and poll, wasi:http) run on, apart
//! from the host's. A plugin call blocks its thread, whichever that is (a blocking task's, or an
//! async runtime's in `switchyard test`), while this runtime's one thread drives the call's
//! timers and sockets.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

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

    /// Runs `work` to its end on this thread, its timers and sockets on the plugins' runtime;
    /// `None` when it is still waiting at `deadline`, and then it is dropped where it waits.
    pub(super) fn run_until<F: Future>(&self, deadline: Instant, work: F) -> Option<F::Output> {
        let _io = self.0.as_ref().map(|runtime| runtime.enter());
        let mut work = pin!(work);
        // Most calls never wait in a host call: they end in their first poll, and cost no timer.
        let first = work.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        if let Poll::Ready(done) = first {
            return Some(done);
        }
        futures::executor::block_on(tokio::time::timeout_at(deadline.into(), work)).ok()
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
