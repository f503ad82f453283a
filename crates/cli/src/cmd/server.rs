//! What `echo-server` and `app-server` share: the flags every server takes,
//! their mapping onto [`ServerConfig`], and running a bound server until a
//! signal (listening line, graceful stop, summary, exit status). The
//! services themselves belong to the two command modules.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use sockmux_core::{metric, MetricsServer, Source};
use sockmux_core::{
    AcceptMode, ControlSocket, Layers, PerAddress, Plain, Server, ServerConfig, Service, Shutdown,
    Stacked, Takeover,
};
use sockmux_proxy::{Allow, CidrList, ProxyLayers};
use sockmux_tls::{TlsLayers, TlsSettings};

use super::plain;
use crate::exit::Exit;
use crate::host::{self, Host, HostOrPort};
use crate::logging;
use crate::parse::{self, Secs};
use crate::signals::{self, OnFirst, OnHangup};

/// The "Exit status" of a server's `--help`.
pub fn exit_help() -> String {
    crate::exit::help(
        &[(
            Exit::Failure,
            "cannot start: bad address, port in use, unreadable or bad table file,\n\
             unreadable or bad TLS certificate, key or client CA file",
        )],
        "the server stops accepting, answers what has arrived\n\
         (bounded by --drain-timeout) and logs a summary before it exits",
    )
}

/// `--accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Accept {
    /// Every worker accepts on its own listener; the kernel spreads connections.
    Reuseport,
    /// One acceptor thread deals connections round-robin to the workers.
    Handoff,
}

/// Flags every server takes.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to bind: an IPv4 or IPv6 literal, or a host name [default: 127.0.0.1]. A lone
    /// number is the PORT, on 127.0.0.1; every interface (0.0.0.0, ::) only when spelled out.
    #[arg(value_name = "HOST", value_parser = host::parse_or_port)]
    host: Option<HostOrPort>,
    /// Port to bind; 0 picks a free one (printed on the first line) [default: 65432].
    #[arg(value_parser = parse::server_port)]
    port: Option<u16>,
    /// Worker threads, each with its own event loop, at most 1024 [default: the number of
    /// cores]
    #[arg(long, value_parser = parse::threads)]
    workers: Option<usize>,
    /// How connections reach the workers: each worker accepting on its own SO_REUSEPORT
    /// listener, or one acceptor thread handing them out.
    #[arg(long, value_enum, default_value_t = Accept::Reuseport)]
    accept: Accept,
    /// Connections open at once, 1 to 1000000; the next is refused (with an error response on
    /// the app protocol).
    #[arg(long, value_name = "N", value_parser = parse::connections,
          default_value_t = ServerConfig::default().max_connections)]
    max_connections: usize,
    /// Connections open at once from one client address, 1 to 1000000 [default: no limit];
    /// behind --proxy-protocol, the client the header names.
    #[arg(long, value_name = "N", value_parser = parse::connections)]
    max_connections_per_ip: Option<usize>,
    /// Expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy/send-proxy-v2 and
    /// nginx's proxy_protocol send) first on every connection; logs and per-address limits
    /// then see the client it names.
    #[arg(long)]
    proxy_protocol: bool,
    /// With --proxy-protocol: the balancers allowed to connect, CIDR[,CIDR...]; connections
    /// from anywhere else are closed before a byte is read.
    #[arg(long, value_name = "CIDRS", default_value = "127.0.0.0/8,::1/128")]
    proxy_from: CidrList,
    /// Serve only clients in CIDR[,CIDR...]; others are closed before a byte is read (behind
    /// --proxy-protocol: the client the header names, checked as soon as it is read).
    #[arg(long, value_name = "CIDRS")]
    allow: Option<CidrList>,
    /// With --proxy-protocol: the largest PROXY v2 header accepted, 16 to 65551 bytes.
    #[arg(long, value_name = "BYTES", value_parser = parse::proxy_header,
          default_value_t = sockmux_proxy::Limits::DEFAULT_MAX_V2_LEN)]
    proxy_max_header: usize,
    /// Serve TLS 1.3 and 1.2 (no plaintext) with this certificate chain, PEM, leaf first;
    /// needs --tls-key. With --proxy-protocol the PROXY header comes first, in the clear.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: require every client to present a certificate issued by a CA in FILE (PEM);
    /// its subject is logged with -v.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Seconds without progress after which a connection is closed (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(ServerConfig::default().idle_timeout))]
    idle_timeout: Secs,
    /// Seconds allowed at shutdown to finish owed responses (at most one year).
    #[arg(long, value_name = "SECS", value_parser = parse::seconds,
          default_value_t = Secs(ServerConfig::default().drain_timeout))]
    drain_timeout: Secs,
    /// Outgoing bytes held per connection before reading from it pauses (at most 1 GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse::bytes,
          default_value_t = ServerConfig::default().max_output)]
    max_output: usize,
    /// Bytes all connections together may hold in buffers beyond 64 KiB of input and 64 KiB of
    /// output each (suffixes KiB, MiB, GiB, TiB); past it, a large request is refused with an
    /// error and long answers slow down.
    #[arg(long, value_name = "BYTES", value_parser = parse::budget,
          default_value_t = ServerConfig::default().max_buffered)]
    max_buffered: usize,
    /// Reads one connection gets per loop turn before the others have theirs (fairness), 1 to
    /// 65536.
    #[arg(long, value_name = "N", value_parser = parse::per_turn,
          default_value_t = ServerConfig::default().read_budget)]
    read_budget: usize,
    /// Connections accepted per loop turn before the loop serves the ones it has, 1 to 65536.
    #[arg(long, value_name = "N", value_parser = parse::per_turn,
          default_value_t = ServerConfig::default().accept_batch)]
    accept_batch: usize,
    /// Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT; port 0 picks one, printed as
    /// `metrics on ADDR` right after the `listening on` line).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Unix socket on which this server hands its listening sockets to a successor started
    /// with --takeover: a restart that refuses and resets no connection.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Take the listening sockets from the server on --control PATH instead of binding; it then
    /// drains and exits. HOST and PORT are ignored. (Sockets passed by systemd, LISTEN_FDS, are
    /// used the same way, without this flag.)
    #[arg(long, requires = "control")]
    takeover: bool,
}

