//! Binding and running a server: one listener per worker (SO_REUSEPORT when
//! there are several), one thread per worker, the summary at the end.

use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};

use socket2::{Domain, Protocol, Socket, Type};
use thiserror::Error;

use sockmux_engine::{Admission, Budget, Layers, PerAddress, Plain, Service, Stats};

use crate::acceptor::{Acceptor, Target};
use crate::intake::{Intake, Shared};
use crate::metrics::Metrics;
use crate::supervise::Supervisor;
use crate::warn::Warnings;
use crate::worker::Worker;
use crate::{AcceptMode, ServerConfig, Shutdown};

/// Why a server could not start or run.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// An event loop could not be created or failed.
    #[error("event loop failed: {0}")]
    EventLoop(#[from] io::Error),
    /// A socket handed to the server is not a listening TCP socket.
    #[error("an inherited socket is not a listening TCP socket: {0}")]
    NotListener(String),
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
    /// Copies of the listening sockets, for a hand-over to a successor.
    sockets: Vec<std::net::TcpListener>,
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
        let count = if config.accept == AcceptMode::Handoff {
            1
        } else {
            config.workers.max(1)
        };
        let reuse_port = count > 1;
        if reuse_port && config.addr.port() != 0 {
            // Fails if another socket holds the port; dropped at once.
            listen(config.addr, &config, false)?;
        }
        let first = listen(config.addr, &config, reuse_port)?;
        let local_addr = bound_addr(&first, config.addr)?;
        let mut listeners = vec![first];
        for _ in 1..count {
            listeners.push(listen(local_addr, &config, true)?);
        }
        Self::with_listeners(listeners, config, service, layers)
    }

    /// Serves on listening sockets made elsewhere: inherited from systemd
    /// (`LISTEN_FDS`) or handed over by the server this one replaces (see
    /// [`crate::Takeover`]). `config.addr` is not bound.
    ///
    /// With `--accept reuseport`, each worker accepts on one socket; with
    /// fewer sockets than workers they share them, and with more there is
    /// a worker for each. `--accept handoff` takes exactly one socket.
    pub fn with_listeners(
        listeners: Vec<std::net::TcpListener>,
        config: ServerConfig,
        service: V,
        layers: T,
    ) -> Result<Self, ServerError> {
        let Some(first) = listeners.first() else {
            return Err(ServerError::NotListener("no socket at all".into()));
        };
        let local_addr = bound_addr(first, config.addr)?;
        for listener in &listeners {
            check_listener(listener)?;
        }
        let sockets = listeners
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect::<io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            admission: Admission::new(config.max_connections),
            budget: Budget::new(config.max_buffered),
            per_address: config.max_connections_per_ip.map(PerAddress::new),
            warnings: Warnings::default(),
            max_connections: config.max_connections,
            budget_refusals_seen: Default::default(),
            workers: Default::default(),
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
            let [listener] = <[_; 1]>::try_from(listeners).map_err(|l| {
                ServerError::NotListener(format!(
                    "--accept handoff takes one listening socket, not {}",
                    l.len()
                ))
            })?;
            let count = config.workers.max(1);
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
            let listener = mio::net::TcpListener::from_std(listener);
            let acceptor = Acceptor::new(listener, targets, config.accept_batch)?;
            (workers, Some(acceptor))
        } else {
            let count = config.workers.max(listeners.len());
            let workers = (0..count)
                .map(|i| {
                    let listener = listeners[i % listeners.len()].try_clone()?;
                    worker(Intake::Listener(mio::net::TcpListener::from_std(listener)))
                })
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
            sockets,
        })
    }

    /// The server's metrics, to render while it runs (see
    /// [`crate::MetricsServer`]).
    pub fn metrics(&self) -> Metrics {
        Metrics::new(Arc::clone(&self.shared))
    }

    /// Copies of the listening sockets, to hand to a successor (see
    /// [`crate::ControlSocket`]).
    pub fn listeners(&self) -> io::Result<Vec<std::net::TcpListener>> {
        self.sockets
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect()
    }

    /// The address actually bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is triggered and every worker has drained;
    /// returns the totals.
    pub fn run(self, shutdown: Shutdown) -> Result<Stats, ServerError> {
        let accept = match self.config.accept {
            AcceptMode::ReusePort => "reuseport",
            AcceptMode::Handoff => "handoff",
        };
        // The app protocol's own limit, only where it applies.
        let content = match self.service.name() {
            "echo" => String::new(),
            _ => format!(", max-content {} bytes", self.config.limits.max_content),
        };
        tracing::info!(
            "{} service on {} with {} worker(s), accept {accept}, max-connections {}, idle-timeout {} s, max-buffered {} bytes{content}",
            self.service.name(),
            self.local_addr,
            self.workers.len(),
            self.config.max_connections,
            self.config.idle_timeout.as_secs_f64(),
            self.config.max_buffered,
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

/// The address a listening socket is bound to.
fn bound_addr(
    listener: &std::net::TcpListener,
    asked: SocketAddr,
) -> Result<SocketAddr, ServerError> {
    listener.local_addr().map_err(|source| ServerError::Bind {
        addr: asked,
        source,
    })
}

/// Checks that an inherited socket listens for TCP, and makes it
/// non-blocking (systemd hands them over blocking).
fn check_listener(listener: &std::net::TcpListener) -> Result<(), ServerError> {
    let socket = socket2::SockRef::from(listener);
    let not = |what: String| ServerError::NotListener(what);
    match socket.r#type() {
        Ok(Type::STREAM) => {}
        Ok(other) => return Err(not(format!("socket type {other:?}"))),
        Err(e) => return Err(not(e.to_string())),
    }
    if !socket.is_listener().map_err(|e| not(e.to_string()))? {
        return Err(not("it is not listening".into()));
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| not(e.to_string()))
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
