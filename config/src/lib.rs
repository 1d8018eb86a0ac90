//! Typed settings shared by `storebot` and `storebot-admin`.
//!
//! Settings are layered: the defaults embedded from `config/default.toml`, then an optional
//! file (`--config PATH` or `STOREBOT_CONFIG`), then environment variables
//! `STOREBOT_<SECTION>__<KEY>`, which win. Every struct denies unknown fields, so a misspelt
//! key is an error that names the key and the layer it came from. Secrets (the bot token, the
//! webhook secret and the password inside the database URL) never appear in `Debug` output.
//!
//! This crate only reads and checks configuration; it opens no connection and starts nothing.

mod secret;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Deserializer};

pub use secret::{DatabaseUrl, Secret};

/// The defaults, compiled in so that no binary or test depends on the working directory.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

/// The environment variable that names a configuration file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "STOREBOT_CONFIG";

/// Everything both binaries can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub store: StoreSettings,
    pub database: DatabaseSettings,
    pub telegram: TelegramSettings,
    pub segments: SegmentSettings,
    pub checkout: CheckoutSettings,
    pub messages: MessageSettings,
    pub payments: PaymentSettings,
    /// Shopper-facing texts by language code, then by key: `texts.en` holds every key; other
    /// languages (`[texts.de]`) override some of them and fall back to English for the rest.
    pub texts: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Shown to shoppers in the greeting and to the merchant in notifications.
    pub name: String,
    /// ISO 4217 code; every price and total is an integer count of this currency's minor units.
    pub currency: String,
    /// IANA zone in which dates are shown and whole-day segment bounds are cut.
    pub time_zone: chrono_tz::Tz,
    /// The language used when a shopper's Telegram language has no texts of its own.
    pub default_language: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH?mode=rwc` or `postgres://USER:PASSWORD@HOST/DB`.
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// How long SQLite waits for a lock held by another connection before giving up.
    #[serde(deserialize_with = "human_duration")]
    pub busy_timeout: Duration,
    /// How long to wait for the database server before saying it can't be reached; also how
    /// long an update waits for a pooled connection before the shopper is asked to try again
    /// (sqlx has one timeout for both), so a database gone mid-run costs a quick apology.
    #[serde(deserialize_with = "human_duration")]
    pub connect_timeout: Duration,
    /// `storebot run` retries an unreachable database at start: first after `retry_initial`,
    /// then doubling up to `retry_max` between tries, for at most `retry_for` in all (`0s`
    /// gives up at once). The admin tool does not retry: a person is waiting for an answer.
    #[serde(deserialize_with = "human_duration")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "human_duration")]
    pub retry_max: Duration,
    #[serde(deserialize_with = "human_duration")]
    pub retry_for: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot token from @BotFather.
    pub token: Option<Secret>,
    /// Another Bot API server (self-hosted, or a fake one in tests) instead of Telegram's.
    pub api_url: Option<url::Url>,
    pub mode: TelegramMode,
    /// Chats that receive a notification for every new order.
    #[serde(deserialize_with = "one_or_many")]
    pub merchant_chats: Vec<i64>,
    /// When set, only these Telegram users may press the order buttons in the merchant chats
    /// (a merchant chat may be a group with others in it); empty lets everyone there.
    #[serde(default, deserialize_with = "one_or_many")]
    pub merchant_users: Vec<i64>,
    pub webhook: WebhookSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    /// Long polling: one instance, no public address needed.
    Polling,
    /// Telegram posts updates to `telegram.webhook.listen`; several instances may share it.
    Webhook,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub listen: SocketAddr,
    pub path: String,
    /// The public HTTPS address Telegram posts to; only `storebot-admin webhook set` uses it.
    pub url: Option<url::Url>,
    /// Checked on every request (`X-Telegram-Bot-Api-Secret-Token`).
    pub secret_token: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSettings {
    /// How often the background job recomputes every automatic segment.
    #[serde(deserialize_with = "human_duration")]
    pub refresh_interval: Duration,
    /// Order statuses that count towards average check, total check and order count.
    pub counted_statuses: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutSettings {
    /// Ask for a phone number (Telegram's contact button or typed) before confirming.
    pub ask_contact: bool,
    /// Ask for a delivery address before confirming.
    pub ask_address: bool,
}

/// The outbox sender: join messages and broadcasts, within Telegram's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSettings {
    /// At most this many outbox messages a second from one bot instance (Telegram allows
    /// about 30 a second overall).
    pub per_second: u32,
    /// At least this long between two outbox messages to one chat (Telegram: 1 a second).
    #[serde(deserialize_with = "human_duration")]
    pub per_chat_interval: Duration,
    /// How often the sender looks for due messages when the outbox was empty.
    #[serde(deserialize_with = "human_duration")]
    pub poll_interval: Duration,
    /// A message claimed this long ago and never confirmed belongs to a sender that died
    /// mid-send: it becomes `unknown` and is never sent again. Keep it well above a send's
    /// timeout (about 20s).
    #[serde(deserialize_with = "human_duration")]
    pub claim_timeout: Duration,
    /// Tries of one message after server errors before it is marked failed.
    pub max_attempts: u32,
    /// At most this many sends waiting for Telegram's answer at once, so that a slow round
    /// trip doesn't hold the rate below `per_second`. A crash leaves at most this many
    /// messages of unknown fate.
    pub in_flight: u32,
}

