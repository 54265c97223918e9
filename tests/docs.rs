//! The operator docs cannot silently fall behind the code:
//!
//! - every key in `aimoviez.example.toml` (including keys shown commented out)
//!   has a row in `docs/configuration.md` naming its `AIMOVIEZ_*` variable and
//!   its default, and that variable really is accepted by the config loader;
//! - every `aimoviez …` command line in the README's and the docs' shell and
//!   unit-file blocks parses with the real command-line definition.

use std::path::{Path, PathBuf};

use aimoviez::cli::Cli;
use aimoviez::config::{Config, ENV_PREFIX, Overrides};
use clap::Parser;

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_file(relative)).unwrap_or_else(|error| panic!("cannot read {relative}: {error}"))
}

/// A key of the example file: its dotted name and, unless it is only shown
/// commented out, its (default) value.
#[derive(Debug)]
struct ExampleKey {
    name: String,
    value: Option<toml::Value>,
}

fn walk(prefix: &str, table: &toml::Table, keys: &mut Vec<ExampleKey>) {
    for (key, value) in table {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => walk(&name, inner, keys),
            other => keys.push(ExampleKey { name, value: Some(other.clone()) }),
        }
    }
}

/// Every key of the example file: the parsed ones, then the ones that appear
/// only as a commented-out assignment (`# public_url = "…"`), which are
/// optional keys without a default.
fn example_keys() -> Vec<ExampleKey> {
    let text = read("aimoviez.example.toml");
    let table: toml::Table = text.parse().expect("aimoviez.example.toml is valid TOML");
    let mut keys = Vec::new();
    walk("", &table, &mut keys);
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            section = name.trim().to_owned();
            continue;
        }
        let Some(commented) = line.strip_prefix('#') else { continue };
        let Ok(parsed) = commented.trim().parse::<toml::Table>() else { continue };
        let Some((key, value)) = parsed.iter().next() else { continue };
        let is_key = parsed.len() == 1
            && !value.is_table()
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let name = if section.is_empty() { key.clone() } else { format!("{section}.{key}") };
        if is_key && !keys.iter().any(|known| known.name == name) {
            keys.push(ExampleKey { name, value: None });
        }
    }
    keys
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The example value as it would be written in an environment variable:
/// strings bare, everything else as TOML.
fn env_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn every_example_key_is_in_the_configuration_reference() {
    let keys = example_keys();
    assert!(keys.len() >= 20, "the example file walk found too few keys: {keys:?}");
    assert!(keys.iter().any(|key| key.name == "public_url" && key.value.is_none()), "commented keys are found");
    let reference = read("docs/configuration.md");
    let mut problems = Vec::new();
    for key in &keys {
        let row_start = format!("| `{}` |", key.name);
        let Some(row) = reference.lines().find(|line| line.starts_with(&row_start)) else {
            problems.push(format!("`{}`: no row starting with {row_start:?}", key.name));
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (env_cell, default_cell) = (cells.get(2).copied().unwrap_or(""), cells.get(3).copied().unwrap_or(""));
        let env = env_name(&key.name);
        if env_cell != format!("`{env}`") {
            problems.push(format!("`{}`: variable cell is {env_cell:?}, expected `{env}`", key.name));
        }
        let expected_default = match &key.value {
            Some(value) => format!("`{value}`"),
            None => "unset".to_owned(),
        };
        if without_spaces(default_cell) != without_spaces(&expected_default) {
            problems.push(format!("`{}`: default cell is {default_cell:?}, expected {expected_default}", key.name));
        }
    }
    assert!(problems.is_empty(), "docs/configuration.md is behind aimoviez.example.toml:\n{}", problems.join("\n"));
}

#[test]
fn every_documented_variable_name_is_accepted_by_the_loader() {
    // The loader refuses unknown AIMOVIEZ_* variables, so a wrong name in the
    // reference (or a section missing from the loader's list) fails here.
    for key in example_keys() {
        let value = key.value.as_ref().map(env_text).unwrap_or_else(|| "https://film.example.org".to_owned());
        let env = vec![(env_name(&key.name), value.clone())];
        if let Err(error) = Config::load(None, env, &Overrides::default()) {
            panic!("{}={value} is refused: {error}", env_name(&key.name));
        }
    }
}

/// The shell and unit-file blocks of a Markdown file, one logical line each
/// (backslash continuations joined, comments dropped).
fn command_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in markdown.lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_block = !in_block && matches!(info.trim(), "sh" | "bash" | "console" | "ini");
            continue;
        }
        if !in_block {
            continue;
        }
        let code = match trimmed.find(" #") {
            Some(at) => &trimmed[..at],
            None if trimmed.starts_with('#') => "",
            None => trimmed,
        };
        match code.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(code);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    lines
}

