//! `carp-agent status`: every vhid, like FreeBSD's `ifconfig` carp lines.

use std::{fmt::Write as _, path::PathBuf};

use crate::{
    config::DEFAULT_CONTROL_SOCKET,
    control::{Request, Response, StatusReport, client},
};

/// Show the state of every vhid and the counters.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 on success, 1 if the agent reports an error, 2 if it cannot
be reached.")]
pub struct StatusArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
    pub control_socket: PathBuf,
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &StatusArgs) -> anyhow::Result<i32> {
    let response = client::request_blocking(&args.control_socket, &Request::Status)?;
    let status = match response {
        Response::Ok(body) => match body.status {
            Some(status) => status,
            None => anyhow::bail!("carp-agent answered without a status report"),
        },
        Response::Error(error) => {
            eprintln!("carp-agent: error: {}", error.message);
            return Ok(1);
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&status)? + "\n"
    } else {
        format_text(&status)
    };
    super::print_stdout(&text)?;
    Ok(0)
}

/// The text form:
///
/// ```text
/// eth0: MASTER vhid 1 advbase 1 advskew 0 demotion 0
///     vip 192.168.1.50/24
/// eth1 vlan 100: BACKUP vhid 1 advbase 1 advskew 100 demotion 0
///     vip 10.100.0.1/24
/// host demotion 240
///     admin (admin) 0
///     uplink (interface) 240: eth1 no carrier
/// ```
pub fn format_text(status: &StatusReport) -> String {
    let mut out = String::new();
    for v in &status.vhids {
        let place = match v.vlan {
            Some(vlan) => format!("{} vlan {vlan}", v.interface),
            None => v.interface.clone(),
        };
        let _ = writeln!(
            out,
            "{place}: {} vhid {} advbase {} advskew {} demotion {}{}",
            v.state,
            v.vhid,
            v.advbase,
            v.advskew,
            v.demotion,
            if v.preempt { " preempt" } else { "" },
        );
        if v.advskew_effective != v.advskew {
            let _ = writeln!(out, "    advertised advskew {}", v.advskew_effective);
        }
        for vip in &v.vips {
            let _ = writeln!(out, "    vip {vip}");
        }
        if let Some(master) = &v.master {
            let _ = writeln!(out, "    master {master}");
        }
    }
    if status.vhids.is_empty() {
        out.push_str("no vhids configured\n");
    }
    let _ = writeln!(out, "host demotion {}", status.demotion);
    for source in &status.demotion_sources {
        let _ = writeln!(
            out,
            "    {} ({}) {}{}",
            source.name,
            source.kind,
            source.share,
            source
                .detail
                .as_ref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    if !status.counters.is_empty() || status.xdp_counters_error.is_some() {
        out.push_str("counters:\n");
        if let Some(error) = &status.xdp_counters_error {
            let _ = writeln!(out, "    XDP counters unavailable: {error}");
        }
        for (name, value) in &status.counters {
            let _ = writeln!(out, "    {name} {value}");
        }
    }
    out
}
