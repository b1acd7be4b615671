//! imgadm's image sources, kept in `/var/imgadm/imgadm.conf` as SmartOS
//! keeps them: `{"sources": [{"url": "...", "type": "imgapi"}], ...}`.
//! Other members of that file are kept as they are. With no file, or no
//! `sources` member, the node has SmartOS's default source; an empty list
//! is no source at all.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::ImageError;
use crate::fsutil::write_atomic;
use crate::paths::Paths;

/// The source a node has until its operator says otherwise.
pub const DEFAULT_SOURCE: &str = "https://images.smartos.org";

/// What kind of server a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceType {
    /// An IMGAPI server (SmartOS's image servers, or another basalt node).
    Imgapi,
    /// A Docker registry: kept in the list, but this node pulls nothing
    /// from registries (OCI images are imported from layouts on disk).
    Docker,
}

impl SourceType {
    /// The type's name in the configuration and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Imgapi => "imgapi",
            SourceType::Docker => "docker",
        }
    }

    /// Parses a type name (`dsapi`, SmartOS's retired server, is refused).
    pub fn parse(s: &str) -> Option<SourceType> {
        match s {
            "imgapi" => Some(SourceType::Imgapi),
            "docker" => Some(SourceType::Docker),
            _ => None,
        }
    }
}

/// One image source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its URL, as the operator gave it (messages echo it: scripts match
    /// what they passed).
    pub url: String,
    /// What it is.
    pub kind: SourceType,
    /// Whether a bad TLS certificate is accepted.
    pub insecure: bool,
}

impl Source {
    /// A source of `kind` at `url`.
    pub fn new(url: &str, kind: SourceType) -> Source {
        Source {
            url: url.trim().to_owned(),
            kind,
            insecure: false,
        }
    }

    /// Whether this source is at `url` (a trailing `/` aside).
    pub fn is_at(&self, url: &str) -> bool {
        self.url.trim_end_matches('/') == url.trim().trim_end_matches('/')
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("url".into(), json!(self.url));
        m.insert("type".into(), json!(self.kind.as_str()));
        if self.insecure {
            m.insert("insecure".into(), json!(true));
        }
        Value::Object(m)
    }
}

/// Whether a change to the list changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It did; the source as it was added or removed.
    Done(Source),
    /// It did not (already there, or not there to delete).
    Unchanged(Option<Source>),
}

/// The node's image sources.
pub struct Sources {
    /// Held by one that changes them, until it is dropped: two changes
    /// never interleave their read and write.
    _lock: Option<crate::fsutil::FileLock>,
    path: PathBuf,
    /// The file's other members.
    rest: Map<String, Value>,
    list: Vec<Source>,
}

impl Sources {
    /// Reads the node's sources, to change them: the configuration's lock
    /// is held until the value is dropped.
    pub fn edit(paths: &Paths) -> Result<Sources, ImageError> {
        let lock_path = paths.imgadm().join("imgadm.conf.lock");
        let lock =
            crate::fsutil::wait_lock(&lock_path).map_err(ImageError::io("lock", &lock_path))?;
        let mut sources = Sources::load(paths)?;
        sources._lock = Some(lock);
        Ok(sources)
    }

