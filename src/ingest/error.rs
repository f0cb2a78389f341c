//! Why a batch was refused at decode or validation time.

use crate::model::ItemError;
use thiserror::Error;

/// At most this many bad items are listed in an error; the rest are only counted, so that
/// an answer stays small whatever the body (a million bad elements list 100).
pub const MAX_DETAILS: usize = 100;

/// Longest quoted excerpt of the input (a name, a value, a key) echoed in a message, in
/// bytes; longer ones are cut and end with `…`.
pub const MAX_ECHO: usize = 64;

/// Longest message kept for one item, whatever it quotes.
const MAX_MESSAGE: usize = 1024;

/// The bad items of a batch: the first [`MAX_DETAILS`] with their messages (echoed input cut
/// by [`clip_echoes`]) and the number of the rest. Dereferences to the listed items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemErrors {
    listed: Vec<ItemError>,
    omitted: usize,
}

impl ItemErrors {
    /// Records one bad item: listed while there is room, counted after.
    pub fn push(&mut self, index: usize, message: String) {
        if self.listed.len() < MAX_DETAILS {
            let message = clip_echoes(&message);
            self.listed.push(ItemError { index, message });
        } else {
            self.omitted += 1;
        }
    }

    /// [`ItemErrors::push`], building the message only when it is listed (a hostile body
    /// of millions of bad items costs a count for all but the first ones).
    pub fn push_with(&mut self, index: usize, message: impl FnOnce() -> String) {
        if self.listed.len() < MAX_DETAILS {
            self.push(index, message());
        } else {
            self.omitted += 1;
        }
    }

    /// Bad items in all, listed or not.
    pub fn total(&self) -> usize {
        self.listed.len() + self.omitted
    }

    /// Bad items not listed.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// The listed items.
    pub fn into_listed(self) -> Vec<ItemError> {
        self.listed
    }
}

impl std::ops::Deref for ItemErrors {
    type Target = [ItemError];

    fn deref(&self) -> &[ItemError] {
        &self.listed
    }
}

impl From<Vec<ItemError>> for ItemErrors {
    fn from(items: Vec<ItemError>) -> Self {
        let mut errors = ItemErrors::default();
        for item in items {
            errors.push(item.index, item.message);
        }
        errors
    }
}

/// `message` with every quoted excerpt (between `"` or `` ` ``, as `{:?}` and serde quote
/// input) longer than [`MAX_ECHO`] bytes cut to that and ended with `…`, and the whole cut to
/// 1 KiB: an answer never echoes a megabyte name back.
pub fn clip_echoes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE + 8));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        // The closing quote: the next one not escaped by a backslash.
        let mut end = None;
        let mut escaped = false;
        for (i, b) in rest.bytes().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b if b == quote => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let inner_end = end.unwrap_or(rest.len());
        let inner = &rest[..inner_end];
        if inner.len() > MAX_ECHO {
            out.push_str(cut(inner, MAX_ECHO));
            out.push('…');
        } else {
            out.push_str(inner);
        }
        rest = &rest[inner_end..];
        if end.is_some() {
            out.push(quote as char);
            rest = &rest[1..];
        }
        if out.len() > MAX_MESSAGE {
            break;
        }
    }
    out.push_str(rest);
    if out.len() > MAX_MESSAGE {
        let kept = cut(&out, MAX_MESSAGE).len();
        out.truncate(kept);
        out.push('…');
    }
    out
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A batch that cannot be accepted; nothing of it is applied.
#[derive(Debug, Error)]
pub enum IngestError {
    /// The body is not valid JSON / NDJSON at all: fix the syntax.
    #[error("malformed body: {0}")]
    Malformed(String),
    /// Some events are invalid: fix every listed one and resend the batch.
    #[error("{} invalid event(s) in the batch; nothing was applied", .0.total())]
    Invalid(ItemErrors),
    /// Some lines of a text body (StatsD) are invalid; `index` is the 1-based line number.
    #[error("{} invalid line(s) in the body; nothing was applied", .0.total())]
    InvalidLines(ItemErrors),
    /// The request itself is wrong (a bad header, an empty body): fix it.
    #[error("{0}")]
    BadRequest(String),
}

/// Gathers per-item results into one all-or-nothing answer: every event, or every bad index
/// with its reason.
pub(crate) fn all_or_nothing<T>(
    items: impl IntoIterator<Item = (usize, Result<T, String>)>,
) -> Result<Vec<T>, IngestError> {
    let items = items.into_iter();
    let mut batch = AllOrNothing::with_capacity(items.size_hint().0);
    for (index, item) in items {
        batch.add(index, item);
    }
    batch.finish().map_err(IngestError::Invalid)
}

/// A batch's items as they are read, all or nothing: the good ones are kept until one is
/// bad; after that the rest are only checked, and every bad one is named.
pub(crate) struct AllOrNothing<T> {
    good: Vec<T>,
    errors: ItemErrors,
}

impl<T> AllOrNothing<T> {
    /// Room for `n` good items.
    pub(crate) fn with_capacity(n: usize) -> Self {
        AllOrNothing {
            good: Vec::with_capacity(n),
            errors: ItemErrors::default(),
        }
    }

    /// Item `index`, good or bad.
    pub(crate) fn add(&mut self, index: usize, item: Result<T, String>) {
        match item {
            Ok(v) if self.errors.is_empty() => self.good.push(v),
            Ok(_) => {}
            Err(message) => self.errors.push(index, message),
        }
    }

    /// Item `index` is bad; its message is built only if it will be listed.
    pub(crate) fn refuse_with(&mut self, index: usize, message: impl FnOnce() -> String) {
        self.errors.push_with(index, message);
    }

    /// Every good item, or every bad one.
    pub(crate) fn finish(self) -> Result<Vec<T>, ItemErrors> {
        if self.errors.is_empty() {
            Ok(self.good)
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_first_items_and_counts_the_rest() {
        let mut errors = ItemErrors::default();
        for i in 0..1_000_000 {
            errors.push(i, format!("item {i} is bad"));
        }
        assert_eq!(errors.len(), MAX_DETAILS);
        assert_eq!(errors.total(), 1_000_000);
        assert_eq!(errors.omitted(), 1_000_000 - MAX_DETAILS);
        assert_eq!(errors[99].index, 99);
    }

    #[test]
    fn long_echoes_are_cut() {
        let long = "x".repeat(1 << 20);
        let clipped = clip_echoes(&format!("name {long:?} must match [A-Z]"));
        assert_eq!(
            clipped,
            format!("name \"{}…\" must match [A-Z]", "x".repeat(64))
        );
        let clipped = clip_echoes(&format!("unknown field `{long}`, expected `name`"));
        assert_eq!(
            clipped,
            format!("unknown field `{}…`, expected `name`", "x".repeat(64))
        );
        // Escaped quotes stay inside; a character is never split.
        let tricky = format!("value \"{}\\\"{}\" is bad", "é".repeat(40), "y".repeat(10));
        let clipped = clip_echoes(&tricky);
        assert!(clipped.starts_with("value \"éé"), "{clipped}");
        assert!(clipped.ends_with("…\" is bad"), "{clipped}");
        assert_eq!(
            clip_echoes("short \"ok\" and `fine`"),
            "short \"ok\" and `fine`"
        );
        let unquoted = clip_echoes(&long);
        assert!(unquoted.len() <= MAX_MESSAGE + 3, "{}", unquoted.len());
    }
}
