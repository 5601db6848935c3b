//! The crate's layers, as the README's architecture table states them. Every
//! source file of `src/` is read as Rust tokens (so comments, strings, spacing
//! and line breaks cannot hide or fake a path) and every path it names is
//! resolved: `crate::…`, `$crate::…` in macros, `super::…` chains (inline
//! `mod` blocks counted), grouped imports, and paths written as strings in
//! attributes (`#[serde(with = "crate::…")]`). It fails when
//! - a top-level module imports from its own row of the table or a row above,
//! - a top-level module is missing from the table,
//! - two files or folders of one folder import each other, directly or round
//!   a longer cycle ("each folder imports only downward"),
//! - a file hides its imports from this reading (`use crate as …`, `#[path]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

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

/// What one file names: absolute module paths (from the crate root), and
/// the ways it hides imports from this reading.
#[derive(Debug, Default)]
struct Findings {
    paths: BTreeSet<Vec<String>>,
    hidden: Vec<String>,
}

fn is_ident(token: Option<&TokenTree>, name: &str) -> bool {
    matches!(token, Some(TokenTree::Ident(i)) if i == name)
}

fn is_punct(token: Option<&TokenTree>, c: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// `::` at `at`.
fn is_path_sep(tokens: &[TokenTree], at: usize) -> bool {
    is_punct(tokens.get(at), ':') && is_punct(tokens.get(at + 1), ':')
}

/// Reads the path that continues at `tokens[at]` (just after a `::`) from
/// `base`, adding every absolute path it reaches; `{…}` groups branch.
fn follow(tokens: &[TokenTree], mut at: usize, mut base: Vec<String>, found: &mut Findings) {
    loop {
        match tokens.get(at) {
            Some(TokenTree::Ident(ident)) => {
                let name = ident.to_string();
                match name.as_str() {
                    "super" => {
                        if base.pop().is_none() {
                            return; // above the crate root: not a path of ours
                        }
                    }
                    "self" => {}
                    _ => base.push(name),
                }
                if is_path_sep(tokens, at + 1) {
                    at += 3;
                    continue;
                }
                if is_ident(tokens.get(at + 1), "as") && base.is_empty() {
                    found
                        .hidden
                        .push("an alias of the crate (`crate as …`)".into());
                }
                break;
            }
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                for entry in inner.split(|t| is_punct(Some(t), ',')) {
                    if !entry.is_empty() {
                        follow(entry, 0, base.clone(), found);
                    }
                }
                return;
            }
            _ => break,
        }
    }
    if !base.is_empty() {
        found.paths.insert(base);
    }
}

/// Every path in `tokens`, read inside module `module`.
fn scan(tokens: &[TokenTree], module: &[String], found: &mut Findings) {
    let mut at = 0;
    while at < tokens.len() {
        let before = at.checked_sub(1).and_then(|b| tokens.get(b));
        match &tokens[at] {
            // `mod name { … }`: the inside is one module deeper.
            TokenTree::Ident(i) if i == "mod" => {
                if let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(body))) =
                    (tokens.get(at + 1), tokens.get(at + 2))
                    && body.delimiter() == Delimiter::Brace
                {
                    let mut inner = module.to_vec();
                    inner.push(name.to_string());
                    let body: Vec<TokenTree> = body.stream().into_iter().collect();
                    scan(&body, &inner, found);
                    at += 3;
                    continue;
                }
            }
            // `crate::…`, and `$crate::…` in a macro (the `$` is just before).
            TokenTree::Ident(i) if i == "crate" => {
                if is_path_sep(tokens, at + 1) {
                    follow(tokens, at + 3, Vec::new(), found);
                } else if is_ident(tokens.get(at + 1), "as") {
                    found
                        .hidden
                        .push("an alias of the crate (`crate as …`)".into());
                }
            }
            // The first `super` of a chain; `a::super` is not one.
            TokenTree::Ident(i) if i == "super" && !is_punct(before, ':') => {
                follow(tokens, at, module.to_vec(), found);
            }
            // `self::…` at the start of a path stays in this module.
            TokenTree::Ident(i)
                if i == "self" && !is_punct(before, ':') && is_path_sep(tokens, at + 1) =>
            {
                follow(tokens, at + 3, module.to_vec(), found);
            }
            TokenTree::Punct(p) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(attr)) = tokens.get(at + 1)
                    && attr.delimiter() == Delimiter::Bracket
                {
                    scan_attribute(attr.stream(), module, found);
                    at += 2;
                    continue;
                }
            }
            TokenTree::Group(group) => {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                scan(&inner, module, found);
            }
            _ => {}
        }
        at += 1;
    }
}

