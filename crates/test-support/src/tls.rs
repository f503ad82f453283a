//! Test certificates, made fresh for each test (rcgen, ECDSA P-256) and
//! written as PEM files into a scratch directory that goes with the
//! [`Pki`]: a CA, a server certificate for `localhost` and `127.0.0.1`,
//! a client certificate from the same CA, and a stranger's from another
//! CA. Nothing here is trusted outside the test that made it.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The client certificate's subject, as the server logs it.
pub const CLIENT_SUBJECT: &str = "CN=alice, O=sockmux tests";

/// A scratch PKI: PEM files for a server, a client and a stranger.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// Makes the certificates and writes them out.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("scratch directory");
        let ca = authority("sockmux test CA");
        let other = authority("some other CA");
        let server = leaf(
            &["localhost", "127.0.0.1"],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf(&[], "alice", ExtendedKeyUsagePurpose::ClientAuth);
        let stranger = leaf(&[], "mallory", ExtendedKeyUsagePurpose::ClientAuth);
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write a PEM file");
        };
        write("ca.pem", ca.pem());
        write("other-ca.pem", other.pem());
        for (name, (params, key), issuer) in [
            ("server", server, &ca),
            ("client", client, &ca),
            ("stranger", stranger, &other),
        ] {
            let cert = params.signed_by(&key, issuer).expect("sign");
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Self { dir }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file of the PKI: `ca.pem`, `other-ca.pem`, and `NAME.pem` /
    /// `NAME.key` for `server`, `client` and `stranger`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// [`Pki::path`] as a `&str`, for command lines.
    pub fn arg(&self, name: &str) -> String {
        self.path(name)
            .to_str()
            .expect("UTF-8 temp path")
            .to_owned()
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("self-sign")
}

fn leaf(names: &[&str], cn: &str, usage: ExtendedKeyUsagePurpose) -> (CertificateParams, KeyPair) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "sockmux tests");
    params.extended_key_usages = vec![usage];
    (params, KeyPair::generate().expect("key"))
}
