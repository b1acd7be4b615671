//! Host tests (as root): OCI layouts, their tar archives and `docker save`
//! archives built in temporary directories, opened, checked and applied.

mod common;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use basalt_image::oci::{LayerCompression, OciError, OciImage};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tar::{Builder, EntryType};
use tempfile::TempDir;

use common::*;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data)?;
    e.finish()
}

/// A layer: its tar, and how it is stored.
struct Layer {
    tar: Vec<u8>,
    media_type: &'static str,
}

impl Layer {
    fn new(
        media_type: &'static str,
        build: impl FnOnce(&mut Builder<Vec<u8>>) -> io::Result<()>,
    ) -> io::Result<Layer> {
        Ok(Layer {
            tar: tar(build)?,
            media_type,
        })
    }

    fn blob(&self) -> io::Result<Vec<u8>> {
        match self.media_type {
            TAR_GZIP => gzip(&self.tar),
            TAR_ZSTD => zstd::encode_all(&self.tar[..], 3),
            _ => Ok(self.tar.clone()),
        }
    }
}

/// An OCI layout being written.
struct Layout {
    dir: TempDir,
}

impl Layout {
    fn new() -> io::Result<Layout> {
        let dir = tempfile::Builder::new()
            .prefix("basalt-oci-test-")
            .tempdir()?;
        fs::create_dir_all(dir.path().join("blobs/sha256"))?;
        fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion": "1.0.0"}"#,
        )?;
        Ok(Layout { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.path()
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..])
    }

    /// Stores a blob; its descriptor.
    fn put(&self, media_type: &str, data: &[u8]) -> io::Result<Value> {
        let digest = sha256(data);
        fs::write(self.blob_path(&digest), data)?;
        Ok(json!({"mediaType": media_type, "digest": digest, "size": data.len()}))
    }

    /// Stores a JSON document as a blob; its descriptor.
    fn put_json(&self, media_type: &str, doc: &Value) -> io::Result<Value> {
        self.put(media_type, doc.to_string().as_bytes())
    }

    /// Stores an image (configuration, layers, manifest); the manifest's
    /// descriptor.
    fn image(&self, layers: &[Layer], run: Value) -> io::Result<Value> {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256(&l.tar)).collect();
        let config = json!({
            "architecture": "amd64", "os": "linux", "created": "2024-05-01T00:00:00Z",
            "config": run, "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.put_json(OCI_CONFIG, &config)?;
        let mut descs = Vec::new();
        for l in layers {
            descs.push(self.put(l.media_type, &l.blob()?)?);
        }
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": descs,
        });
        self.put_json(OCI_MANIFEST, &manifest)
    }

    /// Stores an image of one uncompressed layer holding one file; the
    /// manifest's descriptor.
    fn one_file_image(&self, name: &str, data: &[u8]) -> io::Result<Value> {
        let layer = Layer::new(TAR, |b| file(b, name, data, 0o644, (0, 0)))?;
        self.image(&[layer], json!({}))
    }

    fn index(&self, manifests: Vec<Value>) -> io::Result<()> {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        fs::write(self.path().join("index.json"), index.to_string())
    }

    /// The layout as a tar archive beside it.
    fn archive(&self) -> io::Result<PathBuf> {
        let out = self.path().with_extension("tar");
        let mut b = Builder::new(fs::File::create(&out)?);
        b.append_dir_all(".", self.path())?;
        b.into_inner()?.sync_all()?;
        Ok(out)
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.path().with_extension("tar"));
    }
}

fn named(mut desc: Value, name: &str) -> Value {
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": name});
    desc
}

