//! Log lines as the host's formatter writes them, captured for tests that check what a line
//! names (the spans it was logged in and their fields), without running the host.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, Mutex, Once, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// What was logged on this thread since [`Captured::start`], until the guard is dropped.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

thread_local! {
    /// Where this thread's log lines go while a test captures them.
    static CAPTURING: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Ends a capture when dropped.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.borrow_mut().take());
    }
}

impl Captured {
    /// Captures every log line of this thread (a current-thread runtime's tasks included).
    ///
    /// One process-wide formatter sends each line to the capture of the thread that logged it.
    /// A subscriber per thread (`set_default`) would be simpler, but tracing caches whether a
    /// span or event is wanted once per call site for all threads, and a call site first met
    /// on a thread without a subscriber could be cached as unwanted, and then missed.
    pub fn start() -> (Captured, Guard) {
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(ThisThread)
                .with_ansi(false)
                .finish();
            // A test binary that set its own global subscriber keeps it.
            let _ = tracing::subscriber::set_global_default(subscriber);
        });
        let captured = Captured::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(captured.clone()));
        (captured, Guard(()))
    }

    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The one line that says `message`.
    pub fn line(&self, message: &str) -> String {
        let lines = self.lines();
        let found: Vec<&String> = lines.iter().filter(|l| l.contains(message)).collect();
        match found[..] {
            [line] => line.clone(),
            _ => panic!("not one line says {message:?}: {lines:#?}"),
        }
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The writer of the process-wide formatter: the capture of the thread that logs, if any.
struct ThisThread;

impl io::Write for ThisThread {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        CAPTURING.with(|c| match c.borrow_mut().as_mut() {
            Some(captured) => captured.write(buf),
            None => Ok(buf.len()),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for ThisThread {
    type Writer = ThisThread;

    fn make_writer(&'a self) -> ThisThread {
        ThisThread
    }
}
