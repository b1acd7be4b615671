//! `imgadm import <path>`: an OCI image layout (a directory or an
//! archive, as `skopeo copy oci:` or `docker save` write them) installed
//! as an `lx-dataset` image.
//!
//! The image's uuid is derived from its configuration's digest (docker's
//! image id), so the same image imports as the same uuid on every node.
//! Its layers are applied in order into `root/` of `<pool>/<uuid>-partial`
//! (whiteouts and opaque directories honoured, every blob's digest checked
//! as it streams), which is snapshotted `@final` and renamed into place,
//! as any install. How a container of it runs — Entrypoint, Cmd, Env,
//! WorkingDir, User — is kept in the manifest's `tags["docker:config"]`;
//! a zone created from the image runs that process as its init.
//!
//! The node then writes the image's file (the root archived, gzip) so
//! that it serves the image to other nodes like any other; the manifest
//! describes that file.

use std::fs;
use std::path::Path;

use basalt_image::Manifest;
use basalt_image::manifest::Compression;
use basalt_image::oci::{OciConfig, OciImage};
use basalt_model::VmUuid;
use basalt_pool::DatasetName;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::export::write_image_file;
use super::import::Progress;
use super::{ImageError, ImageRecord, ImageStore, Installed, PARTIAL};

/// The error with its causes, which name the entry or blob at fault.
fn oci_error(e: basalt_image::oci::OciError) -> ImageError {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        message.push_str(&format!(": {c}"));
        cause = c.source();
    }
    ImageError::Source {
        code: e.code(),
        message,
    }
}

