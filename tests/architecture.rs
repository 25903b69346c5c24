//! The layering rule, as a test: the sans-IO core never reaches for I/O.
//!
//! Every file under `src/http`, `src/ws` and `src/sse` is core unless it is
//! named in [`SHELL`]. A core file may not use tokio, the server shell
//! (`crate::server`), the demo (`crate::app`), or a shell file of its own
//! protocol. A new file is core until someone decides otherwise here, so
//! the rule cannot be dodged by adding a file.

use std::path::{Path, PathBuf};

/// The tokio shell files: they own sockets, timers and tasks.
const SHELL: &[&str] = &[
    "ws/socket.rs",
    "ws/server.rs",
    "ws/client.rs",
    "sse/stream.rs",
    "sse/client.rs",
    "sse/hub.rs",
];

/// Module roots only wire modules together and re-export; they may name
/// shell modules, but not import I/O themselves.
const ROOTS: &[&str] = &["http/mod.rs", "ws/mod.rs", "sse/mod.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without its comments (doc comments mention the shell
/// on purpose, to point readers at it).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a core file (or a root, `root == true`) may not mention.
fn violations(relative: &str, code: &str, root: bool) -> Vec<String> {
    let mut forbidden = vec![
        "tokio".to_string(),
        "crate::server".to_string(),
        "crate::app".to_string(),
    ];
    if !root {
        for shell in SHELL {
            let (protocol, file) = shell.split_once('/').unwrap();
            let module = file.trim_end_matches(".rs");
            if relative.starts_with(protocol) {
                forbidden.push(format!("super::{module}"));
            }
            forbidden.push(format!("crate::{protocol}::{module}"));
        }
    }
    forbidden
        .into_iter()
        .filter(|word| {
            code.match_indices(word.as_str()).any(|(at, _)| {
                let next = code[at + word.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .collect()
}

#[test]
fn core_files_never_import_the_shell() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for protocol in ["http", "ws", "sse"] {
        rust_files(&src.join(protocol), &mut files);
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for path in files {
        let relative = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if SHELL.contains(&relative.as_str()) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        let found = violations(&relative, &code, ROOTS.contains(&relative.as_str()));
        if !found.is_empty() {
            broken.push(format!("{relative}: {}", found.join(", ")));
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} core files found: moved?");
    assert!(
        broken.is_empty(),
        "core files reach for I/O:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_shell_file_named_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in SHELL.iter().chain(ROOTS) {
        assert!(src.join(file).is_file(), "{file} is listed but missing");
    }
}

#[test]
fn the_check_catches_what_it_should() {
    let core = "use bytes::BytesMut;\nuse tokio::io::AsyncRead;\n";
    assert_eq!(violations("ws/frame.rs", core, false), ["tokio"]);
    let shell_sibling = "use super::socket::WebSocket;\n";
    assert_eq!(
        violations("ws/frame.rs", shell_sibling, false),
        ["super::socket"]
    );
    let commented = code_of("let x = 1; // the tokio shell does the rest\n");
    assert!(violations("ws/frame.rs", &commented, false).is_empty());
    assert!(
        violations("ws/frame.rs", "use crate::server::Request;", false)
            .contains(&"crate::server".to_string())
    );
    // A name that merely starts like a forbidden one is fine.
    assert!(violations("ws/frame.rs", "let tokio_free = 1;", false).is_empty());
}
