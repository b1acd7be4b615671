//! The documents of an OCI image as typed data, and the checks made on
//! them before anything they name is read: digests (`sha256:` and 64
//! lowercase hex digits, so a blob name is never a path of its own) and
//! media types. Unknown fields are ignored, as the specification asks.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::OciError;

/// An image index (OCI).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A manifest list (docker).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// An image manifest (OCI).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An image manifest (docker, schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// An image configuration (OCI).
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// An image configuration (docker).
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// An uncompressed layer (OCI).
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// The annotation naming a manifest in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation docker and containerd put beside it: the whole reference.
pub const IMAGE_NAME: &str = "io.containerd.image.name";

/// A blob's digest: `sha256:` and 64 lowercase hex digits, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The digest `s` spells, if it is a sha256 digest in canonical form.
    pub fn parse(s: &str) -> Option<Digest> {
        let hex = s.strip_prefix("sha256:")?;
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Digest(s.to_owned()))
    }

    /// The digest of `hash`, a sha256 output.
    pub fn of(hash: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(hash)))
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// Where a layout keeps the blob: `blobs/sha256/<hex>`.
    pub fn blob_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a layer's tar is compressed, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// What a layer's media type says: its compression, or why it is refused.
pub(super) fn layer_compression(
    media_type: &str,
    blob: &Digest,
) -> Result<LayerCompression, OciError> {
    match media_type {
        OCI_LAYER => Ok(LayerCompression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Ok(LayerCompression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd" => Ok(LayerCompression::Zstd),
        t if t.contains("nondistributable") || t.contains(".foreign.") => {
            Err(OciError::ForeignLayer {
                blob: blob.to_string(),
                media_type: t.to_owned(),
            })
        }
        t => Err(unsupported(blob, t)),
    }
}

/// A document a descriptor points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DocKind {
    /// An image index or manifest list.
    Index,
    /// An image manifest.
    Manifest,
}

/// Which document `doc` is: by the descriptor's media type, else the
/// document's own, else by its fields.
pub(super) fn doc_kind(
    declared: Option<&str>,
    doc: &serde_json::Value,
    blob: &Digest,
) -> Result<DocKind, OciError> {
    let own = doc.get("mediaType").and_then(|m| m.as_str());
    match declared.or(own) {
        Some(OCI_INDEX | DOCKER_LIST) => Ok(DocKind::Index),
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => Ok(DocKind::Manifest),
        Some(other) => Err(unsupported(blob, other)),
        None if doc.get("manifests").is_some() => Ok(DocKind::Index),
        None if doc.get("config").is_some() => Ok(DocKind::Manifest),
        None => Err(OciError::Invalid {
            file: blob.to_string(),
            reason: "it is neither an image index nor a manifest".into(),
        }),
    }
}

/// Checks a configuration's media type, when the descriptor gives one.
pub(super) fn check_config_type(desc: &Descriptor) -> Result<(), OciError> {
    match desc.media_type.as_deref() {
        None | Some(OCI_CONFIG | DOCKER_CONFIG) => Ok(()),
        Some(other) => Err(unsupported(&desc.digest, other)),
    }
}

fn unsupported(blob: &Digest, media_type: &str) -> OciError {
    OciError::UnsupportedMediaType {
        blob: blob.to_string(),
        media_type: media_type.to_owned(),
    }
}

/// A descriptor as a document spells it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawDescriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

/// A descriptor whose digest was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Descriptor {
    pub media_type: Option<String>,
    pub digest: Digest,
    pub size: u64,
    pub annotations: BTreeMap<String, String>,
    pub platform: Option<Platform>,
}

impl RawDescriptor {
    /// Checks the digest; `file` names the document for the error.
    pub fn check(self, file: &str) -> Result<Descriptor, OciError> {
        let digest = Digest::parse(&self.digest).ok_or_else(|| OciError::InvalidDigest {
            digest: self.digest.clone(),
            file: file.to_owned(),
        })?;
        Ok(Descriptor {
            media_type: self.media_type,
            digest,
            size: self.size,
            annotations: self.annotations.unwrap_or_default(),
            platform: self.platform,
        })
    }
}

/// The platform an index entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(super) struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Whether basalt runs images of this platform.
    pub fn is_ours(&self) -> bool {
        self.os == "linux" && self.architecture == "amd64"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// `oci-layout`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LayoutFile {
    pub image_layout_version: String,
}

/// An image index (`index.json`, or a blob).
#[derive(Debug, Deserialize)]
pub(super) struct Index {
    #[serde(default)]
    pub manifests: Vec<RawDescriptor>,
}

/// An image manifest.
#[derive(Debug, Deserialize)]
pub(super) struct Manifest {
    pub config: RawDescriptor,
    #[serde(default)]
    pub layers: Vec<RawDescriptor>,
}

/// An image configuration: what basalt uses of it.
#[derive(Debug, Deserialize)]
pub(super) struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub config: Option<RunConfig>,
    pub rootfs: RootFs,
}

/// How a container of the image runs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RunConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

/// The layers' uncompressed digests.
#[derive(Debug, Deserialize)]
pub(super) struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}
