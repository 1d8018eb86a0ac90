//! Browsing and search: categories → products → variants → quantity → cart.
//!
//! ```text
//! shopper: [Catalog]
//! bot:     Categories:                 [Tea (2)] [Coffee (1)] [« Back]
//! shopper: [Tea]
//! bot:     Tea:                        [Green tea] [Oolong] [« Back]
//! shopper: [Green tea]
//! bot:     Green tea … 100 g: 4.50 EUR (10 in stock)   [100 g · 4.50 EUR] [« Back]
//! shopper: [100 g · 4.50 EUR]
//! bot:     Green tea, 100 g: 4.50 EUR, 10 in stock. How many?  [1] [2] [3] [5] [10]
//! shopper: [2]
//! bot:     Added 2 × Green tea, 100 g to your cart.   [Cart] [Catalog]
//! ```
//!
//! Every screen is read through `store::catalog::browse`'s visibility filter for the shopper's
//! segments in force, and every press is re-checked the same way: this module must never
//! show or add a variant because a button named it.

use super::Button;
use super::callback::Callback;
use super::session::{Flow, Session};
use super::state::Step;
use crate::store::catalog::browse;
use crate::store::orders::cart;

const PER_PAGE: usize = 8;
/// Quantities offered on a variant; only those the stock covers are shown.
const QUANTITIES: [u16; 5] = [1, 2, 3, 5, 10];
/// Longer search text is cut, so a pasted essay can't make a huge query.
const MAX_SEARCH_CHARS: usize = 100;

fn page_of<T>(items: &[T], page: u32) -> &[T] {
    let start = (page as usize).saturating_mul(PER_PAGE).min(items.len());
    let end = start.saturating_add(PER_PAGE).min(items.len());
    &items[start..end]
}

