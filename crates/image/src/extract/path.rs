//! Where an archive entry goes, decided before anything is touched.

use std::fmt;

/// Why an entry's path (or hard link target) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    /// The path has a `..` component.
    DotDot,
    /// The path has a NUL byte.
    Nul,
    /// The hard link target has a `..` component.
    LinkDotDot,
    /// A hard link to the destination itself.
    LinkToRoot,
    /// The path leads out of the destination through a symbolic link.
    Escapes,
    /// A non-directory would replace the destination itself.
    ReplacesRoot,
}

impl fmt::Display for Unsafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unsafe::DotDot => "its path has a \"..\" component",
            Unsafe::Nul => "its path has a NUL byte",
            Unsafe::LinkDotDot => "its link target has a \"..\" component",
            Unsafe::LinkToRoot => "it links to the destination itself",
            Unsafe::Escapes => "its path leaves the destination through a symbolic link",
            Unsafe::ReplacesRoot => "it would replace the destination itself",
        })
    }
}

/// The components of an archive path, relative to the destination: empty
/// and `.` components dropped, a leading `/` dropped (as GNU tar does, so
/// `/etc/x` lands in `<dest>/etc/x`), `..` refused. An empty result names
/// the destination itself.
pub fn components(raw: &[u8]) -> Result<Vec<&[u8]>, Unsafe> {
    if raw.contains(&0) {
        return Err(Unsafe::Nul);
    }
    let mut out = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(Unsafe::DotDot),
            p => out.push(p),
        }
    }
    Ok(out)
}

/// `a/b/c` from components, for a path relative to the destination.
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Vec<String> {
        match components(raw.as_bytes()) {
            Ok(parts) => parts
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
            Err(e) => panic!("{raw}: {e}"),
        }
    }

    #[test]
    fn relative_paths_are_cleaned() {
        assert_eq!(ok("etc/passwd"), ["etc", "passwd"]);
        assert_eq!(ok("./etc//./passwd/"), ["etc", "passwd"]);
        assert_eq!(ok("..."), ["..."]);
        assert_eq!(ok("a/..b/c.."), ["a", "..b", "c.."]);
        assert!(ok("./").is_empty() && ok("").is_empty() && ok(".").is_empty());
    }

    #[test]
    fn absolute_paths_are_confined() {
        assert_eq!(ok("/etc/x"), ["etc", "x"]);
        assert_eq!(ok("//etc"), ["etc"]);
        assert!(ok("/").is_empty());
    }

    #[test]
    fn dot_dot_and_nul_are_refused() {
        for bad in ["../x", "a/../../x", "a/..", "/..", ".."] {
            assert_eq!(components(bad.as_bytes()), Err(Unsafe::DotDot), "{bad}");
        }
        assert_eq!(components(b"a\0b"), Err(Unsafe::Nul));
    }

    #[test]
    fn joined() {
        assert_eq!(join(&[b"a", b"b", b"c"]), b"a/b/c");
        assert_eq!(join(&[]), b"");
    }
}
