//! Compact encodings for the store: varints, numbers as short decimals, blocks of buckets and
//! series keys.
//!
//! A number is one varint: an integer `n` (|n| < 2^53) as `zigzag(n) << 1` (−32..31 in one
//! byte, up to ±4095 in two), a decimal `m × 10^−(c + 1)` as `zigzag(m) << 5 | c << 1 | 1` for
//! `c` in 0..=14 (0.25 and 23.7 take two bytes, 1234.5678 three), or the code 15 (`0x1f`)
//! followed by the eight bytes of the `f64` when no short decimal gives back exactly the same
//! bits. Decoding a decimal is one correctly rounded division (|m| < 2^53, 10^15 exact), and
//! encoding checks the round trip: the encoding is lossless.
//!
//! A block holds up to [`BLOCK_BUCKETS`] consecutive buckets of one series and tier: a byte
//! with the highest bucket index, then one record per bucket in index order:
//! `index | 0x40 if single` then, for a bucket of one sample, the offset of its timestamp from
//! the bucket start and its value; otherwise count, first offset, last − first, a mask of
//! equalities (last = first, min = first, min = last, max = first, max = last), then sum,
//! first and the values the mask does not imply.

use crate::aggregate::downsample::Bucket;
use crate::model::{Kind, Scope, SeriesKey, ServicePath};

/// Buckets per stored block (the key is per block, so its cost is shared).
pub const BLOCK_BUCKETS: i64 = 64;

/// Appends `v` as LEB128.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 varint at `*pos`.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

const RAW: u64 = 15;
const RAW_TAG: u64 = RAW << 1 | 1;
const MAX_SCALE: i32 = 15;
const MAX_MANTISSA: i64 = 1 << 53;

const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A stack buffer for formatting a float without allocating.
struct Digits {
    buf: [u8; 48],
    len: usize,
}

