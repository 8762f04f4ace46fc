//! Progress for long runs: an indicatif bar on a terminal, and a plain line every half minute otherwise
//! (batch jobs and cluster logs would show nothing from a bar).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: String,
    total: u64,
    pos: u64,
    start: Instant,
    last_line: Instant,
    every: Duration,
}

impl Progress {
    /// `total` units of `what` (e.g. "replica-steps").
    pub fn new(total: u64, what: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
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
        Progress {
            bar,
            what: what.to_string(),
            total,
            pos: 0,
            start: Instant::now(),
            last_line: Instant::now(),
            every: Duration::from_secs(30),
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.pos += n;
        match &self.bar {
            Some(b) => b.inc(n),
            None if self.last_line.elapsed() >= self.every => {
                self.last_line = Instant::now();
                let secs = self.start.elapsed().as_secs_f64();
                let frac = self.pos as f64 / self.total.max(1) as f64;
                let eta = if frac > 0.0 {
                    secs * (1.0 - frac) / frac
                } else {
                    f64::NAN
                };
                eprintln!(
                    "progress: {:.1}% of {} {} ({:.3e}/s), elapsed {:.0} s, ETA {:.0} s",
                    100.0 * frac,
                    self.total,
                    self.what,
                    self.pos as f64 / secs.max(1e-9),
                    secs,
                    eta
                );
            }
            None => {}
        }
    }

    pub fn set_message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// Prints a line without tearing the bar.
    pub fn println(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }

    pub fn abandon(&self) {
        if let Some(b) = &self.bar {
            b.abandon();
        }
    }
}
