//! The terminal chat: the same dialogue as on Telegram, typed at a terminal. Buttons are
//! numbered and chosen by number; everything else is typed as the shopper would type it.
//!
//! ```text
//! Main menu: what would you like to do?
//!   [1] Catalog  [2] Search
//!   [3] Cart  [4] Orders
//!   [5] Profile
//! > 1
//! ```
//!
//! It reads standard input line by line, so it works the same piped (tests drive it that
//! way) as at a terminal, and stops at end of input or `/quit`. It is an adapter only: it
//! must never decide anything the conversation decides.

use std::io::IsTerminal;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::conversation::{Conversation, Input, Markup, Outcome, TelegramUser};
use storebot_config::Settings;

/// The Telegram user id the terminal shopper has in the database (no real account has it).
pub const TERMINAL_USER_ID: i64 = 1;

/// Runs the chat on standard input and output until end of input or `/quit`.
pub async fn chat(settings: Arc<Settings>, conversation: Conversation) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    let shopper = TelegramUser {
        telegram_user_id: TERMINAL_USER_ID,
        chat_id: TERMINAL_USER_ID,
        first_name: std::env::var("USER")
            .map(|user| crate::typed_text::clean(&user))
            .unwrap_or_else(|_| "Terminal shopper".to_owned()),
        last_name: None,
        username: None,
        language_code: Some(settings.store.default_language.clone()),
    };
    out.write_all(
        format!(
            "You are chatting with {} as a shopper. Type /start to begin, a button's number to \
             press it, /quit to leave.\n",
            settings.store.name
        )
        .as_bytes(),
    )
    .await?;
    let mut buttons: Vec<Pressable> = Vec::new();
    loop {
        if interactive {
            out.write_all(b"> ").await?;
        }
        out.flush().await?;
        let Some(line) = lines.next_line().await? else {
            break;
        };
        // Cleaned like a Telegram message, once, as it comes in: a NUL typed or piped in is
        // never stored, and a terminal escape is not echoed back.
        let line = crate::typed_text::clean(&line);
        let line = line.trim();
        if line == "/quit" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let input = match pressed(&buttons, line) {
            Some(data) => Input::Button { data },
            None => Input::Text(line.to_owned()),
        };
        if !interactive {
            // Piped input is not echoed by a terminal: show it, so the transcript reads.
            out.write_all(format!("> {line}\n").as_bytes()).await?;
        }
        let outcome = conversation
            .handle(&shopper, input, chrono::Utc::now())
            .await;
        let (text, pressable) = render(&outcome);
        buttons = pressable;
        out.write_all(text.as_bytes()).await?;
    }
    out.flush().await?;
    Ok(())
}

/// A button as the terminal shows it: the key to type, its label, the data it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pressable {
    pub key: String,
    pub label: String,
    pub data: String,
}

/// The data of the button a typed line presses: its key, or, on a screen whose keys are
/// letters because its labels are numbers (quantities), the number as it reads on a label.
fn pressed(buttons: &[Pressable], line: &str) -> Option<String> {
    let lettered = buttons
        .first()
        .is_some_and(|button| button.key.chars().all(|c| c.is_ascii_lowercase()));
    buttons
        .iter()
        .find(|button| button.key == line)
        .or_else(|| {
            lettered
                .then(|| buttons.iter().find(|button| button.label == line))
                .flatten()
        })
        .map(|button| button.data.clone())
}

/// Keys a, b, …, z, aa, ab, … for screens whose labels are numbers.
fn letter_key(index: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let mut key = String::new();
    let mut rest = index;
    loop {
        key.insert(0, char::from(letters[rest % 26]));
        if rest < 26 {
            break;
        }
        rest = rest / 26 - 1;
    }
    key
}

