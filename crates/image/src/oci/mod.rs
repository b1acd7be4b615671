//! OCI images and `docker save` archives, read as one root file system,
//! with no network access.
//!
//! What [`OciImage::open`] reads:
//! - an OCI image layout directory (`oci-layout`, `index.json`,
//!   `blobs/sha256/<hex>`), as `skopeo copy … oci:DIR` writes it;
//! - the same layout as an uncompressed tar archive (a compressed one is
//!   refused: its blobs could not be read in place);
//! - a `docker save` archive: the legacy form (`manifest.json`,
//!   `<hex>.json`, `<id>/layer.tar`, layers checked against the
//!   configuration's `rootfs.diff_ids`), and the form docker 25 and later
//!   write, an OCI layout with a `manifest.json` beside it, read as a
//!   layout.
//!
//! ```text
//!  open   oci-layout, index.json ─▶ [image index ─▶ linux/amd64] ─▶ manifest ─▶ config
//!         manifest.json (docker save) ───────────────────────────────────────▶ config
//!  apply  per layer: blob ─▶ sha256, size ─▶ gunzip / unzstd ─▶ sha256 (diff id) ─▶ extract_layer
//! ```
//!
//! How it stays safe with an image it does not trust:
//! - a digest must be `sha256:` and 64 lowercase hex digits before it
//!   becomes a file name, so no descriptor names a file outside `blobs/`;
//!   a layout directory's files are opened beneath it (`RESOLVE_BENEATH`);
//!   an archive is indexed once and its members are looked up by name in
//!   that index and read in place, never unpacked to a temporary directory;
//! - every blob is checked against its descriptor's size before it is read
//!   and against its digest as it is read; a layer's uncompressed tar is
//!   checked against the configuration's diff id as it streams into the
//!   extraction; documents are read only up to [`MAX_DOCUMENT`] bytes;
//! - media types are checked: layers plain, gzip or zstd; a
//!   non-distributable (foreign) layer, or any type basalt does not know,
//!   is an error naming it;
//! - layers are applied in order with [`extract_layer`], whose rules keep
//!   every write and every whiteout's removal inside the destination.
//!
//! A layer's digests are known only once it is applied: the caller applies
//! the image into a fresh directory and removes that directory when
//! [`OciImage::apply`] fails, whatever the error.
//!
//! [`extract_layer`]: crate::extract::extract_layer

mod docker;
mod error;
mod select;
mod source;
mod spec;
mod stream;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use crate::extract::Summary;

pub use error::OciError;
pub use spec::{Digest, LayerCompression};

use select::Candidate;
use source::Source;
use spec::{Descriptor, DocKind, ImageConfig, Index, LayoutFile, Manifest};

/// The largest document (index, manifest, configuration) basalt reads.
pub const MAX_DOCUMENT: u64 = 8 << 20;

/// How deep image indexes may nest.
const MAX_NESTING: usize = 4;

/// How a container of the image runs, from its configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OciConfig {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, as `NAME=value`.
    pub env: Vec<String>,
    /// `WorkingDir`, if not empty.
    pub working_dir: Option<String>,
    /// `User`, if not empty.
    pub user: Option<String>,
    /// The CPU architecture the image is for (`amd64`); the caller checks
    /// it.
    pub architecture: String,
    /// The operating system (`linux`).
    pub os: String,
    /// When the image was made (RFC 3339).
    pub created: Option<String>,
}

impl From<ImageConfig> for OciConfig {
    fn from(c: ImageConfig) -> OciConfig {
        let run = c.config.unwrap_or_default();
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        OciConfig {
            entrypoint: run.entrypoint.unwrap_or_default(),
            cmd: run.cmd.unwrap_or_default(),
            env: run.env.unwrap_or_default(),
            working_dir: non_empty(run.working_dir),
            user: non_empty(run.user),
            architecture: c.architecture,
            os: c.os,
            created: c.created,
        }
    }
}

/// One layer of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciLayer {
    /// The blob's digest (for a legacy `docker save` layer, its diff id).
    pub digest: Digest,
    /// The uncompressed tar's digest.
    pub diff_id: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// Its compression.
    pub compression: LayerCompression,
    /// Where the blob is in the image.
    path: String,
}

impl OciLayer {
    /// How messages name it: its digest, or its file when the image
    /// names it otherwise (legacy `docker save`).
    fn name(&self) -> String {
        match self.path == self.digest.blob_path() {
            true => self.digest.to_string(),
            false => self.path.clone(),
        }
    }
}

