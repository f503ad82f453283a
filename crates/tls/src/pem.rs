//! Reading the operator's PEM files: certificate chains, private keys and
//! CA bundles, each refused with a [`TlsError`] that names the file and
//! what it should have held. Used by both sides' configurations; what the
//! certificates are trusted for is theirs to decide.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use crate::TlsError;

/// Every certificate in the PEM file at `path` (at least one); `what`
/// names the file in errors ("certificate", "client CA").
pub(crate) fn certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| error(what, path, "certificate", e))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
            wanted: "certificate",
        });
    }
    Ok(certs)
}

/// The first private key in the PEM file at `path`.
pub(crate) fn key(what: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| error(what, path, "private key", e))
}

/// The certificates in the PEM file at `path` as trust anchors; `what`
/// names the file in errors ("client CA", "CA").
pub(crate) fn roots(what: &'static str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(what, path)? {
        roots.add(cert).map_err(|e| TlsError::Ca {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

fn error(what: &'static str, path: &Path, wanted: &'static str, e: pem::Error) -> TlsError {
    match e {
        pem::Error::NoItemsFound => TlsError::Empty {
            what,
            path: path.to_owned(),
            wanted,
        },
        pem::Error::Io(e) => TlsError::Pem {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        },
        e => TlsError::Pem {
            what,
            path: path.to_owned(),
            reason: format!("not valid PEM: {e}"),
        },
    }
}
