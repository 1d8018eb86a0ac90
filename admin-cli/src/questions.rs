//! `storebot-admin questions`: the registration questions shoppers answer at /start.

use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};
use storebot::store::StoreError;
use storebot::store::shoppers::questions::{
    self, NewQuestion, QuestionEdit, QuestionKind, QuestionView,
};

use crate::context::Context;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the questions in the order shoppers are asked them.
    List {
        /// Include archived questions and options.
        #[arg(long)]
        all: bool,
    },
    /// Add a question (asks for what is missing in a terminal).
    Add {
        /// The question as shoppers read it.
        #[arg(long)]
        text: Option<String>,
        /// One answer (single, the default) or several (multiple).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Shoppers may skip it.
        #[arg(long)]
        optional: bool,
        /// An answer option; repeat for each, in order.
        #[arg(long = "option", value_name = "TEXT")]
        options: Vec<String>,
    },
    /// Change a question's text, kind or whether it is required.
    Edit {
        /// The question's id (`questions list`).
        id: i64,
        /// The new text.
        #[arg(long)]
        text: Option<String>,
        /// One answer (single) or several (multiple).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// `yes` or `no`.
        #[arg(long, value_parser = crate::format::parse_flag)]
        required: Option<bool>,
    },
    /// Add an option to a question.
    AddOption {
        /// The question's id.
        question: i64,
        /// The option's text.
        #[arg(long)]
        text: String,
    },
    /// Rename an option.
    RenameOption {
        /// The option's id (`questions list` shows it before the text).
        option: i64,
        /// The option's new text.
        #[arg(long)]
        text: String,
    },
    /// Move a question to a position (1 = asked first).
    Move {
        /// The question's id.
        id: i64,
        /// Its new position, 1 for first.
        #[arg(long)]
        to: usize,
    },
    /// Archive a question: shoppers are no longer asked it.
    Archive {
        /// The question's id (chosen from a list in a terminal).
        id: Option<i64>,
        /// Archive even when a segment rule uses it.
        #[arg(long)]
        force: bool,
    },
    /// Archive one option of a question.
    ArchiveOption {
        /// The option's id.
        option: i64,
        /// Archive even when a segment rule uses it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Single,
    Multiple,
}

impl From<Kind> for QuestionKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Single => QuestionKind::Single,
            Kind::Multiple => QuestionKind::Multiple,
        }
    }
}