/// Two layers: the second whites out a file and makes a directory opaque.
fn two_layers() -> io::Result<[Layer; 2]> {
    let base = Layer::new(TAR_GZIP, |b| {
        dir(b, "etc", 0o755, (0, 0), 1_500_000_000)?;
        etc_files(b)?;
        file(b, "opt/app/old", b"old", 0o644, (0, 0))?;
        file(b, "opt/app/lib/old.so", b"old", 0o644, (0, 0))?;
        link(b, EntryType::Symlink, "bin", "usr/bin")
    })?;
    let top = Layer::new(TAR_ZSTD, |b| {
        file(b, "etc/.wh.motd", b"", 0o644, (0, 0))?;
        dir(b, "opt/app", 0o755, (0, 0), 1)?;
        file(b, "opt/app/.wh..wh..opq", b"", 0o644, (0, 0))?;
        file(b, "opt/app/new", b"new", 0o755, (1000, 1000))?;
        file(b, "usr/bin/tool", b"#!/bin/sh\n", 0o755, (0, 0))
    })?;
    Ok([base, top])
}

fn run_config() -> Value {
    json!({"Entrypoint": ["/opt/app/new"], "Cmd": ["--serve"], "Env": ["PATH=/usr/bin"],
           "WorkingDir": "/opt/app", "User": "1000"})
}

/// A sandbox the image is applied in.
fn applied(image: &OciImage) -> Res<Sandbox> {
    let s = Sandbox::new()?;
    image.apply(&s.dest)?;
    Ok(s)
}

