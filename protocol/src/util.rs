//! String and slice helpers shared by parsers, builders and the responder.

use crate::error::{ParseError, Result};

/// Runs a nom parser over `input`, mapping its error to [`ParseError`] for `what`.
pub(crate) fn run<'a, O>(
    what: &'static str,
    input: &'a [u8],
    mut p: impl nom::Parser<&'a [u8], Output = O, Error = nom::error::Error<&'a [u8]>>,
) -> Result<(&'a [u8], O)> {
    p.parse(input).map_err(|e| ParseError::from_nom(what, e))
}

/// Bytes `[offset, offset+len)` of `buf`, or a typed error when out of bounds.
pub(crate) fn slice_at<'a>(
    what: &'static str,
    buf: &'a [u8],
    offset: usize,
    len: usize,
) -> Result<&'a [u8]> {
    let end = offset
        .checked_add(len)
        .ok_or_else(|| ParseError::invalid(what, "offset overflow"))?;
    buf.get(offset..end).ok_or(ParseError::Truncated {
        what,
        need: end,
        have: buf.len(),
    })
}

/// Decodes UTF-16LE up to the first NUL (or the end), lossily; odd trailing bytes are ignored.
/// Spec: [MS-CIFS] 2.2.1.1 (Unicode SMB_STRING).
pub fn utf16le_to_string(b: &[u8]) -> String {
    let mut units = b
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|&u| u != 0);
    // ASCII (nearly every name) a byte at a time; from the first other unit on, the UTF-16
    // decoder with U+FFFD for what does not decode, as String::from_utf16_lossy (no Vec of
    // units in between: this runs for every name of every session a capture shows).
    let mut s = String::with_capacity(b.len() / 2);
    while let Some(u) = units.next() {
        if u < 0x80 {
            s.push(char::from(u as u8));
        } else {
            s.extend(
                char::decode_utf16(std::iter::once(u).chain(&mut units))
                    .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
            );
            break;
        }
    }
    s
}

/// Splits a UTF-16LE NUL-terminated string off the front of `b`: (string, rest after the NUL).
/// Without a terminator the whole input is the string and the rest is empty.
/// Spec: [MS-CIFS] 2.2.1.1.
pub fn take_utf16z(b: &[u8]) -> (String, &[u8]) {
    let mut i = 0;
    while let Some(pair) = b.get(i..i + 2) {
        if pair == [0, 0] {
            let s = utf16le_to_string(b.get(..i).unwrap_or_default());
            return (s, b.get(i + 2..).unwrap_or_default());
        }
        i += 2;
    }
    (utf16le_to_string(b), &[])
}

/// Splits an OEM (treated as Latin-1/ASCII) NUL-terminated string off the front of `b`.
/// Spec: [MS-CIFS] 2.2.1.1 (OEM SMB_STRING).
pub fn take_oemz(b: &[u8]) -> (String, &[u8]) {
    match b.iter().position(|&c| c == 0) {
        Some(n) => (
            latin1(b.get(..n).unwrap_or_default()),
            b.get(n + 1..).unwrap_or_default(),
        ),
        None => (latin1(b), &[]),
    }
}

fn latin1(b: &[u8]) -> String {
    // ASCII (nearly every string) is its own UTF-8: copied whole, not a char at a time.
    match std::str::from_utf8(b) {
        Ok(s) if b.is_ascii() => s.to_owned(),
        _ => b.iter().map(|&c| c as char).collect(),
    }
}

/// Encodes `s` as UTF-16LE without terminator.
/// Spec: [MS-CIFS] 2.2.1.1, [MS-NLMP] 2.2 (Unicode strings).
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// Little-endian u16 at `offset` of `b`, `None` when it does not fit. For code that picks single
/// fields out of a message (the responder reading requests); parsers of this crate use nom.
/// Spec: [MS-CIFS] 2.2.1, [MS-SMB2] 2.2 (little-endian integers).
pub fn u16_le_at(b: &[u8], offset: usize) -> Option<u16> {
    let bytes = b.get(offset..offset.checked_add(2)?)?;
    bytes.try_into().ok().map(u16::from_le_bytes)
}

/// Little-endian u32 at `offset` of `b`, `None` when it does not fit (see [`u16_le_at`]).
/// Spec: [MS-CIFS] 2.2.1, [MS-SMB2] 2.2.
pub fn u32_le_at(b: &[u8], offset: usize) -> Option<u32> {
    let bytes = b.get(offset..offset.checked_add(4)?)?;
    bytes.try_into().ok().map(u32::from_le_bytes)
}

/// Little-endian u64 at `offset` of `b`, `None` when it does not fit (see [`u16_le_at`]).
/// Spec: [MS-CIFS] 2.2.1, [MS-SMB2] 2.2.
pub fn u64_le_at(b: &[u8], offset: usize) -> Option<u64> {
    let bytes = b.get(offset..offset.checked_add(8)?)?;
    bytes.try_into().ok().map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_at_bounds() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_le_at(&b, 0), Some(0x0201));
        assert_eq!(u16_le_at(&b, 8), None);
        assert_eq!(u16_le_at(&b, usize::MAX), None);
        assert_eq!(u32_le_at(&b, 5), Some(0x0908_0706));
        assert_eq!(u32_le_at(&b, 6), None);
        assert_eq!(u64_le_at(&b, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(u64_le_at(&b, 2), None);
    }

    /// The decoding as it was written first: every unit to the first NUL into a Vec, then
    /// String::from_utf16_lossy.
    fn lossy(b: &[u8]) -> String {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }

    #[test]
    fn utf16le_to_string_is_from_utf16_lossy() {
        let units: [&[u16]; 9] = [
            &[],
            &[0x41, 0x42, 0],
            &[0x41, 0, 0x42],
            &[0x7f, 0x80, 0x41],
            &[0x65e5, 0x672c, 0x41],
            &[0xd83e, 0xdd80, 0x41], // a surrogate pair
            &[0x41, 0xd83e, 0x42],   // a lone high surrogate
            &[0xdd80, 0x41, 0xd83e], // lone low, then high at the end
            &[0x57, 0x49, 0x4e, 0x32, 0x30, 0x31, 0x36],
        ];
        for u in units {
            let mut b: Vec<u8> = u.iter().flat_map(|x| x.to_le_bytes()).collect();
            assert_eq!(utf16le_to_string(&b), lossy(&b), "{u:x?}");
            b.push(0x41); // an odd trailing byte is ignored
            assert_eq!(utf16le_to_string(&b), lossy(&b), "{u:x?} + odd byte");
        }
    }
}
