//! Tags as they arrive in a JSON object, decoded straight into a sorted vector (no map nodes
//! to allocate), borrowing from the body where no escape forces a copy.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON object of string → string, sorted by key; a repeated key is refused (naming it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RawTags<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> RawTags<'a> {
    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawTags<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TagsVisitor(std::marker::PhantomData))
    }
}

struct TagsVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TagsVisitor<'a> {
    type Value = RawTags<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of string tag values")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<RawTags<'a>, M::Error> {
        let mut tags: Vec<(Cow<'a, str>, Cow<'a, str>)> =
            Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
        while let Some((k, v)) = map.next_entry::<BorrowedStr, BorrowedStr>()? {
            tags.push((k.0, v.0));
        }
        tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = tags.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(serde::de::Error::custom(format_args!(
                "tag {:?} is given twice",
                pair[0].0
            )));
        }
        Ok(RawTags(tags))
    }
}

/// A string that borrows from the input when it can. (serde's own `Cow<str>` borrows only as a
/// field of its own with `#[serde(borrow)]`, never inside an `Option`: this one always does.)
#[derive(Debug)]
pub(crate) struct BorrowedStr<'a>(pub Cow<'a, str>);

impl std::ops::Deref for BorrowedStr<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BorrowedStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_borrowed_and_a_repeated_key_refused() {
        let t: RawTags = serde_json::from_str(r#"{"b":"2","a":"x\"y"}"#).unwrap();
        assert_eq!(t.0.len(), 2);
        assert_eq!((&*t.0[0].0, &*t.0[0].1), ("a", "x\"y"));
        assert_eq!((&*t.0[1].0, &*t.0[1].1), ("b", "2"));
        assert!(matches!(t.0[1].1, Cow::Borrowed(_)));
        let e = serde_json::from_str::<RawTags>(r#"{"b":"1","a":"x","b":"2"}"#).unwrap_err();
        assert!(e.to_string().contains("tag \"b\" is given twice"), "{e}");
        assert!(serde_json::from_str::<RawTags>(r#"{"a":1}"#).is_err());
    }
}
