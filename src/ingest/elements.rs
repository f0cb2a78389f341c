//! Walking a JSON array one element at a time: each element's text is borrowed from the body
//! and handed on before the next is read, so nothing holds the whole array at once.

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// Calls `each(index, element_text)` for every element of the JSON array `text`, in order.
/// Fails on a syntax error or when `text` is not an array.
pub fn each_element(text: &str, each: impl FnMut(usize, &str)) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_seq(Each(each))?;
    de.end()
}

struct Each<F>(F);

impl<'de, F: FnMut(usize, &str)> Visitor<'de> for Each<F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            (self.0)(index, item.get());
            index += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_on_each_element_in_order() {
        let mut seen = Vec::new();
        each_element(r#" [1, {"a": [2, 3]}, "x"] "#, |i, t| {
            seen.push((i, t.to_owned()))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, "1".to_owned()),
                (1, r#"{"a": [2, 3]}"#.to_owned()),
                (2, r#""x""#.to_owned())
            ]
        );
        assert!(each_element("[1,", |_, _| {}).is_err());
        assert!(each_element("{}", |_, _| {}).is_err());
        assert!(each_element("[1] x", |_, _| {}).is_err());
    }
}
