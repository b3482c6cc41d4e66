//! The MD5 digests SQS returns beside a message, which SDKs may check: of the body, and of the
//! message attributes in SQS's own encoding. MD5 itself (RFC 1321) is a few lines, written
//! here rather than taken as a dependency for these checksums alone.

use crate::backend::MessageAttributes;

/// MD5 of `data`, as lowercase hex.
pub fn hex(data: &[u8]) -> String {
    digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// SQS's digest of message attributes: for each attribute in name order, the name, the data
/// type, a transport byte (1 for a text value, 2 for a binary one) and the value, each
/// length-prefixed with 4 bytes big-endian but the transport byte.
pub fn of_attributes(attributes: &MessageAttributes) -> String {
    let mut encoded = Vec::new();
    for (name, attribute) in attributes {
        prefixed(&mut encoded, name.as_bytes());
        prefixed(&mut encoded, attribute.data_type.as_bytes());
        match (&attribute.string_value, &attribute.binary_value) {
            (_, Some(bytes)) => {
                encoded.push(2);
                prefixed(&mut encoded, bytes);
            }
            (text, None) => {
                encoded.push(1);
                prefixed(&mut encoded, text.as_deref().unwrap_or_default().as_bytes());
            }
        }
    }
    hex(&encoded)
}

fn prefixed(encoded: &mut Vec<u8>, bytes: &[u8]) {
    encoded.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    encoded.extend_from_slice(bytes);
}

const SHIFTS: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

fn digest(data: &[u8]) -> [u8; 16] {
    // K[i] = floor(abs(sin(i + 1)) * 2^32), as the RFC defines it.
    let k: [u32; 64] =
        std::array::from_fn(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32);
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in message.chunks_exact(64) {
        let words: [u32; 16] = std::array::from_fn(|i| {
            u32::from_le_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ])
        });
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(words[g])
                .rotate_left(SHIFTS[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (word, add) in state.iter_mut().zip([a, b, c, d]) {
            *word = word.wrapping_add(add);
        }
    }
    let mut out = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MessageAttribute;

    #[test]
    fn md5_gives_the_rfc_1321_test_suite_digests() {
        let suite = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, expected) in suite {
            assert_eq!(hex(input.as_bytes()), expected, "MD5 of {input:?}");
        }
    }

    #[test]
    fn the_attribute_digest_is_sqss_encoding_in_name_order() {
        // The bytes SQS hashes, written out by hand for one text and one binary attribute.
        let attributes = MessageAttributes::from([
            (
                "b".to_string(),
                MessageAttribute {
                    data_type: "Binary".into(),
                    string_value: None,
                    binary_value: Some(vec![1, 2]),
                },
            ),
            (
                "a".to_string(),
                MessageAttribute {
                    data_type: "String".into(),
                    string_value: Some("x".into()),
                    binary_value: None,
                },
            ),
        ]);
        let mut expected = Vec::new();
        expected.extend_from_slice(b"\0\0\0\x01a\0\0\0\x06String\x01\0\0\0\x01x");
        expected.extend_from_slice(b"\0\0\0\x01b\0\0\0\x06Binary\x02\0\0\0\x02\x01\x02");
        assert_eq!(of_attributes(&attributes), hex(&expected));
    }
}
