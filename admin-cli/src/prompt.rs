//! Asking for what the flags left out: dialoguer prompts when a person is at the terminal,
//! and otherwise one sentence naming the missing flag. It must never wait for input that can't
//! come, so every prompt first checks that standard input and error are terminals. Typed text
//! is cleaned as the bot cleans a shopper's ([`storebot::typed_text::clean`]: no NUL or other
//! control character), so what a wizard stores is what the flags could have given. Ctrl-C at
//! any prompt ends the command through [`crate::interrupt`]: the cursor back, one sentence, exit
//! 130; every prompt comes before its command's write, so nothing was changed.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use dialoguer::{Confirm, FuzzySelect, Input, MultiSelect, Select};

/// Whether wizards may ask, decided once at start.
#[derive(Debug, Clone, Copy)]
pub struct Prompt {
    interactive: bool,
}

impl Prompt {
    pub fn detect() -> Self {
        Self {
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    pub fn is_interactive(self) -> bool {
        self.interactive
    }

    fn require(self, flag: &str) -> Result<()> {
        if self.interactive {
            Ok(())
        } else {
            bail!("missing {flag} (there is no terminal to ask in)")
        }
    }

    /// The flag's value, or a typed answer.
    pub fn text(self, given: Option<String>, flag: &str, label: &str) -> Result<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        self.require(flag)?;
        let typed: String = ask(|| Input::new().with_prompt(label).interact_text())?;
        Ok(storebot::typed_text::clean(&typed))
    }

    /// A typed answer that may be left empty.
    pub fn optional_text(self, label: &str) -> Result<Option<String>> {
        let text: String = ask(|| {
            Input::new()
                .with_prompt(label)
                .allow_empty(true)
                .interact_text()
        })?;
        let text = storebot::typed_text::clean(&text);
        Ok(Some(text.trim().to_owned()).filter(|text| !text.is_empty()))
    }

    /// Texts typed one per line until an empty one.
    pub fn list(self, given: Vec<String>, flag: &str, label: &str) -> Result<Vec<String>> {
        if !given.is_empty() {
            return Ok(given);
        }
        self.require(flag)?;
        let mut items = Vec::new();
        loop {
            let prompt = format!("{label} {} (empty to finish)", items.len() + 1);
            match self.optional_text(&prompt)? {
                Some(item) => items.push(item),
                None if items.is_empty() => eprintln!("At least one is needed."),
                None => return Ok(items),
            }
        }
    }

    /// One of `items` by index.
    pub fn select(self, flag: &str, label: &str, items: &[String]) -> Result<usize> {
        self.require(flag)?;
        if items.is_empty() {
            bail!("there is nothing to choose from for {flag}");
        }
        ask(|| {
            if items.len() > 12 {
                FuzzySelect::new()
                    .with_prompt(label)
                    .items(items)
                    .default(0)
                    .interact()
            } else {
                Select::new()
                    .with_prompt(label)
                    .items(items)
                    .default(0)
                    .interact()
            }
        })
    }

    /// Some of `items` by index (space to toggle, enter to accept).
    pub fn multi_select(
        self,
        flag: &str,
        label: &str,
        items: &[String],
        checked: &[bool],
    ) -> Result<Vec<usize>> {
        self.require(flag)?;
        ask(|| {
            MultiSelect::new()
                .with_prompt(label)
                .items(items)
                .defaults(checked)
                .interact()
        })
    }

    /// A yes/no question whose answer has a flag.
    pub fn yes_no(
        self,
        given: Option<bool>,
        flag: &str,
        label: &str,
        default: bool,
    ) -> Result<bool> {
        if let Some(value) = given {
            return Ok(value);
        }
        self.require(flag)?;
        ask(|| {
            Confirm::new()
                .with_prompt(label)
                .default(default)
                .interact()
        })
    }

    /// Confirms a step: `--yes` skips the question; without a terminal, `--yes` is required.
    pub fn confirm(self, yes: bool, what: &str) -> Result<()> {
        if yes {
            return Ok(());
        }
        if !self.interactive {
            bail!("{what}: pass --yes to confirm (there is no terminal to ask in)");
        }
        if ask(|| {
            Confirm::new()
                .with_prompt(format!("{what}. Go ahead?"))
                .default(false)
                .interact()
        })? {
            Ok(())
        } else {
            bail!("cancelled, nothing was changed")
        }
    }
}

/// Runs one dialoguer prompt with Ctrl-C meaning "cancel": the prompt's `Interrupted` error
/// ends the command at once (see [`crate::interrupt`]), as the SIGINT the terminal library
/// raises would.
fn ask<T>(interact: impl FnOnce() -> dialoguer::Result<T>) -> Result<T> {
    let _asking = crate::interrupt::asking();
    match interact() {
        Ok(answer) => Ok(answer),
        Err(dialoguer::Error::IO(error)) if error.kind() == std::io::ErrorKind::Interrupted => {
            crate::interrupt::cancelled()
        }
        Err(error) => Err(error.into()),
    }
}
