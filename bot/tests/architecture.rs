//! The map in ARCHITECTURE.md, kept true by reading the source tree (in the manner of
//! rust-analyzer's `tidy` tests): each invariant is a test that names the file and line that
//! breaks it.
//!
//! Test code (`tests.rs` files, files under a `tests/` folder, and everything from a file's
//! `#[cfg(test)]` on) is left out: tests may inspect the database directly to check what was
//! written. Comments are left out too, so a doc line may still name what the code must not.

// A test that can't read its own source tree should stop loudly.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Files that may name sea-orm although they sit outside `store`, each with its reason.
const SEA_ORM_OUTSIDE_STORE: &[(&str, &str)] = &[(
    "bot/src/segments/compile.rs",
    "a rule becomes one sea-query statement as a value, naming the entity columns it \
     compares; it is never executed there (store runs it), so the module stays pure",
)];

/// The pure modules: no clock, no I/O, no database.
const PURE: &[&str] = &[
    "bot/src/segments/",
    "bot/src/catalog.rs",
    "bot/src/coupons.rs",
    "bot/src/money.rs",
    "bot/src/product_rule.rs",
    "bot/src/limits.rs",
    "bot/src/typed_text.rs",
];

/// What a pure module must not call or name.
const IMPURE: &[&str] = &[
    "Utc::now",
    "Local::now",
    "SystemTime",
    "Instant::now",
    "std::fs",
    "std::net",
    "std::io",
    "std::env",
    "tokio::",
    "crate::store",
    "DatabaseConnection",
    "ConnectionTrait",
];

