//! The test lab: privilege checks, frame builders, an XDP harness, network
//! namespaces and veths, and the agent binary run as a real process.
pub mod agent;
pub mod flood;
pub mod frames;
pub mod lab;
pub mod netns;
pub mod privileges;
pub mod xdp;
