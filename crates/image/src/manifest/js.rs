//! How imgadm (JavaScript) reads and prints JSON values, for messages and
//! the lenient readings it allows.

use serde_json::Value;

/// `util.format('%j', v)`: compact JSON.
pub(crate) fn j(v: &Value) -> String {
    v.to_string()
}

/// `util.format('%s', v)`: JavaScript's string conversion.
pub(crate) fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::Null => String::new(),
                    other => s(other),
                })
                .collect();
            parts.join(",")
        }
        Value::Object(_) => "[object Object]".to_owned(),
        other => other.to_string(),
    }
}

/// A whole number greater than zero: a JSON integer, or a float with no
/// fraction (JavaScript has one number type), below 2^53.
pub(crate) fn positive_int(v: &Value) -> Option<u64> {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    let n = match v {
        Value::Number(n) => n,
        _ => return None,
    };
    let int = match n.as_u64() {
        Some(u) => u,
        None => {
            let f = n.as_f64()?;
            if f.fract() != 0.0 || !(1.0..=MAX_SAFE as f64).contains(&f) {
                return None;
            }
            f as u64
        }
    };
    (int > 0 && int <= MAX_SAFE).then_some(int)
}

/// imgmanifest's `boolFromString`: a boolean, or the strings `"true"` and
/// `"false"`.
pub(crate) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// A string's length as JavaScript counts it (UTF-16 code units).
pub(crate) fn len(s: &str) -> usize {
    s.encode_utf16().count()
}
