//! `requirements`: what an instance made from the image must have. Unlike
//! the rest of the manifest, an unknown key here is invalid.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use basalt_model::Mib;

use super::error::Problem;
use super::js;

/// A network the image expects (`requirements.networks[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The NIC's name, e.g. `net0`.
    pub name: String,
    /// What it is for.
    pub description: String,
}

/// The firmware a VM image boots with (`requirements.bootrom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bootrom {
    /// Legacy BIOS.
    Bios,
    /// UEFI.
    Uefi,
}

impl fmt::Display for Bootrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bootrom::Bios => "bios",
            Bootrom::Uefi => "uefi",
        })
    }
}

/// `requirements`, typed. Platform maps keep their order: SDC version to
/// platform stamp (`YYYYMMDDTHHMMSSZ`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// NICs the image expects.
    pub networks: Option<Vec<Network>>,
    /// The brand an instance must have.
    pub brand: Option<String>,
    /// Whether an SSH key must be given.
    pub ssh_key: Option<bool>,
    /// Least memory.
    pub min_ram: Option<Mib>,
    /// Most memory.
    pub max_ram: Option<Mib>,
    /// Oldest platform per SDC version.
    pub min_platform: Option<Vec<(String, String)>>,
    /// Newest platform per SDC version.
    pub max_platform: Option<Vec<(String, String)>>,
    /// Firmware.
    pub bootrom: Option<Bootrom>,
}

impl Requirements {
    pub(crate) fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(nets) = &self.networks {
            let list = nets
                .iter()
                .map(|n| {
                    let mut o = Map::new();
                    o.insert("name".into(), n.name.clone().into());
                    o.insert("description".into(), n.description.clone().into());
                    Value::Object(o)
                })
                .collect();
            m.insert("networks".into(), Value::Array(list));
        }
        if let Some(b) = &self.brand {
            m.insert("brand".into(), b.clone().into());
        }
        if let Some(k) = self.ssh_key {
            m.insert("ssh_key".into(), k.into());
        }
        if let Some(r) = self.min_ram {
            m.insert("min_ram".into(), r.0.into());
        }
        if let Some(r) = self.max_ram {
            m.insert("max_ram".into(), r.0.into());
        }
        for (key, plat) in [
            ("min_platform", &self.min_platform),
            ("max_platform", &self.max_platform),
        ] {
            if let Some(p) = plat {
                let o = p.iter().map(|(k, v)| (k.clone(), Value::String(v.clone())));
                m.insert(key.into(), Value::Object(o.collect()));
            }
        }
        if let Some(b) = self.bootrom {
            m.insert("bootrom".into(), b.to_string().into());
        }
        Value::Object(m)
    }
}

/// Checks `requirements` (present in the manifest), pushing every problem.
pub(crate) fn check(value: &Value, problems: &mut Vec<Problem>) -> Option<Requirements> {
    let Value::Object(reqs) = value else {
        problems.push(Problem::invalid(
            "requirements",
            Some(format!(
                "invalid image \"requirements\" (not an object): {}",
                js::j(value)
            )),
        ));
        return None;
    };
    let before = problems.len();
    let mut out = Requirements::default();
    for (key, v) in reqs {
        match key.as_str() {
            "networks" => out.networks = networks(v, problems),
            "brand" => {
                out.brand = typed(key, v, "a string", problems, |v| {
                    v.as_str().map(str::to_owned)
                })
            }
            "ssh_key" => out.ssh_key = typed(key, v, "a boolean", problems, Value::as_bool),
            "min_ram" | "max_ram" => {
                let ram = typed(key, v, "a positive integer", problems, js::positive_int).map(Mib);
                if key == "min_ram" {
                    out.min_ram = ram;
                } else {
                    out.max_ram = ram;
                }
            }
            "min_platform" => out.min_platform = platform(key, v, problems),
            "max_platform" => out.max_platform = platform(key, v, problems),
            "bootrom" => out.bootrom = bootrom(v, problems),
            other => problems.push(Problem::invalid(
                other,
                Some(format!("unsupported requirement \"{other}\"")),
            )),
        }
    }
    if let (Some(min), Some(max)) = (out.min_ram, out.max_ram)
        && min > max
    {
        problems.push(Problem::invalid(
            "requirements.max_ram",
            Some(format!(
                "min_ram must be <= max_ram, but:min_ram={}, max_ram={}",
                min.0, max.0
            )),
        ));
    }
    (problems.len() == before).then_some(out)
}

