//! The listening socket, plain HTTP or HTTPS, and what it lets one client hold.
//!
//! A client that opens connections and never finishes a request (slowloris), or opens
//! hundreds, would otherwise keep a socket and a task each for as long as it likes. Every
//! connection therefore gets a deadline for its TLS handshake, for its first request, and
//! for each request's headers (hyper's header timer also runs while a keep-alive
//! connection waits idle for its next request), and one address (an IPv6 client: its
//! /64 network) holds at most `connections.per_ip` connections at once, WebSockets
//! included.
//!
//! The cap counts the TCP peer, the only address known when a connection is accepted.
//! Behind a reverse proxy that peer is the proxy, which carries every client: peers in
//! `trusted_proxies` are therefore exempt, and capping clients is the proxy's job there.

use std::collections::HashMap;
use std::future::Ready;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::{Handle, Server};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::ConnectionsConfig;
use crate::forwarded::IpRange;

/// How long open connections may take to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` (over TLS when `tls` is given) until `handle` shuts it down.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<RustlsConfig>,
    app: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    limits: &ConnectionsConfig,
    trusted_proxies: &[IpRange],
    handle: Handle<SocketAddr>,
) -> io::Result<()> {
    let cap = PerIpCap::new(limits.per_ip, trusted_proxies);
    let timeout = limits.header_read_timeout;
    let server = axum_server::from_tcp(listener)?
        .handle(handle)
        .first_request_timeout(timeout);
    match tls {
        Some(tls) => {
            let acceptor = RustlsAcceptor::new(tls)
                .handshake_timeout(timeout)
                .acceptor(cap);
            with_timeouts(server.acceptor(acceptor), timeout)
                .serve(app)
                .await
        }
        None => {
            with_timeouts(server.acceptor(cap), timeout)
                .serve(app)
                .await
        }
    }
}

/// Starts a graceful shutdown of the server behind `handle`: no new connections, and the
/// open ones get `SHUTDOWN_GRACE` to finish.
pub fn shut_down(handle: &Handle<SocketAddr>) {
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}

/// Hyper's own deadlines: headers (HTTP/1, idle keep-alive included) and, for HTTP/2,
/// pings that close a connection whose peer has gone silent.
fn with_timeouts<A>(mut server: Server<SocketAddr, A>, timeout: Duration) -> Server<SocketAddr, A> {
    let builder = server.http_builder();
    builder.http1().header_read_timeout(timeout);
    builder
        .http2()
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
    server
}

/// Open connections per peer address, shared by every accepted connection's `Slot`.
type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// An acceptor that refuses a connection when its peer already holds `cap` of them.
#[derive(Clone)]
pub struct PerIpCap {
    cap: usize,
    exempt: Arc<[IpRange]>,
    counts: Counts,
}

impl PerIpCap {
    pub fn new(cap: usize, exempt: &[IpRange]) -> Self {
        PerIpCap {
            cap,
            exempt: exempt.into(),
            counts: Counts::default(),
        }
    }

    /// A place for one more connection from `ip`, or `None` when it holds `cap` already.
    fn slot(&self, ip: IpAddr) -> Option<Slot> {
        if self.exempt.iter().any(|range| range.contains(ip)) {
            return Some(Slot(None));
        }
        let ip = client_key(ip);
        let mut counts = self.counts.lock().expect("connection counts");
        let held = counts.entry(ip).or_default();
        if *held >= self.cap {
            return None;
        }
        *held += 1;
        Some(Slot(Some((self.counts.clone(), ip))))
    }

    /// Connections `ip` holds now.
    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().expect("connection counts");
        counts.get(&client_key(ip)).copied().unwrap_or(0)
    }
}

/// Whom a connection counts against: its IPv4 address (also when it reaches an IPv6
/// socket as `::ffff:a.b.c.d`), or its IPv6 /64 network. One subscriber or machine is
/// usually given a whole /64, so counting single IPv6 addresses would let it open
/// connections from billions of them.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl<S> Accept<TcpStream, S> for PerIpCap {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = Ready<io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let accepted = stream.peer_addr().and_then(|peer| {
            let slot = self.slot(peer.ip()).ok_or_else(|| {
                metrics::counter!(crate::metrics::CONNECTIONS_REFUSED).increment(1);
                tracing::debug!(%peer, cap = self.cap, "connection refused: too many from one address");
                io::Error::other("too many connections from one address")
            })?;
            Ok((
                Counted {
                    io: stream,
                    _slot: slot,
                },
                service,
            ))
        });
        std::future::ready(accepted)
    }
}

/// One connection's place in the count, given back when the connection is dropped
/// (after its last request, or when its WebSocket closes). `None` for exempt peers.
pub struct Slot(Option<(Counts, IpAddr)>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((counts, ip)) = &self.0 {
            let mut counts = counts.lock().expect("connection counts");
            if let Some(held) = counts.get_mut(ip) {
                *held -= 1;
                if *held == 0 {
                    counts.remove(ip);
                }
            }
        }
    }
}

/// A connection that holds its `Slot` for as long as it lives.
pub struct Counted<T> {
    io: T,
    /// Held, never read: dropping it gives the place back.
    _slot: Slot,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_cap_and_places_come_back() {
        let cap = PerIpCap::new(2, &[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = cap.slot(a).unwrap();
        let _second = cap.slot(a).unwrap();
        assert!(cap.slot(a).is_none(), "a third from one address");
        assert!(cap.slot(b).is_some(), "another address has its own places");
        drop(first);
        assert_eq!(cap.held(a), 1);
        assert!(cap.slot(a).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn an_ipv4_client_on_an_ipv6_socket_is_the_same_client() {
        let cap = PerIpCap::new(1, &[]);
        let _held = cap.slot("192.0.2.1".parse().unwrap()).unwrap();
        assert!(cap.slot("::ffff:192.0.2.1".parse().unwrap()).is_none());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_network() {
        let cap = PerIpCap::new(2, &[]);
        let _a = cap.slot("2001:db8:1:2::1".parse().unwrap()).unwrap();
        let _b = cap.slot("2001:db8:1:2:ffff::9".parse().unwrap()).unwrap();
        assert!(cap.slot("2001:db8:1:2::abcd".parse().unwrap()).is_none());
        assert!(cap.slot("2001:db8:1:3::1".parse().unwrap()).is_some());
    }

    #[test]
    fn trusted_proxies_are_not_counted() {
        let cap = PerIpCap::new(1, &["10.0.0.0/8".parse().unwrap()]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| cap.slot(proxy).unwrap()).collect();
        assert!(held.iter().all(|s| s.0.is_none()));
        assert_eq!(cap.held(proxy), 0);
    }
}
