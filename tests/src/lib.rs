//! The test lab: privilege checks now; network namespaces, veths and agents
//! started as real processes as the lab grows.
pub mod agent;
pub mod netns;
pub mod privileges;
