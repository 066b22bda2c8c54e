//! An interface's XDP slot: who holds it (`occupant`), whether the agent may
//! use it under `xdp_share` (`check`, before anything changes), and joining
//! libxdp's dispatcher (`join`). See docs/xdp-coexistence.md.
//!
//! Nothing here ever detaches a program that is not provably carp-agent's:
//! when joining fails, the dispatcher and its programs stay as they were and
//! the agent refuses to start on the interface, saying why.
use tracing::{info, warn};

use crate::{
    dataplane::{
        AttachMode, Dataplane,
        libxdp::{Libxdp, Mode},
        program_name,
        share::{self, Occupant, Plan, XdpShare},
    },
    net::{Interface, Netlink},
};

/// What holds `iface`'s XDP slot now.
pub(super) async fn occupant(netlink: &Netlink, iface: &Interface) -> anyhow::Result<Occupant> {
    let id = netlink.attached_xdp(iface.index).await?;
    let name = id.and_then(program_name);
    Ok(Occupant::classify(id, name.as_deref()))
}

/// The plan for `iface`, or the refusal as an error naming the interface.
pub(super) async fn check(
    netlink: &Netlink,
    iface: &Interface,
    share: XdpShare,
) -> anyhow::Result<(Plan, Occupant)> {
    let occupant = occupant(netlink, iface).await?;
    match share::plan(share, &occupant, &iface.name) {
        Plan::Refuse(reason) => anyhow::bail!(
            "{}: {reason}; nothing was changed (xdp_share = \"{}\")",
            iface.name,
            share.label()
        ),
        plan => Ok((plan, occupant)),
    }
}

/// Attaches the agent's program to `iface` through libxdp: into the
/// dispatcher there, or a new one. A stale copy of the agent's own program
/// (left by an agent that did not exit cleanly) goes first; nothing else is
/// touched.
pub(super) async fn join(
    dataplane: &mut Dataplane,
    netlink: &Netlink,
    iface: &Interface,
    mode: AttachMode,
    occupant: &Occupant,
) -> anyhow::Result<()> {
    let lib = Libxdp::open().map_err(|err| {
        anyhow::anyhow!(
            "{}: sharing the XDP slot through libxdp's dispatcher: {err}; nothing was changed",
            iface.name
        )
    })?;
    if let Occupant::Ours { id } = occupant {
        warn!(
            "{}: the program of an agent that did not exit cleanly ({} id {id}) holds the XDP \
             slot alone; detaching it to join through libxdp",
            iface.name,
            carp_common::PROGRAM_NAME
        );
        netlink.detach_xdp(iface.index).await?;
    }
    let slot = lib
        .inspect(iface.index)
        .map_err(|err| anyhow::anyhow!("{}: {err}; nothing was changed", iface.name))?;
    let dispatcher = slot.as_ref().filter(|slot| !slot.legacy);
    // What is there, for the log: libxdp's view, else the kernel's name.
    let mut others: Vec<String> = slot
        .as_ref()
        .map(|slot| slot.programs.clone())
        .unwrap_or_default();
    if others.is_empty() {
        match occupant {
            Occupant::Dispatcher { id } => others.push(format!(
                "{} (id {id})",
                crate::dataplane::libxdp::DISPATCHER_NAME
            )),
            Occupant::Other { id, name } => others.push(format!("{name} (id {id})")),
            Occupant::Free | Occupant::Ours { .. } => {}
        }
    }
    if let Some(slot) = dispatcher {
        let stale = slot
            .programs
            .iter()
            .any(|p| p.as_str() == carp_common::PROGRAM_NAME);
        if stale {
            let mode = slot.mode.unwrap_or(Mode::Skb);
            match lib.detach_named(iface.index, carp_common::PROGRAM_NAME, mode) {
                Ok(true) => warn!(
                    "{}: took the program of an agent that did not exit cleanly ({}) out of \
                     libxdp's dispatcher",
                    iface.name,
                    carp_common::PROGRAM_NAME
                ),
                Ok(false) => {}
                Err(err) => warn!("{}: {err}", iface.name),
            }
        }
    }
    let modes = modes(dispatcher.and_then(|slot| slot.mode), mode, iface);
    let mut last = None;
    for mode in modes {
        match dataplane.attach_shared(&lib, &iface.name, iface.index, mode) {
            Ok(used) => {
                report_joined(&lib, iface, used, &others);
                return Ok(());
            }
            Err(err) => {
                warn!("{err}");
                last = Some(err);
            }
        }
    }
    let reason = last.map_or_else(|| "no attach mode to try".to_string(), |e| e.to_string());
    anyhow::bail!(
        "{}: could not attach {} through libxdp beside {}: {reason}. Nothing was changed: \
         the programs there stay attached.{}",
        iface.name,
        carp_common::PROGRAM_NAME,
        if others.is_empty() {
            "nothing".to_string()
        } else {
            others.join(", ")
        },
        hint(&reason, &iface.name)
    )
}

/// libxdp's attach modes to try, in order: the dispatcher's own (one mode
/// per interface), else from `--xdp-mode` (auto: native, then skb).
fn modes(dispatcher: Option<Mode>, mode: AttachMode, iface: &Interface) -> Vec<Mode> {
    if let Some(mode) = dispatcher {
        return vec![mode];
    }
    match crate::dataplane::choose_mode(mode, iface.kind.as_deref()).mode {
        AttachMode::Native => vec![Mode::Native],
        AttachMode::Skb => vec![Mode::Skb],
        AttachMode::Auto => vec![Mode::Native, Mode::Skb],
    }
}

fn report_joined(lib: &Libxdp, iface: &Interface, used: Mode, others: &[String]) {
    let mode = match used {
        Mode::Native => "native",
        Mode::Skb => "skb",
    };
    match lib.inspect(iface.index) {
        Ok(Some(slot)) if slot.legacy => warn!(
            "XDP attached to {} in {mode} mode through libxdp, but alone: libxdp could not \
             build its dispatcher on this kernel (it needs freplace programs, \
             BPF_PROG_TYPE_EXT), so no other program can join",
            iface.name
        ),
        Ok(Some(slot)) => info!(
            "XDP attached to {} in {mode} mode through libxdp's dispatcher, run order: {}",
            iface.name,
            slot.programs.join(", ")
        ),
        _ => info!(
            "XDP attached to {} in {mode} mode through libxdp (before: {})",
            iface.name,
            others.join(", ")
        ),
    }
}

/// What to do about a failed join, from libxdp's error text.
fn hint(reason: &str, iface: &str) -> String {
    if reason.contains("not permitted") || reason.contains("busy") {
        format!(
            " The kernel may refuse the freplace (BPF_PROG_TYPE_EXT) programs libxdp's \
             dispatcher is made of (`xdp-loader load -v` then logs \"Compatibility check for \
             dispatcher program failed\"); see docs/xdp-coexistence.md. Give the agent an \
             interface whose XDP slot is free, or remove the other programs if they are not \
             needed (`xdp-loader unload {iface} --all`)."
        )
    } else {
        String::new()
    }
}
