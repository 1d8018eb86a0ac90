//! The fake over real HTTP, with a hand-written HTTP/1.1 client (the crate has no HTTP client
//! dependency, and the fake must not rely on one to be trusted).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{BOT_USERNAME, FakeFailure, FakeTelegram, ReplyKeyboard, TEST_TOKEN, TestUser};

const WAIT: Duration = Duration::from_secs(5);

/// POSTs `body` to `method` and returns the status and the parsed envelope.
async fn post(fake: &FakeTelegram, method: &str, body: &str) -> anyhow::Result<(u16, Value)> {
    let (status, body) = post_raw(fake, method, body).await?;
    let envelope = serde_json::from_str(&body).with_context(|| format!("body {body:?}"))?;
    Ok((status, envelope))
}

/// POSTs `body` to `method` and returns the status and the body as it came.
async fn post_raw(fake: &FakeTelegram, method: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let url = fake.url();
    let addr = url.strip_prefix("http://").context("url is http")?;
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "POST /bot{TEST_TOKEN}/{method} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    Ok((status, body.to_owned()))
}

async fn ok_result(fake: &FakeTelegram, method: &str, body: Value) -> anyhow::Result<Value> {
    let (status, envelope) = post(fake, method, &body.to_string()).await?;
    ensure!(
        status == 200 && envelope["ok"] == json!(true),
        "{method} failed: {status} {envelope}"
    );
    Ok(envelope["result"].clone())
}

#[tokio::test]
async fn long_poll_wakes_on_push_and_offset_confirms() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let alice = TestUser::alice();

    let me = ok_result(&fake, "getMe", json!({})).await?;
    assert_eq!(me["id"], json!(123_456));
    assert_eq!(me["is_bot"], json!(true));
    assert_eq!(me["username"], json!(BOT_USERNAME));

    // A poll waiting up to 10 s answers as soon as the user writes.
    let started = tokio::time::Instant::now();
    let poll = post(&fake, "getUpdates", r#"{"offset":0,"timeout":10}"#);
    let push = async {
        fake.wait_for_calls("getUpdates", 1, WAIT).await?;
        anyhow::Ok(fake.send_command(&alice, "start", "ref_42"))
    };
    let (poll, update_id) = tokio::join!(poll, push);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the long poll did not wake up on the push"
    );
    let ((status, envelope), update_id) = (poll?, update_id?);
    assert_eq!(status, 200);
    assert_eq!(envelope["ok"], json!(true));
    let update = &envelope["result"][0];
    assert_eq!(update["update_id"], json!(update_id));
    let message = &update["message"];
    assert_eq!(message["text"], json!("/start ref_42"));
    assert_eq!(
        message["entities"],
        json!([{"type": "bot_command", "offset": 0, "length": 6}])
    );
    assert_eq!(message["chat"]["type"], json!("private"));
    assert_eq!(message["chat"]["id"], json!(alice.id));
    assert_eq!(message["from"]["is_bot"], json!(false));
    assert_eq!(message["from"]["language_code"], json!("en"));
    assert!(message["date"].as_i64().is_some_and(|date| date > 0));

    // Unconfirmed updates come again; a higher offset confirms them.
    let again = ok_result(&fake, "getUpdates", json!({"offset": 0, "timeout": 0})).await?;
    assert_eq!(again[0]["update_id"], json!(update_id));
    let after = ok_result(
        &fake,
        "getUpdates",
        json!({"offset": update_id + 1, "timeout": 0}),
    )
    .await?;
    assert_eq!(after, json!([]));
    assert_eq!(fake.pending_updates(), 0);
    fake.wait_confirmed(update_id, WAIT).await?;

    // A timed-out poll answers an empty list.
    let started = tokio::time::Instant::now();
    let empty = ok_result(
        &fake,
        "getUpdates",
        json!({"offset": update_id + 1, "timeout": 1}),
    )
    .await?;
    assert_eq!(empty, json!([]));
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A contact share.
    let contact_update = fake.send_contact(&alice, "+15551234567");
    let updates = ok_result(&fake, "getUpdates", json!({"offset": update_id + 1})).await?;
    assert_eq!(updates[0]["update_id"], json!(contact_update));
    assert_eq!(
        updates[0]["message"]["contact"],
        json!({"phone_number": "+15551234567", "first_name": "Alice", "user_id": alice.id})
    );
    Ok(())
}

