//! A connection's way out: the write half of its WebSocket and the bounded
//! queue its own task drains.
//!
//! The queue is a `VecDeque` behind a lock, not a channel: almost always it
//! holds nothing or one frame, and a channel's preallocated blocks cost
//! ~4.7 KB per connection, more than everything else a session keeps.
//!
//! A relayed frame is written straight into the receiver's socket by the task
//! that relays it when nothing is queued before it and nobody is writing
//! there: that saves waking the receiver's task, a queue round trip and a
//! poll of its loop for most frames. Whatever cannot be written at once (the
//! socket is busy or full, frames wait in the queue, a close) goes through the
//! queue, so frames to one connection keep their order and a slow receiver
//! never holds up the sender.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use axum::extract::ws::{Message, Utf8Bytes};

use crate::socket::{Socket, SocketError};
use futures_util::Sink;
use futures_util::stream::SplitSink;
use tokio::sync::{Mutex, Notify};

/// What is sent to a connection.
#[derive(Debug)]
pub enum Out {
    /// A frame, stamped for the relay-latency histogram.
    Frame(Message, Instant),
    Close(u16, Utf8Bytes),
}

impl Out {
    pub fn text(s: impl Into<Utf8Bytes>) -> Out {
        Out::Frame(Message::Text(s.into()), Instant::now())
    }
}

/// What waits in a connection's queue for its task.
#[derive(Debug)]
pub enum Queued {
    Out(Out),
    /// Finish writing what a relaying task left in the socket's buffer.
    Flush,
}

/// Result of a send: frames are never queued without bound; a full queue
/// drops the frame and the receiver resynchronises by sequence number.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Written into the receiver's socket by the caller.
    Written,
    Queued,
    Dropped,
    NoPeer,
}

pub type WsSink = SplitSink<Socket, Message>;

/// A connection's queue and the bytes of the frames in it.
#[derive(Default)]
struct Queue {
    items: VecDeque<Queued>,
    bytes: usize,
}

/// How much a connection's queue may hold.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    pub items: usize,
    /// Relayed frames past this many bytes are dropped; notices never are.
    pub bytes: usize,
}

pub struct Outbox {
    sink: Mutex<WsSink>,
    queue: std::sync::Mutex<Queue>,
    capacity: Capacity,
    /// Wakes the connection's task when an item is queued.
    ready: Notify,
    /// Items queued and not yet handled by the connection's task; a direct
    /// write happens only when this is zero, so it never overtakes them. It
    /// starts at one: nothing is written directly before the first message.
    waiting: AtomicUsize,
}

impl Outbox {
    pub fn new(sink: WsSink, capacity: Capacity) -> Self {
        Outbox {
            sink: Mutex::new(sink),
            queue: std::sync::Mutex::default(),
            capacity,
            ready: Notify::new(),
            waiting: AtomicUsize::new(1),
        }
    }

    /// The next queued item, waiting for one; for the connection's task only.
    pub async fn next(&self) -> Queued {
        loop {
            if let Some(item) = self.try_next() {
                return item;
            }
            // A push between the check and here leaves a permit: no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// The next queued item if there is one.
    pub fn try_next(&self) -> Option<Queued> {
        let mut queue = self.queue.lock().expect("outbox lock");
        let item = queue.items.pop_front()?;
        queue.bytes -= size(&item);
        Some(item)
    }

    /// Sends the connection's first message, then lets relaying tasks write directly.
    pub async fn first(&self, msg: Message) -> Result<(), SocketError> {
        let sent = self.write(msg).await;
        self.handled();
        sent
    }

    /// Writes a frame from the connection's own task, waiting for the socket.
    pub async fn write(&self, msg: Message) -> Result<(), SocketError> {
        use futures_util::SinkExt;
        self.sink.lock().await.send(msg).await
    }

    /// Finishes writing what a relaying task could not flush at once.
    pub async fn flush(&self) -> Result<(), SocketError> {
        use futures_util::SinkExt;
        self.sink.lock().await.flush().await
    }

    /// The connection's task took one item off the queue and dealt with it.
    pub fn handled(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queues an item for the connection's task, leaving `keep_free` slots.
    fn queue(&self, item: Queued, keep_free: usize) -> Sent {
        {
            let mut queue = self.queue.lock().expect("outbox lock");
            let bytes = queue.bytes + size(&item);
            if self.capacity.items.saturating_sub(queue.items.len()) <= keep_free
                || (keep_free > 0 && bytes > self.capacity.bytes)
            {
                return Sent::Dropped;
            }
            self.waiting.fetch_add(1, Ordering::AcqRel);
            queue.items.push_back(item);
            queue.bytes = bytes;
        }
        self.ready.notify_one();
        Sent::Queued
    }

    /// Writes a frame at once when nothing waits before it, else queues it.
    pub fn push(&self, out: Out, keep_free: usize) -> Sent {
        let Out::Frame(msg, at) = out else {
            return self.queue(Queued::Out(out), keep_free);
        };
        let later = |msg| self.queue(Queued::Out(Out::Frame(msg, at)), keep_free);
        if self.waiting.load(Ordering::Acquire) != 0 {
            return later(msg);
        }
        let Ok(mut sink) = self.sink.try_lock() else {
            return later(msg);
        };
        if self.waiting.load(Ordering::Acquire) != 0 {
            drop(sink);
            return later(msg);
        }
        match write_now(&mut sink, msg) {
            Now::Done => Sent::Written,
            Now::Buffered => {
                // Accepted, not yet all in the socket: the connection's task
                // finishes it, and later frames queue behind it meanwhile.
                drop(sink);
                self.queue(Queued::Flush, 0);
                Sent::Written
            }
            Now::Busy(msg) => {
                drop(sink);
                later(msg)
            }
            // The socket is gone: its task is ending the connection.
            Now::Gone => Sent::Dropped,
        }
    }
}

/// The payload bytes an item holds while it waits.
fn size(item: &Queued) -> usize {
    match item {
        Queued::Out(Out::Frame(Message::Text(t), _)) => t.len(),
        Queued::Out(Out::Frame(Message::Binary(b), _)) => b.len(),
        _ => 0,
    }
}

enum Now {
    Done,
    Buffered,
    Busy(Message),
    Gone,
}

/// One attempt to write without waiting: the sink is polled with a waker
/// that does nothing, since whatever is left is handed to the owner's task.
fn write_now(sink: &mut WsSink, msg: Message) -> Now {
    let mut cx = Context::from_waker(Waker::noop());
    let mut sink = Pin::new(sink);
    match sink.as_mut().poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(_)) => return Now::Gone,
        Poll::Pending => return Now::Busy(msg),
    }
    if sink.as_mut().start_send(msg).is_err() {
        return Now::Gone;
    }
    match sink.poll_flush(&mut cx) {
        Poll::Ready(Ok(())) => Now::Done,
        Poll::Ready(Err(_)) => Now::Gone,
        Poll::Pending => Now::Buffered,
    }
}
