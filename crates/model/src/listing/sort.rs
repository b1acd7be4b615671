//! `-s` sort keys and the order `vmadm list` prints VMs in.
//!
//! vmadm compares with JavaScript's `<`/`>` and treats falsy values as
//! "after": ascending order puts numbers in numeric order, strings in
//! UTF-16 code-unit order, then present-but-falsy values (`0`, `false`,
//! `""`, `null`), then VMs that lack the field. A `-` key reverses that
//! whole order (so missing values come first), exactly as vmadm's
//! `direction * -1` does. Ties fall through to the next key, and VMs equal
//! on every key keep their input order.
//!
//! Where vmadm's comparator is not a total order (a number against a
//! non-numeric string compares neither less nor greater, which makes
//! node's sort result depend on input order), basalt puts every truthy
//! number (and `true`, as 1) before every truthy string; arrays and
//! objects sort as their `toString()` text.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::columns::is_wildcard;
use super::error::ListError;
use super::fields::Field;
use super::js::{cmp_utf16, is_truthy, js_string};

/// One `-s` key: a listable field and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    field: Field,
    descending: bool,
}

impl SortKey {
    /// The field sorted on.
    pub fn field(&self) -> &Field {
        &self.field
    }

    /// Whether the key was written with a `-` prefix.
    pub fn descending(&self) -> bool {
        self.descending
    }
}

/// Splits a leading `-` (descending) or `+` (ascending) off a sort token.
fn split_direction(token: &str) -> (bool, &str) {
    if let Some(name) = token.strip_prefix('-') {
        (true, name)
    } else {
        (false, token.strip_prefix('+').unwrap_or(token))
    }
}

/// Parses a `-s` list (`-ram,uuid`) into sort keys.
///
/// Every token is checked for a `*` index first (`Invalid sort key: "..."`),
/// then resolved (`invalid sort field: <f>`); both messages quote the token
/// as typed, prefix included, as vmadm does.
pub fn parse_sort(spec: &str) -> Result<Vec<SortKey>, ListError> {
    let tokens: Vec<&str> = spec.split(',').collect();
    check_sort(&tokens)?;
    resolve_sort(&tokens)
}

/// The wildcard pass over `-s` tokens.
pub(crate) fn check_sort(tokens: &[&str]) -> Result<(), ListError> {
    match tokens.iter().find(|t| is_wildcard(split_direction(t).1)) {
        Some(token) => Err(ListError::InvalidSortKey {
            key: (*token).to_owned(),
        }),
        None => Ok(()),
    }
}

/// The resolving pass over `-s` tokens.
pub(crate) fn resolve_sort(tokens: &[&str]) -> Result<Vec<SortKey>, ListError> {
    tokens
        .iter()
        .map(|token| {
            let (descending, name) = split_direction(token);
            let field = Field::parse(name).ok_or_else(|| ListError::InvalidSortField {
                field: (*token).to_owned(),
            })?;
            Ok(SortKey { field, descending })
        })
        .collect()
}

/// Sorts VMs (already carrying their computed fields) by `keys`; stable.
pub fn sort_vms(vms: &mut [Map<String, Value>], keys: &[SortKey]) {
    vms.sort_by_cached_key(|vm| {
        keys.iter()
            .map(|key| Directed {
                rank: Rank::of(key.field.value(vm)),
                descending: key.descending,
            })
            .collect::<Vec<_>>()
    });
}

/// Where a value falls in ascending order.
#[derive(Debug)]
enum Rank {
    /// A truthy number (or `true`, which JS compares as 1).
    Number(f64),
    /// A truthy string, or an array/object as its `toString()`.
    Text(String),
    /// Present but falsy: `0`, `false`, `""`, `null`.
    Falsy,
    /// The VM has no such field.
    Missing,
}

impl Rank {
    fn of(value: Option<&Value>) -> Rank {
        match value {
            None => Rank::Missing,
            Some(v) if !is_truthy(v) => Rank::Falsy,
            Some(Value::Bool(_)) => Rank::Number(1.0),
            Some(Value::Number(n)) => n.as_f64().map_or(Rank::Falsy, Rank::Number),
            Some(Value::String(s)) => Rank::Text(s.clone()),
            Some(other) => Rank::Text(js_string(other)),
        }
    }

