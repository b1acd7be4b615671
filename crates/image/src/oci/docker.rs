//! The legacy `docker save` archive: `manifest.json` lists each image's
//! configuration (`<hex>.json`, named by its own sha256), repository tags
//! and layers (`<id>/layer.tar`, uncompressed). There is no manifest blob
//! and no layer digest: the configuration is checked against its name,
//! each layer against the configuration's `rootfs.diff_ids`.

use serde::Deserialize;

use super::select::same_reference;
use super::source::{Source, clean};
use super::spec::{Digest, ImageConfig, LayerCompression, OCI_LAYER};
use super::{OciError, OciImage, OciLayer, diff_ids, parse, read_verified};

/// One image of `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SaveEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub layers: Vec<String>,
}

impl SaveEntry {
    fn tags(&self) -> &[String] {
        self.repo_tags.as_deref().unwrap_or_default()
    }

    fn label(&self) -> String {
        match self.tags() {
            [] => self.config.clone(),
            tags => tags.join(" "),
        }
    }
}

/// The image of a `docker save` archive that `reference` names, else its
/// only one.
pub(super) fn from_save(
    source: Source,
    doc: &[u8],
    reference: Option<&str>,
) -> Result<OciImage, OciError> {
    let file = source.describe("manifest.json");
    let entries: Vec<SaveEntry> = parse(&file, doc)?;
    let (entry, name) = choose(&file, entries, reference)?;
    let config_digest = config_digest(&entry.config).ok_or_else(|| OciError::Invalid {
        file: file.clone(),
        reason: format!(
            "configuration {:?} is not named by its digest (<hex>.json)",
            entry.config
        ),
    })?;
    let data = read_verified(&source, &entry.config, &config_digest, None)?;
    let config: ImageConfig = parse(&entry.config, &data)?;
    let diff_ids = diff_ids(&config, &entry.config, entry.layers.len())?;
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
        let missing = || OciError::MissingBlob { blob: path.clone() };
        let clean = clean(path).ok_or_else(missing)?;
        let blob = source.get(&clean)?.ok_or_else(missing)?;
        layers.push(OciLayer {
            digest: diff_id.clone(),
            diff_id,
            size: blob.size(),
            media_type: OCI_LAYER.to_owned(),
            compression: LayerCompression::None,
            path: clean,
        });
    }
    Ok(OciImage {
        source,
        manifest_digest: None,
        config_digest,
        config: config.into(),
        reference: name,
        layers,
    })
}

/// The entry whose tags hold `reference`, else the only one.
pub(super) fn choose(
    file: &str,
    entries: Vec<SaveEntry>,
    reference: Option<&str>,
) -> Result<(SaveEntry, Option<String>), OciError> {
    let available = || entries.iter().map(SaveEntry::label).collect::<Vec<_>>();
    match reference {
        Some(r) => entries
            .iter()
            .find_map(|e| {
                let tag = e.tags().iter().find(|t| same_reference(r, t))?;
                Some((e.clone(), Some(tag.clone())))
            })
            .ok_or_else(|| OciError::NoSuchReference {
                reference: r.to_owned(),
                available: available(),
            }),
        None => match entries.as_slice() {
            [] => Err(OciError::Invalid {
                file: file.to_owned(),
                reason: "it lists no image".into(),
            }),
            [only] => Ok((only.clone(), only.tags().first().cloned())),
            _ => Err(OciError::Ambiguous {
                available: available(),
            }),
        },
    }
}

/// The digest a configuration's file name gives: `<hex>.json` (legacy) or
/// `blobs/sha256/<hex>`.
pub(super) fn config_digest(name: &str) -> Option<Digest> {
    let hex = name
        .strip_suffix(".json")
        .or_else(|| name.strip_prefix("blobs/sha256/"))?;
    Digest::parse(&format!("sha256:{hex}"))
}
