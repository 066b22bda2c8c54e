//! The test lab: privilege checks now; network namespaces, veths and agents
//! started as real processes as the lab grows.
pub mod frames;
pub mod privileges;
pub mod xdp;
