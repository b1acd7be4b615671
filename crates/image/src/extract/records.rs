//! The records that describe the next archive member: GNU long names and
//! link names (`L`, `K`) and PAX extended headers (`x`), read here rather
//! than by the tar crate, whose PAX reader splits records at newlines and
//! so loses binary extended attributes and GNU tar's ACL text.

/// PAX records (key, value) in archive order.
pub type Pax = Vec<(Vec<u8>, Vec<u8>)>;

/// The largest extension record basalt reads (names, PAX headers).
pub const MAX_RECORD: u64 = 16 << 20;

/// Parses a PAX extended header: records `"<len> <key>=<value>\n"` where
/// `<len>` counts the whole record, so values may hold any byte.
pub fn parse_pax(mut data: &[u8]) -> Result<Pax, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let bad = || "its PAX records are malformed".to_owned();
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// Extension records seen since the last member.
#[derive(Debug, Default)]
pub struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

/// Which extension record an entry of the archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// GNU `L`: the next member's path.
    LongName,
    /// GNU `K`: the next member's link target.
    LongLink,
    /// PAX `x`: records for the next member.
    Pax,
    /// PAX `g`: records for all later members (basalt ignores them).
    GlobalPax,
}

/// A member's path, link target and PAX records, all records applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Path as the archive gives it.
    pub path: Vec<u8>,
    /// Link target, if any.
    pub link: Option<Vec<u8>>,
    /// PAX records.
    pub pax: Pax,
}

impl Pending {
    /// Whether records wait for a member.
    pub fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }

    /// Takes in one extension record's data.
    pub fn absorb(&mut self, record: Record, data: Vec<u8>) -> Result<(), String> {
        let twice = || "two records describe the same member".to_owned();
        match record {
            Record::LongName if self.long_name.is_none() => self.long_name = Some(trim_nul(data)),
            Record::LongLink if self.long_link.is_none() => self.long_link = Some(trim_nul(data)),
            Record::Pax if self.pax.is_none() => self.pax = Some(parse_pax(&data)?),
            Record::GlobalPax => {
                parse_pax(&data)?;
            }
            _ => return Err(twice()),
        }
        Ok(())
    }

    /// Describes the member whose header says `path` and `link`, using and
    /// clearing the records seen. A PAX `path`/`linkpath` wins over the
    /// header, a GNU long name over both.
    pub fn describe(&mut self, path: &[u8], link: Option<&[u8]>) -> Described {
        let pax = self.pax.take().unwrap_or_default();
        let find = |key: &[u8]| {
            pax.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let path = self
            .long_name
            .take()
            .or_else(|| find(b"path"))
            .unwrap_or_else(|| path.to_vec());
        let link = self
            .long_link
            .take()
            .or_else(|| find(b"linkpath"))
            .or_else(|| link.map(<[u8]>::to_vec));
        Described { path, link, pax }
    }
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, value: &[u8]) -> Vec<u8> {
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len += 1;
        }
        let mut out = format!("{len} {key}=").into_bytes();
        out.extend_from_slice(value);
        out.push(b'\n');
        out
    }

    #[test]
    fn values_may_hold_newlines_and_any_byte() {
        let cap = [0x01, 0x00, 0x00, 0x02, 0x0a, 0x0a, 0, 0, b'\n', b'=', b' '];
        let mut data = record("SCHILY.xattr.security.capability", &cap);
        data.extend(record(
            "SCHILY.acl.access",
            b"user::rw-\ngroup::r--\nother::r--\n",
        ));
        data.extend(record("path", b"a b=c"));
        let pax = parse_pax(&data).unwrap_or_default();
        assert_eq!(pax.len(), 3);
        assert_eq!(pax[0].1, cap);
        assert_eq!(pax[1].1, b"user::rw-\ngroup::r--\nother::r--\n");
        assert_eq!(
            (pax[2].0.as_slice(), pax[2].1.as_slice()),
            (&b"path"[..], &b"a b=c"[..])
        );
    }

    #[test]
    fn malformed_records_are_refused() {
        for bad in [
            &b"5 a=b"[..],
            b"5 a=bc\n",
            b"x a=b\n",
            b"99 a=b\n",
            b"6 ab\n\n",
            b" 5 a=\n",
            b"2 \n",
            b"-5 a=\n",
        ] {
            assert!(parse_pax(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_pax(b"5 a=\n"), Ok(vec![(b"a".to_vec(), vec![])]));
    }

    #[test]
    fn records_describe_the_next_member_once() {
        let mut p = Pending::default();
        assert_eq!(
            p.absorb(Record::LongName, b"long/name\0\0".to_vec()),
            Ok(())
        );
        assert_eq!(p.absorb(Record::Pax, record("path", b"pax/path")), Ok(()));
        assert!(p.absorb(Record::LongName, b"again".to_vec()).is_err());
        let d = p.describe(b"header", Some(b"hlink"));
        assert_eq!(
            (d.path.as_slice(), d.link.as_deref()),
            (&b"long/name"[..], Some(&b"hlink"[..]))
        );
        assert!(p.is_empty());
        p.absorb(
            Record::Pax,
            [record("path", b"p"), record("linkpath", b"l")].concat(),
        )
        .ok();
        let d = p.describe(b"header", None);
        assert_eq!(
            (d.path.as_slice(), d.link.as_deref()),
            (&b"p"[..], Some(&b"l"[..]))
        );
        assert_eq!(p.describe(b"plain", None).path, b"plain");
    }
}
