//! Pure checks: digests, names, references, manifest choice, media types,
//! documents.

use std::collections::BTreeMap;

use super::docker::{SaveEntry, config_digest};
use super::select::{Candidate, choose, normalize, platform, same_reference};
use super::source::{clean, compressed, resolve};
use super::spec::{self, Descriptor, DocKind, ImageConfig, Platform, RawDescriptor};
use super::*;

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn digest(c: char) -> Digest {
    Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
}

#[test]
fn digests_are_sha256_in_canonical_form_only() {
    let good = format!("sha256:{HEX}");
    let d = Digest::parse(&good).unwrap();
    assert_eq!((d.as_str(), d.hex()), (good.as_str(), HEX));
    assert_eq!(d.blob_path(), format!("blobs/sha256/{HEX}"));
    for bad in [
        "sha256:../../etc".to_owned(),
        "sha256:../../../../etc/passwd".to_owned(),
        format!("sha256:{}", HEX.to_uppercase()),
        format!("sha256:{HEX}0"),
        format!("sha256:{}", &HEX[1..]),
        format!("sha512:{HEX}{HEX}"),
        format!("sha256:{}/x", &HEX[2..]),
        format!("SHA256:{HEX}"),
        format!(" sha256:{HEX}"),
        HEX.to_owned(),
        String::new(),
    ] {
        assert_eq!(Digest::parse(&bad), None, "{bad}");
    }
    let raw: RawDescriptor =
        serde_json::from_str(r#"{"digest": "sha256:../../etc", "size": 1}"#).unwrap();
    let e = raw.check("index.json").unwrap_err();
    assert_eq!(e.code(), "InvalidOciImage");
    assert_eq!(
        e.to_string(),
        "invalid digest \"sha256:../../etc\" in index.json: expected sha256:<64 lowercase hex digits>"
    );
}

#[test]
fn names_in_an_archive_stay_in_it() {
    assert_eq!(
        clean("./blobs//sha256/x").as_deref(),
        Some("blobs/sha256/x")
    );
    assert_eq!(clean("/manifest.json").as_deref(), Some("manifest.json"));
    for bad in ["../x", "a/../../x", "a/..", "", ".", "/"] {
        assert_eq!(clean(bad), None, "{bad}");
    }
    assert_eq!(
        resolve("b", "../a/layer.tar").as_deref(),
        Some("a/layer.tar")
    );
    assert_eq!(resolve("b/c", "../../a").as_deref(), Some("a"));
    assert_eq!(resolve("", "/a/./b").as_deref(), Some("a/b"));
    assert_eq!(resolve("b", "x").as_deref(), Some("b/x"));
    assert_eq!(resolve("b", "../../etc/passwd"), None);
    assert_eq!(resolve("", ".."), None);
}

#[test]
fn compressed_archives_are_recognised() {
    assert_eq!(compressed(&[0x1f, 0x8b, 8, 0]), Some("gzip"));
    assert_eq!(compressed(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some("zstd"));
    assert_eq!(compressed(b"\xfd7zXZ\0"), Some("xz"));
    assert_eq!(compressed(b"BZh91"), Some("bzip2"));
    assert_eq!(compressed(b"oci-la"), None);
    assert_eq!(compressed(b""), None);
}

#[test]
fn references_compare_as_docker_reads_them() {
    assert_eq!(normalize("alpine"), "docker.io/library/alpine:latest");
    assert_eq!(normalize("alpine:3.19"), "docker.io/library/alpine:3.19");
    assert_eq!(normalize("user/app:1"), "docker.io/user/app:1");
    assert_eq!(
        normalize("index.docker.io/library/alpine"),
        "docker.io/library/alpine:latest"
    );
    assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
    assert_eq!(normalize("quay.io/org/app:v2"), "quay.io/org/app:v2");
    assert_eq!(
        normalize(&format!("alpine@sha256:{HEX}")),
        format!("docker.io/library/alpine@sha256:{HEX}")
    );
    assert!(same_reference("alpine", "docker.io/library/alpine:latest"));
    assert!(same_reference(
        "alpine:3.19",
        "docker.io/library/alpine:3.19"
    ));
    assert!(same_reference("latest", "latest"));
    assert!(!same_reference("alpine:3.19", "alpine:3.20"));
    assert!(!same_reference("alpine", "quay.io/alpine"));
}

fn candidate(c: char, names: &[&str], platform: Option<(&str, &str)>) -> Candidate {
    Candidate {
        desc: Descriptor {
            media_type: Some(spec::OCI_MANIFEST.into()),
            digest: digest(c),
            size: 1,
            annotations: BTreeMap::new(),
            platform: platform.map(|(os, arch)| Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: None,
            }),
        },
        names: names.iter().map(|n| n.to_string()).collect(),
    }
}

#[test]
fn one_manifest_is_chosen_by_name_or_alone() {
    let one = vec![candidate('a', &["v1"], None)];
    let (c, name) = choose(one.clone(), None).unwrap();
    assert_eq!((c.desc.digest, name.as_deref()), (digest('a'), Some("v1")));

    let two = vec![
        candidate('a', &["docker.io/library/app:v1", "v1"], None),
        candidate('b', &["v2"], None),
    ];
    let (c, name) = choose(two.clone(), Some("v2")).unwrap();
    assert_eq!((c.desc.digest, name.as_deref()), (digest('b'), Some("v2")));
    let (c, name) = choose(two.clone(), Some("app:v1")).unwrap();
    assert_eq!(
        (c.desc.digest, name.as_deref()),
        (digest('a'), Some("docker.io/library/app:v1"))
    );

    let e = choose(two.clone(), None).unwrap_err();
    assert_eq!(e.code(), "AmbiguousImage");
    let listed = format!(
        "the image holds several manifests, choose one by name: docker.io/library/app:v1 ({}), v2 ({})",
        digest('a'),
        digest('b')
    );
    assert_eq!(e.to_string(), listed);
    let e = choose(two, Some("v3")).unwrap_err();
    assert_eq!(e.code(), "ImageNotFound");
    assert!(
        e.to_string()
            .starts_with("no image named \"v3\"; the image holds: ")
    );
}

#[test]
fn several_platforms_mean_linux_amd64() {
    let set = vec![
        candidate('a', &["x"], Some(("linux", "arm64"))),
        candidate('b', &["x"], Some(("linux", "amd64"))),
        candidate('c', &["x"], Some(("unknown", "unknown"))),
    ];
    assert_eq!(choose(set, Some("x")).unwrap().0.desc.digest, digest('b'));

    let entries: Vec<Descriptor> = [('a', "arm64"), ('b', "amd64"), ('c', "amd64")]
        .iter()
        .map(|(c, arch)| candidate(*c, &[], Some(("linux", arch))).desc)
        .collect();
    assert_eq!(
        platform("idx", entries.clone()).unwrap().digest,
        digest('b')
    );
    let e = platform("idx", entries[..1].to_vec()).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "NotSupported",
            "index idx has no linux/amd64 image; it has: linux/arm64".to_owned()
        )
    );
}

