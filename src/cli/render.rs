//! Renders the library's events (`glasscam::events`) for a person: an indicatif bar on a terminal, and on anything
//! else (batch jobs, cluster logs) a plain progress line every half minute, since a bar would show nothing there.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use glasscam::events::{Event, Observer};

struct Work {
    bar: Option<indicatif::ProgressBar>,
    what: String,
    total: u64,
    pos: u64,
    start: Instant,
    last_line: Instant,
}

/// The binary's one observer; every command passes it to the library.
pub struct Console {
    terminal: bool,
    every: Duration,
    work: Mutex<Option<Work>>,
}

impl Console {
    pub fn new() -> Console {
        Console {
            terminal: std::io::stderr().is_terminal(),
            every: Duration::from_secs(30),
            work: Mutex::new(None),
        }
    }

    fn line(&self, work: &Option<Work>, text: &str) {
        match work.as_ref().and_then(|w| w.bar.as_ref()) {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Observer for Console {
    fn event(&self, e: Event<'_>) {
        let Ok(mut work) = self.work.lock() else {
            return;
        };
        match e {
            Event::Begin { what, total } => {
                if let Some(b) = work.take().and_then(|w| w.bar) {
                    b.finish_and_clear();
                }
                let bar = self.terminal.then(|| {
                    let b = indicatif::ProgressBar::new(total);
                    b.set_style(
                        indicatif::ProgressStyle::with_template(&format!(
                            "{{elapsed_precise}} [{{bar:30}}] {{percent}}% {what} {{human_pos}}/{{human_len}} \
                             ({{per_sec}}) {{msg}} ETA {{eta}}"
                        ))
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b
                });
                *work = Some(Work {
                    bar,
                    what: what.to_string(),
                    total,
                    pos: 0,
                    start: Instant::now(),
                    last_line: Instant::now(),
                });
            }
            Event::Advance(n) => {
                let Some(w) = work.as_mut() else { return };
                w.pos += n;
                match &w.bar {
                    Some(b) => b.inc(n),
                    None if w.last_line.elapsed() >= self.every => {
                        w.last_line = Instant::now();
                        let secs = w.start.elapsed().as_secs_f64();
                        let frac = w.pos as f64 / w.total.max(1) as f64;
                        let eta = if frac > 0.0 {
                            secs * (1.0 - frac) / frac
                        } else {
                            f64::NAN
                        };
                        eprintln!(
                            "progress: {:.1}% of {} {} ({:.3e}/s), elapsed {:.0} s, ETA {:.0} s",
                            100.0 * frac,
                            w.total,
                            w.what,
                            w.pos as f64 / secs.max(1e-9),
                            secs,
                            eta
                        );
                    }
                    None => {}
                }
            }
            Event::Status(s) => {
                if let Some(b) = work.as_ref().and_then(|w| w.bar.as_ref()) {
                    b.set_message(s.to_string());
                }
            }
            Event::Note(s) => self.line(&work, s),
            Event::Warn(s) => self.line(&work, &format!("warning: {s}")),
            Event::End => {
                if let Some(b) = work.take().and_then(|w| w.bar) {
                    b.finish();
                }
            }
        }
    }
}