/// An attribute: doc text is prose, not code; `#[path]` moves a module out
/// of its folder; a string may hold a path (`with = "crate::x::codec"`).
fn scan_attribute(attr: TokenStream, module: &[String], found: &mut Findings) {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    match tokens.first() {
        Some(TokenTree::Ident(name)) if name == "doc" => return,
        Some(TokenTree::Ident(name)) if name == "path" => {
            found.hidden.push("a `#[path]` attribute".into());
            return;
        }
        _ => {}
    }
    scan(&tokens, module, found);
    for literal in string_literals(&tokens) {
        if let Ok(stream) = TokenStream::from_str(&literal) {
            let inner: Vec<TokenTree> = stream.into_iter().collect();
            scan(&inner, module, found);
        }
    }
}

/// The contents of the string literals among `tokens`, at any depth.
fn string_literals(tokens: &[TokenTree]) -> Vec<String> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            TokenTree::Literal(literal) => {
                let text = literal.to_string();
                let body = text.trim_start_matches('r').trim_matches('#');
                if let Some(inner) = body.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
                    out.push(inner.to_string());
                }
            }
            TokenTree::Group(group) => {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                out.extend(string_literals(&inner));
            }
            _ => {}
        }
    }
    out
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

/// One source file: its module path and what it names.
struct SourceFile {
    module: Vec<String>,
    findings: Findings,
}

fn read(module: Vec<String>, source: &str) -> Result<SourceFile, String> {
    let stream = TokenStream::from_str(source)
        .map_err(|e| format!("{} does not lex: {e}", module.join("::")))?;
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut findings = Findings::default();
    scan(&tokens, &module, &mut findings);
    Ok(SourceFile { module, findings })
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

fn crate_sources() -> Vec<SourceFile> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap_or(&file).to_path_buf();
            let source = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            read(module_path(&relative), &source).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// The crate root files (`lib.rs`, `main.rs`) sit above every layer;
/// `test_support` is compiled for unit tests alone.
fn exempt(top: &str) -> bool {
    matches!(top, "lib" | "main" | "test_support")
}

/// Imports between top-level modules: `(importer, imported) -> an example file`.
fn top_edges(files: &[SourceFile]) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    for file in files {
        let Some(top) = file.module.first() else {
            continue;
        };
        if matches!(top.as_str(), "lib" | "main") {
            continue;
        }
        for path in &file.findings.paths {
            let imported = &path[0];
            if imported != top && !exempt(imported) {
                edges
                    .entry((top.clone(), imported.clone()))
                    .or_insert_with(|| file.module.join("::"));
            }
        }
    }
    edges
}

/// Imports between the members (files and subfolders) of each folder:
/// folder -> (member, member) -> an example file. Only paths that land on a
/// member module count (an item re-exported by the folder itself does not).
fn folder_edges(files: &[SourceFile]) -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let modules: BTreeSet<&[String]> = files.iter().map(|f| f.module.as_slice()).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in files {
        for path in &file.findings.paths {
            let common = file
                .module
                .iter()
                .zip(path)
                .take_while(|(a, b)| a == b)
                .count();
            // Top-level edges are the layer table's business.
            if common == 0 || common >= file.module.len() || common >= path.len() {
                continue;
            }
            if !modules.contains(&path[..=common]) {
                continue;
            }
            edges
                .entry(file.module[..common].to_vec())
                .or_default()
                .insert((file.module[common].clone(), path[common].clone()));
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

/// A cycle among `edges`, if there is one.
fn cycle<'a>(edges: impl IntoIterator<Item = (&'a String, &'a String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
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
    let starts: Vec<&str> = next.keys().copied().collect();
    for node in starts {
        if let Some(found) = visit(node, &next, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

fn folder_cycles(files: &[SourceFile]) -> Vec<String> {
    folder_edges(files)
        .iter()
        .filter_map(|(folder, edges)| {
            cycle(edges.iter().map(|(a, b)| (a, b)))
                .map(|found| format!("in src/{}: {}", folder.join("/"), found.join(" -> ")))
        })
        .collect()
}

fn hidden(files: &[SourceFile]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| {
            f.findings
                .hidden
                .iter()
                .map(|how| format!("{} hides its imports: {how}", f.module.join("::")))
        })
        .collect()
}

#[test]
fn every_top_level_module_imports_only_from_layers_below_it() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let layers = layer_table(&readme).expect("the README's layer table parses");
    let sources = crate_sources();
    let tops: BTreeSet<&String> = sources
        .iter()
        .filter_map(|f| f.module.first())
        .filter(|top| !exempt(top))
        .collect();
    let unplaced: Vec<&&String> = tops.iter().filter(|t| !layers.contains_key(**t)).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the README's layer table: {unplaced:?}"
    );
    let edges = top_edges(&sources);
    assert!(
        edges.len() > 20,
        "the import reader found only {} edges: it is broken",
        edges.len()
    );
    let mut problems = violations(&layers, &edges);
    problems.extend(hidden(&sources));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        cycle(edges.keys().map(|(a, b)| (a, b))),
        None,
        "top-level modules import in a cycle"
    );
}

