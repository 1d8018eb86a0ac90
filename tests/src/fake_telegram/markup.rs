//! Formatted text (`parse_mode`): the checks Telegram makes before it accepts a message, so
//! that an escaping bug fails in the tests as it would in production, and the text the user
//! then reads.
//!
//! This is a subset of Telegram's parser: HTML tags must be known and balanced and a bare `<`
//! is rejected; MarkdownV2 rejects the reserved characters that can never be markup when they
//! are not escaped. Entities are not computed.

/// The description Telegram gives when it cannot parse the text, or `None` when it can.
pub(crate) fn check(text: &str, parse_mode: Option<&str>) -> Option<String> {
    let problem = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => check_html(text),
        Some("markdownv2") => check_markdown_v2(text),
        _ => None,
    };
    problem.map(|problem| format!("Bad Request: can't parse entities: {problem}"))
}

/// The text without markup, with escapes resolved.
pub(crate) fn visible_text(text: &str, parse_mode: Option<&str>) -> String {
    match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => html_visible(text),
        Some("markdownv2") => markdown_visible(text, true),
        Some("markdown") => markdown_visible(text, false),
        _ => text.to_owned(),
    }
}

const HTML_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

fn check_html(text: &str) -> Option<String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find('<') {
        let at = offset + start;
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            return Some(format!("Unclosed start tag at byte offset {at}"));
        };
        let inside = &after[..end];
        let (closing, body) = match inside.strip_prefix('/') {
            Some(body) => (true, body),
            None => (false, inside),
        };
        let name: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() || !HTML_TAGS.contains(&name.as_str()) {
            let kind = if closing { "end" } else { "start" };
            return Some(format!(
                "Unsupported {kind} tag \"{name}\" at byte offset {at}"
            ));
        }
        if closing {
            match open.pop() {
                Some(expected) if expected == name => {}
                Some(expected) => {
                    return Some(format!(
                        "Unmatched end tag at byte offset {at}, expected \"</{expected}>\", found \"</{name}>\""
                    ));
                }
                None => {
                    return Some(format!("Unexpected end tag at byte offset {at}"));
                }
            }
        } else {
            open.push(name);
        }
        let consumed = start + 1 + end + 1;
        rest = &rest[consumed..];
        offset += consumed;
    }
    open.pop()
        .map(|name| format!("Can't find end tag corresponding to start tag \"{name}\""))
}

fn html_visible(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    unescape_html(&plain)
}

fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let entity = after.find(';').map(|end| (&after[1..end], end + 1));
        let decoded = entity.and_then(|(name, len)| {
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, len))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &after[len..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Characters that MarkdownV2 reserves and that are never markup on their own, so an
/// unescaped one is always an error. (`>` is a quote only at the start of a line, `(`/`)` only
/// around a link's URL.)
const MARKDOWN_V2_NEVER_MARKUP: &[char] = &['.', '!', '#', '+', '-', '=', '{', '}'];

fn check_markdown_v2(text: &str) -> Option<String> {
    let mut chars = text.char_indices().peekable();
    let mut line_start = true;
    let mut in_code = false;
    let mut in_url = false;
    while let Some((_, c)) = chars.next() {
        let was_line_start = line_start;
        line_start = c == '\n';
        if c == '\\' {
            chars.next();
            continue;
        }
        if c == '`' {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if in_url {
            in_url = c != ')';
            continue;
        }
        if c == ']' && chars.peek().is_some_and(|&(_, next)| next == '(') {
            chars.next();
            in_url = true;
            continue;
        }
        let reserved = MARKDOWN_V2_NEVER_MARKUP.contains(&c)
            || c == '('
            || c == ')'
            || (c == '>' && !was_line_start);
        if reserved {
            return Some(format!(
                "Character '{c}' is reserved and must be escaped with the preceding '\\'"
            ));
        }
    }
    None
}

fn markdown_visible(text: &str, v2: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_url = false;
    while let Some(c) = chars.next() {
        if in_url {
            in_url = c != ')';
            continue;
        }
        match c {
            '\\' if v2 => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '*' | '_' | '`' | '[' => {}
            '~' | '|' if v2 => {}
            ']' if chars.peek() == Some(&'(') => {
                chars.next();
                in_url = true;
            }
            ']' => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_checked_and_stripped() {
        assert_eq!(check("<b>Tea</b> &amp; <i>cake</i>", Some("HTML")), None);
        assert_eq!(
            visible_text(
                "<b>Tea</b> &amp; <a href=\"x\">cake</a> &lt;3",
                Some("HTML")
            ),
            "Tea & cake <3"
        );
        assert!(check("1 < 2", Some("HTML")).is_some());
        assert!(check("<b>bold", Some("HTML")).is_some());
        assert!(check("<b>x</i>", Some("HTML")).is_some());
        assert!(check("<blink>x</blink>", Some("HTML")).is_some());
        assert_eq!(check("1 < 2", None), None);
    }

    #[test]
    fn markdown_v2_is_checked_and_stripped() {
        assert_eq!(
            check(
                "*Total:* 5\\.00 [shop](https://x.org/a-b)",
                Some("MarkdownV2")
            ),
            None
        );
        assert_eq!(check("> quoted `a.b`", Some("MarkdownV2")), None);
        assert!(check("Total: 5.00", Some("MarkdownV2")).is_some());
        assert!(check("(optional)", Some("MarkdownV2")).is_some());
        assert_eq!(
            visible_text("*Total:* 5\\.00 [shop](https://x.org)", Some("MarkdownV2")),
            "Total: 5.00 shop"
        );
    }
}