/// What applying an image did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OciSummary {
    /// Layers applied.
    pub layers: u64,
    /// Bytes of blobs read.
    pub blob_bytes: u64,
    /// Bytes of uncompressed tar.
    pub tar_bytes: u64,
    /// What the layers' extractions wrote and removed, added up.
    pub extracted: Summary,
}

/// An image ready to apply: its manifest chosen, its documents read and
/// checked, its layers' blobs found and their sizes checked.
#[derive(Debug)]
pub struct OciImage {
    source: Source,
    manifest_digest: Option<Digest>,
    config_digest: Digest,
    config: OciConfig,
    reference: Option<String>,
    layers: Vec<OciLayer>,
}

impl OciImage {
    /// Opens the image at `path` (a layout directory, or an archive), and
    /// chooses its manifest: the one `reference` names, else the only one.
    pub fn open(path: &Path, reference: Option<&str>) -> Result<OciImage, OciError> {
        let source = Source::open(path)?;
        let image = if let Some(layout) = source.read("oci-layout", MAX_DOCUMENT)? {
            let layout: LayoutFile = parse(&source.describe("oci-layout"), &layout)?;
            if !layout.image_layout_version.starts_with("1.") {
                return Err(OciError::Invalid {
                    file: source.describe("oci-layout"),
                    reason: format!(
                        "image layout version {:?} is not 1.x",
                        layout.image_layout_version
                    ),
                });
            }
            from_layout(source, reference)?
        } else if let Some(doc) = source.read("manifest.json", MAX_DOCUMENT)? {
            docker::from_save(source, &doc, reference)?
        } else {
            return Err(OciError::NotAnImage {
                path: path.to_owned(),
            });
        };
        image.check_layers()?;
        Ok(image)
    }

    /// How a container of the image runs.
    pub fn config(&self) -> &OciConfig {
        &self.config
    }

    /// The manifest's digest (`sha256:<hex>`); a legacy `docker save`
    /// archive has no manifest.
    pub fn manifest_digest(&self) -> Option<&str> {
        self.manifest_digest.as_ref().map(Digest::as_str)
    }

    /// The configuration's digest (`sha256:<hex>`): docker's image id.
    pub fn config_digest(&self) -> &str {
        self.config_digest.as_str()
    }

    /// The name the image goes by in the layout or archive (the one that
    /// matched the reference asked for, if any).
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// Its layers, lowest first.
    pub fn layers(&self) -> &[OciLayer] {
        &self.layers
    }

    /// Applies every layer in order into `dest`, an existing directory
    /// (empty, normally). On error `dest` holds part of the image: the
    /// caller removes it.
    pub fn apply(&self, dest: &Path) -> Result<OciSummary, OciError> {
        let mut total = OciSummary::default();
        for layer in &self.layers {
            let applied = stream::apply(&self.source, layer, dest)?;
            total.layers += 1;
            total.blob_bytes += applied.blob_bytes;
            total.tar_bytes += applied.tar_bytes;
            total.extracted.add(&applied.extracted);
        }
        Ok(total)
    }

    /// Every layer's blob is there, of the size its descriptor gives.
    fn check_layers(&self) -> Result<(), OciError> {
        for layer in &self.layers {
            let blob = self
                .source
                .get(&layer.path)?
                .ok_or_else(|| OciError::MissingBlob { blob: layer.name() })?;
            if blob.size() != layer.size {
                return Err(OciError::SizeMismatch {
                    blob: layer.name(),
                    expected: layer.size,
                    actual: blob.size(),
                });
            }
        }
        Ok(())
    }
}