impl ServerArgs {
    /// The server configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let defaults = ServerConfig::default();
        let loopback = || Host::from(defaults.addr.ip());
        let (host, port) = match (&self.host, self.port) {
            (None, port) => (loopback(), port.unwrap_or(ServerConfig::DEFAULT_PORT)),
            (Some(HostOrPort::Port(port)), None) => (loopback(), *port),
            (Some(HostOrPort::Port(_)), Some(_)) => {
                return Err(crate::exit::usage(
                    "HOST is a number: give a host name or address before the port",
                ));
            }
            (Some(HostOrPort::Host(host)), port) => {
                (host.clone(), port.unwrap_or(ServerConfig::DEFAULT_PORT))
            }
        };
        // A server binds one address: the first the name resolves to.
        let addr = host::resolve(&host, port).map_err(plain)?[0];
        if !addr.ip().is_loopback() {
            tracing::warn!(
                "binding {addr}, reachable from other machines: the protocol has no authentication"
            );
        }
        Ok(ServerConfig {
            addr,
            workers: self.workers.unwrap_or(defaults.workers),
            accept: match self.accept {
                Accept::Reuseport => AcceptMode::ReusePort,
                Accept::Handoff => AcceptMode::Handoff,
            },
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            idle_timeout: self.idle_timeout.0,
            drain_timeout: self.drain_timeout.0,
            max_output: self.max_output,
            max_buffered: self.max_buffered,
            read_budget: self.read_budget,
            accept_batch: self.accept_batch,
            ..defaults
        })
    }
}

/// Binds (or takes over, or inherits from systemd), prints `listening on
/// ADDR`, serves until SIGINT, SIGTERM or a successor's takeover, drains
/// and logs the summary; exits 130 or 143 for the signal that stopped it, 0
/// after a takeover.
pub fn run<V: Service>(
    args: &ServerArgs,
    config: ServerConfig,
    service: V,
) -> anyhow::Result<Exit> {
    run_with(args, config, service, Vec::new(), Vec::new())
}

/// [`run`], with metric `sources` of the command's own (the table's size)
/// and what SIGHUP does for it (`hangup`: read the table again); SIGHUP
/// also reloads the TLS certificate and key.
pub fn run_with<V: Service>(
    args: &ServerArgs,
    config: ServerConfig,
    service: V,
    sources: Vec<Source>,
    mut hangup: Vec<OnHangup>,
) -> anyhow::Result<Exit> {
    // The PROXY header, when expected, precedes the TLS handshake, and the
    // allow-list then checks the client it names (ProxyLayers does).
    let tls = args.tls_layers(&config)?;
    if let Some((layers, settings)) = &tls {
        hangup.push(reload_tls(layers.clone(), settings.clone()));
    }
    signals::on_hangup(hangup)?;
    let tls = tls.map(|(layers, _)| layers);
    let job = Job {
        args,
        config,
        service,
        sources,
    };
    match (args.proxy_layers(), tls) {
        (Some(proxy), None) => job.serve(proxy),
        (Some(lower), Some(upper)) => job.serve(Stacked { lower, upper }),
        (None, None) => job.serve_allowed(Plain),
        (None, Some(tls)) => job.serve_allowed(tls),
    }
}

/// What a server command serves, before its transport layers are chosen.
struct Job<'a, V> {
    args: &'a ServerArgs,
    config: ServerConfig,
    service: V,
    sources: Vec<Source>,
}

