//! `imgadm import UUID`: an image and the origins it lacks, from the
//! node's IMGAPI sources.
//!
//! 1. The image is looked up in each imgapi source in turn (`GET
//!    /images/:uuid`); the first that has it *active* is used.
//! 2. Its `origin` chain is walked until an installed image (or none):
//!    the missing ones are imported first, base first.
//! 3. Each file is downloaded, with the image's lock held, to
//!    `/var/imgadm/downloads/<uuid>.file` (root's alone), its sha1 and size checked
//!    as it streams. A transfer cut short is resumed where it stopped
//!    (`Range`); one whose bytes are wrong is downloaded again once, then
//!    refused. A download an earlier, killed import left is resumed
//!    after its bytes are re-hashed.
//! 4. The file is installed as `imgadm install` does (all or nothing) and
//!    kept as the image's file, which the node serves to other nodes.
//!
//! A failure or an interruption removes what the import made: the
//! download, the partial dataset, the record.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use basalt_image::Manifest;
use basalt_imgapi::client::{Client, ClientOptions};
use serde_json::Value;
use sha1::{Digest, Sha1};

use super::sources::{Source, SourceType};
use super::{ImageError, ImageStore, Installed};

pub use super::interrupt::INTERRUPTED;
use super::interrupt::interrupted;

/// How many times a file is fetched before its bytes are refused.
const ATTEMPTS: u32 = 2;

/// What an import reports as it goes.
pub trait Progress {
    /// A message line (imgadm prints them on stdout).
    fn say(&mut self, line: &str);
    /// A download of `total` bytes starts, `done` of them already here.
    fn begin(&mut self, label: &str, total: u64, done: u64);
    /// `n` more bytes arrived.
    fn advance(&mut self, n: u64);
    /// The download ended (well or not).
    fn end(&mut self);
}

/// An image found in a source.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its manifest.
    pub manifest: Manifest,
    /// The source it was found in.
    pub source: Source,
}

fn client(source: &Source) -> Result<Client, ImageError> {
    Client::new(
        &source.url,
        ClientOptions {
            insecure: source.insecure
                || std::env::var_os("IMGADM_INSECURE").is_some_and(|v| v == "1"),
            ..ClientOptions::default()
        },
    )
    .map_err(|e| ImageError::Source {
        code: "InvalidArgument",
        message: e.to_string(),
    })
}

fn no_sources() -> ImageError {
    ImageError::Source {
        code: "NoSources",
        message: "imgadm has no configured sources".into(),
    }
}

/// The imgapi sources of `sources` (docker sources hold no IMGAPI images).
pub fn imgapi_sources(sources: &[Source]) -> Result<Vec<&Source>, ImageError> {
    let list: Vec<&Source> = sources
        .iter()
        .filter(|s| s.kind == SourceType::Imgapi)
        .collect();
    if list.is_empty() {
        return Err(no_sources());
    }
    Ok(list)
}

/// `GET /ping` of a source being added: it must be an IMGAPI.
pub fn ping(source: &Source) -> Result<(), ImageError> {
    client(source)?
        .ping()
        .map(|_| ())
        .map_err(|e| ImageError::Source {
            code: "SourcePing",
            message: format!(
                "unexpected ping error with \"{}\" image source \"{}\": {e}",
                source.kind.as_str(),
                source.url
            ),
        })
}

/// What the sources offer: each image's manifest with its source's URL,
/// and the errors of the sources that could not be listed.
pub struct Available {
    /// (manifest, source url) pairs.
    pub images: Vec<(Value, String)>,
    /// One error per source that did not answer.
    pub failed: Vec<ImageError>,
}

/// Every image the sources list (`imgadm avail`); a source that cannot be
/// listed does not hide the others', as on SmartOS.
pub fn available(sources: &[Source]) -> Result<Available, ImageError> {
    let mut images = Vec::new();
    let mut failed = Vec::new();
    for s in imgapi_sources(sources)? {
        match client(s).and_then(|c| {
            c.list(&[]).map_err(|e| ImageError::Source {
                code: "SourcePing",
                message: format!("could not list images of source \"{}\": {e}", s.url),
            })
        }) {
            Ok(list) => images.extend(list.into_iter().map(|m| (m, s.url.clone()))),
            Err(e) => failed.push(e),
        }
    }
    Ok(Available { images, failed })
}

