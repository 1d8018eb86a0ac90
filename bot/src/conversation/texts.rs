//! Shopper-facing wording: texts from `[texts.<language>]` in config with fallbacks, the
//! filling of `{placeholders}`, and money in the store's currency.
//!
//! Nothing here decides what to say, only how it reads; it must never hard-code a sentence a
//! shopper sees (those live in `config/default.toml`).

use std::collections::BTreeMap;

use storebot_config::Settings;

/// The texts for one shopper: their language first, then the store's default language, then
/// English, then (so that a missing key is visible rather than fatal) the key itself.
pub struct Texts<'a> {
    layers: Vec<&'a BTreeMap<String, String>>,
}

impl<'a> Texts<'a> {
    pub fn for_language(settings: &'a Settings, language_code: Option<&str>) -> Self {
        let mut codes: Vec<String> = Vec::new();
        if let Some(code) = language_code.map(str::to_lowercase) {
            if let Some((primary, _)) = code.split_once(['-', '_']) {
                codes.push(code.clone());
                codes.push(primary.to_owned());
            } else {
                codes.push(code);
            }
        }
        codes.push(settings.store.default_language.to_lowercase());
        codes.push("en".to_owned());
        let layers = codes
            .iter()
            .filter_map(|code| settings.texts.get(code))
            .collect();
        Self { layers }
    }

    /// The text for `key`, unfilled.
    pub fn get(&self, key: &'static str) -> &str {
        self.layers
            .iter()
            .find_map(|layer| layer.get(key))
            .map_or(key, String::as_str)
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &'static str, values: &[(&str, &str)]) -> String {
        fill(self.get(key), values)
    }
}

/// Replaces `{name}` by its value for every pair; unknown placeholders stay as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// The bot's commands from the `commands` text (`texts.get("commands")`): one
/// `name: description` a line. `/help` lists them and the adapter registers them with Telegram
/// (`setMyCommands`), so the menu and the help never disagree. Lines without a colon are
/// skipped.
pub fn commands(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (name, description) = line.split_once(':')?;
            let name = name.trim().trim_start_matches('/').to_lowercase();
            let description = description.trim();
            (!name.is_empty() && !description.is_empty()).then(|| (name, description.to_owned()))
        })
        .collect()
}

/// `1250` EUR → `12.50 EUR`; `500` JPY → `500 JPY`.
pub fn money(minor: i64, currency: &str) -> String {
    crate::money::with_currency(minor, currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_falls_back_to_default_then_english() {
        let mut settings = Settings::defaults().expect("defaults");
        settings.texts.insert(
            "de".into(),
            BTreeMap::from([("main_menu".to_owned(), "Hauptmenü".to_owned())]),
        );
        let german = Texts::for_language(&settings, Some("de-AT"));
        assert_eq!(german.get("main_menu"), "Hauptmenü");
        assert_eq!(german.get("menu_cart"), "Cart");
        let french = Texts::for_language(&settings, Some("fr"));
        assert_eq!(french.get("main_menu"), settings.texts["en"]["main_menu"]);
    }

    #[test]
    fn the_command_list_reads_one_command_a_line() {
        let settings = Settings::defaults().expect("defaults");
        let commands = commands(Texts::for_language(&settings, None).get("commands"));
        let names: Vec<&str> = commands.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "start", "catalog", "search", "cart", "orders", "profile", "help"
            ]
        );
        assert!(
            commands
                .iter()
                .all(|(_, description)| !description.is_empty())
        );
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_kept() {
        assert_eq!(fill("{a} and {b}", &[("a", "x")]), "x and {b}");
    }
}
