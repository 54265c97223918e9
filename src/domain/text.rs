//! User-written text as it is stored: one normalisation for comments,
//! titles, descriptions, season texts and report details, so a rule about
//! what counts as "empty" or "invisible" holds everywhere at once.
//!
//! Control characters go (tabs too; newlines stay where the field is
//! multi-line), and so do the invisible format characters: bidirectional
//! overrides and isolates (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
//! U+061C), which can make text read backwards on the page, and zero-width
//! characters (U+200B, U+2060–U+2064, U+FEFF, U+00AD, U+180E), which make a
//! comment that looks empty. The zero-width joiners (U+200C, U+200D) stay
//! inside text, where emoji sequences and Persian need them, but text made
//! only of them and spaces counts as empty. What is left is trimmed; a field
//! that must say something refuses the result when it is empty.

/// Whether `c` is an invisible format character that text fields drop.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// One line of text (a title, a name): controls and invisible format
/// characters removed, surrounding whitespace trimmed.
pub fn single_line(raw: &str) -> String {
    let kept: String = raw.chars().filter(|c| !c.is_control() && !is_invisible_format(*c)).collect();
    visible_or_empty(kept.trim())
}

/// `text`, or nothing when all it holds is whitespace and joiners.
fn visible_or_empty(text: &str) -> String {
    if text.chars().all(|c| c.is_whitespace() || matches!(c, '\u{200C}' | '\u{200D}')) {
        String::new()
    } else {
        text.to_owned()
    }
}

/// Multi-line text (a comment, a description): as [`single_line`] but
/// newlines stay (`\r\n` becomes `\n`).
pub fn multi_line(raw: &str) -> String {
    let kept = raw
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || (!c.is_control() && !is_invisible_format(*c)))
        .collect::<String>();
    visible_or_empty(kept.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_only_text_is_empty() {
        for raw in [
            "\u{200b}\u{200b}",
            "\u{200d} \u{200c}",
            "\u{202e}\u{202e}",
            "\u{2066}\u{2069}",
            "\u{feff}",
            " \u{00a0}\u{3000} ",
            "\0",
        ] {
            assert_eq!(single_line(raw), "", "{raw:?}");
            assert_eq!(multi_line(raw), "", "{raw:?}");
        }
    }

    #[test]
    fn bidi_controls_are_stripped_and_the_rest_kept() {
        assert_eq!(single_line("\u{200b} hi \u{202e}"), "hi");
        assert_eq!(single_line("caf\u{00e9} \u{202e}txt.exe"), "caf\u{00e9} txt.exe");
        assert_eq!(multi_line("a\r\n\tb\u{0007}\u{2067}c "), "a\nbc");
        assert_eq!(single_line("a\nb"), "ab");
        // Non-Latin scripts and joined emoji stay whole.
        assert_eq!(single_line("שלום 日本"), "שלום 日本");
        assert_eq!(single_line("\u{1f469}\u{200d}\u{1f52c}"), "\u{1f469}\u{200d}\u{1f52c}");
    }
}