/// The manifest of `uuid` in the first source that has it. With `active`,
/// only an active image counts.
pub fn find(sources: &[Source], uuid: &str, active: bool) -> Result<Option<Found>, ImageError> {
    let mut errors = Vec::new();
    for s in imgapi_sources(sources)? {
        let value = match client(s)?.get(uuid) {
            Ok(v) => v,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                tracing::warn!(source = %s.url, error = %e, "source could not be asked");
                errors.push(format!("{}: {e}", s.url));
                continue;
            }
        };
        if active
            && value
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("active")
                != "active"
        {
            continue;
        }
        let manifest = Manifest::from_value(value)?;
        if manifest.uuid.as_str() != uuid {
            return Err(ImageError::Source {
                code: "InvalidManifest",
                message: format!(
                    "source \"{}\" answered for image {uuid} with the manifest of image {}",
                    s.url, manifest.uuid
                ),
            });
        }
        return Ok(Some(Found {
            manifest,
            source: s.clone(),
        }));
    }
    if errors.is_empty() {
        Ok(None)
    } else {
        Err(ImageError::Source {
            code: "SourcePing",
            message: format!("image {uuid} could not be looked up: {}", errors.join("; ")),
        })
    }
}

fn human(bytes: u64) -> String {
    let mib = bytes as f64 / f64::from(1u32 << 20);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

fn label(m: &Manifest) -> String {
    format!("{} ({}@{})", m.uuid, m.name, m.version)
}

impl ImageStore {
    /// Imports `uuid` and the origins it lacks from `sources`.
    pub fn import(
        &self,
        sources: &[Source],
        uuid: &str,
        progress: &mut dyn Progress,
    ) -> Result<Installed, ImageError> {
        if !basalt_model::ids::is_uuid(uuid) {
            return Err(ImageError::InvalidUuid(uuid.to_owned()));
        }
        if let Ok(img) = self.get(uuid) {
            return Ok(Installed::Already(img.record.manifest));
        }
        let top = find(sources, uuid, true)?.ok_or_else(|| ImageError::Source {
            code: "ActiveImageNotFound",
            message: format!("an active image \"{uuid}\" was not found in image sources"),
        })?;
        progress.say(&format!(
            "Importing {} from \"{}\"",
            label(&top.manifest),
            top.source.url
        ));
        progress.say(&format!("Gather image {uuid} ancestry"));
        let mut chain = vec![top.clone()];
        while let Some(origin) = chain.last().and_then(|f| f.manifest.origin.clone()) {
            let origin = origin.to_string();
            if self.get(&origin).is_ok() {
                break;
            }
            if chain.len() > 100 {
                return Err(ImageError::Source {
                    code: "MaxOriginDepth",
                    message: format!("image {uuid} has more than 100 origins"),
                });
            }
            let found = find(sources, &origin, false)?.ok_or_else(|| ImageError::Source {
                code: "OriginNotFoundInSource",
                message: format!(
                    "origin image \"{origin}\" of image \"{}\" was not found in image sources",
                    chain
                        .last()
                        .map(|f| f.manifest.uuid.to_string())
                        .unwrap_or_default()
                ),
            })?;
            chain.push(found);
        }
        chain.reverse();
        let total: u64 = chain
            .iter()
            .filter_map(|f| f.manifest.file().map(|f| f.size))
            .sum();
        let count = chain.len();
        progress.say(&format!(
            "Must download and install {count} image{} ({})",
            if count == 1 { "" } else { "s" },
            human(total)
        ));
        for f in &chain {
            self.import_one(f, progress)?;
        }
        Ok(Installed::New(top.manifest))
    }

    fn import_one(&self, found: &Found, progress: &mut dyn Progress) -> Result<(), ImageError> {
        let m = &found.manifest;
        let uuid = m.uuid.to_string();
        let _lock = self.lock(&uuid)?;
        if self.get(&uuid).is_ok() {
            progress.say(&format!(
                "Image {} is already installed, skipping",
                label(m)
            ));
            return Ok(());
        }
        let file = self.download(found, progress)?;
        progress.say(&format!(
            "Downloaded image {uuid} ({})",
            human(m.file().map_or(0, |f| f.size))
        ));
        if INTERRUPTED.load(Ordering::Relaxed) {
            let _ = fs::remove_file(&file);
            return Err(interrupted());
        }
        self.install_locked(
            m,
            &file,
            Some(&found.source.url),
            super::install::Keep::Move,
        )?;
        progress.say(&format!("Imported image {}", label(m)));
        Ok(())
    }

    /// Downloads the file of `found` and checks it; returns its path.
    fn download(&self, found: &Found, progress: &mut dyn Progress) -> Result<PathBuf, ImageError> {
        let m = &found.manifest;
        let uuid = m.uuid.to_string();
        let Some(expected) = m.file().cloned() else {
            return Err(ImageError::Source {
                code: "InvalidManifest",
                message: format!("image {uuid} has no file"),
            });
        };
        let dir = self.paths.image_downloads();
        let imgadm = self.paths.imgadm();
        fs::create_dir_all(&imgadm).map_err(ImageError::io("create", &imgadm))?;
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(ImageError::io("create", &dir)(e));
            }
            _ => {}
        }
        let path = dir.join(format!("{uuid}.file"));
        let client = client(&found.source)?;
        let mut last = None;
        for attempt in 1..=ATTEMPTS {
            let got = fetch(&client, &uuid, &path, expected.size, progress);
            progress.end();
            let (size, digest) = match got {
                Ok(done) => done,
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
            };
            let sha1 = hex::encode(digest);
            if size == expected.size && sha1 == expected.sha1.to_string() {
                return Ok(path);
            }
            let _ = fs::remove_file(&path);
            let why = if size == expected.size {
                format!("sha1 is {sha1}, the manifest says {}", expected.sha1)
            } else {
                format!("{size} bytes arrived, the manifest says {}", expected.size)
            };
            tracing::warn!(image = %uuid, attempt, %why, "downloaded file is not the image's");
            last = Some(why);
        }
        Err(ImageError::Source {
            code: "Download",
            message: format!(
                "image {uuid} file from \"{}\" is corrupt: {}",
                found.source.url,
                last.unwrap_or_default()
            ),
        })
    }
}

