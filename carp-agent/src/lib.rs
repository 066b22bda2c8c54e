//! carp-agent: a CARP (Common Address Redundancy Protocol) agent for Linux whose
//! dataplane is an XDP program.
pub mod cli;
pub mod dataplane;
pub mod engine;
pub mod net;
pub mod proto;
pub mod sim;
