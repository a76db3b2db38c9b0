//! The layers of `src/` depend one way only:
//! `domain` ← `store` and `secrets` (the AWS services read) ← `im` ←
//! `usecases` ← `edge` ← the wiring (`lib.rs`, `main.rs`, `config.rs`),
//! with `telemetry`, `metrics`, `aws` (the standard AWS variables), `error`
//! (the boxed cause every layer carries) and `backoff` below them all,
//! knowing none of them. Rust allows cycles between the modules of one
//! crate, so this test is what keeps the order: every `crate::<module>` a
//! file names must be its own layer or one below it.

use std::path::Path;

/// Rank of each top-level module: a file may use modules of its own rank
/// or lower.
fn rank(module: &str) -> u8 {
    match module {
        "telemetry" | "metrics" | "aws" | "error" | "backoff" => 0,
        "domain" => 1,
        "store" | "secrets" => 2,
        "im" => 3,
        "usecases" => 4,
        "edge" => 5,
        "config" | "lib" | "main" => 6,
        other => panic!("src/{other}: a module this test does not know; give it a layer"),
    }
}

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_layer_depends_only_on_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found the sources");
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let own = relative.components().next().unwrap().as_os_str().to_str().unwrap();
        let own = own.trim_end_matches(".rs");
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let used: String = text[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if used != own && rank(&used) > rank(own) {
                wrong.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "a layer reaches above itself: {wrong:#?}");
}