/// How shoppers pay: on delivery (the default), through a payment provider connected in
/// @BotFather, or in Telegram Stars.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub provider: PaymentProvider,
    /// The provider token @BotFather gives when a payment provider is connected; required for
    /// `telegram`, refused for `stars` (Stars take no token).
    pub provider_token: Option<Secret>,
    /// An order left unpaid this long expires and its stock returns.
    #[serde(deserialize_with = "human_duration")]
    pub expire_after: Duration,
    /// With `stars`: how many Stars one major unit of `store.currency` costs (e.g. 50 Stars for
    /// 1.00 EUR). Each invoice line is converted and rounded up to a whole Star.
    pub stars_per_unit: Option<u32>,
}

/// Who takes the shopper's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProvider {
    /// Pay on delivery: Confirm places the order and the merchant collects the money.
    None,
    /// Telegram Payments with a provider token, in `store.currency`.
    Telegram,
    /// Telegram Stars (`XTR`).
    Stars,
}

/// A configuration that could not be loaded, with the layer at fault.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration file {path} can't be read: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration error in {layer}: {message}")]
    Invalid { layer: String, message: String },
}

impl Settings {
    /// The embedded defaults alone.
    pub fn defaults() -> Result<Self, SettingsError> {
        Self::load_from(None, std::iter::empty())
    }

    /// Defaults, then `file` (or the file named by `STOREBOT_CONFIG`), then the process
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let from_env = std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(from_env);
        Self::load_from(file.as_deref(), std::env::vars())
    }

    /// The layering itself, with the environment passed in so tests need not touch the
    /// process's own.
    ///
    /// Each layer is checked on top of the ones before it, so an error names the layer that
    /// brought the bad key: the file by its path, or the environment.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        check(builder.clone(), "the built-in defaults")?;

        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| SettingsError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                })?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
            check(builder.clone(), &format!("file {}", path.display()))?;
        }

        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with("STOREBOT_") && key.contains("__"))
            .collect();
        let env_keys: HashSet<&str> = env.keys().map(String::as_str).collect();
        let mut keys: Vec<String> = env_keys.into_iter().map(str::to_owned).collect();
        keys.sort_unstable();
        let layer = if keys.is_empty() {
            "the environment".to_owned()
        } else {
            format!("environment variables {}", keys.join(", "))
        };
        let all = check(builder.clone().add_source(environment(env.clone())), &layer);
        let Err(error) = all else {
            return all;
        };
        // Blame the variable that is wrong on its own, so an innocent one is not named with it;
        // only a mistake that needs several together names them all.
        for key in &keys {
            let alone: config::Map<String, String> = env
                .iter()
                .filter(|(other, _)| *other == key)
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            let layer = format!("environment variable {key}");
            // Only what the variable can't be on its own (an unknown key, a bad value) is
            // blamed on it: a rule across keys (payments.provider with its token) may well
            // fail with one of them alone.
            parse(builder.clone().add_source(environment(alone)), &layer)?;
        }
        Err(error)
    }

    /// The configured bot token, or a sentence telling the merchant how to provide one.
    pub fn require_token(&self) -> Result<&Secret, MissingToken> {
        self.telegram.token.as_ref().ok_or(MissingToken)
    }
}

