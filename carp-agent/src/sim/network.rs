//! The shared segment between the nodes: delay, loss and partitions.

use std::time::Duration;

use super::rng::SimRng;
use crate::engine::Time;

/// Index of a node in the segment.
pub type NodeId = usize;

/// Delivery conditions of the segment.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConditions {
    /// Shortest delivery delay.
    pub min_delay: Duration,
    /// Longest delivery delay: every delivered advert arrives within this.
    pub max_delay: Duration,
    /// Probability that one advert is lost on its way to one node.
    pub loss: f64,
}

impl Default for NetConditions {
    fn default() -> Self {
        NetConditions {
            min_delay: Duration::from_micros(500),
            max_delay: Duration::from_millis(5),
            loss: 0.0,
        }
    }
}

/// Delay, loss and partitions between nodes. Frames between one pair of nodes
/// keep their order, as on a real Ethernet segment.
#[derive(Clone, Debug)]
pub(crate) struct Network {
    pub(crate) conditions: NetConditions,
    /// Partition group of each node; nodes hear each other iff equal.
    group: Vec<usize>,
    /// Arrival time of the last frame from `i` to `j`, at `i * n + j`.
    last_arrival: Vec<Time>,
}

impl Network {
    pub(crate) fn new(nodes: usize, conditions: NetConditions) -> Self {
        Network {
            conditions,
            group: vec![0; nodes],
            last_arrival: vec![Time::ZERO; nodes * nodes],
        }
    }

    /// Splits the segment: nodes in different `groups` cannot hear each other;
    /// nodes not listed form one more group together.
    pub(crate) fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.group.fill(0);
        for (index, members) in groups.iter().enumerate() {
            for &node in members {
                self.group[node] = index + 1;
            }
        }
    }

    pub(crate) fn heal(&mut self) {
        self.group.fill(0);
    }

    pub(crate) fn is_partitioned(&self) -> bool {
        self.group.iter().any(|&g| g != self.group[0])
    }

    /// When a frame sent now from `from` reaches `to`, or `None` if it is lost.
    pub(crate) fn transmit(
        &mut self,
        rng: &mut SimRng,
        now: Time,
        from: NodeId,
        to: NodeId,
    ) -> Option<Time> {
        if self.group[from] != self.group[to] {
            return None;
        }
        if self.conditions.loss > 0.0 && rng.chance(self.conditions.loss) {
            return None;
        }
        let delay = rng.duration(self.conditions.min_delay, self.conditions.max_delay);
        let slot = &mut self.last_arrival[from * self.group.len() + to];
        let arrival = (now + delay).max(*slot);
        *slot = arrival;
        Some(arrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_split_and_heal() {
        let mut net = Network::new(4, NetConditions::default());
        let mut rng = SimRng::new(1);
        net.partition(&[vec![0], vec![2]]);
        assert!(net.is_partitioned());
        assert!(net.transmit(&mut rng, Time::ZERO, 0, 1).is_none());
        assert!(net.transmit(&mut rng, Time::ZERO, 0, 2).is_none());
        assert!(
            net.transmit(&mut rng, Time::ZERO, 1, 3).is_some(),
            "unlisted nodes share a group"
        );
        net.heal();
        assert!(!net.is_partitioned());
        assert!(net.transmit(&mut rng, Time::ZERO, 0, 2).is_some());
    }

    #[test]
    fn delays_stay_in_range_and_keep_order() {
        let conditions = NetConditions {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(50),
            loss: 0.0,
        };
        let mut net = Network::new(2, conditions);
        let mut rng = SimRng::new(9);
        let mut previous = Time::ZERO;
        for step in 0..1_000u64 {
            let now = Time::from_millis(step);
            let arrival = net.transmit(&mut rng, now, 0, 1).unwrap();
            assert!(arrival >= previous, "frames between a pair never reorder");
            assert!(arrival >= now + Duration::from_millis(1));
            assert!(arrival <= now + Duration::from_millis(50));
            previous = arrival;
        }
    }

    #[test]
    fn loss_drops_about_the_right_share() {
        let conditions = NetConditions {
            loss: 0.3,
            ..NetConditions::default()
        };
        let mut net = Network::new(2, conditions);
        let mut rng = SimRng::new(3);
        let delivered = (0..10_000)
            .filter(|_| net.transmit(&mut rng, Time::ZERO, 0, 1).is_some())
            .count();
        assert!((6_600..7_400).contains(&delivered), "{delivered}");
    }
}