#[test]
fn layer_media_types() {
    let d = digest('d');
    let of = |t: &str| spec::layer_compression(t, &d).map_err(|e| (e.code(), e.to_string()));
    assert_eq!(
        of("application/vnd.oci.image.layer.v1.tar"),
        Ok(LayerCompression::None)
    );
    assert_eq!(
        of("application/vnd.oci.image.layer.v1.tar+gzip"),
        Ok(LayerCompression::Gzip)
    );
    assert_eq!(
        of("application/vnd.oci.image.layer.v1.tar+zstd"),
        Ok(LayerCompression::Zstd)
    );
    assert_eq!(
        of("application/vnd.docker.image.rootfs.diff.tar.gzip"),
        Ok(LayerCompression::Gzip)
    );
    let foreign = of("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip").unwrap_err();
    assert_eq!(foreign.0, "NotSupported");
    assert!(foreign.1.contains("is not in the image"), "{}", foreign.1);
    let nd = of("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip").unwrap_err();
    assert!(nd.1.contains("nondistributable"), "{}", nd.1);
    let odd = of("application/x-tar+lz4").unwrap_err();
    assert_eq!(
        odd.1,
        format!("unsupported media type application/x-tar+lz4 of blob {d}")
    );
}

#[test]
fn documents_are_told_apart() {
    let d = digest('e');
    let kind = |declared: Option<&str>, doc: &str| {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        spec::doc_kind(declared, &v, &d).map_err(|e| e.code())
    };
    assert_eq!(kind(Some(spec::OCI_INDEX), "{}"), Ok(DocKind::Index));
    assert_eq!(kind(Some(spec::DOCKER_LIST), "{}"), Ok(DocKind::Index));
    assert_eq!(
        kind(Some(spec::DOCKER_MANIFEST), "{}"),
        Ok(DocKind::Manifest)
    );
    assert_eq!(
        kind(
            None,
            r#"{"mediaType": "application/vnd.oci.image.manifest.v1+json"}"#
        ),
        Ok(DocKind::Manifest)
    );
    assert_eq!(kind(None, r#"{"manifests": []}"#), Ok(DocKind::Index));
    assert_eq!(kind(None, r#"{"config": {}}"#), Ok(DocKind::Manifest));
    assert_eq!(kind(None, "{}"), Err("InvalidOciImage"));
    assert_eq!(
        kind(
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            "{}"
        ),
        Err("NotSupported")
    );
}

#[test]
fn a_configuration_becomes_how_the_image_runs() {
    let c: ImageConfig = serde_json::from_str(
        r#"{"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Entrypoint": ["/bin/app"], "Cmd": null, "Env": ["PATH=/bin"],
                       "WorkingDir": "", "User": "1000:1000", "Labels": {"a": "b"}},
            "rootfs": {"type": "layers", "diff_ids": []}, "history": []}"#,
    )
    .unwrap();
    assert_eq!(
        OciConfig::from(c),
        OciConfig {
            entrypoint: vec!["/bin/app".into()],
            cmd: vec![],
            env: vec!["PATH=/bin".into()],
            working_dir: None,
            user: Some("1000:1000".into()),
            architecture: "amd64".into(),
            os: "linux".into(),
            created: Some("2024-01-01T00:00:00Z".into()),
        }
    );
    let bare: ImageConfig = serde_json::from_str(r#"{"rootfs": {"type": "layers"}}"#).unwrap();
    assert_eq!(OciConfig::from(bare), OciConfig::default());
}

#[test]
fn diff_ids_match_the_layers() {
    let c = |json: &str| serde_json::from_str::<ImageConfig>(json).unwrap();
    let two = c(&format!(
        r#"{{"rootfs": {{"type": "layers", "diff_ids": ["sha256:{HEX}", "sha256:{HEX}"]}}}}"#
    ));
    assert_eq!(diff_ids(&two, "cfg", 2).unwrap().len(), 2);
    let e = diff_ids(&two, "cfg", 3).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid cfg: it lists 2 diff ids for 3 layers"
    );
    let bad = c(r#"{"rootfs": {"type": "layers", "diff_ids": ["sha256:../x"]}}"#);
    assert_eq!(
        diff_ids(&bad, "cfg", 1).unwrap_err().code(),
        "InvalidOciImage"
    );
    let other = c(r#"{"rootfs": {"type": "squash", "diff_ids": []}}"#);
    assert!(diff_ids(&other, "cfg", 0).is_err());
}

#[test]
fn docker_save_entries_are_chosen_by_tag() {
    let entry = |config: &str, tags: &[&str]| SaveEntry {
        config: config.into(),
        repo_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        layers: vec![],
    };
    let entries = vec![
        entry("a.json", &["app:1", "app:latest"]),
        entry("b.json", &["db:2"]),
    ];
    let (e, tag) = super::docker::choose("m", entries.clone(), Some("app")).unwrap();
    assert_eq!(
        (e.config.as_str(), tag.as_deref()),
        ("a.json", Some("app:latest"))
    );
    let (e, _) =
        super::docker::choose("m", entries.clone(), Some("docker.io/library/db:2")).unwrap();
    assert_eq!(e.config, "b.json");
    let e = super::docker::choose("m", entries.clone(), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the image holds several manifests, choose one by name: app:1 app:latest, db:2"
    );
    assert_eq!(
        super::docker::choose("m", entries, Some("db:3"))
            .unwrap_err()
            .code(),
        "ImageNotFound"
    );
    assert_eq!(
        config_digest(&format!("{HEX}.json")),
        Digest::parse(&format!("sha256:{HEX}"))
    );
    assert!(config_digest(&format!("blobs/sha256/{HEX}")).is_some());
    assert_eq!(config_digest("../x.json"), None);
    assert_eq!(config_digest(&format!("../{}.json", &HEX[3..])), None);
}
