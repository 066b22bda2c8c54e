//! carp-agent: a CARP (Common Address Redundancy Protocol) agent for Linux whose
//! dataplane is an XDP program.
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub mod metrics;
pub mod net;
pub mod node;
pub mod proto;
pub mod realtime;
pub mod service;
pub mod sim;
pub mod testdata;
pub mod track;
