//! Aligned text tables for human output. Widths count characters, not bytes, so names with
//! accents line up; nothing here decides what goes in a table.

/// Rows of cells under a header, printed with columns padded to their widest cell.
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

    /// The table as text: header, a rule under it, the rows; or a single line when empty.
    pub fn render(&self, empty: &str) -> String {
        if self.rows.is_empty() {
            return format!("{empty}\n");
        }
        let columns = self.header.len();
        let mut widths: Vec<usize> = self
            .header
            .iter()
            .map(|cell| cell.chars().count())
            .collect();
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate().take(columns) {
                widths[index] = widths[index].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (index, width) in widths.iter().enumerate() {
                let cell = cells.get(index).map(String::as_str).unwrap_or_default();
                if index + 1 == columns {
                    text.push_str(cell);
                } else {
                    let pad = width.saturating_sub(cell.chars().count());
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.header);
        let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
        line(&rule);
        for row in &self.rows {
            line(row);
        }
        out
    }

    pub fn print(&self, empty: &str) {
        print!("{}", self.render(empty));
    }
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
            table.render("none"),
            "id  name\n--  ----\n1   Zoë\n12  Bo\n"
        );
    }

    #[test]
    fn an_empty_table_is_one_line() {
        assert_eq!(Table::new(["id"]).render("No rows."), "No rows.\n");
    }
}