    fn class(&self) -> u8 {
        match self {
            Rank::Number(_) => 0,
            Rank::Text(_) => 1,
            Rank::Falsy => 2,
            Rank::Missing => 3,
        }
    }
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Rank::Number(a), Rank::Number(b)) => a.total_cmp(b),
            (Rank::Text(a), Rank::Text(b)) => cmp_utf16(a, b),
            _ => self.class().cmp(&other.class()),
        }
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Rank {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Rank {}

/// A rank under one key's direction.
#[derive(Debug, PartialEq, Eq)]
struct Directed {
    rank: Rank,
    descending: bool,
}

impl Ord for Directed {
    fn cmp(&self, other: &Self) -> Ordering {
        let order = self.rank.cmp(&other.rank);
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

impl PartialOrd for Directed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::listing::DEFAULT_SORT;

    fn vms(values: Value) -> Vec<Map<String, Value>> {
        match values {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn sorted(values: Value, spec: &str) -> Vec<String> {
        let mut list = vms(values);
        let keys = parse_sort(spec).expect(spec);
        sort_vms(&mut list, &keys);
        list.iter()
            .map(|vm| vm.get("id").map(js_string).unwrap_or_default())
            .collect()
    }

    #[test]
    fn parses_prefixes() {
        let keys = parse_sort("-ram,+uuid,alias").expect("valid");
        let got: Vec<_> = keys
            .iter()
            .map(|k| (k.field().name(), k.descending()))
            .collect();
        assert_eq!(got, [("ram", true), ("uuid", false), ("alias", false)]);
        assert_eq!(parse_sort(DEFAULT_SORT).expect("defaults").len(), 2);
    }

    #[test]
    fn wildcards_are_invalid_sort_keys() {
        for (spec, key) in [
            ("nics.*.ip", "nics.*.ip"),
            ("uuid,-disks.*.size", "-disks.*.size"),
            ("+nics.*", "+nics.*"),
        ] {
            let err = parse_sort(spec).expect_err(spec);
            assert_eq!(err.to_string(), format!("Invalid sort key: \"{key}\""));
        }
        let err = parse_sort("bogus,nics.*.ip").expect_err("both bad");
        assert_eq!(err.to_string(), "Invalid sort key: \"nics.*.ip\"");
    }

    #[test]
    fn unknown_fields_are_invalid_sort_fields_quoted_as_typed() {
        for (spec, field) in [
            ("bogus", "bogus"),
            ("uuid,-bogus", "-bogus"),
            ("--ram", "--ram"),
            ("+-ram", "+-ram"),
            ("", ""),
            ("ram,", ""),
        ] {
            let err = parse_sort(spec).expect_err(spec);
            assert_eq!(err.to_string(), format!("invalid sort field: {field}"));
        }
    }

    #[test]
    fn numbers_sort_numerically_strings_lexically() {
        let list = json!([
            {"id": "a", "ram": 1024, "alias": "b"},
            {"id": "b", "ram": 128, "alias": "B"},
            {"id": "c", "ram": 2048, "alias": "a"},
        ]);
        assert_eq!(sorted(list.clone(), "ram"), ["b", "a", "c"]);
        assert_eq!(sorted(list.clone(), "-ram"), ["c", "a", "b"]);
        assert_eq!(sorted(list, "alias"), ["b", "c", "a"]);
    }

    #[test]
    fn missing_and_falsy_values_sort_after_present_ones() {
        let list = json!([
            {"id": "missing"},
            {"id": "zero", "cpu_cap": 0},
            {"id": "big", "cpu_cap": 400},
            {"id": "null", "cpu_cap": null},
            {"id": "small", "cpu_cap": 100},
        ]);
        assert_eq!(
            sorted(list.clone(), "cpu_cap"),
            ["small", "big", "zero", "null", "missing"]
        );
        assert_eq!(
            sorted(list, "-cpu_cap"),
            ["missing", "zero", "null", "big", "small"]
        );
    }

    #[test]
    fn ties_fall_through_and_keep_input_order() {
        let list = json!([
            {"id": "1", "ram": 256, "uuid": "b"},
            {"id": "2", "ram": 128, "uuid": "z"},
            {"id": "3", "ram": 256, "uuid": "a"},
            {"id": "4", "ram": 128, "uuid": "z"},
        ]);
        assert_eq!(sorted(list.clone(), DEFAULT_SORT), ["2", "4", "3", "1"]);
        assert_eq!(sorted(list.clone(), "ram"), ["2", "4", "1", "3"]);
        assert_eq!(sorted(list, "-ram,-uuid"), ["1", "3", "2", "4"]);
    }

    #[test]
    fn mixed_types_have_a_total_order() {
        let list = json!([
            {"id": "s", "quota": "abc"},
            {"id": "t", "quota": true},
            {"id": "n", "quota": 5},
            {"id": "a", "quota": [1]},
            {"id": "f", "quota": false},
        ]);
        assert_eq!(sorted(list, "quota"), ["t", "n", "a", "s", "f"]);
    }

    #[test]
    fn sorts_by_derived_fields() {
        let list = json!([
            {"id": "x", "nics": [{"ip": "10.0.0.9"}]},
            {"id": "y", "nics": [{"ip": "10.0.0.10"}]},
            {"id": "z", "tags": {"role": "db"}},
        ]);
        assert_eq!(sorted(list, "nics.0.ip"), ["y", "x", "z"]);
    }
}
