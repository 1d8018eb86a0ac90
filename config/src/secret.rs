//! Values that must never reach a log line or a `Debug` dump.

use serde::Deserialize;

/// A secret string (bot token, webhook secret). `Debug` prints `[redacted]`; reading it takes
/// an explicit [`Secret::expose`].
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A database URL whose password is redacted wherever it is shown.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The full URL, password included, for opening the connection.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The scheme before `:` (`sqlite`, `postgres`, ...), lowercased.
    pub fn scheme(&self) -> String {
        self.0
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// The URL with any password replaced, safe for logs and error messages.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // Setting a password only fails for URLs that cannot carry one, and this one
                // already does. `*` needs no percent-encoding in a URL's user info, so the
                // reader sees `***` (brackets would print as `%5Bredacted%5D`).
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(_) => self.0.clone(),
            // Not a URL at all: show only the scheme, the rest might be a secret.
            Err(_) => format!("{}:[unparsed]", self.scheme()),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted_but_host_is_kept() {
        let url = DatabaseUrl::new("postgres://shop:hunter2@db.internal:5432/shop");
        let shown = url.redacted();
        assert_eq!(shown, "postgres://shop:***@db.internal:5432/shop");
    }

    #[test]
    fn sqlite_url_is_shown_whole() {
        let url = DatabaseUrl::new("sqlite://storebot.db?mode=rwc");
        assert_eq!(url.redacted(), "sqlite://storebot.db?mode=rwc");
        assert_eq!(url.scheme(), "sqlite");
    }

    #[test]
    fn secret_debug_hides_the_value() {
        assert_eq!(format!("{:?}", Secret::new("abc")), "Secret([redacted])");
    }
}
