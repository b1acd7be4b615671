//! The read calls, client against server: ping, list with each filter,
//! paging over more than a page, get, file downloads whole and resumed.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use basalt_imgapi::server::ServerOptions;
use basalt_imgapi::{Client, ClientError};
use common::{DiskCatalog, MemCatalog, client, content, manifest, start, uuid};
use serde_json::{Value, json};

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn names(list: &[Value]) -> Vec<&str> {
    list.iter().map(|m| m["name"].as_str().unwrap()).collect()
}

/// Five images, one with a 3 MiB file.
fn disk_catalog() -> Arc<DiskCatalog> {
    let c = DiskCatalog::new();
    let mut a = manifest(1, "base-64", "2021-01-01T00:00:00Z");
    a["tags"] = json!({"role": "os"});
    c.add(a, Some(&content(3 << 20)));
    let mut b = manifest(2, "debian-12", "2024-01-01T00:00:00.250Z");
    b["os"] = json!("linux");
    b["type"] = json!("zvol");
    b["version"] = json!("20240101");
    b["public"] = json!(false);
    b["tags"] = json!({"role": "os", "kvm": true});
    c.add(b, Some(b"tiny"));
    let mut d = manifest(3, "old", "2019-01-01T00:00:00Z");
    d["state"] = json!("disabled");
    d["disabled"] = json!(true);
    c.add(d, None);
    let mut e = manifest(4, "mine", "2022-06-01T00:00:00Z");
    e["owner"] = json!("11111111-1111-1111-1111-111111111111");
    c.add(e, None);
    let mut f = manifest(5, "wip", "2023-01-01T00:00:00Z");
    f["state"] = json!("unactivated");
    c.add(f, None);
    Arc::new(c)
}

#[test]
fn ping_says_imgapi() {
    let (server, url) = start(disk_catalog(), ServerOptions::default());
    let pong = client(&url).ping().unwrap();
    assert_eq!(pong["ping"], "pong");
    assert_eq!(pong["imgapi"], true);
    assert_eq!(pong["version"], env!("CARGO_PKG_VERSION"));
    server.shutdown().unwrap();
}

#[test]
fn list_filters() {
    let (server, url) = start(disk_catalog(), ServerOptions::default());
    // The channel is sent and ignored by this server.
    let c = client(&format!("{url}/?channel=dev"));
    assert_eq!(c.channel(), Some("dev"));
    let list = |pairs: &[(&str, &str)]| names(&c.list(&q(pairs)).unwrap()).join(" ");
    assert_eq!(list(&[]), "base-64 mine debian-12");
    assert_eq!(list(&[("state", "all")]), "old base-64 mine wip debian-12");
    assert_eq!(list(&[("state", "disabled")]), "old");
    assert_eq!(list(&[("name", "mine")]), "mine");
    assert_eq!(list(&[("name", "~e")]), "base-64 mine debian-12");
    assert_eq!(list(&[("version", "~2024")]), "debian-12");
    assert_eq!(list(&[("os", "linux")]), "debian-12");
    assert_eq!(list(&[("type", "zvol")]), "debian-12");
    assert_eq!(list(&[("type", "!zvol")]), "base-64 mine");
    assert_eq!(
        list(&[("owner", "11111111-1111-1111-1111-111111111111")]),
        "mine"
    );
    assert_eq!(list(&[("public", "false")]), "debian-12");
    assert_eq!(list(&[("tag.role", "os")]), "base-64 debian-12");
    assert_eq!(
        list(&[("tag.role", "os"), ("tag.kvm", "true")]),
        "debian-12"
    );
    assert_eq!(
        list(&[("sort", "published_at.desc")]),
        "debian-12 mine base-64"
    );
    assert_eq!(list(&[("limit", "2")]), "base-64 mine");
    assert_eq!(
        list(&[("limit", "2"), ("marker", &uuid(4))]),
        "mine debian-12"
    );
    assert_eq!(list(&[("marker", "2022-01-01")]), "mine debian-12");
    assert_eq!(
        list(&[("account", "x"), ("inclAdminFields", "true")]),
        "base-64 mine debian-12"
    );

    let bad = c.list(&q(&[("limit", "5000")])).unwrap_err();
    assert!(
        matches!(&bad, ClientError::Rest { status: 422, code, .. } if code == "InvalidParameter"),
        "{bad:?}"
    );
    server.shutdown().unwrap();
}

