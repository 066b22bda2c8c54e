//! `carp-agent events`: what happens in the agent, as JSON lines, for
//! scripts (like `ip monitor`).
//!
//! The one exception to "one request, one response per connection": after
//! `{"version":1,"op":"events"}` the agent answers `{"version":1,"result":"ok"}`
//! and keeps the connection open, writing one [`Event`] per line as it
//! happens, each with `version` and `event` (its kind) members:
//!
//! ```text
//! < {"version":1,"event":"transition","time":1795000000.25,"vhid":1,"interface":"eth0","from":"BACKUP","to":"MASTER","reason":"master_down","reason_text":"master down: no advert for 3.61 s"}
//! < {"version":1,"event":"pre_master","time":...,"vhid":1,"interface":"eth0","result":"done","elapsed_ms":1012,"vips_added":true}
//! < {"version":1,"event":"demotion","time":...,"demotion":240,"previous":0,"reason":"admin"}
//! < {"version":1,"event":"badauth","time":...,"vhid":1,"interface":"eth0","source":"10.0.0.9"}
//! < {"version":1,"event":"lost","count":12}
//! ```
//!
//! `time` is the wall clock in seconds since the Unix epoch. Readers must
//! ignore event kinds and members they do not know (new ones are compatible
//! additions). `badauth` events are rate-limited as the log's warnings are
//! (one per source and minute).
//!
//! # Bounds
//!
//! The agent never waits for a subscriber: events go through a bounded
//! broadcast buffer of [`BUFFER`] events. A subscriber that falls further
//! behind loses the oldest and reads a `lost` event saying how many; one
//! whose socket accepts nothing for [`WRITE_TIMEOUT`] is disconnected. At
//! most [`MAX_SUBSCRIBERS`] connections may subscribe at once; more are
//! refused (`refused` error). What a subscriber writes after its request is
//! read and ignored; the connection ends when either side closes it (the
//! agent's when it stops).
use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::UnixStream,
    sync::broadcast,
};

use super::{Response, VhidState, encode, encode_response};

/// Events buffered for the slowest subscriber before it loses some.
pub const BUFFER: usize = 1024;
/// Connections subscribed at once, at most.
pub const MAX_SUBSCRIBERS: usize = 16;
/// How long a subscriber's socket may accept nothing before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// One line of `carp-agent events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A vhid changed state.
    Transition {
        time: f64,
        vhid: u8,
        interface: String,
        from: VhidState,
        to: VhidState,
        /// [`crate::engine::Reason::token`], as `CARP_REASON`.
        reason: String,
        /// The reason for people.
        reason_text: String,
    },
    /// A vhid's pre-MASTER hooks ended; `vips_added` is false if it left
    /// MASTER meanwhile.
    PreMaster {
        time: f64,
        vhid: u8,
        interface: String,
        /// `done`, `failed` or `timeout`.
        result: String,
        elapsed_ms: u64,
        vips_added: bool,
    },
    /// The host demotion changed.
    Demotion {
        time: f64,
        demotion: u32,
        previous: u32,
        /// What changed it (`admin`: the control socket).
        reason: String,
    },
    /// An advert failed authentication (rate-limited per source).
    Badauth {
        time: f64,
        vhid: u8,
        interface: String,
        source: IpAddr,
    },
    /// This subscriber fell behind and `count` events were dropped for it.
    Lost { count: u64 },
}

/// The wall clock as an event's `time`.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The line an event is sent as, newline included.
pub fn encode_event(event: &Event) -> String {
    encode(event)
}

/// Where the daemon publishes events and subscribers come for them.
#[derive(Clone, Debug)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<str>>,
    subscribers: Arc<AtomicUsize>,
    max_subscribers: usize,
}

impl Default for EventHub {
    fn default() -> EventHub {
        EventHub::new(BUFFER, MAX_SUBSCRIBERS)
    }
}

impl EventHub {
    /// A hub buffering `buffer` events for at most `max_subscribers`.
    pub fn new(buffer: usize, max_subscribers: usize) -> EventHub {
        EventHub {
            tx: broadcast::Sender::new(buffer.max(1)),
            subscribers: Arc::new(AtomicUsize::new(0)),
            max_subscribers,
        }
    }

