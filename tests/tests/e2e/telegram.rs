//! The Telegram adapter end to end: a scripted dialogue (or the real binary) behind teloxide,
//! against the fake Bot API, by long polling and by webhook.

use std::time::Duration;

use storebot::conversation::{Button, Input, Markup, Notification, Outcome, Reply};
use storebot::telegram::MAX_MESSAGE_LENGTH;
use storebot::testing::TestDb;
use storebot_tests::bot::{
    BotProcess, Scripted, free_local_addr, http, message_update, say, settings, spawn_bot,
};
use storebot_tests::fake_telegram::{
    FakeFailure, FakeTelegram, ReplyKeyboard, TEST_TOKEN, TestUser,
};

const WAIT: Duration = Duration::from_secs(15);

fn inline(text: &str, buttons: &[(&str, &str)], edit: bool) -> Reply {
    Reply {
        text: text.to_owned(),
        markup: Markup::Inline(vec![
            buttons
                .iter()
                .map(|(label, data)| Button {
                    label: (*label).to_owned(),
                    data: (*data).to_owned(),
                })
                .collect(),
        ]),
        edit,
        photo: None,
    }
}

/// The dialogue most tests use: a few commands, and `/ping` → `pong` to prove that the bot is
/// still answering and that nothing else was sent before.
fn script(_sender: &storebot::conversation::TelegramUser, input: &Input) -> Outcome {
    match input {
        Input::Text(text) if text == "/start" => say(&["one", "two", "three"]),
        Input::Text(text) if text == "/ping" => say(&["pong"]),
        Input::Text(text) if text == "/long" => {
            let line = "a line of the catalogue, long enough to fill a message quickly";
            let body = vec![line; 200].join("\n");
            Outcome {
                replies: vec![Reply {
                    text: body,
                    ..inline("", &[("More", "more")], false)
                }],
                ..Outcome::default()
            }
        }
        Input::Text(text) if text == "/menu" => Outcome {
            replies: vec![inline(
                "Page 1",
                &[("Next", "page:2"), ("Same", "page:1")],
                false,
            )],
            ..Outcome::default()
        },
        Input::Text(text) if text == "/phone" => Outcome {
            replies: vec![Reply {
                text: "Your phone number?".into(),
                markup: Markup::RequestContact {
                    label: "Share my phone".into(),
                },
                edit: false,
                photo: None,
            }],
            ..Outcome::default()
        },
        Input::Text(text) if text == "/order" => Outcome {
            replies: vec![say(&["Thank you for your order"]).replies.remove(0)],
            notifications: vec![Notification::text(MERCHANT_CHAT, "New order #1 from Alice")],
            ..Outcome::default()
        },
        Input::Text(text) if text == "/boom" => panic!("a bug in the dialogue"),
        Input::Button { data } if data == "page:2" => Outcome {
            replies: vec![inline("Page 2", &[("Back", "page:1")], true)],
            notice: Some("Turned the page".into()),
            ..Outcome::default()
        },
        Input::Button { data } if data == "page:1" => Outcome {
            // The same text and keyboard the message already has: "message is not modified".
            replies: vec![inline(
                "Page 1",
                &[("Next", "page:2"), ("Same", "page:1")],
                true,
            )],
            ..Outcome::default()
        },
        Input::Button { data } if data == "shout" => Outcome {
            notice: Some("!".repeat(300)),
            ..Outcome::default()
        },
        Input::Contact { phone, user_id } => say(&[&format!("Got {phone} from {user_id:?}")]),
        _ => Outcome::default(),
    }
}

const MERCHANT_CHAT: i64 = -100_555;

async fn start_scripted() -> (
    FakeTelegram,
    storebot_tests::bot::RunningBot,
    storebot_tests::bot::Heard,
) {
    let fake = FakeTelegram::start().await.unwrap();
    let (dialogue, heard) = Scripted::new(script);
    let bot = spawn_bot(settings(&fake, &[]).unwrap(), dialogue);
    (fake, bot, heard)
}

