//! Product photos through the real binaries on the demo shop: the merchant sets images with
//! `storebot-admin`, shoppers in different segments open products in the bot against the fake
//! Bot API. Checked: a local file is uploaded once and sent by `file_id` after, a URL is sent
//! as a URL, a variant's own photo replaces the product's only for shoppers who may see that
//! variant, moving between photo and text screens edits the media or replaces the message
//! (never a stale photo above new buttons), a long description is cut at a word in the
//! caption with a "Details" button, and a refused image leaves the product as text, logged
//! once and listed by `lint`.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use storebot_entity::image_file;
use storebot_tests::admin::AdminTool;
use storebot_tests::fake_telegram::{SentMessage, TestUser};

use super::journey::{Shop, visible};

/// The `photo` each `sendPhoto` call carried: `upload NAME` for a file's bytes (teloxide
/// names them `attach://…` and sends the file as another part), else a URL or a `file_id`.
fn photos_sent(shop: &Shop) -> Vec<String> {
    shop.fake
        .calls("sendPhoto")
        .iter()
        .map(|call| {
            let photo = call.body["photo"].as_str().unwrap_or_default();
            match photo.strip_prefix("attach://") {
                Some(part) => {
                    let file = call.body[part].as_str().unwrap_or_default();
                    format!(
                        "upload {}",
                        file.trim_start_matches("<file ").trim_end_matches('>')
                    )
                }
                None => photo.to_owned(),
            }
        })
        .collect()
}

