//! Builds the XDP program (carp-ebpf) for the BPF target and leaves the object
//! in OUT_DIR, where `dataplane` embeds it with `include_bytes_aligned!`.
use anyhow::{Context as _, anyhow};

fn main() -> anyhow::Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("reading cargo metadata")?;
    // aya-build watches carp-ebpf's directory only; the program also compiles
    // carp-common, so a change to the shared ABI must rebuild it too.
    for package in &metadata.packages {
        if package.name.as_str() == "carp-common" {
            if let Some(dir) = package.manifest_path.parent() {
                println!("cargo:rerun-if-changed={dir}");
            }
        }
    }
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|p| p.name.as_str() == "carp-ebpf")
        .ok_or_else(|| anyhow!("carp-ebpf package not found in the workspace"))?;
    let root = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("carp-ebpf manifest has no parent directory"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: ebpf.name.as_str(),
            root_dir: root.as_str(),
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
