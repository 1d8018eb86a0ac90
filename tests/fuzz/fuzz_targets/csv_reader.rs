//! The admin tool's CSV reader (catalog, order history and member imports all go through it):
//! any text must split into rows or be refused with a reason, never panic, and every row must
//! start on a line that exists in the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

// `storebot-admin` is a binary crate; its CSV module depends only on `csv` and `storebot`, so
// the fuzz target compiles that very file rather than a copy of it.
#[path = "../../../admin-cli/src/csv.rs"]
#[allow(dead_code)]
mod csv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    if let Ok(rows) = csv::rows(text) {
        for (line, _) in &rows {
            assert!(*line >= 1 && *line <= lines, "line {line} of {lines}");
        }
    }
    let _ = csv::records(text, &["sku", "price"], &["name"]);
    let _ = csv::json_item_lines(text);
});
