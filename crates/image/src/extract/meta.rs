//! What an archive entry says about its file besides the path: mode,
//! owner, times, and extended attributes (PAX `SCHILY.xattr.*` records as
//! GNU tar writes them; its `SCHILY.acl.*` ACLs become the
//! `system.posix_acl_*` attributes).

use rustix::fs::Timespec;

use super::acl;
use super::records::Pax;

/// PAX records naming an extended attribute.
pub const XATTR_PREFIX: &str = "SCHILY.xattr.";

/// An entry's metadata, read from its header and PAX records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits with set-uid, set-gid and sticky (`0o7777`).
    pub mode: u32,
    /// Owner (numeric; names in the header are ignored).
    pub uid: u32,
    /// Group (numeric).
    pub gid: u32,
    /// Modification time (PAX `mtime` when given, to the nanosecond).
    pub mtime: Timespec,
    /// Access time (PAX `atime`, else the modification time).
    pub atime: Timespec,
    /// Extended attributes, name and value, in archive order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// ACLs left out because they name users or groups (see `acl::Acl`).
    pub skipped_acls: u64,
}

impl Meta {
    /// An entry's metadata from its header and PAX records; the error says
    /// which field is bad.
    pub fn new(h: &tar::Header, pax: &Pax) -> Result<Meta, String> {
        let mode = h
            .mode()
            .map_err(|_| "its mode is not a number".to_owned())?
            & 0o7777;
        let id = |v: Option<u64>, what: &str| {
            v.and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| format!("its {what} is not a number below 2^32"))
        };
        let decimal = |v: &[u8]| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
        };
        let mut uid = id(h.uid().ok(), "uid")?;
        let mut gid = id(h.gid().ok(), "gid")?;
        let secs = h
            .mtime()
            .map_err(|_| "its mtime is not a number".to_owned())?;
        let mut mtime = Timespec {
            tv_sec: i64::try_from(secs).map_err(|_| "its mtime is too large".to_owned())?,
            tv_nsec: 0,
        };
        let mut atime = None;
        let mut xattrs = Vec::new();
        let mut skipped_acls = 0;
        for (key, value) in pax {
            if let Some(name) = key.strip_prefix(XATTR_PREFIX.as_bytes()) {
                if name.is_empty() || name.contains(&0) {
                    return Err("it names an extended attribute badly".into());
                }
                xattrs.push((name.to_vec(), value.clone()));
            } else if let Some(xname) = acl_record(key) {
                match acl::from_text(value).ok_or("its PAX ACL is malformed")? {
                    acl::Acl::Binary(bin) => xattrs.push((xname.as_bytes().to_vec(), bin)),
                    acl::Acl::Trivial => {}
                    acl::Acl::Named => skipped_acls += 1,
                }
            } else {
                match key.as_slice() {
                    b"uid" => uid = id(decimal(value), "PAX uid")?,
                    b"gid" => gid = id(decimal(value), "PAX gid")?,
                    b"mtime" => mtime = pax_time(value).ok_or("its PAX mtime is malformed")?,
                    b"atime" => atime = Some(pax_time(value).ok_or("its PAX atime is malformed")?),
                    _ => {}
                }
            }
        }
        Ok(Meta {
            mode,
            uid,
            gid,
            mtime,
            atime: atime.unwrap_or(mtime),
            xattrs,
            skipped_acls,
        })
    }
}

/// The attribute a PAX ACL record becomes, if `key` is one.
fn acl_record(key: &[u8]) -> Option<&'static str> {
    [acl::ACCESS, acl::DEFAULT]
        .into_iter()
        .find(|(record, _)| key == record.as_bytes())
        .map(|(_, xattr)| xattr)
}

/// A PAX time: decimal seconds, optionally negative, optionally with a
/// fraction (digits past nanoseconds are dropped).
pub fn pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit());
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) if digits(frac) => (int, frac),
        Some(_) => return None,
        None => (s, ""),
    };
    if !digits(int) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let nanos: i64 = format!("{:0<9}", &frac[..frac.len().min(9)]).parse().ok()?;
    Some(match (neg, nanos) {
        (false, n) => Timespec {
            tv_sec: secs,
            tv_nsec: n,
        },
        (true, 0) => Timespec {
            tv_sec: -secs,
            tv_nsec: 0,
        },
        (true, n) => Timespec {
            tv_sec: -secs - 1,
            tv_nsec: 1_000_000_000 - n,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64, n: i64) -> Option<Timespec> {
        Some(Timespec {
            tv_sec: s,
            tv_nsec: n,
        })
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_time(b"1700000000"), t(1_700_000_000, 0));
        assert_eq!(pax_time(b"1700000000.5"), t(1_700_000_000, 500_000_000));
        assert_eq!(pax_time(b"1.1234567891"), t(1, 123_456_789));
        assert_eq!(pax_time(b"-1.25"), t(-2, 750_000_000));
        assert_eq!(pax_time(b"-3"), t(-3, 0));
        for bad in [
            "",
            "x",
            "1.",
            ".5",
            "1.2.3",
            "--1",
            "1e9",
            "99999999999999999999",
        ] {
            assert_eq!(pax_time(bad.as_bytes()), None, "{bad}");
        }
    }
}
