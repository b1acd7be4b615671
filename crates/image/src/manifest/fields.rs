//! One check per manifest field, each pushing imgmanifest's problem and
//! returning the typed value when the field is good.

use std::str::FromStr;

use serde_json::{Map, Value};

use basalt_model::Mib;

use super::MAX_FILE_SIZE;
use super::error::Problem;
use super::js;
use super::requirements::{self, Requirements};
use super::types::{
    AccountUuid, Compression, ImageFile, ImageOs, ImageState, ImageType, Sha1Digest,
};

const MAX_URL_LENGTH: usize = 1024;
const MAX_NAME_LENGTH: usize = 1024;
const MAX_VERSION_LENGTH: usize = 512;
const MAX_DESCRIPTION_LENGTH: usize = 10 * 1024;
const MAX_BILLING_TAG_LENGTH: usize = 128;
const MAX_TAGS_LENGTH: usize = 100 * 1024;

/// Walks one manifest object, collecting every problem.
pub(crate) struct Checker<'a> {
    map: &'a Map<String, Value>,
    pub(crate) problems: Vec<Problem>,
}

fn invalid(field: &str, message: impl Into<String>) -> Problem {
    Problem::invalid(field, Some(message.into()))
}

impl<'a> Checker<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Checker {
            map,
            problems: Vec::new(),
        }
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field)
    }

    fn required(&mut self, field: &str) -> Option<&'a Value> {
        let v = self.map.get(field);
        if v.is_none() {
            self.problems.push(Problem::missing(field));
        }
        v
    }

    /// `v`: a positive integer.
    pub(crate) fn v(&mut self) -> Option<u32> {
        let v = self.required("v")?;
        let n = js::positive_int(v).and_then(|n| u32::try_from(n).ok());
        if n.is_none() {
            self.problems
                .push(invalid("v", "\"v\" must be a positive integer"));
        }
        n
    }

    /// A lowercase UUID field (`uuid`, `owner`, `origin`); `Invalid` without
    /// a message when it is not one.
    pub(crate) fn uuid<T: FromStr>(&mut self, field: &str, required: bool) -> Option<T> {
        let v = if required {
            self.required(field)?
        } else {
            self.get(field)?
        };
        let parsed = v.as_str().and_then(|s| s.parse().ok());
        if parsed.is_none() {
            self.problems.push(Problem::invalid(field, None));
        }
        parsed
    }

    /// `name`: at most 1024 characters of `[A-Za-z0-9._/ -]`.
    pub(crate) fn name(&mut self) -> Option<String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._/ -".contains(c);
        let chars = "image name has invalid characters (only alpha-numeric characters \
                     and \" \", \".\", \"-\", \"_\" and \"/\" are allowed)";
        self.text("name", MAX_NAME_LENGTH, allowed, chars)
    }

    /// `version`: at most 512 characters of `[A-Za-z0-9._/+-]`.
    pub(crate) fn version(&mut self) -> Option<String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._/+-".contains(c);
        let chars = "image version has invalid characters (only alpha-numeric characters \
                     and \".\", \"-\", \"_\" and \"/\" are allowed)";
        self.text("version", MAX_VERSION_LENGTH, allowed, chars)
    }

    fn text(
        &mut self,
        field: &str,
        max: usize,
        allowed: impl Fn(char) -> bool,
        chars_message: &str,
    ) -> Option<String> {
        let v = self.required(field)?;
        let problem = match v.as_str() {
            None => format!("image {field} must be a string"),
            Some(s) if js::len(s) > max => {
                format!("image {field} is too long, max {max} characters")
            }
            Some(s) if s.is_empty() || !s.chars().all(&allowed) => chars_message.to_owned(),
            Some(s) => return Some(s.to_owned()),
        };
        self.problems.push(invalid(field, problem));
        None
    }

    /// `type`: one of imgadm's image types.
    pub(crate) fn image_type(&mut self) -> Option<ImageType> {
        let v = self.required("type")?;
        let t = v.as_str().and_then(ImageType::parse);
        if t.is_none() {
            self.problems.push(invalid(
                "type",
                format!(
                    "invalid image type, \"{}\", must be one of: {}",
                    js::s(v),
                    ImageType::list()
                ),
            ));
        }
        t
    }

    /// `os`: one of imgadm's operating systems.
    pub(crate) fn os(&mut self) -> Option<ImageOs> {
        let v = self.required("os")?;
        let os = v.as_str().and_then(ImageOs::parse);
        if os.is_none() {
            self.problems.push(invalid(
                "os",
                format!(
                    "invalid image os, \"{}\", must be one of: {}",
                    js::s(v),
                    ImageOs::list()
                ),
            ));
        }
        os
    }

    /// An optional string with no further rule (`urn`).
    pub(crate) fn string(&mut self, field: &str) -> Option<String> {
        let v = self.get(field)?;
        let s = v.as_str().map(str::to_owned);
        if s.is_none() {
            self.problems.push(Problem::invalid(field, None));
        }
        s
    }

    /// `description`: at most 10 KiB characters.
    pub(crate) fn description(&mut self) -> Option<String> {
        let v = self.get("description")?;
        let problem = match v.as_str() {
            None => "image description must be a string".to_owned(),
            Some(s) if js::len(s) > MAX_DESCRIPTION_LENGTH => {
                format!("image description is too long, max {MAX_DESCRIPTION_LENGTH} characters")
            }
            Some(s) => return Some(s.to_owned()),
        };
        self.problems.push(invalid("description", problem));
        None
    }

    /// `homepage`, `eula`: an http or https URL of at most 1024 characters.
    pub(crate) fn url(&mut self, field: &str, label: &str) -> Option<String> {
        let v = self.get(field)?;
        let is_http = |s: &str| {
            let lower = s.to_ascii_lowercase();
            lower.starts_with("http:") || lower.starts_with("https:")
        };
        let problem = match v.as_str() {
            Some(s) if !is_http(s) => format!("invalid image {label} URL protocol"),
            None => format!("invalid image {label} URL protocol"),
            Some(s) if js::len(s) > MAX_URL_LENGTH => {
                format!("image {label} URL is too long (max {MAX_URL_LENGTH} characters)")
            }
            Some(s) => return Some(s.to_owned()),
        };
        self.problems.push(invalid(field, problem));
        None
    }

    /// A boolean field; `"true"`/`"false"` are read as booleans, as imgadm
    /// does. `explain` adds imgmanifest's message (for `icon`,
    /// `generate_passwords`).
    pub(crate) fn flag(&mut self, field: &str, explain: bool) -> Option<bool> {
        let v = self.get(field)?;
        let b = js::boolean(v);
        if b.is_none() {
            let message = explain.then(|| {
                format!(
                    "invalid image \"{field}\" (not an accepted boolean value): {}",
                    js::j(v)
                )
            });
            self.problems.push(Problem::invalid(field, message));
        }
        b
    }

    /// `published_at`: `YYYY-MM-DDTHH:MM:SS(.mmm)?Z`; required when
    /// `activated` is true.
    pub(crate) fn published_at(&mut self, activated: Option<bool>) -> Option<String> {
        let Some(v) = self.get("published_at") else {
            if activated == Some(true) {
                self.problems.push(Problem {
                    message: Some("if activated is \"true\" published_at must be present".into()),
                    ..Problem::missing("published_at")
                });
            }
            return None;
        };
        match v.as_str() {
            Some(s) if is_published_at(s) => Some(s.to_owned()),
            _ => {
                self.problems.push(invalid(
                    "published_at",
                    "published_at date not in \"YYYY-MM-DDTHH:MM:SS(.SSS)Z\" format",
                ));
                None
            }
        }
    }

    /// `state`: one of the image states; `Invalid` without a message.
    pub(crate) fn state(&mut self) -> Option<ImageState> {
        let v = self.get("state")?;
        let s = v.as_str().and_then(ImageState::parse);
        if s.is_none() {
            self.problems.push(Problem::invalid("state", None));
        }
        s
    }

    /// `error`: an object.
    pub(crate) fn error(&mut self) -> Option<Map<String, Value>> {
        let v = self.get("error")?;
        let o = v.as_object().cloned();
        if o.is_none() {
            self.problems.push(invalid(
                "error",
                format!("invalid image \"error\" (not an object): {}", js::j(v)),
            ));
        }
        o
    }

    /// `files`: exactly one file with sha1, size and compression; required
    /// when `activated` is true.
    pub(crate) fn files(&mut self, activated: Option<bool>) -> Option<Vec<ImageFile>> {
        let Some(v) = self.get("files") else {
            if activated == Some(true) {
                self.problems.push(Problem {
                    message: Some("if activated is \"true\" files must be present".into()),
                    ..Problem::missing("files")
                });
            }
            return None;
        };
        let problem = match v.as_array().map(Vec::as_slice) {
            None => format!("invalid image \"files\" (not an array): {}", js::s(v)),
            Some([]) => "invalid image \"files\": no file (exactly one is required)".into(),
            Some([file]) => return self.file(file).map(|f| vec![f]),
            Some(_) => "invalid image \"files\": too many files".into(),
        };
        self.problems.push(invalid("files", problem));
        None
    }

    fn file(&mut self, v: &Value) -> Option<ImageFile> {
        let Some(o) = v.as_object() else {
            self.problems.push(invalid(
                "files",
                format!(
                    "invalid image \"files\": file is not an object: {}",
                    js::j(v)
                ),
            ));
            return None;
        };
        let before = self.problems.len();
        let sha1 = self.file_key(o, "sha1", |s| {
            s.as_str().and_then(Sha1Digest::parse).ok_or_else(|| {
                format!(
                    "invalid sha1 \"{}\" (must be 40 hexadecimal digits)",
                    js::s(s)
                )
            })
        });
        let size = self.file_key(o, "size", |s| match js::positive_int(s) {
            Some(n) if n <= MAX_FILE_SIZE => Ok(n),
            Some(n) => Err(format!(
                "size {n} is larger than the maximum of {MAX_FILE_SIZE} bytes (20 GiB)"
            )),
            None => Err(format!(
                "invalid size {} (must be a positive integer)",
                js::j(s)
            )),
        });
        let compression = self.file_key(o, "compression", |c| {
            c.as_str().and_then(Compression::parse).ok_or_else(|| {
                format!(
                    "invalid compression \"{}\" (must be one of {})",
                    js::s(c),
                    Compression::list()
                )
            })
        });
        let extra = o
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "sha1" | "size" | "compression"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match (sha1, size, compression) {
            (Some(sha1), Some(size), Some(compression)) if self.problems.len() == before => {
                Some(ImageFile {
                    sha1,
                    size,
                    compression,
                    extra,
                })
            }
            _ => None,
        }
    }

    /// One key of `files[0]`: missing when absent or falsy (imgmanifest's
    /// test), else read by `read`, whose error completes the message.
    fn file_key<T>(
        &mut self,
        file: &Map<String, Value>,
        key: &str,
        read: impl Fn(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let message = match file.get(key).filter(|v| !is_falsy(v)).map(read) {
            None => format!("file missing \"{key}\" field"),
            Some(Ok(t)) => return Some(t),
            Some(Err(m)) => m,
        };
        self.problems.push(invalid(
            "files",
            format!("invalid image \"files\": {message}"),
        ));
        None
    }

    /// `acl`: an array of account UUIDs; the first bad item is reported.
    pub(crate) fn acl(&mut self) -> Option<Vec<AccountUuid>> {
        let v = self.get("acl")?;
        let Some(items) = v.as_array() else {
            self.problems.push(invalid(
                "acl",
                format!("invalid image \"acl\" (not an array): {}", js::s(v)),
            ));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str().and_then(|s| s.parse().ok()) {
                Some(u) => out.push(u),
                None => {
                    self.problems.push(invalid(
                        "acl",
                        format!(
                            "invalid image \"acl\" (item {i} is not a UUID): {}",
                            js::s(item)
                        ),
                    ));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// `requirements`: see [`requirements::check`].
    pub(crate) fn requirements(&mut self) -> Option<Requirements> {
        let v = self.get("requirements")?;
        requirements::check(v, &mut self.problems)
    }

    /// `users`: objects with exactly one key, `name` (a string).
    pub(crate) fn users(&mut self) -> Option<Vec<String>> {
        let v = self.get("users")?;
        let read = |item: &Value| {
            let o = item.as_object().filter(|o| o.len() == 1)?;
            o.get("name")?.as_str().map(str::to_owned)
        };
        self.array_of("users", v, read, |item| {
            format!("invalid image \"users\" entry: {}", js::j(item))
        })
    }

    /// `billing_tags`: strings of at most 128 characters.
    pub(crate) fn billing_tags(&mut self) -> Option<Vec<String>> {
        let v = self.get("billing_tags")?;
        let read = |item: &Value| {
            item.as_str()
                .filter(|s| js::len(s) <= MAX_BILLING_TAG_LENGTH)
                .map(str::to_owned)
        };
        self.array_of("billing_tags", v, read, |item| {
            format!("invalid image \"billing_tags\" entry: {}", js::s(item))
        })
    }

    /// `channels`: strings.
    pub(crate) fn channels(&mut self) -> Option<Vec<String>> {
        let v = self.get("channels")?;
        let read = |item: &Value| item.as_str().map(str::to_owned);
        self.array_of("channels", v, read, |item| {
            format!("invalid image \"channels\" entry: {}", js::j(item))
        })
    }

    /// `inherited_directories`: strings, only for a zone-dataset image.
    pub(crate) fn inherited_directories(&mut self, t: Option<ImageType>) -> Option<Vec<String>> {
        let v = self.get("inherited_directories")?;
        if t != Some(ImageType::ZoneDataset) {
            self.problems.push(invalid(
                "inherited_directories",
                format!(
                    "invalid image \"inherited_directories\" (only valid for a \
                     type:zone-dataset image): {}",
                    js::j(v)
                ),
            ));
            return None;
        }
        let read = |item: &Value| item.as_str().map(str::to_owned);
        self.array_of("inherited_directories", v, read, |item| {
            format!(
                "invalid image \"inherited_directories\" entry: {}",
                js::j(item)
            )
        })
    }

    fn array_of<T>(
        &mut self,
        field: &str,
        v: &Value,
        read: impl Fn(&Value) -> Option<T>,
        bad_entry: impl Fn(&Value) -> String,
    ) -> Option<Vec<T>> {
        let Some(items) = v.as_array() else {
            let shown = if field == "billing_tags" {
                js::s(v)
            } else {
                js::j(v)
            };
            self.problems.push(invalid(
                field,
                format!("invalid image \"{field}\" (not an array): {shown}"),
            ));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match read(item) {
                Some(t) => out.push(t),
                None => self.problems.push(invalid(field, bad_entry(item))),
            }
        }
        (out.len() == items.len()).then_some(out)
    }

    /// `traits`: an object whose values are strings, booleans or arrays.
    pub(crate) fn traits(&mut self) -> Option<Map<String, Value>> {
        let v = self.get("traits")?;
        let Some(o) = v.as_object() else {
            self.problems.push(invalid(
                "traits",
                format!("invalid image \"traits\" (not an object): {}", js::j(v)),
            ));
            return None;
        };
        let before = self.problems.len();
        for (k, val) in o {
            if !matches!(val, Value::String(_) | Value::Bool(_) | Value::Array(_)) {
                self.problems.push(invalid(
                    "traits",
                    format!("invalid image \"traits\" entry: ({k}, {})", js::j(val)),
                ));
            }
        }
        (self.problems.len() == before).then(|| o.clone())
    }

    /// `tags`: an object of at most 100 KiB as JSON.
    pub(crate) fn tags(&mut self) -> Option<Map<String, Value>> {
        let v = self.get("tags")?;
        let Some(o) = v.as_object() else {
            self.problems.push(invalid(
                "tags",
                format!("invalid image \"tags\" (not an object): {}", js::j(v)),
            ));
            return None;
        };
        let len = js::len(&js::j(v));
        if len > MAX_TAGS_LENGTH {
            self.problems.push(invalid(
                "tags",
                format!(
                    "image \"tags\" object is too big: {len} characters (max {MAX_TAGS_LENGTH})"
                ),
            ));
            return None;
        }
        Some(o.clone())
    }

    /// `nic_driver`, `disk_driver`, `cpu_type`: strings, only for a zvol.
    pub(crate) fn hvm_string(&mut self, field: &str, t: Option<ImageType>) -> Option<String> {
        let v = self.get(field)?;
        let problem = match v.as_str() {
            _ if t.is_some() && t != Some(ImageType::Zvol) => {
                "(cannot have a value when image type is not zvol)"
            }
            None => "(must be a string)",
            Some(s) => return Some(s.to_owned()),
        };
        self.problems.push(invalid(
            field,
            format!("invalid image {field}: \"{}\" {problem}", js::s(v)),
        ));
        None
    }

    /// `image_size` (MiB): a positive integer, required for a zvol and only
    /// valid for one.
    pub(crate) fn image_size(&mut self, t: Option<ImageType>) -> Option<Mib> {
        let Some(v) = self.get("image_size") else {
            if t == Some(ImageType::Zvol) {
                self.problems.push(Problem::missing("image_size"));
            }
            return None;
        };
        let problem = match js::positive_int(v) {
            _ if t.is_some() && t != Some(ImageType::Zvol) => {
                "(cannot have a value when image type is not zvol)"
            }
            None => "(must be a positive integer)",
            Some(n) => return Some(Mib(n)),
        };
        self.problems.push(invalid(
            "image_size",
            format!("invalid image image_size: \"{}\" {problem}", js::s(v)),
        ));
        None
    }
}

/// JavaScript's falsy values (the test imgmanifest applies to `sha1`, `size`
/// and `compression` before calling them missing).
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ`, digits where the
/// pattern has them (imgmanifest checks the shape, not the calendar).
pub fn is_published_at(s: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let b = s.as_bytes();
    let shape_ok = |bytes: &[u8], shape: &[u8]| {
        bytes.len() == shape.len()
            && bytes.iter().zip(shape).all(|(&c, &p)| match p {
                b'd' => c.is_ascii_digit(),
                other => c == other,
            })
    };
    match b.len() {
        20 => shape_ok(&b[..19], SHAPE) && b[19] == b'Z',
        24 => shape_ok(&b[..19], SHAPE) && shape_ok(&b[19..23], b".ddd") && b[23] == b'Z',
        _ => false,
    }
}
