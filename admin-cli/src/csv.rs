//! A small CSV reader (RFC 4180: commas, double quotes, `""` inside quotes, line breaks inside
//! quotes) that keeps the line number each record starts on, for error messages, and a
//! locator for the lines of a JSON array's items. It must never panic on any input: the
//! proptests below feed it arbitrary text.

use std::collections::BTreeMap;

/// One record of a CSV file: its first line's number (1-based) and its fields by header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    /// A field's trimmed value, `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }
}

/// Splits CSV text into rows of fields, each with the line it starts on.
pub fn rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut row_line = 1;
    let mut quoted = false;
    let mut quote_line = 0;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // PostgreSQL can't store NUL in text, and no spreadsheet writes one: refuse it here, with
        // its line, so both databases give the same answer.
        if c == '\0' {
            return Err(format!(
                "line {line}: the file holds a NUL character (is it a text file?)"
            ));
        }
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                quote_line = line;
                at_field_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                push_row(&mut rows, row_line, std::mem::take(&mut fields));
                line += 1;
                row_line = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(format!("line {quote_line}: a quoted field is never closed"));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        push_row(&mut rows, row_line, fields);
    }
    Ok(rows)
}

fn push_row(rows: &mut Vec<(usize, Vec<String>)>, line: usize, fields: Vec<String>) {
    // Blank lines carry nothing; skipping them keeps a trailing newline harmless.
    if !(fields.len() == 1 && fields[0].trim().is_empty()) {
        rows.push((line, fields));
    }
}

/// Reads a CSV file whose first row names the columns. Every `required` column must be there
/// and no column outside `required` and `optional` may be, so a typo is caught rather than
/// ignored. Each record must have as many fields as the header.
pub fn records(text: &str, required: &[&str], optional: &[&str]) -> Result<Vec<Record>, String> {
    let mut rows = rows(text.trim_start_matches('\u{feff}'))?.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err("the file is empty: it needs a header row".into());
    };
    let header: Vec<String> = header
        .iter()
        .map(|name| name.trim().to_lowercase())
        .collect();
    for name in &header {
        if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
            let mut known: Vec<&str> = required.iter().chain(optional).copied().collect();
            known.sort_unstable();
            return Err(format!(
                "line 1: unknown column `{name}` (the columns are {})",
                known.join(", ")
            ));
        }
    }
    for name in required {
        if !header.iter().any(|column| column == name) {
            return Err(format!("line 1: the column `{name}` is missing"));
        }
    }
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (line, fields) in rows {
        if fields.len() != header.len() {
            problems.push(format!(
                "line {line}: {} fields where the header has {}",
                fields.len(),
                header.len()
            ));
            continue;
        }
        records.push(Record {
            line,
            fields: header.iter().cloned().zip(fields).collect(),
        });
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems.join("\n  "))
    }
}

/// The line (1-based) on which each item of the top-level JSON array in `text` starts, so that
/// errors about an item can name its line. Text that is not an array gives no lines.
pub fn json_item_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expecting_item = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if depth == 1 && expecting_item && c != ']' {
            lines.push(line);
            expecting_item = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 && c == '[' {
                    expecting_item = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting_item = true,
            _ => {}
        }
    }
    lines
}

/// A file refused for its lines' problems, in line order: shown as the store's list ("3
/// problems in the file, nothing was imported: ..."), and under `--json` each problem becomes
/// `{"line", "message"}` of the refusal's `problems`.
#[derive(Debug)]
pub struct BadLines {
    pub problems: Vec<(usize, String)>,
    message: String,
}

impl BadLines {
    pub fn new(mut problems: Vec<(usize, String)>) -> Self {
        // Stable: each line's problems keep the order they were found in.
        problems.sort_by_key(|(line, _)| *line);
        let message = storebot::store::StoreError::bad_lines(problems.clone()).to_string();
        Self { problems, message }
    }
}

impl std::fmt::Display for BadLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BadLines {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quotes_commas_and_line_breaks_inside_fields() {
        let text = "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\r\n\n3,4";
        let rows = rows(text).expect("parses");
        assert_eq!(
            rows,
            vec![
                (1, vec!["a".into(), "b".into()]),
                (2, vec!["x, y".into(), "say \"hi\"".into()]),
                (3, vec!["two\nlines".into(), "z".into()]),
                (6, vec!["3".into(), "4".into()]),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        assert_eq!(
            rows("a\n\"open\nstill").expect_err("unclosed"),
            "line 2: a quoted field is never closed"
        );
    }

    #[test]
    fn headers_are_checked_and_short_rows_named() {
        let error = records("sku,prise\n", &["sku"], &["price"]).expect_err("typo");
        assert_eq!(
            error,
            "line 1: unknown column `prise` (the columns are price, sku)"
        );
        let error = records("price\n1\n", &["sku"], &["price"]).expect_err("missing");
        assert_eq!(error, "line 1: the column `sku` is missing");
        let error = records("sku,price\nA,1\nB\n", &["sku"], &["price"]).expect_err("short");
        assert_eq!(error, "line 3: 1 fields where the header has 2");
    }

    #[test]
    fn json_items_are_located_by_line() {
        let text = "[\n  {\"a\": \"x,]\"},\n\n  {\"b\": [1, 2]}, 3\n]";
        assert_eq!(json_item_lines(text), vec![2, 4, 4]);
        assert!(json_item_lines("[]").is_empty());
    }

    fn quote(field: &str) -> String {
        format!("\"{}\"", field.replace('"', "\"\""))
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(text in "\\PC*") {
            let _ = rows(&text);
            let _ = records(&text, &["sku"], &["price"]);
            let _ = json_item_lines(&text);
        }

        #[test]
        fn written_rows_read_back_the_same(
            table in proptest::collection::vec(
                proptest::collection::vec("[^\r\\x00]{0,12}", 2..4), 1..6)
        ) {
            let width = table[0].len();
            let table: Vec<Vec<String>> = table
                .into_iter()
                .map(|mut row| { row.resize(width, String::new()); row })
                .collect();
            let text: String = table
                .iter()
                .map(|row| row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",") + "\n")
                .collect();
            let read: Vec<Vec<String>> = rows(&text)
                .expect("well-formed")
                .into_iter()
                .map(|(_, fields)| fields)
                .collect();
            prop_assert_eq!(read, table);
        }
    }
}
