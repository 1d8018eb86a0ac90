//! Webhook mode: an HTTP server on `telegram.webhook.listen` that takes Telegram's POSTs at
//! `telegram.webhook.path` (each checked against the secret token; 401 and nothing processed
//! otherwise) and answers `GET /healthz`. It never registers or deletes the webhook: with
//! several instances behind a load balancer, that is the merchant's admin command.

use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Telegram's updates are a few kilobytes; anything much larger is not from Telegram.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The path of the health check, which the webhook path may not take.
pub const HEALTH_PATH: &str = "/healthz";

/// How long `/healthz` waits for the database to answer `SELECT 1` before calling it
/// unreachable: a load balancer's health check usually gives up after a few seconds.
pub const HEALTH_DB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What `GET /healthz` answers, as JSON: 200 when the database is reachable and holds the
/// schema this build knows, 503 when not.
///
/// ```json
/// {"status":"ok","database":"reachable","schema":"current",
///  "last_recompute":{"trigger":"schedule","started_at":"…","finished_at":"…","error":null}}
/// ```
///
/// `schema` is `current`, or `unexpected` when the applied migrations are not exactly this
/// build's (a database recreated empty, or one of another version); it is left out when the
/// database is unreachable. `last_recompute` is the newest `recompute_run` (by any instance
/// or the admin tool), `null` when there has been none or the database is unreachable;
/// `finished_at` is `null` while it runs (or when it was interrupted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `reachable` or `unreachable`.
    pub database: &'static str,
    /// `current` or `unexpected`; absent when the database is unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'static str>,
    pub last_recompute: Option<LastRecompute>,
}

/// The newest recompute run, for [`Health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRecompute {
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl Health {
    /// The report for a database that answered or not, with the last run if known. A
    /// reachable database is taken to hold the expected schema (a dialogue without one of its
    /// own); see [`Health::unexpected_schema`].
    pub fn new(database_reachable: bool, last_recompute: Option<LastRecompute>) -> Self {
        if database_reachable {
            Self {
                status: "ok",
                database: "reachable",
                schema: Some("current"),
                last_recompute,
            }
        } else {
            Self {
                status: "unavailable",
                database: "unreachable",
                schema: None,
                last_recompute: None,
            }
        }
    }

    /// The report for a reachable database whose schema is not this build's: every update
    /// would fail, so the instance is unavailable.
    pub fn unexpected_schema() -> Self {
        Self {
            status: "unavailable",
            database: "reachable",
            schema: Some("unexpected"),
            last_recompute: None,
        }
    }

    fn status_code(&self) -> StatusCode {
        if self.status == "ok" {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Why webhook settings can't be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookConfigError {
    #[error(
        "webhook mode needs a secret token: set telegram.webhook.secret_token \
         (STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN), 1 to 256 of A-Z, a-z, 0-9, _ and -"
    )]
    MissingSecret,
    #[error(
        "telegram.webhook.secret_token may only hold 1 to 256 of A-Z, a-z, 0-9, _ and - \
         (Telegram's rule)"
    )]
    BadSecret,
    #[error(
        "telegram.webhook.path must start with / and hold no {{, }} or *, and may not be \
         {HEALTH_PATH}; it is {0:?}"
    )]
    BadPath(String),
}

/// Checks the secret token as Telegram does.
pub fn check_secret(secret: Option<&str>) -> Result<&str, WebhookConfigError> {
    let secret = secret.ok_or(WebhookConfigError::MissingSecret)?;
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-';
    if secret.is_empty() || secret.len() > 256 || !secret.bytes().all(allowed) {
        return Err(WebhookConfigError::BadSecret);
    }
    Ok(secret)
}

/// Checks that the path is one the router can serve as a fixed route.
pub fn check_path(path: &str) -> Result<&str, WebhookConfigError> {
    let fixed = path.starts_with('/') && !path.contains(['{', '}', '*']);
    if !fixed || path == HEALTH_PATH {
        return Err(WebhookConfigError::BadPath(path.to_owned()));
    }
    Ok(path)
}

