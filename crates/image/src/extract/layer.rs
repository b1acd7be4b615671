//! A layer: a tar stream applied over the tree that earlier layers made,
//! with the whiteouts of the OCI image layout (aufs's names):
//! - `<dir>/.wh.<name>` is not written; it removes `<dir>/<name>` (a file,
//!   a link, a node, or a directory with everything beneath it);
//! - `<dir>/.wh..wh..opq` is not written; it removes everything beneath
//!   `<dir>` that this layer has not written itself, before or after the
//!   marker;
//! - other `.wh..wh.*` names, and whatever lies beneath them, are aufs's
//!   own bookkeeping and are skipped.
//!
//! A whiteout hides only what lower layers left: the layer remembers every
//! path it wrote, and a whiteout naming one of them changes nothing. A
//! non-directory entry replaces a lower layer's directory with all it
//! holds.
//!
//! How removal stays inside: the whiteout's path is split and checked like
//! any entry's (`..` refused); its directory is opened beneath the
//! destination as an entry's parent is, so a symbolic link that leads out
//! is refused; the name it hides is one component, removed with calls
//! relative to that directory that never follow it; a tree is removed
//! through directories opened `O_NOFOLLOW`, one level at a time.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::os::fd::AsFd;

use rustix::io::Errno;

use super::path::join;
use super::sys::{self, Failed};
use super::{ExtractError, Extractor, Unsafe, components, invalid, io_error, unsafe_entry};

/// The prefix of a whiteout's name.
const PREFIX: &[u8] = b".wh.";
/// The name that makes its directory opaque.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// The prefix of aufs's bookkeeping names.
const META: &[u8] = b".wh..wh.";

/// What a whiteout entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker<'a> {
    /// Remove this name from the entry's directory.
    Hide(&'a [u8]),
    /// Remove what lower layers put beneath the entry's directory.
    Opaque,
    /// aufs's bookkeeping: skip the entry.
    Meta,
}

/// Whether the entry at `parts` is a whiteout, and which.
pub(super) fn marker<'a>(parts: &[&'a [u8]]) -> Option<Marker<'a>> {
    let (leaf, dirs) = parts.split_last()?;
    if *leaf == OPAQUE {
        return Some(Marker::Opaque);
    }
    if leaf.starts_with(META) || dirs.iter().any(|d| d.starts_with(META)) {
        return Some(Marker::Meta);
    }
    leaf.strip_prefix(PREFIX).map(Marker::Hide)
}

/// The paths a layer wrote, relative to the destination.
#[derive(Debug, Default)]
pub(super) struct Written(BTreeSet<Vec<u8>>);

impl Written {
    pub fn insert(&mut self, rel: Vec<u8>) {
        self.0.insert(rel);
    }

    pub fn contains(&self, rel: &[u8]) -> bool {
        self.0.contains(rel)
    }

    /// Whether an opaque directory keeps `rel`: the layer wrote it, or
    /// something beneath it.
    pub fn keeps(&self, rel: &[u8]) -> bool {
        self.contains(rel) || self.first_under(rel).is_some()
    }

    /// Forgets `rel` and everything beneath it.
    pub fn forget(&mut self, rel: &[u8]) {
        self.0.remove(rel);
        while let Some(p) = self.first_under(rel).cloned() {
            self.0.remove(&p);
        }
    }

    /// The first path written beneath `rel` (paths beneath it sort
    /// together, right after `rel/`).
    fn first_under(&self, rel: &[u8]) -> Option<&Vec<u8>> {
        let under = beneath(rel);
        self.0
            .range::<[u8], _>((Bound::Included(&under[..]), Bound::Unbounded))
            .next()
            .filter(|p| p.starts_with(&under))
    }
}

/// The prefix of every path beneath `rel`.
fn beneath(rel: &[u8]) -> Vec<u8> {
    let mut under = rel.to_vec();
    if !under.is_empty() {
        under.push(b'/');
    }
    under
}

/// Whether a whiteout's directory, or an opaque one, is simply not there:
/// then there is nothing to remove.
fn absent(errno: Errno) -> bool {
    matches!(errno, Errno::NOENT | Errno::NOTDIR | Errno::LOOP)
}

impl Extractor {
    /// Applies the entry at `raw` if it is a whiteout (`false` if it is
    /// not one).
    pub(super) fn whiteout(&mut self, raw: &[u8], name: &str) -> Result<bool, ExtractError> {
        let parts = components(raw).map_err(|reason| unsafe_entry(name, reason))?;
        let Some(marker) = marker(&parts) else {
            return Ok(false);
        };
        let dirs = &parts[..parts.len() - 1];
        match marker {
            Marker::Meta => return Ok(true),
            Marker::Hide(target) => self.hide(dirs, target, name)?,
            Marker::Opaque => self.opaque(dirs, name)?,
        }
        self.summary.whiteouts += 1;
        Ok(true)
    }