/// 1203 images: two pages, every image once, in order. A few share a
/// `published_at` across the page boundary.
#[test]
fn paging_lists_more_than_a_page() {
    let mut images: Vec<Value> = (0..1203u32)
        .map(|i| {
            let at = if (995..1005).contains(&i) {
                "2020-01-01T00:16:35Z".to_string()
            } else {
                format!(
                    "2020-01-01T{:02}:{:02}:{:02}.{:03}Z",
                    i / 3600,
                    i / 60 % 60,
                    i % 60,
                    i % 1000
                )
            };
            manifest(i, &format!("img-{i}"), &at)
        })
        .collect();
    let expected: Vec<String> = {
        let mut sorted = images.clone();
        sorted.sort_by_key(|m| {
            let at = m["published_at"]
                .as_str()
                .unwrap()
                .replace("Z", "")
                .replace('.', "");
            (at, m["uuid"].as_str().unwrap().to_string())
        });
        sorted
            .iter()
            .map(|m| m["uuid"].as_str().unwrap().to_string())
            .collect()
    };
    // The catalog's own order is not the listing's.
    images.reverse();
    let catalog = Arc::new(MemCatalog {
        images,
        listings: AtomicUsize::new(0),
    });
    let (server, url) = start(catalog.clone(), ServerOptions::default());
    let got = client(&url).list(&[]).unwrap();
    let got: Vec<String> = got
        .iter()
        .map(|m| m["uuid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), 1203);
    assert_eq!(got, expected);
    assert_eq!(catalog.listings.load(Ordering::SeqCst), 2, "two pages");
    server.shutdown().unwrap();
}

#[test]
fn get_and_its_404() {
    let (server, url) = start(disk_catalog(), ServerOptions::default());
    let c = client(&url);
    let m = c.get(&uuid(2)).unwrap();
    assert_eq!(m["name"], "debian-12");
    assert_eq!(m["files"][0]["size"], 4);

    let missing = uuid(77);
    let e = c.get(&missing).unwrap_err();
    assert!(e.is_not_found());
    match &e {
        ClientError::Rest {
            status,
            code,
            message,
            url: u,
        } => {
            assert_eq!(*status, 404);
            assert_eq!(code, "ResourceNotFound");
            assert_eq!(message, &format!("image {missing} was not found"));
            assert_eq!(u, &format!("{url}/images/{missing}"));
        }
        other => panic!("{other:?}"),
    }
    // Not a uuid: the same 404, nothing looked up.
    assert!(c.get("../../etc").unwrap_err().is_not_found());
    server.shutdown().unwrap();
}

#[test]
fn file_whole_and_resumed() {
    let catalog = disk_catalog();
    let (server, url) = start(catalog, ServerOptions::default());
    let c = client(&url);
    let want = content(3 << 20);

    let mut d = c.file(&uuid(1), 0).unwrap();
    assert!(!d.resumed);
    assert_eq!(d.content_length, Some(want.len() as u64));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert!(got == want, "whole file differs");

    let from = 1_234_567;
    let d = c.file(&uuid(1), from).unwrap();
    assert!(d.resumed);
    assert_eq!(d.content_length, Some(want.len() as u64 - from));
    let mut reader = d.reader;
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert!(got == want[from as usize..], "resumed file differs");

    // From the end: nothing is left to send.
    let e = c.file(&uuid(1), want.len() as u64).unwrap_err();
    assert_eq!(e.status(), Some(416));
    // No image, or an image without a file.
    assert!(c.file(&uuid(77), 0).unwrap_err().is_not_found());
    assert!(c.file(&uuid(4), 0).unwrap_err().is_not_found());
    server.shutdown().unwrap();
}

/// Headers a plain HTTP client sees.
#[test]
fn file_headers_and_json_errors() {
    let (server, url) = start(disk_catalog(), ServerOptions::default());
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let r = agent
        .get(format!("{url}/images/{}/file", uuid(2)))
        .header("Range", "bytes=1-")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    let h = |r: &ureq::http::Response<ureq::Body>, k: &str| {
        r.headers().get(k).unwrap().to_str().unwrap().to_string()
    };
    assert_eq!(h(&r, "content-range"), "bytes 1-3/4");
    assert_eq!(h(&r, "content-type"), "application/octet-stream");
    assert_eq!(h(&r, "content-length"), "3");
    assert_eq!(r.into_body().read_to_string().unwrap(), "iny");

    let r = agent
        .get(format!("{url}/images/{}/file", uuid(2)))
        .header("Range", "bytes=9-")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 416);
    assert_eq!(h(&r, "content-range"), "bytes */4");

    for (method, path, status, code) in [
        ("GET", "/nope", 404, "ResourceNotFound"),
        ("GET", "/images/x/icon", 404, "ResourceNotFound"),
        ("PATCH", "/images", 405, "MethodNotAllowed"),
    ] {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{url}{path}"))
            .body(())
            .unwrap();
        let mut r = agent.run(req).unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(body["code"], code, "{method} {path}");
    }
    server.shutdown().unwrap();
}

#[test]
fn not_an_imgapi() {
    // A server whose ping is not IMGAPI's.
    let raw = common::RawServer::start(|_| common::raw_response("200 OK", r#"{"ok":true}"#));
    let e = client(&raw.url).ping().unwrap_err();
    assert!(matches!(e, ClientError::NotImgapi { .. }), "{e:?}");
    let raw = common::RawServer::start(|_| common::raw_response("404 Not Found", "<html/>"));
    let e = client(&raw.url).ping().unwrap_err();
    assert!(matches!(e, ClientError::NotImgapi { .. }), "{e:?}");
    assert!(Client::new("images.example.com", common::options()).is_err());
}
