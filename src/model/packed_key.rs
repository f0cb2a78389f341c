//! A series key as the shards and the ODSL interner hold it: one allocation of its scope and
//! strings and 16 bytes inline, instead of a [`SeriesKey`]'s 104 bytes inline, its tag list
//! and every string over 24 bytes. Readers get a [`SeriesKey`] back with
//! [`PackedKey::unpack`].

use super::{KeyString, Scope, Selector, SeriesKey, ServicePath};
use serde::{Serialize, Serializer};

/// A [`SeriesKey`] in one boxed buffer: the scope's byte, then service, service path, name and
/// each tag's key and value, every part as its length (LEB128) followed by its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedKey(Box<[u8]>);

/// The parts of a key after its scope, in order: service, service path, name, then each tag's
/// key and value.
fn key_parts(key: &SeriesKey) -> impl Iterator<Item = &[u8]> {
    let head = [
        key.service.as_bytes(),
        key.service_path.as_str().as_bytes(),
        key.name.as_bytes(),
    ];
    let tags = key
        .tags
        .iter()
        .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]);
    head.into_iter().chain(tags)
}

fn scope_byte(scope: Scope) -> u8 {
    match scope {
        Scope::Base => 0,
        Scope::Vendor => 1,
        Scope::Application => 2,
    }
}

/// The parts of a packed key, as [`key_parts`] gives them.
struct Parts<'a>(&'a [u8]);

impl<'a> Iterator for Parts<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Most parts are shorter than 128 bytes: one length byte.
        if let Some((&b, rest)) = self.0.split_first() {
            if b < 0x80 {
                let len = usize::from(b).min(rest.len());
                let (part, rest) = rest.split_at(len);
                self.0 = rest;
                return Some(part);
            }
        }
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            len |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift >= usize::BITS {
                break;
            }
        }
        let len = len.min(self.0.len());
        let (part, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(part)
    }
}

/// Feeds `scope` and `parts` to `state`'s hasher: the same for a key and its packed form.
fn hash_parts<'a>(
    state: &impl std::hash::BuildHasher,
    scope: Scope,
    parts: impl Iterator<Item = &'a [u8]>,
) -> u64 {
    use std::hash::Hasher;
    let mut h = state.build_hasher();
    h.write_u8(scope_byte(scope));
    for part in parts {
        h.write(part);
        h.write_u8(0xff);
    }
    h.finish()
}

/// A part as text (parts are packed from strings; a part that is not is read as empty).
fn text(part: &[u8]) -> &str {
    std::str::from_utf8(part).unwrap_or("")
}

