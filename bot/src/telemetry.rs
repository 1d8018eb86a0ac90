//! Logging: `tracing` with an `EnvFilter` from `STOREBOT_LOG` (or `RUST_LOG`), and the `log`
//! records of teloxide and sqlx bridged in. Logs go to standard error so that standard output
//! stays clean for the terminal chat and for `--json`; colours only when standard error is a
//! terminal, so a journal or a log file gets no escape codes. Also how an error and its causes
//! read as one sentence.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `default` applies when neither variable is set, e.g.
/// `"info"` for the bot and `"warn"` for the admin tool.
pub fn init(default: &str) {
    let filter = std::env::var("STOREBOT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // `try_init` also installs the log-to-tracing bridge (the `tracing-log` feature). It fails
    // only when a subscriber is already set, as in tests that start the bot twice: keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// `error` and its causes as one sentence, `: ` between them, each cause once: a cause whose
/// text is already in the sentence (libraries often repeat their source in their own message,
/// as teloxide and reqwest do) is left out.
pub fn one_sentence(error: &(dyn std::error::Error + 'static)) -> String {
    let mut sentence = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !sentence.contains(&text) {
            sentence.push_str(": ");
            sentence.push_str(&text);
        }
        source = cause.source();
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::one_sentence;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn chain(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |source, text| {
                Some(Layer {
                    text,
                    source: source.map(Box::new),
                })
            })
            .unwrap_or(Layer {
                text: "",
                source: None,
            })
    }

    #[test]
    fn each_cause_appears_once() {
        let repeated = chain(&[
            "A network error: error sending request",
            "error sending request",
            "client error (Connect)",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            one_sentence(&repeated),
            "A network error: error sending request: client error (Connect): Connection \
             refused (os error 111)"
        );
    }
}
