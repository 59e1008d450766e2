//! Ctrl-C, SIGTERM and SIGHUP for the whole run. A command that reaches the world starts the
//! watch once, before its first stage; from then on the first signal asks every stage to stop at
//! its next step (a host fan-out drops its work at once, an HTTP client sends no further request,
//! a wait returns early), and a second one ends boma at once with exit code 130.
//!
//! Watching is the run's, not one fan-out's: a handler that came and went with each fan-out left
//! the default action replaced after the first, so a later Ctrl-C (during a DNS apply, a machine
//! roll) was swallowed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The operator asked boma to stop (Ctrl-C, SIGTERM, SIGHUP); work in flight was cut off.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

impl Interrupted {
    /// Whether anything in the chain is an interruption.
    pub fn in_chain(error: &anyhow::Error) -> Option<&Interrupted> {
        error
            .chain()
            .find_map(|cause| cause.downcast_ref::<Interrupted>())
    }
}

/// The longest any wait of boma's may last (a lock, a machine, flyctl, a host): a day. Flags that
/// set a wait are refused beyond it, so no deadline overflows a clock.
pub const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);

static REQUESTED: AtomicBool = AtomicBool::new(false);

fn channel() -> &'static tokio::sync::watch::Sender<bool> {
    static SENDER: OnceLock<tokio::sync::watch::Sender<bool>> = OnceLock::new();
    SENDER.get_or_init(|| tokio::sync::watch::channel(false).0)
}

/// Starts watching for signals (once a process); returns when the handlers are in place, so no
/// signal between now and the end of the run takes the default action while work is half done.
pub fn watch() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let (ready, registered) = std::sync::mpsc::channel();
        let started = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || listen(&ready));
        if started.is_ok() {
            // A thread that could not register says so by dropping `ready`: no wait then.
            let _ = registered.recv_timeout(Duration::from_secs(5));
        }
    });
}

fn listen(ready: &std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let mut streams: Vec<_> = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .into_iter()
        .filter_map(|kind| signal(kind).ok())
        .collect();
        let _ = ready.send(());
        if streams.is_empty() {
            return;
        }
        let mut next = async || {
            let waits = streams.iter_mut().map(|stream| Box::pin(stream.recv()));
            futures_util::future::select_all(waits).await;
        };
        next().await;
        REQUESTED.store(true, Ordering::SeqCst);
        channel().send_replace(true);
        next().await;
        // Asked twice: stop now, whatever is in flight (masters exit on their own when idle).
        std::process::exit(130);
    });
}

/// Whether the operator asked boma to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once a stop was asked: for a loop between its steps.
pub fn check(what: &str) -> Result<(), Interrupted> {
    if requested() {
        Err(Interrupted(format!("interrupted {what}")))
    } else {
        Ok(())
    }
}

/// Resolves when a stop is asked (never, without `watch`): work raced against it is dropped,
/// which closes its connections.
pub async fn asked() {
    let mut receiver = channel().subscribe();
    if receiver.wait_for(|stopped| *stopped).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps `duration`, or less when a stop is asked meanwhile.
pub fn sleep(duration: Duration) {
    let deadline = Instant::now() + duration.min(LONGEST_WAIT);
    while !requested() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