impl PackedKey {
    /// `key` packed.
    pub fn pack(key: &SeriesKey) -> Self {
        let len: usize = key_parts(key).map(|p| p.len() + 5).sum();
        let mut buf = Vec::with_capacity(1 + len);
        buf.push(scope_byte(key.scope));
        for part in key_parts(key) {
            let mut n = part.len();
            while n >= 0x80 {
                // The low seven bits, then more to come (truncation intended).
                buf.push((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            buf.push(n as u8);
            buf.extend_from_slice(part);
        }
        PackedKey(buf.into_boxed_slice())
    }

    fn parts(&self) -> Parts<'_> {
        Parts(self.0.get(1..).unwrap_or(&[]))
    }

    /// The key's scope.
    pub fn scope(&self) -> Scope {
        match self.0.first() {
            Some(0) => Scope::Base,
            Some(1) => Scope::Vendor,
            _ => Scope::Application,
        }
    }

    /// The Orion service.
    pub fn service(&self) -> &str {
        text(self.parts().next().unwrap_or(&[]))
    }

    /// The Orion service path.
    pub fn service_path(&self) -> &str {
        text(self.parts().nth(1).unwrap_or(&[]))
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        text(self.parts().nth(2).unwrap_or(&[]))
    }

    /// The tags, sorted by key.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        let pairs = self.parts().skip(3).count() / 2;
        let mut parts = self.parts().skip(3).map(text);
        (0..pairs).map(move |_| (parts.next().unwrap_or(""), parts.next().unwrap_or("")))
    }

    /// The hash of this key by `state`, as [`PackedKey::hash_key`] hashes the unpacked key.
    pub fn hash_with(&self, state: &impl std::hash::BuildHasher) -> u64 {
        hash_parts(state, self.scope(), self.parts())
    }

    /// The hash of `key` by `state`, equal to its packed form's [`PackedKey::hash_with`].
    pub fn hash_key(state: &impl std::hash::BuildHasher, key: &SeriesKey) -> u64 {
        use std::hash::Hasher;
        let mut h = state.build_hasher();
        h.write_u8(scope_byte(key.scope));
        let mut part = |p: &str| {
            h.write(p.as_bytes());
            h.write_u8(0xff);
        };
        part(&key.service);
        part(key.service_path.as_str());
        part(&key.name);
        for (k, v) in &key.tags {
            part(k);
            part(v);
        }
        h.finish()
    }

    /// True when this is `key` packed.
    pub fn is(&self, key: &SeriesKey) -> bool {
        let mut parts = self.parts();
        let mut next_is = |s: &str| parts.next() == Some(s.as_bytes());
        self.scope() == key.scope
            && next_is(&key.service)
            && next_is(key.service_path.as_str())
            && next_is(&key.name)
            && key.tags.iter().all(|(k, v)| next_is(k) && next_is(v))
            && parts.next().is_none()
    }

    /// True when `sel` selects this key (as [`Selector::matches`] does the unpacked key).
    pub fn selected_by(&self, sel: &Selector) -> bool {
        sel.scope.is_none_or(|s| s == self.scope())
            && sel.name.as_deref().is_none_or(|n| n == self.name())
            && sel.service.as_deref().is_none_or(|s| s == self.service())
    }

    /// The key's [`SeriesKey::stable_hash`], without unpacking it.
    pub fn stable_hash(&self) -> u64 {
        use std::hash::Hasher;
        let mut h = fnv::FnvHasher::default();
        let mut parts = self.parts();
        // Service and path, the scope's name, then the name and the tags: the order of
        // `SeriesKey::stable_hash`, every part ended by 0xff.
        for part in parts.by_ref().take(2) {
            h.write(part);
            h.write_u8(0xff);
        }
        h.write(self.scope().as_str().as_bytes());
        h.write_u8(0xff);
        for part in parts {
            h.write(part);
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// The key, unpacked.
    pub fn unpack(&self) -> SeriesKey {
        let mut parts = self.parts().map(text);
        let service = KeyString::from(parts.next().unwrap_or(""));
        let service_path = match parts.next().unwrap_or("/") {
            "/" => ServicePath::root(),
            path => ServicePath::from(path.to_owned()),
        };
        let name = KeyString::from(parts.next().unwrap_or(""));
        let mut tags = Vec::new();
        while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            tags.push((KeyString::from(k), KeyString::from(v)));
        }
        SeriesKey {
            service,
            service_path,
            scope: self.scope(),
            name,
            tags,
        }
    }
}

/// The service path as [`ServicePath`] serializes (a newtype of its text).
#[derive(Serialize)]
#[serde(rename = "ServicePath")]
struct PathView<'a>(&'a str);

/// The tags as [`crate::model::Tags`] serialize (a sequence of pairs).
struct TagsView<'a>(&'a PackedKey);

impl Serialize for TagsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.tags())
    }
}

/// The key as [`SeriesKey`] serializes, borrowed from the packed form.
#[derive(Serialize)]
#[serde(rename = "SeriesKey")]
struct KeyView<'a> {
    service: &'a str,
    service_path: PathView<'a>,
    scope: Scope,
    name: &'a str,
    tags: TagsView<'a>,
}

