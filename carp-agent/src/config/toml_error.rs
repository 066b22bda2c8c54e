//! TOML errors that never show a password.
//!
//! The toml crate's error prints the offending source line, and serde's
//! type errors quote the value (``invalid type: integer `1234`, expected a
//! string``): a typo on the `password` line would put the secret into the
//! terminal, the journal and bug reports. So the agent keeps only the
//! position and the message, never the source line, and on a line that
//! mentions a password it also hides every quoted value in the message.

use std::{fmt, ops::Range};

/// What is shown instead of a hidden value.
const HIDDEN: &str = "<hidden>";

/// A TOML syntax or type error: where, and what, without source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TomlError {
    /// 1-based, when the parser knew the position.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub message: String,
}

impl TomlError {
    /// Keeps what is safe to show of `error`, raised while parsing `text`.
    pub fn new(error: &toml::de::Error, text: &str) -> TomlError {
        let span = error.span();
        let (line, column) = match &span {
            Some(span) => {
                let (line, column) = position(text, span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        // One line in the log: the parser's multi-line messages are joined.
        let message = error
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let message = match span.map(|span| secret_line(text, &span)) {
            Some(Line::Plain) => message,
            Some(Line::Secret(value)) => hide_value(&hide_quoted(&message), value),
            // Without a position, any line could be the password's.
            None | Some(Line::Unknown) => hide_quoted(&message),
        };
        TomlError {
            line,
            column,
            message,
        }
    }
}

impl fmt::Display for TomlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(
                f,
                "TOML parse error at line {line}, column {column}: {}",
                self.message
            ),
            _ => write!(f, "TOML parse error: {}", self.message),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.as_bytes().get(..offset).unwrap_or_default();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |nl| nl + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
        .chars()
        .count()
        + 1;
    (line, column)
}

/// What the line an error starts on may hold.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Plain,
    /// It mentions a password (`password = ...`, also inside an inline
    /// table): the text after its first `=`, trimmed and unquoted, is the
    /// value that must not appear in a message.
    Secret(&'a str),
    /// The position is not in the text: assume the worst.
    Unknown,
}

fn secret_line<'a>(text: &'a str, span: &Range<usize>) -> Line<'a> {
    let start = span.start.min(text.len());
    let (Some(before), Some(after)) = (text.get(..start), text.get(start..)) else {
        return Line::Unknown;
    };
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    let line_end = after.find('\n').map_or(text.len(), |nl| start + nl);
    let Some(line) = text.get(line_start..line_end) else {
        return Line::Unknown;
    };
    if !line.to_ascii_lowercase().contains("password") {
        return Line::Plain;
    }
    let value = line.split_once('=').map_or("", |(_, value)| value);
    Line::Secret(value.trim().trim_matches(['"', '\'']).trim())
}

/// Replaces every `` `...` `` and `"..."` part of `message` (how serde
/// quotes a value it did not expect), except in the messages that quote
/// key names only.
fn hide_quoted(message: &str) -> String {
    const KEY_NAMES_ONLY: [&str; 4] = [
        "unknown field ",
        "missing field ",
        "duplicate field ",
        "duplicate key ",
    ];
    if KEY_NAMES_ONLY.iter().any(|m| message.starts_with(m)) {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        match after.find(quote) {
            Some(close) => {
                out.push_str(HIDDEN);
                out.push(quote);
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(HIDDEN);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Belt and braces: the raw value of the password line, wherever it
/// still appears.
fn hide_value(message: &str, value: &str) -> String {
    if value.is_empty() {
        message.to_string()
    } else {
        message.replace(value, HIDDEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_characters() {
        assert_eq!(position("a = 1\nbé = x", 6), (2, 1));
        assert_eq!(position("a = 1\nbé = x", 12), (2, 6));
        assert_eq!(position("", 5), (1, 1));
    }

    #[test]
    fn quoted_parts_are_hidden() {
        assert_eq!(
            hide_quoted("invalid type: integer `1234`, expected a string"),
            "invalid type: integer `<hidden>`, expected a string"
        );
        assert_eq!(
            hide_quoted("invalid value: string \"abc\", unterminated `x"),
            "invalid value: string \"<hidden>\", unterminated `<hidden>"
        );
        assert_eq!(
            hide_quoted("duplicate key `password`"),
            "duplicate key `password`"
        );
    }

    #[test]
    fn the_password_line_is_recognised() {
        let text = "a = 1\npassword = 12345\nb = 2\n";
        assert_eq!(secret_line(text, &(17..22)), Line::Secret("12345"));
        assert_eq!(secret_line(text, &(0..1)), Line::Plain);
        assert_eq!(secret_line("é", &(1..2)), Line::Unknown);
    }
}