/// Proves that the bot still answers, and that nothing else reached `user`'s chat before.
async fn assert_next_is_pong(fake: &FakeTelegram, user: &TestUser) {
    fake.send_text(user, "/ping");
    let reply = fake.next_reply(user.chat_id(), WAIT).await.unwrap();
    assert_eq!(reply.text, "pong");
}

#[tokio::test]
async fn replies_arrive_in_order_as_plain_text() {
    let (fake, bot, heard) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/start");
    for expected in ["one", "two", "three"] {
        let reply = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
        assert_eq!(reply.text, expected);
        assert_eq!(reply.parse_mode, None);
        assert_eq!(reply.method, "sendMessage");
    }
    let (sender, input) = heard.all().remove(0);
    assert_eq!(input, Input::Text("/start".into()));
    assert_eq!(sender.telegram_user_id, alice.id);
    assert_eq!(sender.chat_id, alice.chat_id());
    assert_eq!(sender.username.as_deref(), Some("alice"));
    assert_eq!(sender.language_code.as_deref(), Some("en"));
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_long_reply_is_split_on_lines_with_the_buttons_on_the_last_part() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/long");
    // 200 lines of 62 characters: about 12,600 characters, four messages.
    let mut parts = Vec::new();
    while parts.len() < 10 {
        let part = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
        let last = !part.buttons.is_empty();
        parts.push(part);
        if last {
            break;
        }
    }
    assert_eq!(parts.len(), 4);
    for part in &parts {
        assert!(part.text.encode_utf16().count() <= MAX_MESSAGE_LENGTH);
        assert!(part.text.lines().all(|line| line.starts_with("a line")));
    }
    let lines: usize = parts.iter().map(|part| part.text.lines().count()).sum();
    assert_eq!(lines, 200);
    assert_eq!(parts[3].labels(), vec!["More"]);
    assert_next_is_pong(&fake, &alice).await;
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_button_press_edits_its_message_and_is_answered_with_the_notice() {
    let (fake, bot, heard) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/menu");
    let menu = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    let press = fake.press(&alice, &menu, "Next").unwrap();
    let edited = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert!(edited.edited);
    assert_eq!(edited.message_id, menu.message_id);
    assert_eq!(edited.text, "Page 2");
    assert_eq!(edited.labels(), vec!["Back"]);
    let answer = fake.callback_answer(press, WAIT).await.unwrap();
    assert_eq!(answer.text.as_deref(), Some("Turned the page"));
    assert!(heard.inputs().contains(&Input::Button {
        data: "page:2".into()
    }));
    assert_next_is_pong(&fake, &alice).await;
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn an_unchanged_edit_sends_nothing_and_the_press_is_answered_silently() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/menu");
    let menu = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    let press = fake.press(&alice, &menu, "Same").unwrap();
    let answer = fake.callback_answer(press, WAIT).await.unwrap();
    assert_eq!(answer.text, None);
    // Telegram said "message is not modified": no new message is sent instead.
    assert_next_is_pong(&fake, &alice).await;
    assert_eq!(fake.calls("editMessageText").len(), 1);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn an_edit_that_fails_is_sent_as_a_new_message() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/menu");
    let menu = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    fake.fail_next("editMessageText", FakeFailure::ServerError(400));
    fake.press(&alice, &menu, "Next").unwrap();
    let sent = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert!(!sent.edited);
    assert_ne!(sent.message_id, menu.message_id);
    assert_eq!(sent.text, "Page 2");
    assert_eq!(sent.labels(), vec!["Back"]);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_forged_press_on_an_unknown_message_is_answered_and_sent_anew() {
    let (fake, bot, heard) = start_scripted().await;
    let alice = TestUser::alice();
    let press = fake.press_data(&alice, 9_999, "page:2");
    fake.callback_answer(press, WAIT).await.unwrap();
    let sent = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert!(!sent.edited);
    assert_eq!(sent.text, "Page 2");
    assert_eq!(
        heard.inputs(),
        vec![Input::Button {
            data: "page:2".into()
        }]
    );
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_press_the_dialogue_ignores_is_still_answered() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    let press = fake.press_data(&alice, 1, "nonsense");
    let answer = fake.callback_answer(press, WAIT).await.unwrap();
    assert_eq!(answer.text, None);
    assert_next_is_pong(&fake, &alice).await;
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn notifications_reach_the_merchant_chat() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/order");
    let reply = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(reply.text, "Thank you for your order");
    let notice = fake.next_reply(MERCHANT_CHAT, WAIT).await.unwrap();
    assert_eq!(notice.text, "New order #1 from Alice");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn the_contact_keyboard_is_one_time_and_a_shared_contact_reaches_the_dialogue() {
    let (fake, bot, heard) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/phone");
    let ask = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    let Some(ReplyKeyboard::Show { rows, one_time, .. }) = &ask.reply_keyboard else {
        panic!("expected a reply keyboard: {ask:#?}");
    };
    assert!(*one_time);
    assert_eq!(rows[0][0].label, "Share my phone");
    assert!(rows[0][0].request_contact);
    fake.send_contact(&alice, "+4912345");
    let reply = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(reply.text, format!("Got +4912345 from Some({})", alice.id));
    assert!(heard.inputs().contains(&Input::Contact {
        phone: "+4912345".into(),
        user_id: Some(alice.id),
    }));
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn flood_control_is_waited_out_and_the_reply_arrives_once() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    fake.fail_next(
        "sendMessage",
        FakeFailure::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    fake.send_text(&alice, "/ping");
    let reply = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(reply.text, "pong");
    let calls = fake.calls("sendMessage");
    assert_eq!(calls.len(), 2, "one refused call, one retry");
    assert!(calls[1].at.duration_since(calls[0].at) >= Duration::from_secs(1));
    // The next reply is the next update's: the first was not sent twice.
    fake.send_text(&alice, "/start");
    let next = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(next.text, "one");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_panicking_dialogue_does_not_stop_the_bot() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    fake.send_text(&alice, "/boom");
    assert_next_is_pong(&fake, &alice).await;
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn group_messages_are_not_answered() {
    let (fake, bot, heard) = start_scripted().await;
    let alice = TestUser::alice();
    let id = fake.next_update_id();
    fake.push_raw_update(serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": 1,
            "from": alice.to_json(),
            "chat": {"id": MERCHANT_CHAT, "type": "supergroup", "title": "Merchants"},
            "date": 0,
            "text": "/start",
        }
    }));
    fake.wait_confirmed(id, WAIT).await.unwrap();
    assert_next_is_pong(&fake, &alice).await;
    bot.stop().await.unwrap();
    assert!(fake.take_replies(MERCHANT_CHAT).is_empty());
    assert_eq!(heard.inputs(), vec![Input::Text("/ping".into())]);
}

// ---- Webhook mode ---------------------------------------------------------------------

const SECRET: &str = "s3cret_T0ken-x";

async fn start_webhook() -> (
    FakeTelegram,
    storebot_tests::bot::RunningBot,
    std::net::SocketAddr,
) {
    let fake = FakeTelegram::start().await.unwrap();
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    let settings = settings(
        &fake,
        &[
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", &listen),
            ("STOREBOT_TELEGRAM__WEBHOOK__PATH", "/hook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", SECRET),
        ],
    )
    .unwrap();
    let (dialogue, _) = Scripted::new(script);
    (fake, spawn_bot(settings, dialogue), addr)
}

async fn post_update(
    addr: std::net::SocketAddr,
    path: &str,
    secret: Option<&str>,
    body: String,
) -> anyhow::Result<(u16, String)> {
    let headers: Vec<(&str, &str)> = secret
        .map(|secret| vec![("X-Telegram-Bot-Api-Secret-Token", secret)])
        .unwrap_or_default();
    http(addr, "POST", path, &headers, &body).await
}

#[tokio::test]
async fn webhook_processes_updates_with_the_right_secret_only() {
    let (fake, bot, addr) = start_webhook().await;
    let alice = TestUser::alice();
    let forged = message_update(1, 1, &alice, "/start").to_string();
    let (status, _) = post_update(addr, "/hook", None, forged.clone())
        .await
        .unwrap();
    assert_eq!(status, 401, "no secret");
    let (status, _) = post_update(addr, "/hook", Some("wrong"), forged)
        .await
        .unwrap();
    assert_eq!(status, 401, "wrong secret");
    let genuine = message_update(2, 2, &alice, "/ping").to_string();
    let (status, _) = post_update(addr, "/hook", Some(SECRET), genuine)
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The first reply is the genuine update's: the refused ones were never processed.
    let reply = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(reply.text, "pong");
    bot.stop().await.unwrap();
    assert!(fake.take_replies(alice.chat_id()).is_empty());
    // Instances never register or remove the webhook themselves.
    assert!(fake.calls("setWebhook").is_empty());
    assert!(fake.calls("deleteWebhook").is_empty());
    assert!(fake.calls("getUpdates").is_empty());
}

#[tokio::test]
async fn webhook_refuses_unknown_paths_and_oversized_bodies_and_answers_health() {
    let (fake, bot, addr) = start_webhook().await;
    let alice = TestUser::alice();
    let update = message_update(1, 1, &alice, "/start").to_string();
    let (status, _) = post_update(addr, "/elsewhere", Some(SECRET), update)
        .await
        .unwrap();
    assert_eq!(status, 404);
    let huge = message_update(
        2,
        2,
        &alice,
        &"x".repeat(storebot::telegram::MAX_BODY_BYTES),
    )
    .to_string();
    let (status, _) = post_update(addr, "/hook", Some(SECRET), huge)
        .await
        .unwrap();
    assert_eq!(status, 413);
    let (status, body) = http(addr, "GET", "/healthz", &[], "").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""database":"reachable""#), "{body}");
    let (status, _) = post_update(
        addr,
        "/hook",
        Some(SECRET),
        message_update(3, 3, &alice, "/ping").to_string(),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let reply = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(reply.text, "pong");
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn webhook_mode_without_a_secret_refuses_to_start() {
    let fake = FakeTelegram::start().await.unwrap();
    let settings = settings(&fake, &[("STOREBOT_TELEGRAM__MODE", "webhook")]).unwrap();
    let (dialogue, _) = Scripted::new(script);
    let error = spawn_bot(settings, dialogue)
        .finished()
        .await
        .expect_err("must refuse");
    assert!(error.to_string().contains("secret_token"), "{error}");
}

#[tokio::test]
async fn admin_webhook_calls_register_inspect_and_remove_the_webhook() {
    let fake = FakeTelegram::start().await.unwrap();
    let settings = settings(
        &fake,
        &[
            (
                "STOREBOT_TELEGRAM__WEBHOOK__URL",
                "https://shop.example.com/hook",
            ),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", SECRET),
        ],
    )
    .unwrap();
    storebot::telegram::set_webhook(&settings).await.unwrap();
    let set = fake.calls("setWebhook");
    assert_eq!(set[0].body["url"], "https://shop.example.com/hook");
    assert_eq!(set[0].body["secret_token"], SECRET);
    let info = storebot::telegram::webhook_info(&settings).await.unwrap();
    assert_eq!(info.url.as_deref(), Some("https://shop.example.com/hook"));
    storebot::telegram::delete_webhook(&settings).await.unwrap();
    let info = storebot::telegram::webhook_info(&settings).await.unwrap();
    assert_eq!(info.url, None);
}

// ---- The real binary --------------------------------------------------------------------

#[tokio::test]
async fn the_binary_polls_takes_start_and_stops_cleanly_on_sigterm() {
    let test = TestDb::new().await.unwrap();
    let fake = FakeTelegram::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = fake.url();
    let mut bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &url),
            ("STOREBOT_DATABASE__URL", test.url()),
        ],
    )
    .unwrap();
    fake.wait_for_calls("getUpdates", 1, WAIT).await.unwrap();
    let alice = TestUser::alice();
    let update = fake.send_command(&alice, "start", "");
    fake.wait_confirmed(update, WAIT).await.unwrap();
    bot.wait_for_log("receiving updates by long polling", WAIT)
        .await
        .unwrap();
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{status:?}: {log:#?}");
    let log = log.join("\n");
    assert!(log.contains("the updates in hand are done"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains(TEST_TOKEN), "the token leaked: {log}");
    // The update was handled before the exit, so nothing is left for the fake to deliver.
    assert_eq!(fake.pending_updates(), 0);
}

#[tokio::test]
async fn the_binary_in_webhook_mode_answers_health_from_the_database() {
    let test = TestDb::new().await.unwrap();
    let fake = FakeTelegram::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = fake.url();
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    let mut bot = BotProcess::start(
        dir.path(),
        &[
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", &url),
            ("STOREBOT_DATABASE__URL", test.url()),
            ("STOREBOT_TELEGRAM__MODE", "webhook"),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", &listen),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", SECRET),
        ],
    )
    .unwrap();
    bot.wait_for_log("receiving updates by webhook", WAIT)
        .await
        .unwrap();
    let (status, body) = http(addr, "GET", "/healthz", &[], "").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""database":"reachable""#), "{body}");
    let (status, _) = http(addr, "POST", "/telegram", &[], "{}").await.unwrap();
    assert_eq!(status, 401);
    let (status, log) = bot.terminate().await.unwrap();
    assert!(status.success(), "{status:?}: {log:#?}");
    assert!(!log.join("\n").contains(SECRET), "the secret leaked");
}

#[tokio::test]
async fn an_unreachable_bot_api_stops_the_bot_with_an_error_in_both_modes() {
    let addr = free_local_addr().unwrap();
    let listen = addr.to_string();
    for mode in ["polling", "webhook"] {
        // Port 9 (discard) has nothing listening on test machines: getMe fails at once.
        let env = [
            ("STOREBOT_TELEGRAM__TOKEN", TEST_TOKEN),
            ("STOREBOT_TELEGRAM__API_URL", "http://127.0.0.1:9"),
            ("STOREBOT_TELEGRAM__MODE", mode),
            ("STOREBOT_TELEGRAM__WEBHOOK__LISTEN", listen.as_str()),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", SECRET),
        ];
        let settings = storebot::Settings::load_from(
            None,
            env.map(|(key, value)| (key.to_owned(), value.to_owned())),
        )
        .unwrap();
        let (dialogue, _) = Scripted::new(script);
        let error = spawn_bot(settings, dialogue)
            .finished()
            .await
            .expect_err("no Bot API, no bot");
        assert!(!error.to_string().contains(TEST_TOKEN), "{mode}: {error}");
    }
}

#[tokio::test]
async fn a_notice_longer_than_telegram_takes_is_cut_so_the_press_is_still_answered() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    let press = fake.press_data(&alice, 1, "shout");
    let answer = fake.callback_answer(press, WAIT).await.unwrap();
    assert_eq!(answer.text.map(|text| text.chars().count()), Some(200));
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_reply_arrives_once() {
    let (fake, bot, _) = start_scripted().await;
    let alice = TestUser::alice();
    // teloxide itself pauses 10 s after any 5xx before reporting it; then the bot retries.
    fake.fail_next("sendMessage", FakeFailure::ServerError(502));
    fake.send_text(&alice, "/ping");
    let reply = fake
        .next_reply(alice.chat_id(), WAIT + Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(reply.text, "pong");
    assert_eq!(
        fake.calls("sendMessage").len(),
        2,
        "one failed call, one retry"
    );
    fake.send_text(&alice, "/start");
    let next = fake.next_reply(alice.chat_id(), WAIT).await.unwrap();
    assert_eq!(next.text, "one");
    bot.stop().await.unwrap();
}
