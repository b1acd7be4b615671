//! `-o` column lists of `vmadm list`.

use super::error::ListError;
use super::fields::Field;

/// Array properties whose `*` index vmadm refuses in `-o`/`-s` (it could
/// not say which element to show).
const WILDCARD_ARRAYS: [&str; 3] = ["disks", "filesystems", "nics"];

/// Whether a column or sort name uses a `*` index: vmadm's test is
/// `/^(disks|filesystems|nics).\*/`, any one character then `*`.
pub(crate) fn is_wildcard(name: &str) -> bool {
    WILDCARD_ARRAYS.iter().any(|array| {
        name.strip_prefix(array).is_some_and(|rest| {
            let mut chars = rest.chars();
            chars.next().is_some() && chars.next() == Some('*')
        })
    })
}

/// Parses a `-o` list (`uuid,type,nics.0.ip`) into columns.
///
/// Every name is checked for a `*` index first (`Invalid order key: "..."`),
/// then resolved (`invalid order field: <f>`), as vmadm does. An empty
/// name (`uuid,,alias`) is an invalid field.
pub fn parse_columns(spec: &str) -> Result<Vec<Field>, ListError> {
    let names: Vec<&str> = spec.split(',').collect();
    check_columns(&names)?;
    resolve_columns(&names)
}

/// The wildcard pass over `-o` names.
pub(crate) fn check_columns(names: &[&str]) -> Result<(), ListError> {
    match names.iter().find(|name| is_wildcard(name)) {
        Some(name) => Err(ListError::InvalidOrderKey {
            key: (*name).to_owned(),
        }),
        None => Ok(()),
    }
}

/// The resolving pass over `-o` names.
pub(crate) fn resolve_columns(names: &[&str]) -> Result<Vec<Field>, ListError> {
    names
        .iter()
        .map(|name| {
            Field::parse(name).ok_or_else(|| ListError::InvalidOrderField {
                field: (*name).to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::DEFAULT_COLUMNS;

    fn names(columns: &[Field]) -> Vec<&str> {
        columns.iter().map(Field::name).collect()
    }

    #[test]
    fn default_columns_parse() {
        let columns = parse_columns(DEFAULT_COLUMNS).expect("defaults");
        assert_eq!(names(&columns), ["uuid", "type", "ram", "state", "alias"]);
    }

    #[test]
    fn derived_columns_parse() {
        let columns = parse_columns("uuid,nics.0.ip,tags.role").expect("derived");
        assert_eq!(names(&columns), ["uuid", "nics.0.ip", "tags.role"]);
    }

    #[test]
    fn wildcards_are_invalid_order_keys() {
        for (spec, key) in [
            ("uuid,nics.*.ip", "nics.*.ip"),
            ("disks.*.size", "disks.*.size"),
            ("filesystems.*.target", "filesystems.*.target"),
            ("nics.*", "nics.*"),
        ] {
            let err = parse_columns(spec).expect_err(spec);
            assert_eq!(err.to_string(), format!("Invalid order key: \"{key}\""));
        }
    }

    #[test]
    fn wildcards_are_reported_before_unknown_fields() {
        let err = parse_columns("bogus,nics.*.ip").expect_err("both bad");
        assert_eq!(err.to_string(), "Invalid order key: \"nics.*.ip\"");
    }

    #[test]
    fn unknown_columns_are_invalid_order_fields() {
        for (spec, field) in [
            ("uuid,bogus", "bogus"),
            ("uuid,,alias", ""),
            ("", ""),
            ("UUID", "UUID"),
            ("nics.x.ip", "nics.x.ip"),
            ("pci_devices.*.x", "pci_devices.*.x"),
        ] {
            let err = parse_columns(spec).expect_err(spec);
            assert_eq!(err.to_string(), format!("invalid order field: {field}"));
        }
    }

    #[test]
    fn hash_columns_accept_any_key() {
        assert!(parse_columns("tags.*").is_ok());
        assert!(parse_columns("tags.*x,routes.10.0.0.0/8").is_ok());
    }
}
