//! Tables for human output, laid out by `comfy-table` to fit the terminal: the width is
//! `COLUMNS` when set, else the terminal's, else 80 (a pipe or a file). Each row stays one line
//! (so `grep` finds a row whole): a cell too wide for its share is cut at a word or character
//! boundary with "…", never inside a character; a header is cut only when the table can't fit
//! with whole headers, never below its column's widest cell; an amount that starts a cell (`−2.00 EUR
//! (WELCOME10)`) is kept whole and only its note is cut. Columns of amounts and counts are
//! right-aligned, so money lines up on its decimals; nothing here decides what goes in a table.

use std::io::IsTerminal;

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Row, TableStyle, Width};
use comfy_table::{ContentLineStyle, LineStyle};

/// The width when there is no terminal to ask and `COLUMNS` is not set.
const DEFAULT_WIDTH: u16 = 80;

/// A column whose cells are all at most this wide is never cut (a date with its time, an
/// amount with its currency); only longer texts are.
const SHORT: usize = 16;

/// How much of a header survives when the table is too wide for whole headers.
const HEADER_KEPT: usize = 4;

/// Columns separated by two spaces, a dashed rule under the header, no borders: what a
/// merchant can paste into a message or read in a log.
const STYLE: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction(' '))
    .header_separator(LineStyle::none().fill('-').junction(' '))
    .content_lines(ContentLineStyle::none().junction(' '));

