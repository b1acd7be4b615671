//! Who a zone's init runs as (docker's `User`), resolved against the
//! zone's own account files: a pure parser of `/etc/passwd` and
//! `/etc/group`, the resolution rules, and the reading of those files from
//! the root the calling process is in — which must be the zone's, after the
//! pivot, so that no lookup ever reads the host's accounts.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;

/// The home of a user that has no entry in the zone's `/etc/passwd`.
const NO_HOME: &str = "/";

/// The most of an account file that is read.
const MAX_FILE: u64 = 16 << 20;

/// One line of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// The login name.
    pub name: String,
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The home directory.
    pub home: String,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// The group's name.
    pub name: String,
    /// The group id.
    pub gid: u32,
}

/// The ids and home an init runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id, in the zone.
    pub uid: u32,
    /// The group id, in the zone.
    pub gid: u32,
    /// The user's home directory (`/` without a passwd entry).
    pub home: String,
}

/// A user spec that does not resolve in the zone.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A user name not in the zone's `/etc/passwd`.
    #[error("unable to find user {0}")]
    NoUser(String),
    /// A group name not in the zone's `/etc/group`.
    #[error("unable to find group {0}")]
    NoGroup(String),
    /// An id the zone's id map does not cover.
    #[error("{kind} id {id} of {spec} is outside the zone's ids (0 to {last})")]
    Unmapped {
        /// `user` or `group`.
        kind: &'static str,
        /// The id.
        id: u32,
        /// The spec it came from.
        spec: String,
        /// The highest id the zone maps.
        last: u32,
    },
    /// An account file exists but cannot be read.
    #[error("failed to read {path}")]
    Read {
        /// The file, inside the zone.
        path: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The entries of a passwd file; comments, NIS lines and malformed lines
/// are skipped.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    entries(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// The entries of a group file; comments, NIS lines and malformed lines
/// are skipped.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    entries(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
            })
        })
        .collect()
}

