//! The book stays true to the code: every `{{#include file:anchor}}` in
//! `tutorial/` names a file and an anchor that exist (mdBook would render a
//! missing anchor as an empty listing without a word), every chapter is in
//! SUMMARY.md, and every example file is registered in Cargo.toml.

use std::fs;
use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The `{{#include ...}}` specs in `text` (also `rustdoc_include`).
fn includes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#") {
        rest = &rest[start + 3..];
        let Some(end) = rest.find("}}") else { break };
        let directive = &rest[..end];
        if let Some(spec) = directive
            .strip_prefix("include ")
            .or_else(|| directive.strip_prefix("rustdoc_include "))
        {
            found.push(spec.trim().to_string());
        }
        rest = &rest[end..];
    }
    found
}

fn problems_in(md: &Path) -> Vec<String> {
    let text = fs::read_to_string(md).unwrap();
    let mut problems = Vec::new();
    for spec in includes(&text) {
        let (file, anchor) = match spec.split_once(':') {
            Some((f, a)) => (f, Some(a)),
            None => (spec.as_str(), None),
        };
        let target = md.parent().unwrap().join(file);
        let Ok(source) = fs::read_to_string(&target) else {
            problems.push(format!("{}: {spec}: no such file", md.display()));
            continue;
        };
        // Line ranges (`file:10:20`) need no anchor.
        if let Some(anchor) = anchor.filter(|a| !a.chars().all(|c| c.is_ascii_digit() || c == ':'))
        {
            let start = format!("ANCHOR: {anchor}");
            let end = format!("ANCHOR_END: {anchor}");
            let has_start = source.lines().any(|l| l.trim_end().ends_with(&start));
            let has_end = source.lines().any(|l| l.trim_end().ends_with(&end));
            if !has_start || !has_end {
                problems.push(format!("{}: {spec}: no anchor {anchor:?}", md.display()));
            }
        }
    }
    problems
}

#[test]
fn every_include_resolves() {
    let mut files = Vec::new();
    markdown_files(Path::new("tutorial"), &mut files);
    assert!(files.len() >= 5, "the book has chapters");
    let problems: Vec<String> = files.iter().flat_map(|f| problems_in(f)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_a_missing_anchor() {
    let dir = std::env::temp_dir().join(format!("tutorial-check-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("code.rs"),
        "// ANCHOR: here\nfn f() {}\n// ANCHOR_END: here\n",
    )
    .unwrap();
    fs::write(dir.join("ok.md"), "{{#include code.rs:here}}").unwrap();
    fs::write(
        dir.join("bad.md"),
        "{{#include code.rs:gone}} {{#include nope.rs}}",
    )
    .unwrap();
    assert!(problems_in(&dir.join("ok.md")).is_empty());
    assert_eq!(problems_in(&dir.join("bad.md")).len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_chapter_is_in_the_summary() {
    let summary = fs::read_to_string("tutorial/src/SUMMARY.md").unwrap();
    for entry in fs::read_dir("tutorial/src").unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") && name != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("({name})")),
                "{name} is not in SUMMARY.md"
            );
        }
    }
}

#[test]
fn every_example_is_registered() {
    let manifest = fs::read_to_string("Cargo.toml").unwrap();
    for entry in fs::read_dir("tutorial/examples").unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".rs") {
            assert!(
                manifest.contains(&format!("path = \"tutorial/examples/{name}\"")),
                "{stem} is not an [[example]] in Cargo.toml"
            );
        }
    }
}

/// The numbered chapters of SUMMARY.md, in order, as (title, file); the
/// pages before the first list item are unnumbered prefix chapters.
fn numbered_chapters(summary: &str) -> Vec<(String, String)> {
    summary
        .lines()
        // Top-level items only: a nested one renders as N.M under its
        // parent (chapter 10.1 is ch10-1-…), checked below.
        .filter_map(|line| line.strip_prefix("- ["))
        .map(|entry| {
            let (title, rest) = entry.split_once("](").expect("- [title](file.md)");
            let file = rest.split_once(')').expect("closing parenthesis").0;
            (title.to_string(), file.to_string())
        })
        .collect()
}

#[test]
fn sidebar_numbers_match_the_file_and_example_names() {
    let summary = fs::read_to_string("tutorial/src/SUMMARY.md").unwrap();
    let chapters = numbered_chapters(&summary);
    assert!(chapters.len() >= 13, "{chapters:?}");
    for (i, (title, file)) in chapters.iter().enumerate() {
        // mdBook numbers list items from 1.
        let expected = format!("ch{:02}-", i + 1);
        assert!(
            file.starts_with(&expected),
            "the sidebar shows {title:?} as {}. but its file is {file}",
            i + 1
        );
    }
    // The opening chapter is a prefix chapter: linked, not a list item.
    assert!(summary.contains("\n[Real-time on the web"), "{summary}");
    for entry in fs::read_dir("tutorial/examples").unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let n: usize = name[2..4].parse().expect("examples are named chNN_");
        assert!(
            (1..=chapters.len()).contains(&n),
            "{name} names chapter {n}, which the sidebar does not have"
        );
    }
}

