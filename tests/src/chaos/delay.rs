//! Delay and jitter without netem (this kernel has no `sch_netem`): a
//! userspace relay spliced into one host's switch port. The port leaves the
//! bridge; a new veth pair takes its place, and two threads carry frames
//! between the port and the pair, each held for `delay` plus a random part
//! of `jitter` (so jitter also reorders, as on a real congested path).
//! Drop puts the port back into the bridge.
use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use rand::Rng as _;

use crate::{lab::Lab, netns::Netns, packet::PacketSocket};

/// How often a relay thread wakes to release due frames.
const TICK: Duration = Duration::from_millis(1);

pub struct DelayedPort<'a> {
    switch: &'a Netns,
    port: String,
    relay_end: String,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl<'a> DelayedPort<'a> {
    /// Delays everything host `i` sends and receives.
    pub fn insert(
        lab: &'a Lab,
        i: usize,
        delay: Duration,
        jitter: Duration,
    ) -> anyhow::Result<Self> {
        let switch = &lab.switch;
        let port = Lab::port(i);
        let relay_end = format!("d{}", i + 1);
        let bridge_end = format!("e{}", i + 1);
        switch.ip(&[
            "link",
            "add",
            &relay_end,
            "type",
            "veth",
            "peer",
            "name",
            &bridge_end,
        ])?;
        let mut delayed = Self {
            switch,
            port: port.clone(),
            relay_end: relay_end.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        switch.ip(&["link", "set", &bridge_end, "master", "br0", "up"])?;
        switch.ip(&["link", "set", &relay_end, "up"])?;
        switch.ip(&["link", "set", &port, "nomaster"])?;
        for (from, to) in [(&port, &relay_end), (&relay_end, &port)] {
            let from = PacketSocket::open_with_timeout(switch, from, TICK)?;
            let to = PacketSocket::open(switch, to)?;
            let stop = delayed.stop.clone();
            delayed.threads.push(std::thread::spawn(move || {
                relay(&from, &to, delay, jitter, &stop)
            }));
        }
        Ok(delayed)
    }
}

fn relay(
    from: &PacketSocket,
    to: &PacketSocket,
    delay: Duration,
    jitter: Duration,
    stop: &AtomicBool,
) {
    let mut rng = rand::thread_rng();
    let mut queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Some(n) = from.recv_incoming(&mut buf) {
            let extra = jitter.mul_f64(rng.gen_range(0.0..=1.0));
            seq += 1;
            queue.push(Reverse((
                Instant::now() + delay + extra,
                seq,
                buf[..n].to_vec(),
            )));
        }
        while queue
            .peek()
            .is_some_and(|Reverse((due, _, _))| *due <= Instant::now())
        {
            if let Some(Reverse((_, _, frame))) = queue.pop() {
                let _ = to.send(&frame);
            }
        }
    }
}

impl Drop for DelayedPort<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let _ = self.switch.ip(&["link", "del", &self.relay_end]);
        let _ = self
            .switch
            .ip(&["link", "set", &self.port, "master", "br0"]);
    }
}