#[tokio::test]
async fn replies_buttons_presses_and_edits() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let alice = TestUser::alice();
    fake.send_text(&alice, "hello");

    let sent = ok_result(
        &fake,
        "sendMessage",
        json!({
            "chat_id": alice.id,
            "text": "<b>Menu</b> &amp; more",
            "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [
                [{"text": "Buy", "callback_data": "buy:1"}],
                [{"text": "Site", "url": "https://example.org"}],
            ]},
        }),
    )
    .await?;
    // Message ids are shared with the user's message in the chat.
    assert_eq!(sent["message_id"], json!(2));
    assert_eq!(sent["from"]["is_bot"], json!(true));
    assert_eq!(sent["chat"]["first_name"], json!("Alice"));

    let reply = fake.next_reply(alice.id, WAIT).await?;
    assert_eq!(reply.message_id, 2);
    assert_eq!(reply.visible_text(), "Menu & more");
    assert_eq!(reply.labels(), vec!["Buy", "Site"]);
    assert!(!reply.edited);

    let missing = fake.press(&alice, &reply, "Sell");
    assert!(missing.is_err_and(|error| error.to_string().contains("\"Buy\"")));
    assert!(fake.press(&alice, &reply, "Site").is_err());

    let pressed = fake.press(&alice, &reply, "Buy")?;
    let updates = ok_result(&fake, "getUpdates", json!({"offset": 0})).await?;
    let query = &updates[1]["callback_query"];
    assert_eq!(updates[1]["update_id"], json!(pressed));
    assert_eq!(query["data"], json!("buy:1"));
    assert_eq!(query["from"]["id"], json!(alice.id));
    assert_eq!(query["message"]["message_id"], json!(2));
    assert_eq!(query["message"]["from"]["is_bot"], json!(true));
    assert_eq!(
        query["message"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        json!("buy:1")
    );
    assert!(query["chat_instance"].is_string());

    ok_result(
        &fake,
        "answerCallbackQuery",
        json!({"callback_query_id": query["id"], "text": "Added"}),
    )
    .await?;
    let answer = fake.callback_answer(pressed, WAIT).await?;
    assert_eq!(answer.text.as_deref(), Some("Added"));

    // Unchanged content is refused, as Telegram does; a change becomes an edited reply.
    let same = json!({
        "chat_id": alice.id,
        "message_id": 2,
        "text": "<b>Menu</b> &amp; more",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [
            [{"text": "Buy", "callback_data": "buy:1"}],
            [{"text": "Site", "url": "https://example.org"}],
        ]},
    });
    let (status, envelope) = post(&fake, "editMessageText", &same.to_string()).await?;
    assert_eq!(status, 400);
    assert!(
        envelope["description"]
            .as_str()
            .is_some_and(|text| text.contains("message is not modified"))
    );
    ok_result(
        &fake,
        "editMessageText",
        json!({"chat_id": alice.id, "message_id": 2, "text": "Bought"}),
    )
    .await?;
    let edited = fake.next_reply(alice.id, WAIT).await?;
    assert!(edited.edited);
    assert_eq!(edited.text, "Bought");
    assert!(
        edited.buttons.is_empty(),
        "an edit without reply_markup drops the keyboard"
    );

    // A reply keyboard is not echoed in the Message but is shown to the test.
    let asked = ok_result(
        &fake,
        "sendMessage",
        json!({
            "chat_id": alice.id,
            "text": "Share your phone",
            "reply_markup": {"keyboard": [[{"text": "Share", "request_contact": true}]], "one_time_keyboard": true},
        }),
    )
    .await?;
    assert!(asked.get("reply_markup").is_none());
    let asked = fake.next_reply(alice.id, WAIT).await?;
    let keyboard = asked.reply_keyboard.context("reply keyboard")?;
    assert!(matches!(
        keyboard,
        ReplyKeyboard::Show { one_time: true, .. }
    ));
    assert!(
        keyboard
            .buttons()
            .first()
            .is_some_and(|button| button.request_contact)
    );

    ok_result(
        &fake,
        "deleteMessage",
        json!({"chat_id": alice.id, "message_id": 2}),
    )
    .await?;
    assert_eq!(fake.deleted_messages(alice.id), vec![2]);
    assert!(fake.press(&alice, &reply, "Buy").is_err());
    assert!(
        fake.replies_until_quiet(alice.id, Duration::from_millis(100))
            .await
            .is_empty()
    );
    assert_eq!(fake.calls("sendmessage").len(), 2);
    Ok(())
}