impl std::fmt::Write for Digits {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A non-integer `v` as `m / 10^scale` with the fewest digits, when that is exact and short.
fn to_decimal(v: f64) -> Option<(i64, i32)> {
    let (m, exp) = shortest(v)?;
    let scale = -exp;
    let ok = (1..=MAX_SCALE).contains(&scale)
        && m.abs() < MAX_MANTISSA
        && (m as f64 / POW10[scale as usize]).to_bits() == v.to_bits();
    ok.then_some((m, scale))
}

/// Digits and exponent of the shortest representation that reads back as `v`.
fn shortest(v: f64) -> Option<(i64, i32)> {
    use std::fmt::Write;
    let mut d = Digits {
        buf: [0; 48],
        len: 0,
    };
    write!(d, "{v:e}").ok()?;
    let text = std::str::from_utf8(&d.buf[..d.len]).ok()?;
    let (mantissa, exp) = text.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let mut m: i64 = 0;
    let mut frac_digits = 0;
    let mut seen_point = false;
    for c in mantissa.bytes() {
        match c {
            b'.' => seen_point = true,
            b'0'..=b'9' => {
                m = m.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                if seen_point {
                    frac_digits += 1;
                }
            }
            _ => return None,
        }
    }
    Some((if neg { -m } else { m }, exp - frac_digits))
}

/// Appends a number (see the module doc).
pub fn put_f64(out: &mut Vec<u8>, v: f64) {
    let negative_zero = v == 0.0 && v.is_sign_negative();
    if v.fract() == 0.0 && v.abs() < MAX_MANTISSA as f64 && !negative_zero {
        put_varint(out, zigzag(v as i64) << 1);
    } else if let Some((m, scale)) = to_decimal(v).filter(|_| !negative_zero) {
        put_varint(out, (zigzag(m) << 5) | ((scale - 1) as u64) << 1 | 1);
    } else {
        put_varint(out, RAW_TAG);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads a number written by [`put_f64`].
pub fn get_f64(buf: &[u8], pos: &mut usize) -> Option<f64> {
    let v = get_varint(buf, pos)?;
    if v & 1 == 0 {
        return Some(unzigzag(v >> 1) as f64);
    }
    let code = (v >> 1) & RAW;
    if code == RAW {
        let bytes = buf.get(*pos..pos.checked_add(8)?)?;
        *pos += 8;
        return Some(f64::from_le_bytes(bytes.try_into().ok()?));
    }
    Some(unzigzag(v >> 5) as f64 / POW10[code as usize + 1])
}

/// Width of a block of a tier of `resolution_ms`.
pub fn block_span(resolution_ms: i64) -> i64 {
    resolution_ms.saturating_mul(BLOCK_BUCKETS)
}

/// The start of the block holding the bucket that starts at `start`.
pub fn block_start(start: i64, resolution_ms: i64) -> i64 {
    start - start.rem_euclid(block_span(resolution_ms))
}

const SINGLE: u8 = 0x40;
const LAST_IS_FIRST: u8 = 1;
const MIN_IS_FIRST: u8 = 2;
const MIN_IS_LAST: u8 = 4;
const MAX_IS_FIRST: u8 = 8;
const MAX_IS_LAST: u8 = 16;

fn offset(ts: i64, from: i64) -> u64 {
    // Within a bucket by construction; clamp rather than wrap if that were ever broken.
    u64::try_from(ts.saturating_sub(from)).unwrap_or(0)
}

fn put_bucket(out: &mut Vec<u8>, index: u8, start: i64, b: &Bucket) {
    if b.count == 1 {
        out.push(index | SINGLE);
        put_varint(out, offset(b.first_ms, start));
        put_f64(out, b.first);
        return;
    }
    out.push(index);
    put_varint(out, b.count);
    put_varint(out, offset(b.first_ms, start));
    put_varint(out, offset(b.last_ms, b.first_ms));
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits();
    let mut mask = 0;
    for (flag, yes) in [
        (LAST_IS_FIRST, same(b.last, b.first)),
        (MIN_IS_FIRST, same(b.min, b.first)),
        (MIN_IS_LAST, same(b.min, b.last)),
        (MAX_IS_FIRST, same(b.max, b.first)),
        (MAX_IS_LAST, same(b.max, b.last)),
    ] {
        if yes {
            mask |= flag;
        }
    }
    out.push(mask);
    put_f64(out, b.sum);
    put_f64(out, b.first);
    if mask & LAST_IS_FIRST == 0 {
        put_f64(out, b.last);
    }
    if mask & (MIN_IS_FIRST | MIN_IS_LAST) == 0 {
        put_f64(out, b.min);
    }
    if mask & (MAX_IS_FIRST | MAX_IS_LAST) == 0 {
        put_f64(out, b.max);
    }
}

fn get_bucket(buf: &[u8], pos: &mut usize, block: i64, res: i64) -> Option<(u8, Bucket)> {
    let head = *buf.get(*pos)?;
    *pos += 1;
    let index = head & 0x3f;
    let start = block + i64::from(index) * res;
    if head & SINGLE != 0 {
        let ts = start + get_varint(buf, pos)? as i64;
        return Some((index, Bucket::of(get_f64(buf, pos)?, ts)));
    }
    let count = get_varint(buf, pos)?;
    let first_ms = start + get_varint(buf, pos)? as i64;
    let last_ms = first_ms + get_varint(buf, pos)? as i64;
    let mask = *buf.get(*pos)?;
    *pos += 1;
    let sum = get_f64(buf, pos)?;
    let first = get_f64(buf, pos)?;
    let last = if mask & LAST_IS_FIRST != 0 {
        first
    } else {
        get_f64(buf, pos)?
    };
    let min = match mask {
        m if m & MIN_IS_FIRST != 0 => first,
        m if m & MIN_IS_LAST != 0 => last,
        _ => get_f64(buf, pos)?,
    };
    let max = match mask {
        m if m & MAX_IS_FIRST != 0 => first,
        m if m & MAX_IS_LAST != 0 => last,
        _ => get_f64(buf, pos)?,
    };
    let b = Bucket {
        count,
        sum,
        min,
        max,
        first,
        first_ms,
        last,
        last_ms,
    };
    Some((index, b))
}

/// Encodes the buckets (index within the block, bucket), sorted by index, of the block
/// starting at `block` of a tier of `res` ms.
pub fn encode_block(block: i64, res: i64, buckets: &[(u8, Bucket)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + buckets.len() * 8);
    out.push(buckets.last().map_or(0, |(i, _)| *i));
    for (i, b) in buckets {
        put_bucket(&mut out, *i, block + i64::from(*i) * res, b);
    }
    out
}

/// Appends buckets whose indexes all follow the block's highest to an encoded block.
pub fn append_block(encoded: &mut Vec<u8>, block: i64, res: i64, buckets: &[(u8, Bucket)]) {
    for (i, b) in buckets {
        put_bucket(encoded, *i, block + i64::from(*i) * res, b);
    }
    if let (Some(head), Some((last, _))) = (encoded.first_mut(), buckets.last()) {
        *head = *last;
    }
}

/// The highest bucket index of an encoded block.
pub fn block_last_index(encoded: &[u8]) -> Option<u8> {
    encoded.first().copied()
}

/// Decodes a block; `None` when it is corrupt.
pub fn decode_block(encoded: &[u8], block: i64, res: i64) -> Option<Vec<(u8, Bucket)>> {
    let mut pos = 1;
    let mut out = Vec::new();
    while pos < encoded.len() {
        out.push(get_bucket(encoded, &mut pos, block, res)?);
    }
    Some(out)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn get_str<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let len = usize::try_from(get_varint(buf, pos)?).ok()?;
    let bytes = buf.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    std::str::from_utf8(bytes).ok()
}

/// The prefix shared by the encoded keys of every series named `name`.
pub fn name_prefix(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    put_str(&mut out, name);
    out
}

/// Encodes a series key, name first (so that one metric's series are one key range).
pub fn encode_key(key: &SeriesKey) -> Vec<u8> {
    let mut out = name_prefix(&key.name);
    out.push(key.scope as u8);
    put_str(&mut out, &key.service);
    put_str(&mut out, key.service_path.as_str());
    put_varint(&mut out, key.tags.len() as u64);
    for (k, v) in &key.tags {
        put_str(&mut out, k);
        put_str(&mut out, v);
    }
    out
}

/// Decodes a key written by [`encode_key`].
pub fn decode_key(buf: &[u8]) -> Option<SeriesKey> {
    let mut pos = 0;
    let name = get_str(buf, &mut pos)?.into();
    let scope = *Scope::ALL.get(usize::from(*buf.get(pos)?))?;
    pos += 1;
    let service = get_str(buf, &mut pos)?.into();
    let service_path = ServicePath::parse(get_str(buf, &mut pos)?).ok()?;
    let n = get_varint(buf, &mut pos)?;
    let mut tags = Vec::new();
    for _ in 0..n {
        let k = get_str(buf, &mut pos)?.into();
        let v = get_str(buf, &mut pos)?.into();
        tags.push((k, v));
    }
    Some(SeriesKey {
        service,
        service_path,
        scope,
        name,
        tags,
    })
}

/// A kind as one byte.
pub fn kind_byte(kind: Kind) -> u8 {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

/// The kind of a byte written by [`kind_byte`].
pub fn byte_kind(b: u8) -> Option<Kind> {
    Kind::ALL.get(usize::from(b)).copied()
}

#[cfg(test)]
mod tests;
