//! The client commands' TLS flags (`app-client`, `echo-client`, `bench`):
//! one set of definitions, flattened into each, and the connector they
//! describe. The TLS itself is `sockmux_tls`'s.

use std::path::PathBuf;

use clap::Args;
use sockmux_tls::{TlsClientSettings, TlsConnector, TlsError};

use super::plain;
use crate::exit::usage;
use crate::host::Host;

/// `--tls` and the flags that go with it.
#[derive(Debug, Args)]
pub struct TlsClientArgs {
    /// Speak TLS (1.3 or 1.2) to the server, verifying its certificate against --tls-ca and
    /// its name against --tls-server-name. Needs --tls-ca.
    #[arg(long, requires = "tls_ca")]
    tls: bool,
    /// The CA certificates (PEM) the server's certificate must chain to. There are no built-in
    /// roots: for a server with a public CA's certificate, give the system's bundle (e.g.
    /// /etc/ssl/certs/ca-certificates.crt).
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: present this certificate chain (PEM, leaf first) to a server that asks for
    /// one; needs --tls-key.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The name the server's certificate must carry, a DNS name or an IP address: needed when
    /// HOST is an address the certificate does not name [default: HOST as given]
    #[arg(long, value_name = "NAME", requires = "tls")]
    tls_server_name: Option<String>,
    /// Make every handshake a full one: no session cache (by default the connections of a run
    /// resume each other's sessions).
    #[arg(long, requires = "tls")]
    tls_no_resumption: bool,
    /// Offer only classical key exchange (X25519 first), not the post-quantum hybrid
    /// X25519MLKEM768 offered first by default: what a server without post-quantum support
    /// uses anyway, for like-for-like measurements.
    #[arg(long, requires = "tls")]
    tls_no_post_quantum: bool,
}

impl TlsClientArgs {
    /// The connector for connections to `host`, with `--tls`: the files
    /// are read and checked here, before anything connects. One per run,
    /// so that every connection of the run resumes from one session
    /// cache, which keeps a ticket for each of `concurrent` connections.
    pub fn connector(
        &self,
        host: &Host,
        concurrent: usize,
    ) -> anyhow::Result<Option<TlsConnector>> {
        let (true, Some(ca)) = (self.tls, &self.tls_ca) else {
            return Ok(None);
        };
        let mut settings = TlsClientSettings::new(ca);
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            settings = settings.presenting(cert, key);
        }
        settings.session_cache = match self.tls_no_resumption {
            true => 0,
            false => concurrent.max(TlsClientSettings::DEFAULT_SESSION_CACHE),
        };
        settings.post_quantum = !self.tls_no_post_quantum;
        let name = self.tls_server_name.as_deref().unwrap_or(host.bare());
        let connector = TlsConnector::from_settings(&settings, name).map_err(|e| match e {
            TlsError::ServerName(_) => usage(format!("{e}; see --tls-server-name")),
            e => plain(e),
        })?;
        Ok(Some(connector))
    }
}
