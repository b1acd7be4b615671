//! Publishing, client against server: the round trip into the catalog,
//! and every way it fails leaving nothing staged.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use basalt_imgapi::ClientError;
use basalt_imgapi::server::ServerOptions;
use common::{DiskCatalog, client, content, files_in, manifest, sha1_hex, start, uuid};
use serde_json::{Value, json};

struct Setup {
    catalog: Arc<DiskCatalog>,
    uploads: PathBuf,
    work: tempfile::TempDir,
}

fn setup(publish: bool) -> (Setup, basalt_imgapi::ServerHandle, String) {
    let catalog = Arc::new(DiskCatalog::new());
    catalog.add(
        manifest(1, "existing", "2020-01-01T00:00:00Z"),
        Some(b"old"),
    );
    let work = tempfile::tempdir().unwrap();
    let uploads = work.path().join("uploads");
    let (server, url) = start(
        catalog.clone(),
        ServerOptions {
            publish,
            upload_dir: uploads.clone(),
        },
    );
    (
        Setup {
            catalog,
            uploads,
            work,
        },
        server,
        url,
    )
}

/// An image to publish: its manifest (as `imgadm create` writes one) and
/// its file.
fn image(s: &Setup, i: u32, bytes: &[u8]) -> (Value, PathBuf) {
    let path = s.work.path().join(format!("img-{i}.zfs.gz"));
    std::fs::write(&path, bytes).unwrap();
    let mut m = manifest(i, "published", "2024-05-01T10:00:00.000Z");
    m["files"] = json!([{"sha1": sha1_hex(bytes), "size": bytes.len(), "compression": "gzip"}]);
    (m, path)
}

#[test]
fn publish_round_trip() {
    let (s, server, url) = setup(true);
    let bytes = content((2 << 20) + 17);
    let (m, path) = image(&s, 2, &bytes);
    let c = client(&url);
    let mut seen = Vec::new();
    let served = c.publish(&m, &path, &mut |n| seen.push(n)).unwrap();

    assert_eq!(served["uuid"], uuid(2));
    assert_eq!(served["state"], "active");
    assert_eq!(served["published_at"], "2024-05-01T10:00:00.000Z");
    let published = s.catalog.published.lock().unwrap();
    assert_eq!(published.len(), 1);
    let (pm, pbytes) = &published[0];
    assert!(*pbytes == bytes, "the catalog got other bytes");
    assert_eq!(
        pm["files"],
        json!([{"sha1": sha1_hex(&bytes), "size": bytes.len(), "compression": "gzip"}])
    );
    assert_eq!(pm["name"], "published");
    assert_eq!(seen.last(), Some(&(bytes.len() as u64)));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress only grows");
    assert!(
        files_in(&s.uploads).is_empty(),
        "{:?}",
        files_in(&s.uploads)
    );
    drop(published);

    // Now served like any other image.
    assert_eq!(c.get(&uuid(2)).unwrap()["state"], "active");
    let mut got = Vec::new();
    c.file(&uuid(2), 0).unwrap().read_to_end(&mut got).unwrap();
    assert!(got == bytes);
    server.shutdown().unwrap();
}

/// A manifest without a sha1: the client computes it; without a
/// `published_at`: the server sets it.
#[test]
fn publish_fills_what_the_manifest_lacks() {
    let (s, server, url) = setup(true);
    let (mut m, path) = image(&s, 3, b"small image");
    m["files"] = json!([{"compression": "none"}]);
    m.as_object_mut().unwrap().remove("published_at");
    let served = client(&url).publish(&m, &path, &mut |_| {}).unwrap();
    assert_eq!(served["files"][0]["sha1"], sha1_hex(b"small image"));
    assert!(served["published_at"].as_str().unwrap().ends_with('Z'));
    server.shutdown().unwrap();
}