struct Source {
    /// Relative to the workspace root, with `/` separators.
    path: String,
    /// The file's lines, with comments and test code blanked (numbering kept).
    code: Vec<String>,
    /// The first line as written.
    first_line: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bot crate sits in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("a source folder")
        .map(|entry| entry.expect("a folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

fn is_test_file(path: &str) -> bool {
    path.ends_with("/tests.rs") || path.contains("/tests/") || path.ends_with("/proptests.rs")
}

fn sources(crate_dir: &str) -> Vec<Source> {
    let root = workspace();
    let mut files = Vec::new();
    rust_files(&root.join(crate_dir).join("src"), &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = fs::read_to_string(&file).expect("a readable source file");
            let path = file
                .strip_prefix(&root)
                .expect("under the workspace")
                .to_string_lossy()
                .replace('\\', "/");
            let mut in_tests = is_test_file(&path);
            let code = text
                .lines()
                .map(|line| {
                    if line.trim_start().starts_with("#[cfg(test)]") {
                        in_tests = true;
                    }
                    let trimmed = line.trim_start();
                    if in_tests || trimmed.starts_with("//") {
                        String::new()
                    } else {
                        line.to_owned()
                    }
                })
                .collect();
            Source {
                path,
                code,
                first_line: text.lines().next().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// Every line of `sources` (outside the exempt files) that names one of `words`.
fn lines_naming(sources: &[Source], applies: impl Fn(&str) -> bool, words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources.iter().filter(|source| applies(&source.path)) {
        for (index, line) in source.code.iter().enumerate() {
            for word in words {
                if line.contains(word) {
                    found.push(format!("{}:{}: names `{word}`", source.path, index + 1));
                }
            }
        }
    }
    found
}

fn assert_none(what: &str, found: Vec<String>) {
    assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
}

#[test]
fn only_store_names_sea_orm_or_the_entities() {
    let exempt: BTreeSet<&str> = SEA_ORM_OUTSIDE_STORE
        .iter()
        .map(|(path, _)| *path)
        .collect();
    let found = lines_naming(
        &sources("bot"),
        |path| !path.starts_with("bot/src/store/") && !exempt.contains(path),
        &["sea_orm", "storebot_entity"],
    );
    assert_none(
        "only `store` may name sea-orm or the entities (callers use its re-exports)",
        found,
    );
}

#[test]
fn only_telegram_names_teloxide() {
    let mut all = sources("bot");
    all.extend(sources("admin-cli"));
    let found = lines_naming(
        &all,
        |path| !path.starts_with("bot/src/telegram/"),
        &["teloxide"],
    );
    assert_none("only `telegram` may name teloxide", found);
}

#[test]
fn pure_modules_call_no_clock_and_no_io() {
    let found = lines_naming(
        &sources("bot"),
        |path| PURE.iter().any(|pure| path.starts_with(pure)),
        IMPURE,
    );
    assert_none("the pure modules read no clock and do no I/O", found);
}

#[test]
fn the_admin_tool_reaches_the_database_only_through_store() {
    let found = lines_naming(
        &sources("admin-cli"),
        |_| true,
        &["sea_orm", "storebot_entity", "sqlx", "storebot_migration"],
    );
    assert_none(
        "`storebot-admin` reaches the database only through `storebot::store`",
        found,
    );
    let manifest = fs::read_to_string(workspace().join("admin-cli/Cargo.toml"))
        .expect("the admin tool's manifest");
    for crate_name in ["sea-orm", "storebot-entity", "sqlx"] {
        assert!(
            !manifest
                .lines()
                .any(|line| line.trim_start().starts_with(crate_name)),
            "admin-cli/Cargo.toml depends on {crate_name}"
        );
    }
}

#[test]
fn every_module_opens_with_its_doc_paragraph() {
    let mut all = sources("bot");
    all.extend(sources("admin-cli"));
    let missing: Vec<String> = all
        .iter()
        .filter(|source| !source.first_line.starts_with("//!"))
        .map(|source| format!("{}:1: no `//!` paragraph", source.path))
        .collect();
    assert_none("every module opens with `//!`", missing);
}

/// A module path (`["store", "orders", "cart"]`) for each file of `bot/src`.
fn module_files(sources: &[Source]) -> BTreeMap<Vec<String>, String> {
    sources
        .iter()
        .filter(|source| !is_test_file(&source.path) && source.path != "bot/src/main.rs")
        .map(|source| {
            let relative = source
                .path
                .trim_start_matches("bot/src/")
                .trim_end_matches(".rs");
            let mut module: Vec<String> = relative.split('/').map(str::to_owned).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            (module, source.path.clone())
        })
        .collect()
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}}`) into its paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree
        .replace(" as ", "#as#")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        if let Some(open) = tree.find('{') {
            let head: Vec<String> = tree[..open]
                .split("::")
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect();
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            let mut parts = Vec::new();
            for (index, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&inner[start..index]);
                        start = index + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&inner[start..]);
            let base: Vec<String> = prefix.iter().cloned().chain(head).collect();
            for part in parts.into_iter().filter(|part| !part.is_empty()) {
                expand(&base, part, out);
            }
        } else {
            let path = tree.split("#as#").next().unwrap_or(tree);
            let mut full: Vec<String> = prefix.to_vec();
            for part in path.split("::").filter(|part| !part.is_empty()) {
                // `a::{self}` is `a` itself; a leading `self` stays, as a start.
                if part != "self" || full.is_empty() {
                    full.push(part.to_owned());
                }
            }
            out.push(full);
        }
    }
    let mut out = Vec::new();
    expand(&[], &tree, &mut out);
    out
}

/// The `use` statements of a file's code, joined across lines, with their first line number.
fn use_statements(code: &[String]) -> Vec<(usize, bool, String)> {
    let mut statements = Vec::new();
    let mut current: Option<(usize, bool, String)> = None;
    for (index, line) in code.iter().enumerate() {
        let trimmed = line.trim();
        if current.is_none() {
            let public = trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ");
            if let Some(rest) = trimmed
                .strip_prefix("use ")
                .or_else(|| trimmed.strip_prefix("pub use "))
                .or_else(|| trimmed.strip_prefix("pub(crate) use "))
            {
                current = Some((index + 1, public, rest.to_owned()));
            }
        } else if let Some((_, _, text)) = current.as_mut() {
            text.push(' ');
            text.push_str(trimmed);
        }
        if let Some((line, public, text)) = current.take() {
            if let Some(end) = text.find(';') {
                statements.push((line, public, text[..end].to_owned()));
            } else {
                current = Some((line, public, text));
            }
        }
    }
    statements
}

/// Paths written in code with a `crate::`, `super::` or `self::` start.
fn inline_paths(line: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = line[from..].find(start) {
            let at = from + found;
            from = at + start.len();
            let before = line[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = line[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(
                path.split("::")
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    paths
}

struct Graph {
    files: BTreeMap<Vec<String>, String>,
    /// Per file, the names it re-exports (`pub use`) and the absolute path each comes from.
    /// `None` for a name re-exported from another crate.
    reexports: BTreeMap<String, BTreeMap<String, Option<Vec<String>>>>,
}

impl Graph {
    /// The absolute module path a path written in `module` starts from.
    fn absolute(&self, module: &[String], path: &[String]) -> Option<Vec<String>> {
        let mut base: Vec<String> = match path.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("self") => module.to_vec(),
            Some("super") => {
                let mut base = module.to_vec();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            Some(first) => {
                // A relative path: only a child module of this one counts.
                let mut child = module.to_vec();
                child.push(first.to_owned());
                if !self.files.contains_key(&child) {
                    return None;
                }
                module.to_vec()
            }
            None => return None,
        };
        let skip = usize::from(matches!(
            path.first().map(String::as_str),
            Some("crate" | "self")
        ));
        base.extend(path.iter().skip(skip).cloned());
        Some(base)
    }

    /// The file an absolute path leads to: the deepest module file on it, seen through that
    /// module's re-exports.
    fn target(&self, absolute: &[String], depth: usize) -> Option<String> {
        let mut deepest = None;
        for length in (0..=absolute.len()).rev() {
            if let Some(file) = self.files.get(&absolute[..length]) {
                deepest = Some((length, file.clone()));
                break;
            }
        }
        let (length, file) = deepest?;
        if let Some(name) = absolute.get(length)
            && depth < 8
            && let Some(origin) = self.reexports.get(&file).and_then(|map| map.get(name))
        {
            let mut through = origin.clone()?;
            through.extend(absolute[length + 1..].iter().cloned());
            return self.target(&through, depth + 1);
        }
        Some(file)
    }
}

#[test]
fn no_import_cycle_between_the_files_of_the_library() {
    let sources = sources("bot");
    let files = module_files(&sources);
    let module_of: BTreeMap<&str, &Vec<String>> = files
        .iter()
        .map(|(module, path)| (path.as_str(), module))
        .collect();
    let mut graph = Graph {
        files: files.clone(),
        reexports: BTreeMap::new(),
    };
    // Re-exports first, so that a path through a re-export leads to the file that defines it.
    for source in &sources {
        let Some(module) = module_of.get(source.path.as_str()) else {
            continue;
        };
        for (_, public, tree) in use_statements(&source.code) {
            if !public {
                continue;
            }
            for path in expand_use(&tree) {
                if let Some(name) = path.last() {
                    let absolute = graph.absolute(module, &path);
                    graph
                        .reexports
                        .entry(source.path.clone())
                        .or_default()
                        .insert(name.clone(), absolute);
                }
            }
        }
    }
    // Edges: file → file, with the line that makes each.
    let mut edges: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for source in &sources {
        let Some(module) = module_of.get(source.path.as_str()) else {
            continue;
        };
        let mut written: Vec<(usize, Vec<String>)> = Vec::new();
        for (line, _, tree) in use_statements(&source.code) {
            written.extend(expand_use(&tree).into_iter().map(|path| (line, path)));
        }
        for (index, line) in source.code.iter().enumerate() {
            if !line.trim_start().starts_with("use ") && !line.contains(" use ") {
                written.extend(inline_paths(line).into_iter().map(|path| (index + 1, path)));
            }
        }
        for (line, path) in written {
            let Some(absolute) = graph.absolute(module, &path) else {
                continue;
            };
            if let Some(target) = graph.target(&absolute, 0)
                && target != source.path
            {
                edges
                    .entry(source.path.clone())
                    .or_default()
                    .entry(target)
                    .or_insert(line);
            }
        }
    }
    let cycles = find_cycles(&edges);
    assert!(
        cycles.is_empty(),
        "import cycles between files of bot/src (each step: file:line → the file it imports):\n{}",
        cycles.join("\n")
    );
}

/// One cycle per strongly connected group of more than one file, written step by step.
fn find_cycles(edges: &BTreeMap<String, BTreeMap<String, usize>>) -> Vec<String> {
    let mut reported = BTreeSet::new();
    let mut cycles = Vec::new();
    for start in edges.keys() {
        if reported.contains(start) {
            continue;
        }
        // Breadth-first search from `start` back to itself, for the shortest cycle.
        let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closed = None;
        while let Some(file) = queue.pop_front() {
            for next in edges.get(file).into_iter().flat_map(BTreeMap::keys) {
                if next == start {
                    closed = Some(file);
                    break;
                }
                if !previous.contains_key(next) {
                    previous.insert(next, file);
                    queue.push_back(next);
                }
            }
            if closed.is_some() {
                break;
            }
        }
        let Some(mut last) = closed else {
            continue;
        };
        let mut chain = vec![last];
        while last != start {
            last = previous[last];
            chain.push(last);
        }
        chain.reverse();
        let steps: Vec<String> = chain
            .iter()
            .enumerate()
            .map(|(index, file)| {
                let next = chain.get(index + 1).copied().unwrap_or(start);
                format!("  {file}:{} → {next}", edges[*file][next])
            })
            .collect();
        reported.extend(chain.iter().map(|file| (*file).clone()));
        cycles.push(steps.join("\n"));
    }
    cycles
}
