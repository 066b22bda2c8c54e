//! One module per subcommand of the `carp-agent` binary.
pub mod check;
pub mod decode;
pub mod demote;
pub mod run;
pub mod simulate;
pub mod state;
pub mod status;
