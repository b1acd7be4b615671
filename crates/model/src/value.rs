//! Reading payload values the way vmadm does: JavaScript's `Number()` for
//! integers, the boolean spellings it tolerates, lists as arrays or comma
//! strings, and the type checks of the reference's validation table (2.8).

use serde_json::{Map, Number, Value};

use crate::ids::{Mac, is_uuid};
use crate::schema::{ListCheck, PropType, StrCheck};

/// What a payload's integer property holds once read as vmadm reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegerInput {
    /// Null or a blank string: the property is to be unset.
    Unset,
    /// A value for validation to judge: a numeric string turned into its
    /// integer, or anything else left as given (a fractional or infinite
    /// number stays a string, which validation reports as a bad value).
    Value(Value),
    /// A string `Number()` turns into `NaN`.
    NotANumber,
}

/// Reads an integer property's value as vmadm coerces it.
pub fn coerce_integer(v: &Value) -> IntegerInput {
    match v {
        _ if is_unset(v) => IntegerInput::Unset,
        Value::String(s) => match js_number(s) {
            None => IntegerInput::NotANumber,
            Some(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => {
                IntegerInput::Value(int_value(n as i64))
            }
            Some(_) => IntegerInput::Value(v.clone()),
        },
        other => IntegerInput::Value(other.clone()),
    }
}

/// Coerces every top-level integer property of a payload. Unset ones are
/// removed, or with `keep_unset` set to null (an update's way of saying
/// "unset"). Returns the names of all that are not numbers.
pub fn coerce_integer_properties(
    p: &mut Map<String, Value>,
    keep_unset: bool,
) -> Result<(), Vec<String>> {
    let mut not_numbers = Vec::new();
    let keys: Vec<String> = p.keys().cloned().collect();
    for key in keys {
        let is_integer = crate::schema::property(&key)
            .is_some_and(|prop| matches!(prop.ty, PropType::Integer { .. }));
        if !is_integer {
            continue;
        }
        match coerce_integer(&p[&key]) {
            IntegerInput::Unset if keep_unset => {
                p.insert(key, Value::Null);
            }
            IntegerInput::Unset => {
                p.remove(&key);
            }
            IntegerInput::Value(v) => {
                p.insert(key, v);
            }
            IntegerInput::NotANumber => not_numbers.push(key),
        }
    }
    if not_numbers.is_empty() {
        Ok(())
    } else {
        Err(not_numbers)
    }
}

/// vmadm's message for integer properties that are not numbers, one line
/// each.
pub fn not_a_number_message(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("Invalid value for {k}: null:number"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// JavaScript's `Number(s)` for a string: surrounding blanks ignored,
/// decimal with optional fraction and exponent, `0x`/`0o`/`0b` integers,
/// `Infinity`. `None` for what JavaScript turns into `NaN`, and for the
/// blank string, which vmadm treats as "unset".
pub fn js_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return u64::from_str_radix(digits, radix).ok().map(|n| n as f64);
        }
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return Some(if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let ok = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        && unsigned
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == b'.');
    if !ok {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Whether a value means "unset": null or a blank string.
pub fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The integer a value stands for: a JSON number or a numeric string that is
/// integral. `None` for anything else (including unset values).
pub fn as_integer(v: &Value) -> Option<i64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => js_number(s)?,
        _ => return None,
    };
    (f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15).then_some(f as i64)
}

/// The boolean a value stands for: `true`/`false`, their strings, and the
/// deprecated `1`/`"1"`/`0`/`"0"`.
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" || s == "1" => Some(true),
        Value::String(s) if s == "false" || s == "0" => Some(false),
        Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
        _ => None,
    }
}

/// The elements of a list value: an array of strings or numbers, or a comma
/// string (the empty string is the empty list). `None` if it is neither.
pub fn as_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) if s.is_empty() => Some(Vec::new()),
        Value::String(s) => Some(s.split(',').map(str::to_owned).collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Whether every value of an object is a string, number or boolean.
pub fn is_flat_object(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.values()
            .all(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
    })
}