/// Brings the download at `path` to `size` bytes (resuming what is there),
/// returning the bytes it holds and their sha1. Transfers cut short are
/// resumed up to three times; a server that ignores `Range` sends it all.
fn fetch(
    client: &Client,
    uuid: &str,
    path: &std::path::Path,
    size: u64,
    progress: &mut dyn Progress,
) -> Result<(u64, [u8; 20]), ImageError> {
    let mut sha1 = Sha1::new();
    let mut have = rehash(path, &mut sha1)?;
    if have > size {
        fs::remove_file(path).map_err(ImageError::io("remove", path))?;
        sha1 = Sha1::new();
        have = 0;
    }
    progress.begin(&format!("Download {uuid}"), size, have);
    let mut cuts = 0;
    let mut buf = vec![0u8; 1 << 20];
    while have < size {
        let download = client.file(uuid, have).map_err(|e| ImageError::Source {
            code: "Download",
            message: format!("image {uuid} could not be downloaded: {e}"),
        })?;
        let out = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(ImageError::io("open", path))?;
        if !download.resumed && have > 0 {
            // The whole file is coming again.
            out.set_len(0).map_err(ImageError::io("truncate", path))?;
            sha1 = Sha1::new();
            have = 0;
            progress.begin(&format!("Download {uuid}"), size, 0);
        }
        let mut out = io::BufWriter::with_capacity(1 << 20, out);
        io::Seek::seek(&mut out, io::SeekFrom::Start(have))
            .map_err(ImageError::io("seek", path))?;
        let mut body = download.reader;
        let cut = loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                return Err(interrupted());
            }
            match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    out.write_all(&buf[..n])
                        .map_err(ImageError::io("write", path))?;
                    sha1.update(&buf[..n]);
                    have += n as u64;
                    progress.advance(n as u64);
                    if have > size {
                        break None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        out.flush().map_err(ImageError::io("write", path))?;
        match cut {
            None => break,
            Some(e) if cuts < 3 => {
                cuts += 1;
                tracing::warn!(image = %uuid, at = have, error = %e, "transfer cut short: resuming");
            }
            Some(e) => {
                return Err(ImageError::Source {
                    code: "Download",
                    message: format!("image {uuid} download failed at byte {have}: {e}"),
                });
            }
        }
    }
    Ok((have, sha1.finalize().into()))
}

/// Hashes what a download already holds; 0 when there is none.
fn rehash(path: &std::path::Path, sha1: &mut Sha1) -> Result<u64, ImageError> {
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(ImageError::io("open", path)(e)),
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf).map_err(ImageError::io("read", path))?;
        if got == 0 {
            return Ok(n);
        }
        sha1.update(&buf[..got]);
        n += got as u64;
    }
}