/// The colon-separated fields of each account line.
fn entries(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', '+', '-']))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| !f[0].is_empty())
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`; empty for
/// root) against a zone's accounts, as docker does: a name is looked up
/// first, then a number as an id; a numeric user without an entry gets
/// group 0 and home `/`; without a group, the user's primary group.
pub fn resolve(
    spec: &str,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<Identity, UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g).filter(|g| !g.is_empty())),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let number = user.parse::<u32>().ok();
    let entry = passwd
        .iter()
        .find(|e| e.name == user)
        .or_else(|| passwd.iter().find(|e| Some(e.uid) == number));
    let mut identity = match (entry, number) {
        (Some(e), _) => Identity {
            uid: e.uid,
            gid: e.gid,
            home: if e.home.is_empty() {
                NO_HOME.to_owned()
            } else {
                e.home.clone()
            },
        },
        (None, Some(uid)) => Identity {
            uid,
            gid: 0,
            home: NO_HOME.to_owned(),
        },
        (None, None) => return Err(UserError::NoUser(user.to_owned())),
    };
    if let Some(group) = group {
        let number = group.parse::<u32>().ok();
        identity.gid = groups
            .iter()
            .find(|g| g.name == group)
            .map(|g| g.gid)
            .or(number)
            .ok_or_else(|| UserError::NoGroup(group.to_owned()))?;
    }
    Ok(identity)
}

/// Resolves `spec` against the account files of the root this process is
/// in, refusing ids beyond the zone's `count` mapped ones. A missing file
/// is an empty one (numeric ids still resolve).
pub fn lookup(spec: &str, count: u32) -> Result<Identity, UserError> {
    let passwd = parse_passwd(&read_accounts("/etc/passwd")?);
    let groups = parse_group(&read_accounts("/etc/group")?);
    mapped(resolve(spec, &passwd, &groups)?, spec, count)
}

/// `identity` if the zone's `count` mapped ids cover its user and group.
fn mapped(identity: Identity, spec: &str, count: u32) -> Result<Identity, UserError> {
    let last = count.saturating_sub(1);
    for (kind, id) in [("user", identity.uid), ("group", identity.gid)] {
        if id > last {
            return Err(UserError::Unmapped {
                kind,
                id,
                spec: spec.to_owned(),
                last,
            });
        }
    }
    Ok(identity)
}

/// An account file of the current root, empty if there is none. Only a
/// regular file is read (never blocking on a fifo the zone put there).
fn read_accounts(path: &'static str) -> Result<String, UserError> {
    let read = || -> io::Result<String> {
        let file = match File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
            r => r?,
        };
        if !file.metadata()?.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().map_err(|source| UserError::Read { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

+nis::::::
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
broken:x:notanumber:1::/:
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
1001:x:2000:2000:numeric name::/bin/sh
";

    const GROUP: &str = "\
root:x:0:
tty:x:5:app
www-data:x:33:
staff:x:50:app,www-data
nogroup:x:65534:
";

    fn id(uid: u32, gid: u32, home: &str) -> Identity {
        Identity {
            uid,
            gid,
            home: home.into(),
        }
    }

    fn check(spec: &str) -> Result<Identity, UserError> {
        resolve(spec, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    fn ok(r: Result<Identity, UserError>) -> Identity {
        r.expect("resolves")
    }

    #[test]
    fn passwd_lines_parse_and_bad_ones_are_skipped() {
        let p = parse_passwd(PASSWD);
        let names: Vec<_> = p.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["root", "daemon", "www-data", "nobody", "app", "1001"]
        );
        assert_eq!(
            p[4],
            PasswdEntry {
                name: "app".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/app".into()
            }
        );
        assert!(parse_passwd("short:x:1\n:x:1:1::/:\n").is_empty());
    }

    #[test]
    fn group_lines_parse() {
        let g = parse_group(GROUP);
        assert_eq!(g.len(), 5);
        assert_eq!(
            g[3],
            GroupEntry {
                name: "staff".into(),
                gid: 50
            }
        );
        assert!(parse_group("nogid:x:\n").is_empty());
    }

    #[test]
    fn names_resolve_with_their_primary_group_and_home() {
        assert_eq!(ok(check("app")), id(1000, 1000, "/home/app"));
        assert_eq!(ok(check("www-data")), id(33, 33, "/var/www"));
        assert_eq!(ok(check("root")), id(0, 0, "/root"));
    }

    #[test]
    fn root_is_the_default() {
        assert_eq!(ok(check("")), id(0, 0, "/root"));
        assert_eq!(ok(check(":staff")), id(0, 50, "/root"));
        assert_eq!(ok(resolve("", &[], &[])), id(0, 0, "/"));
    }

    #[test]
    fn numbers_resolve_with_or_without_an_entry() {
        assert_eq!(ok(check("1000")), id(1000, 1000, "/home/app"));
        assert_eq!(ok(check("4242")), id(4242, 0, "/"));
        assert_eq!(ok(check("4242:4343")), id(4242, 4343, "/"));
        // A name is matched before an id.
        assert_eq!(ok(check("1001")), id(2000, 2000, "/"));
    }

    #[test]
    fn groups_resolve_by_name_or_number() {
        assert_eq!(ok(check("app:staff")), id(1000, 50, "/home/app"));
        assert_eq!(ok(check("app:5")), id(1000, 5, "/home/app"));
        assert_eq!(ok(check("1000:")), id(1000, 1000, "/home/app"));
    }

    #[test]
    fn ids_beyond_the_zone_map_are_refused() {
        assert_eq!(
            ok(mapped(id(65535, 0, "/"), "65535", 65536)),
            id(65535, 0, "/")
        );
        let e = mapped(id(70000, 0, "/"), "70000", 65536).unwrap_err();
        assert_eq!(
            e.to_string(),
            "user id 70000 of 70000 is outside the zone's ids (0 to 65535)"
        );
        let e = mapped(id(1, 70000, "/"), "1:70000", 65536).unwrap_err();
        assert!(e.to_string().starts_with("group id 70000"));
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = check("postgres").unwrap_err();
        assert_eq!(e.to_string(), "unable to find user postgres");
        let e = check("app:wheel").unwrap_err();
        assert_eq!(e.to_string(), "unable to find group wheel");
        assert!(matches!(
            resolve("app", &[], &[]),
            Err(UserError::NoUser(name)) if name == "app"
        ));
    }
}
