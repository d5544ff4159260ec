//! A slow or greedy network peer: connections opened and never finished, kept idle, or
//! opened by the hundred from one address. Each must be cut off or refused, so that one
//! client cannot hold the server's sockets and tasks.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::common::{TestServer, start};

/// How long a test waits for the server to close a connection it must close. Well above the
/// short timeouts the tests set (1 s), well below the 75 s a slowloris held before.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(5);

/// Whether the server closes `stream` (end of file or a reset) within `within`, reading
/// and dropping whatever it sends first (an error response to a timed-out request).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let until = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A server whose header timeout is 1 s, to prove the cut-off without waiting the default.
async fn impatient() -> TestServer {
    start(|c| c.connections.header_read_timeout = Duration::from_secs(1)).await
}

#[tokio::test]
async fn headers_that_never_end_are_cut_off() {
    let srv = impatient().await;
    let mut s = TcpStream::connect(&srv.host).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut s, CUT_OFF_WITHIN).await,
        "a request whose headers never end holds its connection"
    );
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_are_cut_off_all_the_same() {
    let srv = impatient().await;
    let mut s = TcpStream::connect(&srv.host).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // Trickling bytes keeps the socket busy, but the headers must be whole in time.
    let trickle = async {
        for _ in 0..100 {
            if s.write_all(b"X").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(
        tokio::time::timeout(CUT_OFF_WITHIN, trickle)
            .await
            .unwrap_or(false),
        "a client trickling its headers holds its connection"
    );
}

#[tokio::test]
async fn a_connection_that_never_speaks_is_cut_off() {
    let srv = impatient().await;
    let mut s = TcpStream::connect(&srv.host).await.unwrap();
    assert!(
        closed_within(&mut s, CUT_OFF_WITHIN).await,
        "a silent connection is kept open"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let srv = impatient().await;
    let mut s = TcpStream::connect(&srv.host).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_within(&mut s, CUT_OFF_WITHIN).await,
        "an idle keep-alive connection is kept open"
    );
}

#[tokio::test]
async fn the_default_header_timeout_is_short() {
    let default = cobrowse::config::Config::default().connections;
    assert!(default.header_read_timeout <= Duration::from_secs(30));
    assert!(default.header_read_timeout >= Duration::from_secs(5));
    assert!((16..=4096).contains(&default.per_ip));
}

/// Opens connections from 127.0.0.1 that each made one request and stay open (keep-alive).
async fn held(srv: &TestServer, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for _ in 0..n {
        let mut s = TcpStream::connect(&srv.host).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "under the cap");
        open.push(s);
    }
    open
}

/// Whether a new connection still gets an answer to a request.
async fn answered(srv: &TestServer) -> bool {
    let Ok(mut s) = TcpStream::connect(&srv.host).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(CUT_OFF_WITHIN, s.read_to_end(&mut answer)).await;
    matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200")
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let srv = start(|c| c.connections.per_ip = 4).await;
    let mut open = held(&srv, 3).await;
    // A WebSocket counts like any connection.
    let _customer = srv.connect_customer(None).await.unwrap();
    assert!(!answered(&srv).await, "a fifth connection from one address");
    open.pop();
    let mut freed = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if answered(&srv).await {
            freed = true;
            break;
        }
    }
    assert!(freed, "a closed connection frees its place");
}

#[tokio::test]
async fn a_trusted_reverse_proxy_is_not_capped_as_one_client() {
    let srv = start(|c| {
        c.connections.per_ip = 2;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let _open = held(&srv, 5).await;
    assert!(answered(&srv).await);
}

/// A self-signed certificate for 127.0.0.1 in `dir` (made with the `openssl` command).
pub(super) fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", "/CN=cobrowse-test"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(made.success());
    (cert, key)
}

#[tokio::test]
async fn the_tls_listener_cuts_off_a_handshake_that_never_comes_and_caps_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let srv = start(move |c| {
        c.tls = Some(cobrowse::config::TlsConfig { cert, key });
        c.connections.header_read_timeout = Duration::from_secs(1);
        c.connections.per_ip = 3;
    })
    .await;
    let mut silent = TcpStream::connect(&srv.host).await.unwrap();
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(TcpStream::connect(&srv.host).await.unwrap());
    }
    let mut over = TcpStream::connect(&srv.host).await.unwrap();
    assert!(
        closed_within(&mut over, Duration::from_millis(500)).await,
        "a fourth connection from one address is closed at once"
    );
    assert!(
        closed_within(&mut silent, CUT_OFF_WITHIN).await,
        "a TLS connection without a handshake is kept open"
    );
}