/// Every chapter number in "chapter 5", "chapters 6–8", "Chapters 8 and
/// 10", "chapters 3, 4, 8 and 9" in `text`.
fn chapter_references(text: &str) -> Vec<usize> {
    /// The number at the start of `s`, and what follows it.
    fn number(s: &str) -> Option<(usize, &str)> {
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        Some((s[..digits].parse().ok()?, &s[digits..]))
    }
    let lower = text.to_lowercase();
    let mut found = Vec::new();
    for (at, _) in lower.match_indices("chapter") {
        let after = &lower[at + "chapter".len()..];
        let after = after.strip_prefix('s').unwrap_or(after);
        let Some((n, mut rest)) = after.strip_prefix(' ').and_then(number) else {
            continue;
        };
        found.push(n);
        // Further numbers joined by a comma, a dash, "and" or "or".
        while let Some((n, next)) = [", ", "–", "-", " and ", " or ", ", and "]
            .iter()
            .find_map(|sep| rest.strip_prefix(sep).and_then(number))
        {
            found.push(n);
            rest = next;
        }
    }
    found
}

#[test]
fn chapter_references_parse_lists_and_ranges() {
    assert_eq!(chapter_references("see chapter 5."), [5]);
    assert_eq!(chapter_references("Chapters 6–8 and 10"), [6, 8, 10]);
    assert_eq!(chapter_references("chapters 3, 4, 8 and 9)"), [3, 4, 8, 9]);
    assert_eq!(chapter_references("Chapter 0 listed"), [0]);
    assert_eq!(
        chapter_references("this chapter's example, 2 ways"),
        Vec::<usize>::new()
    );
}