/// Whether `v` is acceptable for a property of type `ty`; `zpools` are the
/// pools the node has. Unset values (null, blank) are acceptable for every
/// scalar type.
pub fn type_ok(ty: PropType, v: &Value, zpools: &[String]) -> bool {
    if is_unset(v) && !matches!(ty, PropType::ObjectArray | PropType::FlatObject) {
        return true;
    }
    match ty {
        PropType::Uuid => v.as_str().is_some_and(is_uuid),
        PropType::Boolean => as_bool(v).is_some(),
        PropType::Str(check) => v.as_str().is_some_and(|s| str_ok(check, s)),
        PropType::Integer { min, max } => as_integer(v).is_some_and(|n| (min..=max).contains(&n)),
        PropType::Zpool => v.as_str().is_some_and(|s| zpools.iter().any(|z| z == s)),
        PropType::FlatObject => is_flat_object(v),
        PropType::List(check) => as_list(v).is_some_and(|items| {
            items
                .iter()
                .all(|i| !i.contains(',') && element_ok(check, i))
        }),
        PropType::ObjectArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
        PropType::ReadOnly => false,
    }
}

fn str_ok(check: StrCheck, s: &str) -> bool {
    match check {
        StrCheck::Any => true,
        StrCheck::Mac => Mac::parse(s).is_some(),
        StrCheck::GuestBlockSize => {
            let pow2 = |p: &str| p.parse::<u64>().is_ok_and(|n| n.is_power_of_two());
            match s.split_once('/') {
                Some((a, b)) => pow2(a) && pow2(b),
                None => pow2(s),
            }
        }
    }
}

fn element_ok(check: ListCheck, s: &str) -> bool {
    match check {
        ListCheck::Any => true,
        ListCheck::Ip => s.parse::<std::net::IpAddr>().is_ok(),
        ListCheck::Namespace => {
            !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        }
        ListCheck::DhcpCid => {
            s.len() <= 512
                && s.strip_prefix("0x").is_some_and(|h| {
                    !h.is_empty() && h.len() % 2 == 0 && h.bytes().all(|c| c.is_ascii_hexdigit())
                })
        }
    }
}

/// A JSON number for an integer.
pub fn int_value(n: i64) -> Value {
    Value::Number(Number::from(n))
}