/// Adds the health check, the body limit and the check for unreadable updates
/// ([`skip_unreadable`]) to teloxide's webhook router; `secret` is the webhook's secret token.
///
/// `intake` sees every readable update before it is answered: it records a payment, and
/// false (the database failed) answers 503 so that Telegram posts the update again.
pub fn router<H, F, P, PF>(
    updates: axum::Router,
    secret: &str,
    health: H,
    intake: P,
) -> axum::Router
where
    H: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Health> + Send + 'static,
    P: Fn(teloxide::types::Update) -> PF + Clone + Send + Sync + 'static,
    PF: Future<Output = bool> + Send + 'static,
{
    let intake: Intake = Arc::new(move |update| Box::pin(intake(update)));
    let updates = updates.layer(middleware::from_fn_with_state(
        (Arc::<str>::from(secret), intake),
        skip_unreadable,
    ));
    let health = axum::Router::new().route(
        HEALTH_PATH,
        get(move || async move {
            let report = health().await;
            (report.status_code(), Json(report))
        }),
    );
    updates
        .merge(health)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Looks at each update posted with the right secret before teloxide does: one teloxide can't
/// read (not JSON, or not an update it knows) is logged as its length and an excerpt and
/// answered 200, so Telegram does not post it again. teloxide would log its whole body at
/// ERROR: up to a megabyte, with whatever personal data it holds. A post without the right
/// secret goes on to teloxide, which refuses it (401) without reading it. Updates are small,
/// so reading each one twice costs little.
type Intake = Arc<
    dyn Fn(teloxide::types::Update) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>>
        + Send
        + Sync,
>;

async fn skip_unreadable(
    State((secret, intake)): State<(Arc<str>, Intake)>,
    request: Request,
    next: Next,
) -> Response {
    let authorised = request
        .headers()
        .get("X-Telegram-Bot-Api-Secret-Token")
        .is_some_and(|given| given.as_bytes() == secret.as_bytes());
    if !authorised || request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Past the limit (or a body cut off mid-way): refused, as the limit layer would.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let update = serde_json::from_slice::<teloxide::types::Update>(&bytes)
        .ok()
        .filter(|update| !matches!(update.kind, teloxide::types::UpdateKind::Error(_)));
    let Some(update) = update else {
        let text = String::from_utf8_lossy(&bytes);
        tracing::warn!(
            bytes = bytes.len(),
            excerpt = %super::excerpt::excerpt(&text, super::excerpt::UNREADABLE_EXCERPT_CHARS),
            "a webhook post the bot can't read as an update; skipped"
        );
        return StatusCode::OK.into_response();
    };
    if !intake(update).await {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_reports_unavailable_without_a_run() {
        let run = LastRecompute {
            trigger: "schedule".to_owned(),
            started_at: DateTime::UNIX_EPOCH,
            finished_at: None,
            error: None,
        };
        let down = Health::new(false, Some(run.clone()));
        assert_eq!(down.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.last_recompute, None);
        let up = Health::new(true, Some(run));
        assert_eq!(up.status_code(), StatusCode::OK);
        assert_eq!(up.status, "ok");
        let emptied = Health::unexpected_schema();
        assert_eq!(emptied.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(emptied.database, "reachable");
    }

    #[test]
    fn a_missing_secret_is_refused() {
        assert_eq!(check_secret(None), Err(WebhookConfigError::MissingSecret));
    }

    #[test]
    fn a_secret_with_characters_telegram_refuses_is_refused() {
        for secret in ["", "has space", "ünicode", &"x".repeat(257)] {
            assert_eq!(
                check_secret(Some(secret)),
                Err(WebhookConfigError::BadSecret)
            );
        }
        assert_eq!(check_secret(Some("Abc_123-x")), Ok("Abc_123-x"));
    }

    #[test]
    fn paths_the_router_cannot_serve_are_refused() {
        for path in ["telegram", "/{id}", "/a/*rest", "/healthz"] {
            assert!(check_path(path).is_err(), "{path}");
        }
        assert_eq!(check_path("/telegram"), Ok("/telegram"));
    }
}
