//! The one host fan-out: N hosts at a time, one connection per host kept for the whole run, a
//! progress line per host, and work in flight dropped when the run is asked to stop (`stop`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use anyhow::Context as _;
use futures_util::StreamExt;

use super::{Connection, Connector, Options, RemoteError};
use crate::catalog::Host;
use crate::stop::{self, Interrupted};
use crate::ui::Ui;

/// Tells a host's progress line (and `-v`) what the work on it is doing now.
pub type Step<'a> = &'a dyn Fn(&str);

/// Connections to hosts, opened on first use and kept until the pool is dropped.
pub struct HostPool {
    // Dropped in this order: connections close before the folder of their sockets goes.
    connections: RefCell<BTreeMap<String, Rc<Connection>>>,
    connector: Connector,
    runtime: tokio::runtime::Runtime,
    parallel: usize,
}

impl HostPool {
    pub fn new(options: Options, catalog_dir: &Path, parallel: usize) -> anyhow::Result<Self> {
        let connector = Connector::new(options, catalog_dir)
            .context("cannot create a private folder for SSH control sockets in /tmp")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self {
            connections: RefCell::new(BTreeMap::new()),
            connector,
            runtime,
            parallel: parallel.max(1),
        })
    }

    /// The host's connection: the one already open, or a new one kept for later stages.
    async fn connection(&self, host: &Host) -> Result<Rc<Connection>, RemoteError> {
        if let Some(open) = self.connections.borrow().get(&host.name) {
            return Ok(Rc::clone(open));
        }
        let connection = Rc::new(self.connector.connect(host).await?);
        self.connections
            .borrow_mut()
            .insert(host.name.clone(), Rc::clone(&connection));
        Ok(connection)
    }

    /// Runs `task` on every item's host, `parallel` hosts at a time, each with its connection (or
    /// why there is none) and a step callback for its progress line. Results come in the order
    /// of `items`. A stop asked of the run (Ctrl-C, SIGTERM, SIGHUP) drops the work in flight, which
    /// cuts its connections, and returns `Interrupted`.
    pub fn run<'i, I, T>(
        &self,
        ui: &Ui,
        items: &'i [I],
        host_of: fn(&I) -> &Host,
        task: impl AsyncFn(&'i I, Result<Rc<Connection>, RemoteError>, Step<'_>) -> T,
    ) -> Result<Vec<T>, Interrupted> {
        let bars = ui.bars();
        let log = ui.logger();
        let (task, bars, log) = (&task, &bars, &log);
        let work = futures_util::stream::iter(items.iter().enumerate())
            .map(|(index, item)| async move {
                let host = host_of(item);
                let bar = bars.add(&host.name);
                let step = |message: &str| {
                    bar.message(message);
                    log(&format!("{}: {message}", host.name));
                };
                step("connecting");
                let connection = self.connection(host).await;
                (index, task(item, connection, &step).await)
            })
            .buffer_unordered(self.parallel)
            .collect::<Vec<_>>();
        let finished = self.runtime.block_on(async {
            tokio::select! {
                results = work => Some(results),
                () = stop::asked() => None,
            }
        });
        let Some(mut results) = finished else {
            // What was in flight is dropped by now: its ssh processes are gone and each host
            // script cleans up when its connection closes.
            self.close();
            return Err(Interrupted(
                "interrupted; work in flight was cut off and cleans up on its hosts".to_string(),
            ));
        };
        results.sort_by_key(|(index, _)| *index);
        Ok(results.into_iter().map(|(_, result)| result).collect())
    }

    /// Closes every master now.
    pub fn close(&self) {
        let open: Vec<Rc<Connection>> = std::mem::take(&mut *self.connections.borrow_mut())
            .into_values()
            .collect();
        self.runtime.block_on(futures_util::future::join_all(
            open.into_iter()
                .filter_map(Rc::into_inner)
                .map(Connection::close),
        ));
    }
}

impl Drop for HostPool {
    fn drop(&mut self) {
        self.close();
    }
}
