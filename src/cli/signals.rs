//! The binary's one handler for SIGINT, SIGTERM and SIGHUP (Ctrl-C, Slurm time limits and preemption, `timeout`,
//! `docker stop`, a closed terminal): the first signal cancels the process-wide token, which long stages check
//! often and answer by writing a checkpoint and stopping; a second signal exits at once with code 130.

use std::sync::OnceLock;

use glasscam::events::Cancel;

static TOKEN: OnceLock<Cancel> = OnceLock::new();

/// The process-wide cancel token, with the handler installed on first use.
pub fn token() -> &'static Cancel {
    TOKEN.get_or_init(|| {
        let cancel = Cancel::new();
        let c = cancel.clone();
        // ctrlc's `termination` feature adds SIGTERM and SIGHUP to SIGINT; the handler runs on its own thread,
        // so printing here is safe. If a handler cannot be installed the run still works, it only cannot stop
        // cleanly.
        let installed = ctrlc::set_handler(move || {
            if c.cancel() > 0 {
                eprintln!("\nsecond signal: exiting now, without a checkpoint");
                std::process::exit(130);
            }
            eprintln!(
                "\nsignal received (SIGINT, SIGTERM or SIGHUP): writing a checkpoint and stopping; \
                 send it again to quit at once"
            );
        });
        if let Err(e) = installed {
            eprintln!("warning: cannot catch SIGINT/SIGTERM/SIGHUP ({e}); a kill loses the work since the last checkpoint");
        }
        cancel
    })
}