/// A wrong sha1: 422, the client deletes the import, nothing is left.
#[test]
fn publish_with_a_wrong_sha1_leaves_nothing() {
    let (s, server, url) = setup(true);
    let (mut m, path) = image(&s, 4, b"the real bytes");
    m["files"][0]["sha1"] = json!(sha1_hex(b"other bytes"));
    let e = client(&url).publish(&m, &path, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, ClientError::Rest { status: 422, message, .. } if message.contains("sha1")),
        "{e:?}"
    );
    assert!(
        files_in(&s.uploads).is_empty(),
        "{:?}",
        files_in(&s.uploads)
    );
    assert!(s.catalog.published.lock().unwrap().is_empty());
    assert!(client(&url).get(&uuid(4)).unwrap_err().is_not_found());
    server.shutdown().unwrap();
}

/// The upload step alone: a mismatch stages no file, even before the
/// client deletes the import.
#[test]
fn a_bad_upload_stages_no_file() {
    let (s, server, url) = setup(true);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let image = format!("{url}/images/{}", uuid(5));
    let m = manifest(5, "staged", "2024-01-01T00:00:00Z");
    let r = agent
        .post(format!("{image}?action=import"))
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(&m).unwrap())
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let staged = files_in(&s.uploads);
    assert_eq!(staged, vec![format!("{}.json", uuid(5))]);

    for query in [
        format!("compression=none&sha1={}", sha1_hex(b"x")),
        "compression=none&size=3".to_string(),
    ] {
        let r = agent
            .put(format!("{image}/file?{query}"))
            .send(&b"abcdef"[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 422, "{query}");
        assert_eq!(files_in(&s.uploads), staged, "{query}");
    }
    // Activating without a file is refused.
    let mut r = agent
        .post(format!("{image}?action=activate"))
        .send_empty()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["code"], "NoActivationNoFile");

    let r = agent.delete(&image).call().unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(files_in(&s.uploads).is_empty());
    let r = agent.delete(&image).call().unwrap();
    assert_eq!(r.status().as_u16(), 404);
    server.shutdown().unwrap();
}

#[test]
fn publish_refused_when_disabled() {
    let (s, server, url) = setup(false);
    let (m, path) = image(&s, 6, b"bytes");
    let e = client(&url).publish(&m, &path, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, ClientError::Rest { status: 403, code, .. } if code == "NotAuthorized"),
        "{e:?}"
    );
    assert!(!s.uploads.exists());
    server.shutdown().unwrap();
}

#[test]
fn publish_of_an_existing_uuid_is_a_conflict() {
    let (s, server, url) = setup(true);
    let (m, path) = image(&s, 1, b"bytes");
    let e = client(&url).publish(&m, &path, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, ClientError::Rest { status: 409, code, .. } if code == "ImageUuidAlreadyExists"),
        "{e:?}"
    );
    // The existing image is untouched.
    assert_eq!(client(&url).get(&uuid(1)).unwrap()["name"], "existing");
    server.shutdown().unwrap();
}

/// The catalog refuses the image at activation: the error comes back,
/// the import is deleted.
#[test]
fn a_refused_activation_is_undone() {
    let (s, server, url) = setup(true);
    s.catalog.refuse_publish.store(true, Ordering::SeqCst);
    let (m, path) = image(&s, 7, b"bytes");
    let e = client(&url).publish(&m, &path, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, ClientError::Rest { status: 422, code, .. } if code == "ValidationFailed"),
        "{e:?}"
    );
    assert!(
        files_in(&s.uploads).is_empty(),
        "{:?}",
        files_in(&s.uploads)
    );
    server.shutdown().unwrap();
}

#[test]
fn publish_checks_the_manifest_and_file_first() {
    let (s, server, url) = setup(true);
    let c = client(&url);
    let (m, path) = image(&s, 8, b"bytes");
    let mut no_uuid = m.clone();
    no_uuid.as_object_mut().unwrap().remove("uuid");
    assert!(matches!(
        c.publish(&no_uuid, &path, &mut |_| {}),
        Err(ClientError::BadManifest { .. })
    ));
    assert!(matches!(
        c.publish(&m, &s.work.path().join("missing"), &mut |_| {}),
        Err(ClientError::Io { .. })
    ));
    assert!(files_in(&s.uploads).is_empty());
    server.shutdown().unwrap();
}
