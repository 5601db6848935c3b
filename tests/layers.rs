//! The crate's layers, as the README's architecture table states them: every
//! `crate::` path (and every `super::` that climbs out of its module) in
//! `src/` is read, and an import from a top-level module to one in its own
//! row or a row above fails this test, as does any cycle between top-level
//! modules or a module the table does not place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer number, from the README.
fn layer_table(readme: &str) -> Result<BTreeMap<String, usize>, String> {
    let start = readme
        .find("<!-- layers:")
        .ok_or("the README has no `<!-- layers:` table")?;
    let mut layers = BTreeMap::new();
    for line in readme[start..].lines().skip(1) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 {
            break;
        }
        let Ok(layer) = cells[1].parse::<usize>() else {
            continue; // the header and the separator row
        };
        for module in cells[2].split(',') {
            let name = module.trim().trim_matches('`');
            if name.is_empty() {
                return Err(format!("layer {layer} names an empty module: {line}"));
            }
            if layers.insert(name.to_string(), layer).is_some() {
                return Err(format!("{name} is in the table twice"));
            }
        }
    }
    if layers.is_empty() {
        return Err("the layer table has no rows".into());
    }
    Ok(layers)
}

/// Source with comments and the contents of string and char literals blanked,
/// so a path in a doc comment or a message is not taken for an import.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
            out.push(' ');
        } else if let Some(len) = raw_string_len(rest) {
            i += len;
            out.push_str("\"\"");
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            i += (j + 1).min(rest.len());
            out.push_str("\"\"");
        } else if let Some(len) = char_literal_len(rest) {
            i += len;
            out.push_str("' '");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"…"`, `r#"…"#`, `br"…"`: the literal's length.
fn raw_string_len(rest: &str) -> Option<usize> {
    let after_b = rest.strip_prefix('b').unwrap_or(rest);
    let body = after_b.strip_prefix('r')?;
    let hashes = body.len() - body.trim_start_matches('#').len();
    let open = &body[hashes..];
    if !open.starts_with('"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let end = open[1..].find(&close)? + 1 + close.len();
    Some(rest.len() - after_b.len() + 1 + hashes + end)
}

/// `'x'`, `'\n'`, `'\u{1F600}'` (not a lifetime such as `'a`).
fn char_literal_len(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix('\'')?;
    if let Some(escaped) = body.strip_prefix('\\') {
        let close = escaped.find('\'')?;
        return (close <= 10).then_some(close + 3);
    }
    let c = body.chars().next()?;
    body[c.len_utf8()..]
        .starts_with('\'')
        .then_some(c.len_utf8() + 2)
}

/// The module path of a file below `src/`: `src/a/b/c.rs` is `[a, b, c]`,
/// `src/a/mod.rs` is `[a]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_string();
        if last == "mod" {
            parts.pop();
        }
    }
    parts
}

/// The top-level modules a file's code names: `crate::x`, `crate::{x, y::z}`
/// and `super::…` chains that climb to the crate root.
fn imports(code: &str, path: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `opsdeck_crate::`, `$crate::`
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            found.extend(ident(rest));
        }
    }
    // `super` climbs one module per step; from `src/a/b.rs` (module a::b)
    // `super::super::x` is `crate::x`.
    let inline = inline_modules(code);
    for (at, _) in code.match_indices("super::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // counted from the first `super` of a chain
        }
        // `mod tests { … }` inside the file is one module deeper.
        let depth = path.len()
            + inline
                .iter()
                .filter(|(open, close)| *open < at && at < *close)
                .count();
        let mut rest = &code[at..];
        let mut climbs = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = next;
        }
        if climbs >= depth {
            if let Some(group) = rest.strip_prefix('{') {
                found.extend(group_heads(group));
            } else {
                found.extend(ident(rest));
            }
        }
    }
    found
}

/// The byte spans of the inline modules (`mod name { … }`) in the code.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut module_next = false;
    for (at, c) in code.char_indices() {
        match c {
            '{' => {
                open.push(module_next.then_some(at));
                module_next = false;
            }
            '}' => {
                if let Some(Some(start)) = open.pop() {
                    spans.push((start, at));
                }
            }
            ';' => module_next = false,
            'm' if code[at..].starts_with("mod ")
                && !code[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|b| b.is_alphanumeric() || b == '_') =>
            {
                module_next = true;
            }
            _ => {}
        }
    }
    spans
}

/// The first segment of each path in `{a::b, c, d::{e, f}}` (after the `{`).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut expect_head = true;
    let mut i = 0;
    while i < group.len() {
        let rest = &group[i..];
        let c = rest.chars().next().unwrap_or(' ');
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect_head = true,
            c if expect_head && depth == 0 && (c.is_alphabetic() || c == '_') => {
                if let Some(name) = ident(rest) {
                    i += name.len();
                    heads.push(name);
                    expect_head = false;
                    continue;
                }
            }
            _ => {}
        }
        i += c.len_utf8();
    }
    heads
}

