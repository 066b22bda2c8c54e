//! The test lab: privilege checks, frame builders, an XDP harness, network
//! namespaces and veths, the agent binary run as a real process, and
//! keepalived and ucarp beside it.
pub mod agent;
pub mod capture;
pub mod chaos;
pub mod flood;
pub mod frames;
pub mod keepalived;
pub mod lab;
pub mod libxdp;
pub mod netns;
pub mod packaging;
pub mod packet;
pub mod privileges;
pub mod scale;
pub mod ucarp;
pub mod xdp;
