//! The list/lookup engine behind `vmadm list` and `vmadm lookup`
//! (reference 2.3): which fields exist, which VMs a filter selects, the
//! order they print in, and the exact bytes of the table. Pure: VMs come
//! in as the JSON objects `vmadm get` prints, text goes out.
//!
//! A `vmadm list` is, in this order (the order vmadm checks its input):
//!
//! 1. [`parse_filters`] on the `key=value` arguments;
//! 2. [`ListSpec::parse`] on `-o` and `-s`;
//! 3. for each VM, [`add_computed_fields`], then keep those for which
//!    [`matches_all`] holds;
//! 4. [`sort_vms`] by the spec's sort keys;
//! 5. [`Table::render`].
//!
//! ```
//! use basalt_model::listing::{
//!     add_computed_fields, matches_all, parse_filters, sort_vms, FilterKind, ListSpec, Table,
//! };
//! use serde_json::{json, Map, Value};
//!
//! let raw = json!([
//!     {"uuid": "d104e56e-43df-4d0f-b5ce-43f39d0fef46", "brand": "kvm",
//!      "ram": 1024, "state": "running", "alias": "ubuntu1"},
//!     {"uuid": "1e6ea123-dca0-44e6-8c0c-34c7f543fe82", "brand": "joyent",
//!      "max_physical_memory": 128, "state": "running", "alias": "zone55"},
//! ]);
//! let mut vms: Vec<Map<String, Value>> =
//!     serde_json::from_value(raw).expect("objects");
//!
//! let filters = parse_filters(&["state=running".to_owned()], FilterKind::List)?;
//! let spec = ListSpec::parse(None, None)?;
//! vms.iter_mut().for_each(add_computed_fields);
//! vms.retain(|vm| matches_all(vm, &filters));
//! sort_vms(&mut vms, spec.sort());
//! let out = Table::new(spec.columns().to_vec(), false, None).render(&vms);
//! assert!(out.starts_with("UUID                                  TYPE  RAM"));
//! assert!(out.ends_with("KVM   1024     running           ubuntu1\n"));
//! # Ok::<(), basalt_model::listing::ListError>(())
//! ```
//!
//! `vmadm lookup` uses the same [`parse_filters`] (with
//! [`FilterKind::Lookup`]), [`add_computed_fields`] and [`matches_all`];
//! `-j -o` output goes through [`project`]. Its usage errors are
//! [`ListError::OutputWithoutJson`] and [`ListError::NotUnique`].

mod columns;
mod computed;
mod error;
mod fields;
mod filter;
mod js;
mod render;
mod sort;

#[cfg(test)]
mod proptests;

pub use columns::parse_columns;
pub use computed::{add_computed_fields, brand_type, project};
pub use error::ListError;
pub use fields::{DEFAULT_COLUMNS, DEFAULT_SORT, Field};
pub use filter::{Filter, FilterKind, matches_all, parse_filters};
pub use js::{js_number, js_string};
pub use render::Table;
pub use sort::{SortKey, parse_sort, sort_vms};

/// The `-o` columns and `-s` keys of one `vmadm list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSpec {
    columns: Vec<Field>,
    sort: Vec<SortKey>,
}

impl ListSpec {
    /// Parses `-o` and `-s` (`None` = [`DEFAULT_COLUMNS`] / [`DEFAULT_SORT`])
    /// with vmadm's order of checks, so that of two mistakes the same one
    /// is reported: `*` in a column, `*` in a sort key, an unknown sort
    /// field, an unknown column.
    pub fn parse(columns: Option<&str>, sort: Option<&str>) -> Result<ListSpec, ListError> {
        let names: Vec<&str> = columns.unwrap_or(DEFAULT_COLUMNS).split(',').collect();
        let tokens: Vec<&str> = sort.unwrap_or(DEFAULT_SORT).split(',').collect();
        columns::check_columns(&names)?;
        sort::check_sort(&tokens)?;
        let sort = sort::resolve_sort(&tokens)?;
        let columns = columns::resolve_columns(&names)?;
        Ok(ListSpec { columns, sort })
    }

    /// The columns, in output order.
    pub fn columns(&self) -> &[Field] {
        &self.columns
    }

    /// The sort keys, most significant first.
    pub fn sort(&self) -> &[SortKey] {
        &self.sort
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(columns: Option<&str>, sort: Option<&str>) -> String {
        ListSpec::parse(columns, sort)
            .expect_err("invalid spec")
            .to_string()
    }

    #[test]
    fn defaults() {
        let spec = ListSpec::parse(None, None).expect("defaults");
        let columns: Vec<_> = spec.columns().iter().map(Field::name).collect();
        let sort: Vec<_> = spec.sort().iter().map(|k| k.field().name()).collect();
        assert_eq!(columns, ["uuid", "type", "ram", "state", "alias"]);
        assert_eq!(sort, ["ram", "uuid"]);
    }

    #[test]
    fn checks_run_in_vmadm_order() {
        let (bad_col, star_col) = (Some("bogus"), Some("nics.*.ip"));
        let (bad_sort, star_sort) = (Some("bogus2"), Some("nics.*.mac"));
        assert_eq!(
            message(star_col, star_sort),
            "Invalid order key: \"nics.*.ip\""
        );
        assert_eq!(
            message(bad_col, star_sort),
            "Invalid sort key: \"nics.*.mac\""
        );
        assert_eq!(message(bad_col, bad_sort), "invalid sort field: bogus2");
        assert_eq!(message(bad_col, None), "invalid order field: bogus");
        assert_eq!(message(None, Some("-bogus")), "invalid sort field: -bogus");
    }

    #[test]
    fn lookup_usage_messages() {
        assert_eq!(
            ListError::OutputWithoutJson.to_string(),
            "Cannot specify -o without -j"
        );
        assert_eq!(
            ListError::NotUnique { found: 0 }.to_string(),
            "Requested unique lookup but found 0 results."
        );
        assert_eq!(
            ListError::NotUnique { found: 3 }.to_string(),
            "Requested unique lookup but found 3 results."
        );
    }
}
