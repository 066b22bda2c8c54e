//! `carp-agent config check FILE`: validates a configuration file without
//! running anything (named apart from `check`, the monitoring plugin).

use std::path::PathBuf;

use crate::config::Config;

/// Work with configuration files.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE as `carp-agent run --config FILE` would, without
    /// touching the system (interfaces are looked up when the agent starts).
    #[command(after_help = "Exit status: 0 valid, 1 invalid (the error names the \
        field and where), 2 usage errors.")]
    Check {
        /// The TOML configuration file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &ConfigArgs) -> anyhow::Result<i32> {
    let ConfigCommand::Check { file } = &args.command;
    let checked = Config::from_file(file).and_then(|config| {
        config.validate()?;
        Ok(config)
    });
    match checked {
        Ok(config) => {
            let mut interfaces: Vec<&str> =
                config.vhids.iter().map(|v| v.interface.as_str()).collect();
            interfaces.sort_unstable();
            interfaces.dedup();
            super::print_stdout(&format!(
                "{}: ok: {} vhid(s) on {}\n",
                file.display(),
                config.vhids.len(),
                interfaces.join(", ")
            ))?;
            Ok(0)
        }
        Err(err) => {
            eprintln!("carp-agent: {err}");
            Ok(1)
        }
    }
}
