//! TLS for both ends, in one place: the stream the clients open
//! ([`ClientStream`], plain TCP or TLS over it), the client trust settings
//! both clients share ([`ClientTls`]), and the server's [`TlsAcceptor`] for
//! [`Server::with_tls`](crate::server::Server::with_tls).
//!
//! Nothing inside the tunnel changes: the HTTP, WebSocket and event-stream
//! code runs over any `AsyncRead + AsyncWrite`, so TLS is a different
//! stream handed to the same functions. The TLS itself is rustls (with the
//! ring provider) through tokio-rustls; none of it is ours to write.
//!
//! Without the `tls` cargo feature only [`ClientStream::Plain`] is left,
//! and `wss://`/`https://` URLs are refused with `TlsNotSupported`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[cfg(feature = "tls")]
pub use enabled::*;

/// The connection a client opened: plain TCP for `ws://` and `http://`,
/// TLS over TCP for `wss://` and `https://`. The WebSocket and the event
/// source run over either without knowing which.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: rustls's connection state is a few hundred
    /// bytes, the TCP stream a few words).
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl ClientStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, ClientStream::Plain(_))
    }
}

// Both variants are Unpin, so plain `Pin::new` reaches them: no
// projection, no unsafe.
impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(feature = "tls")]
mod enabled {
    use std::fmt;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, OnceLock};

    use rustls::RootCertStore;
    use rustls_pki_types::pem::{self, PemObject};
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::net::TcpStream;

    use super::ClientStream;
    use crate::http::StatusCode;
    use crate::server::{Acceptor, BoxFuture, ServerConfig};

    pub use rustls;

    /// The first byte of every TLS connection: a handshake record (RFC
    /// 8446 §5.1, content type 22). Anything else on the TLS port is not a
    /// TLS client.
    const TLS_HANDSHAKE_RECORD: u8 = 0x16;

    /// Why a certificate, key or TLS configuration could not be used.
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum TlsError {
        /// A PEM file could not be read, or holds nothing of the kind
        /// wanted (`what`: "certificate" or "private key").
        Pem {
            /// The file.
            path: PathBuf,
            /// What was looked for.
            what: &'static str,
            /// What went wrong.
            error: pem::Error,
        },
        /// rustls refused the certificate chain and key (for example, the
        /// key does not belong to the certificate).
        Rustls(rustls::Error),
    }

    impl fmt::Display for TlsError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TlsError::Pem {
                    path,
                    what,
                    error: pem::Error::NoItemsFound,
                } => write!(f, "{}: no PEM {what} found", path.display()),
                TlsError::Pem { path, what, error } => {
                    write!(f, "{}: cannot read a PEM {what}: {error}", path.display())
                }
                TlsError::Rustls(err) => write!(f, "unusable certificate or key: {err}"),
            }
        }
    }

    impl std::error::Error for TlsError {}

    impl From<rustls::Error> for TlsError {
        fn from(err: rustls::Error) -> Self {
            TlsError::Rustls(err)
        }
    }

    /// The crypto provider every configuration here is built with: the
    /// process's default if the application installed one (say aws-lc-rs,
    /// for its post-quantum key exchange), else ring, the one this crate
    /// builds. Named explicitly rather than left to rustls, which panics
    /// when an application links both providers without picking one.
    pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
        if let Some(installed) = rustls::crypto::CryptoProvider::get_default() {
            return installed.clone();
        }
        // rustls 0.23.48 deprecates ring's provider because ring has no
        // post-quantum key exchange. We keep it on purpose: aws-lc-rs,
        // which has one, needs cmake and minutes of C on every clean
        // build; an application that wants it installs it as the default.
        #[allow(deprecated)]
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// Reads every certificate in a PEM file (a chain: leaf first).
    ///
    /// # Errors
    /// [`TlsError::Pem`] if the file cannot be read or has no certificate.
    pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let pem_err = |error| TlsError::Pem {
            path: path.to_path_buf(),
            what: "certificate",
            error,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(pem_err)?;
        if certs.is_empty() {
            return Err(pem_err(pem::Error::NoItemsFound));
        }
        Ok(certs)
    }

    /// Reads every certificate in PEM text: for a CA given as a string.
    ///
    /// # Errors
    /// [`pem::Error::NoItemsFound`] if there is none, or the PEM error.
    pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
        let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(pem::Error::NoItemsFound);
        }
        Ok(certs)
    }

    // ANCHOR: server_config
    /// A rustls server configuration from a PEM certificate chain and a
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), offering only HTTP/1.1
    /// by ALPN: the only HTTP we speak, and the one WebSockets (RFC 6455)
    /// and event streams run over.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file and what is wrong with it.
    pub fn server_config_from_pem_files(
        cert: &Path,
        key: &Path,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let chain = read_certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Pem {
            path: key.to_path_buf(),
            what: "private key",
            error,
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
    // ANCHOR_END: server_config

    // ANCHOR: acceptor
    /// The server's TLS [`Acceptor`]. Before the handshake it peeks at the
    /// first byte: a client speaking plain HTTP to the TLS port gets a
    /// plain `400` that says so (as nginx does), instead of a handshake
    /// error it cannot read or a hang.
    #[derive(Clone)]
    pub struct TlsAcceptor {
        inner: tokio_rustls::TlsAcceptor,
    }

    impl TlsAcceptor {
        /// An acceptor with this rustls configuration.
        pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
            TlsAcceptor {
                inner: tokio_rustls::TlsAcceptor::from(config),
            }
        }
    }

    impl fmt::Debug for TlsAcceptor {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("TlsAcceptor")
        }
    }

    impl Acceptor for TlsAcceptor {
        // Boxed: the TLS state is 1.2 KB inline, and the connection's task
        // would keep room for it for as long as the connection lives, on
        // top of the box an upgraded connection's stream moves into.
        type Stream = Box<tokio_rustls::server::TlsStream<TcpStream>>;

        fn accept(
            &self,
            mut tcp: TcpStream,
            config: Arc<ServerConfig>,
        ) -> BoxFuture<io::Result<Self::Stream>> {
            let inner = self.inner.clone();
            Box::pin(async move {
                let mut first = [0u8; 1];
                if tcp.peek(&mut first).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                if first[0] != TLS_HANDSHAKE_RECORD {
                    let status = StatusCode::BAD_REQUEST;
                    let why = "this port speaks HTTPS: use https:// or wss://";
                    crate::server::refuse(&mut tcp, status, why, &config).await;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "plain HTTP on the TLS port (answered 400)",
                    ));
                }
                inner.accept(tcp).await.map(Box::new)
            })
        }
    }
    // ANCHOR_END: acceptor

    /// How a client decides whom to trust: the system's root certificates
    /// (read once per process), plus any added with
    /// [`ClientTls::with_root_certificate`]; or a whole rustls
    /// configuration of your own ([`ClientTls::with_config`]), for client
    /// certificates and the like.
    ///
    /// The rustls configuration is built on first use and shared by every
    /// clone, so connections made with the same settings resume each
    /// other's TLS sessions instead of paying for a full handshake.
    #[derive(Clone, Default)]
    pub struct ClientTls {
        extra_roots: Vec<CertificateDer<'static>>,
        config: Option<Arc<rustls::ClientConfig>>,
        built: Arc<OnceLock<Arc<rustls::ClientConfig>>>,
    }

    impl fmt::Debug for ClientTls {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("ClientTls")
                .field("extra_roots", &self.extra_roots.len())
                .field("custom_config", &self.config.is_some())
                .finish()
        }
    }

    impl ClientTls {
        /// Also trusts this root certificate (a private CA, a test CA).
        #[must_use]
        pub fn with_root_certificate(mut self, cert: CertificateDer<'static>) -> Self {
            self.extra_roots.push(cert);
            self.built = Arc::default();
            self
        }

        /// Uses this rustls configuration as is (its roots, its ALPN, its
        /// client certificate), ignoring the system's roots.
        #[must_use]
        pub fn with_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
            self.config = Some(config);
            self
        }

        /// The rustls configuration to connect with.
        pub fn rustls_config(&self) -> Arc<rustls::ClientConfig> {
            if let Some(config) = &self.config {
                return config.clone();
            }
            self.built
                .get_or_init(|| {
                    let mut roots = RootCertStore::empty();
                    let (_, ignored) =
                        roots.add_parsable_certificates(self.extra_roots.iter().cloned());
                    if ignored > 0 {
                        tracing::warn!("{ignored} added root certificates are unusable");
                    }
                    client_config(roots)
                })
                .clone()
        }
    }

    /// The system's roots, read once: reading the store takes milliseconds,
    /// and it does not change under a running process often enough to
    /// matter.
    fn system_roots() -> &'static [CertificateDer<'static>] {
        static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
        ROOTS.get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for err in &found.errors {
                tracing::debug!("system root certificates: {err}");
            }
            found.certs
        })
    }

    /// A client configuration trusting the system's roots plus `roots`,
    /// offering HTTP/1.1 by ALPN.
    fn client_config(mut roots: RootCertStore) -> Arc<rustls::ClientConfig> {
        roots.add_parsable_certificates(system_roots().iter().cloned());
        let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    // ANCHOR: client_connect
    /// Runs the client's TLS handshake over `tcp`, checking the server's
    /// certificate for `host` (the URL's host, also sent as SNI when it is
    /// a name).
    ///
    /// # Errors
    /// `InvalidInput` for a host that cannot be a server name; otherwise
    /// the handshake's error (an unknown CA, a wrong name, a server that
    /// does not speak TLS), as rustls words it.
    pub(crate) async fn wrap_client(
        tcp: TcpStream,
        host: &str,
        tls: &ClientTls,
    ) -> io::Result<ClientStream> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        let connector = tokio_rustls::TlsConnector::from(tls.rustls_config());
        let stream = connector.connect(name, tcp).await?;
        Ok(ClientStream::Tls(Box::new(stream)))
    }
    // ANCHOR_END: client_connect
}
