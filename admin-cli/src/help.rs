//! The top-level help's list of every command: read from the clap definition itself when the
//! tool starts, so it names exactly the commands that exist, each with the first paragraph of
//! its doc comment. Laid out by comfy-table to the terminal's width, the summaries wrapped; clap
//! wraps the rest of the help to the same width.

use clap::Command;
use comfy_table::{ContentArrangement, presets};

/// `root` with the list of every command as the text after its help (`-h`, `--help`, and the
/// help clap shows when no command is given).
pub fn with_every_command(root: Command) -> Command {
    let width = crate::table::width();
    let listing = listing(&root, width);
    // clap's own part of the help wraps to the same width as the list.
    root.term_width(usize::from(width)).after_help(listing)
}

/// Every command that can be run under `root`, as its words after the tool's name and its
/// summary, in the order clap lists them. An area that needs a command after it ("catalog
/// product") is left out; one that runs alone too ("broadcast") is listed with its commands.
pub fn commands(root: &Command) -> Vec<(String, String)> {
    let mut found = Vec::new();
    walk(root, "", &mut found);
    found
}

fn walk(command: &Command, prefix: &str, found: &mut Vec<(String, String)>) {
    for sub in command.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("{prefix}{}", sub.get_name());
        if !sub.has_subcommands() || !sub.is_subcommand_required_set() {
            let about = sub
                .get_about()
                .map(|about| about.to_string())
                .unwrap_or_default();
            found.push((name.clone(), first_sentence(&about).to_owned()));
        }
        walk(sub, &format!("{name} "), found);
    }
}

/// The first sentence of a command's about (clap has already dropped its closing full stop):
/// the summary stays a line or two even where the doc comment goes on.
fn first_sentence(about: &str) -> &str {
    about
        .char_indices()
        .find(|&(at, c)| {
            c == '.'
                && about[at + 1..].starts_with(' ')
                && about[at + 1..]
                    .trim_start()
                    .starts_with(|next: char| next.is_uppercase())
        })
        .map_or(about, |(at, _)| &about[..at])
}

/// The listing as text at most `width` columns wide.
fn listing(root: &Command, width: u16) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_style(presets::NOTHING)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    for (name, summary) in commands(root) {
        table.add_row(vec![name, summary]);
    }
    if let Some(column) = table.column_mut(0) {
        column.set_padding((2, 2));
    }
    if let Some(column) = table.column_mut(1) {
        column.set_padding((0, 0));
    }
    let mut text = format!(
        "Every command (`{} COMMAND --help` for its arguments):\n",
        root.get_name()
    );
    for line in table.lines() {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_area_s_commands_are_listed_with_their_summary() {
        let found = commands(&crate::Cli::command());
        let summary = |name: &str| {
            found
                .iter()
                .find(|(listed, _)| listed == name)
                .map(|(_, summary)| summary.as_str())
        };
        assert!(
            summary("catalog product list")
                .is_some_and(|text| text.starts_with("Products with their variants"))
        );
        assert!(summary("segments members").is_some());
        assert!(summary("orders import").is_some());
        // Areas that need a command are no command themselves; one that runs alone is.
        assert_eq!(summary("catalog"), None);
        assert_eq!(summary("catalog product"), None);
        assert!(summary("broadcast").is_some());
        assert!(summary("broadcast list").is_some());
        assert!(found.iter().all(|(name, _)| !name.ends_with("help")));
    }

    /// A command listed with nothing beside it would leave the merchant guessing: each one
    /// needs its doc comment.
    #[test]
    fn every_command_has_a_summary() {
        let blank: Vec<String> = commands(&crate::Cli::command())
            .into_iter()
            .filter(|(_, summary)| summary.trim().is_empty())
            .map(|(name, _)| name)
            .collect();
        assert!(blank.is_empty(), "commands without a summary: {blank:?}");
    }

    #[test]
    fn a_summary_is_the_first_sentence() {
        assert_eq!(
            first_sentence("Turn it on or off. Off discards the sets"),
            "Turn it on or off"
        );
        assert_eq!(
            first_sentence("Send it (e.g. to a segment), or not"),
            "Send it (e.g. to a segment), or not"
        );
        assert_eq!(first_sentence(""), "");
    }

    #[test]
    fn the_listing_fits_the_width_it_is_given() {
        let text = listing(&crate::Cli::command(), 80);
        assert!(
            text.lines().all(|line| line.chars().count() <= 80),
            "{text}"
        );
        assert!(text.contains("  catalog product list"), "{text}");
    }
}