/// The `STOREBOT_SECTION__KEY` variables as a configuration source.
fn environment(env: config::Map<String, String>) -> Environment {
    Environment::with_prefix("STOREBOT")
        .prefix_separator("_")
        .separator("__")
        .list_separator(",")
        .with_list_parse_key("telegram.merchant_chats")
        .with_list_parse_key("telegram.merchant_users")
        .with_list_parse_key("segments.counted_statuses")
        .try_parsing(true)
        .source(Some(env))
}

/// No bot token is configured.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Telegram bot token is configured: set STOREBOT_TELEGRAM__TOKEN, or `token` under \
     [telegram] in the file given with --config (get a token from @BotFather)"
)]
pub struct MissingToken;

fn check(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    layer: &str,
) -> Result<Settings, SettingsError> {
    let settings = parse(builder, layer)?;
    settings
        .validate()
        .map_err(|message| SettingsError::Invalid {
            layer: layer.to_owned(),
            message,
        })?;
    Ok(settings)
}

/// The settings of `builder` as read, before the checks across keys.
fn parse(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    layer: &str,
) -> Result<Settings, SettingsError> {
    let invalid = |error: config::ConfigError| SettingsError::Invalid {
        layer: layer.to_owned(),
        message: error.to_string(),
    };
    builder
        .build()
        .map_err(invalid)?
        .try_deserialize()
        .map_err(invalid)
}

/// `store.currency` must be a currency ISO 4217 lists as in use: a typo (`EUX`), a retired
/// code (`HRK`, now EUR) or a non-money code (`XAU`, gold; `XXX`, none) would price every
/// product in something no shopper can pay.
fn check_currency(currency: &str) -> Result<(), String> {
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "store.currency must be a three-letter ISO 4217 code such as EUR, not `{currency}`"
        ));
    }
    let Some(known) = iso_currency::Currency::from_code(currency) else {
        return Err(format!(
            "store.currency `{currency}` is not an ISO 4217 currency code: use one such as EUR, USD or JPY"
        ));
    };
    if let Some(successor) = known.is_superseded() {
        return Err(format!(
            "store.currency `{currency}` is no longer in use: {} replaced it",
            successor.code()
        ));
    }
    if known.is_special() || known.exponent().is_none() {
        return Err(format!(
            "store.currency `{currency}` ({}) is not a currency prices can be given in",
            known.name()
        ));
    }
    Ok(())
}