#[tokio::test]
async fn faults_and_errors_use_the_error_envelope() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let bob = TestUser::bob();
    let text = json!({"chat_id": bob.id, "text": "hi"}).to_string();

    fake.fail_next(
        "sendMessage",
        FakeFailure::TooManyRequests {
            retry_after_secs: 7,
        },
    );
    let (status, envelope) = post(&fake, "sendMessage", &text).await?;
    assert_eq!(status, 429);
    assert_eq!(envelope["ok"], json!(false));
    assert_eq!(envelope["error_code"], json!(429));
    assert_eq!(envelope["parameters"]["retry_after"], json!(7));

    fake.fail_next("sendMessage", FakeFailure::ServerError(502));
    let (status, envelope) = post(&fake, "sendMessage", &text).await?;
    assert_eq!((status, envelope["error_code"].clone()), (502, json!(502)));

    // What a proxy in front of the Bot API answers: an HTML page, or nothing.
    fake.fail_next("sendMessage", FakeFailure::ProxyPage(502));
    let (status, page) = post_raw(&fake, "sendMessage", &text).await?;
    assert_eq!(status, 502);
    assert!(
        page.starts_with("<html>") && page.contains("502 Bad Gateway"),
        "{page}"
    );
    fake.fail_next("sendMessage", FakeFailure::EmptyBody(503));
    assert_eq!(
        post_raw(&fake, "sendMessage", &text).await?,
        (503, String::new())
    );

    fake.fail_next("sendMessage", FakeFailure::Hang(Duration::from_millis(300)));
    let started = tokio::time::Instant::now();
    let (status, _) = post(&fake, "sendMessage", &text).await?;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    fake.block_chat(bob.id);
    let (status, envelope) = post(&fake, "sendMessage", &text).await?;
    assert_eq!(status, 403);
    assert_eq!(
        envelope["description"],
        json!("Forbidden: bot was blocked by the user")
    );
    fake.unblock_chat(bob.id);

    for (method, body) in [
        ("sendMessage", "{not json"),
        ("sendMessage", "[1]"),
        ("sendMessage", r#"{"text":"no chat"}"#),
        ("sendMessage", r#"{"chat_id":1002,"text":""}"#),
        (
            "sendMessage",
            r#"{"chat_id":1002,"text":"1 < 2","parse_mode":"HTML"}"#,
        ),
        (
            "sendMessage",
            r#"{"chat_id":1002,"text":"5.00","parse_mode":"MarkdownV2"}"#,
        ),
        (
            "sendMessage",
            r#"{"chat_id":1002,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"0123456789012345678901234567890123456789012345678901234567890123456789"}]]}}"#,
        ),
        (
            "editMessageText",
            r#"{"chat_id":1002,"message_id":99,"text":"x"}"#,
        ),
        ("deleteMessage", r#"{"chat_id":1002,"message_id":99}"#),
        ("answerCallbackQuery", r#"{"callback_query_id":"nope"}"#),
        ("getUpdates", r#"{"offset":"abc","timeout":{"x":1}}"#),
    ] {
        let (status, envelope) = post(&fake, method, body).await?;
        if method == "getUpdates" {
            // Unparsable numbers are ignored, like absent ones.
            assert_eq!(status, 200, "{body}");
            continue;
        }
        assert_eq!(status, 400, "{method} {body}: {envelope}");
        assert_eq!(envelope["ok"], json!(false));
        assert_eq!(envelope["error_code"], json!(400));
        assert!(envelope["description"].is_string());
    }

    // Unknown methods are harmless.
    let result = ok_result(
        &fake,
        "setChatMenuButton",
        json!({"menu_button": {"type": "commands"}}),
    )
    .await?;
    assert_eq!(result, json!(true));
    assert_eq!(fake.calls("setChatMenuButton").len(), 1);

    ok_result(
        &fake,
        "setMyCommands",
        json!({"commands": [{"command": "start", "description": "Start"}]}),
    )
    .await?;
    let commands = ok_result(&fake, "getMyCommands", json!({})).await?;
    assert_eq!(commands[0]["command"], json!("start"));
    let info = ok_result(&fake, "getWebhookInfo", json!({})).await?;
    assert_eq!(info["url"], json!(""));
    Ok(())
}

#[tokio::test]
async fn a_second_poller_ends_the_first_with_409() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let first = post(&fake, "getUpdates", r#"{"timeout":10}"#);
    let second = async {
        fake.wait_for_calls("getUpdates", 1, WAIT).await?;
        post(&fake, "getUpdates", r#"{"timeout":0}"#).await
    };
    let (first, second) = tokio::join!(first, second);
    let (status, envelope) = first?;
    assert_eq!(status, 409, "{envelope}");
    assert_eq!(second?.0, 200);

    // A raw duplicate of a confirmed update is delivered once more.
    let user = TestUser::carol();
    let id = fake.send_text(&user, "once");
    let updates = ok_result(&fake, "getUpdates", json!({})).await?;
    ok_result(&fake, "getUpdates", json!({"offset": id + 1})).await?;
    fake.push_raw_update(updates[0].clone());
    let again = ok_result(&fake, "getUpdates", json!({"offset": id + 1})).await?;
    assert_eq!(again[0]["update_id"], json!(id));
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_ends_a_waiting_long_poll_and_every_call_with_401() -> anyhow::Result<()> {
    let fake = Arc::new(FakeTelegram::start().await?);
    let polling = Arc::clone(&fake);
    let poll =
        tokio::spawn(async move { post(&polling, "getUpdates", r#"{"timeout": 30}"#).await });
    fake.revoke_token();
    let started = tokio::time::Instant::now();
    let (status, envelope) = poll.await??;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the poll waited"
    );
    assert_eq!(
        (status, envelope["description"].clone()),
        (401, json!("Unauthorized"))
    );
    let (status, _) = post(&fake, "getMe", "{}").await?;
    assert_eq!(status, 401);
    Ok(())
}

#[tokio::test]
async fn payments_are_checked_as_telegram_checks_them() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let alice = TestUser::alice();
    let invoice = |currency: &str, token: Option<&str>, prices: Value, payload: &str| {
        let mut body = json!({
            "chat_id": alice.chat_id(), "title": "Order #1", "description": "Tea",
            "payload": payload, "currency": currency, "prices": prices,
        });
        if let Some(token) = token {
            body["provider_token"] = json!(token);
        }
        body.to_string()
    };
    let one = json!([{"label": "Tea", "amount": 450}]);
    let two = json!([{"label": "Tea", "amount": 400}, {"label": "Cup", "amount": 50}]);
    for (body, refusal) in [
        (
            invoice("XTR", Some("1:TEST:x"), one.clone(), "p"),
            "PAYMENT_PROVIDER_INVALID",
        ),
        (
            invoice("EUR", None, one.clone(), "p"),
            "PAYMENT_PROVIDER_INVALID",
        ),
        (
            invoice("XTR", None, two.clone(), "p"),
            "STARS_INVOICE_INVALID",
        ),
        (
            invoice("EUR", Some("1:TEST:x"), one.clone(), &"p".repeat(129)),
            "INVOICE_PAYLOAD_INVALID",
        ),
    ] {
        let (status, envelope) = post(&fake, "sendInvoice", &body).await?;
        assert_eq!(status, 400, "{envelope}");
        assert!(
            envelope["description"]
                .as_str()
                .unwrap_or_default()
                .contains(refusal),
            "{envelope}"
        );
    }
    assert!(fake.invoices().is_empty());
    let sent = ok_result(
        &fake,
        "sendInvoice",
        serde_json::from_str(&invoice("EUR", Some("1:TEST:x"), two, "p"))?,
    )
    .await?;
    assert_eq!(sent["invoice"]["total_amount"], json!(450));
    assert_eq!(fake.invoices()[0].total(), 450);

    // A pre-checkout query is answered once; a refusal needs its sentence.
    let query = fake.pre_checkout(&alice, "p", "EUR", 450);
    let (status, _) = post(
        &fake,
        "answerPreCheckoutQuery",
        &json!({"pre_checkout_query_id": query, "ok": false}).to_string(),
    )
    .await?;
    assert_eq!(status, 400);
    ok_result(
        &fake,
        "answerPreCheckoutQuery",
        json!({"pre_checkout_query_id": query, "ok": true}),
    )
    .await?;
    let answer = fake.pre_checkout_answer(&query, WAIT).await?;
    assert!(answer.ok);
    let (status, _) = post(
        &fake,
        "answerPreCheckoutQuery",
        &json!({"pre_checkout_query_id": query, "ok": true}).to_string(),
    )
    .await?;
    assert_eq!(status, 400);

    // Stars come back once, to their payer only.
    fake.successful_payment(&alice, "p", "XTR", 450, "charge-1");
    let refund =
        |user: i64| json!({"user_id": user, "telegram_payment_charge_id": "charge-1"}).to_string();
    let (status, envelope) = post(&fake, "refundStarPayment", &refund(999)).await?;
    assert_eq!(status, 400, "{envelope}");
    ok_result(
        &fake,
        "refundStarPayment",
        serde_json::from_str(&refund(alice.id))?,
    )
    .await?;
    let (status, envelope) = post(&fake, "refundStarPayment", &refund(alice.id)).await?;
    assert_eq!(status, 400);
    assert!(
        envelope["description"]
            .as_str()
            .unwrap_or_default()
            .contains("CHARGE_ALREADY_REFUNDED")
    );
    assert_eq!(fake.star_refunds(), [(alice.id, "charge-1".to_owned())]);
    Ok(())
}
