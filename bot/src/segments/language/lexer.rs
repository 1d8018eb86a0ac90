//! Cutting a rule's text into words, quoted names, parentheses and commas, each with its place
//! in the text so that an error can point at it.

use super::error::LanguageError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    /// A keyword, a number, a date, an operator such as `>=`, or `#12`.
    Word(String),
    /// A name in double quotes, unescaped.
    Quoted(String),
    Open,
    Close,
    Comma,
}

/// A token and the byte range it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Spanned {
    pub token: Token,
    pub start: usize,
    pub end: usize,
}

fn is_operator(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '≥' | '≤' | '!')
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | ',') || is_operator(c)
}

pub(super) fn tokens(text: &str) -> Result<Vec<Spanned>, LanguageError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let single = |token| Spanned {
            token,
            start,
            end: start + c.len_utf8(),
        };
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(single(Token::Open)),
            ')' => out.push(single(Token::Close)),
            ',' => out.push(single(Token::Comma)),
            '"' => {
                let mut name = String::new();
                let mut end = None;
                while let Some((at, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = Some(at + 1);
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, escaped)) => name.push(escaped),
                            None => break,
                        },
                        c => name.push(c),
                    }
                }
                let Some(end) = end else {
                    return Err(LanguageError::new(
                        "this name's closing quote `\"` is missing",
                        start,
                        text.len(),
                    ));
                };
                out.push(Spanned {
                    token: Token::Quoted(name),
                    start,
                    end,
                });
            }
            c if is_operator(c) => {
                let mut end = start + c.len_utf8();
                while let Some(&(at, next)) = chars.peek() {
                    if !is_operator(next) {
                        break;
                    }
                    end = at + next.len_utf8();
                    chars.next();
                }
                out.push(Spanned {
                    token: Token::Word(text[start..end].to_owned()),
                    start,
                    end,
                });
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(at, next)) = chars.peek() {
                    // A comma between digits belongs to the word, so that `20,00` is read as
                    // one (wrong) amount rather than as a list.
                    let digit_comma = next == ','
                        && text[..at].ends_with(|c: char| c.is_ascii_digit())
                        && text[at + 1..].starts_with(|c: char| c.is_ascii_digit());
                    if ends_word(next) && !digit_comma {
                        break;
                    }
                    end = at + next.len_utf8();
                    chars.next();
                }
                out.push(Spanned {
                    token: Token::Word(text[start..end].to_owned()),
                    start,
                    end,
                });
            }
        }
    }
    Ok(out)
}
