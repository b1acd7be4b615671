//! An OCI image layout, built here from the minimal (busybox) image in
//! two layers — the second adds an entrypoint's working directory and
//! whites out a file of the first — imports as an lx-dataset image, and a
//! zone created from it runs the image's entrypoint as its init, with the
//! image's environment and working directory. A layout whose blob was
//! altered is refused and leaves nothing behind.

mod common;

use std::io::Read;
use std::path::Path;

use common::images::{gzip, minimal_image};
use common::zones::Zones;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Writes `data` as a blob of the layout at `dir`; returns its descriptor.
fn blob(dir: &Path, media_type: &str, data: &[u8]) -> Value {
    let digest = sha256(data);
    let path = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": data.len()})
}

/// The second layer: `/srv/app/` with a file, and a whiteout of
/// `/etc/os-release`.
fn second_layer() -> Vec<u8> {
    let header = |kind: tar::EntryType, mode: u32, size: usize| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_767_322_800);
        h.set_size(size as u64);
        h
    };
    let data = b"layer two\n";
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = header(tar::EntryType::Directory, 0o755, 0);
    b.append_data(&mut dir, "srv/app/", &[][..]).unwrap();
    let mut file = header(tar::EntryType::Regular, 0o644, data.len());
    b.append_data(&mut file, "srv/app/data", &data[..]).unwrap();
    let mut wh = header(tar::EntryType::Regular, 0o644, 0);
    b.append_data(&mut wh, "etc/.wh.os-release", &[][..])
        .unwrap();
    b.into_inner().unwrap()
}

fn build_layout(dir: &Path) -> Value {
    let (_, file) = minimal_image();
    let mut first = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap())
        .read_to_end(&mut first)
        .unwrap();
    let second = second_layer();
    let layer = "application/vnd.oci.image.layer.v1.tar+gzip";
    let layers = vec![
        blob(dir, layer, &gzip(&first)),
        blob(dir, layer, &gzip(&second)),
    ];
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "created": "2026-01-02T03:04:05.123456789Z",
        "config": {
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo \"$GREETING from $(pwd)\" > /tmp/ready; exec sleep 3600"],
            "Env": ["GREETING=hello", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/srv/app",
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(&first), sha256(&second)]},
    });
    let config = blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": layers,
    });
    let mut manifest = blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    manifest["annotations"] = json!({"org.opencontainers.image.ref.name": "busybox-app:1.0"});
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [manifest]}).to_string(),
    )
    .unwrap();
    layers[1].clone()
}

#[test]
fn an_oci_layout_imports_and_runs_its_entrypoint_as_init() {
    let z = Zones::without_image("oci", "1G");
    let layout = tempfile::tempdir().unwrap();
    let second = build_layout(layout.path());
    let path = layout.path().to_str().unwrap();

    let r = z.imgadm(&["import", "busybox:latest"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("error (InvalidArgument)") && r.stderr.contains("skopeo"),
        "{}",
        r.stderr
    );

    // A blob altered after the manifest was written: refused, nothing left.
    let digest = second["digest"].as_str().unwrap();
    let blob = layout
        .path()
        .join("blobs/sha256")
        .join(&digest["sha256:".len()..]);
    let good = std::fs::read(&blob).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 10;
    bad[last] ^= 0xff;
    std::fs::write(&blob, &bad).unwrap();
    let r = z.imgadm(&["import", path]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error (DigestMismatch)"), "{}", r.stderr);
    let listed = z.imgadm(&["list", "-H", "-o", "uuid"]);
    assert_eq!(listed.stdout, "");
    let datasets = z.root.pooladm_ok(&["list", "-H", "-o", "name"]);
    assert!(!datasets.contains("partial"), "{datasets}");
    std::fs::write(&blob, &good).unwrap();

    let r = z.imgadm(&["import", path]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Applied 2 layers"), "{}", r.stdout);
    let uuid = r
        .stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("Imported image "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("imgadm import said {:?}", r.stdout))
        .to_owned();
    let got: Value = serde_json::from_str(&z.imgadm(&["get", &uuid]).stdout).unwrap();
    let m = &got["manifest"];
    assert_eq!(m["type"], "lx-dataset");
    assert_eq!(
        (m["name"].as_str(), m["version"].as_str()),
        (Some("busybox-app"), Some("1.0"))
    );
    assert_eq!(m["published_at"], "2026-01-02T03:04:05Z");
    assert_eq!(m["tags"]["docker:config"]["WorkingDir"], "/srv/app");
    let again = z.imgadm(&["import", path]);
    assert!(again.stdout.contains("is already installed"), "{again:?}");

    let vm = z.create_json(json!({"brand": "lx", "kernel_version": "6.1.0", "image_uuid": uuid}));
    let mut seen = String::new();
    for _ in 0..50 {
        seen = z.zlogin(&vm, "cat /tmp/ready 2>/dev/null").stdout;
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(seen, "hello from /srv/app\n");
    let r = z.zlogin(&vm, "cat /proc/1/cmdline | tr '\\0' ' '; cat /srv/app/data; test ! -e /etc/os-release && echo gone");
    assert_eq!(r.stdout, "sleep 3600 layer two\ngone\n", "{r:?}");
}
