//! The list/lookup engine behind `vmadm list` and `vmadm lookup`
//! (reference 2.3): which fields exist, which VMs a filter selects, the
//! order they print in, and the exact bytes of the table. Pure: VMs come
//! in as the JSON objects `vmadm get` prints, text goes out.

mod columns;
mod computed;
mod error;
mod fields;
mod filter;
mod js;
mod sort;

pub use columns::parse_columns;
pub use computed::{add_computed_fields, brand_type, project};
pub use error::ListError;
pub use fields::{DEFAULT_COLUMNS, DEFAULT_SORT, Field};
pub use filter::{Filter, FilterKind, matches_all, parse_filters};
pub use js::{js_number, js_string};
pub use sort::{SortKey, parse_sort, sort_vms};
