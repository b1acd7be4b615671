//! `key=value` filters of `vmadm list` and `vmadm lookup`.
//!
//! Matching follows vmadm's `matcher()`: the VM value is read by the key's
//! path and turned into text with JavaScript's `toString()`
//! ([`js_string`]); a value starting with `~` is a case-insensitive,
//! unanchored regular expression searched in that text, anything else must
//! equal it exactly. A `*` index matches when any element matches. All
//! filters must match.
//!
//! Where the reference is silent, basalt decides:
//!
//! - **Missing values.** As on SmartOS, a VM that lacks the key (or holds
//!   `null` there) matches no filter on it, not even `alias=`; `alias=`
//!   finds only VMs whose alias is the empty string.
//! - **Regex dialect.** Patterns use the `regex` crate's syntax, which
//!   covers the JavaScript patterns operators write (classes, anchors,
//!   alternation, repetition) but has no look-around or back-references;
//!   those are refused with [`ListError::InvalidRegex`] when the filters
//!   are parsed, not when the first VM is tested.
//! - **Repeated keys.** The last value of a repeated key wins, as in
//!   vmadm (its filters are a JS object).
//! - **Keys.** Indexes are `*` or decimal digits; hash keys are everything
//!   after the first `.` (`tags.a.b` reads the tag `a.b`).
//! - **MAC values.** For `nics.<*|N>.mac=` the value is normalised when it
//!   is colon-separated hex of one or two digits a part (`2:8:20:1:2:3`,
//!   `02:08:20:01:02:AB`); anything else is compared as typed.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::error::ListError;
use super::fields::{Index, Path, is_listable, parse_index};
use super::js::js_string;

/// Which command the filters are for; only the error message differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `vmadm list`: bad keys give `Invalid filter key: "<k>"`.
    List,
    /// `vmadm lookup`: bad keys give `Invalid lookup key: "<k>"`.
    Lookup,
}

/// `disks.<*|N>.<key>` keys that may be filtered on.
const DISK_KEYS: [&str; 8] = [
    "boot",
    "image_name",
    "image_size",
    "image_uuid",
    "size",
    "media",
    "model",
    "zpool",
];

/// `nics.<*|N>.<key>` keys that may be filtered on (not `ips`/`gateways`).
const NIC_KEYS: [&str; 9] = [
    "dhcp_server",
    "gateway",
    "interface",
    "ip",
    "mac",
    "model",
    "netmask",
    "nic_tag",
    "vlan_id",
];

/// Hash properties whose keys may be filtered on (not `routes`).
const FILTER_HASHES: [&str; 3] = ["tags", "customer_metadata", "internal_metadata"];

/// One parsed `key=value` filter.
#[derive(Debug, Clone)]
pub struct Filter {
    key: String,
    path: Path,
    test: Test,
}

/// How a filter tests a value's text.
#[derive(Debug, Clone)]
enum Test {
    Exact(String),
    Pattern(Regex),
}

impl Filter {
    /// The key as typed (`nics.*.ip`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether `vm` (already carrying its computed fields) matches.
    pub fn matches(&self, vm: &Map<String, Value>) -> bool {
        if let Path::Element {
            index: Index::Any, ..
        } = self.path
        {
            return self
                .path
                .each_element(vm)
                .is_some_and(|values| values.into_iter().any(|v| self.test_value(v)));
        }
        self.test_value(self.path.get(vm))
    }

    fn test_value(&self, value: Option<&Value>) -> bool {
        let text = match value {
            None | Some(Value::Null) => None,
            Some(v) => Some(js_string(v)),
        };
        match (&self.test, text) {
            (Test::Exact(_), None) => false,
            (Test::Exact(want), Some(have)) => *want == have,
            (Test::Pattern(_), None) => false,
            (Test::Pattern(re), Some(have)) => re.is_match(&have),
        }
    }
}

/// Whether `vm` matches every filter (true for no filters).
pub fn matches_all(vm: &Map<String, Value>, filters: &[Filter]) -> bool {
    filters.iter().all(|f| f.matches(vm))
}

/// Parses `key=value` arguments (split on the first `=`; a bare word is
/// `key=""`). Keys are checked in argument order before any pattern is
/// compiled, so a bad key is reported ahead of a bad pattern.
pub fn parse_filters(args: &[String], kind: FilterKind) -> Result<Vec<Filter>, ListError> {
    let mut pairs: Vec<(&str, &str, Path)> = Vec::new();
    for arg in args {
        let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        let path = filter_path(key).ok_or_else(|| invalid_key(key, kind))?;
        match pairs.iter_mut().find(|(k, _, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => pairs.push((key, value, path)),
        }
    }
    pairs
        .into_iter()
        .map(|(key, value, path)| {
            let test = make_test(&path, value)?;
            Ok(Filter {
                key: key.to_owned(),
                path,
                test,
            })
        })
        .collect()
}

fn invalid_key(key: &str, kind: FilterKind) -> ListError {
    let key = key.to_owned();
    match kind {
        FilterKind::List => ListError::InvalidFilterKey { key },
        FilterKind::Lookup => ListError::InvalidLookupKey { key },
    }
}

/// The path a filter key reads, or `None` when it may not be filtered on.
fn filter_path(key: &str) -> Option<Path> {
    if is_listable(key) {
        return Some(Path::Top(key.to_owned()));
    }
    let (head, rest) = key.split_once('.')?;
    if FILTER_HASHES.contains(&head) {
        return Some(Path::Member {
            object: head.to_owned(),
            key: rest.to_owned(),
        });
    }
    let allowed: &[&str] = match head {
        "disks" => &DISK_KEYS,
        "nics" => &NIC_KEYS,
        _ => return None,
    };
    let (index, sub) = rest.split_once('.')?;
    if !allowed.contains(&sub) {
        return None;
    }
    let index = match index {
        "*" => Index::Any,
        digits => Index::At(parse_index(digits)?),
    };
    Some(Path::Element {
        array: head.to_owned(),
        index,
        key: sub.to_owned(),
    })
}

fn make_test(path: &Path, value: &str) -> Result<Test, ListError> {
    if let Some(pattern) = value.strip_prefix('~') {
        return compile(pattern).map(Test::Pattern);
    }
    let is_mac =
        matches!(path, Path::Element { array, key, .. } if array == "nics" && key == "mac");
    if is_mac {
        return Ok(Test::Exact(normalize_mac(value)));
    }
    Ok(Test::Exact(value.to_owned()))
}

fn compile(pattern: &str) -> Result<Regex, ListError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .map_err(|err| ListError::InvalidRegex {
            pattern: pattern.to_owned(),
            reason: regex_reason(&err),
        })
}

/// One line out of the regex crate's (multi-line) error.
fn regex_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|line| line.strip_prefix("error: "))
        .or_else(|| text.lines().find(|line| !line.trim().is_empty()))
        .unwrap_or("invalid pattern")
        .trim()
        .to_owned()
}

/// Zero-padded lower-case form of a MAC written with 1-2 hex digits a
/// part; anything else unchanged.
pub(crate) fn normalize_mac(value: &str) -> String {
    let parts: Vec<&str> = value.split(':').collect();
    let all_hex = parts
        .iter()
        .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !all_hex {
        return value.to_owned();
    }
    parts
        .iter()
        .map(|p| format!("{:0>2}", p.to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
