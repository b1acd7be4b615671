//! The record of an installed image in imgadm's database.

use std::path::Path;

use basalt_image::Manifest;
use serde_json::{Map, Value, json};

use super::ImageError;
use crate::fsutil::write_atomic;

/// `/var/imgadm/images/<pool>-<uuid>.json`.
#[derive(Debug, Clone)]
pub struct ImageRecord {
    /// The image's manifest.
    pub manifest: Manifest,
    /// The pool it is installed on.
    pub zpool: String,
    /// Where it came from (an IMGAPI URL), if it was imported.
    pub source: Option<String>,
}

impl ImageRecord {
    /// The record as imgadm writes it (and `imgadm get` prints it).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("manifest".into(), self.manifest.to_value());
        m.insert("zpool".into(), json!(self.zpool));
        if let Some(s) = &self.source {
            m.insert("source".into(), json!(s));
        }
        Value::Object(m)
    }

    /// Reads a record; a corrupt one is named.
    pub fn read(path: &Path) -> Result<ImageRecord, ImageError> {
        let corrupt = |reason: String| ImageError::Record {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(ImageError::io("read", path))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let Value::Object(mut m) = value else {
            return Err(corrupt("not a JSON object".into()));
        };
        let manifest = m
            .remove("manifest")
            .ok_or_else(|| corrupt("no manifest".into()))?;
        let manifest = Manifest::from_value(manifest).map_err(|e| corrupt(e.to_string()))?;
        let zpool = m
            .get("zpool")
            .and_then(Value::as_str)
            .ok_or_else(|| corrupt("no zpool".into()))?
            .to_owned();
        let source = m.get("source").and_then(Value::as_str).map(str::to_owned);
        Ok(ImageRecord {
            manifest,
            zpool,
            source,
        })
    }

    /// Writes the record atomically.
    pub fn write(&self, path: &Path) -> Result<(), ImageError> {
        let mut text = serde_json::to_string_pretty(&self.to_value()).unwrap_or_default();
        text.push('\n');
        write_atomic(path, text.as_bytes(), 0o644).map_err(ImageError::io("write", path))
    }
}