/// The photo a message shows (the largest size's `file_id`), if it is a photo.
fn photo_of(message: &SentMessage) -> Option<String> {
    message.raw["photo"]
        .as_array()
        .and_then(|sizes| sizes.last())
        .and_then(|size| size["file_id"].as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn a_local_photo_is_uploaded_once_then_sent_by_file_id_and_screens_change_without_stale_photos()
 {
    let mut shop = Shop::open().await;
    let tool = AdminTool::new(shop.test.url());
    let image = shop.dir.path().join("green-tea.png");
    std::fs::write(&image, b"\x89PNG\r\n\x1a\nnot really pixels").unwrap();
    let green_tea = shop.demo.green_tea.to_string();
    tool.ok(&[
        "catalog",
        "product",
        "edit",
        &green_tea,
        "--image",
        image.to_str().unwrap(),
    ]);
    // The single-origin bag, which only coffee lovers may see, has a photo of its own.
    let bag = "https://img.example.com/ethiopia.jpg";
    tool.ok(&["catalog", "variant", "edit", "ES-ETH", "--image", bag]);
    // Something that is not an image is refused with nothing changed.
    let text_file = shop.dir.path().join("notes.txt");
    std::fs::write(&text_file, "hello").unwrap();
    tool.refused(
        &[
            "catalog",
            "product",
            "edit",
            &green_tea,
            "--image",
            text_file.to_str().unwrap(),
        ],
        "is not a JPEG or PNG file",
        |tool| tool.json(&["catalog", "product", "list"]),
    );

    let alice = shop.shopper(TestUser::alice());
    alice.register("Tea").await;
    alice.send(&format!("/start p_{green_tea}"));
    let product = alice.screen("Sencha from Shizuoka").await;
    assert_eq!(product.method, "sendPhoto");
    assert!(
        product.button("100 g · 4.50 EUR").is_some(),
        "{:?}",
        product.labels()
    );
    let file_id = photo_of(&product).expect("a photo");
    assert_eq!(photos_sent(&shop), ["upload green-tea.png"]);

    // Bob, another shopper: the same photo goes by the file_id Telegram returned.
    let bob = shop.shopper(TestUser::bob());
    bob.register("Coffee").await;
    bob.send(&format!("/start p_{green_tea}"));
    let for_bob = bob.screen("Sencha from Shizuoka").await;
    assert_eq!(photo_of(&for_bob).as_deref(), Some(file_id.as_str()));
    assert_eq!(
        photos_sent(&shop),
        ["upload green-tea.png".to_owned(), file_id.clone()]
    );
    let stored = image_file::Entity::find()
        .filter(image_file::Column::Source.eq(image.canonicalize().unwrap().to_str().unwrap()))
        .one(&shop.test.db)
        .await
        .unwrap()
        .expect("the photo's row");
    assert_eq!(stored.file_id.as_deref(), Some(file_id.as_str()));

    // Photo → photo (the variant, which shows the product's photo): the media is edited in
    // place, the keyboard with it.
    alice.press(&product, "100 g · 4.50 EUR");
    let how_many = alice.screen("How many?").await;
    assert!(how_many.edited);
    assert_eq!(how_many.message_id, product.message_id);
    assert_eq!(shop.fake.calls("editMessageMedia").len(), 1);
    // Photo → text (back to the category): the photo is deleted and the text sent anew.
    alice.press(&how_many, "« Back");
    let again = alice.screen("Sencha from Shizuoka").await;
    alice.press(&again, "« Back");
    let category = alice.screen("Tea:").await;
    assert_eq!(category.method, "sendMessage");
    assert!(
        shop.fake
            .deleted_messages(alice.user.chat_id())
            .contains(&product.message_id)
    );
    // Text → photo: the category message is replaced by the product's photo.
    alice.press(&category, "Green tea");
    let from_text = alice.screen("Sencha from Shizuoka").await;
    assert_eq!(from_text.method, "sendPhoto");
    // The old message goes after the new one is up; one chat's updates are handled in
    // order, so once the next update is answered that is done.
    alice.send("/cart");
    alice.screen("Your cart").await;
    assert!(
        shop.fake
            .deleted_messages(alice.user.chat_id())
            .contains(&category.message_id)
    );

    // The bag's own photo: Bob (a coffee lover) gets it, by URL the first time.
    let espresso = format!("/start p_{}", shop.demo.espresso);
    bob.send(&espresso);
    let roast = bob.screen("Espresso roast").await;
    bob.press(&roast, "Ethiopia single origin 250 g · 14.90 EUR");
    let bag_screen = bob.screen("How many?").await;
    assert_eq!(bag_screen.method, "sendPhoto");
    assert_eq!(photos_sent(&shop).last().map(String::as_str), Some(bag));
    // Alice may not see that variant: her forged press is refused and the URL never goes out
    // for her.
    alice.send(&espresso);
    let for_alice = alice.screen("Espresso roast").await;
    let calls_before = shop.fake.all_calls().len();
    let bag_variant = shop.variant_by_sku("ES-ETH").await;
    let forged = shop.fake.press_data(
        &alice.user,
        for_alice.message_id,
        &format!("v:{bag_variant}"),
    );
    assert!(alice.notice(forged).await.is_some());
    let after: Vec<String> = shop.fake.all_calls()[calls_before..]
        .iter()
        .map(|call| call.body.to_string())
        .collect();
    assert!(
        !after.iter().any(|body| body.contains("ethiopia")),
        "{after:#?}"
    );
    shop.stop_bot().await;
}

#[tokio::test]
async fn a_refused_photo_leaves_the_product_as_text_and_a_long_caption_is_cut_with_details() {
    let mut shop = Shop::open().await;
    let tool = AdminTool::new(shop.test.url());
    let broken = "https://img.example.com/broken.jpg";
    shop.fake.refuse_photo_url(broken);
    let espresso = shop.demo.espresso.to_string();
    tool.ok(&["catalog", "product", "edit", &espresso, "--image", broken]);
    let green_tea = shop.demo.green_tea.to_string();
    let long = format!(
        "Sencha from Shizuoka. {}The end.",
        "Steamed leaves, grassy and sweet. ".repeat(40)
    );
    tool.ok(&[
        "catalog",
        "product",
        "edit",
        &green_tea,
        "--description",
        &long,
        "--image",
        "https://img.example.com/sencha.jpg",
    ]);

    let carol = shop.shopper(TestUser::carol());
    carol.register("Coffee").await;
    carol.send(&format!("/start p_{espresso}"));
    let as_text = carol.screen("Espresso roast").await;
    assert_eq!(as_text.method, "sendMessage");
    assert!(
        as_text.button("Beans 250 g · 9.90 EUR").is_some(),
        "{:?}",
        as_text.labels()
    );
    // Kept: the next view goes straight to text, without asking Telegram again.
    carol.send(&format!("/start p_{espresso}"));
    carol.screen("Espresso roast").await;
    assert_eq!(photos_sent(&shop), [broken]);
    let lint = tool.json(&["lint"]);
    let refused: Vec<&Value> = lint
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["kind"] == "refused_image")
        .collect();
    assert_eq!(refused.len(), 1, "{lint:#}");
    assert!(
        refused[0]["message"].as_str().unwrap().contains(broken),
        "{lint:#}"
    );

    // The long description: cut at a word with "…" within 1,024 characters, and Details.
    carol.send(&format!("/start p_{green_tea}"));
    let photo = carol.screen("Sencha from Shizuoka").await;
    assert_eq!(photo.method, "sendPhoto");
    let caption = visible(&photo);
    assert!(
        caption.chars().count() <= 1024,
        "{}",
        caption.chars().count()
    );
    assert!(
        caption.ends_with("sweet.…") || caption.ends_with('…'),
        "{caption}"
    );
    assert!(!caption.contains("The end."));
    assert_eq!(photo.labels().first(), Some(&"Details"));
    carol.press(&photo, "Details");
    let details = carol.screen("The end.").await;
    assert_eq!(details.method, "sendMessage");
    assert!(
        visible(&details).contains("100 g: 4.50 EUR"),
        "{}",
        visible(&details)
    );
    assert!(
        shop.fake
            .deleted_messages(carol.user.chat_id())
            .contains(&photo.message_id)
    );
    let (_, log) = shop.bot.take().expect("bot").terminate().await.unwrap();
    let warned = log
        .iter()
        .filter(|line| line.contains("Telegram refused a product photo"))
        .count();
    assert_eq!(warned, 1, "{log:#?}");
}

#[tokio::test]
async fn export_and_apply_carry_photos_by_url_or_path() {
    let test = storebot::testing::TestDb::new().await.unwrap();
    storebot::store::operations::demo::seed(&test.db, chrono::Utc::now())
        .await
        .unwrap();
    let tool = AdminTool::new(test.url());
    let dir = tempfile::tempdir().unwrap();
    let url = "https://img.example.com/green.jpg";
    let green_tea = storebot_entity::product::Entity::find()
        .filter(storebot_entity::product::Column::Title.eq("Green tea"))
        .one(&test.db)
        .await
        .unwrap()
        .unwrap();
    tool.ok(&[
        "catalog",
        "product",
        "edit",
        &green_tea.id.to_string(),
        "--image",
        url,
    ]);
    let exported = dir.path().join("store.json");
    tool.ok(&["export", "-o", exported.to_str().unwrap()]);
    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(
        document["images"],
        serde_json::json!([{"product": "Green tea", "image": url}])
    );

    // A local file for one variant, by its path.
    let bag = dir.path().join("bag.jpg");
    std::fs::write(&bag, b"\xFF\xD8\xFF\xE0 a jpeg").unwrap();
    document["images"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"sku": "GT-100", "image": bag.to_str().unwrap()}));
    std::fs::write(&exported, document.to_string()).unwrap();
    let applied = tool.json(&["apply", exported.to_str().unwrap(), "--yes"]);
    assert_eq!(
        applied["changes"],
        serde_json::json!(["set the photo of variant `GT-100`"])
    );
    let variant = storebot_entity::variant::Entity::find()
        .filter(storebot_entity::variant::Column::Sku.eq("GT-100"))
        .one(&test.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        variant.image.as_deref(),
        Some(bag.canonicalize().unwrap().to_str().unwrap())
    );

    // An entry naming nothing, or not an image: refused, nothing changed.
    let state = |tool: &AdminTool| tool.json(&["catalog", "product", "list"]);
    for (entry, sentence) in [
        (
            serde_json::json!({"sku": "NOPE", "image": url}),
            "images names the variant `NOPE`, which does not exist",
        ),
        (
            serde_json::json!({"product": "Green tea", "image": "ftp://img.example.com/x.jpg"}),
            "is neither an https:// URL nor a file",
        ),
    ] {
        let mut bad = document.clone();
        bad["images"].as_array_mut().unwrap().push(entry);
        let file = dir.path().join("bad.json");
        std::fs::write(&file, bad.to_string()).unwrap();
        tool.refused(&["apply", file.to_str().unwrap(), "--yes"], sentence, state);
    }
}
