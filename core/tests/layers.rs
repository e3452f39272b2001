//! The core's layers import only the layers below them: `jws` nothing else of the crate (but the
//! `log` leaf), `keys` only `jws`, `gateway` only `jws` and `keys`; `config` sits on top and is
//! imported by none of them. Read from the sources, so a wrong import fails here and not in a
//! review.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The `(file, line)` places in layer `layer` that name one of `forbidden` (`crate::<module>`).
fn violations(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let files = sources(&dir);
    assert!(!files.is_empty(), "no sources in {}", dir.display());
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for module in forbidden {
                if line.contains(&format!("crate::{module}")) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn jws_imports_nothing_above_it() {
    assert_eq!(
        violations("jws", &["keys", "gateway", "config", "log"]),
        Vec::<String>::new()
    );
}

#[test]
fn keys_imports_only_jws() {
    assert_eq!(
        violations("keys", &["gateway", "config"]),
        Vec::<String>::new()
    );
}

#[test]
fn gateway_imports_only_jws_and_keys() {
    assert_eq!(violations("gateway", &["config"]), Vec::<String>::new());
}