/// What the two layers make.
fn assert_two_layers_applied(s: &Sandbox) -> Res {
    assert_eq!(fs::read(s.at("etc/passwd"))?, PASSWD);
    assert!(!s.at("etc/motd").exists());
    assert_eq!(tree(&s.at("opt/app"))?, ["new"]);
    assert_eq!(lstat(&s.at("opt/app/new"))?.st_uid, 1000);
    assert_eq!(fs::read(s.at("bin/tool"))?, b"#!/bin/sh\n");
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_layout_directory_is_read_and_applied() -> Res {
    let layout = Layout::new()?;
    let layers = two_layers()?;
    let manifest = layout.image(&layers, run_config())?;
    layout.index(vec![named(manifest.clone(), "v1")])?;

    let image = OciImage::open(layout.path(), None)?;
    assert_eq!(image.manifest_digest(), manifest["digest"].as_str());
    assert_eq!(image.reference(), Some("v1"));
    let c = image.config();
    assert_eq!(
        (c.entrypoint.as_slice(), c.cmd.as_slice()),
        (
            &["/opt/app/new".to_owned()][..],
            &["--serve".to_owned()][..]
        )
    );
    assert_eq!(
        (c.working_dir.as_deref(), c.user.as_deref()),
        (Some("/opt/app"), Some("1000"))
    );
    assert_eq!(
        (c.env.len(), c.architecture.as_str(), c.os.as_str()),
        (1, "amd64", "linux")
    );
    let l = image.layers();
    assert_eq!(l.len(), 2);
    assert_eq!(
        (l[0].compression, l[1].compression),
        (LayerCompression::Gzip, LayerCompression::Zstd)
    );
    assert_eq!(l[1].diff_id.as_str(), sha256(&layers[1].tar));
    assert_eq!(l[1].size, layers[1].blob()?.len() as u64);

    let s = Sandbox::new()?;
    let summary = image.apply(&s.dest)?;
    assert_eq!((summary.layers, summary.extracted.whiteouts), (2, 2));
    assert_eq!(
        summary.tar_bytes,
        (layers[0].tar.len() + layers[1].tar.len()) as u64
    );
    assert_two_layers_applied(&s)
}

#[test]
fn the_same_layout_as_an_archive() -> Res {
    let layout = Layout::new()?;
    let manifest = layout.image(&two_layers()?, run_config())?;
    layout.index(vec![manifest.clone()])?;
    let archive = layout.archive()?;
    let image = OciImage::open(&archive, None)?;
    assert_eq!(image.manifest_digest(), manifest["digest"].as_str());
    assert_eq!(image.reference(), None);
    let s = applied(&image)?;
    assert_two_layers_applied(&s)?;

    let gz = layout.path().with_extension("tar.gz");
    fs::write(&gz, gzip(&fs::read(&archive)?)?)?;
    let e = OciImage::open(&gz, None).unwrap_err();
    fs::remove_file(&gz)?;
    assert_eq!(e.code(), "NotSupported");
    assert!(
        e.to_string()
            .ends_with("is a gzip-compressed archive: decompress it first"),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_reference_chooses_among_manifests() -> Res {
    let layout = Layout::new()?;
    let one = layout.one_file_image("which", b"one")?;
    let two = layout.one_file_image("which", b"two")?;
    let mut two_named = named(two.clone(), "2.0");
    two_named["annotations"]["io.containerd.image.name"] = json!("docker.io/library/app:2.0");
    layout.index(vec![named(one.clone(), "1.0"), two_named])?;

    for (reference, digest, text) in [
        ("1.0", &one, "one"),
        ("2.0", &two, "two"),
        ("app:2.0", &two, "two"),
    ] {
        let image = OciImage::open(layout.path(), Some(reference))?;
        assert_eq!(
            image.manifest_digest(),
            digest["digest"].as_str(),
            "{reference}"
        );
        let s = applied(&image)?;
        assert_eq!(fs::read(s.at("which"))?, text.as_bytes());
    }
    let image = OciImage::open(layout.path(), Some("app:2.0"))?;
    assert_eq!(image.reference(), Some("docker.io/library/app:2.0"));

    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert_eq!(e.code(), "AmbiguousImage");
    assert!(
        e.to_string().contains("1.0 (sha256:")
            && e.to_string().contains("docker.io/library/app:2.0 (sha256:"),
        "{e}"
    );
    let e = OciImage::open(layout.path(), Some("3.0")).unwrap_err();
    assert_eq!(e.code(), "ImageNotFound");
    Ok(())
}

#[test]
fn an_image_index_stands_for_its_linux_amd64_manifest() -> Res {
    let layout = Layout::new()?;
    let amd = layout.one_file_image("arch", b"amd64")?;
    let arm = layout.one_file_image("arch", b"arm64")?;
    let with = |mut d: Value, arch: &str| {
        d["platform"] = json!({"os": "linux", "architecture": arch});
        d
    };
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [with(arm.clone(), "arm64"), with(amd.clone(), "amd64")]});
    let index = layout.put_json(OCI_INDEX, &index)?;
    layout.index(vec![named(index, "multi")])?;
    let image = OciImage::open(layout.path(), Some("multi"))?;
    assert_eq!(image.manifest_digest(), amd["digest"].as_str());
    let s = applied(&image)?;
    assert_eq!(fs::read(s.at("arch"))?, b"amd64");

    let only_arm =
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [with(arm, "arm64")]});
    let only_arm = layout.put_json(OCI_INDEX, &only_arm)?;
    layout.index(vec![only_arm])?;
    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert_eq!(e.code(), "NotSupported");
    assert!(
        e.to_string()
            .ends_with("has no linux/amd64 image; it has: linux/arm64"),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_corrupted_layer_is_a_digest_mismatch() -> Res {
    for media_type in [TAR, TAR_GZIP, TAR_ZSTD] {
        let layout = Layout::new()?;
        let layer = Layer::new(media_type, |b| file(b, "f", &[7u8; 4096], 0o644, (0, 0)))?;
        let manifest = layout.image(&[layer], json!({}))?;
        layout.index(vec![manifest])?;
        let image = OciImage::open(layout.path(), None)?;
        let digest = image.layers()[0].digest.to_string();
        let path = layout.blob_path(&digest);
        let mut bytes = fs::read(&path)?;
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        fs::write(&path, bytes)?;
        let s = Sandbox::new()?;
        let e = image.apply(&s.dest).unwrap_err();
        assert_eq!(e.code(), "DigestMismatch", "{media_type}: {e}");
        assert!(
            matches!(&e, OciError::DigestMismatch { blob, .. } if *blob == digest),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("blob {digest} has digest sha256:"))
        );
        s.assert_outside_untouched()?;
    }
    Ok(())
}

