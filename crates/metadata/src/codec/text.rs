//! The few text rules of the agent's line parsing, on bytes.

/// ASCII white space, as the agent's `\s` sees it in a request line.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `bytes` without trailing white space.
pub(crate) fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// `bytes` without leading white space.
pub(crate) fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// The first word of `bytes` (which must not start with white space) and
/// what follows the white space after it: all of it when `all_space`,
/// else one byte of it.
pub(crate) fn split_word(bytes: &[u8], all_space: bool) -> (&[u8], &[u8]) {
    let end = bytes
        .iter()
        .position(|&b| is_space(b))
        .unwrap_or(bytes.len());
    let (word, rest) = bytes.split_at(end);
    let rest = if all_space {
        trim_start(rest)
    } else {
        rest.get(1..).unwrap_or_default()
    };
    (word, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims() {
        assert_eq!(trim_end(b"GET x \r\t"), b"GET x");
        assert_eq!(trim_end(b" \r"), b"");
        assert_eq!(trim_start(b" \tx "), b"x ");
        assert_eq!(trim_start(b"  "), b"");
    }

    #[test]
    fn words() {
        assert_eq!(split_word(b"GET  a b", false), (&b"GET"[..], &b" a b"[..]));
        assert_eq!(split_word(b"GET  a b", true), (&b"GET"[..], &b"a b"[..]));
        assert_eq!(split_word(b"KEYS", false), (&b"KEYS"[..], &b""[..]));
        assert_eq!(split_word(b"KEYS ", true), (&b"KEYS"[..], &b""[..]));
    }
}
