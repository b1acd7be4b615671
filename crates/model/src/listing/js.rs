//! The few JavaScript value semantics that vmadm's output depends on:
//! `toString()`, truthiness, string ordering and lengths, `\s`.
//!
//! SmartOS's vmadm is node; what it prints for a value is the value's
//! `toString()`, whether it prints it at all is the value's truthiness, and
//! its column padding counts UTF-16 code units. Reproducing those here keeps
//! basalt's output byte-identical without sprinkling JS rules around.

use std::cmp::Ordering;

use serde_json::Value;

/// The text JavaScript's `String(value)` gives for a JSON value.
///
/// Numbers print as JS prints them (`128`, `0.5`, `1e+21`); booleans as
/// `true`/`false`; strings raw; arrays as their elements' strings joined
/// by `,` (a `null` element gives an empty string); objects as
/// `[object Object]`; `null` as `null`.
pub fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), js_number),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_owned(),
    }
}

/// JavaScript's `Number.prototype.toString()` (radix 10) for a finite number.
///
/// Integers print without a fraction up to 1e21, then in exponent form
/// (`1e+21`); small magnitudes switch to exponent form below 1e-6 (`1e-7`).
/// Integers beyond 2^53 print rounded, as node would have read them.
pub fn js_number(f: f64) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".to_owned()
        } else if f > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        };
    }
    if f < 0.0 {
        return format!("-{}", js_number(-f));
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as JS does.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    layout_number(&digits, k, n)
}

/// Step 6-10 of ECMA-262 `Number::toString`: place the decimal point for
/// `digits` (k of them) times 10^(n-k).
fn layout_number(digits: &str, k: i64, n: i64) -> String {
    let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or(0));
    if k <= n && n <= 21 {
        return format!("{digits}{}", zeros(n - k));
    }
    if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or(0));
        return format!("{int}.{frac}");
    }
    if -6 < n && n <= 0 {
        return format!("0.{}{digits}", zeros(-n));
    }
    let e = n - 1;
    let sign = if e >= 0 { '+' } else { '-' };
    let (first, rest) = digits.split_at(1);
    if rest.is_empty() {
        format!("{first}e{sign}{}", e.abs())
    } else {
        format!("{first}.{rest}e{sign}{}", e.abs())
    }
}

/// JavaScript truthiness: `null`, `false`, `0` and `""` are falsy; every
/// other value, including `[]` and `{}`, is truthy.
pub(crate) fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_none_or(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// How JavaScript orders two strings with `<`: by UTF-16 code units.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A string's JavaScript `length`: UTF-16 code units (what `sprintf`'s
/// `%-10s` pads against).
pub(crate) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Whether `c` is matched by JavaScript's `\s` (Unicode `White_Space`,
/// minus U+0085, plus U+FEFF).
fn is_js_space(c: char) -> bool {
    c == '\u{feff}' || (c.is_whitespace() && c != '\u{85}')
}

/// JavaScript's `str.replace(/[\s]+$/, '')`, the `rtrim` vmadm applies to
/// every output line.
pub(crate) fn trim_end_js(s: &str) -> &str {
    s.trim_end_matches(is_js_space)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_print_as_node_prints_them() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (128.0, "128"),
            (1024.0, "1024"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (1.5e300, "1.5e+300"),
            (0.000_001, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(js_number(f), want, "{f:?}");
        }
    }

    #[test]
    fn json_numbers_go_through_f64_like_node() {
        assert_eq!(js_string(&json!(u64::MAX)), "18446744073709552000");
        assert_eq!(js_string(&json!(-5)), "-5");
        assert_eq!(js_string(&json!(2.0)), "2");
    }

    #[test]
    fn values_stringify_as_to_string() {
        assert_eq!(js_string(&json!(true)), "true");
        assert_eq!(js_string(&json!(false)), "false");
        assert_eq!(js_string(&json!("raw \"text\"")), "raw \"text\"");
        assert_eq!(js_string(&json!(null)), "null");
        assert_eq!(js_string(&json!({"a": 1})), "[object Object]");
        assert_eq!(
            js_string(&json!(["10.0.0.1/24", null, 3, [4, 5], {}])),
            "10.0.0.1/24,,3,4,5,[object Object]"
        );
        assert_eq!(js_string(&json!([])), "");
    }

    #[test]
    fn truthiness_follows_js() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!is_truthy(&falsy), "{falsy}");
        }
        for truthy in [
            json!(true),
            json!(1),
            json!(-1),
            json!("0"),
            json!([]),
            json!({}),
        ] {
            assert!(is_truthy(&truthy), "{truthy}");
        }
    }

    #[test]
    fn strings_order_by_utf16_units() {
        // U+FF5E sorts after U+1F600 in UTF-16: 0xFF5E > 0xD83D, its high surrogate.
        assert_eq!(cmp_utf16("\u{ff5e}", "\u{1f600}"), Ordering::Greater);
        assert_eq!(cmp_utf16("a", "b"), Ordering::Less);
        assert_eq!(cmp_utf16("B", "a"), Ordering::Less);
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(utf16_len("caf\u{e9}"), 4);
        assert_eq!(utf16_len("\u{1f600}"), 2);
    }

    #[test]
    fn trims_what_js_backslash_s_matches() {
        assert_eq!(trim_end_js("a \t\n\u{a0}\u{feff}\u{3000}"), "a");
        assert_eq!(trim_end_js("a\u{85}"), "a\u{85}");
        assert_eq!(trim_end_js("a:b:"), "a:b:");
    }
}
