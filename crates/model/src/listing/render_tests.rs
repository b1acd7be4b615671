use serde_json::json;

use super::*;
use crate::listing::{DEFAULT_COLUMNS, add_computed_fields, parse_columns, parse_sort, sort_vms};

fn vms(values: Value) -> Vec<Map<String, Value>> {
    let Value::Array(items) = values else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(mut m) => {
                add_computed_fields(&mut m);
                Some(m)
            }
            _ => None,
        })
        .collect()
}

fn table(columns: &str, parsable: bool, header: Option<bool>) -> Table {
    Table::new(parse_columns(columns).expect(columns), parsable, header)
}

fn example_vms() -> Vec<Map<String, Value>> {
    vms(json!([
        {
            "uuid": "d104e56e-43df-4d0f-b5ce-43f39d0fef46",
            "brand": "kvm",
            "ram": 1024,
            "max_physical_memory": 1280,
            "state": "running",
            "alias": "ubuntu1"
        },
        {
            "uuid": "1e6ea123-dca0-44e6-8c0c-34c7f543fe82",
            "brand": "joyent",
            "max_physical_memory": 128,
            "state": "running",
            "alias": "zone55"
        }
    ]))
}

#[test]
fn reproduces_the_reference_example_byte_for_byte() {
    let mut list = example_vms();
    sort_vms(&mut list, &parse_sort("ram,uuid").expect("sort"));
    let want = concat!(
        "UUID                                  TYPE  RAM      STATE             ALIAS\n",
        "1e6ea123-dca0-44e6-8c0c-34c7f543fe82  OS    128      running           zone55\n",
        "d104e56e-43df-4d0f-b5ce-43f39d0fef46  KVM   1024     running           ubuntu1\n",
    );
    assert_eq!(table(DEFAULT_COLUMNS, false, None).render(&list), want);
}

#[test]
fn parsable_joins_with_colons_and_drops_the_header() {
    let list = example_vms();
    let want = concat!(
        "d104e56e-43df-4d0f-b5ce-43f39d0fef46:KVM:1024:running:ubuntu1\n",
        "1e6ea123-dca0-44e6-8c0c-34c7f543fe82:OS:128:running:zone55\n",
    );
    assert_eq!(table(DEFAULT_COLUMNS, true, None).render(&list), want);
}

#[test]
fn parsable_header_only_on_request() {
    let t = table("uuid,alias", true, Some(true));
    assert_eq!(t.header_line().as_deref(), Some("UUID:ALIAS"));
    assert_eq!(table("uuid,alias", false, Some(false)).header_line(), None);
    let list = example_vms();
    assert_eq!(
        table("alias", false, Some(false)).render(&list),
        "ubuntu1\nzone55\n"
    );
}

#[test]
fn empty_cells_are_dashes_or_empty_strings() {
    let list = vms(json!([{"uuid": "u", "brand": "joyent", "autoboot": false, "cpu_cap": 0}]));
    let columns = "alias,autoboot,cpu_cap,uuid";
    assert_eq!(
        table(columns, false, Some(false)).row(&list[0]),
        "-           -         -        u"
    );
    assert_eq!(table(columns, true, None).row(&list[0]), ":::u");
    // Trailing empty cells: dashes stay, colons stay.
    assert_eq!(
        table("uuid,alias", false, None).row(&list[0]),
        "u                                     -"
    );
    assert_eq!(table("uuid,alias", true, None).row(&list[0]), "u:");
}

#[test]
fn long_values_are_not_truncated() {
    let list =
        vms(json!([{"alias": "a-very-long-alias-name", "state": "running", "brand": "joyent"}]));
    assert_eq!(
        table("alias,state,type", false, None).row(&list[0]),
        "a-very-long-alias-name  running           OS"
    );
}

#[test]
fn values_print_as_javascript_would() {
    let list = vms(json!([{
        "brand": "kvm",
        "autoboot": true,
        "cpu_cap": 12.5,
        "max_swap": 1e21,
        "nics": [{"ips": ["10.0.0.5/24", "fd00::5/64"], "x": {"a": 1}, "e": []}],
        "tags": {"role": "db"}
    }]));
    let t = table(
        "autoboot,cpu_cap,max_swap,nics.0.ips,nics.0.x,nics.0.e,tags.role",
        true,
        None,
    );
    assert_eq!(
        t.row(&list[0]),
        "true:12.5:1e+21:10.0.0.5/24,fd00::5/64:[object Object]::db"
    );
}

#[test]
fn derived_headers_are_upper_cased_and_padded_to_20() {
    let t = table("nics.0.ip,tags.role,alias", false, None);
    assert_eq!(
        t.header_line().as_deref(),
        Some("NICS.0.IP             TAGS.ROLE             ALIAS")
    );
}

#[test]
fn padding_counts_utf16_units_and_trailing_whitespace_is_trimmed() {
    let list = vms(json!([{"alias": "caf\u{e9}", "hostname": "\u{1f600}", "state": "up \u{a0}"}]));
    let t = table("alias,hostname,state", false, None);
    let want = format!(
        "caf\u{e9}{}  \u{1f600}{}  up",
        " ".repeat(6),
        " ".repeat(30)
    );
    assert_eq!(t.row(&list[0]), want);
}

#[test]
fn values_are_not_escaped() {
    let list = vms(json!([{"alias": "a:b", "uuid": "u"}]));
    assert_eq!(table("alias,uuid", true, None).row(&list[0]), "a:b:u");
}

#[test]
fn no_vms_is_just_the_header() {
    assert_eq!(
        table("uuid,type", false, None).render(&[]),
        "UUID                                  TYPE\n"
    );
    assert_eq!(table("uuid,type", true, None).render(&[]), "");
}