    /// `.wh.<target>` in the directory `dirs`.
    fn hide(&mut self, dirs: &[&[u8]], target: &[u8], name: &str) -> Result<(), ExtractError> {
        match target {
            b".." => return Err(unsafe_entry(name, Unsafe::DotDot)),
            b"" | b"." => return Err(invalid(name, "its whiteout names nothing")),
            _ => {}
        }
        let rel = join(&[dirs, &[target]].concat());
        if self.layer.as_ref().is_some_and(|w| w.contains(&rel)) {
            return Ok(());
        }
        let fail = |errno| {
            io_error(
                name,
                Failed {
                    op: "apply whiteout",
                    errno,
                },
            )
        };
        let parent = match sys::open_dir(self.root.as_fd(), &join(dirs)) {
            Ok(fd) => fd,
            Err(errno) if absent(errno) => return Ok(()),
            Err(errno) => return Err(fail(errno)),
        };
        sys::remove_all(parent.as_fd(), target).map_err(fail)?;
        self.forget(&rel);
        Ok(())
    }

    /// `.wh..wh..opq` in the directory `dirs`.
    fn opaque(&mut self, dirs: &[&[u8]], name: &str) -> Result<(), ExtractError> {
        let fail = |errno| {
            io_error(
                name,
                Failed {
                    op: "apply opaque whiteout",
                    errno,
                },
            )
        };
        let mut rel = join(dirs);
        let dir = match sys::open_dir_to_list(self.root.as_fd(), &rel) {
            Ok(dir) => dir,
            Err(errno) if absent(errno) => return Ok(()),
            Err(errno) => return Err(fail(errno)),
        };
        let written = self.layer.as_ref();
        sys::prune(dir, &mut rel, &|p| written.is_some_and(|w| w.keeps(p))).map_err(fail)?;
        // What was removed was never written by this layer: no directory
        // waiting for its metadata went with it.
        self.cache = None;
        Ok(())
    }

    /// Forgets a removed path: the directories it held get no metadata at
    /// the end, nothing beneath it counts as written, and no descriptor
    /// into it is kept.
    pub(super) fn forget(&mut self, rel: &[u8]) {
        let under = beneath(rel);
        self.dirs
            .retain(|(p, ..)| p.as_slice() != rel && !p.starts_with(&under));
        if let Some(w) = &mut self.layer {
            w.forget(rel);
        }
        self.cache = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(path: &str) -> Option<Marker<'_>> {
        let parts: Vec<&[u8]> = path.split('/').map(str::as_bytes).collect();
        marker(&parts)
    }

    #[test]
    fn whiteout_names() {
        assert_eq!(of("a/.wh.b"), Some(Marker::Hide(b"b")));
        assert_eq!(of(".wh..b"), Some(Marker::Hide(b".b")));
        assert_eq!(of(".wh...."), Some(Marker::Hide(b"...")));
        assert_eq!(of("a/.wh..wh..opq"), Some(Marker::Opaque));
        assert_eq!(of(".wh..wh..opq"), Some(Marker::Opaque));
        assert_eq!(of(".wh..wh.plnk"), Some(Marker::Meta));
        assert_eq!(of(".wh..wh.plnk/123.456"), Some(Marker::Meta));
        assert_eq!(of("a/.wh..wh.aufs"), Some(Marker::Meta));
        assert_eq!(of("a/b"), None);
        assert_eq!(of("a/.wh.b/c"), None);
        assert_eq!(of("a/x.wh.b"), None);
        assert_eq!(marker(&[]), None);
    }

    #[test]
    fn an_opaque_directory_keeps_what_the_layer_wrote_and_its_ancestors() {
        let mut w = Written::default();
        for p in ["d/own", "d/sub/deep/f", "d-x", "e"] {
            w.insert(p.as_bytes().to_vec());
        }
        for kept in ["d/own", "d/sub", "d/sub/deep", "d/sub/deep/f", "d", "e", ""] {
            assert!(w.keeps(kept.as_bytes()), "{kept}");
        }
        for gone in ["d/lower", "d/su", "d/sub/other", "d/own/x", "f"] {
            assert!(!w.keeps(gone.as_bytes()), "{gone}");
        }
        w.forget(b"d");
        assert!(!w.keeps(b"d") && w.keeps(b"d-x") && w.keeps(b"e"));
    }
}
