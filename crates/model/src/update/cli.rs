//! The `vmadm update <uuid> key=value ...` form: top-level keys only, every
//! value a string coerced by the property's type.

use serde_json::{Map, Value, json};

use super::UpdateError;
use crate::schema::{self, PropType};
use crate::value::{IntegerInput, coerce_integer};

/// Turns `key=value` arguments into an update payload. Integers go through
/// JavaScript's `Number()` (a non-number is `Invalid value for <p>:
/// null:number`); booleans accept true/false/1/0; lists split on commas;
/// `null` stays the string "null", as on SmartOS.
pub fn parse_args(args: &[String]) -> Result<Map<String, Value>, UpdateError> {
    let mut payload = Map::new();
    let mut not_numbers = Vec::new();
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| UpdateError::BadArgument(arg.clone()))?;
        let ty = schema::property(key)
            .or_else(|| schema::update_member(key))
            .map(|p| p.ty);
        let v = match ty {
            Some(PropType::Integer { .. }) => match coerce_integer(&json!(value)) {
                IntegerInput::Unset => Value::Null,
                IntegerInput::Value(v) => v,
                IntegerInput::NotANumber => {
                    not_numbers.push(key.to_owned());
                    continue;
                }
            },
            Some(PropType::Boolean) => match value {
                "true" | "1" => json!(true),
                "false" | "0" => json!(false),
                other => json!(other),
            },
            Some(PropType::List(_)) => {
                let items: Vec<&str> = if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(',').collect()
                };
                json!(items)
            }
            _ => json!(value),
        };
        payload.insert(key.to_owned(), v);
    }
    if !not_numbers.is_empty() {
        return Err(UpdateError::NotANumber(not_numbers));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_are_coerced_by_type() {
        let p = parse_args(&args(&[
            "max_physical_memory=512",
            "autoboot=false",
            "fs_allowed=ufs,pcfs",
            "alias=web01",
            "hostname=null",
            "resolvers=",
            "do_not_inventory=1",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"max_physical_memory": 512, "autoboot": false, "fs_allowed": ["ufs", "pcfs"],
                   "alias": "web01", "hostname": "null", "resolvers": [], "do_not_inventory": true})
        );
    }

    #[test]
    fn a_non_number_names_the_property() {
        let e = parse_args(&args(&["cpu_cap=lots"])).unwrap_err();
        assert_eq!(e.to_string(), "Invalid value for cpu_cap: null:number");
        let e = parse_args(&args(&["nonsense"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid argument: \"nonsense\" (expected key=value)"
        );
    }
}
