//! Ctrl-C (SIGINT) and SIGTERM, counted: the engine stops starting hosts on the first, abandons
//! in-flight hosts on the second; a third exits the process at once (outputs are flushed line by
//! line, so what is on disk stays valid).

use tokio::sync::watch;

/// Exit code of a process stopped by a third signal: the interruption code.
const HARD_EXIT: i32 = crate::report::policy::EXIT_INTERRUPTED as i32;

/// Starts listening. The receiver holds the number of signals received so far.
pub fn install() -> std::io::Result<watch::Receiver<u32>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(0u32);
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let mut n = 0u32;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            n += 1;
            match n {
                1 => eprintln!(
                    "\nsmb1scan: interrupted: no new hosts; finishing hosts in flight (press Ctrl-C again to stop now)"
                ),
                2 => eprintln!("smb1scan: stopping now; writing what finished"),
                _ => std::process::exit(HARD_EXIT),
            }
            if tx.send(n).is_err() {
                // Nobody listens any more (the scan is over): exit at once.
                std::process::exit(HARD_EXIT);
            }
        }
    });
    Ok(rx)
}
