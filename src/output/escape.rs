//! One escape for text that reaches a terminal, a log line or a pull request.
//!
//! Repository content (file names, commands, manifest values) is untrusted. Printed as is, an
//! ANSI or OSC sequence rewrites the terminal (or hides a command behind a fake one), a
//! carriage return or a C1 control overwrites a line, a bidi override makes `a` read as `b`,
//! and a newline in a logged value forges a log line. Every text output escapes the same set,
//! here: C0 controls except newline and tab, DEL, C1 controls, and the bidi embeddings,
//! overrides and isolates. ESC (C0) and CSI (C1) are escaped, so no ANSI/OSC sequence survives.
//! Escaped characters become `\u{..}`, visible and unambiguous.

use std::borrow::Cow;
use std::fmt::Write;

/// True for a character [`escape_control`] escapes.
pub fn is_unsafe(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as `\u{..}`; newline and tab are kept.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape_control`] for one log line: newlines and tabs are escaped too.
pub fn escape_log(text: &str) -> Cow<'_, str> {
    match escape_control(text) {
        Cow::Borrowed(t) if !t.contains(['\n', '\t']) => Cow::Borrowed(t),
        t => Cow::Owned(t.replace('\n', "\\n").replace('\t', "\\t")),
    }
}

/// The text log's field formatter: `name=value`, the message bare, every value escaped by
/// [`escape_log`], so one event is one line whatever a logged value holds.
pub fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let v = format!("{value:?}");
        let v = escape_log(&v);
        if field.name() == "message" {
            write!(w, "{v}")
        } else {
            write!(w, "{field}={v}")
        }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_ansi_and_bidi_are_escaped() {
        assert_eq!(escape_control("web: node app.js\n\tok"), "web: node app.js\n\tok");
        assert_eq!(escape_control("a\u{1b}[2Kb"), "a\\u{1b}[2Kb");
        assert_eq!(escape_control("x\u{1b}]8;;http://e\u{7}y"), "x\\u{1b}]8;;http://e\\u{7}y");
        assert_eq!(escape_control("fake\rreal"), "fake\\u{d}real");
        assert_eq!(escape_control("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape_control("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
        assert_eq!(escape_control("caf\u{e9} \u{1f600}"), "caf\u{e9} \u{1f600}");
    }

    #[test]
    fn log_values_stay_on_one_line() {
        assert_eq!(escape_log("a\nINFO forged"), "a\\nINFO forged");
    }

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_logged_value_cannot_forge_a_line_or_drive_the_terminal() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .fmt_fields(log_fields())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let url = "https://x\n2026-01-01T00:00:00Z  INFO admin logged in \u{1b}[2K";
            tracing::warn!(url = %url, "source refused: {}", "a\rb");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(text.contains("url=https://x\\n2026"), "{text}");
    }
}
