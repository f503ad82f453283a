//! The client side of TLS that a run's connections share: one
//! `rustls::ClientConfig` built from the operator's PEM files (the CA
//! bundle to trust, and for mutual TLS the client's certificate and key)
//! with one session cache, and the [`TlsConnector`] that gives each
//! connection its [`TlsClient`] over it. Per-connection state is
//! [`TlsClient`]'s.
//!
//! There are no built-in roots: a client trusts exactly the CA file it is
//! given (sockmux servers usually carry a private CA's certificates; for
//! a public CA, the system bundle, e.g. `/etc/ssl/certs/ca-certificates.crt`,
//! is a file like any other).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use crate::sessions::Sessions;
use crate::{pem, provider, TlsClient, TlsError};

/// What a TLS client is configured with.
///
/// ```no_run
/// use sockmux_tls::{TlsClientSettings, TlsConnector};
///
/// let settings = TlsClientSettings::new("ca.pem").presenting("client.pem", "client.key");
/// let connector = TlsConnector::from_settings(&settings, "db.example.com")?;
/// let tls = connector.connect(); // one per connection, all resuming from one cache
/// # Ok::<(), sockmux_tls::TlsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientSettings {
    /// The CA certificates (PEM) the server's certificate must chain to.
    pub ca: PathBuf,
    /// Mutual TLS: the client's certificate chain (PEM, leaf first) and
    /// its private key (PEM).
    pub identity: Option<(PathBuf, PathBuf)>,
    /// TLS 1.3 tickets the session cache keeps per server (each resumes
    /// one connection, so a client reconnecting N connections at once
    /// wants N); 0 turns resumption off, so that every handshake is a
    /// full one.
    pub session_cache: usize,
    /// Offer the post-quantum hybrid key exchange X25519MLKEM768 first
    /// (the default); without it, X25519 first, as a server that does
    /// not support the hybrid would choose anyway. A like-for-like
    /// comparison with such a server turns it off (BENCHMARKS.md).
    pub post_quantum: bool,
}

impl TlsClientSettings {
    /// Default for [`TlsClientSettings::session_cache`].
    pub const DEFAULT_SESSION_CACHE: usize = 256;

    /// A client trusting the CAs in `ca`, presenting no certificate.
    pub fn new(ca: impl Into<PathBuf>) -> Self {
        Self {
            ca: ca.into(),
            identity: None,
            session_cache: Self::DEFAULT_SESSION_CACHE,
            post_quantum: true,
        }
    }

    /// The same, presenting the certificate chain `cert` with its `key`
    /// to servers that ask for one (mutual TLS).
    pub fn presenting(self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            identity: Some((cert.into(), key.into())),
            ..self
        }
    }

    /// The rustls configuration these settings describe: TLS 1.3 and 1.2,
    /// the server verified against [`TlsClientSettings::ca`], and one
    /// in-memory session cache for every connection made with it.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let roots = pem::roots("CA", &self.ca)?;
        let provider = match self.post_quantum {
            true => provider::provider(),
            false => provider::classical(provider::provider()),
        };
        let builder = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    pem::certs("client certificate", cert)?,
                    pem::key("client key", key)?,
                )
                .map_err(|reason| TlsError::Identity {
                    cert: cert.clone(),
                    key: key.clone(),
                    reason,
                })?,
        };
        config.resumption = match self.session_cache {
            0 => Resumption::disabled(),
            n => Resumption::store(Arc::new(Sessions::new(n))),
        };
        Ok(Arc::new(config))
    }
}

/// Gives every connection to one server a [`TlsClient`] over one shared
/// configuration, and so one session cache: a connection made after
/// another has ended resumes its session. Cloning is cheap and shares the
/// cache.
#[derive(Debug, Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    max_output: usize,
}

impl TlsConnector {
    /// Default cap on a connection's encrypted output: four full records.
    pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024;

    /// Connections over `config` to the server called `server_name` (a
    /// DNS name, or an IP address), which its certificate must name.
    /// Fails if the name is neither, or if rustls would refuse a
    /// connection over `config` (so that no connection ever can).
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name)
            .map_err(|_| TlsError::ServerName(server_name.to_owned()))?
            .to_owned();
        ClientConnection::new(Arc::clone(&config), name.clone())?;
        Ok(Self {
            config,
            name,
            max_output: Self::DEFAULT_MAX_OUTPUT,
        })
    }

    /// Connections to `server_name` over the configuration `settings`
    /// describe.
    pub fn from_settings(
        settings: &TlsClientSettings,
        server_name: &str,
    ) -> Result<Self, TlsError> {
        Self::new(settings.client_config()?, server_name)
    }

    /// The name the server's certificate is checked against.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.name
    }

    /// TLS for one new connection; its ClientHello is ready to send.
    pub fn connect(&self) -> TlsClient {
        let conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            // It fails only for a configuration `new` already tried.
            .expect("TlsConnector::new made a connection with this configuration");
        TlsClient::new(conn, self.max_output)
    }
}