    /// Reads the node's sources; a corrupt configuration is named.
    pub fn load(paths: &Paths) -> Result<Sources, ImageError> {
        let path = paths.imgadm().join("imgadm.conf");
        let corrupt = |reason: String| ImageError::Record {
            path: path.clone(),
            reason,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from("{}"),
            Err(e) => return Err(ImageError::io("read", &path)(e)),
        };
        let Value::Object(mut rest) =
            serde_json::from_str::<Value>(&text).map_err(|e| corrupt(e.to_string()))?
        else {
            return Err(corrupt("not a JSON object".into()));
        };
        let list = match rest.remove("sources") {
            None => vec![Source::new(DEFAULT_SOURCE, SourceType::Imgapi)],
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| parse_source(s).ok_or_else(|| corrupt(format!("invalid source {s}"))))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(corrupt(format!("\"sources\" is not an array: {other}"))),
        };
        Ok(Sources {
            _lock: None,
            path,
            rest,
            list,
        })
    }

    /// The sources, in the order they are asked.
    pub fn list(&self) -> &[Source] {
        &self.list
    }

    /// Appends a source unless one with its URL is there. A URL already
    /// there with another type is an error, as on SmartOS.
    pub fn add(&mut self, source: Source) -> Result<Change, ImageError> {
        if let Some(have) = self.list.iter().find(|s| s.is_at(&source.url)) {
            if have.kind != source.kind {
                return Err(ImageError::Source {
                    code: "InvalidArgument",
                    message: format!(
                        "image source \"{}\" is already configured with type \"{}\"",
                        have.url,
                        have.kind.as_str()
                    ),
                });
            }
            return Ok(Change::Unchanged(Some(have.clone())));
        }
        self.list.push(source.clone());
        self.save()?;
        Ok(Change::Done(source))
    }

    /// Removes the source with `url`.
    pub fn delete(&mut self, url: &str) -> Result<Change, ImageError> {
        let Some(i) = self.list.iter().position(|s| s.is_at(url)) else {
            return Ok(Change::Unchanged(None));
        };
        let gone = self.list.remove(i);
        self.save()?;
        Ok(Change::Done(gone))
    }

    /// Replaces the whole list (`imgadm sources -e`).
    pub fn replace(&mut self, list: Vec<Source>) -> Result<(), ImageError> {
        self.list = list;
        self.save()
    }

    fn save(&self) -> Result<(), ImageError> {
        let mut m = Map::new();
        m.insert(
            "sources".into(),
            Value::Array(self.list.iter().map(Source::to_value).collect()),
        );
        for (k, v) in &self.rest {
            m.insert(k.clone(), v.clone());
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
        text.push('\n');
        write_atomic(&self.path, text.as_bytes(), 0o644)
            .map_err(ImageError::io("write", &self.path))
    }
}

fn parse_source(v: &Value) -> Option<Source> {
    let url = v.get("url")?.as_str()?;
    let kind = match v.get("type") {
        None => SourceType::Imgapi,
        Some(t) => SourceType::parse(t.as_str()?)?,
    };
    let mut s = Source::new(url, kind);
    s.insecure = v.get("insecure").and_then(Value::as_bool).unwrap_or(false);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let p = Paths::new(dir.path());
        (dir, p)
    }

    #[test]
    fn a_node_without_configuration_has_the_default_source() {
        let (_d, p) = paths();
        let s = Sources::load(&p).unwrap();
        assert_eq!(s.list(), [Source::new(DEFAULT_SOURCE, SourceType::Imgapi)]);
    }

    #[test]
    fn adding_and_deleting_persist_and_keep_other_members() {
        let (_d, p) = paths();
        std::fs::create_dir_all(p.imgadm()).unwrap();
        std::fs::write(
            p.imgadm().join("imgadm.conf"),
            r#"{"upgradedToVer": "3.0.0", "sources": []}"#,
        )
        .unwrap();
        let mut s = Sources::load(&p).unwrap();
        assert!(s.list().is_empty());
        let a = Source::new("http://192.0.2.1:9000/", SourceType::Imgapi);
        assert_eq!(s.add(a.clone()).unwrap(), Change::Done(a.clone()));
        assert!(a.is_at("http://192.0.2.1:9000"));
        assert_eq!(
            s.add(a.clone()).unwrap(),
            Change::Unchanged(Some(a.clone()))
        );
        let docker = Source::new("http://192.0.2.1:9000", SourceType::Docker);
        assert_eq!(s.add(docker).unwrap_err().code(), "InvalidArgument");
        let again = Sources::load(&p).unwrap();
        assert_eq!(again.list(), std::slice::from_ref(&a));
        let text = std::fs::read_to_string(p.imgadm().join("imgadm.conf")).unwrap();
        assert!(text.contains("upgradedToVer"), "{text}");
        let mut s = again;
        assert_eq!(
            s.delete("http://192.0.2.1:9000").unwrap(),
            Change::Done(a.clone())
        );
        assert_eq!(
            s.delete("http://192.0.2.1:9000").unwrap(),
            Change::Unchanged(None)
        );
        assert!(Sources::load(&p).unwrap().list().is_empty());
    }

    #[test]
    fn a_corrupt_configuration_is_named() {
        let (_d, p) = paths();
        std::fs::create_dir_all(p.imgadm()).unwrap();
        std::fs::write(p.imgadm().join("imgadm.conf"), "{not json").unwrap();
        let e = Sources::load(&p).err().unwrap();
        assert!(e.to_string().contains("imgadm.conf"), "{e}");
    }
}