fn ident(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files' imports as `(importer, imported) -> an example file`, between
/// top-level modules only. The crate root files (`lib.rs`, `main.rs`) sit
/// above every layer; `test_support` is compiled for unit tests alone.
fn edges(files: &[(Vec<String>, String)]) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    for (path, source) in files {
        let Some(top) = path.first() else { continue };
        if matches!(top.as_str(), "lib" | "main") {
            continue;
        }
        for imported in imports(&code_only(source), path) {
            if &imported != top && imported != "test_support" {
                edges
                    .entry((top.clone(), imported))
                    .or_insert_with(|| path.join("::"));
            }
        }
    }
    edges
}

fn violations(
    layers: &BTreeMap<String, usize>,
    edges: &BTreeMap<(String, String), String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for ((from, to), example) in edges {
        match (layers.get(from), layers.get(to)) {
            (Some(a), Some(b)) if b >= a => problems.push(format!(
                "{from} (layer {a}) imports {to} (layer {b}), e.g. in {example}: \
                 a module may import only from layers below its own"
            )),
            (None, _) => problems.push(format!(
                "{from} is not in the README's layer table; give it a row"
            )),
            (_, None) => problems.push(format!(
                "{to} (imported by {example}) is not in the README's layer table"
            )),
            _ => {}
        }
    }
    problems
}

/// A cycle between top-level modules, if there is one.
fn cycle(edges: &BTreeMap<(String, String), String>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut found: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            found.push(node.to_string());
            return Some(found);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for to in next.get(node).into_iter().flatten() {
            if let Some(found) = visit(to, next, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in next.keys() {
        if let Some(found) = visit(node, &next, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

fn crate_sources() -> Vec<(Vec<String>, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap_or(&file).to_path_buf();
            let source = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            (module_path(&relative), source)
        })
        .collect()
}

#[test]
fn every_top_level_module_imports_only_from_layers_below_it() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let layers = layer_table(&readme).expect("the README's layer table parses");
    let sources = crate_sources();
    let tops: BTreeSet<String> = sources
        .iter()
        .filter_map(|(path, _)| path.first().cloned())
        .filter(|top| !matches!(top.as_str(), "lib" | "main" | "test_support"))
        .collect();
    let unplaced: Vec<&String> = tops.iter().filter(|t| !layers.contains_key(*t)).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the README's layer table: {unplaced:?}"
    );
    let edges = edges(&sources);
    assert!(
        edges.len() > 20,
        "the import reader found only {} edges: it is broken",
        edges.len()
    );
    let problems = violations(&layers, &edges);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(cycle(&edges), None, "top-level modules import in a cycle");
}

/// The reader itself: an upward import, a sideways one, a grouped import, a
/// `super` chain out of the module and a cycle are each caught, while paths in
/// comments and strings are not imports.
#[test]
fn the_checker_catches_upward_sideways_grouped_and_climbing_imports() {
    let table = "<!-- layers: -->\n| layer | modules | what |\n|---|---|---|\n\
                 | 2 | `top` | t |\n| 1 | `left`, `right` | l r |\n| 0 | `base` | b |\n";
    let layers = layer_table(table).expect("parses");
    assert_eq!(layers.get("right"), Some(&1));
    let file = |path: &str, code: &str| {
        (
            path.split('/').map(str::to_string).collect::<Vec<_>>(),
            code.to_string(),
        )
    };
    let clean = vec![
        file("top/a", "use crate::left::x;\nuse crate::{base::y, right};"),
        file(
            "left/b",
            "// crate::top::not_an_import\nlet s = \"crate::top\";",
        ),
        file("base", "fn f() {}"),
    ];
    assert_eq!(violations(&layers, &edges(&clean)), Vec::<String>::new());

    let upward = vec![file("base", "use crate::top::x;")];
    assert_eq!(violations(&layers, &edges(&upward)).len(), 1);
    let sideways = vec![file("left/b", "use crate::{base::x, right::y};")];
    let found = violations(&layers, &edges(&sideways));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("right"), "{found:?}");
    let climbing = vec![file("left/b/c", "use super::super::super::top::x;")];
    assert_eq!(violations(&layers, &edges(&climbing)).len(), 1);
    let inside = vec![file("left/b/c", "use super::super::d;")];
    assert!(edges(&inside).is_empty());
    // Inside `mod tests { … }` one more `super` is needed to leave the file.
    let test_module = vec![file("left/b", "mod tests {\n    use super::super::d;\n}")];
    assert!(edges(&test_module).is_empty());
    let test_module = vec![file(
        "left",
        "mod tests {\n    use super::super::top::y;\n}",
    )];
    let found = violations(&layers, &edges(&test_module));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("imports top"), "{found:?}");

    let cyclic = vec![
        file("left/a", "use crate::right::x;"),
        file("right/b", "use crate::left::y;"),
    ];
    assert!(cycle(&edges(&cyclic)).is_some());
    let unknown = vec![file("stray", "use crate::base::x;")];
    assert_eq!(violations(&layers, &edges(&unknown)).len(), 1);
}
