//! The node's images as an IMGAPI catalog: what `imgadm serve` (and
//! basaltd, when configured) offers other nodes. Every installed image is
//! offered but volumes; its manifest is the installed one, so its sha1 is
//! the publisher's. An image with no kept file (installed before files
//! were kept, or received as a stream) gets one made from its `@final`
//! when it is first asked for, and its record then describes that file.
//! Publishing to the node installs the image here, as `imgadm install`
//! would.

use std::fs;
use std::path::{Path, PathBuf};

use basalt_image::Manifest;
use basalt_imgapi::server::{Catalog, CatalogError};
use serde_json::Value;

use super::{ImageError, ImageStore};
use crate::paths::Paths;

/// The installed images of a node, served.
pub struct NodeCatalog {
    paths: Paths,
}

impl NodeCatalog {
    /// The catalog of the node at `paths`.
    pub fn new(paths: Paths) -> NodeCatalog {
        NodeCatalog { paths }
    }

    fn store(&self) -> Result<ImageStore, CatalogError> {
        crate::instances::Node::open(self.paths.clone())
            .and_then(|n| n.images())
            .map_err(|e| internal(e.to_string()))
    }
}

fn internal(message: String) -> CatalogError {
    CatalogError::new(500, "InternalError", message)
}

fn image_error(e: ImageError) -> CatalogError {
    let status = match e.code() {
        "ImageNotInstalled" | "OriginNotInstalled" => 422,
        "InternalError" => 500,
        _ => 422,
    };
    CatalogError::new(status, e.code(), e.to_string())
}

impl Catalog for NodeCatalog {
    fn images(&self) -> Result<Vec<Value>, CatalogError> {
        let store = self.store()?;
        let (images, broken) = store.list().map_err(image_error)?;
        for e in broken {
            tracing::warn!(error = %e, "an image record is not served");
        }
        Ok(images
            .into_iter()
            .map(|i| i.record.manifest)
            .filter(|m| m.image_type != basalt_image::manifest::ImageType::Zvol)
            .map(|m| m.to_value())
            .collect())
    }

    fn image(&self, uuid: &str) -> Result<Option<Value>, CatalogError> {
        if !basalt_model::ids::is_uuid(uuid) {
            return Ok(None);
        }
        let store = self.store()?;
        // The manifest a client imports by must describe the file it
        // will get: the file is made first when there is none.
        match store.ensure_file(uuid) {
            Ok(Some(_)) => {}
            Ok(None) | Err(ImageError::NotInstalled { .. }) => return Ok(None),
            Err(e) => return Err(image_error(e)),
        }
        match store.get(uuid) {
            Ok(i) => Ok(Some(i.record.manifest.to_value())),
            Err(ImageError::NotInstalled { .. }) => Ok(None),
            Err(e) => Err(image_error(e)),
        }
    }

    fn file(&self, uuid: &str) -> Result<Option<(PathBuf, u64)>, CatalogError> {
        if !basalt_model::ids::is_uuid(uuid) {
            return Ok(None);
        }
        let store = self.store()?;
        let path = match store.ensure_file(uuid) {
            Ok(Some(path)) => path,
            Ok(None) | Err(ImageError::NotInstalled { .. }) => return Ok(None),
            Err(e) => return Err(image_error(e)),
        };
        match fs::metadata(&path) {
            Ok(m) => Ok(Some((path, m.len()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(internal(format!("{}: {e}", path.display()))),
        }
    }

    fn publish(&self, manifest: Value, file: &Path) -> Result<Value, CatalogError> {
        let manifest =
            Manifest::from_value(manifest).map_err(|e| image_error(ImageError::Manifest(e)))?;
        let store = self.store()?;
        let uuid = manifest.uuid.to_string();
        let _lock = store.lock(&uuid).map_err(image_error)?;
        if store.get(&uuid).is_ok() {
            return Err(CatalogError::new(
                409,
                "ImageUuidAlreadyExists",
                format!("image uuid \"{uuid}\" already exists"),
            ));
        }
        // The upload becomes the kept file (the server's later removal of
        // its staged file finds nothing).
        store
            .install_locked(&manifest, file, None, super::install::Keep::Move)
            .map_err(image_error)?;
        tracing::info!(image = %uuid, "published to this node");
        Ok(manifest.to_value())
    }
}
