//! How library code hears "stop" and says how far it got, without printing: a cancel token passed in by the caller
//! and one event channel (`Observer`) that the binary renders as a bar on a terminal or plain lines in a batch log.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// A cancel request shared between the caller (a signal handler, a Python Ctrl-C, a test) and a running stage.
/// Stages check it between short units of work, so a request is seen within seconds.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<(AtomicU32, AtomicBool)>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the stage to stop. Returns how many requests there were before this one (0 for the first), so a
    /// signal handler can exit at once on the second.
    pub fn cancel(&self) -> u32 {
        self.0 .0.fetch_add(1, Ordering::SeqCst)
    }

    pub fn is_cancelled(&self) -> bool {
        let cancelled = self.0 .0.load(Ordering::SeqCst) > 0;
        if cancelled {
            self.0 .1.store(true, Ordering::SeqCst);
        }
        cancelled
    }

    /// Whether a stage has looked at the token since it was cancelled (and so is stopping): a signal handler
    /// exits at once when nothing does (a command blocked reading a FIFO, a stage between checks for long).
    pub fn seen(&self) -> bool {
        self.0 .1.load(Ordering::SeqCst)
    }

    /// `Err(Error::Interrupted)` once cancelled.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// What a stage tells its caller while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    /// A long piece of work starts: `total` units of `what` (e.g. "replica-steps").
    Begin { what: &'a str, total: u64 },
    /// `n` more units done.
    Advance(u64),
    /// A short status shown beside the bar (e.g. "chunk 2/4").
    Status(&'a str),
    /// A line for the user (e.g. a per-epoch summary, a stage that is skipped).
    Note(&'a str),
    /// Something the user should know that does not stop the run (a replica that blew up).
    Warn(&'a str),
    /// The piece of work started by the last `Begin` ended.
    End,
}

/// The one channel from library to caller. The binary renders it; tests and Python may record or ignore it.
pub trait Observer: Send + Sync {
    fn event(&self, e: Event<'_>);
}

/// Drops every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: Event<'_>) {}
}

/// Keeps the `Note` and `Warn` lines (for tests and callers that want the messages as data).
#[derive(Debug, Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<String>>);

impl Recorder {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Observer for Recorder {
    fn event(&self, e: Event<'_>) {
        let line = match e {
            Event::Note(s) => s.to_string(),
            Event::Warn(s) => format!("warning: {s}"),
            _ => return,
        };
        if let Ok(mut l) = self.0.lock() {
            l.push(line);
        }
    }
}

/// What every long stage takes from its caller: where to send events and how to hear a cancel.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub observer: &'a dyn Observer,
    pub cancel: &'a Cancel,
}

impl<'a> Ctx<'a> {
    pub fn new(observer: &'a dyn Observer, cancel: &'a Cancel) -> Ctx<'a> {
        Ctx { observer, cancel }
    }

    pub fn note(&self, line: &str) {
        self.observer.event(Event::Note(line));
    }

    pub fn warn(&self, line: &str) {
        self.observer.event(Event::Warn(line));
    }
}

/// A silent, never-cancelled context (tests, one-off library calls).
pub fn quiet() -> Ctx<'static> {
    static CANCEL: std::sync::OnceLock<Cancel> = std::sync::OnceLock::new();
    Ctx {
        observer: &Silent,
        cancel: CANCEL.get_or_init(Cancel::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_counts_requests_and_check_fails_after_the_first() {
        let c = Cancel::new();
        assert!(c.check().is_ok());
        assert_eq!(c.clone().cancel(), 0);
        assert!(!c.seen());
        assert_eq!(c.cancel(), 1);
        assert!(!c.seen(), "not looked at yet");
        assert!(matches!(c.check(), Err(crate::Error::Interrupted)));
        assert!(c.seen());
    }

    #[test]
    fn recorder_keeps_notes_and_warnings_only() {
        let r = Recorder::default();
        r.event(Event::Begin {
            what: "x",
            total: 3,
        });
        r.event(Event::Note("a"));
        r.event(Event::Warn("b"));
        assert_eq!(r.lines(), vec!["a".to_string(), "warning: b".to_string()]);
    }
}