/// The transcript of one outcome, and its buttons in the order they're keyed. Keys are
/// numbers, except on a screen where a label is itself a number (`1`, `2`, `5`, `10`): there
/// they are letters, so that a typed number means the number the shopper reads.
pub fn render(outcome: &Outcome) -> (String, Vec<Pressable>) {
    let mut text = String::new();
    let mut buttons: Vec<Pressable> = Vec::new();
    let numbered_labels = outcome
        .replies
        .iter()
        .filter_map(|reply| match &reply.markup {
            Markup::Inline(rows) => Some(rows),
            _ => None,
        })
        .flatten()
        .flatten()
        .any(|button| button.label.trim().parse::<u64>().is_ok());
    // A notice that repeats a reply is shown once, as the reply.
    if let Some(notice) = outcome
        .notice
        .as_ref()
        .filter(|notice| !outcome.replies.iter().any(|reply| reply.text == **notice))
    {
        text.push_str(&format!("({notice})\n"));
    }
    for reply in &outcome.replies {
        text.push_str(&reply.text);
        text.push('\n');
        match &reply.markup {
            Markup::Inline(rows) => {
                for row in rows {
                    let labels: Vec<String> = row
                        .iter()
                        .map(|button| {
                            let key = if numbered_labels {
                                letter_key(buttons.len())
                            } else {
                                (buttons.len() + 1).to_string()
                            };
                            let shown = format!("[{key}] {}", button.label);
                            buttons.push(Pressable {
                                key,
                                label: button.label.clone(),
                                data: button.data.clone(),
                            });
                            shown
                        })
                        .collect();
                    text.push_str(&format!("  {}\n", labels.join("  ")));
                }
            }
            Markup::RequestContact { label } => {
                text.push_str(&format!("  ({label}: type your number here)\n"));
            }
            Markup::None | Markup::RemoveKeyboard => {}
        }
    }
    for notification in &outcome.notifications {
        text.push_str(&format!(
            "[to merchant chat {}] {}\n",
            notification.chat_id, notification.text
        ));
    }
    if let Some(invoice) = &outcome.invoice {
        // A terminal can't pay: the order stays awaiting payment until it expires or the
        // shopper cancels it from /orders.
        let total: i64 = invoice.prices.iter().map(|(_, amount)| amount).sum();
        text.push_str(&format!(
            "[invoice for order #{}: {}] The terminal chat can't pay; on Telegram the invoice \
             would be here. The order waits for payment until it expires, or cancel it in \
             Orders.\n",
            invoice.order_id,
            crate::conversation::payment::amount(total, &invoice.currency)
        ));
    }
    (text, buttons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Button, Reply};

    #[test]
    fn buttons_are_numbered_across_rows_and_replies() {
        let outcome = Outcome {
            replies: vec![
                Reply::text("Hello"),
                Reply {
                    text: "Menu".into(),
                    markup: Markup::Inline(vec![
                        vec![
                            Button {
                                label: "A".into(),
                                data: "a".into(),
                            },
                            Button {
                                label: "B".into(),
                                data: "b".into(),
                            },
                        ],
                        vec![Button {
                            label: "C".into(),
                            data: "c".into(),
                        }],
                    ]),
                    edit: true,
                    photo: None,
                },
            ],
            notice: Some("Saved.".into()),
            notifications: vec![crate::conversation::Notification::text(7, "New order")],
            invoice: None,
        };
        let (text, buttons) = render(&outcome);
        assert_eq!(
            text,
            "(Saved.)\nHello\nMenu\n  [1] A  [2] B\n  [3] C\n[to merchant chat 7] New order\n"
        );
        let data: Vec<&str> = buttons.iter().map(|button| button.data.as_str()).collect();
        assert_eq!(data, ["a", "b", "c"]);
        assert_eq!(pressed(&buttons, "2").as_deref(), Some("b"));
        assert_eq!(pressed(&buttons, "B"), None);
    }

    fn quantities() -> Outcome {
        let button = |label: &str| Button {
            label: label.into(),
            data: format!("q{label}"),
        };
        Outcome {
            replies: vec![Reply {
                text: "How many?".into(),
                markup: Markup::Inline(vec![
                    ["1", "2", "3", "5", "10"].map(button).to_vec(),
                    vec![button("« Back")],
                ]),
                edit: true,
                photo: None,
            }],
            notice: Some("How many?".into()),
            ..Outcome::default()
        }
    }

    #[test]
    fn a_typed_number_means_the_number_on_the_label_and_a_repeated_notice_shows_once() {
        let (text, buttons) = render(&quantities());
        assert_eq!(
            text,
            "How many?\n  [a] 1  [b] 2  [c] 3  [d] 5  [e] 10\n  [f] « Back\n"
        );
        assert_eq!(pressed(&buttons, "5").as_deref(), Some("q5"));
        assert_eq!(pressed(&buttons, "10").as_deref(), Some("q10"));
        assert_eq!(pressed(&buttons, "d").as_deref(), Some("q5"));
        assert_eq!(pressed(&buttons, "f").as_deref(), Some("q« Back"));
        assert_eq!(pressed(&buttons, "4"), None);
        assert_eq!(letter_key(25), "z");
        assert_eq!(letter_key(26), "aa");
    }
}
