use serde_json::{Value, json};

use super::{ListQuery, QueryError, effective_state, select, time_key};

fn q(pairs: &[(&str, &str)]) -> ListQuery {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListQuery::parse(&pairs).unwrap()
}

fn q_err(pairs: &[(&str, &str)]) -> QueryError {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListQuery::parse(&pairs).unwrap_err()
}

fn uuid(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn catalog() -> Vec<Value> {
    vec![
        json!({"uuid": uuid(1), "name": "base-64", "version": "21.4.0", "os": "smartos",
               "type": "zone-dataset", "owner": "o1", "public": true, "state": "active",
               "disabled": false, "published_at": "2021-10-01T00:00:00Z",
               "tags": {"role": "os", "kvm": true}, "billing_tags": ["a", "b"]}),
        json!({"uuid": uuid(2), "name": "debian-12", "version": "20240101", "os": "linux",
               "type": "zvol", "owner": "o2", "public": false, "state": "active",
               "published_at": "2024-01-01T12:00:00.5Z", "tags": {"role": "os"}}),
        json!({"uuid": uuid(3), "name": "debian-12", "version": "20240201", "os": "linux",
               "type": "lx-dataset", "owner": "o2", "state": "disabled",
               "published_at": "2024-02-01T00:00:00Z"}),
        json!({"uuid": uuid(4), "name": "work", "version": "1.0", "os": "other",
               "type": "other", "state": "unactivated"}),
        // No state: active. Disabled flag: disabled.
        json!({"uuid": uuid(5), "name": "nostate", "version": "1", "os": "linux",
               "type": "zvol", "published_at": "2023-01-01T00:00:00.000Z"}),
        json!({"uuid": uuid(6), "name": "off", "version": "1", "os": "linux",
               "type": "zvol", "disabled": true, "published_at": "2023-06-01T00:00:00Z"}),
    ]
}

fn uuids(v: &[Value]) -> Vec<u32> {
    v.iter()
        .map(|m| m["uuid"].as_str().unwrap()[24..].parse().unwrap())
        .collect()
}

fn list(pairs: &[(&str, &str)]) -> Vec<u32> {
    uuids(&select(catalog(), &q(pairs)).unwrap())
}

#[test]
fn default_is_active_in_publish_order() {
    assert_eq!(list(&[]), vec![1, 5, 2]);
    assert_eq!(list(&[("state", "all")]), vec![4, 1, 5, 6, 2, 3]);
    assert_eq!(list(&[("state", "disabled")]), vec![6, 3]);
    assert_eq!(list(&[("state", "unactivated")]), vec![4]);
    assert_eq!(effective_state(&json!({})), "active");
    assert_eq!(effective_state(&json!({"disabled": true})), "disabled");
    assert_eq!(
        effective_state(&json!({"state": "failed", "disabled": true})),
        "failed"
    );
}

#[test]
fn text_filters() {
    assert_eq!(list(&[("name", "debian-12"), ("state", "all")]), vec![2, 3]);
    assert_eq!(list(&[("name", "debian")]), Vec::<u32>::new());
    assert_eq!(list(&[("name", "~deb")]), vec![2]);
    assert_eq!(list(&[("version", "~2024"), ("state", "all")]), vec![2, 3]);
    assert_eq!(list(&[("version", "21.4.0")]), vec![1]);
    assert_eq!(list(&[("os", "linux")]), vec![5, 2]);
    assert_eq!(list(&[("owner", "o2"), ("state", "all")]), vec![2, 3]);
}

#[test]
fn type_filter_includes_or_excludes() {
    assert_eq!(list(&[("type", "zvol")]), vec![5, 2]);
    assert_eq!(list(&[("type", "!zvol")]), vec![1]);
    assert_eq!(list(&[("type", "!zvol"), ("state", "all")]), vec![4, 1, 3]);
}

#[test]
fn public_filter() {
    assert_eq!(list(&[("public", "true")]), vec![1]);
    // Without `public`, an image is not public.
    assert_eq!(list(&[("public", "false")]), vec![5, 2]);
    assert!(q_err(&[("public", "yes")]).0.contains("public"));
}

#[test]
fn tag_filters_are_anded_and_compared_as_text() {
    assert_eq!(list(&[("tag.role", "os")]), vec![1, 2]);
    assert_eq!(list(&[("tag.role", "os"), ("tag.kvm", "true")]), vec![1]);
    assert_eq!(list(&[("tag.kvm", "false")]), Vec::<u32>::new());
    assert_eq!(list(&[("tag.nope", "x")]), Vec::<u32>::new());
    assert_eq!(list(&[("billing_tag", "a")]), vec![1]);
    assert_eq!(
        list(&[("billing_tag", "a"), ("billing_tag", "c")]),
        Vec::<u32>::new()
    );
}

#[test]
fn unknown_parameters_are_ignored() {
    assert_eq!(
        list(&[
            ("channel", "dev"),
            ("account", "x"),
            ("inclAdminFields", "true")
        ]),
        vec![1, 5, 2]
    );
}

#[test]
fn sort_and_limit() {
    assert_eq!(list(&[("sort", "published_at.desc")]), vec![2, 5, 1]);
    assert_eq!(list(&[("sort", "published_at.asc")]), vec![1, 5, 2]);
    assert_eq!(list(&[("sort", "published_at")]), vec![1, 5, 2]);
    assert_eq!(list(&[("limit", "2")]), vec![1, 5]);
    assert_eq!(list(&[("limit", "1000")]), vec![1, 5, 2]);
    for bad in ["0", "1001", "-1", "x", ""] {
        assert!(q_err(&[("limit", bad)]).0.starts_with("limit"), "{bad}");
    }
    assert!(q_err(&[("sort", "name")]).0.starts_with("sort"));
    assert!(q_err(&[("state", "bogus")]).0.starts_with("state"));
}

#[test]
fn marker_starts_at_the_image_or_the_date() {
    assert_eq!(list(&[("marker", &uuid(5))]), vec![5, 2]);
    assert_eq!(
        list(&[("marker", &uuid(5)), ("sort", "published_at.desc")]),
        vec![5, 1]
    );
    // A marker the filters drop still places the page.
    assert_eq!(list(&[("marker", &uuid(6))]), vec![2]);
    assert_eq!(list(&[("marker", "2023-01-01")]), vec![5, 2]);
    assert_eq!(list(&[("marker", "2023-01-01T00:00:00.001Z")]), vec![2]);
    assert_eq!(
        list(&[("marker", "2023-01-01"), ("sort", "published_at.desc")]),
        vec![5, 1]
    );
    let unknown = select(catalog(), &q(&[("marker", &uuid(99))])).unwrap_err();
    assert!(unknown.0.contains(&uuid(99)));
    assert!(q_err(&[("marker", "yesterday")]).0.starts_with("marker"));
}

/// Images published at the same instant page by uuid: no image is
/// skipped or repeated across pages.
#[test]
fn ties_page_by_uuid() {
    let images: Vec<Value> = (0..25)
        .map(|i| json!({"uuid": uuid(24 - i), "published_at": "2024-01-01T00:00:00Z"}))
        .collect();
    let mut seen: Vec<u32> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut pairs = vec![("limit", "10".to_string())];
        if let Some(m) = &marker {
            pairs.push(("marker", m.clone()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = uuids(&select(images.clone(), &q(&pairs)).unwrap());
        let fresh: Vec<u32> = if marker.is_some() {
            page[1..].to_vec()
        } else {
            page.clone()
        };
        seen.extend(&fresh);
        if page.len() < 10 {
            break;
        }
        marker = Some(uuid(*page.last().unwrap()));
    }
    assert_eq!(seen, (0..25).collect::<Vec<u32>>());
}

#[test]
fn time_keys_order_as_times() {
    let k = |s| time_key(s).unwrap();
    assert_eq!(
        k("2012-05-02T15:14:45.805Z"),
        "2012-05-02T15:14:45.805000000"
    );
    assert_eq!(k("2012-05-02T15:14:45Z"), "2012-05-02T15:14:45.000000000");
    assert_eq!(k("2012-05-02"), "2012-05-02T00:00:00.000000000");
    assert_eq!(
        k("2012-05-02 15:14:45+00:00"),
        "2012-05-02T15:14:45.000000000"
    );
    assert!(k("2012-05-02T15:14:45Z") < k("2012-05-02T15:14:45.805Z"));
    for bad in [
        "",
        "2012",
        "2012-5-2",
        "2012-05-02T15:14",
        "2012-05-02T15:14:45+02:00",
        "é",
    ] {
        assert_eq!(time_key(bad), None, "{bad}");
    }
}