impl Session<'_> {
    pub async fn catalog(&mut self, page: u32) -> Flow {
        self.state.step = Step::Idle;
        let categories = browse::visible_categories(self.db(), &self.segments).await?;
        if categories.is_empty() {
            let rows = vec![self.back_to_menu()];
            self.screen(self.t("catalog_empty"), rows);
            return Ok(());
        }
        let mut rows: Vec<Vec<Button>> = page_of(&categories, page)
            .iter()
            .map(|category| {
                vec![Button::new(
                    format!("{} ({})", category.name, category.visible_products),
                    Callback::Category {
                        category: category.id,
                        page: 0,
                    },
                )]
            })
            .collect();
        rows.push(
            self.pager(page, categories.len(), PER_PAGE, |page| Callback::Catalog {
                page,
            }),
        );
        rows.push(self.back_to_menu());
        rows.retain(|row| !row.is_empty());
        self.screen(self.t("catalog_title"), rows);
        Ok(())
    }

    pub async fn category(&mut self, category: i64, page: u32) -> Flow {
        let products =
            browse::visible_products_in_category(self.db(), category, &self.segments).await?;
        // A category is visible exactly when it holds a visible product.
        let name = if products.is_empty() {
            None
        } else {
            browse::category_name(self.db(), category).await?
        };
        let Some(name) = name else {
            self.refuse(
                &Callback::Category { category, page }.to_string(),
                "category hidden",
            );
            return self.catalog(0).await;
        };
        let mut rows: Vec<Vec<Button>> = page_of(&products, page)
            .iter()
            .map(|product| {
                vec![Button::new(
                    product.title.clone(),
                    Callback::Product {
                        product: product.id,
                    },
                )]
            })
            .collect();
        rows.push(
            self.pager(page, products.len(), PER_PAGE, |page| Callback::Category {
                category,
                page,
            }),
        );
        rows.push(vec![Button::new(
            self.t("back"),
            Callback::Catalog { page: 0 },
        )]);
        rows.retain(|row| !row.is_empty());
        let title = self.fill("category_title", &[("category", &name)]);
        self.screen(title, rows);
        Ok(())
    }

    pub async fn product(&mut self, product: i64) -> Flow {
        self.product_page(product, 0).await
    }

    /// A product with its visible variants; the buttons of those in stock come a page at a
    /// time, since Telegram refuses a keyboard of about a hundred buttons.
    pub async fn product_page(&mut self, product: i64, page: u32) -> Flow {
        self.state.step = Step::Idle;
        let Some(view) = browse::visible_product(self.db(), product, &self.segments).await? else {
            tracing::warn!(
                telegram_user_id = self.sender.telegram_user_id,
                product,
                "asked for a product they can't see"
            );
            self.notice("product_unavailable");
            self.say(self.t("product_unavailable"));
            return Ok(());
        };
        let (text, in_stock) = self.product_text(&view);
        let mut rows: Vec<Vec<Button>> = page_of(&in_stock, page)
            .iter()
            .map(|button| vec![button.clone()])
            .collect();
        rows.push(self.pager(page, in_stock.len(), PER_PAGE, |page| {
            Callback::ProductPage { product, page }
        }));
        rows.retain(|row| !row.is_empty());
        let back = match view.product.category_id {
            Some(category) => Callback::Category { category, page: 0 },
            None => Callback::Catalog { page: 0 },
        };
        rows.push(vec![Button::new(self.t("back"), back)]);
        let image = view.product.image.clone();
        self.photo_screen(
            image.as_deref(),
            text,
            rows,
            Some(Callback::Details { product }),
        )
        .await
    }

    /// A product's whole text, for a photo whose caption had to be cut.
    pub async fn product_details(&mut self, product: i64) -> Flow {
        let Some(view) = browse::visible_product(self.db(), product, &self.segments).await? else {
            self.refuse(&Callback::Details { product }.to_string(), "product hidden");
            return Ok(());
        };
        let (text, _) = self.product_text(&view);
        let rows = vec![vec![Button::new(
            self.t("back"),
            Callback::Product { product },
        )]];
        self.screen(text, rows);
        Ok(())
    }

    /// A product's title, description and variant lines, and a button per variant in stock.
    fn product_text(&self, view: &browse::ProductView) -> (String, Vec<Button>) {
        let mut text = view.product.title.clone();
        if !view.product.description.is_empty() {
            text.push_str(&format!("\n{}", view.product.description));
        }
        let mut in_stock = Vec::new();
        for variant in &view.variants {
            let price = self.money(variant.price);
            let title = variant_label(&variant.title, &variant.sku);
            let line = if variant.stock > 0 {
                let stock = variant.stock.to_string();
                in_stock.push(Button::new(
                    format!("{title} · {price}"),
                    Callback::Variant {
                        variant: variant.id,
                    },
                ));
                self.fill(
                    "variant_line",
                    &[("title", title), ("price", &price), ("stock", &stock)],
                )
            } else {
                self.fill("variant_sold_out", &[("title", title), ("price", &price)])
            };
            text.push_str(&format!("\n• {line}"));
        }
        (text, in_stock)
    }

    pub async fn variant(&mut self, variant: i64) -> Flow {
        let data = Callback::Variant { variant }.to_string();
        let Some((found, product)) =
            browse::visible_variant(self.db(), variant, &self.segments).await?
        else {
            self.refuse(&data, "variant hidden from this shopper");
            return Ok(());
        };
        if found.stock <= 0 {
            self.notice("variant_unavailable");
            return self.product(product.id).await;
        }
        let stock = found.stock.to_string();
        let price = self.money(found.price);
        let text = self.fill(
            "choose_quantity",
            &[
                ("title", &product.title),
                ("variant", variant_label(&found.title, &found.sku)),
                ("price", &price),
                ("stock", &stock),
            ],
        );
        let quantities: Vec<Button> = QUANTITIES
            .iter()
            .filter(|quantity| i32::from(**quantity) <= found.stock)
            .map(|quantity| {
                Button::new(
                    quantity.to_string(),
                    Callback::Add {
                        variant,
                        quantity: *quantity,
                    },
                )
            })
            .collect();
        let back = vec![
            Button::new(self.t("other_amount"), Callback::OtherAmount { variant }),
            Button::new(
                self.t("back"),
                Callback::Product {
                    product: product.id,
                },
            ),
        ];
        // The variant's own photo, else the product's: only a variant the shopper may see
        // gets here, so a hidden variant's photo is never sent.
        let image = found.image.clone().or_else(|| product.image.clone());
        self.photo_screen(image.as_deref(), text, vec![quantities, back], None)
            .await
    }

    /// Adds `quantity` of a variant after checking, on the server, that the shopper may see it
    /// and that the stock covers what the cart would then hold.
    pub async fn add(&mut self, variant: i64, quantity: u16) -> Flow {
        let data = Callback::Add { variant, quantity }.to_string();
        if quantity == 0 {
            self.refuse(&data, "zero quantity");
            return Ok(());
        }
        let Some((found, product)) =
            browse::visible_variant(self.db(), variant, &self.segments).await?
        else {
            self.refuse(&data, "variant hidden from this shopper");
            return Ok(());
        };
        let added = cart::add_within_stock(
            self.db(),
            self.customer.id,
            variant,
            i32::from(quantity),
            found.stock,
            self.now,
        )
        .await?;
        if added.is_none() {
            let current = cart::quantity_of(self.db(), self.customer.id, variant).await?;
            let left = found.stock.saturating_sub(current).max(0);
            let title = format!(
                "{}, {}",
                product.title,
                variant_label(&found.title, &found.sku)
            );
            let text = self.stock_left(left, found.stock, &title);
            self.out.notice = Some(text.clone());
            self.say(text);
            return Ok(());
        }
        let title = format!(
            "{}, {}",
            product.title,
            variant_label(&found.title, &found.sku)
        );
        let text = self.fill(
            "added_to_cart",
            &[("quantity", &quantity.to_string()), ("title", &title)],
        );
        self.out.notice = Some(text.clone());
        let rows = vec![vec![
            Button::new(self.t("menu_cart"), Callback::Cart),
            Button::new(self.t("menu_catalog"), Callback::Catalog { page: 0 }),
        ]];
        self.screen(text, rows);
        Ok(())
    }

    /// "Other amount": asks for a typed quantity, from 1 to what the cart can still take.
    pub async fn ask_amount(&mut self, variant: i64) -> Flow {
        let data = Callback::OtherAmount { variant }.to_string();
        let Some((found, product)) =
            browse::visible_variant(self.db(), variant, &self.segments).await?
        else {
            self.refuse(&data, "variant hidden from this shopper");
            return Ok(());
        };
        let current = cart::quantity_of(self.db(), self.customer.id, variant).await?;
        let left = found.stock.saturating_sub(current);
        let title = format!(
            "{}, {}",
            product.title,
            variant_label(&found.title, &found.sku)
        );
        if left <= 0 {
            let text = self.stock_left(left, found.stock, &title);
            self.out.notice = Some(text.clone());
            self.say(text);
            return Ok(());
        }
        self.state.step = Step::Quantity { variant };
        let text = self.fill(
            "ask_amount",
            &[("title", &title), ("max", &left.to_string())],
        );
        let rows = vec![vec![Button::new(
            self.t("back"),
            Callback::Variant { variant },
        )]];
        self.screen(text, rows);
        Ok(())
    }

    /// A typed quantity for "Other amount": a whole number from 1 to what is left, else the
    /// question again with the range.
    pub async fn typed_amount(&mut self, variant: i64, typed: &str) -> Flow {
        let Some((found, product)) =
            browse::visible_variant(self.db(), variant, &self.segments).await?
        else {
            self.state.step = Step::Idle;
            self.say(self.t("variant_unavailable"));
            return Ok(());
        };
        let current = cart::quantity_of(self.db(), self.customer.id, variant).await?;
        let left = found.stock.saturating_sub(current);
        let wanted = typed
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|wanted| (1..=left).contains(wanted))
            .and_then(|wanted| u16::try_from(wanted).ok());
        let Some(quantity) = wanted else {
            let title = format!(
                "{}, {}",
                product.title,
                variant_label(&found.title, &found.sku)
            );
            self.say(self.fill(
                "amount_invalid",
                &[("title", &title), ("max", &left.max(0).to_string())],
            ));
            return Ok(());
        };
        self.state.step = Step::Idle;
        self.add(variant, quantity).await
    }

    pub fn search_prompt(&mut self) {
        self.state.step = Step::SearchPrompt;
        let rows = vec![self.back_to_menu()];
        self.screen(self.t("search_prompt"), rows);
    }

    pub async fn search(&mut self, query: &str, page: u32) -> Flow {
        let query: String = query.trim().chars().take(MAX_SEARCH_CHARS).collect();
        if query.is_empty() {
            self.search_prompt();
            return Ok(());
        }
        self.state.step = Step::Idle;
        self.state.search = Some(query.clone());
        let products = browse::search_visible_products(self.db(), &query, &self.segments).await?;
        if products.is_empty() {
            let rows = vec![vec![
                Button::new(self.t("menu_search"), Callback::Search),
                Button::new(self.t("back"), Callback::Menu),
            ]];
            self.screen(self.fill("search_nothing", &[("query", &query)]), rows);
            return Ok(());
        }
        let mut rows: Vec<Vec<Button>> = page_of(&products, page)
            .iter()
            .map(|product| {
                vec![Button::new(
                    product.title.clone(),
                    Callback::Product {
                        product: product.id,
                    },
                )]
            })
            .collect();
        rows.push(self.pager(page, products.len(), PER_PAGE, |page| {
            Callback::SearchPage { page }
        }));
        rows.push(self.back_to_menu());
        rows.retain(|row| !row.is_empty());
        self.screen(self.fill("search_results", &[("query", &query)]), rows);
        Ok(())
    }
}

/// A variant's title, or its SKU when the merchant gave it none.
pub fn variant_label<'a>(title: &'a str, sku: &'a str) -> &'a str {
    if title.is_empty() { sku } else { title }
}
