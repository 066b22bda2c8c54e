//! Idempotent bootstrap of a fresh Debian machine: it checks each requirement
//! and installs only what is missing, saying what it installs.
use std::{fs, os::unix::fs::symlink, path::PathBuf};

use anyhow::{Context as _, bail};

use crate::cmd;

/// Debian packages the tests, demo and benchmarks use.
const PACKAGES: &[&str] = &[
    "bpftool",
    // The VLAN lab turns off transmit VLAN offload on the switch ports.
    "ethtool",
    "iproute2",
    "iputils-ping",
    "arping",
    "keepalived",
    "nftables",
    "tcpdump",
    "tshark",
    "stress-ng",
    // systemd-analyze, which checks the shipped unit file.
    "systemd",
    "ucarp",
    "xdp-tools",
];

/// The LLVM major of the nightly toolchain; bpf-linker must be built for it.
const LLVM_MAJOR: &str = "22";
const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn run() -> anyhow::Result<()> {
    install_packages()?;
    ensure_rust_src()?;
    ensure_bpf_linker()?;
    Ok(())
}

fn install_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|pkg| {
            cmd::output("dpkg-query", &["-W", "-f=${Status}", pkg])
                .is_none_or(|status| !status.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("setup: installing Debian packages: {}", missing.join(" "));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "setup: packages {} are missing and installing them needs root; run `sudo apt-get install {}`",
            missing.join(" "),
            missing.join(" ")
        );
    }
    cmd::run("apt-get", &["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    // tshark asks a debconf question; answer it non-interactively.
    let status = std::process::Command::new("apt-get")
        .args(&args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("could not start apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn ensure_rust_src() -> anyhow::Result<()> {
    let Some(rustc) = cmd::output("rustup", &["run", "nightly", "rustc", "--version"]) else {
        bail!(
            "setup: the `nightly` Rust toolchain is missing; it is needed to build the XDP \
             program for bpfel-unknown-none (`rustup toolchain install nightly`)"
        );
    };
    let installed = cmd::output(
        "rustup",
        &["component", "list", "--toolchain", "nightly", "--installed"],
    )
    .unwrap_or_default();
    // rust-src builds `core` for the BPF target; clippy and rustfmt of the
    // same toolchain lint the XDP crate and settle import style (`lint`).
    for component in ["rust-src", "clippy", "rustfmt"] {
        if !installed.lines().any(|c| c.starts_with(component)) {
            println!("setup: installing {component} for {}", rustc.trim());
            cmd::run(
                "rustup",
                &["component", "add", component, "--toolchain", "nightly"],
            )?;
        }
    }
    Ok(())
}

fn ensure_bpf_linker() -> anyhow::Result<()> {
    if cmd::output("bpf-linker", &["--version"]).is_some() {
        return Ok(());
    }
    // Link bpf-linker against the nightly toolchain's own libLLVM: no system
    // LLVM needed, and the LLVM major matches rustc's by construction.
    let sysroot = cmd::output("rustc", &["+nightly", "--print", "sysroot"])
        .context("setup: cannot find the nightly sysroot")?;
    let sysroot_lib = PathBuf::from(sysroot.trim()).join("lib");
    let libllvm = fs::read_dir(&sysroot_lib)
        .with_context(|| format!("reading {}", sysroot_lib.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with(&format!("libLLVM.so.{LLVM_MAJOR}")))
        .with_context(|| {
            format!(
                "setup: no libLLVM.so.{LLVM_MAJOR}* in {}; the nightly toolchain must use LLVM {LLVM_MAJOR}",
                sysroot_lib.display()
            )
        })?;
    let prefix = llvm_prefix()?;
    let lib = prefix.join("lib");
    fs::create_dir_all(&lib).with_context(|| format!("creating {}", lib.display()))?;
    for name in ["libLLVM.so", libllvm.as_str()] {
        let link = lib.join(name);
        let _ = fs::remove_file(&link);
        symlink(sysroot_lib.join(&libllvm), &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    println!(
        "setup: building bpf-linker {BPF_LINKER_VERSION} against {libllvm} (about a minute; once per machine)"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "install",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
            "--no-default-features",
            "--features",
            &format!("llvm-{LLVM_MAJOR}"),
        ])
        .env("LLVM_PREFIX", &prefix)
        .status()
        .context("could not start cargo install")?;
    if !status.success() {
        bail!("setup: building bpf-linker failed ({status})");
    }
    if cmd::output("bpf-linker", &["--version"]).is_none() {
        bail!("setup: bpf-linker was installed but is not on PATH; add ~/.cargo/bin to PATH");
    }
    Ok(())
}

/// Where the libLLVM symlinks live; bpf-linker keeps an rpath to it, so it must stay.
fn llvm_prefix() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("setup: HOME is not set")?;
    Ok(PathBuf::from(home).join(".local/share/carp-xdp/llvm"))
}
