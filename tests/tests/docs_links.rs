//! The documentation points only at things a clone has: every relative link
//! in README.md and docs/ resolves, every source path the docs name exists
//! (so docs/architecture.md cannot silently outlive a moved file), and
//! nothing in the repository cites the notes this project was started from,
//! which live outside it.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

/// README.md, BENCHMARKS.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let root = root();
    let mut pages = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    let docs = root.join("docs");
    let entries =
        std::fs::read_dir(&docs).unwrap_or_else(|e| panic!("reading {}: {e}", docs.display()));
    for entry in entries {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The targets of the Markdown links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn relative_links_resolve() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        let dir = page.parent().expect("a page has a directory");
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            if !dir.join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing: {broken:#?}");
}

/// Where a path the docs name in backticks may be relative to: the
/// workspace root, or a crate's `src/` when the docs abbreviate
/// (`daemon/actions.rs`).
const BASES: [&str; 4] = ["", "carp-agent/src/", "carp-ebpf/src/", "carp-common/src/"];

/// Code spans that look like a path in the tree: a `/` inside, ending in a
/// file name with an extension or in `/`, no spaces, no placeholders, not
/// absolute.
fn source_paths(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            let file = span.rsplit('/').next().unwrap_or(span);
            let looks_like_file = [".rs", ".md", ".toml"]
                .iter()
                .any(|ext| file.ends_with(ext))
                || file.is_empty();
            span.contains('/')
                && looks_like_file
                && !span.starts_with('/')
                && !span.contains(|c: char| c.is_whitespace() || "<>*{}$".contains(c))
        })
        .collect()
}

#[test]
fn source_paths_named_in_the_docs_exist() {
    let root = root();
    let mut missing = Vec::new();
    for page in pages() {
        for path in source_paths(&read(&page)) {
            if !BASES.iter().any(|base| root.join(base).join(path).exists()) {
                missing.push(format!("{}: `{path}`", page.display()));
            }
        }
    }
    assert!(missing.is_empty(), "paths that do not exist: {missing:#?}");
}

#[test]
fn the_path_check_can_fail() {
    let text = "see `carp-agent/src/engine/nothing_here.rs` and `daemon/actions.rs`";
    let paths = source_paths(text);
    assert_eq!(
        paths,
        ["carp-agent/src/engine/nothing_here.rs", "daemon/actions.rs"]
    );
    let root = root();
    let exists = |path: &str| BASES.iter().any(|base| root.join(base).join(path).exists());
    assert!(!exists(paths[0]));
    assert!(exists(paths[1]));
}

/// Text files of the repository (sources, manifests, docs, scripts),
/// without build output.
fn repository_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !["target", ".git"].contains(&name) {
                repository_files(&path, out);
            }
        } else if ["rs", "md", "toml", "sh"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext))
            || path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == ".ci")
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_cites_notes_outside_the_repository() {
    // Spelled in pieces so that this file does not match itself.
    let outside = [
        concat!("shared", "/"),
        concat!("PROTOCOL", ".md"),
        concat!("DESIGN", ".md"),
        concat!("TOOLCHAIN", ".md"),
        // The seed documents were numbered; "seed" alone is also a random
        // seed, which the simulation rightly talks about.
        concat!("seed ", "000"),
    ];
    let mut files = Vec::new();
    repository_files(&root(), &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut hits = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            if let Some(needle) = outside.iter().find(|n| line.contains(*n)) {
                hits.push(format!("{}:{}: {needle}", file.display(), number + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "these cite files a clone does not have; point to docs/ instead: {hits:#?}"
    );
}
