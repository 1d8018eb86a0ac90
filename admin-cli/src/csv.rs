//! The admin tool's CSV reading, on the `csv` crate (RFC 4180: commas, double quotes, `""`
//! inside quotes, line breaks inside quotes), keeping the line each record starts on for error
//! messages; and a locator for the lines of a JSON array's items. It must never panic on any
//! input: the proptests below feed it arbitrary text.
//!
//! What the crate leaves to us: the line a record starts on (its `Position` is where the
//! reader stood, before any blank lines or a CRLF's `\n` it skips), an unclosed quote (the
//! crate reads it to the end of the file without complaint), and NUL (PostgreSQL can't store
//! it).

use std::collections::BTreeMap;

use csv::{ReaderBuilder, StringRecord};

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
// The unit tests and the fuzz target (`tests/fuzz`) read rows without a header.
#[cfg_attr(not(test), allow(dead_code))]
pub fn rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows = Vec::new();
    each_row(text, |line, record| {
        rows.push((line, record.iter().map(str::to_owned).collect()));
    })?;
    Ok(rows)
}

/// Calls `row` with each non-blank record of `text` and the line it starts on, in file order;
/// a NUL or an unclosed quote refuses the text, naming its line.
fn each_row(text: &str, mut row: impl FnMut(usize, &StringRecord)) -> Result<(), String> {
    // PostgreSQL can't store NUL in text, and no spreadsheet writes one: refuse it here, with
    // its line, so both databases give the same answer.
    if let Some(at) = text.find('\0') {
        return Err(format!(
            "line {}: the file holds a NUL character (is it a text file?)",
            line_of(text, at)
        ));
    }
    // Flexible: a row with too few or too many fields is the caller's problem to report with
    // its line, among the others, rather than an error that stops the reading.
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = StringRecord::new();
    let mut last_start = None;
    loop {
        let read = reader.read_record(&mut record);
        let (line, start) = start_of(text, &record);
        match read {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(format!("line {line}: {error}")),
        }
        last_start = Some((line, start));
        // Blank lines carry nothing; skipping them keeps a trailing newline harmless.
        if !(record.len() == 1 && record[0].trim().is_empty()) {
            row(line, &record);
        }
    }
    // An unclosed quote runs to the end of the file, so only the last record can hold one.
    if let Some((line, start)) = last_start
        && let Some(newlines) = unclosed_quote(text.get(start..).unwrap_or_default())
    {
        return Err(format!(
            "line {}: a quoted field is never closed",
            line + newlines
        ));
    }
    Ok(())
}

/// The line (1-based) of byte `at` of `text`.
fn line_of(text: &str, at: usize) -> usize {
    let before = text.get(..at).unwrap_or(text);
    1 + before.bytes().filter(|byte| *byte == b'\n').count()
}

/// The line and byte on which `record` starts. The reader records where it stood before
/// reading it, which is before the blank lines (and the `\n` of a CRLF) it skipped on the way:
/// those are counted here.
fn start_of(text: &str, record: &StringRecord) -> (usize, usize) {
    let (line, byte) = record.position().map_or((1, 0), |position| {
        (
            usize::try_from(position.line()).unwrap_or(usize::MAX),
            usize::try_from(position.byte()).unwrap_or(usize::MAX),
        )
    });
    let skipped = text
        .get(byte..)
        .unwrap_or_default()
        .bytes()
        .take_while(|byte| matches!(byte, b'\r' | b'\n'));
    let (mut line, mut byte) = (line, byte);
    for terminator in skipped {
        line = line.saturating_add(usize::from(terminator == b'\n'));
        byte = byte.saturating_add(1);
    }
    (line, byte)
}

