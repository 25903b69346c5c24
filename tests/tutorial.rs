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
        .filter_map(|line| line.trim_start().strip_prefix("- ["))
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