/// `JSON.stringify` of an object, as vmadm quotes a NIC or disk in messages.
pub fn compact(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_javascript_reads_them() {
        assert_eq!(js_number("12"), Some(12.0));
        assert_eq!(js_number(" 12 "), Some(12.0));
        assert_eq!(js_number("0x10"), Some(16.0));
        assert_eq!(js_number("1e3"), Some(1000.0));
        assert_eq!(js_number("-5"), Some(-5.0));
        assert_eq!(js_number(".5"), Some(0.5));
        assert_eq!(js_number("abc"), None);
        assert_eq!(js_number("12abc"), None);
        assert_eq!(js_number(""), None);
        assert_eq!(js_number("0xzz"), None);
        assert_eq!(js_number("Infinity"), Some(f64::INFINITY));
        assert_eq!(js_number("e5"), None);
    }

    #[test]
    fn integer_coercion() {
        assert_eq!(coerce_integer(&json!("12")), IntegerInput::Value(json!(12)));
        assert_eq!(coerce_integer(&json!("")), IntegerInput::Unset);
        assert_eq!(coerce_integer(&json!(null)), IntegerInput::Unset);
        assert_eq!(coerce_integer(&json!("x")), IntegerInput::NotANumber);
        assert_eq!(
            coerce_integer(&json!("Infinity")),
            IntegerInput::Value(json!("Infinity"))
        );
        assert_eq!(
            coerce_integer(&json!("1e400")),
            IntegerInput::Value(json!("1e400"))
        );
        assert_eq!(
            coerce_integer(&json!("1.5")),
            IntegerInput::Value(json!("1.5"))
        );
        assert_eq!(
            coerce_integer(&json!(true)),
            IntegerInput::Value(json!(true))
        );
        let mut p = json!({"quota": "", "cpu_cap": "a", "max_lwps": "b", "alias": "x", "ram": "5"})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(
            coerce_integer_properties(&mut p, false),
            Err(vec!["cpu_cap".to_owned(), "max_lwps".to_owned()])
        );
        assert!(!p.contains_key("quota"));
        assert_eq!(p["ram"], 5);
        assert_eq!(
            not_a_number_message(&["a".into(), "b".into()]),
            "Invalid value for a: null:number\nInvalid value for b: null:number"
        );
    }

    #[test]
    fn integers_booleans_lists() {
        assert_eq!(as_integer(&json!(5)), Some(5));
        assert_eq!(as_integer(&json!("5")), Some(5));
        assert_eq!(as_integer(&json!(5.5)), None);
        assert_eq!(as_integer(&json!(true)), None);
        assert_eq!(as_bool(&json!("true")), Some(true));
        assert_eq!(as_bool(&json!("1")), Some(true));
        assert_eq!(as_bool(&json!(0)), Some(false));
        assert_eq!(as_bool(&json!("yes")), None);
        assert_eq!(as_list(&json!("ufs,pcfs")).unwrap(), ["ufs", "pcfs"]);
        assert_eq!(as_list(&json!(["a", 1])).unwrap(), ["a", "1"]);
        assert_eq!(as_list(&json!("")).unwrap(), Vec::<String>::new());
        assert!(as_list(&json!([{}])).is_none());
    }

    #[test]
    fn type_checks_of_the_validation_table() {
        let pools = vec!["zones".to_owned()];
        let int = PropType::Integer { min: 0, max: 10 };
        assert!(type_ok(int, &json!(3), &pools));
        assert!(type_ok(int, &json!("3"), &pools));
        assert!(type_ok(int, &json!(null), &pools));
        assert!(type_ok(int, &json!(""), &pools));
        assert!(!type_ok(int, &json!(11), &pools));
        assert!(!type_ok(int, &json!(true), &pools));
        assert!(!type_ok(int, &json!("x"), &pools));
        assert!(type_ok(PropType::Zpool, &json!("zones"), &pools));
        assert!(!type_ok(PropType::Zpool, &json!("tank"), &pools));
        assert!(type_ok(
            PropType::FlatObject,
            &json!({"a": 1, "b": "x", "c": true}),
            &pools
        ));
        assert!(!type_ok(PropType::FlatObject, &json!({"a": {}}), &pools));
        assert!(!type_ok(PropType::FlatObject, &json!(null), &pools));
        assert!(type_ok(
            PropType::List(ListCheck::Ip),
            &json!(["8.8.8.8", "2001:db8::1"]),
            &pools
        ));
        assert!(!type_ok(
            PropType::List(ListCheck::Ip),
            &json!(["8.8.8"]),
            &pools
        ));
        assert!(!type_ok(
            PropType::List(ListCheck::Any),
            &json!(["a,b"]),
            &pools
        ));
        assert!(type_ok(
            PropType::List(ListCheck::Namespace),
            &json!(["docker", "a.b-c_d"]),
            &pools
        ));
        assert!(!type_ok(
            PropType::List(ListCheck::Namespace),
            &json!(["a b"]),
            &pools
        ));
        assert!(type_ok(
            PropType::List(ListCheck::DhcpCid),
            &json!(["0x01ab"]),
            &pools
        ));
        assert!(!type_ok(
            PropType::List(ListCheck::DhcpCid),
            &json!(["0x1ab"]),
            &pools
        ));
        assert!(!type_ok(PropType::ObjectArray, &json!([1]), &pools));
        assert!(type_ok(
            PropType::Str(StrCheck::Mac),
            &json!("2:8:20:1:2:3"),
            &pools
        ));
        assert!(!type_ok(
            PropType::Str(StrCheck::Mac),
            &json!("nope"),
            &pools
        ));
        assert!(type_ok(
            PropType::Str(StrCheck::GuestBlockSize),
            &json!("512/4096"),
            &pools
        ));
        assert!(!type_ok(
            PropType::Str(StrCheck::GuestBlockSize),
            &json!("513"),
            &pools
        ));
        assert!(!type_ok(PropType::Str(StrCheck::Any), &json!(5), &pools));
        assert!(!type_ok(PropType::Uuid, &json!("ABC"), &pools));
    }
}