impl Settings {
    /// Checks that span several keys or that serde can't express.
    fn validate(&self) -> Result<(), String> {
        check_currency(&self.store.currency)?;
        if self.database.max_connections == 0 {
            return Err("database.max_connections must be at least 1".to_owned());
        }
        let database = &self.database;
        if database.retry_initial.is_zero() || database.retry_max < database.retry_initial {
            return Err(
                "database.retry_initial must be more than 0s and at most database.retry_max"
                    .to_owned(),
            );
        }
        if self.segments.refresh_interval < Duration::from_secs(1) {
            return Err("segments.refresh_interval must be at least 1s".to_owned());
        }
        if self.messages.per_second == 0 {
            return Err("messages.per_second must be at least 1".to_owned());
        }
        if self.messages.max_attempts == 0 {
            return Err("messages.max_attempts must be at least 1".to_owned());
        }
        if self.messages.in_flight == 0 {
            return Err("messages.in_flight must be at least 1".to_owned());
        }
        if self.messages.poll_interval.is_zero() {
            return Err("messages.poll_interval must be more than 0s".to_owned());
        }
        let Some(english) = self.texts.get("en") else {
            return Err(
                "texts.en is missing: every shopper-facing text needs an English version"
                    .to_owned(),
            );
        };
        for (language, texts) in &self.texts {
            if let Some(key) = texts.keys().find(|key| !english.contains_key(*key)) {
                return Err(format!(
                    "texts.{language}.{key} is not a known text (texts.en lists every key)"
                ));
            }
        }
        self.validate_payments()?;
        if !self.telegram.webhook.path.starts_with('/') {
            return Err(format!(
                "telegram.webhook.path must start with `/`, not `{}`",
                self.telegram.webhook.path
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// An incomplete payments configuration, named by its key in one sentence.
    fn validate_payments(&self) -> Result<(), String> {
        let payments = &self.payments;
        let token = payments
            .provider_token
            .as_ref()
            .map(|token| token.expose().trim().to_owned());
        match payments.provider {
            PaymentProvider::Telegram if token.as_deref().is_none_or(str::is_empty) => {
                return Err(
                    "payments.provider_token is required with payments.provider = \
                            \"telegram\": connect a payment provider in @BotFather and set \
                            STOREBOT_PAYMENTS__PROVIDER_TOKEN"
                        .to_owned(),
                );
            }
            PaymentProvider::Stars if token.is_some() => {
                return Err(
                    "payments.provider_token must not be set with payments.provider = \
                            \"stars\": Telegram Stars take no provider token"
                        .to_owned(),
                );
            }
            PaymentProvider::Stars if payments.stars_per_unit.is_none_or(|rate| rate == 0) => {
                return Err(format!(
                    "payments.stars_per_unit is required with payments.provider = \"stars\": \
                     how many Stars one {} costs, a whole number of at least 1",
                    self.store.currency
                ));
            }
            _ => {}
        }
        if payments.provider != PaymentProvider::None
            && payments.expire_after < Duration::from_secs(1)
        {
            return Err("payments.expire_after must be at least 1s".to_owned());
        }
        Ok(())
    }
}

fn human_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|error| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({error}); write e.g. `30s`, `5m` or `1h`"
        ))
    })
}