/// Rows of cells under a header.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: header.iter().map(|cell| (*cell).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text at most `width` characters wide: header, a rule under it, the rows;
    /// or a single line when empty.
    pub fn render_width(&self, empty: &str, width: u16) -> String {
        if self.rows.is_empty() {
            return format!("{empty}\n");
        }
        let columns = self.header.len();
        let mut table = comfy_table::Table::new();
        table
            .load_style(STYLE)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width)
            .set_truncation_indicator("…");
        // A header gives way only when the table can't fit otherwise, and then is cut, not
        // wrapped: its column keeps at least the width of its widest cell (see below).
        let mut header = Row::from(self.header.clone());
        header.max_height(1);
        table.set_header(header);
        for cells in &self.rows {
            let mut cells: Vec<String> = cells.iter().take(columns).cloned().collect();
            cells.resize(columns, String::new());
            let mut row = Row::from(cells);
            row.max_height(1);
            table.add_row(row);
        }
        for index in 0..columns {
            let cells = || self.rows.iter().filter_map(|row| row.get(index));
            let numeric = cells().all(|cell| is_blank(cell) || looks_like_amount(cell))
                && cells().any(|cell| !is_blank(cell));
            if let Some(column) = table.column_mut(index) {
                // One space on the right, and the junction's space: two between columns.
                column.set_padding((0, 1));
                // A column of short values (ids, dates, amounts, SKUs, statuses) is never cut:
                // the long texts give way first. Its header keeps at least four characters
                // ("cus…"), and all of itself when the table fits.
                let widest = cells().map(|cell| cell.chars().count()).max().unwrap_or(0);
                // A cell that starts with an amount keeps the amount whole.
                let amounts = cells()
                    .filter_map(|cell| amount_width(cell))
                    .max()
                    .unwrap_or(0);
                let header = self.header[index].chars().count().min(HEADER_KEPT);
                let keep = header.max(if widest <= SHORT { widest } else { amounts });
                column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(
                    u16::try_from(keep + 1).unwrap_or(u16::MAX),
                )));
                if numeric {
                    column.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
        let mut out = String::new();
        for line in table.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The table fitted to the terminal (see the module's note).
    pub fn render(&self, empty: &str) -> String {
        self.render_width(empty, width())
    }

    pub fn print(&self, empty: &str) {
        print!("{}", self.render(empty));
    }
}

/// The page's size when the merchant gives neither `--limit` nor `--all`.
pub const PAGE: u64 = 50;

/// `--limit N` / `--all` as the number of rows to show: `None` for every one.
pub fn page(limit: Option<u64>, all: bool) -> Option<u64> {
    if all {
        None
    } else {
        Some(limit.unwrap_or(PAGE))
    }
}

/// After a first page: how many more there are and how to see them; nothing when none are left.
pub fn print_more(shown: usize, total: usize, things: &str) {
    if let Some(line) = more_line(shown, total, things) {
        println!("{line}");
    }
}

fn more_line(shown: usize, total: usize, things: &str) -> Option<String> {
    (total > shown).then(|| {
        format!(
            "… and {} more {things} ({shown} of {total} shown): --limit N for more, --all for every one.",
            total - shown
        )
    })
}

/// `COLUMNS` when it is a positive number, else the terminal's width, else 80.
pub fn width() -> u16 {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .filter(|columns| *columns > 0)
    {
        return columns;
    }
    if std::io::stdout().is_terminal()
        && let Some(width) = comfy_table::Table::new().width()
    {
        return width;
    }
    DEFAULT_WIDTH
}

/// How wide a cell must stay for the amount it starts with to be whole: 9 for `−2.00 EUR`, 10
/// for `−2.00 EUR (WELCOME10)` (the amount, and the "…" that stands for its cut note); `None`
/// when it starts with no amount.
fn amount_width(cell: &str) -> Option<usize> {
    let words: Vec<&str> = cell.split(' ').collect();
    (1..=words.len().min(2))
        .rev()
        .map(|count| words[..count].join(" "))
        .find(|prefix| looks_like_amount(prefix))
        .map(|amount| {
            let width = amount.chars().count();
            if width < cell.chars().count() {
                width + 1
            } else {
                width
            }
        })
}

fn is_blank(cell: &str) -> bool {
    matches!(cell.trim(), "" | "-" | "–" | "—")
}

/// `12`, `-3`, `4.50`, `1,234.50 EUR`, `−2.00 EUR`: a count or an amount with its currency.
fn looks_like_amount(cell: &str) -> bool {
    let cell = cell.trim();
    let cell = cell
        .strip_prefix(['-', '−', '+'])
        .unwrap_or(cell)
        .trim_start();
    let (number, currency) = match cell.split_once(' ') {
        Some((number, currency)) => (number, Some(currency)),
        None => (cell, None),
    };
    let number_ok = number.starts_with(|c: char| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    let currency_ok =
        currency.is_none_or(|code| code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()));
    number_ok && currency_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_characters() {
        let mut table = Table::new(["id", "name"]);
        table.row(vec!["1".into(), "Zoë".into()]);
        table.row(vec!["12".into(), "Bo".into()]);
        assert_eq!(
            table.render_width("none", 80),
            "id  name\n--- -----\n 1  Zoë\n12  Bo\n"
        );
    }

    #[test]
    fn money_is_right_aligned_with_its_currency() {
        let mut table = Table::new(["sku", "price"]);
        table.row(vec!["A".into(), "4.50 EUR".into()]);
        table.row(vec!["B".into(), "1,234.00 EUR".into()]);
        table.row(vec!["C".into(), "–".into()]);
        let text = table.render_width("none", 80);
        assert!(text.contains("A        4.50 EUR\n"), "{text}");
        assert!(text.contains("B    1,234.00 EUR\n"), "{text}");
    }

    #[test]
    fn a_wide_table_is_cut_to_the_width_with_an_ellipsis_and_never_mid_character() {
        let mut table = Table::new(["id", "rule"]);
        let long = "answer \"Was trinkst du?\" is \"Käffchen\" and ".repeat(6);
        table.row(vec!["1".into(), long.clone()]);
        table.row(vec!["2".into(), "ÄÖÜ".repeat(40)]);
        for width in [20_u16, 40, 80] {
            let text = table.render_width("none", width);
            for line in text.lines() {
                assert!(
                    line.chars().count() <= usize::from(width),
                    "{width}: {line:?} is {} wide",
                    line.chars().count()
                );
            }
            assert_eq!(text.lines().count(), 4, "one line a row: {text}");
            assert!(
                text.lines().nth(2).is_some_and(|line| line.ends_with('…')),
                "{text}"
            );
        }
    }

    #[test]
    fn headers_give_way_only_when_the_table_cannot_fit_otherwise() {
        // Eight short columns whose whole headers need 83 characters (the order list's).
        let mut table = Table::new([
            "order", "customer", "placed", "status", "items", "discount", "total", "payment",
        ]);
        table.row(
            [
                "49728",
                "#4973",
                "2025-12-28 10:00",
                "delivered",
                "2×SKU-016226, 3×SKU-004145",
                "–",
                "85.50 EUR",
                "–",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
        let narrow = table.render_width("none", 80);
        assert!(
            narrow.lines().all(|line| line.chars().count() <= 80),
            "{narrow}"
        );
        let row = narrow.lines().nth(2).expect("row");
        for whole in [
            "49728",
            "#4973",
            "2025-12-28 10:00",
            "delivered",
            "85.50 EUR",
        ] {
            assert!(row.contains(whole), "{narrow}");
        }
        assert_eq!(
            narrow.lines().count(),
            3,
            "the header stays one line: {narrow}"
        );
        let wide = table.render_width("none", 120);
        assert!(
            wide.starts_with("order  customer  placed"),
            "whole headers when they fit: {wide}"
        );
    }

    #[test]
    fn an_amount_before_a_note_is_kept_whole_and_the_note_cut() {
        let mut table = Table::new(["order", "title", "discount"]);
        table.row(vec![
            "1".into(),
            "Green tea, the large tin with the bamboo lid".into(),
            "−0.90 EUR (WELCOME10, FRIENDS)".into(),
        ]);
        let narrow = table.render_width("none", 30);
        assert!(narrow.contains("−0.90 EUR…"), "{narrow}");
        let wide = table.render_width("none", 200);
        assert!(wide.contains("−0.90 EUR (WELCOME10, FRIENDS)"), "{wide}");
        assert_eq!(amount_width("−2.00 EUR (WELCOME10)"), Some(10));
        assert_eq!(amount_width("−2.00 EUR"), Some(9));
        assert_eq!(amount_width("12 items"), Some(3));
        assert_eq!(amount_width("Green tea"), None);
    }

    #[test]
    fn a_first_page_says_how_many_more() {
        assert_eq!(
            more_line(50, 230, "customers").as_deref(),
            Some(
                "… and 180 more customers (50 of 230 shown): --limit N for more, --all for every one."
            )
        );
        assert_eq!(more_line(3, 3, "customers"), None);
        assert_eq!(page(None, false), Some(PAGE));
        assert_eq!(page(Some(5), false), Some(5));
        assert_eq!(page(Some(5), true), None);
    }

    #[test]
    fn an_empty_table_is_one_line() {
        assert_eq!(Table::new(["id"]).render("No rows."), "No rows.\n");
    }

    #[test]
    fn amounts_and_counts_are_recognised() {
        for cell in ["12", "4.50 EUR", "−2.00 EUR", "-3", "1,234.5 JPY"] {
            assert!(looks_like_amount(cell), "{cell}");
        }
        for cell in ["G-50", "12 items", "Tea", "2026-01-02", "4.50 eur"] {
            assert!(!looks_like_amount(cell), "{cell}");
        }
    }
}