impl Serialize for PackedKey {
    /// Exactly as the unpacked [`SeriesKey`] serializes, so that snapshots read it back as one.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut parts = self.parts().map(text);
        KeyView {
            service: parts.next().unwrap_or(""),
            service_path: PathView(parts.next().unwrap_or("/")),
            scope: self.scope(),
            name: parts.next().unwrap_or(""),
            tags: TagsView(self),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<SeriesKey> {
        let long = "v".repeat(300);
        vec![
            SeriesKey::simple(Scope::Application, "requests", vec![]),
            SeriesKey::simple(
                Scope::Base,
                "",
                vec![(KeyString::default(), KeyString::default())],
            ),
            SeriesKey {
                service: "shop".into(),
                service_path: ServicePath::parse("/eu/north").unwrap(),
                scope: Scope::Vendor,
                name: "orders.total".into(),
                tags: vec![
                    ("app".into(), "api".into()),
                    ("long".into(), long.into()),
                    ("ü".into(), "€ 1".into()),
                ],
            },
            SeriesKey {
                service: KeyString::default(),
                service_path: ServicePath::root(),
                scope: Scope::Application,
                name: "x".repeat(200).into(),
                tags: vec![("h".into(), "a".into())],
            },
        ]
    }

    #[test]
    fn round_trips_every_part() {
        for key in keys() {
            let p = PackedKey::pack(&key);
            assert_eq!(p.unpack(), key);
            assert!(p.is(&key));
            assert_eq!(
                (p.scope(), p.service(), p.name()),
                (key.scope, &*key.service, &*key.name)
            );
            assert_eq!(p.service_path(), key.service_path.as_str());
            let tags: Vec<(&str, &str)> = key.tags.iter().map(|(k, v)| (&**k, &**v)).collect();
            assert_eq!(p.tags().len(), tags.len());
            assert_eq!(p.tags().collect::<Vec<_>>(), tags);
            assert_eq!(p.stable_hash(), key.stable_hash());
            let state = foldhash::fast::RandomState::default();
            assert_eq!(p.hash_with(&state), PackedKey::hash_key(&state, &key));
        }
    }

    #[test]
    fn tells_keys_apart() {
        let a = SeriesKey::simple(Scope::Application, "ab", vec![("c".into(), "d".into())]);
        let mut b = a.clone();
        b.name = "a".into();
        b.tags = vec![("bc".into(), "d".into())];
        assert!(!PackedKey::pack(&a).is(&b));
        let mut c = a.clone();
        c.scope = Scope::Vendor;
        assert!(!PackedKey::pack(&a).is(&c));
        let mut d = a.clone();
        d.tags.push(("e".into(), KeyString::default()));
        assert!(!PackedKey::pack(&a).is(&d));
        assert!(!PackedKey::pack(&d).is(&a));
    }

    #[test]
    fn serializes_as_the_key_does() {
        for key in keys() {
            let packed = postcard::to_allocvec(&PackedKey::pack(&key)).unwrap();
            assert_eq!(packed, postcard::to_allocvec(&key).unwrap());
            let back: SeriesKey = postcard::from_bytes(&packed).unwrap();
            assert_eq!(back, key);
        }
    }

    #[test]
    fn selectors_match_as_on_the_key() {
        let key = &keys()[2];
        let p = PackedKey::pack(key);
        for sel in [
            Selector::default(),
            Selector {
                scope: Some(Scope::Vendor),
                name: Some("orders.total".into()),
                service: Some("shop".into()),
            },
            Selector {
                name: Some("orders".into()),
                ..Selector::default()
            },
            Selector {
                scope: Some(Scope::Base),
                ..Selector::default()
            },
            Selector {
                service: Some("shopx".into()),
                ..Selector::default()
            },
        ] {
            assert_eq!(p.selected_by(&sel), sel.matches(key), "{sel:?}");
        }
    }
}