pub async fn run(cx: &Context, command: Command) -> Result<()> {
    let db = &cx.db;
    match command {
        Command::List { all } => {
            let list = questions::list(db, all).await?;
            if !cx.json_out(&list)? {
                print_questions(&list);
            }
        }
        Command::Add {
            text,
            kind,
            optional,
            options,
        } => {
            let wizard = text.is_none() || options.is_empty();
            let text = cx.prompt.text(text, "--text", "Question text")?;
            let kind = match kind {
                Some(kind) => kind.into(),
                None if wizard && cx.prompt.is_interactive() => {
                    let items = ["single choice".to_owned(), "multiple choice".to_owned()];
                    match cx.prompt.select("--kind", "Kind", &items)? {
                        0 => QuestionKind::Single,
                        _ => QuestionKind::Multiple,
                    }
                }
                None => QuestionKind::Single,
            };
            let required = if wizard && cx.prompt.is_interactive() && !optional {
                cx.prompt
                    .yes_no(None, "--optional", "Must shoppers answer it?", true)?
            } else {
                !optional
            };
            let options = cx.prompt.list(options, "--option", "Option")?;
            let new = NewQuestion {
                text,
                kind,
                required,
                options,
            };
            if wizard {
                eprintln!(
                    "Will add the {} {} question \"{}\" with options: {}.",
                    if new.required { "required" } else { "optional" },
                    new.kind.as_str(),
                    new.text.trim(),
                    new.options.join(", ")
                );
                cx.prompt.confirm(cx.yes, "Add this question")?;
            }
            let view = questions::add(db, &new, cx.now()).await?;
            if !cx.json_out(&view)? {
                println!(
                    "Added question {} at position {}.",
                    view.question.id, view.question.position
                );
                print_questions(&[view]);
            }
        }
        Command::Edit {
            id,
            text,
            kind,
            required,
        } => {
            if text.is_none() && kind.is_none() && required.is_none() {
                bail!("nothing to change: give --text, --kind or --required");
            }
            let edit = QuestionEdit {
                text,
                kind: kind.map(Into::into),
                required,
            };
            let view = questions::edit(db, id, &edit).await?;
            if !cx.json_out(&view)? {
                println!("Question {id} changed.");
                print_questions(&[view]);
            }
        }
        Command::AddOption { question, text } => {
            let view = questions::add_option(db, question, &text).await?;
            if !cx.json_out(&view)? {
                print_questions(&[view]);
            }
        }
        Command::RenameOption { option, text } => {
            let option = questions::rename_option(db, option, &text).await?;
            if !cx.json_out(&option)? {
                println!("Option {} is now \"{}\".", option.id, option.text);
            }
        }
        Command::Move { id, to } => {
            let list = questions::move_to(db, id, to).await?;
            if !cx.json_out(&list)? {
                print_questions(&list);
            }
        }
        Command::Archive { id, force } => {
            let id = match id {
                Some(id) => id,
                None => {
                    let live = questions::list(db, false).await?;
                    let items: Vec<String> = live
                        .iter()
                        .map(|view| format!("{} {}", view.question.id, view.question.text))
                        .collect();
                    let index =
                        cx.prompt
                            .select("the question id", "Archive which question?", &items)?;
                    live[index].question.id
                }
            };
            let used_by = questions::archive_question(db, id, force)
                .await
                .map_err(force_hint)?;
            report_archived(cx, &format!("question {id}"), &used_by)?;
        }
        Command::ArchiveOption { option, force } => {
            let used_by = questions::archive_option(db, option, force)
                .await
                .map_err(force_hint)?;
            report_archived(cx, &format!("option {option}"), &used_by)?;
        }
    }
    Ok(())
}

/// A refusal to archive what a rule uses, with the flag that overrides it.
fn force_hint(error: StoreError) -> anyhow::Error {
    match error {
        used @ StoreError::UsedByRules { .. } => {
            anyhow::anyhow!("{used}: archive it anyway with --force")
        }
        other => other.into(),
    }
}

fn report_archived(cx: &Context, what: &str, used_by: &[questions::SegmentRef]) -> Result<()> {
    if !used_by.is_empty() {
        let names: Vec<&str> = used_by
            .iter()
            .map(|segment| segment.name.as_str())
            .collect();
        cx.warn(&format!(
            "the rules of {} now refer to an archived {what}: edit them",
            names.join(", ")
        ));
    }
    if !cx.json_out(&serde_json::json!({ "archived": what, "used_by": used_by }))? {
        println!("Archived {what}.");
    }
    Ok(())
}

fn print_questions(list: &[QuestionView]) {
    let mut table = Table::new(["id", "pos", "question", "kind", "required", "options"]);
    for view in list {
        let options: Vec<String> = view
            .options
            .iter()
            .map(|option| {
                let archived = if option.archived { " (archived)" } else { "" };
                format!("{}:{}{archived}", option.id, option.text)
            })
            .collect();
        let text = if view.question.archived {
            format!("{} (archived)", view.question.text)
        } else {
            view.question.text.clone()
        };
        table.row(vec![
            view.question.id.to_string(),
            view.question.position.to_string(),
            text,
            view.question.kind.clone(),
            if view.question.required { "yes" } else { "no" }.into(),
            options.join(", "),
        ]);
    }
    table.print("No questions yet: add one with `storebot-admin questions add`.");
}
