//! Choosing the one manifest to read, by name and by platform (pure).
//!
//! A layout's `index.json` may list several manifests; a name given by
//! the caller picks one by its `org.opencontainers.image.ref.name`
//! annotation, its `io.containerd.image.name` annotation or a docker
//! repository tag, compared as docker compares references (`alpine` is
//! `docker.io/library/alpine:latest`). Without a name, one manifest is
//! taken, several are an error listing them. An image index stands for
//! its linux/amd64 manifest.

use super::OciError;
use super::spec::{Descriptor, IMAGE_NAME, Platform, REF_NAME};

/// A manifest (or image index) a layout offers, with the names it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    pub desc: Descriptor,
    pub names: Vec<String>,
}

impl Candidate {
    /// A descriptor of `index.json` with the names its annotations give.
    pub fn from_index(desc: Descriptor) -> Candidate {
        let names = [IMAGE_NAME, REF_NAME]
            .iter()
            .filter_map(|k| desc.annotations.get(*k).cloned())
            .collect();
        Candidate { desc, names }
    }

    /// How it is listed in errors: its names, digest and platform.
    fn label(&self) -> String {
        let mut label = match self.names.first() {
            Some(name) => format!("{name} ({})", self.desc.digest),
            None => self.desc.digest.to_string(),
        };
        if let Some(p) = &self.desc.platform {
            label.push_str(&format!(" [{p}]"));
        }
        label
    }
}

/// The candidate `reference` names, else the only one there is; among
/// several, those for another platform are left out.
pub(super) fn choose(
    candidates: Vec<Candidate>,
    reference: Option<&str>,
) -> Result<(Candidate, Option<String>), OciError> {
    let available = || candidates.iter().map(Candidate::label).collect::<Vec<_>>();
    let mut named: Vec<(Candidate, Option<String>)> = match reference {
        Some(r) => candidates
            .iter()
            .filter_map(|c| {
                let name = c.names.iter().find(|n| same_reference(r, n))?;
                Some((c.clone(), Some(name.clone())))
            })
            .collect(),
        None => candidates
            .iter()
            .map(|c| (c.clone(), c.names.first().cloned()))
            .collect(),
    };
    if named.is_empty() {
        return Err(match reference {
            Some(r) => OciError::NoSuchReference {
                reference: r.to_owned(),
                available: available(),
            },
            None => OciError::Invalid {
                file: "index.json".into(),
                reason: "it lists no manifest".into(),
            },
        });
    }
    if named.len() > 1 {
        named.retain(|(c, _)| c.desc.platform.as_ref().is_none_or(Platform::is_ours));
    }
    match named.len() {
        1 => Ok(named.remove(0)),
        _ => Err(OciError::Ambiguous {
            available: available(),
        }),
    }
}

/// The entry of an image index for linux/amd64 (the first, if several).
pub(super) fn platform(index: &str, entries: Vec<Descriptor>) -> Result<Descriptor, OciError> {
    let listed = || {
        entries
            .iter()
            .map(|d| match &d.platform {
                Some(p) => p.to_string(),
                None => format!("{} (no platform)", d.digest),
            })
            .collect::<Vec<_>>()
    };
    if let Some(found) = entries
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(Platform::is_ours))
    {
        return Ok(found.clone());
    }
    Err(OciError::NoPlatform {
        index: index.to_owned(),
        available: listed(),
    })
}

/// Whether two names are the same image: equal as written, or as docker
/// reads them.
pub(super) fn same_reference(a: &str, b: &str) -> bool {
    a == b || normalize(a) == normalize(b)
}

/// A docker reference in full: registry (`docker.io` by default, with
/// `library/` for its official images), repository, and tag (`latest` when
/// neither tag nor digest is given).
pub(super) fn normalize(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let last = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last..].rfind(':') {
        Some(i) => (&name[..last + i], Some(&name[last + i + 1..])),
        None => (name, None),
    };
    let (domain, path) = match repo.split_once('/') {
        Some((d, p)) if d.contains(['.', ':']) || d == "localhost" => (d, p.to_owned()),
        _ => ("docker.io", repo.to_owned()),
    };
    let domain = match domain {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        d => d,
    };
    let path = match domain == "docker.io" && !path.contains('/') {
        true => format!("library/{path}"),
        false => path,
    };
    let mut out = format!("{domain}/{path}");
    match (tag, digest) {
        (Some(t), _) => out.push_str(&format!(":{t}")),
        (None, None) => out.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        out.push_str(&format!("@{d}"));
    }
    out
}