#[test]
fn a_wrong_diff_id_is_a_digest_mismatch() -> Res {
    let layout = Layout::new()?;
    let layer = Layer::new(TAR_GZIP, |b| file(b, "f", b"x", 0o644, (0, 0)))?;
    let blob = layout.put(TAR_GZIP, &layer.blob()?)?;
    let lie = sha256(b"another tar");
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [lie]}});
    let config = layout.put_json(OCI_CONFIG, &config)?;
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [blob.clone()]});
    layout.index(vec![layout.put_json(OCI_MANIFEST, &manifest)?])?;
    let image = OciImage::open(layout.path(), None)?;
    let s = Sandbox::new()?;
    let e = image.apply(&s.dest).unwrap_err();
    assert_eq!(e.code(), "DigestMismatch");
    assert!(
        matches!(&e, OciError::DiffIdMismatch { expected, .. } if *expected == lie),
        "{e}"
    );
    assert!(e.to_string().starts_with(&format!(
        "layer {} uncompresses to",
        blob["digest"].as_str().unwrap_or_default()
    )));
    Ok(())
}

#[test]
fn a_descriptor_that_lies_about_its_size_is_refused() -> Res {
    let layout = Layout::new()?;
    let manifest = layout.one_file_image("f", b"x")?;
    // The layer's size in the manifest.
    let manifest_path = layout.blob_path(manifest["digest"].as_str().unwrap_or_default());
    let mut doc: Value = serde_json::from_slice(&fs::read(&manifest_path)?)?;
    let real = doc["layers"][0]["size"].as_u64().unwrap_or_default();
    doc["layers"][0]["size"] = json!(real - 512);
    let lying = layout.put_json(OCI_MANIFEST, &doc)?;
    layout.index(vec![lying])?;
    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert!(
        matches!(e, OciError::SizeMismatch { expected, actual, .. } if expected == real - 512 && actual == real),
        "{e}"
    );
    assert_eq!(e.code(), "DigestMismatch");
    // The manifest's size in the index.
    let mut short = manifest.clone();
    short["size"] = json!(manifest["size"].as_u64().unwrap_or_default() + 1);
    layout.index(vec![short])?;
    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert!(
        matches!(&e, OciError::SizeMismatch { blob, .. } if Some(blob.as_str()) == manifest["digest"].as_str()),
        "{e}"
    );
    Ok(())
}

#[test]
fn blob_names_cannot_leave_the_layout() -> Res {
    let layout = Layout::new()?;
    let evil =
        json!({"mediaType": OCI_MANIFEST, "digest": "sha256:../../../../etc/passwd", "size": 10});
    layout.index(vec![evil])?;
    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert_eq!(e.code(), "InvalidOciImage");
    assert!(
        matches!(&e, OciError::InvalidDigest { digest, .. } if digest == "sha256:../../../../etc/passwd"),
        "{e}"
    );

    // A layer named so, inside a well-formed manifest.
    let config = layout.put(
        OCI_CONFIG,
        br#"{"rootfs": {"type": "layers", "diff_ids": []}}"#,
    )?;
    let manifest = json!({"schemaVersion": 2, "config": config,
        "layers": [{"mediaType": TAR, "digest": "sha256:../../etc", "size": 1}]});
    layout.index(vec![layout.put_json(OCI_MANIFEST, &manifest)?])?;
    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert!(
        matches!(&e, OciError::InvalidDigest { digest, .. } if digest == "sha256:../../etc"),
        "{e}"
    );

    // A blob that is a link out of the layout.
    let outside = tempfile::NamedTempFile::new()?;
    fs::write(outside.path(), br#"{"schemaVersion": 2}"#)?;
    let data = fs::read(outside.path())?;
    let digest = sha256(&data);
    std::os::unix::fs::symlink(outside.path(), layout.blob_path(&digest))?;
    layout.index(vec![
        json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": data.len()}),
    ])?;
    let e = OciImage::open(layout.path(), None).unwrap_err();
    assert!(matches!(&e, OciError::Read { .. }), "{e}");
    Ok(())
}

#[test]
fn foreign_and_unknown_layers_are_named() -> Res {
    for (media_type, code) in [
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "NotSupported",
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar",
            "NotSupported",
        ),
        ("application/x-squashfs", "NotSupported"),
    ] {
        let layout = Layout::new()?;
        let mut layer = Layer::new(TAR, |b| file(b, "f", b"x", 0o644, (0, 0)))?;
        layer.media_type = media_type;
        layout.index(vec![layout.image(&[layer], json!({}))?])?;
        let e = OciImage::open(layout.path(), None).unwrap_err();
        assert_eq!(e.code(), code);
        assert!(e.to_string().contains(media_type), "{e}");
    }
    Ok(())
}

