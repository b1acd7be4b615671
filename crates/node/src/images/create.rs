//! `imgadm create`: an image made from a stopped instance.
//!
//! The instance's dataset is snapshotted under its lock; its `root/` is
//! archived from that snapshot — whole, or with `-i` as a layer over its
//! origin image's `@final` (what changed, plus whiteouts for what went) —
//! compressed and hashed in one pass into `<prefix>.zfs[.gz|.bz2|.xz|.zst]`
//! (SmartOS's names; the content is basalt's image archive), and the
//! manifest, with that file's sha1 and size, is written to
//! `<prefix>.imgmanifest`. The snapshot goes afterwards; a failure removes
//! both files too.

use std::fs;
use std::path::{Path, PathBuf};

use basalt_image::Manifest;
use basalt_image::manifest::Compression;
use basalt_model::VmUuid;
use basalt_pool::DatasetName;
use serde_json::{Map, Value, json};

use super::ImageError;
use crate::instances::{Node, NodeError};

/// What `imgadm create` is asked for.
#[derive(Debug, Clone)]
pub struct CreateImage {
    /// The instance.
    pub vm: String,
    /// Manifest members: those of `-m`, then the `field=value` arguments.
    pub fields: Map<String, Value>,
    /// `-i`: only what changed since the origin image.
    pub incremental: bool,
    /// `-c`.
    pub compression: Compression,
    /// `-o`: a directory, or a path prefix; the current directory if none.
    pub output: Option<PathBuf>,
}

/// What `imgadm create` made.
#[derive(Debug, Clone)]
pub struct CreatedImage {
    /// The new image's manifest.
    pub manifest: Manifest,
    /// Where it was written.
    pub manifest_path: PathBuf,
    /// The image's file.
    pub file_path: PathBuf,
}

fn failed(code: &'static str, message: String) -> ImageError {
    ImageError::Source { code, message }
}

fn node_error(e: NodeError) -> ImageError {
    match e {
        NodeError::NotFound(uuid) => failed("VmNotFound", format!("vm \"{uuid}\" not found")),
        e => failed("InternalError", e.to_string()),
    }
}

fn extension(c: Compression) -> &'static str {
    match c {
        Compression::None => "",
        Compression::Gzip => ".gz",
        Compression::Bzip2 => ".bz2",
        Compression::Xz => ".xz",
        Compression::Zstd => ".zst",
    }
}

impl Node {
    /// Makes an image of a stopped instance.
    pub fn create_image(&self, req: &CreateImage) -> Result<CreatedImage, ImageError> {
        let (id, _lock, stored) = self.locked(&req.vm).map_err(node_error)?;
        let state = self.state_of(&stored);
        if state != "stopped" {
            return Err(failed(
                "VmNotStopped",
                format!("vm \"{id}\" is not stopped (state \"{state}\")"),
            ));
        }
        let store = self.images().map_err(node_error)?;
        let origin_uuid = stored
            .get("image_uuid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let origin = match &origin_uuid {
            Some(u) => Some(store.get(u)?),
            None => None,
        };
        if req.incremental && origin.is_none() {
            return Err(failed(
                "VmHasNoOrigin",
                format!("vm \"{id}\" has no origin image to be incremental on"),
            ));
        }
        let manifest = new_manifest(&stored, origin.as_ref().map(|o| &o.record.manifest), req)?;
        let pool = store.pool().clone();
        let dataset = DatasetName::parse(&format!("{}/{id}", pool.name()))?;
        // What an interrupted create left (its process was killed).
        let stale = format!("{dataset}@imgadm-create-");
        for d in pool.list()? {
            if d.name.starts_with(&stale) {
                pool.destroy(&d.name, false, false)?;
            }
        }
        let snap = dataset.snapshot(&format!("imgadm-create-{}", manifest.uuid))?;
        pool.snapshot(&snap)?;
        let made = (|| {
            let root = pool.snapshot_path(&snap).join("root");
            let lower = match (&origin, req.incremental) {
                (Some(o), true) => Some(store.final_root(&o.record.manifest.uuid.to_string())?),
                _ => None,
            };
            write_image(manifest, &root, lower.as_deref(), req)
        })();
        if let Err(e) = pool.destroy(&snap.to_string(), false, false) {
            tracing::warn!(snapshot = %snap, error = %e, "the snapshot imgadm create took could not be removed");
        }
        made
    }
}