/// For the text of a file's last record: how many lines below its start a quoted field opens
/// that is never closed, or `None` when every quote is closed. Quotes count as the crate
/// counts them: one opens a field only at the field's start, and `""` inside is a quote.
fn unclosed_quote(record: &str) -> Option<usize> {
    let mut newlines = 0;
    let mut opened_on = None;
    let mut at_field_start = true;
    let mut bytes = record.bytes().peekable();
    while let Some(byte) = bytes.next() {
        if opened_on.is_some() {
            match byte {
                b'"' if bytes.peek() == Some(&b'"') => {
                    bytes.next();
                }
                b'"' => {
                    opened_on = None;
                    at_field_start = false;
                }
                b'\n' => newlines += 1,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' if at_field_start => opened_on = Some(newlines),
            b',' | b'\r' => at_field_start = true,
            b'\n' => {
                newlines += 1;
                at_field_start = true;
            }
            _ => at_field_start = false,
        }
    }
    opened_on
}

/// Reads a CSV file whose first row names the columns. Every `required` column must be there
/// and no column outside `required` and `optional` may be, so a typo is caught rather than
/// ignored. Each record must have as many fields as the header: every one that hasn't is named
/// with its line, all in one pass. A byte-order mark at the start is ignored.
pub fn records(text: &str, required: &[&str], optional: &[&str]) -> Result<Vec<Record>, String> {
    let mut header: Option<(usize, Vec<String>)> = None;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    each_row(text.trim_start_matches('\u{feff}'), |line, fields| {
        let Some((_, header)) = &header else {
            let names = fields.iter().map(|name| name.trim().to_lowercase());
            header = Some((line, names.collect()));
            return;
        };
        if fields.len() != header.len() {
            problems.push(format!(
                "line {line}: {} fields where the header has {}",
                fields.len(),
                header.len()
            ));
            return;
        }
        records.push(Record {
            line,
            fields: header
                .iter()
                .cloned()
                .zip(fields.iter().map(str::to_owned))
                .collect(),
        });
    })?;
    let Some((header_line, header)) = header else {
        return Err("the file is empty: it needs a header row".into());
    };
    for name in &header {
        if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
            let mut known: Vec<&str> = required.iter().chain(optional).copied().collect();
            known.sort_unstable();
            return Err(format!(
                "line {header_line}: unknown column `{name}` (the columns are {})",
                known.join(", ")
            ));
        }
    }
    for name in required {
        if !header.iter().any(|column| column == name) {
            return Err(format!(
                "line {header_line}: the column `{name}` is missing"
            ));
        }
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
    fn lines_are_counted_across_crlf_and_blank_lines() {
        let read = rows("a,b\r\n1,2\r\n\r\n\n  \n3,\"x\r\ny\"\r\n4,5").expect("parses");
        let lines: Vec<usize> = read.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![1, 2, 6, 8]);
        assert_eq!(read[2].1, vec!["3".to_owned(), "x\r\ny".to_owned()]);
    }

    #[test]
    fn every_wrong_row_is_named_in_one_pass() {
        let error = records("\nsku,price\nA\nB,1,2\nC,3\n", &["sku"], &["price"])
            .expect_err("wrong widths");
        assert_eq!(
            error,
            "line 3: 1 fields where the header has 2\n  line 4: 3 fields where the header has 2"
        );
        let error = records("\n\nsku,prise\n", &["sku"], &["price"]).expect_err("typo");
        assert!(
            error.starts_with("line 3: unknown column `prise`"),
            "{error}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let read = records("\u{feff}sku,price\nA,1\n", &["sku"], &["price"]).expect("reads");
        assert_eq!(read.len(), 1);
        assert_eq!((read[0].line, read[0].get("sku")), (2, Some("A")));
    }

    #[test]
    fn a_nul_is_refused_with_its_line() {
        assert_eq!(
            rows("a,b\n\"x\ny\",\0").expect_err("NUL"),
            "line 3: the file holds a NUL character (is it a text file?)"
        );
    }

    #[test]
    fn an_unclosed_quote_after_other_fields_names_its_line() {
        assert_eq!(
            rows("a,b\n1,2\n3,\"x\"\"\n\nmore").expect_err("unclosed"),
            "line 3: a quoted field is never closed"
        );
        assert_eq!(
            rows("a,b\n1,\"two\nlines\"\n3,\"x\ny").expect_err("unclosed"),
            "line 4: a quoted field is never closed"
        );
        // A quote inside an unquoted field is an inch sign, not an opening.
        let read = rows("size,name\n5\" screen,tv\n").expect("parses");
        assert_eq!(read[1].1, vec!["5\" screen".to_owned(), "tv".to_owned()]);
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
        fn every_row_starts_on_a_line_of_the_text(text in "[a,\"\r\n ]{0,40}") {
            let lines = text.split('\n').count();
            if let Ok(rows) = rows(&text) {
                for (line, _) in rows {
                    prop_assert!(line >= 1 && line <= lines, "line {} of {}", line, lines);
                }
            }
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
