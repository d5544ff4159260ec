//! A WebSocket that speaks permessage-deflate (RFC 7692), seen by the rest of the
//! server as a stream and a sink of axum's `Message`s.
//!
//! Browsers compress what they send when the server agrees to it, with one deflate
//! context for the life of the connection: a keystroke or a pointer move then costs a few
//! bytes instead of a whole JSON message, and the customer script carries no compressor.
//! The server only inflates: it never compresses what it sends (the snapshot, the largest
//! thing it relays, is already deflated by the customer's browser), so it keeps no deflate
//! state per connection and spends no CPU per relayed frame on it. The inflate state
//! (the window below plus a few KB) is made on the first compressed frame, so a session
//! that sends nothing, as a customer's does until an agent joins, holds none.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, Stream};
use yawc::frame::{Frame, OpCode};
use yawc::{CompressionLevel, DeflateOptions, IncomingUpgrade, Options, WebSocket};

/// The window a browser may compress with, as a power of two: 8 KB. The full 32 KB
/// window saves little more on the small frames a session sends, and costs four times
/// the memory per connection.
const CLIENT_WINDOW_BITS: u8 = 13;
/// The server never compresses: every message is below this size.
const NEVER: usize = usize::MAX;

/// The upgrade request of either party's connection.
pub type Upgrade = IncomingUpgrade;

/// Why a socket failed.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("message too big")]
    TooBig,
    #[error("a text frame that is not UTF-8")]
    NotUtf8,
    #[error("the connection is closing: nothing is sent after its close")]
    Closing,
    #[error(transparent)]
    WebSocket(yawc::WebSocketError),
}

impl From<yawc::WebSocketError> for SocketError {
    fn from(e: yawc::WebSocketError) -> Self {
        match e {
            yawc::WebSocketError::FrameTooLarge => SocketError::TooBig,
            yawc::WebSocketError::InvalidUTF8 => SocketError::NotUtf8,
            other => SocketError::WebSocket(other),
        }
    }
}

/// Answers the upgrade and runs `serve` on the connection once it is open. Messages
/// (inflated) of `max_message` bytes or more close the connection with 1009.
pub fn accept<F, Fut>(upgrade: Upgrade, max_message: usize, serve: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let options = Options::default()
        .with_max_payload_read(max_message.saturating_add(1))
        .with_max_read_buffer(max_message.saturating_add(1))
        // Buffers sized for thousands of mostly idle connections: the read buffer grows only
        // while a large frame is read, and the write buffer holds one frame at a time and is
        // given back once it is written (a boundary above zero keeps whatever a burst grew it to).
        .with_read_buffer_capacity(2048)
        .with_write_buffer_capacity(0)
        .with_backpressure_boundary(0)
        .with_no_delay();
    let options = Options {
        compression: Some(DeflateOptions {
            level: CompressionLevel::fast(),
            client_max_window_bits: Some(CLIENT_WINDOW_BITS),
            compression_threshold: NEVER,
            ..DeflateOptions::default()
        }),
        ..options
    };
    match upgrade.upgrade(options) {
        Ok((response, open)) => {
            tokio::spawn(async move {
                match open.await {
                    Ok(ws) => serve(Socket::new(ws)).await,
                    Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
                }
            });
            response.map(axum::body::Body::new).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// One open connection.
///
/// A connection closes once, and nothing follows its close: yawc answers every close it
/// reads, closes on its own after a frame it refuses, and sends whatever it is given after a
/// close. So a close already sent (by us or by yawc) stops the next one and any frame, and
/// nothing is read past the peer's close. (A browser fails a connection that gets a second
/// close, or data after one.)
pub struct Socket {
    ws: WebSocket<yawc::HttpStream>,
    close_sent: bool,
    close_read: bool,
}

impl Socket {
    fn new(ws: WebSocket<yawc::HttpStream>) -> Self {
        Socket {
            ws,
            close_sent: false,
            close_read: false,
        }
    }

    /// The next message; `None` once the connection is closed or broken.
    pub async fn recv(&mut self) -> Option<Result<Message, SocketError>> {
        use futures_util::StreamExt;
        self.next().await
    }
}

fn message(frame: Frame) -> Result<Message, SocketError> {
    let code = frame.close_code();
    let (op, _, payload) = frame.into_parts();
    Ok(match op {
        OpCode::Text => {
            Message::Text(Utf8Bytes::try_from(payload).map_err(|_| SocketError::NotUtf8)?)
        }
        OpCode::Binary => Message::Binary(payload),
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        // Fragments come assembled; anything else ends the connection.
        OpCode::Close | OpCode::Continuation => Message::Close(code.map(|c| CloseFrame {
            code: c.into(),
            reason: Utf8Bytes::from_static(""),
        })),
    })
}

fn frame(msg: Message) -> Frame {
    match msg {
        Message::Text(t) => Frame::text(bytes::Bytes::from(t)),
        Message::Binary(b) => Frame::binary(b),
        Message::Ping(b) => Frame::ping(b),
        Message::Pong(b) => Frame::pong(b),
        Message::Close(Some(c)) => Frame::close(c.code.into(), c.reason.as_bytes()),
        Message::Close(None) => Frame::close(1000.into(), b""),
    }
}

impl Stream for Socket {
    type Item = Result<Message, SocketError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Reading on after the peer's close would send yawc's answer to it (a second close
        // when ours went first).
        if this.close_read {
            return Poll::Ready(None);
        }
        match this.ws.poll_next_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(f)) => {
                if f.opcode() == OpCode::Close {
                    // yawc has queued the answer: it is the close we send.
                    this.close_read = true;
                    this.close_sent = true;
                }
                Poll::Ready(Some(message(f)))
            }
            Poll::Ready(Err(yawc::WebSocketError::ConnectionClosed)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => {
                // yawc closes the connection itself after a frame it refuses.
                this.close_sent = true;
                Poll::Ready(Some(Err(e.into())))
            }
        }
    }
}

impl Sink<Message> for Socket {
    type Error = SocketError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_ready(cx)
            .map_err(Into::into)
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), Self::Error> {
        let this = self.get_mut();
        let closing = matches!(msg, Message::Close(_));
        if this.close_sent {
            // A relaying task may write after the close (a browser fails a connection that
            // gets data after a close).
            return if closing {
                Ok(())
            } else {
                Err(SocketError::Closing)
            };
        }
        this.close_sent = closing;
        Pin::new(&mut this.ws)
            .start_send(frame(msg))
            .map_err(Into::into)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_flush(cx)
            .map_err(Into::into)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_close(cx)
            .map_err(Into::into)
    }
}