/// The image a layout's `index.json` leads to.
fn from_layout(source: Source, reference: Option<&str>) -> Result<OciImage, OciError> {
    let index_name = source.describe("index.json");
    let index = source
        .read("index.json", MAX_DOCUMENT)?
        .ok_or_else(|| OciError::Invalid {
            file: index_name.clone(),
            reason: "the layout has no index.json".into(),
        })?;
    let index: Index = parse(&index_name, &index)?;
    let candidates = index
        .manifests
        .into_iter()
        .map(|d| d.check(&index_name).map(Candidate::from_index))
        .collect::<Result<Vec<_>, _>>()?;
    let (chosen, name) = select::choose(candidates, reference)?;
    let (manifest_digest, manifest) = resolve(&source, chosen.desc, 0)?;
    let config_desc = manifest.config.check(manifest_digest.as_str())?;
    spec::check_config_type(&config_desc)?;
    let blob = config_desc.digest.blob_path();
    let data = read_verified(&source, &blob, &config_desc.digest, Some(config_desc.size))?;
    let config: ImageConfig = parse(config_desc.digest.as_str(), &data)?;
    let descs = manifest
        .layers
        .into_iter()
        .map(|l| l.check(manifest_digest.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let diff_ids = diff_ids(&config, config_desc.digest.as_str(), descs.len())?;
    let layers = descs
        .into_iter()
        .zip(diff_ids)
        .map(|(d, diff_id)| layer(d, diff_id, manifest_digest.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OciImage {
        source,
        manifest_digest: Some(manifest_digest),
        config_digest: config_desc.digest,
        config: config.into(),
        reference: name,
        layers,
    })
}

/// The manifest a descriptor leads to, through image indexes.
fn resolve(
    source: &Source,
    desc: Descriptor,
    depth: usize,
) -> Result<(Digest, Manifest), OciError> {
    let name = desc.digest.to_string();
    if depth > MAX_NESTING {
        return Err(OciError::Invalid {
            file: name,
            reason: "image indexes nest too deep".into(),
        });
    }
    let data = read_verified(
        source,
        &desc.digest.blob_path(),
        &desc.digest,
        Some(desc.size),
    )?;
    let doc: serde_json::Value = parse(&name, &data)?;
    let kind = spec::doc_kind(desc.media_type.as_deref(), &doc, &desc.digest)?;
    let json = |source| OciError::Json {
        file: name.clone(),
        source,
    };
    match kind {
        DocKind::Manifest => Ok((desc.digest, serde_json::from_value(doc).map_err(json)?)),
        DocKind::Index => {
            let index: Index = serde_json::from_value(doc).map_err(json)?;
            let entries = index
                .manifests
                .into_iter()
                .map(|d| d.check(&name))
                .collect::<Result<Vec<_>, _>>()?;
            resolve(source, select::platform(&name, entries)?, depth + 1)
        }
    }
}

/// The configuration's diff ids, one per layer.
fn diff_ids(config: &ImageConfig, file: &str, layers: usize) -> Result<Vec<Digest>, OciError> {
    let invalid = |reason: String| OciError::Invalid {
        file: file.to_owned(),
        reason,
    };
    if config.rootfs.kind != "layers" {
        return Err(invalid(format!(
            "its rootfs type is {:?}, not \"layers\"",
            config.rootfs.kind
        )));
    }
    if config.rootfs.diff_ids.len() != layers {
        return Err(invalid(format!(
            "it lists {} diff ids for {layers} layers",
            config.rootfs.diff_ids.len()
        )));
    }
    config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| {
            Digest::parse(d).ok_or_else(|| OciError::InvalidDigest {
                digest: d.clone(),
                file: file.to_owned(),
            })
        })
        .collect()
}

/// A manifest's layer descriptor, with its diff id.
fn layer(desc: Descriptor, diff_id: Digest, manifest: &str) -> Result<OciLayer, OciError> {
    let media_type = desc.media_type.ok_or_else(|| OciError::Invalid {
        file: manifest.to_owned(),
        reason: format!("layer {} has no media type", desc.digest),
    })?;
    Ok(OciLayer {
        compression: spec::layer_compression(&media_type, &desc.digest)?,
        path: desc.digest.blob_path(),
        digest: desc.digest,
        diff_id,
        size: desc.size,
        media_type,
    })
}

/// The whole file `path`, checked against `digest` and, when given, its
/// size (before it is read). Named by its digest in errors when it is a
/// blob, else by its path.
fn read_verified(
    source: &Source,
    path: &str,
    digest: &Digest,
    size: Option<u64>,
) -> Result<Vec<u8>, OciError> {
    let name = match path == digest.blob_path() {
        true => digest.to_string(),
        false => path.to_owned(),
    };
    let blob = source
        .get(path)?
        .ok_or_else(|| OciError::MissingBlob { blob: name.clone() })?;
    if let Some(expected) = size
        && expected != blob.size()
    {
        return Err(OciError::SizeMismatch {
            blob: name,
            expected,
            actual: blob.size(),
        });
    }
    let data = source
        .read(path, MAX_DOCUMENT)?
        .ok_or_else(|| OciError::MissingBlob { blob: name.clone() })?;
    let actual = Digest::of(&Sha256::digest(&data));
    if actual != *digest {
        return Err(OciError::DigestMismatch {
            blob: name,
            actual: actual.to_string(),
        });
    }
    Ok(data)
}

/// A JSON document.
fn parse<T: DeserializeOwned>(file: &str, data: &[u8]) -> Result<T, OciError> {
    serde_json::from_slice(data).map_err(|source| OciError::Json {
        file: file.to_owned(),
        source,
    })
}