/// The manifest of an image of instance `stored` (files are added once the
/// file is written): the origin image's kind, the request's members, a new
/// uuid unless one is given.
fn new_manifest(
    stored: &Map<String, Value>,
    origin: Option<&Manifest>,
    req: &CreateImage,
) -> Result<Manifest, ImageError> {
    let brand = stored
        .get("brand")
        .and_then(Value::as_str)
        .unwrap_or("joyent");
    let mut m = Map::new();
    m.insert("v".into(), json!(2));
    let mut bytes = [0u8; 16];
    crate::entropy::fill(&mut bytes);
    m.insert(
        "uuid".into(),
        json!(VmUuid::from_random_bytes(bytes).as_str()),
    );
    m.insert("owner".into(), json!(VmUuid::ZERO));
    let (kind, os) = match origin {
        Some(o) => (o.image_type.as_str(), o.os.as_str()),
        None if brand == "lx" => ("lx-dataset", "linux"),
        None => ("zone-dataset", "other"),
    };
    m.insert("type".into(), json!(kind));
    m.insert("os".into(), json!(os));
    if let Some(o) = origin {
        let o = o.to_value();
        for key in ["requirements", "tags"] {
            if let Some(v) = o.get(key) {
                m.insert(key.into(), v.clone());
            }
        }
    }
    if brand == "lx" {
        let req = m.entry("requirements").or_insert_with(|| json!({}));
        if let Value::Object(r) = req {
            r.insert("brand".into(), json!(brand));
        }
    }
    if req.incremental
        && let Some(o) = origin
    {
        m.insert("origin".into(), json!(o.uuid.to_string()));
    }
    m.insert("state".into(), json!("active"));
    m.insert("disabled".into(), json!(false));
    m.insert("public".into(), json!(false));
    m.insert("published_at".into(), json!(crate::instances::now_iso()));
    for (k, v) in &req.fields {
        m.insert(k.clone(), v.clone());
    }
    for required in ["name", "version"] {
        if !m.contains_key(required) {
            return Err(failed(
                "InvalidArgument",
                format!("the image needs a \"{required}\": give {required}=<value>"),
            ));
        }
    }
    // A placeholder file until the real one is written: validation wants
    // an active image to have one.
    m.insert(
        "files".into(),
        json!([{"sha1": "0000000000000000000000000000000000000000", "size": 1,
                "compression": req.compression.as_str()}]),
    );
    Ok(Manifest::from_value(Value::Object(m))?)
}

/// The output prefix: `-o` itself, or `NAME-VER` inside `-o` (a
/// directory) or the current directory.
fn prefix(m: &Manifest, output: Option<&Path>) -> PathBuf {
    let base = format!("{}-{}", m.name, m.version).replace('/', "_");
    match output {
        Some(p) if p.is_dir() => p.join(base),
        Some(p) => p.to_owned(),
        None => PathBuf::from(base),
    }
}

fn write_image(
    mut manifest: Manifest,
    root: &Path,
    lower: Option<&Path>,
    req: &CreateImage,
) -> Result<CreatedImage, ImageError> {
    let prefix = prefix(&manifest, req.output.as_deref());
    let mut file_path = prefix.clone().into_os_string();
    file_path.push(format!(".zfs{}", extension(req.compression)));
    let file_path = PathBuf::from(file_path);
    let mut manifest_path = prefix.into_os_string();
    manifest_path.push(".imgmanifest");
    let manifest_path = PathBuf::from(manifest_path);
    manifest.files = Some(vec![super::export::write_image_file(
        root,
        lower,
        req.compression,
        &file_path,
    )?]);
    let mut text = serde_json::to_string_pretty(&manifest.to_value()).unwrap_or_default();
    text.push('\n');
    if let Err(e) = crate::fsutil::write_atomic(&manifest_path, text.as_bytes(), 0o644) {
        let _ = fs::remove_file(&file_path);
        return Err(ImageError::io("write", &manifest_path)(e));
    }
    Ok(CreatedImage {
        manifest,
        manifest_path,
        file_path,
    })
}
