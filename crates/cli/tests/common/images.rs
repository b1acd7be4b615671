//! Test images built by the tests themselves: a tar whose entries are
//! written as given (hostile names included), gzip, sha1, incompressible
//! bytes, and an image file with its v2 manifest; and the real minimal
//! image, which `images/cached` builds once under the target directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

pub const OWNER: &str = "00000000-0000-0000-0000-000000000000";
pub const PUBLISHED: &str = "2025-06-01T00:00:00Z";

/// A tar entry with its name (and link target) written as is, so tests can
/// put in what a hostile archive would (`..`, absolute paths).
pub enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

pub fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, kind, mode, data, link): (&str, _, _, &[u8], _) = match e {
            Entry::Dir(n) => (n, tar::EntryType::Directory, 0o755, b"", None),
            Entry::File(n, d) => (n, tar::EntryType::Regular, 0o644, d, None),
            Entry::Symlink(n, t) => (n, tar::EntryType::Symlink, 0o777, b"", Some(t)),
            Entry::HardLink(n, t) => (n, tar::EntryType::Link, 0o644, b"", Some(t)),
        };
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_748_736_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

/// `n` bytes no compressor can shrink (xorshift64*, seeded).
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// An image file and its manifest, written in the work directory.
pub struct Image {
    pub uuid: String,
    pub name: String,
    pub version: String,
    pub manifest: PathBuf,
    pub file: PathBuf,
    /// The manifest as written.
    pub value: Value,
}

impl Image {
    /// `<uuid> (<name>@<version>)`, as imgadm names an image.
    pub fn label(&self) -> String {
        format!("{} ({}@{})", self.uuid, self.name, self.version)
    }

    /// A zone-dataset image of `bytes` (already compressed as
    /// `compression` says); `edit` may change the manifest before it is
    /// written.
    pub fn new(
        dir: &Path,
        uuid: &str,
        name: &str,
        bytes: &[u8],
        compression: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Image {
        let mut value = json!({
            "v": 2,
            "uuid": uuid,
            "owner": OWNER,
            "name": name,
            "version": "1.0.0",
            "state": "active",
            "disabled": false,
            "public": true,
            "published_at": PUBLISHED,
            "type": "zone-dataset",
            "os": "other",
            "files": [{
                "sha1": sha1_hex(bytes),
                "size": bytes.len(),
                "compression": compression,
            }],
        });
        edit(&mut value);
        let file = dir.join(format!("{name}.file"));
        let manifest = dir.join(format!("{name}.imgmanifest"));
        fs::write(&file, bytes).unwrap();
        fs::write(&manifest, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        Image {
            uuid: uuid.to_owned(),
            name: name.to_owned(),
            version: "1.0.0".to_owned(),
            manifest,
            file,
            value,
        }
    }

    /// A gzip-compressed tar of `entries`.
    pub fn of(dir: &Path, uuid: &str, name: &str, entries: &[Entry<'_>]) -> Image {
        Image::new(dir, uuid, name, &gzip(&tar(entries)), "gzip", |_| {})
    }
}

/// The real minimal image, built once under the target directory.
pub fn minimal_image() -> (PathBuf, PathBuf) {
    cached_image("minimal")
}

/// One of the project's images (`minimal`, `debian`), built once under the
/// target directory by `images/cached`.
pub fn cached_image(name: &str) -> (PathBuf, PathBuf) {
    super::require(&["bash", "tar", "gzip", "sha1sum", "flock"]);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = super::target::target_dir();
    let out = Command::new(repo.join("images/cached"))
        .arg(target.join("images"))
        .arg(name)
        .output()
        .expect("images/cached runs");
    assert!(
        out.status.success(),
        "images/cached {} {name}: {}",
        target.join("images").display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let (Some(manifest), Some(file)) = (lines.next(), lines.next()) else {
        panic!("images/cached printed {text:?}, not a manifest and a file");
    };
    (manifest.into(), file.into())
}