impl<V: Service> Job<'_, V> {
    /// [`Job::serve`] with `layers`, checking `--allow` against the
    /// socket's peer.
    fn serve_allowed<T: Layers>(self, layers: T) -> anyhow::Result<Exit> {
        match self.args.allow.clone() {
            None => self.serve(layers),
            Some(allow) => self.serve(Allow { layers, allow }),
        }
    }

    /// Binds or takes over with `layers`, then [`run`]'s contract.
    fn serve<T: Layers>(self, layers: T) -> anyhow::Result<Exit> {
        let Job {
            args,
            config,
            service,
            sources,
        } = self;
        let (listeners, takeover) = sockets(args)?;
        let server = match listeners {
            Some(listeners) => Server::with_listeners(listeners, config, service, layers)?,
            None => Server::bind_with_layers(config, service, layers)?,
        };
        let shutdown = Shutdown::new();
        let on_signal = shutdown.clone();
        let caught = signals::install(OnFirst::Stop(Box::new(move || on_signal.trigger())))?;
        let handed_over = Arc::new(AtomicBool::new(false));
        if let Some(path) = &args.control {
            let control = ControlSocket::bind(path, takeover.is_some())?;
            let flag = Arc::clone(&handed_over);
            control.serve(server.listeners()?, shutdown.clone(), move || {
                flag.store(true, Ordering::SeqCst);
            })?;
        }

        // The first line on stdout is the contract scripts and tests rely on:
        // by the time it is printed, everything that can fail at start-up has.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", server.local_addr())?;
        if let Some(addr) = args.metrics {
            let metrics = server.metrics();
            metrics.add_source(Box::new(|out| {
                metric(
                    out,
                    "sockmux_log_lines_dropped_total",
                    "counter",
                    "Log lines dropped because stderr was closed, full or slow.",
                    &[("", logging::dropped())],
                );
            }));
            for source in sources {
                metrics.add_source(source);
            }
            let endpoint = MetricsServer::bind(addr, metrics)
                .with_context(|| format!("cannot serve metrics on {addr}"))?;
            writeln!(stdout, "metrics on {}", endpoint.local_addr()?)?;
            endpoint.serve()?;
        }
        stdout.flush()?;
        drop(stdout);
        if let Some(takeover) = takeover {
            // Serving is certain now: the old server may stop accepting.
            takeover
                .ready()
                .context("telling the old server to drain")?;
        }

        let stats = server.run(shutdown)?;
        tracing::info!(
        "shut down: {} connections ({} refused), {} requests, {} errors, {} bytes in, {} bytes out",
        stats.connections,
        stats.refused,
        stats.requests,
        stats.errors,
        stats.bytes_in,
        stats.bytes_out
    );
        if handed_over.load(Ordering::SeqCst) {
            return Ok(Exit::Success);
        }
        Ok(caught.exit().unwrap_or(Exit::Success))
    }
}

impl ServerArgs {
    /// `--proxy-protocol`'s layers, if it is set.
    fn proxy_layers(&self) -> Option<ProxyLayers> {
        if !self.proxy_protocol {
            return None;
        }
        let limits = sockmux_proxy::Limits {
            max_v2_len: self.proxy_max_header,
        };
        let mut layers = ProxyLayers::new(limits).trusting(self.proxy_from.clone());
        if let Some(max) = self.max_connections_per_ip {
            layers = layers.limiting(PerAddress::new(max));
        }
        if let Some(allow) = &self.allow {
            layers = layers.allowing(allow.clone());
        }
        Some(layers)
    }

    /// `--tls-cert`'s layers and the settings they were made from, if it
    /// is set: the files are read and checked here, before anything is
    /// bound.
    fn tls_layers(
        &self,
        config: &ServerConfig,
    ) -> anyhow::Result<Option<(TlsLayers, TlsSettings)>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let mut settings = TlsSettings::new(cert, key);
        settings.client_ca.clone_from(&self.tls_client_ca);
        let layers = TlsLayers::from_settings(&settings).map_err(plain)?;
        // Encrypted output is capped like the session's (at least one
        // record's worth, 16 KiB: less is pointless).
        let cap = config
            .max_output
            .clamp(16 * 1024, TlsLayers::DEFAULT_MAX_OUTPUT);
        Ok(Some((layers.with_max_output(cap), settings)))
    }
}

/// SIGHUP for TLS: the certificate, key and client CA files read again for
/// the connections that come next; a bad file keeps the ones in use.
fn reload_tls(layers: TlsLayers, settings: TlsSettings) -> OnHangup {
    Box::new(move || match layers.reload(&settings) {
        Ok(()) => tracing::info!(
            "SIGHUP: reloaded the TLS certificate {} and key {}",
            settings.cert.display(),
            settings.key.display()
        ),
        Err(e) => tracing::error!("SIGHUP: keeping the TLS certificate in use: {e}"),
    })
}

/// Where the listening sockets come from: a server handing them over
/// (`--takeover`), systemd (`LISTEN_FDS`), or nowhere (bind them).
fn sockets(args: &ServerArgs) -> anyhow::Result<(Option<Vec<TcpListener>>, Option<Takeover>)> {
    if let (true, Some(path)) = (args.takeover, &args.control) {
        let (takeover, listeners) = Takeover::connect(path)?;
        return Ok((Some(listeners), Some(takeover)));
    }
    let mut inherited = listenfd::ListenFd::from_env();
    let listeners = (0..inherited.len())
        .filter_map(|i| inherited.take_tcp_listener(i).transpose())
        .collect::<std::io::Result<Vec<_>>>()
        .context("LISTEN_FDS: an inherited socket is not a TCP socket")?;
    Ok(((!listeners.is_empty()).then_some(listeners), None))
}
