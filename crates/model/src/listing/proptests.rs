//! Property tests: nothing in the engine panics on arbitrary input, and
//! sorting is a stable permutation whatever the values.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["kvm", "bhyve", "lx", "joyent", "02:08:20:01:02:03"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Keys biased towards the ones the engine reads.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "uuid",
            "brand",
            "alias",
            "ram",
            "max_physical_memory",
            "state",
            "type",
            "nics",
            "disks",
            "tags",
            "routes",
            "customer_metadata",
            "ip",
            "mac",
            "0",
            "role",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
    ]
}

/// An arbitrary VM-ish object.
fn vm() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), json_value()), 0..10).prop_map(|kv| kv.into_iter().collect())
}

/// Field-ish names: real ones, derived ones, and noise.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "uuid",
            "type",
            "ram",
            "alias",
            "nics.0.ip",
            "nics.*.ip",
            "nics.0.mac",
            "nics.*.mac",
            "disks.*.size",
            "tags.role",
            "routes.10.0.0.0/8",
            "cpu_cap",
            "-ram",
            "+alias",
        ])
        .prop_map(str::to_owned),
        "[a-z_.*0-9+-]{0,16}",
        ".{0,16}",
    ]
}

proptest! {
    #[test]
    fn filter_parsing_never_panics(args in prop::collection::vec(".{0,40}", 0..6)) {
        let _ = parse_filters(&args, FilterKind::List);
        let _ = parse_filters(&args, FilterKind::Lookup);
    }

    #[test]
    fn filter_matching_never_panics(
        keys in prop::collection::vec(field_name(), 0..4),
        values in prop::collection::vec(".{0,12}", 4),
        mut vm in vm(),
    ) {
        let args: Vec<String> = keys.iter().zip(&values).map(|(k, v)| format!("{k}={v}")).collect();
        add_computed_fields(&mut vm);
        if let Ok(filters) = parse_filters(&args, FilterKind::List) {
            let _ = matches_all(&vm, &filters);
        }
    }

    #[test]
    fn spec_parsing_never_panics(columns in ".{0,60}", sort in ".{0,60}") {
        let _ = ListSpec::parse(Some(&columns), Some(&sort));
        let _ = parse_columns(&columns);
        let _ = parse_sort(&sort);
    }

    #[test]
    fn rendering_never_panics(
        names in prop::collection::vec(field_name(), 1..6),
        mut vms in prop::collection::vec(vm(), 0..6),
        parsable in any::<bool>(),
        header in any::<Option<bool>>(),
    ) {
        vms.iter_mut().for_each(add_computed_fields);
        if let Ok(columns) = parse_columns(&names.join(",")) {
            let table = Table::new(columns, parsable, header);
            let out = table.render(&vms);
            let lines = vms.len() + usize::from(table.header_line().is_some());
            prop_assert!(out.matches('\n').count() >= lines);
        }
    }

    #[test]
    fn sorting_is_a_stable_permutation(
        names in prop::collection::vec(field_name(), 1..4),
        vms in prop::collection::vec(vm(), 0..12),
    ) {
        if let Ok(keys) = parse_sort(&names.join(",")) {
            let mut tagged: Vec<Map<String, Value>> = vms
                .into_iter()
                .enumerate()
                .map(|(i, mut vm)| {
                    add_computed_fields(&mut vm);
                    vm.insert("\u{0}seq".to_owned(), Value::from(i));
                    vm
                })
                .collect();
            let before = tagged.len();
            sort_vms(&mut tagged, &keys);
            prop_assert_eq!(tagged.len(), before);
            let mut seen: Vec<u64> = tagged.iter().filter_map(|vm| vm["\u{0}seq"].as_u64()).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..before as u64).collect::<Vec<_>>());
            // Sorting again changes nothing (the order is total and stable).
            let once: Vec<Value> = tagged.iter().map(|vm| vm["\u{0}seq"].clone()).collect();
            sort_vms(&mut tagged, &keys);
            let twice: Vec<Value> = tagged.iter().map(|vm| vm["\u{0}seq"].clone()).collect();
            prop_assert_eq!(once, twice);
        }
    }

    #[test]
    fn js_number_round_trips(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let text = js_number(f);
        let back: f64 = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, if f == 0.0 { 0.0 } else { f });
    }
}
