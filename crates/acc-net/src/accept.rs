//! Accepting TCP connections until shutdown, shared by the HTTPS accept loop
//! ([`crate::server`]) and the metrics listener ([`crate::health`]): an accept error (out
//! of file descriptors and similar) waits with a doubling backoff instead of spinning.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// The first wait after an accept error.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest wait after accept errors in a row.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One listener's accepts and their backoff.
pub(crate) struct Acceptor<'a> {
    listener: &'a TcpListener,
    /// Which listener, in the log line of an accept error.
    name: &'static str,
    backoff: Duration,
}

impl<'a> Acceptor<'a> {
    /// Accepts on `listener`, named `name` in logs.
    pub(crate) fn new(listener: &'a TcpListener, name: &'static str) -> Self {
        Acceptor { listener, name, backoff: FIRST_BACKOFF }
    }

    /// The next connection, or `None` once `shutdown` has completed (checked first).
    pub(crate) async fn next<F: Future<Output = ()>>(
        &mut self,
        mut shutdown: Pin<&mut F>,
    ) -> Option<(TcpStream, SocketAddr)> {
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => return None,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => {
                        self.backoff = FIRST_BACKOFF;
                        return Some(a);
                    }
                    Err(e) => {
                        tracing::warn!(listener = self.name, error = %e,
                            backoff_ms = self.backoff.as_millis() as u64, "Accept failed.");
                        tokio::time::sleep(self.backoff).await;
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_until_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut acceptor = Acceptor::new(&listener, "test");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async {
            let _ = rx.await;
        };
        tokio::pin!(shutdown);
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (_, peer) = acceptor.next(shutdown.as_mut()).await.expect("a connection before shutdown");
        let client = client.await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        tx.send(()).unwrap();
        assert!(acceptor.next(shutdown.as_mut()).await.is_none(), "none once shutdown completed");
    }
}
