//! Runs library work off the calling thread with the GIL released, so Ctrl-C reaches Python: the calling thread
//! polls `check_signals` and cancels the work's `Cancel` token on KeyboardInterrupt, and forwards the library's
//! events to an optional Python progress callback (on the calling thread, so notebooks and tqdm behave).

use std::sync::mpsc;
use std::time::Duration;

use glasscam::events::{Cancel, Ctx, Event, Observer};
use pyo3::prelude::*;

use crate::errors::to_py;

/// An event the library sent, owned so it can cross threads.
enum Msg {
    Begin(String, u64),
    Advance(u64),
    Status(String),
    Note(String),
    Warn(String),
    End,
    Done,
}

struct Forward(mpsc::Sender<Msg>);

impl Observer for Forward {
    fn event(&self, e: Event<'_>) {
        let m = match e {
            Event::Begin { what, total } => Msg::Begin(what.to_string(), total),
            Event::Advance(n) => Msg::Advance(n),
            Event::Status(s) => Msg::Status(s.to_string()),
            Event::Note(s) => Msg::Note(s.to_string()),
            Event::Warn(s) => Msg::Warn(s.to_string()),
            Event::End => Msg::End,
        };
        // The receiver lives until the work is joined; a send can only fail after that.
        let _ = self.0.send(m);
    }
}

/// Calls `progress(kind, value)`: ("begin", (what, total)), ("advance", n), ("status" | "note" | "warn", text),
/// ("end", None).
fn deliver(py: Python<'_>, progress: &Bound<'_, PyAny>, m: Msg) -> PyResult<()> {
    match m {
        Msg::Begin(what, total) => progress.call1(("begin", (what, total))),
        Msg::Advance(n) => progress.call1(("advance", n)),
        Msg::Status(s) => progress.call1(("status", s)),
        Msg::Note(s) => progress.call1(("note", s)),
        Msg::Warn(s) => progress.call1(("warn", s)),
        Msg::End => progress.call1(("end", py.None())),
        Msg::Done => return Ok(()),
    }
    .map(|_| ())
}

/// Runs `work` on a worker thread with the GIL released; returns its result, or the KeyboardInterrupt (or the
/// progress callback's exception) that cancelled it. The work must check `ctx.cancel` between short units.
pub fn run_long<T, F>(py: Python<'_>, progress: Option<&Bound<'_, PyAny>>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Ctx) -> glasscam::Result<T> + Send,
{
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::channel::<Msg>();
    std::thread::scope(|s| {
        let cancel_ref = &cancel;
        let handle = s.spawn(move || {
            let fwd = Forward(tx);
            let r = work(&Ctx::new(&fwd, cancel_ref));
            let _ = fwd.0.send(Msg::Done);
            r
        });
        let mut raised: Option<PyErr> = None;
        let mut rx = Some(rx);
        loop {
            let r = rx.take().expect("receiver is put back every turn");
            let (r, got) = py.detach(move || {
                let got = r.recv_timeout(Duration::from_millis(50));
                (r, got)
            });
            rx = Some(r);
            let mut msgs = Vec::new();
            let mut done = false;
            match got {
                Ok(m) => msgs.push(m),
                Err(mpsc::RecvTimeoutError::Disconnected) => done = true,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(r) = rx.as_ref() {
                msgs.extend(r.try_iter());
            }
            for m in msgs {
                if matches!(m, Msg::Done) {
                    done = true;
                }
                if let (Some(p), None) = (progress, &raised) {
                    if let Err(e) = deliver(py, p, m) {
                        cancel.cancel();
                        raised = Some(e);
                    }
                }
            }
            if done || handle.is_finished() {
                break;
            }
            if raised.is_none() {
                if let Err(e) = py.check_signals() {
                    cancel.cancel();
                    raised = Some(e);
                }
            }
        }
        let result = py.detach(|| handle.join());
        match (result, raised) {
            (_, Some(e)) => Err(e),
            (Ok(r), None) => r.map_err(to_py),
            (Err(_), None) => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "glasscam: the computation panicked (a bug: please report it with the input)",
            )),
        }
    })
}
