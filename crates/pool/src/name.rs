//! Dataset and snapshot names in ZFS's grammar: `pool/a/b` and
//! `pool/a/b@snap`. Components are 1–255 characters of
//! `[A-Za-z0-9_.:-]`, not `.` or `..`; names start with the pool's name.

use std::fmt;

/// A failure to parse a dataset or snapshot name; messages follow ZFS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A character ZFS does not allow.
    #[error("invalid character '{1}' in name '{0}'")]
    InvalidCharacter(String, char),
    /// An empty component (`a//b`, trailing `/`).
    #[error("empty component in name '{0}'")]
    EmptyComponent(String),
    /// A component that is `.` or `..`, or longer than 255.
    #[error("invalid component in name '{0}'")]
    BadComponent(String),
    /// A snapshot name where a dataset was expected, or the reverse.
    #[error("'{0}' is not a {1}")]
    WrongKind(String, &'static str),
}

fn check_component(name: &str, c: &str) -> Result<(), NameError> {
    if c.is_empty() {
        return Err(NameError::EmptyComponent(name.to_owned()));
    }
    if c == "." || c == ".." || c.len() > 255 {
        return Err(NameError::BadComponent(name.to_owned()));
    }
    match c
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | ':' | '-')))
    {
        Some(bad) => Err(NameError::InvalidCharacter(name.to_owned(), bad)),
        None => Ok(()),
    }
}

/// A dataset: `pool` or `pool/a/b`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetName(String);

impl DatasetName {
    /// Parses a dataset name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.contains('@') {
            return Err(NameError::WrongKind(s.to_owned(), "filesystem or volume"));
        }
        for c in s.split('/') {
            check_component(s, c)?;
        }
        Ok(DatasetName(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pool (first component).
    pub fn pool(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// The path below the pool (`a/b` for `pool/a/b`; empty for the pool).
    pub fn relative(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, r)| r)
    }

    /// The parent dataset, unless this is the pool itself.
    pub fn parent(&self) -> Option<DatasetName> {
        self.0
            .rsplit_once('/')
            .map(|(p, _)| DatasetName(p.to_owned()))
    }

    /// Whether `other` is this dataset or below it.
    pub fn contains(&self, other: &DatasetName) -> bool {
        other.0 == self.0 || other.0.starts_with(&format!("{}/", self.0))
    }

    /// The snapshot `self@snap`.
    pub fn snapshot(&self, snap: &str) -> Result<SnapshotName, NameError> {
        SnapshotName::parse(&format!("{}@{snap}", self.0))
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A snapshot: `pool/a/b@snap`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotName {
    dataset: DatasetName,
    snap: String,
}

impl SnapshotName {
    /// Parses a snapshot name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (ds, snap) = s
            .split_once('@')
            .ok_or_else(|| NameError::WrongKind(s.to_owned(), "snapshot"))?;
        let dataset = DatasetName::parse(ds)?;
        check_component(s, snap).map_err(|e| match e {
            NameError::InvalidCharacter(_, '@') => NameError::InvalidCharacter(s.to_owned(), '@'),
            other => other,
        })?;
        Ok(SnapshotName {
            dataset,
            snap: snap.to_owned(),
        })
    }

    /// The dataset it is a snapshot of.
    pub fn dataset(&self) -> &DatasetName {
        &self.dataset
    }

    /// The part after `@`.
    pub fn snap(&self) -> &str {
        &self.snap
    }
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.dataset, self.snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets() {
        let d = DatasetName::parse("zones/abc/data").unwrap();
        assert_eq!(d.pool(), "zones");
        assert_eq!(d.relative(), "abc/data");
        assert_eq!(d.parent().unwrap().as_str(), "zones/abc");
        assert_eq!(DatasetName::parse("zones").unwrap().relative(), "");
        assert!(DatasetName::parse("zones").unwrap().parent().is_none());
        assert!(DatasetName::parse("zones").unwrap().contains(&d));
        assert!(!DatasetName::parse("zones/ab").unwrap().contains(&d));
        assert_eq!(
            DatasetName::parse("zones/a b").unwrap_err().to_string(),
            "invalid character ' ' in name 'zones/a b'"
        );
        assert!(DatasetName::parse("zones//a").is_err());
        assert!(DatasetName::parse("zones/..").is_err());
        assert!(DatasetName::parse("zones/a@b").is_err());
        assert!(DatasetName::parse("").is_err());
    }

    #[test]
    fn snapshots() {
        let s = SnapshotName::parse("zones/img@final").unwrap();
        assert_eq!(s.dataset().as_str(), "zones/img");
        assert_eq!(s.snap(), "final");
        assert_eq!(s.to_string(), "zones/img@final");
        assert!(SnapshotName::parse("zones/img").is_err());
        assert!(SnapshotName::parse("zones/img@").is_err());
        assert!(SnapshotName::parse("zones/img@a@b").is_err());
        assert!(SnapshotName::parse("zones/img@vmsnap-a%b").is_err());
    }
}
