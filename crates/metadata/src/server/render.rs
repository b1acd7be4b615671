//! Values as the agent (node) writes them: a scalar as its text, anything
//! as `JSON.stringify` would.

use basalt_model::listing::js_string;
use serde_json::Value;

use super::Lookup;

/// A value as GET answers it: text as it is, numbers and booleans as
/// JavaScript prints them, a missing or `null` value not found, anything
/// else (objects, arrays) a failure.
pub(crate) fn scalar(value: Option<&Value>) -> Lookup {
    match value {
        None | Some(Value::Null) => Lookup::NotFound,
        Some(Value::String(s)) => Lookup::Found(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Lookup::Found(js_string(v)),
        Some(Value::Array(_) | Value::Object(_)) => Lookup::NotScalar,
    }
}

/// `JSON.stringify(value)`: compact, keys in their order, numbers as
/// JavaScript prints them (`1` for a stored `1.0`).
pub(crate) fn js_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(_) | Value::Number(_) => out.push_str(&js_string(value)),
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(scalar(Some(&json!("a\nb"))), Lookup::Found("a\nb".into()));
        assert_eq!(scalar(Some(&json!(""))), Lookup::Found(String::new()));
        assert_eq!(scalar(Some(&json!(128))), Lookup::Found("128".into()));
        assert_eq!(scalar(Some(&json!(0.5))), Lookup::Found("0.5".into()));
        assert_eq!(scalar(Some(&json!(2.0))), Lookup::Found("2".into()));
        assert_eq!(scalar(Some(&json!(false))), Lookup::Found("false".into()));
        assert_eq!(scalar(Some(&json!(null))), Lookup::NotFound);
        assert_eq!(scalar(None), Lookup::NotFound);
        assert_eq!(scalar(Some(&json!(["a"]))), Lookup::NotScalar);
        assert_eq!(scalar(Some(&json!({}))), Lookup::NotScalar);
    }

    #[test]
    fn json_as_node_writes_it() {
        let v = json!([{"mac": "02:08:20:01:02:03", "vlan_id": 0, "primary": true,
            "ips": ["10.0.0.2/24"], "mtu": 1500.0, "note": "tab\there \"q\" \u{1} é",
            "gone": null}]);
        assert_eq!(
            js_json(&v),
            r#"[{"mac":"02:08:20:01:02:03","vlan_id":0,"primary":true,"ips":["10.0.0.2/24"],"mtu":1500,"note":"tab\there \"q\" \u0001 é","gone":null}]"#
        );
        assert_eq!(js_json(&json!(256)), "256");
        assert_eq!(js_json(&json!([])), "[]");
        assert_eq!(js_json(&json!({})), "{}");
    }
}
