//! carp-agent: a CARP (Common Address Redundancy Protocol) agent for Linux whose
//! dataplane is an XDP program.
pub mod dataplane;
