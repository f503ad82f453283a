//! Binding and running a server: one listener per worker (SO_REUSEPORT when
//! there are several), one thread per worker, the summary at the end.

use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};

use socket2::{Domain, Protocol, Socket, Type};
use thiserror::Error;

use sockmux_engine::{Admission, Budget, Layers, Plain, Service, Stats};

use crate::acceptor::{Acceptor, Target};
use crate::intake::{Intake, Shared};
use crate::supervise::Supervisor;
use crate::warn::Warnings;
use crate::worker::Worker;
use crate::{AcceptMode, ServerConfig, Shutdown};

/// Why a server could not start or run.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// An event loop could not be created or failed.
    #[error("event loop failed: {0}")]
    EventLoop(#[from] io::Error),
    /// A loop thread panicked.
    #[error("{thread} panicked: {message}")]
    WorkerPanicked {
        /// The thread's name.
        thread: String,
        /// What it said.
        message: String,
    },
}

/// A bound server with its event loops set up, ready to [`Server::run`].
///
/// `T` makes each connection's transport layers (see
/// [`sockmux_engine::layer`]); [`Plain`], the default, is none.
pub struct Server<V: Service, T: Layers = Plain> {
    workers: Vec<Worker<V, T>>,
    acceptor: Option<Acceptor>,
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    service: Arc<V>,
    config: ServerConfig,
}

impl<V: Service, T: Layers> std::fmt::Debug for Server<V, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl<V: Service> Server<V> {
    /// Binds `config.addr` (port 0 picks a free port): one listener per
    /// worker, or one for the acceptor thread (see [`AcceptMode`]).
    pub fn bind(config: ServerConfig, service: V) -> Result<Self, ServerError> {
        Self::bind_with_layers(config, service, Plain)
    }
}

impl<V: Service, T: Layers> Server<V, T> {
    /// [`Server::bind`], with `layers` making each connection's transport
    /// layers between the socket and the session.
    pub fn bind_with_layers(
        config: ServerConfig,
        service: V,
        layers: T,
    ) -> Result<Self, ServerError> {
        let count = config.workers.max(1);
        let reuse_port = count > 1 && config.accept == AcceptMode::ReusePort;
        if reuse_port && config.addr.port() != 0 {
            // Fails if another socket holds the port; dropped at once.
            listen(config.addr, &config, false)?;
        }
        let first = listen(config.addr, &config, reuse_port)?;
        let local_addr = first.local_addr().map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
        let shared = Arc::new(Shared {
            admission: Admission::new(config.max_connections),
            budget: Budget::new(config.max_buffered),
            warnings: Warnings::default(),
        });
        let service = Arc::new(service);
        let layers = Arc::new(layers);
        let worker = |intake| {
            Worker::new(
                intake,
                Arc::clone(&service),
                Arc::clone(&layers),
                config.clone(),
                Arc::clone(&shared),
            )
        };
        let (workers, acceptor) = if config.accept == AcceptMode::Handoff {
            let mut workers = Vec::with_capacity(count);
            let mut targets = Vec::with_capacity(count);
            for _ in 0..count {
                let (tx, rx) = mpsc::channel();
                let w = worker(Intake::Handoff(rx))?;
                targets.push(Target {
                    tx,
                    waker: w.waker(),
                });
                workers.push(w);
            }
            let listener = mio::net::TcpListener::from_std(first);
            let acceptor = Acceptor::new(listener, targets, config.accept_batch)?;
            (workers, Some(acceptor))
        } else {
            let mut listeners = vec![first];
            for _ in 1..count {
                listeners.push(listen(local_addr, &config, true)?);
            }
            let workers = listeners
                .into_iter()
                .map(|l| worker(Intake::Listener(mio::net::TcpListener::from_std(l))))
                .collect::<io::Result<_>>()?;
            (workers, None)
        };
        Ok(Self {
            workers,
            acceptor,
            shared,
            local_addr,
            service,
            config,
        })
    }

    /// The address actually bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is triggered and every worker has drained;
    /// returns the totals.
    pub fn run(self, shutdown: Shutdown) -> Result<Stats, ServerError> {
        tracing::info!(
            "{} service on {} with {} worker(s), max-connections {}, idle-timeout {} s, max-content {} bytes",
            self.service.name(),
            self.local_addr,
            self.workers.len(),
            self.config.max_connections,
            self.config.idle_timeout.as_secs_f64(),
            self.config.limits.max_content,
        );
        let mut threads = Supervisor::new();
        for (i, worker) in self.workers.into_iter().enumerate() {
            let shutdown = shutdown.clone();
            threads.spawn(format!("sockmux-worker-{i}"), move || worker.run(shutdown))?;
        }
        if let Some(acceptor) = self.acceptor {
            let (shutdown, shared) = (shutdown.clone(), Arc::clone(&self.shared));
            threads.spawn("sockmux-acceptor".into(), move || {
                acceptor
                    .run(shutdown, &shared.warnings)
                    .map(|()| Stats::default())
            })?;
        }
        threads.wait(&shutdown)
    }
}

/// A non-blocking listening socket on `addr`.
///
/// With `reuse_port` several listeners share the port and the kernel spreads
/// connections over them. Before joining such a group on a fixed port we
/// check that nobody else holds the port, since SO_REUSEPORT would otherwise
/// silently share it with another process of the same user.
fn listen(
    addr: SocketAddr,
    config: &ServerConfig,
    reuse_port: bool,
) -> Result<std::net::TcpListener, ServerError> {
    let bind_error = |source| ServerError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_error)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(bind_error)?;
    }
    socket.set_reuse_address(true).map_err(bind_error)?;
    if reuse_port {
        socket.set_reuse_port(true).map_err(bind_error)?;
    }
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.listen(config.backlog).map_err(bind_error)?;
    socket.set_nonblocking(true).map_err(bind_error)?;
    Ok(socket.into())
}