fn typed<T>(
    key: &str,
    v: &Value,
    what: &str,
    problems: &mut Vec<Problem>,
    read: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    let got = read(v);
    if got.is_none() {
        problems.push(Problem::invalid(
            &format!("requirements.{key}"),
            Some(format!(
                "invalid image \"requirements.{key}\" (not {what}): {}",
                js::j(v)
            )),
        ));
    }
    got
}

fn networks(v: &Value, problems: &mut Vec<Problem>) -> Option<Vec<Network>> {
    const FIELD: &str = "requirements.networks";
    let Value::Array(items) = v else {
        problems.push(Problem::invalid(
            FIELD,
            Some(format!(
                "invalid image \"requirements.networks\" (not an array): {}",
                js::j(v)
            )),
        ));
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match network(item) {
            Some(n) => out.push(n),
            None => problems.push(Problem::invalid(
                FIELD,
                Some(format!(
                    "invalid image \"requirements.networks\" entry: {}",
                    js::j(item)
                )),
            )),
        }
    }
    (out.len() == items.len()).then_some(out)
}

fn network(item: &Value) -> Option<Network> {
    let o = item.as_object().filter(|o| o.len() == 2)?;
    Some(Network {
        name: o.get("name")?.as_str()?.to_owned(),
        description: o.get("description")?.as_str()?.to_owned(),
    })
}

fn platform(key: &str, v: &Value, problems: &mut Vec<Problem>) -> Option<Vec<(String, String)>> {
    let field = format!("requirements.{key}");
    let Some(map) = v.as_object().filter(|m| !m.is_empty()) else {
        problems.push(Problem::invalid(
            &field,
            Some(format!(
                "invalid image \"{field}\" (not an object): {}",
                js::j(v)
            )),
        ));
        return None;
    };
    let mut out = Vec::with_capacity(map.len());
    for (sdc, stamp) in map {
        match stamp.as_str().filter(|s| is_platform_stamp(s)) {
            Some(s) => out.push((sdc.clone(), s.to_owned())),
            None => problems.push(Problem::invalid(
                &field,
                Some(format!(
                    "invalid image \"{field}\" entry: \"{sdc}: {}\" not a valid platform version",
                    js::s(stamp)
                )),
            )),
        }
    }
    (out.len() == map.len()).then_some(out)
}

fn bootrom(v: &Value, problems: &mut Vec<Problem>) -> Option<Bootrom> {
    let b = match v.as_str() {
        Some("bios") => Some(Bootrom::Bios),
        Some("uefi") => Some(Bootrom::Uefi),
        _ => None,
    };
    if b.is_none() {
        problems.push(Problem::invalid(
            "requirements.bootrom",
            Some(format!(
                "invalid image \"requirements.bootrom\" (not \"bios\" or \"uefi\"): {}",
                js::j(v)
            )),
        ));
    }
    b
}

/// imgmanifest's `validPlatformVersion`: `YYYYMMDDTHHMMSSZ`, year 2012 or
/// later, month 1-12, day 1-31, hour 0-23, minutes and seconds 0-59.
pub fn is_platform_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return false;
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        digits(0, 4),
        digits(4, 6),
        digits(6, 8),
        digits(9, 11),
        digits(11, 13),
        digits(13, 15),
    ) else {
        return false;
    };
    y >= 2012 && (1..=12).contains(&mo) && (1..=31).contains(&d) && h <= 23 && mi <= 59 && sec <= 59
}
