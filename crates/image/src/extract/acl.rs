//! POSIX ACLs as GNU tar stores them (`SCHILY.acl.access`,
//! `SCHILY.acl.default`: the text form, `u::rwx,u:1000:r-x,g::r-x,m::r-x,o::r--`)
//! turned into the `system.posix_acl_*` extended attributes the kernel takes.

/// The attribute's format version.
const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// The PAX record of an access ACL and the attribute it becomes.
pub const ACCESS: (&str, &str) = ("SCHILY.acl.access", "system.posix_acl_access");
/// The PAX record of a directory's default ACL and its attribute.
pub const DEFAULT: (&str, &str) = ("SCHILY.acl.default", "system.posix_acl_default");

/// What an ACL in text form comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acl {
    /// Owner, group, other (and mask) only: the mode says it all, nothing
    /// to set. GNU tar `--acls` writes one for every member.
    Trivial,
    /// The `system.posix_acl_*` attribute to set.
    Binary(Vec<u8>),
    /// An entry names a user or group without its id (GNU tar writes names
    /// it could resolve on the machine that made the archive): names mean
    /// nothing in another system's root, so the ACL is left out and
    /// counted.
    Named,
}

/// Reads an ACL in text form (`tag:qualifier:perms[:id]`, by commas or
/// lines); `None` if the text is not an ACL.
pub fn from_text(text: &[u8]) -> Option<Acl> {
    let text = std::str::from_utf8(text).ok()?;
    let mut entries = Vec::new();
    let mut named = false;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        for entry in line.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry_of(entry)? {
                Some(e) => entries.push(e),
                None => named = true,
            }
        }
    }
    if named {
        return Some(Acl::Named);
    }
    if entries.iter().all(|&(tag, ..)| tag != USER && tag != GROUP) {
        return Some(Acl::Trivial);
    }
    entries.sort_unstable();
    let mut out = Vec::with_capacity(4 + 8 * entries.len());
    out.extend_from_slice(&VERSION.to_le_bytes());
    for (tag, id, perm) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(Acl::Binary(out))
}

/// One `tag:qualifier:perms[:id]` entry as (tag, id, permission bits),
/// ordered as the kernel wants them; `Some(None)` for a name without id.
fn entry_of(entry: &str) -> Option<Option<(u16, u32, u16)>> {
    let fields: Vec<&str> = entry.split(':').map(str::trim).collect();
    let (tag, qualifier, perms, id) = match fields[..] {
        [t @ ("m" | "mask" | "o" | "other"), p] => (t, "", p, None),
        [t, q, p] => (t, q, p, None),
        [t, q, p, id] => (t, q, p, Some(id)),
        _ => return None,
    };
    let perm = perms.chars().try_fold(0u16, |acc, c| match c {
        'r' => Some(acc | 4),
        'w' => Some(acc | 2),
        'x' => Some(acc | 1),
        '-' => Some(acc),
        _ => None,
    })?;
    let numeric = id.or((!qualifier.is_empty()).then_some(qualifier));
    let id = numeric.map(str::parse::<u32>);
    let is_name = |q: &str| !q.is_empty() && !q.contains(char::is_whitespace);
    Some(Some(match (tag, id) {
        ("u" | "user", None) => (USER_OBJ, UNDEFINED_ID, perm),
        ("u" | "user", Some(Ok(id))) => (USER, id, perm),
        ("g" | "group", None) => (GROUP_OBJ, UNDEFINED_ID, perm),
        ("g" | "group", Some(Ok(id))) => (GROUP, id, perm),
        ("m" | "mask", None) => (MASK, UNDEFINED_ID, perm),
        ("o" | "other", None) => (OTHER, UNDEFINED_ID, perm),
        ("u" | "user" | "g" | "group", Some(Err(_))) if is_name(qualifier) => return Some(None),
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(bin: &[u8]) -> Vec<(u16, u16, u32)> {
        bin[4..]
            .chunks(8)
            .map(|c| {
                let tag = u16::from_le_bytes([c[0], c[1]]);
                let perm = u16::from_le_bytes([c[2], c[3]]);
                (tag, perm, u32::from_le_bytes([c[4], c[5], c[6], c[7]]))
            })
            .collect()
    }

    #[test]
    fn gnu_tars_numeric_text() {
        let bin = binary(b"u::rwx,g::r-x,o::r--,u:1000:rw-,m::rwx,g:50:--x");
        assert_eq!(&bin[..4], &2u32.to_le_bytes());
        assert_eq!(
            entries(&bin),
            [
                (USER_OBJ, 7, UNDEFINED_ID),
                (USER, 6, 1000),
                (GROUP_OBJ, 5, UNDEFINED_ID),
                (GROUP, 1, 50),
                (MASK, 7, UNDEFINED_ID),
                (OTHER, 4, UNDEFINED_ID),
            ]
        );
    }

    #[test]
    fn long_tags_star_ids_comments_and_lines() {
        let text = b"user::rw-\nuser:lisa:rw-:1001 # lisa\ngroup::r--\nmask:rw-\nother::---\n";
        let bin = binary(text);
        assert_eq!(entries(&bin)[1], (USER, 6, 1001));
        assert_eq!(entries(&bin).len(), 5);
    }

    fn binary(text: &[u8]) -> Vec<u8> {
        match from_text(text) {
            Some(Acl::Binary(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trivial_and_named_acls_set_nothing() {
        assert_eq!(
            from_text(b"user::rwx\ngroup::r-x\nother::r-x\n"),
            Some(Acl::Trivial)
        );
        assert_eq!(
            from_text(b"u::rw-,g::r--,m::r--,o::---"),
            Some(Acl::Trivial)
        );
        assert_eq!(
            from_text(b"user::rwx\nuser:lisa:r-x\ngroup::r-x\nmask::r-x\nother::r--\n"),
            Some(Acl::Named)
        );
    }

    #[test]
    fn junk_is_refused() {
        for bad in [
            &b"x::rwx"[..],
            b"u::rwz",
            b"m:5:rwx",
            b"u",
            b"\xff",
            b"u:a b:rwx",
        ] {
            assert_eq!(from_text(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
