//! One module per subcommand of the `carp-agent` binary.
pub mod decode;
pub mod simulate;
