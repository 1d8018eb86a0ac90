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
    let mut buttons: Vec<String> = Vec::new();
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
        let input = match line.parse::<usize>() {
            Ok(number) if (1..=buttons.len()).contains(&number) => Input::Button {
                data: buttons[number - 1].clone(),
            },
            _ => Input::Text(line.to_owned()),
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

/// The transcript of one outcome, and the data of its buttons in the order they're numbered.
pub fn render(outcome: &Outcome) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut buttons = Vec::new();
    if let Some(notice) = &outcome.notice {
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
                            buttons.push(button.data.clone());
                            format!("[{}] {}", buttons.len(), button.label)
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
        };
        let (text, buttons) = render(&outcome);
        assert_eq!(
            text,
            "(Saved.)\nHello\nMenu\n  [1] A  [2] B\n  [3] C\n[to merchant chat 7] New order\n"
        );
        assert_eq!(buttons, ["a", "b", "c"]);
    }
}