#[test]
fn every_chapter_reference_names_a_numbered_chapter() {
    let summary = fs::read_to_string("tutorial/src/SUMMARY.md").unwrap();
    let count = numbered_chapters(&summary).len();
    let mut files = vec![PathBuf::from("README.md")];
    markdown_files(Path::new("tutorial/src"), &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for n in chapter_references(&text) {
            if !(1..=count).contains(&n) {
                wrong.push(format!("{}: chapter {n}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "no such chapter (the opening one is unnumbered: call it \"the opening chapter\"):\n{}",
        wrong.join("\n")
    );
}

/// A chapter's text with every run of whitespace (line breaks included)
/// made one space, so a sentence can be found however it was wrapped.
fn chapter_text(file: &str) -> String {
    let text = fs::read_to_string(Path::new("tutorial/src").join(file)).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that `chapter` states `sentence` (compared whitespace-blind).
fn assert_states(chapter: &str, sentence: &str) {
    let text = chapter_text(chapter);
    let sentence = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(&sentence),
        "{chapter} no longer says {sentence:?}: fix the figure or this test"
    );
}

/// Bytes of WebSocket frame header for a `len`-byte payload, computed by
/// the crate's own encoder.
fn ws_header(len: u64, from_client: bool) -> usize {
    use realtime_events::ws::{FrameHeader, Opcode};
    FrameHeader::whole(Opcode::Binary, from_client.then_some([1, 2, 3, 4]), len).encoded_len()
}

/// Bytes an SSE event adds to `data`, computed by the crate's encoder.
fn sse_overhead(data: &str, id: Option<&str>) -> usize {
    let mut event = realtime_events::sse::Event::new(data);
    if let Some(id) = id {
        event = event.id(id);
    }
    event.to_bytes().unwrap().len() - data.len()
}

#[test]
fn frame_header_sizes_in_the_text_are_the_encoders() {
    let (small, medium, large) = (
        ws_header(125, false),
        ws_header(65_535, false),
        ws_header(65_536, false),
    );
    // The length forms switch where the text says they do.
    assert_eq!(ws_header(0, false), small);
    assert_eq!(ws_header(126, false), medium);
    let key = ws_header(5, true) - ws_header(5, false);
    assert_eq!(ws_header(65_536, true) - large, key);

    assert_states(
        "ch07-frames-and-masking.md",
        &format!("a header of {small} to {} bytes", ws_header(65_536, true)),
    );
    // ch07's frame dump: "Hello" both ways.
    assert_eq!((ws_header(5, false) + 5, ws_header(5, true) + 5), (7, 11));
    assert_states(
        "ch07-frames-and-masking.md",
        &format!("Seven bytes for a five-byte message from the server; eleven from the client, which adds a {key}-byte key"),
    );
    assert_states(
        "ch12-side-by-side.md",
        &format!("A WebSocket frame from the server costs **{small} bytes** up to 125 bytes of payload, {medium} up to 65,535, {large} beyond; a client frame adds its {key}-byte masking key"),
    );
    // ch11's wire view: 64 KiB echoed, 4 KiB of binary.
    assert_states(
        "ch11-in-the-browser.md",
        &format!(
            "Chromium's frame has a {}-byte header",
            ws_header(65_536, true)
        ),
    );
    assert_states(
        "ch11-in-the-browser.md",
        &format!("the server's answer a {large}-byte one"),
    );
    assert_states(
        "ch11-in-the-browser.md",
        &format!(
            "the WebSocket one is a {}-byte header",
            ws_header(4096, false)
        ),
    );
    assert_states(
        "ch11-in-the-browser.md",
        &format!(
            "the browser's frame would carry {} bytes of header",
            ws_header(4096, true)
        ),
    );
    assert_states(
        "ch12-side-by-side.md",
        &format!(
            "against {small} for a small server frame, {} for a client frame",
            ws_header(20, true)
        ),
    );
}

#[test]
fn sse_overheads_in_the_text_are_the_encoders() {
    let event = sse_overhead("a quote", None);
    let id = sse_overhead("a quote", Some("123456")) - event;
    // One more line of data: one more `data: ` prefix and line end, less
    // the line break the payload itself no longer carries.
    let per_line = sse_overhead("one\ntwo", None) - sse_overhead("onetwo", None);
    let ten_lines = vec!["a".repeat(10); 10].join("\n");
    assert_eq!(sse_overhead(&ten_lines, None), event + 9 * per_line);

    assert_states(
        "ch12-side-by-side.md",
        &format!("`data: ` + payload + `\\n` + the empty line: **{event} bytes**"),
    );
    assert_states(
        "ch12-side-by-side.md",
        &format!("adds `id: N\\n` ({id} bytes for a six-digit id)"),
    );
    assert_states(
        "ch12-side-by-side.md",
        &format!("pays {per_line} more bytes per extra line"),
    );
    assert_states(
        "ch12-side-by-side.md",
        &format!(
            "(10 lines: {event} + 9 × {per_line} = {})",
            sse_overhead(&ten_lines, None)
        ),
    );
    assert_states(
        "ch12-side-by-side.md",
        &format!("{event} bytes ({} with an id) against", event + id),
    );
}

#[test]
fn the_handshake_sample_is_the_crates_accept_key() {
    let accept = realtime_events::ws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
    assert_states(
        "ch06-the-handshake.md",
        &format!("Sec-WebSocket-Accept: {accept}"),
    );
}

#[test]
fn every_chapter_opens_with_its_aims_and_ends_with_try_this() {
    let summary = fs::read_to_string("tutorial/src/SUMMARY.md").unwrap();
    let mut files: Vec<String> = numbered_chapters(&summary)
        .into_iter()
        .map(|(_, file)| file)
        .collect();
    files.push("ch00-realtime-on-the-web.md".to_string());
    files.extend(nested_chapters(&summary));
    for file in files {
        let text = fs::read_to_string(Path::new("tutorial/src").join(&file)).unwrap();
        let first_section = text.find("\n## ").unwrap_or(text.len());
        assert!(
            text[..first_section].contains("**In this chapter you will:**"),
            "{file} does not open with what the reader will be able to do"
        );
        let last_section = text.rfind("\n## ").expect("sections");
        assert!(
            text[last_section..].starts_with("\n## Try this\n"),
            "{file} does not end with a \"Try this\" section"
        );
    }
}

#[test]
fn the_stated_minimum_rust_is_cargo_tomls() {
    // .ci/msrv.py checks Cargo.toml against the dependencies; this keeps
    // the README and the book saying the same version.
    let rust_version = env!("CARGO_PKG_RUST_VERSION");
    assert!(!rust_version.is_empty(), "Cargo.toml sets rust-version");
    let needle = format!("Rust {rust_version} or newer");
    let readme = fs::read_to_string("README.md").unwrap();
    assert!(readme.contains(&needle), "README.md should say {needle:?}");
    assert_states("introduction.md", &needle);
}

/// The files of nested chapters (`  - [title](chNN-M-….md)`).
fn nested_chapters(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter(|line| line.starts_with(' '))
        .filter_map(|line| line.trim_start().strip_prefix("- ["))
        .map(|entry| {
            entry
                .split_once("](")
                .unwrap()
                .1
                .split_once(')')
                .unwrap()
                .0
                .to_string()
        })
        .collect()
}

#[test]
fn nested_chapters_are_named_after_their_parent() {
    let summary = fs::read_to_string("tutorial/src/SUMMARY.md").unwrap();
    let mut parent = String::new();
    let mut seen = 0;
    for line in summary.lines() {
        let Some(entry) = line.trim_start().strip_prefix("- [") else {
            continue;
        };
        let file = entry.split_once("](").unwrap().1.split_once(')').unwrap().0;
        if line.starts_with(' ') {
            assert!(
                file.starts_with(&format!("{parent}-"))
                    && file[parent.len() + 1..].starts_with(|c: char| c.is_ascii_digit()),
                "{file} is nested under {parent}: name it {parent}-N-…"
            );
            seen += 1;
        } else {
            parent = file[..4].to_string();
        }
    }
    assert!(seen >= 1, "chapter 10.1 is nested under chapter 10");
}
