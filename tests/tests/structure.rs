//! The code's structure holds: no two files of one crate import each other, directly or through
//! others (ARCHITECTURE.md, "The rules").
//!
//! A file's imports are the `crate::`, `super::` and `self::` paths it names outside its tests
//! (`use` statements, braces expanded, and paths written inline). Each path is taken to the
//! deepest module it names; a name the crate root re-exports (`crate::Decision`) is taken to the
//! module it comes from. A module declaring its children (`mod x;`) is not an import of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library crates whose files are checked, from the workspace root.
const CRATES: [&str; 3] = ["rating/src", "projections/src", "engine/src"];

/// Each crate's layers, lowest first: the top-level folders (or files) of its src/. A module may
/// import from its own layer and the layers before it, never from a later one.
const LAYERS: [(&str, &[&str]); 3] = [
    (
        "rating/src",
        &["units", "tariff", "model", "decide", "encoding"],
    ),
    ("projections/src", &["models", "project", "present"]),
    (
        "engine/src",
        &[
            "operations",
            "input",
            "store",
            "pipeline",
            "passes",
            "kafka",
            "online",
            "read",
            "tools",
        ],
    ),
];

type Module = String;

/// The crate's modules by the file that holds each: `a/b.rs` and `a/b/mod.rs` are `a::b`, and
/// `lib.rs` is the root (the empty path). `main.rs` and `bin/` are other crates.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    dirs.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("main") if parts.len() == 1 => continue,
                Some("lib") if parts.len() == 1 => parts.clear(),
                Some("mod") => {
                    parts.pop();
                }
                _ => {}
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The source without comments, string and character literals, and the tests at its end
/// (`#[cfg(test)]` onwards): what is left names only code.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i += body
                + rest[body..]
                    .find(&close)
                    .map_or(rest.len() - body, |e| e + close.len());
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if bytes[i] == b'\'' && is_char_literal(rest) {
            i += rest[1..].find('\'').map_or(1, |e| e + 2);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `'x'` or `'\n'`, not a lifetime (`'a`).
fn is_char_literal(rest: &str) -> bool {
    let mut chars = rest.chars().skip(1);
    matches!(
        (chars.next(), chars.next()),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// The paths a `use` tree names, braces expanded: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`,
/// `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
        return vec![path.trim_end_matches("::").to_string()];
    };
    let prefix: String = tree[..open]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(|item| {
            expand(item)
                .into_iter()
                .map(|p| match p.as_str() {
                    "self" => prefix.trim_end_matches("::").to_string(),
                    _ => format!("{prefix}{p}"),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every path the code names: `use` trees and paths written inline (`a::b`).
fn paths_named(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    // `use` statements first, each up to its `;`.
    let mut without_uses = String::new();
    while let Some(at) = find_word(rest, "use") {
        without_uses.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        paths.extend(expand(&rest[at + 3..end]));
        rest = &rest[end..];
    }
    without_uses.push_str(rest);
    // Then inline paths.
    let chars: Vec<char> = without_uses.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if starts_word && (chars[i].is_alphabetic() || chars[i] == '_') {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == ':')
            {
                j += 1;
            }
            let path: String = chars[i..j].iter().collect();
            if path.contains("::") {
                paths.push(path.trim_end_matches(':').to_string());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    paths
}

/// Where the word `word` starts in `text` as a whole word.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// The module of this crate a path names from inside `module`, if any: the deepest module its
/// leading segments name. A path may start at the crate (`crate::`), the module (`self::`), its
/// parent (`super::`) or one of its children (`child::`, as Rust 2018 allows).
fn target(
    path: &str,
    module: &str,
    known: &BTreeMap<Module, PathBuf>,
    reexports: &BTreeMap<String, Module>,
) -> Option<Module> {
    let mut segments: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut parts = path.split("::").peekable();
    match parts.next()? {
        "crate" => segments.clear(),
        "self" => {}
        "super" => {
            segments.pop()?;
            while parts.peek() == Some(&"super") {
                parts.next();
                segments.pop()?;
            }
        }
        child => {
            segments.push(child);
            if !known.contains_key(&segments.join("::")) {
                return None;
            }
            segments.pop();
            parts = path.split("::").peekable();
        }
    }
    let mut deepest = segments.join("::");
    for part in parts {
        segments.push(part);
        let candidate = segments.join("::");
        if known.contains_key(&candidate) {
            deepest = candidate;
        } else if let Some(source) = reexports.get(part).filter(|_| deepest.is_empty()) {
            // Through a re-export at the root, then on down from where it leads.
            segments = source.split("::").collect();
            deepest.clone_from(source);
        } else {
            break;
        }
    }
    Some(deepest)
}

/// The names the crate root re-exports (`pub use a::{B, C};`), and the module each comes from; a
/// module re-exported by name is itself.
fn reexports(root: &str, known: &BTreeMap<Module, PathBuf>) -> BTreeMap<String, Module> {
    let mut names = BTreeMap::new();
    for path in paths_named(&code_of(root)) {
        let path = path.trim_start_matches("crate::");
        let Some((module, name)) = path.rsplit_once("::") else {
            continue;
        };
        if known.contains_key(path) {
            // A module re-exported by name (`pub use model::decision;`): the module itself.
            names.insert(name.to_string(), path.to_string());
        } else if known.contains_key(module) {
            names.insert(name.to_string(), module.to_string());
        }
    }
    names
}

/// Each file's imports of other files of its crate.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules(src);
    let root = std::fs::read_to_string(&known[""]).unwrap();
    let reexported = reexports(&root, &known);
    let mut edges = BTreeMap::new();
    for (module, file) in &known {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let imports: BTreeSet<Module> = paths_named(&code)
            .iter()
            .filter_map(|p| target(p, module, &known, &reexported))
            .filter(|t| t != module && !t.is_empty())
            .collect();
        edges.insert(module.clone(), imports);
    }
    edges
}

/// The cycles of the graph: each strongly connected component of more than one module.
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Kosaraju: order by finishing time, then collect components on the reversed graph.
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        seen: &mut BTreeSet<Module>,
        order: &mut Vec<Module>,
    ) {
        if !seen.insert(node.clone()) {
            return;
        }
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, seen, order);
        }
        order.push(node.clone());
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, tos) in edges {
        for to in tos {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for node in order.iter().rev() {
        let mut component = Vec::new();
        visit(node, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            found.push(component);
        }
    }
    found
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let mut report = Vec::new();
    for src in CRATES {
        let edges = graph(&workspace().join(src));
        for cycle in cycles(&edges) {
            let detail: Vec<String> = cycle
                .iter()
                .map(|m| {
                    let inside: Vec<&str> = edges[m]
                        .iter()
                        .filter(|t| cycle.contains(t))
                        .map(String::as_str)
                        .collect();
                    format!("    {m} → {}", inside.join(", "))
                })
                .collect();
            report.push(format!(
                "{src}: {}\n{}",
                cycle.join(" ⇄ "),
                detail.join("\n")
            ));
        }
    }
    assert!(report.is_empty(), "import cycles:\n{}", report.join("\n"));
}

#[test]
fn each_module_imports_only_from_its_own_layer_or_below() {
    let mut report = Vec::new();
    for (src, layers) in LAYERS {
        let rank = |module: &str| {
            let top = module.split("::").next().unwrap_or_default();
            layers.iter().position(|layer| *layer == top)
        };
        for (module, imports) in graph(&workspace().join(src)) {
            if module.is_empty() {
                continue;
            }
            let Some(own) = rank(&module) else {
                report.push(format!("{src}: {module} is in no layer of {layers:?}"));
                continue;
            };
            for import in imports {
                if rank(&import).is_none_or(|theirs| theirs > own) {
                    report.push(format!("{src}: {module} imports {import}, a later layer"));
                }
            }
        }
    }
    assert!(report.is_empty(), "layering:\n{}", report.join("\n"));
}

/// The parameters of every function, as (function, parameter), in code without comments.
fn parameters(code: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "fn") {
        let after = &rest[at + 2..];
        let name: String = after
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = after.find('(') else { break };
        let mut depth = 0;
        let mut close = open;
        for (i, c) in after[open..].char_indices() {
            match c {
                '(' | '<' | '[' => depth += 1,
                ')' | '>' | ']' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                close = open + i;
                break;
            }
        }
        let list = &after[open + 1..close];
        let (mut depth, mut start) = (0, 0);
        let mut items = Vec::new();
        for (i, c) in list.char_indices() {
            match c {
                '(' | '<' | '[' => depth += 1,
                ')' | '>' | ']' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&list[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&list[start..]);
        for item in items {
            if let Some((binding, _)) = item.split_once(':') {
                let binding = binding.trim().trim_start_matches("mut ").trim();
                found.push((name.clone(), binding.to_string()));
            }
        }
        rest = &after[close..];
    }
    found
}

/// Names that explain themselves (ARCHITECTURE.md, "The rules"): a parameter of product code is
/// one letter only when it is unused (`_`), a `Formatter` (`fn fmt`), or the value a `From`
/// converts.
#[test]
fn parameters_are_named_for_what_they_hold() {
    let mut report = Vec::new();
    for src in CRATES {
        for (module, file) in modules(&workspace().join(src)) {
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            for (function, parameter) in parameters(&code) {
                let one_letter = parameter.chars().count() == 1 && parameter != "_";
                if one_letter && !matches!(function.as_str(), "fmt" | "from") {
                    report.push(format!("{src}: {module}::{function}({parameter}: …)"));
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "one-letter parameters:\n{}",
        report.join("\n")
    );
}

/// The checker itself finds what it must: braces, `super`, re-exports, inline paths; and it
/// ignores comments, strings and tests.
#[test]
fn the_checker_reads_imports_as_the_compiler_would() {
    assert_eq!(
        expand("crate::{a::{B, c::D}, e, f as g}"),
        ["crate::a::B", "crate::a::c::D", "crate::e", "crate::f"]
    );
    assert_eq!(expand("super::{self, X}"), ["super", "super::X"]);
    let code = code_of(
        "use crate::a::B; // crate::z\nfn f() { crate::c::d(); let s = \"crate::y\"; }\n\
         #[cfg(test)]\nmod tests { use crate::w; }",
    );
    assert_eq!(paths_named(&code), ["crate::a::B", "crate::c::d"]);
    assert_eq!(
        paths_named("fn f() { std::mem::take(x); }"),
        ["std::mem::take"]
    );
    let known: BTreeMap<Module, PathBuf> = ["", "a", "a::b", "c"]
        .iter()
        .map(|m| (m.to_string(), PathBuf::new()))
        .collect();
    let reexports = BTreeMap::from([("Thing".to_string(), "c".to_string())]);
    let t = |p: &str, m: &str| target(p, m, &known, &reexports);
    assert_eq!(t("crate::a::b::X", "c").as_deref(), Some("a::b"));
    assert_eq!(t("super::b::X", "a::b").as_deref(), Some("a::b"));
    assert_eq!(t("super::X", "a::b").as_deref(), Some("a"));
    assert_eq!(t("crate::Thing", "a").as_deref(), Some("c"));
    let reexports = BTreeMap::from([("b".to_string(), "a::b".to_string())]);
    let t = |p: &str, m: &str| target(p, m, &known, &reexports);
    assert_eq!(t("crate::b::X", "c").as_deref(), Some("a::b"));
    assert_eq!(t("b::X", "a").as_deref(), Some("a::b"));
    assert_eq!(t("std::mem::take", "a"), None);
    let edges: BTreeMap<Module, BTreeSet<Module>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&edges), [["a", "b", "c"]]);
    assert_eq!(
        parameters("fn f(a: u8, mut bc: Vec<(u8, u8)>) {} fn g<T>(x: T) {}"),
        [("f", "a"), ("f", "bc"), ("g", "x")].map(|(f, p)| (f.to_string(), p.to_string()))
    );
}
