//! A guest's stdout and stderr: captured in a bounded buffer per instance and written to the
//! host's log after each invocation, never to the host's own stdout.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Most bytes kept per stream between two drains; the rest is counted and dropped.
const CAPACITY: usize = 16 * 1024;

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Buffer>>);

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Captured {
    fn push(&self, data: &[u8]) {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let room = CAPACITY.saturating_sub(buffer.bytes.len());
        let kept = data.len().min(room);
        buffer.bytes.extend_from_slice(&data[..kept]);
        buffer.dropped += data.len() - kept;
    }

    /// The complete lines written since the last drain (a partial last line too), and how
    /// many bytes were dropped past the capacity.
    pub fn drain(&self) -> (Vec<String>, usize) {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8_lossy(&buffer.bytes).into_owned();
        let dropped = buffer.dropped;
        *buffer = Buffer::default();
        (
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from)
                .collect(),
            dropped,
        )
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: what does not fit is dropped, so a chatty guest never blocks or traps.
        Ok(CAPACITY)
    }
}

#[async_trait::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_kept_by_line_up_to_the_capacity() {
        let captured = Captured::default();
        captured.push(b"one\ntwo\n\npartial");
        assert_eq!(
            captured.drain(),
            (vec!["one".to_string(), "two".into(), "partial".into()], 0)
        );
        captured.push(&vec![b'x'; CAPACITY + 10]);
        let (lines, dropped) = captured.drain();
        assert_eq!((lines[0].len(), dropped), (CAPACITY, 10));
        assert_eq!(captured.drain(), (vec![], 0), "draining empties the buffer");
    }
}