#[test]
fn a_hostile_layer_stays_inside() -> Res {
    let layout = Layout::new()?;
    let layer = Layer::new(TAR_GZIP, |b| {
        link(b, EntryType::Symlink, "up", "..")?;
        raw(b, EntryType::Regular, "up/victim", "", b"pwned")
    })?;
    layout.index(vec![layout.image(&[layer], json!({}))?])?;
    let s = Sandbox::new()?;
    let e = OciImage::open(layout.path(), None)?
        .apply(&s.dest)
        .unwrap_err();
    assert_eq!(e.code(), "InvalidOciImage");
    assert!(matches!(&e, OciError::Extract { .. }), "{e}");
    s.assert_outside_untouched()?;

    let empty = TempDir::new()?;
    let e = OciImage::open(empty.path(), None).unwrap_err();
    assert!(matches!(e, OciError::NotAnImage { .. }), "{e}");
    Ok(())
}

/// What a `docker save` archive gets wrong.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lie {
    None,
    /// The configuration's name is not its digest.
    Config,
    /// The first layer's file holds the second layer.
    Layer,
}

/// A legacy `docker save` archive of one image: `<hex>.json`, three
/// layers, the third a link to the first (docker saves a layer once).
fn docker_save(out: &Path, layers: &[Vec<u8>; 2], tags: &[&str], lie: Lie) -> io::Result<String> {
    let diff: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["A=b"]},
        "rootfs": {"type": "layers", "diff_ids": [diff[0], diff[1], diff[0]]}})
    .to_string();
    let config_hex = &sha256(config.as_bytes())["sha256:".len()..];
    let config_name = match lie {
        Lie::Config => format!("{}.json", "0".repeat(64)),
        _ => format!("{config_hex}.json"),
    };
    let ids = ["a".repeat(64), "b".repeat(64), "c".repeat(64)];
    let manifest = json!([{"Config": config_name, "RepoTags": tags,
        "Layers": ids.iter().map(|id| format!("{id}/layer.tar")).collect::<Vec<_>>()}]);
    let mut b = Builder::new(fs::File::create(out)?);
    let put = |b: &mut Builder<fs::File>, name: &str, data: &[u8]| {
        let mut h = header(EntryType::Regular, 0o644, 0, 0, 1);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data)
    };
    put(&mut b, &config_name, config.as_bytes())?;
    let first = if lie == Lie::Layer {
        &layers[1]
    } else {
        &layers[0]
    };
    put(&mut b, &format!("{}/layer.tar", ids[0]), first)?;
    put(&mut b, &format!("{}/layer.tar", ids[1]), &layers[1])?;
    let mut h = header(EntryType::Symlink, 0o777, 0, 0, 1);
    b.append_link(
        &mut h,
        format!("{}/layer.tar", ids[2]),
        format!("../{}/layer.tar", ids[0]),
    )?;
    put(&mut b, "manifest.json", manifest.to_string().as_bytes())?;
    put(&mut b, "repositories", b"{}")?;
    b.into_inner()?.sync_all()?;
    Ok(format!("sha256:{config_hex}"))
}

