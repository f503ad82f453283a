//! The server side of TLS that every connection shares: one
//! `rustls::ServerConfig` built from the operator's PEM files (certificate
//! chain, private key, and for mutual TLS the client CA), and the
//! [`TlsLayers`] that give each connection its [`TlsLayer`] over it.
//! Per-connection state is [`TlsLayer`]'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{ServerConfig, ServerConnection};
use sockmux_engine::Layers;

use crate::{pem, provider, TlsError, TlsLayer};

/// What a TLS server is configured with.
///
/// ```no_run
/// use sockmux_tls::{TlsLayers, TlsSettings};
///
/// let settings = TlsSettings::new("server.pem", "server.key").requiring_clients_of("ca.pem");
/// let layers = TlsLayers::from_settings(&settings)?;
/// # Ok::<(), sockmux_tls::TlsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Mutual TLS: the CA certificates (PEM) a client's certificate must
    /// chain to. Every client must then present one.
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols offered, in order of preference (none by default:
    /// clients that send ALPN are served without it).
    pub alpn: Vec<Vec<u8>>,
    /// Sessions the server remembers for resumption by session ID (TLS
    /// 1.2) and by stateful ticket; stateless tickets need no room here.
    pub session_cache: usize,
}

impl TlsSettings {
    /// Default for [`TlsSettings::session_cache`].
    pub const DEFAULT_SESSION_CACHE: usize = 4096;

    /// Server TLS with this certificate chain and key, no client
    /// certificates.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            alpn: Vec::new(),
            session_cache: Self::DEFAULT_SESSION_CACHE,
        }
    }

    /// The same, requiring a client certificate issued by a CA in `ca`.
    pub fn requiring_clients_of(self, ca: impl Into<PathBuf>) -> Self {
        Self {
            client_ca: Some(ca.into()),
            ..self
        }
    }

    /// The rustls configuration these settings describe: TLS 1.3 and 1.2,
    /// resumption by stateless tickets and by a session cache.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = pem::certs("certificate", &self.cert)?;
        let key = pem::key("private key", &self.key)?;
        let provider = Arc::new(provider::provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let roots = pem::roots("client CA", path)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| TlsError::Ca {
                        what: "client CA",
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config =
            builder
                .with_single_cert(certs, key)
                .map_err(|reason| TlsError::Identity {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                    reason,
                })?;
        config.session_storage = ServerSessionMemoryCache::new(self.session_cache);
        config.ticketer = provider::ticketer()?;
        // One ticket per full handshake: a client resumes with one, and
        // each costs an encryption on the handshake's path.
        config.send_tls13_tickets = 1;
        config.alpn_protocols = self.alpn.clone();
        // The server's order (cheapest hash first, see `provider`), not
        // the client's: OpenSSL lists AES-256-GCM/SHA-384 first.
        config.ignore_client_order = true;
        Ok(Arc::new(config))
    }
}

/// Gives every connection a [`TlsLayer`] over one shared configuration,
/// which [`TlsLayers::reload`] replaces for the connections that come
/// after (clones share it).
#[derive(Debug, Clone)]
pub struct TlsLayers {
    config: Arc<ArcSwap<ServerConfig>>,
    max_output: usize,
}

impl TlsLayers {
    /// Default for [`TlsLayers::with_max_output`]: four full records.
    pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024;

    /// Layers serving `config`; fails if rustls would refuse a connection
    /// over it (so that no connection ever can).
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, TlsError> {
        ServerConnection::new(Arc::clone(&config))?;
        Ok(Self {
            config: Arc::new(ArcSwap::new(config)),
            max_output: Self::DEFAULT_MAX_OUTPUT,
        })
    }

    /// Layers over the configuration `settings` describe.
    pub fn from_settings(settings: &TlsSettings) -> Result<Self, TlsError> {
        Self::new(settings.server_config()?)
    }

    /// The same layers, each holding at most about `bytes` of encrypted
    /// output before it stops taking the session's (and so, through the
    /// session's own cap, before reading from the peer pauses).
    pub fn with_max_output(self, bytes: usize) -> Self {
        Self {
            max_output: bytes.max(1),
            ..self
        }
    }

    /// Reads `settings`' files again and serves the connections that come
    /// next with them; connections already open go on with theirs. The
    /// ticket keys and the session cache carry over, so clients resume
    /// across a reload (as with nginx's and HAProxy's reloads). On any
    /// error the configuration in use stays.
    pub fn reload(&self, settings: &TlsSettings) -> Result<(), TlsError> {
        let old = self.config.load();
        let mut config = Arc::unwrap_or_clone(settings.server_config()?);
        config.ticketer = Arc::clone(&old.ticketer);
        config.session_storage = Arc::clone(&old.session_storage);
        let config = Arc::new(config);
        ServerConnection::new(Arc::clone(&config))?;
        self.config.store(config);
        Ok(())
    }
}

impl Layers for TlsLayers {
    type Layer = TlsLayer;

    fn layer(&self, peer: SocketAddr) -> TlsLayer {
        let conn = ServerConnection::new(self.config.load_full())
            // It fails only for a configuration `new` or `reload` tried.
            .expect("TlsLayers made a connection with this configuration");
        TlsLayer::new(conn, peer, self.max_output)
    }
}
