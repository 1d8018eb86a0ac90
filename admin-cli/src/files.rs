//! Reading the merchant's files (CSV imports, member lists, rule files, the `apply`
//! document): every one is read through [`read_text`], which refuses a NUL character with the
//! line it is on. PostgreSQL can't store NUL in text while SQLite can, so a NUL let through
//! would be refused by one database and kept by the other; no spreadsheet or editor writes one
//! in a text file. JSON and TOML can also spell it as an escape (`\u0000`, TOML's
//! `\U00000000` and `\x00`), which decodes to the same character: refused too, in any file
//! (in a CSV cell that text would be harmless, but no merchant means it).

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};

/// The text of the file at `path`, or one sentence naming the file and the line of a NUL.
pub fn read_text(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("can't read {}", path.display()))?;
    match nul_line(&text) {
        Some(line) => Err(anyhow!(
            "{}: line {line}: the file holds a NUL character (is it a text file?); nothing was \
             changed",
            path.display()
        )),
        None => Ok(text),
    }
}

/// The line (1-based) of the first NUL in `text`, raw or written as an escape.
fn nul_line(text: &str) -> Option<usize> {
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\0' => return Some(line),
            '\n' => line += 1,
            '\\' => {
                let Some(&escaped) = chars.peek() else {
                    continue;
                };
                chars.next();
                let zeros = match escaped {
                    'u' => 4,
                    'U' => 8,
                    'x' => 2,
                    // `\\` and every other escape: nothing more to look at.
                    '\n' => {
                        line += 1;
                        continue;
                    }
                    _ => continue,
                };
                let digits: String = chars.clone().take(zeros).collect();
                if digits.len() == zeros && digits.chars().all(|digit| digit == '0') {
                    return Some(line);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::nul_line;

    #[test]
    fn a_nul_is_found_raw_or_escaped_with_its_line() {
        assert_eq!(nul_line("a\nb\nc\0"), Some(3));
        assert_eq!(nul_line("{\n\"name\": \"Te\\u0000a\"\n}"), Some(2));
        assert_eq!(nul_line("name = \"\\U00000000\""), Some(1));
        assert_eq!(nul_line("name = \"\\x00\""), Some(1));
    }

    #[test]
    fn other_escapes_and_an_escaped_backslash_are_not_a_nul() {
        assert_eq!(nul_line("\"\\u0041 \\n \\\\u0000\""), None);
        assert_eq!(nul_line("plain text, 100% tea\n"), None);
        assert_eq!(nul_line("ends with a backslash \\"), None);
    }
}
