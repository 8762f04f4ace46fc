//! The binary's one handler for SIGINT, SIGTERM and SIGHUP (Ctrl-C, Slurm time limits and preemption, `timeout`,
//! `docker stop`, a closed terminal). A command that checks the cancel token stops at its next check (saying
//! how, e.g. with a checkpoint); one that does not exits at once with code 130. Signals repeated within a second
//! are one (`timeout` and schedulers may send SIGTERM twice); a later one exits at once.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use glasscam::events::Cancel;

static TOKEN: OnceLock<Cancel> = OnceLock::new();

/// Signals closer together than this count as one.
const REPEAT: Duration = Duration::from_secs(1);

/// How long a command that checks the token has to notice a signal before the process stops at once (it may be
/// blocked reading its input, or in set-up that does not check): its calls into the backend take under a second.
const GRACE: Duration = Duration::from_secs(10);

/// How the running command answers the first signal: `Some(line)` when it checks the cancel token (the line says
/// what it does then), `None` when it exits at once.
pub type OnSignal = Option<&'static str>;

/// Installs the handler for a command that answers a signal as `on_signal` says; the first call wins.
pub fn install(on_signal: OnSignal) -> &'static Cancel {
    TOKEN.get_or_init(|| {
        let cancel = Cancel::new();
        let c = cancel.clone();
        let first: Mutex<Option<Instant>> = Mutex::new(None);
        // ctrlc's `termination` feature adds SIGTERM and SIGHUP to SIGINT; the handler runs on its own thread,
        // so printing here is safe. If a handler cannot be installed the run still works, it only cannot stop
        // cleanly.
        let installed = ctrlc::set_handler(move || {
            let Some(line) = on_signal else {
                eprintln!("\nsignal received (SIGINT, SIGTERM or SIGHUP): stopped; nothing more is written");
                std::process::exit(130);
            };
            let mut first = first.lock().unwrap_or_else(|p| p.into_inner());
            match *first {
                Some(t) if t.elapsed() < REPEAT => {}
                Some(_) => {
                    eprintln!("\nsecond signal: exiting now, without waiting for the stop");
                    std::process::exit(130);
                }
                None => {
                    *first = Some(Instant::now());
                    c.cancel();
                    eprintln!(
                        "\nsignal received (SIGINT, SIGTERM or SIGHUP): {line}; send it again (a second later) \
                         to quit at once"
                    );
                    let c = c.clone();
                    std::thread::spawn(move || {
                        let t0 = Instant::now();
                        while t0.elapsed() < GRACE {
                            if c.seen() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        eprintln!(
                            "not at a point where it can stop cleanly after {} s (reading its input?): stopped; \
                             nothing more is written",
                            GRACE.as_secs()
                        );
                        std::process::exit(130);
                    });
                }
            }
        });
        if let Err(e) = installed {
            eprintln!("warning: cannot catch SIGINT/SIGTERM/SIGHUP ({e}); a kill loses the work since the last checkpoint");
        }
        cancel
    })
}

/// The process-wide cancel token (the handler installed by `install`, or for a command that checks the token).
pub fn token() -> &'static Cancel {
    install(Some("stopping"))
}