#[test]
fn a_legacy_docker_save_archive() -> Res {
    let tmp = TempDir::new()?;
    let out = tmp.path().join("save.tar");
    let layers = [
        tar(|b| file(b, "etc/os-release", b"ID=test\n", 0o644, (0, 0)))?,
        tar(|b| {
            file(b, "etc/.wh.os-release", b"", 0o644, (0, 0))?;
            file(b, "app", b"app", 0o755, (0, 0))
        })?,
    ];
    let config = docker_save(&out, &layers, &["app:1", "app:latest"], Lie::None)?;
    let image = OciImage::open(&out, Some("app:1"))?;
    assert_eq!(
        (image.config_digest(), image.manifest_digest()),
        (config.as_str(), None)
    );
    assert_eq!(
        (image.reference(), image.config().cmd.as_slice()),
        (Some("app:1"), &["/bin/sh".to_owned()][..])
    );
    assert_eq!(image.layers().len(), 3);
    let s = Sandbox::new()?;
    let summary = image.apply(&s.dest)?;
    assert_eq!((summary.layers, summary.extracted.whiteouts), (3, 1));
    // The third layer (the first again) brought the file back.
    assert_eq!(fs::read(s.at("etc/os-release"))?, b"ID=test\n");
    assert_eq!(fs::read(s.at("app"))?, b"app");
    s.assert_outside_untouched()?;

    assert_eq!(OciImage::open(&out, None)?.reference(), Some("app:1"));
    let e = OciImage::open(&out, Some("other")).unwrap_err();
    assert_eq!(e.code(), "ImageNotFound");
    assert!(
        e.to_string().ends_with("the image holds: app:1 app:latest"),
        "{e}"
    );

    // A layer that is not the configuration's diff id.
    docker_save(&out, &layers, &[], Lie::Layer)?;
    let image = OciImage::open(&out, None)?;
    let s = Sandbox::new()?;
    let e = image.apply(&s.dest).unwrap_err();
    assert_eq!(e.code(), "DigestMismatch");
    assert!(
        e.to_string()
            .starts_with(&format!("blob {}/layer.tar has digest", "a".repeat(64))),
        "{e}"
    );

    // A configuration whose name is not its digest.
    docker_save(&out, &layers, &[], Lie::Config)?;
    let e = OciImage::open(&out, None).unwrap_err();
    assert!(
        matches!(&e, OciError::DigestMismatch { blob, .. } if blob.ends_with(".json")),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_docker_25_save_archive_is_a_layout() -> Res {
    let layout = Layout::new()?;
    let layers = two_layers()?;
    let mut manifest = layout.image(&layers, run_config())?;
    manifest["annotations"] = json!({
        "io.containerd.image.name": "docker.io/library/app:1",
        "org.opencontainers.image.ref.name": "1",
    });
    layout.index(vec![manifest.clone()])?;
    let legacy = json!([{"Config": "blobs/sha256/0", "RepoTags": ["app:1"], "Layers": []}]);
    fs::write(layout.path().join("manifest.json"), legacy.to_string())?;
    let archive = layout.archive()?;
    let image = OciImage::open(&archive, Some("app:1"))?;
    assert_eq!(image.manifest_digest(), manifest["digest"].as_str());
    assert_eq!(image.reference(), Some("docker.io/library/app:1"));
    let s = applied(&image)?;
    assert_two_layers_applied(&s)
}

#[test]
fn docker_media_types_are_read() -> Res {
    let layout = Layout::new()?;
    let layer = Layer::new(TAR_GZIP, |b| file(b, "from-docker", b"d", 0o644, (0, 0)))?;
    let blob = layout.put(
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        &layer.blob()?,
    )?;
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer.tar)]}});
    let config = layout.put_json("application/vnd.docker.container.image.v1+json", &config)?;
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": config, "layers": [blob]});
    let manifest = layout.put_json(
        "application/vnd.docker.distribution.manifest.v2+json",
        &manifest,
    )?;
    let mut entry = manifest.clone();
    entry["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let list = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [entry]});
    let list = layout.put_json(
        "application/vnd.docker.distribution.manifest.list.v2+json",
        &list,
    )?;
    layout.index(vec![list])?;
    let image = OciImage::open(layout.path(), None)?;
    assert_eq!(image.manifest_digest(), manifest["digest"].as_str());
    assert_eq!(image.layers()[0].compression, LayerCompression::Gzip);
    let s = applied(&image)?;
    assert_eq!(fs::read(s.at("from-docker"))?, b"d");
    Ok(())
}
