//! Keeps the layers honest: the architecture invariants that ARCHITECTURE.md
//! marks as checked are checked here, over the source files.
//!
//! - Only `src/http/` names the HTTP stack (axum, hyper, tower, tower-http,
//!   askama); `src/app.rs` may too, to serve.
//! - Only `src/store/` names redb.
//! - Nothing under `src/service/` or `src/domain/` names `http` (the crate
//!   or our module) or axum; the domain names no storage either.
//! - Pages never reach into the JSON API's handlers: `src/http/pages/`
//!   does not name `http::api`.
//! - The top-level modules depend on each other without a cycle (`app`
//!   builds everything and nothing depends on it but the CLI).
//! - Every module starts with a `//!` doc.
//!
//! Only code counts: line comments and doc comments may name anything.
//! Each failure names the file, the line and the rule it breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its path under `src/`, its top-level module and its
/// lines with comments removed.
struct Source {
    path: PathBuf,
    module: String,
    text: String,
    code: Vec<String>,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("under src").to_path_buf();
            let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
            let module = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let code = text.lines().map(strip_comment).collect();
            Source { path: relative, module, text, code }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// A line's code: its `//` comment removed and the text inside string
/// literals blanked, so a file name like `"db.redb"` or a URL names nothing.
fn strip_comment(line: &str) -> String {
    let mut code = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if escaped => {
                escaped = false;
                code.push(' ');
            }
            '\\' if in_string => {
                escaped = true;
                code.push(' ');
            }
            // A `'"'` character literal opens no string.
            '\'' if !in_string && chars.peek() == Some(&'"') => {
                code.push(c);
                code.extend(chars.next());
            }
            '"' => {
                in_string = !in_string;
                code.push('"');
            }
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if in_string => code.push(' '),
            _ => code.push(c),
        }
    }
    code
}

/// Whether `code` names `word` as a whole identifier (not `axum_extra`, not
/// `myaxum`).
fn names(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Every line of `sources` that breaks `rule`, as `path:line: rule: code`.
fn breaches(sources: &[Source], applies: impl Fn(&Source) -> bool, words: &[&str], rule: &str) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources.iter().filter(|source| applies(source)) {
        for (number, code) in source.code.iter().enumerate() {
            for word in words {
                if names(code, word) {
                    found.push(format!(
                        "src/{}:{}: {rule} (names `{word}`): {}",
                        source.path.display(),
                        number + 1,
                        code.trim()
                    ));
                }
            }
        }
    }
    found
}

fn under(source: &Source, dir: &str) -> bool {
    source.path.starts_with(dir)
}

#[test]
fn only_http_names_the_http_stack() {
    let sources = sources();
    let found = breaches(
        &sources,
        |source| !under(source, "http") && source.path != Path::new("app.rs"),
        &["axum", "hyper", "tower", "tower_http", "askama"],
        "only src/http/ (and src/app.rs, to serve) may name the HTTP stack",
    );
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn only_the_store_names_redb() {
    let sources = sources();
    let found = breaches(&sources, |source| !under(source, "store"), &["redb"], "only src/store/ may name redb");
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn services_and_the_domain_know_nothing_of_http() {
    let sources = sources();
    let mut found = breaches(
        &sources,
        |source| under(source, "service") || under(source, "domain"),
        &["http", "axum"],
        "src/service/ and src/domain/ may not name http or axum",
    );
    found.extend(breaches(
        &sources,
        |source| under(source, "domain"),
        &["store", "redb", "rkyv", "tantivy"],
        "src/domain/ is pure: it may not name storage",
    ));
    found.extend(breaches(
        &sources,
        |source| under(source, "http/pages"),
        &["api"],
        "pages call services, never the JSON API's handlers",
    ));
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn every_module_has_a_doc() {
    let missing: Vec<String> = sources()
        .iter()
        .filter(|source| !source.text.trim_start().starts_with("//!"))
        .map(|source| format!("src/{}:1: every module starts with a `//!` doc", source.path.display()))
        .collect();
    assert!(missing.is_empty(), "\n{}\n", missing.join("\n"));
}

/// The top-level modules each top-level module names (`crate::x`, or
/// `crate::{x, y}`), with the first place it does so.
fn dependencies(sources: &[Source]) -> BTreeMap<String, BTreeMap<String, String>> {
    let modules: BTreeSet<&str> = sources.iter().map(|source| source.module.as_str()).collect();
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for source in sources {
        let edges = graph.entry(source.module.clone()).or_default();
        for (number, code) in source.code.iter().enumerate() {
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let targets: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                    None => vec![rest],
                };
                for target in targets {
                    let name: String =
                        target.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if name != source.module && modules.contains(name.as_str()) {
                        edges.entry(name).or_insert_with(|| format!("src/{}:{}", source.path.display(), number + 1));
                    }
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, as the modules on it, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeMap<String, String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).map(|edges| edges.keys()).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn top_level_modules_depend_on_each_other_without_a_cycle() {
    let graph = dependencies(&sources());
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|pair| format!("{} -> {} ({})", pair[0], pair[1], graph[&pair[0]][&pair[1]]))
                .collect();
            format!("import cycle: {}", steps.join(", "))
        })
        .collect();
    assert!(cycles.is_empty(), "\n{}\n", cycles.join("\n"));
    // Nobody depends on the app but the CLI, which starts it.
    for (module, edges) in &graph {
        if let Some(place) = edges.get("app").filter(|_| module != "cli") {
            panic!("{place}: only the CLI may depend on `app` (it builds everything), not `{module}`");
        }
    }
    for module in ["service", "domain"] {
        for layer in ["http", "app", "cli"] {
            if let Some(place) = graph.get(module).and_then(|edges| edges.get(layer)) {
                panic!("{place}: `{module}` may not depend on `{layer}`, which sits above it");
            }
        }
    }
    // The graph, for ARCHITECTURE.md and reviews (`cargo test --test tidy -- --nocapture`).
    for (module, edges) in &graph {
        let targets: Vec<&str> = edges.keys().map(String::as_str).collect();
        println!("{module} -> {}", targets.join(", "));
    }
}

#[test]
fn the_checks_catch_what_they_look_for() {
    assert!(names("use axum::Router;", "axum"));
    assert!(!names("use axum_extra::Foo;", "axum"));
    assert!(!names("let myaxum = 1;", "axum"));
    assert!(names("crate::http::error", "http"));
    assert!(!names("let https_only = true;", "http"));
    assert_eq!(strip_comment("let a = 1; // axum"), "let a = 1; ");
    assert_eq!(strip_comment("let url = \"http://x\"; // y"), "let url = \"        \"; ");
    assert!(!names(&strip_comment("open(\"db.redb\")"), "redb"));
    assert!(names(&strip_comment("let q = '\"'; use axum::Router;"), "axum"));
    let graph: BTreeMap<String, BTreeMap<String, String>> = [
        ("a".to_owned(), BTreeMap::from([("b".to_owned(), "src/a.rs:1".to_owned())])),
        ("b".to_owned(), BTreeMap::from([("a".to_owned(), "src/b.rs:2".to_owned())])),
        ("c".to_owned(), BTreeMap::from([("a".to_owned(), "src/c.rs:3".to_owned())])),
    ]
    .into_iter()
    .collect();
    assert_eq!(cycle_from(&graph, "a"), Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]));
    assert_eq!(cycle_from(&graph, "c"), None);
}
