//! How pages put things into words: times as people say them ("3 h ago",
//! the exact time on hover), counts with the right plural, user text with
//! `@mentions` turned into profile links, and the one rule for where
//! sign-in may send a person back to.

use crate::domain::clock::Timestamp;
use crate::domain::comment::mention_at;

/// A moment as a page shows it: words relative to now, and the exact time
/// for the `title` (in UTC here; `static/app.js` swaps in the reader's local
/// time and keeps the words fresh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// RFC 3339, for `datetime`.
    pub iso: String,
    /// "3 h ago", "in 5 min", "12 Mar 2025".
    pub text: String,
    /// "2025-03-12 14:03 UTC".
    pub exact: String,
}

impl Moment {
    /// `at` as seen at `now`.
    pub fn new(at: Timestamp, now: Timestamp) -> Moment {
        Moment { iso: at.to_rfc3339(), text: relative_words(at, now), exact: exact_utc(at) }
    }

    /// `at` as seen now.
    pub fn of(at: Timestamp) -> Moment {
        Moment::new(at, Timestamp::now())
    }

    /// The `<time>` element. Built only from numbers and fixed words, so
    /// templates may insert it unescaped.
    pub fn html(&self) -> String {
        format!(r#"<time datetime="{}" title="{}" data-relative>{}</time>"#, self.iso, self.exact, self.text)
    }
}

/// Words for `at` relative to `now`: minutes, hours and days close by, a
/// date further away.
pub fn relative_words(at: Timestamp, now: Timestamp) -> String {
    let delta_secs = (now.millis() - at.millis()) / 1000;
    let (past, secs) = (delta_secs >= 0, delta_secs.unsigned_abs());
    let amount = match secs {
        0..=44 => return "just now".to_owned(),
        45..=3_599 => format!("{} min", (secs + 30) / 60),
        3_600..=86_399 => format!("{} h", (secs + 1_800) / 3_600),
        86_400..=604_799 => format!("{} d", (secs + 43_200) / 86_400),
        _ => return calendar_date(at),
    };
    if past { format!("{amount} ago") } else { format!("in {amount}") }
}

/// "12 Mar 2025" (UTC).
fn calendar_date(at: Timestamp) -> String {
    formatted(at, time::macros::format_description!("[day padding:none] [month repr:short] [year]"))
}

/// "2025-03-12 14:03 UTC".
fn exact_utc(at: Timestamp) -> String {
    formatted(at, time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
}

fn formatted(at: Timestamp, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .ok()
        .and_then(|moment| moment.format(format).ok())
        .unwrap_or_else(|| at.to_rfc3339())
}

/// "1 vote", "2 votes", "0 votes".
pub fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 { format!("1 {one}") } else { format!("{count} {many}") }
}

/// Escapes user text for HTML with the named entities (`&lt;` rather than
/// askama's `&#60;`, so the markup reads plainly).
pub fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut escaped, c);
    }
    escaped
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        other => out.push(other),
    }
}

/// User text escaped for HTML, with every `@name` that can be a user name
/// (3 to 20 letters, digits or `_`, not inside a word such as an e-mail
/// address) linked to `/u/name`. The link uses the lowercase name, as
/// accounts are stored.
pub fn linked_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        if let Some(name_len) = mention_at(&chars, index) {
            let name: String = chars[index + 1..index + 1 + name_len].iter().collect();
            out.push_str(&format!(r#"<a class="mention" href="/u/{}">@{name}</a>"#, name.to_ascii_lowercase()));
            index += 1 + name_len;
            continue;
        }
        push_escaped(&mut out, chars[index]);
        index += 1;
    }
    out
}

/// `text` percent-encoded for a query value: everything but RFC 3986's
/// unreserved characters and `/` is encoded.
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Longest `next` kept (a longer one is dropped, not cut).
const MAX_NEXT_CHARS: usize = 512;

/// `raw` if it is a path on this site that sign-in may return to, else
/// `None`. Only a plain absolute path qualifies: it starts with one `/`
/// and carries no backslash, no control or space character (browsers
/// drop tabs and newlines, which would turn `/\t/evil` into `//evil`), no
/// scheme and no second leading slash, so it can never name another
/// origin.
pub fn local_path(raw: &str) -> Option<&str> {
    let ok = raw.len() <= MAX_NEXT_CHARS
        && raw.starts_with('/')
        && !raw.starts_with("//")
        // Printable ASCII only: nothing a header or a browser could read
        // as another host (a backslash), a line break or a space.
        && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !raw.starts_with("/login")
        && !raw.starts_with("/signup");
    ok.then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_like_speech() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let ago = |secs: i64| relative_words(Timestamp::from_millis(now.millis() - secs * 1000), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(-5), "just now");
        assert_eq!(ago(60), "1 min ago");
        assert_eq!(ago(3 * 3600), "3 h ago");
        assert_eq!(ago(-3 * 3600), "in 3 h");
        assert_eq!(ago(2 * 86_400), "2 d ago");
        assert_eq!(ago(30 * 86_400), "15 Oct 2023");
        let moment = Moment::new(now, now);
        assert_eq!(
            moment.html(),
            r#"<time datetime="2023-11-14T22:13:20Z" title="2023-11-14 22:13 UTC" data-relative>just now</time>"#
        );
    }

    #[test]
    fn plurals_agree_with_the_count() {
        assert_eq!(plural(0, "vote", "votes"), "0 votes");
        assert_eq!(plural(1, "vote", "votes"), "1 vote");
        assert_eq!(plural(2, "scene", "scenes"), "2 scenes");
    }

    #[test]
    fn mentions_become_links_and_the_rest_is_escaped() {
        assert_eq!(
            linked_text("hi @Ana_1 <b> & mail a@bc.de, @xy too short"),
            r#"hi <a class="mention" href="/u/ana_1">@Ana_1</a> &lt;b&gt; &amp; mail a@bc.de, @xy too short"#
        );
        assert_eq!(linked_text("@bob"), r#"<a class="mention" href="/u/bob">@bob</a>"#);
        assert_eq!(linked_text("\"@bob'"), r#"&quot;<a class="mention" href="/u/bob">@bob</a>&#39;"#);
    }

    #[test]
    fn sign_in_returns_only_to_paths_on_this_site() {
        for good in ["/", "/clip/5", "/u/ana?x=1#c", "/story"] {
            assert_eq!(local_path(good), Some(good), "{good}");
        }
        for hostile in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " /x",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/login?next=//evil",
            "/signup",
        ] {
            assert_eq!(local_path(hostile), None, "{hostile:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(600))), None);
    }
}
