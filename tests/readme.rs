//! README.md shows real output: every ```text block that starts with `$ wireseam ARGS` (and no
//! comment after the command) is run, and each of its output lines must appear, in the same
//! order and contiguously, in what the binary prints (`--color never`). Blocks that abbreviate
//! with `...` are excerpts by design and are skipped.

mod common;

/// (command arguments, shown output lines) of each checkable block.
fn blocks(readme: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for block in readme.split("```text\n").skip(1) {
        let body = block.split("```").next().unwrap_or("");
        let mut lines = body.lines();
        let Some(first) = lines.next() else { continue };
        let Some(cmd) = first.strip_prefix("$ wireseam ") else { continue };
        if cmd.contains("  (") || body.contains("...") || body.lines().skip(1).any(|l| l.starts_with("$ ")) {
            continue;
        }
        let args = cmd.split_whitespace().map(String::from).collect();
        out.push((args, lines.map(String::from).collect()));
    }
    out
}

#[test]
fn readme_output_is_the_binarys() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    assert!(blocks.len() >= 5, "README blocks with commands: {}", blocks.len());
    let mut failures = Vec::new();
    for (args, shown) in &blocks {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["--color", "never"]);
        let o = common::wireseam(&all);
        let actual = String::from_utf8_lossy(&o.stdout).into_owned();
        let actual: Vec<&str> = actual.lines().collect();
        let found = shown.is_empty() || actual.windows(shown.len()).any(|w| w.iter().zip(shown).all(|(a, b)| a == b));
        if !found {
            failures.push(format!("$ wireseam {}\n--- README\n{}\n--- binary\n{}", args.join(" "), shown.join("\n"), actual.join("\n")));
        }
    }
    assert!(failures.is_empty(), "README output differs from the binary's:\n{}", failures.join("\n\n"));
}