#[test]
fn no_two_members_of_a_folder_import_each_other() {
    let sources = crate_sources();
    assert!(
        folder_edges(&sources).len() > 10,
        "the import reader found almost no edges inside folders: it is broken"
    );
    let cycles = folder_cycles(&sources);
    assert!(cycles.is_empty(), "{}", cycles.join("\n"));
}

fn file(path: &str, code: &str) -> SourceFile {
    read(path.split('/').map(str::to_string).collect(), code).expect("lexes")
}

fn table() -> BTreeMap<String, usize> {
    layer_table(
        "<!-- layers: -->\n| layer | modules | what |\n|---|---|---|\n\
         | 2 | `top` | t |\n| 1 | `left`, `right` | l r |\n| 0 | `base` | b |\n",
    )
    .expect("parses")
}

/// Upward, sideways and unplaced imports are caught; comments, doc text and
/// strings outside attributes are not imports.
#[test]
fn the_checker_catches_upward_sideways_and_unplaced_imports() {
    let layers = table();
    assert_eq!(layers.get("right"), Some(&1));
    let clean = vec![
        file("top/a", "use crate::left::x;\nuse crate::{base::y, right};"),
        file(
            "left/b",
            "// crate::top::x\n/// crate::top::y\nfn f() { let s = \"crate::top\"; }",
        ),
        file("base", "fn f() {}"),
    ];
    assert_eq!(
        violations(&layers, &top_edges(&clean)),
        Vec::<String>::new()
    );
    let upward = vec![file("base", "use crate::top::x;")];
    assert_eq!(violations(&layers, &top_edges(&upward)).len(), 1);
    let sideways = vec![file("left/b", "use crate::{base::x, right::y};")];
    let found = violations(&layers, &top_edges(&sideways));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("imports right"), "{found:?}");
    let unknown = vec![file("stray", "use crate::base::x;")];
    assert_eq!(violations(&layers, &top_edges(&unknown)).len(), 1);
}

/// The spellings that fooled a text search: spaces and line breaks around
/// `::`, a nested `super` in a group, `$crate` in a macro, a path inside a
/// macro call, a path in an attribute's string, and `super` chains out of
/// inline modules.
#[test]
fn the_checker_reads_every_spelling_of_a_path() {
    let layers = table();
    let upward = |code: &str| violations(&layers, &top_edges(&[file("base/m", code)])).len();
    assert_eq!(upward("use crate :: top::x;"), 1);
    assert_eq!(upward("use crate::\n    top::x;"), 1);
    assert_eq!(upward("use super::{super::top::x};"), 1);
    assert_eq!(upward("macro_rules! m { () => { $crate::top::x() }; }"), 1);
    assert_eq!(
        upward("fn f() { tracing::info!(\"{}\", crate::top::x()); }"),
        1
    );
    assert_eq!(
        upward("#[derive(Deserialize)] struct S { #[serde(with = \"crate::top::codec\")] a: u8 }"),
        1
    );
    assert_eq!(upward("mod tests { use super::super::super::top::x; }"), 1);
    assert_eq!(upward("mod tests { use super::super::m2; }"), 0);
    assert_eq!(
        upward("use crate::{self as c};"),
        0,
        "no module named `elf`"
    );

    let hiding = |code: &str| hidden(&[file("base/m", code)]).len();
    assert_eq!(hiding("use crate as c;\nfn f() { c::top::x(); }"), 1);
    assert_eq!(hiding("use crate::{self as c};"), 1);
    assert_eq!(hiding("#[path = \"../top/x.rs\"] mod x;"), 1);
    assert_eq!(hiding("use crate::base::x as y;"), 0);
}

#[test]
fn the_checker_finds_cycles_between_and_inside_folders() {
    let cyclic = vec![
        file("left/a", "use crate::right::x;"),
        file("right/b", "use crate::left::y;"),
    ];
    assert!(cycle(top_edges(&cyclic).keys().map(|(a, b)| (a, b))).is_some());

    let members = |code_a: &str, code_b: &str| {
        folder_cycles(&[
            file("left/a", code_a),
            file("left/b", code_b),
            file("left/c", ""),
            file("left", "mod a; mod b; mod c;"),
        ])
    };
    assert_eq!(
        members("use super::b::x;", "use super::c::y;"),
        Vec::<String>::new()
    );
    let found = members("use super::b::x;", "use crate::left::a::y;");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("src/left"), "{found:?}");
    // An item the folder re-exports is not one of its members.
    assert_eq!(
        members("use super::b::x;", "use super::Reexported;"),
        Vec::<String>::new()
    );
}