/// The uuid of the image whose configuration has `digest`.
pub fn oci_uuid(digest: &str) -> String {
    let hash = Sha256::digest(digest.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    VmUuid::from_random_bytes(bytes).to_string()
}

/// `name` and `version` from a reference such as
/// `docker.io/library/busybox:1.36` (or none: `oci-image`, the digest's
/// first 12 digits).
fn name_and_version(reference: Option<&str>, digest: &str) -> (String, String) {
    let short: String = digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    let Some(r) = reference.filter(|r| !r.is_empty()) else {
        return ("oci-image".into(), short);
    };
    let r = r.split('@').next().unwrap_or(r);
    // A tag follows the last ':' after the last '/' (a port may precede).
    let (repo, tag) = match r.rfind(':') {
        Some(i) if !r[i..].contains('/') => (&r[..i], &r[i + 1..]),
        _ => (r, "latest"),
    };
    let clean = |s: &str, extra: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    (clean(repo, "/"), clean(tag, "+"))
}

/// The manifest's `published_at` from the configuration's `created`
/// (RFC 3339, any fraction), else now.
fn published(created: Option<&str>) -> String {
    if let Some(secs) = created.and_then(|c| c.get(..19)) {
        let secs = format!("{secs}Z");
        if basalt_image::manifest::is_published_at(&secs) {
            return secs;
        }
    }
    crate::instances::now_iso()
}

fn docker_config(c: &OciConfig) -> Value {
    let mut m = Map::new();
    m.insert("Entrypoint".into(), json!(c.entrypoint));
    m.insert("Cmd".into(), json!(c.cmd));
    m.insert("Env".into(), json!(c.env));
    m.insert("WorkingDir".into(), json!(c.working_dir));
    m.insert("User".into(), json!(c.user));
    Value::Object(m)
}

fn manifest_of(img: &OciImage, uuid: &str) -> Result<Manifest, ImageError> {
    let (name, version) = name_and_version(img.reference(), img.config_digest());
    let c = img.config();
    let mut tags = Map::new();
    tags.insert("docker:repo".into(), json!(name));
    tags.insert(
        "docker:id".into(),
        json!(img.config_digest().trim_start_matches("sha256:")),
    );
    if let Some(d) = img.manifest_digest() {
        tags.insert("docker:digest".into(), json!(d));
    }
    tags.insert(format!("docker:tag:{version}"), json!(true));
    tags.insert("docker:config".into(), docker_config(c));
    let m = json!({
        "v": 2,
        "uuid": uuid,
        "owner": VmUuid::ZERO,
        "name": name,
        "version": version,
        "description": format!("OCI image {} ({})",
            img.reference().unwrap_or("without a name"), img.config_digest()),
        "type": "lx-dataset",
        "os": "linux",
        "state": "active",
        "disabled": false,
        "public": false,
        "published_at": published(c.created.as_deref()),
        "requirements": {"brand": "lx"},
        "tags": tags,
        // Until the file is written: an active image must have one.
        "files": [{"sha1": "0000000000000000000000000000000000000000", "size": 1,
                   "compression": "gzip"}],
    });
    Ok(Manifest::from_value(m)?)
}

impl ImageStore {
    /// Imports the OCI image at `path` (`reference` chooses one of
    /// several).
    pub fn import_oci(
        &self,
        path: &Path,
        reference: Option<&str>,
        progress: &mut dyn Progress,
    ) -> Result<Installed, ImageError> {
        let img = OciImage::open(path, reference).map_err(oci_error)?;
        let uuid = oci_uuid(img.config_digest());
        let mut manifest = manifest_of(&img, &uuid)?;
        let _lock = self.lock(&uuid)?;
        if let Ok(i) = self.get(&uuid) {
            return Ok(Installed::Already(i.record.manifest));
        }
        progress.say(&format!(
            "Importing OCI image {} ({}@{}) from \"{}\"",
            uuid,
            manifest.name,
            manifest.version,
            path.display()
        ));
        let target = self.dataset(&uuid)?;
        let partial = DatasetName::parse(&format!("{target}{PARTIAL}"))?;
        for leftover in [&partial, &target] {
            if self.pool.exists(leftover.as_str()) {
                tracing::warn!(dataset = %leftover, "removing what an interrupted import left");
                self.pool.destroy(leftover.as_str(), true, false)?;
            }
        }
        let kept = self.kept_file(&uuid);
        super::remove_staged(&self.paths, &uuid);
        let built = (|| {
            self.pool.create(&partial, None)?;
            let root = self.pool.path_of(&partial).join("root");
            fs::create_dir(&root).map_err(ImageError::io("create", &root))?;
            let applied = img.apply(&root).map_err(oci_error)?;
            if super::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(super::interrupt::interrupted());
            }
            progress.say(&format!(
                "Applied {} layer{} ({} bytes)",
                applied.layers,
                if applied.layers == 1 { "" } else { "s" },
                applied.blob_bytes
            ));
            let snap = partial.snapshot("final")?;
            self.pool.snapshot(&snap)?;
            // The file the node serves the image as.
            let files = self.paths.image_files();
            fs::create_dir_all(&files).map_err(ImageError::io("create", &files))?;
            manifest.files = Some(vec![write_image_file(
                &self.pool.snapshot_path(&snap).join("root"),
                None,
                Compression::Gzip,
                &kept,
            )?]);
            self.pool.rename(&partial, &target)?;
            let record = ImageRecord {
                manifest: manifest.clone(),
                zpool: self.pool.name().to_owned(),
                source: None,
            };
            if let Err(e) = record.write(&self.record_path(&uuid)) {
                let _ = self.pool.destroy(target.as_str(), true, false);
                return Err(e);
            }
            Ok::<(), ImageError>(())
        })();
        if let Err(e) = built {
            let _ = self.pool.destroy(partial.as_str(), true, false);
            let _ = fs::remove_file(&kept);
            return Err(e);
        }
        progress.say(&format!(
            "Imported image {uuid} ({}@{})",
            manifest.name, manifest.version
        ));
        Ok(Installed::New(manifest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_give_names_and_versions_imgadm_accepts() {
        let d = "sha256:0123456789abcdef0123";
        assert_eq!(
            name_and_version(Some("docker.io/library/busybox:1.36"), d),
            ("docker.io/library/busybox".into(), "1.36".into())
        );
        assert_eq!(
            name_and_version(Some("localhost:5000/app"), d),
            ("localhost-5000/app".into(), "latest".into())
        );
        assert_eq!(
            name_and_version(None, d),
            ("oci-image".into(), "0123456789ab".into())
        );
        assert_eq!(oci_uuid(d), oci_uuid(d));
        assert!(basalt_model::ids::is_uuid(&oci_uuid(d)));
    }

    #[test]
    fn created_times_become_published_at() {
        assert_eq!(
            published(Some("2024-05-01T10:20:30.123456789Z")),
            "2024-05-01T10:20:30Z"
        );
        assert!(basalt_image::manifest::is_published_at(&published(Some(
            "yesterday"
        ))));
    }
}