/// A list of chat ids that may also be written as a single one: the environment layer reads
/// `STOREBOT_TELEGRAM__MERCHANT_CHATS=-100777` as one number, and `10,-20` as a list of texts.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ChatId {
        Number(i64),
        Text(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(ChatId),
        Many(Vec<ChatId>),
    }
    let ids = match OneOrMany::deserialize(deserializer) {
        Ok(OneOrMany::One(id)) => vec![id],
        Ok(OneOrMany::Many(ids)) => ids,
        Err(_) => {
            return Err(serde::de::Error::custom(
                "expected a chat id or a list of chat ids",
            ));
        }
    };
    ids.into_iter()
        .map(|id| match id {
            ChatId::Number(number) => Ok(number),
            ChatId::Text(text) => text.trim().parse().map_err(|_| {
                serde::de::Error::custom(format!("`{text}` is not a chat id (a whole number)"))
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_file(text: &str) -> (tempfile::NamedTempFile, Result<Settings, SettingsError>) {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write");
        let result = Settings::load_from(Some(file.path()), std::iter::empty());
        (file, result)
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_load_and_use_embedded_sqlite() {
        let settings = Settings::defaults().expect("defaults");
        assert_eq!(
            settings.database.url.expose(),
            "sqlite://storebot.db?mode=rwc"
        );
        assert_eq!(settings.segments.refresh_interval, Duration::from_secs(300));
        assert_eq!(settings.telegram.mode, TelegramMode::Polling);
        assert!(settings.telegram.token.is_none());
        assert!(
            !settings
                .segments
                .counted_statuses
                .contains(&"cancelled".to_owned())
        );
    }

    #[test]
    fn an_incomplete_payments_configuration_is_refused_naming_its_key() {
        let defaults = Settings::defaults().expect("defaults");
        assert_eq!(defaults.payments.provider, PaymentProvider::None);
        assert_eq!(defaults.payments.expire_after, Duration::from_secs(30 * 60));
        for (pairs, key) in [
            (
                vec![("STOREBOT_PAYMENTS__PROVIDER", "telegram")],
                "payments.provider_token is required",
            ),
            (
                vec![
                    ("STOREBOT_PAYMENTS__PROVIDER", "stars"),
                    ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", "1:TEST"),
                    ("STOREBOT_PAYMENTS__STARS_PER_UNIT", "50"),
                ],
                "payments.provider_token must not be set",
            ),
            (
                vec![("STOREBOT_PAYMENTS__PROVIDER", "stars")],
                "payments.stars_per_unit is required",
            ),
        ] {
            let message = Settings::load_from(None, env(&pairs))
                .expect_err("refused")
                .to_string();
            assert!(message.contains(key), "{message}");
            assert!(!message.contains("1:TEST"), "{message}");
        }
        let telegram = Settings::load_from(
            None,
            env(&[
                ("STOREBOT_PAYMENTS__PROVIDER", "telegram"),
                ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", "284685063:TEST:secret"),
            ]),
        )
        .expect("complete");
        assert!(!format!("{telegram:?}").contains("284685063:TEST:secret"));
    }

    #[test]
    fn misspelt_key_in_file_is_named_with_the_file() {
        let (file, result) = load_file("[telegram]\ntokn = \"x\"\n");
        let message = result.expect_err("must fail").to_string();
        assert!(message.contains("tokn"), "{message}");
        assert!(
            message.contains(&file.path().display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn unknown_section_is_rejected() {
        let (_file, result) = load_file("[telegarm]\ntoken = \"x\"\n");
        let message = result.expect_err("must fail").to_string();
        assert!(message.contains("telegarm"), "{message}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let (_file, result) = load_file("[database]\nmax_connections = \"many\"\n");
        let message = result.expect_err("must fail").to_string();
        assert!(message.contains("max_connections"), "{message}");
    }

    #[test]
    fn bad_duration_says_how_to_write_one() {
        let (_file, result) = load_file("[segments]\nrefresh_interval = \"often\"\n");
        let message = result.expect_err("must fail").to_string();
        assert!(
            message.contains("often") && message.contains("5m"),
            "{message}"
        );
    }

    #[test]
    fn bad_time_zone_is_rejected() {
        let (_file, result) = load_file("[store]\ntime_zone = \"Mars/Olympus\"\n");
        assert!(result.is_err());
    }

    #[test]
    fn file_overrides_defaults_and_environment_overrides_file() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"[store]\nname = \"From file\"\ncurrency = \"USD\"\n")
            .expect("write");
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[
                ("STOREBOT_STORE__NAME", "From env"),
                ("STOREBOT_TELEGRAM__TOKEN", "123:secret"),
                ("STOREBOT_TELEGRAM__MERCHANT_CHATS", "10,-20"),
                ("STOREBOT_DATABASE__MAX_CONNECTIONS", "3"),
                ("UNRELATED", "ignored"),
            ]),
        )
        .expect("settings");
        assert_eq!(settings.store.name, "From env");
        assert_eq!(settings.store.currency, "USD");
        assert_eq!(settings.database.max_connections, 3);
        assert_eq!(settings.telegram.merchant_chats, vec![10, -20]);
        let one = Settings::load_from(
            None,
            env(&[("STOREBOT_TELEGRAM__MERCHANT_CHATS", "-100777")]),
        )
        .expect("one chat");
        assert_eq!(one.telegram.merchant_chats, vec![-100777]);
        let bad = Settings::load_from(
            None,
            env(&[("STOREBOT_TELEGRAM__MERCHANT_CHATS", "10,ten")]),
        )
        .expect_err("not a chat id");
        assert!(bad.to_string().contains("`ten` is not a chat id"), "{bad}");
        assert_eq!(
            settings.require_token().expect("token").expose(),
            "123:secret"
        );
    }

    #[test]
    fn a_misspelt_environment_variable_is_named_alone() {
        let result = Settings::load_from(
            None,
            env(&[
                ("STOREBOT_DATABASE__URL", "sqlite://shop.db?mode=rwc"),
                ("STOREBOT_DATABSE__URL", "sqlite://other.db"),
            ]),
        );
        let message = result.expect_err("misspelt").to_string();
        assert!(
            message.contains("environment variable STOREBOT_DATABSE__URL:"),
            "{message}"
        );
        assert!(!message.contains("STOREBOT_DATABASE__URL"), "{message}");
    }

    #[test]
    fn misspelt_environment_variable_is_named() {
        let result = Settings::load_from(None, env(&[("STOREBOT_TELEGRAM__TOKN", "123:secret")]));
        let message = result.expect_err("must fail").to_string();
        assert!(message.contains("STOREBOT_TELEGRAM__TOKN"), "{message}");
        assert!(message.contains("tokn"), "{message}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let settings = Settings::load_from(
            None,
            env(&[
                ("STOREBOT_TELEGRAM__TOKEN", "123:very-secret-token"),
                ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", "hook-secret"),
                (
                    "STOREBOT_DATABASE__URL",
                    "postgres://shop:db-password@localhost/shop",
                ),
            ]),
        )
        .expect("settings");
        let debug = format!("{settings:?}");
        for secret in ["very-secret-token", "hook-secret", "db-password"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("localhost/shop"), "{debug}");
    }

    #[test]
    fn missing_token_explains_how_to_set_it() {
        let settings = Settings::defaults().expect("defaults");
        let message = settings.require_token().expect_err("no token").to_string();
        assert!(message.contains("STOREBOT_TELEGRAM__TOKEN"), "{message}");
        assert!(message.contains("@BotFather"), "{message}");
    }

    #[test]
    fn texts_of_another_language_override_english_keys_only() {
        let (_file, result) = load_file("[texts.de]\nmain_menu = \"Hauptmenü\"\n");
        let settings = result.expect("settings");
        assert_eq!(settings.texts["de"]["main_menu"], "Hauptmenü");
        let (_file, result) = load_file("[texts.de]\nmain_menuu = \"Hauptmenü\"\n");
        let message = result.expect_err("must fail").to_string();
        assert!(message.contains("texts.de.main_menuu"), "{message}");
    }

    #[test]
    fn a_currency_iso_4217_does_not_list_as_in_use_is_refused() {
        for (code, expected) in [
            (
                "EUX",
                "store.currency `EUX` is not an ISO 4217 currency code",
            ),
            (
                "HRK",
                "store.currency `HRK` is no longer in use: EUR replaced it",
            ),
            ("XXX", "is not a currency prices can be given in"),
        ] {
            let (_file, result) = load_file(&format!("[store]\ncurrency = \"{code}\"\n"));
            let message = result.expect_err(code).to_string();
            assert!(message.contains(expected), "{code}: {message}");
        }
        for code in ["EUR", "JPY", "KWD", "CHF"] {
            let (_file, result) = load_file(&format!("[store]\ncurrency = \"{code}\"\n"));
            assert!(result.is_ok(), "{code}: {result:?}");
        }
    }

    #[test]
    fn lowercase_currency_is_rejected() {
        let (_file, result) = load_file("[store]\ncurrency = \"eur\"\n");
        let message = result.expect_err("must fail").to_string();
        assert!(message.contains("store.currency"), "{message}");
    }
}