    /// Whether anyone listens: events are only built for subscribers.
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends `event` to every subscriber; never waits.
    pub fn publish(&self, event: &Event) {
        if self.has_subscribers() {
            let _ = self.tx.send(encode_event(event).into());
        }
    }

    /// A new subscription, or `None` when [`Self::new`]'s limit is reached.
    pub fn subscribe(&self) -> Option<Subscription> {
        let taken = self
            .subscribers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_subscribers).then_some(n + 1)
            });
        taken.ok()?;
        Some(Subscription {
            rx: self.tx.subscribe(),
            subscribers: Arc::clone(&self.subscribers),
        })
    }

    /// The limit, for the refusal's message.
    pub fn max_subscribers(&self) -> usize {
        self.max_subscribers
    }
}

/// One subscriber's place; gives it back when dropped.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Arc<str>>,
    subscribers: Arc<AtomicUsize>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Subscription {
    /// The next line to write: an event, or a `lost` line after falling
    /// behind; `None` when the agent stops publishing.
    pub async fn next_line(&mut self) -> Option<Arc<str>> {
        match self.rx.recv().await {
            Ok(line) => Some(line),
            Err(broadcast::error::RecvError::Lagged(count)) => {
                Some(encode_event(&Event::Lost { count }).into())
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Serves a subscriber on `stream` until it goes away, stalls for
/// [`WRITE_TIMEOUT`], or the agent stops publishing.
pub(super) async fn stream(stream: &mut UnixStream, mut subscription: Subscription) {
    let (mut reader, mut writer) = stream.split();
    let accepted = encode_response(&Response::ok());
    if write(&mut writer, accepted.as_bytes()).await.is_err() {
        return;
    }
    let mut ignored = [0u8; 256];
    loop {
        tokio::select! {
            line = subscription.next_line() => {
                let Some(line) = line else { break };
                if write(&mut writer, line.as_bytes()).await.is_err() {
                    break;
                }
            }
            read = reader.read(&mut ignored) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
    }
    let _ = writer.shutdown().await;
}

async fn write(writer: &mut (impl tokio::io::AsyncWrite + Unpin), bytes: &[u8]) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_versioned_lines_with_their_kind() {
        let line = encode_event(&Event::Demotion {
            time: 1.5,
            demotion: 240,
            previous: 0,
            reason: "admin".to_string(),
        });
        assert_eq!(
            line,
            "{\"version\":1,\"event\":\"demotion\",\"time\":1.5,\"demotion\":240,\"previous\":0,\"reason\":\"admin\"}\n"
        );
        let line = encode_event(&Event::Lost { count: 3 });
        assert_eq!(line, "{\"version\":1,\"event\":\"lost\",\"count\":3}\n");
    }

    #[test]
    fn subscribers_are_capped_and_give_their_place_back() {
        let hub = EventHub::new(4, 2);
        let first = hub.subscribe();
        let second = hub.subscribe();
        assert!(first.is_some() && second.is_some());
        assert!(hub.subscribe().is_none());
        drop(first);
        assert!(hub.subscribe().is_some());
    }

    fn demotion(demotion: u32) -> Event {
        Event::Demotion {
            time: 0.0,
            demotion,
            previous: 0,
            reason: "admin".to_string(),
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_how_many_it_lost() {
        let hub = EventHub::new(4, 1);
        let Some(mut sub) = hub.subscribe() else {
            panic!("no subscription");
        };
        for value in 0..10 {
            // Publishing never waits, however far behind the reader is.
            hub.publish(&demotion(value));
        }
        let first = sub.next_line().await.unwrap_or_default();
        assert_eq!(&*first, "{\"version\":1,\"event\":\"lost\",\"count\":6}\n");
        // Then the four newest, in order.
        for value in 6..10 {
            let line = sub.next_line().await.unwrap_or_default();
            assert_eq!(&*line, encode_event(&demotion(value)));
        }
    }

    #[test]
    fn nothing_is_built_without_subscribers() {
        let hub = EventHub::default();
        assert!(!hub.has_subscribers());
        hub.publish(&Event::Lost { count: 1 });
    }
}
