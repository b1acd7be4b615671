//! Literal values: integer constants with their suffixes and C's escape
//! sequences in string and character constants. Pure functions on text,
//! shared by the lexer and the expansion of macro arguments.

use super::ast::IntLit;
use super::error::ParseErrorKind;

/// Reads an integer constant at the start of `text`: decimal, octal
/// (leading `0`) or hex (`0x`), then `[uU]?[lL]?[lL]?`. Returns the literal
/// and how many bytes it took; `None` when `text` does not start with a
/// digit.
pub fn lex_int(text: &str) -> Option<Result<(IntLit, usize), ParseErrorKind>> {
    let b = text.as_bytes();
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    let hex =
        b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') && b[2].is_ascii_hexdigit();
    let (digits_start, mut end) = if hex { (2, 2) } else { (0, 0) };
    while end < b.len()
        && (if hex {
            b[end].is_ascii_hexdigit()
        } else {
            b[end].is_ascii_digit()
        })
    {
        end += 1;
    }
    let digits = &text[digits_start..end];
    let mut lit = IntLit {
        value: 0,
        unsigned: false,
        longs: 0,
        decimal: !hex && b[0] != b'0',
    };
    if end < b.len() && matches!(b[end], b'u' | b'U') {
        lit.unsigned = true;
        end += 1;
    }
    while lit.longs < 2 && end < b.len() && matches!(b[end], b'l' | b'L') {
        lit.longs += 1;
        end += 1;
    }
    let whole = &text[..end];
    let radix = if hex {
        16
    } else if b[0] == b'0' {
        8
    } else {
        10
    };
    if radix == 8
        && let Some(bad) = digits.chars().find(|c| !('0'..='7').contains(c))
    {
        return Some(Err(ParseErrorKind::InvalidDigit {
            text: whole.to_owned(),
            digit: bad,
        }));
    }
    match u64::from_str_radix(digits, radix) {
        Ok(v) => lit.value = v,
        Err(_) => {
            return Some(Err(ParseErrorKind::IntOverflow {
                text: whole.to_owned(),
            }));
        }
    }
    Some(Ok((lit, end)))
}

/// Replaces C escapes in the body of a string or character constant:
/// `\n \t \v \b \r \f \a \\ \? \' \"`, up to three octal digits, `\x` and
/// up to two hex digits; any other escaped character stands for itself.
pub fn unescape(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        if c != b'\\' || i == body.len() {
            out.push(c);
            continue;
        }
        let e = body[i];
        i += 1;
        let v = match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'v' => 0x0b,
            b'b' => 0x08,
            b'r' => b'\r',
            b'f' => 0x0c,
            b'a' => 0x07,
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + u32::from(body[i] - b'0');
                    i += 1;
                    n += 1;
                }
                (v & 0xff) as u8
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < body.len() && body[i].is_ascii_hexdigit() {
                    v = v * 16 + (body[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 { b'x' } else { v as u8 }
            }
            other => other,
        };
        out.push(v);
    }
    out
}

/// True for a D identifier: `[a-zA-Z_`][0-9a-zA-Z_`]*`.
pub fn is_ident(text: &str) -> bool {
    let mut b = text.bytes();
    b.next().is_some_and(is_ident_start) && b.all(is_ident_char)
}

pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'`'
}

pub fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'`'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(text: &str) -> (u64, bool, u8, bool, usize) {
        let (l, n) = lex_int(text).unwrap().unwrap();
        (l.value, l.unsigned, l.longs, l.decimal, n)
    }

    #[test]
    fn integers_in_every_base_with_suffixes() {
        assert_eq!(int("42"), (42, false, 0, true, 2));
        assert_eq!(int("0"), (0, false, 0, false, 1));
        assert_eq!(int("017"), (15, false, 0, false, 3));
        assert_eq!(int("0x1F;"), (31, false, 0, false, 4));
        assert_eq!(int("10ul"), (10, true, 1, true, 4));
        assert_eq!(int("10ULL)"), (10, true, 2, true, 5));
        assert_eq!(int("10LLL"), (10, false, 2, true, 4));
        assert_eq!(int("18446744073709551615"), (u64::MAX, false, 0, true, 20));
        // `0x` without a digit is the constant 0 followed by `x`.
        assert_eq!(int("0x"), (0, false, 0, false, 1));
        assert!(lex_int("x1").is_none());
    }

    #[test]
    fn integer_errors_use_dtrace_wording() {
        assert_eq!(
            lex_int("09").unwrap().unwrap_err().to_string(),
            "constant 09 contains invalid digit 9"
        );
        assert_eq!(
            lex_int("18446744073709551616")
                .unwrap()
                .unwrap_err()
                .to_string(),
            "constant 18446744073709551616 results in integer overflow"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(br#"a\n\t\\\"\'\?"#), b"a\n\t\\\"'?");
        assert_eq!(unescape(br#"\101\x41\x4g\0"#), b"AA\x04g\0");
        assert_eq!(unescape(br#"\q\"#), b"q\\");
        assert_eq!(unescape(br#"\xZ"#), b"xZ");
        assert_eq!(unescape(br#"\777"#), [0xff]);
    }
}