/// Replaces `$(…)` command substitutions with a placeholder word.
fn without_substitutions(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find(')').map_or(after.len(), |end| end + 1);
        out.push('X');
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The `aimoviez …` invocations in one logical line, as argument lists.
fn invocations(line: &str) -> Vec<Vec<String>> {
    let line = line.strip_prefix("ExecStart=").unwrap_or(line);
    let line = without_substitutions(line).replace("&&", "|").replace("||", "|").replace(';', "|");
    let mut found = Vec::new();
    for segment in line.split('|') {
        let mut words: Vec<String> =
            segment.split_whitespace().map(|word| word.trim_matches(|c| c == '\'' || c == '"').to_owned()).collect();
        // Leading `sudo [-u USER]` and `NAME=value` assignments.
        loop {
            match words.first().map(String::as_str) {
                Some("sudo") => {
                    words.remove(0);
                    if words.first().map(String::as_str) == Some("-u") {
                        words.drain(..2.min(words.len()));
                    }
                }
                Some(word) if word.contains('=') && !word.starts_with('-') => {
                    words.remove(0);
                }
                _ => break,
            }
        }
        if words.first().is_some_and(|word| word == "aimoviez" || word.ends_with("/aimoviez")) {
            found.push(words);
        }
    }
    found
}

/// Inline code spans outside code blocks that name a command
/// (`` `aimoviez check --data DIR` ``), with line breaks inside a span
/// joined. Spans with placeholders in brackets are left out.
fn inline_commands(markdown: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            prose.push_str(line);
            prose.push(' ');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("aimoviez ") || span.starts_with("sudo "))
        .filter(|span| !span.contains(['[', '<', '…']))
        .map(str::to_owned)
        .collect()
}

fn markdown_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(repo_file("docs")).expect("docs/ exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            files.push(format!("docs/{}", path.file_name().expect("name").to_string_lossy()));
        }
    }
    files
}

#[test]
fn every_documented_command_line_parses() {
    use clap::error::ErrorKind;
    let files = markdown_files();
    let (mut full, mut inline) = (0, 0);
    let mut problems = Vec::new();
    for file in &files {
        let text = read(file);
        // Lines in shell and unit blocks are complete: they must parse.
        for words in command_lines(&text).iter().flat_map(|line| invocations(line)) {
            full += 1;
            if let Err(error) = Cli::try_parse_from(&words)
                && !matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
            {
                problems.push(format!("{file}: `{}`: {}", words.join(" "), error.kind()));
            }
        }
        // Commands named in the text may leave out required arguments, but
        // every subcommand and flag they name must exist.
        for words in inline_commands(&text).iter().flat_map(|span| invocations(span)) {
            inline += 1;
            if let Err(error) = Cli::try_parse_from(&words)
                && !matches!(
                    error.kind(),
                    ErrorKind::DisplayHelp
                        | ErrorKind::DisplayVersion
                        | ErrorKind::MissingRequiredArgument
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                )
            {
                problems.push(format!("{file}: `{}`: {}", words.join(" "), error.kind()));
            }
        }
    }
    assert!(full >= 10 && inline >= 10, "too few aimoviez commands found ({full} in blocks, {inline} inline)");
    assert!(problems.is_empty(), "documented commands that do not parse:\n{}", problems.join("\n"));
}

#[test]
fn the_command_line_check_catches_a_wrong_flag() {
    let lines = command_lines("```sh\naimoviez backup /x --data /d \\\n  --dry-run   # no such flag\n```\n");
    let words = invocations(&lines[0]).remove(0);
    assert_eq!(words, ["aimoviez", "backup", "/x", "--data", "/d", "--dry-run"]);
    assert!(Cli::try_parse_from(&words).is_err());
    assert_eq!(
        invocations("sudo -u aimoviez FOO=1 /usr/local/bin/aimoviez check --data $(pwd)/d && echo ok"),
        vec![vec!["/usr/local/bin/aimoviez", "check", "--data", "X/d"]]
    );
    let spans = inline_commands("Run `aimoviez reindex --data\n/d` or `aimoviez serve [--demo]`, not `ls`.\n");
    assert_eq!(spans, ["aimoviez reindex --data /d"]);
}
