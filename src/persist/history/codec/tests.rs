use super::*;
use proptest::prelude::*;

fn round(v: f64) -> (f64, usize) {
    let mut out = Vec::new();
    put_f64(&mut out, v);
    let mut pos = 0;
    let back = get_f64(&out, &mut pos).unwrap();
    assert_eq!(pos, out.len());
    (back, out.len())
}

#[test]
fn short_numbers_are_short() {
    assert_eq!(round(0.0), (0.0, 1));
    assert_eq!(round(3.0), (3.0, 1));
    assert_eq!(round(-32.0), (-32.0, 1));
    assert_eq!(round(4095.0), (4095.0, 2));
    assert_eq!(round(1e6), (1e6, 4));
    assert_eq!(round(-2.5), (-2.5, 2));
    assert_eq!(round(23.7), (23.7, 2));
    assert_eq!(round(0.25), (0.25, 2));
    assert_eq!(round(1234.5678).1, 5);
    // No short decimal: eight bytes and the code.
    assert_eq!(round(std::f64::consts::PI), (std::f64::consts::PI, 9));
    assert_eq!(round(0.1 + 0.2).0, 0.1 + 0.2);
    let (neg_zero, _) = round(-0.0);
    assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
    assert_eq!(round(f64::MAX).0, f64::MAX);
    assert_eq!(round(f64::MIN_POSITIVE).0, f64::MIN_POSITIVE);
}

fn bucket() -> impl Strategy<Value = Bucket> {
    let value = prop_oneof![
        (-1000i64..1000).prop_map(|v| v as f64),
        (-1e6f64..1e6),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ];
    (prop::collection::vec((value, 0i64..10_000), 1..6), Just(())).prop_map(|(samples, ())| {
        let mut it = samples.into_iter();
        let (v, t) = it.next().unwrap();
        let mut b = Bucket::of(v, 1_000_000 + t);
        for (v, t) in it {
            b.record(v, 1_000_000 + t);
        }
        b
    })
}

proptest! {
    #[test]
    fn numbers_round_trip_bit_for_bit(v in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
        let (back, len) = round(v);
        prop_assert_eq!(back.to_bits(), v.to_bits());
        prop_assert!(len <= 9);
    }

    #[test]
    fn blocks_round_trip(buckets in prop::collection::vec(bucket(), 1..20)) {
        // Bucket i starts at block + i × 10 s; shift its timestamps into its window.
        let block = 1_000_000 - 1_000_000i64.rem_euclid(640_000);
        let res = 10_000;
        let items: Vec<(u8, Bucket)> = buckets
            .into_iter()
            .enumerate()
            .map(|(i, mut b)| {
                let start = block + i as i64 * res;
                b.first_ms = start + (b.first_ms - 1_000_000);
                b.last_ms = start + (b.last_ms - 1_000_000);
                (i as u8, b)
            })
            .collect();
        let (head, tail) = items.split_at(items.len() / 2);
        let mut enc = encode_block(block, res, head);
        append_block(&mut enc, block, res, tail);
        prop_assert_eq!(block_last_index(&enc), Some(items.last().unwrap().0));
        let back = decode_block(&enc, block, res).unwrap();
        prop_assert_eq!(back.len(), items.len());
        for ((i, a), (j, b)) in items.iter().zip(&back) {
            prop_assert_eq!(i, j);
            prop_assert_eq!(a.count, b.count);
            prop_assert_eq!(a.sum.to_bits(), b.sum.to_bits());
            prop_assert_eq!(a.min.to_bits(), b.min.to_bits());
            prop_assert_eq!(a.max.to_bits(), b.max.to_bits());
            prop_assert_eq!(a.first.to_bits(), b.first.to_bits());
            prop_assert_eq!(a.last.to_bits(), b.last.to_bits());
            prop_assert_eq!((a.first_ms, a.last_ms), (b.first_ms, b.last_ms));
        }
    }

    #[test]
    fn corrupt_blocks_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_block(&bytes, 0, 10_000);
        let _ = decode_key(&bytes);
    }
}

#[test]
fn keys_round_trip_and_share_the_name_prefix() {
    let key = SeriesKey {
        service: "svc".into(),
        service_path: ServicePath::parse("/a/b").unwrap(),
        scope: Scope::Vendor,
        name: "cpu.load".into(),
        tags: vec![
            ("host".into(), "web01".into()),
            ("z".into(), "\u{0}x".into()),
        ],
    };
    let enc = encode_key(&key);
    assert!(enc.starts_with(&name_prefix("cpu.load")));
    assert!(!enc.starts_with(&name_prefix("cpu")));
    assert_eq!(decode_key(&enc), Some(key));
    for kind in Kind::ALL {
        assert_eq!(byte_kind(kind_byte(kind)), Some(kind));
    }
}

#[test]
fn a_typical_gauge_bucket_is_a_few_bytes() {
    let block = 0;
    let one = encode_block(block, 10_000, &[(0, Bucket::of(23.7, 4_321))]);
    assert_eq!(one.len(), 1 + 1 + 2 + 2);
    let mut many = Bucket::of(12.5, 10_100);
    for (v, t) in [(13.0, 12_000), (11.25, 15_000), (14.0, 19_000)] {
        many.record(v, t);
    }
    let enc = encode_block(block, 10_000, &[(1, many)]);
    assert_eq!(enc.len(), 16);
}
