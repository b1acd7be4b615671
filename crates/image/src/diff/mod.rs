//! The difference between two trees as a layer: the tar stream that,
//! extracted as a layer over a copy of `lower`, makes it `upper`. An
//! incremental image file is such a stream, `lower` being the origin
//! image's tree and `upper` the instance's.
//!
//! The stream has the format of [`crate::archive`] (it shares its entry
//! writing and its walk) plus OCI whiteouts. Name by name, in byte order:
//! - in `upper` only: written, a new directory with its whole subtree;
//! - in `lower` only: an empty file `.wh.<name>` in its parent, which
//!   removes it (a directory with its subtree);
//! - in both, of another type: the whiteout first, then the new entry
//!   (extraction would not replace a non-empty directory in place); the
//!   same for a directory that lost an extended attribute (extraction
//!   sets the attributes an entry lists on a directory it keeps, and
//!   removes none; the top directory cannot be made anew and keeps them);
//! - in both, changed: written; a directory is kept in place, so it gets
//!   its directory entry only, and is then compared name by name;
//! - in both, unchanged: left out (counted).
//!
//! A directory's entry is also written, metadata unchanged, when a name in
//! it is removed, made or replaced: applying the layer changes the
//! directory's times, and its entry, applied after all else, sets them
//! back. Since that entry comes before what the directory holds, the
//! layer is planned whole (as data, one step per entry or whiteout)
//! before anything is written.
//!
//! `./` comes first when the top directory changed in either way. Among
//! the paths written, a second path to an inode already written is a hard
//! link to the first, as in an archive; a changed path whose inode is
//! shared with unchanged ones is written as a file of its own, so that
//! what the lower tree links to it stays untouched. Opaque directories
//! (`.wh..wh..opq`) are never written: removals are listed name by name.
//! A file of `upper` whose name begins with `.wh.` cannot be carried (it
//! would read as a removal) and stops the diff with
//! [`ArchiveError::Reserved`].
//!
//! What "changed" means is decided in one place: a cheap shortcut first,
//! then a full comparison (type, mode, owner, size, modification time to
//! the nanosecond, device numbers, link target, extended attributes and,
//! for regular files, contents byte by byte, streamed).
//!
//! The shortcut, same inode number and same ctime (seconds and
//! nanoseconds), is sound for a btrfs snapshot or clone of `lower`: a
//! snapshot starts as the very same inode items, numbers and ctimes
//! included. The kernel sets an inode's ctime to the current time on every
//! change to it (data written, truncated, cloned or stored through a
//! mapping; mode, owner, extended attributes, links, renames), and no call
//! sets it to a chosen value. A file made later has a new number, or, if a
//! freed number is reused, a ctime after the snapshot's. So the same
//! number and ctime at the same name means the same file, untouched since
//! the snapshot, as long as the clock never went back. On any other pair
//! of trees (a copy, another file system) numbers or ctimes differ and
//! everything is compared: the shortcut makes the diff fast on snapshots,
//! and correct anywhere.
//!
//! Safety is the archive's: no symbolic link is ever followed (metadata
//! is read with `lstat`, files and directories are opened with
//! `O_NOFOLLOW` and checked to be the inode listed), and sockets, which
//! cannot be archived, are skipped and counted.

mod same;
#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::archive::{ArchiveError, Writer, list, lstat, read_err};

use same::{drops_xattrs, same};

/// The prefix of a whiteout's name: `.wh.<name>` removes `<name>`.
pub const WHITEOUT_PREFIX: &str = ".wh.";

/// What a layer holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// Entries written for files, directories, links and nodes (whiteouts
    /// not included).
    pub entries: u64,
    /// Bytes of file data.
    pub bytes: u64,
    /// Whiteouts written.
    pub whiteouts: u64,
    /// Paths of both trees found unchanged and left out (directories
    /// included).
    pub unchanged: u64,
    /// Sockets left out.
    pub skipped_sockets: u64,
}

/// Writes to `out` the layer that turns the tree `lower` into the tree
/// `upper`; returns the writer and what was written.
pub fn diff<W: Write>(
    lower: &Path,
    upper: &Path,
    out: W,
) -> Result<(W, DiffSummary), ArchiveError> {
    let mut planner = Planner {
        unchanged: 0,
        buffers: same::Buffers::default(),
    };
    let lm = top(lower)?;
    let um = top(upper)?;
    let mut plan = Vec::new();
    planner.pair(
        Node::new(lower, lm),
        Node::new(upper, um),
        PathBuf::from("./"),
        &mut plan,
    )?;
    let mut w = Writer::for_layer(out);
    let mut whiteouts = 0;
    for step in plan {
        match step {
            Step::Whiteout(rel) => {
                w.add_marker(&whiteout_of(&rel))?;
                whiteouts += 1;
            }
            Step::Add { rel, node, tree } => {
                w.add(&rel, &node.path, &node.meta)?;
                if tree && node.meta.is_dir() {
                    w.add_tree(&node.path, &node.meta, strip_dot(&rel))?;
                }
            }
        }
    }
    let (out, s) = w.finish(upper)?;
    let summary = DiffSummary {
        entries: s.entries,
        bytes: s.bytes,
        whiteouts,
        unchanged: planner.unchanged,
        skipped_sockets: s.skipped_sockets,
    };
    Ok((out, summary))
}

/// A top directory's metadata; the diff is between directories.
fn top(dir: &Path) -> Result<Metadata, ArchiveError> {
    let meta = lstat(dir)?;
    if !meta.is_dir() {
        let e = io::Error::from(io::ErrorKind::NotADirectory);
        return Err(read_err(dir, "open the directory")(e));
    }
    Ok(meta)
}

/// A path and its metadata as listed.
struct Node {
    path: PathBuf,
    meta: Metadata,
}

impl Node {
    fn new(path: &Path, meta: Metadata) -> Node {
        Node {
            path: path.to_owned(),
            meta,
        }
    }

    fn child(&self, name: &OsStr) -> Result<Node, ArchiveError> {
        let path = self.path.join(name);
        let meta = lstat(&path)?;
        Ok(Node { path, meta })
    }
}

/// One thing the layer says, in stream order.
enum Step {
    /// Remove `rel`.
    Whiteout(PathBuf),
    /// Write the upper tree's `node` as `rel`; with `tree`, and everything
    /// beneath it.
    Add {
        rel: PathBuf,
        node: Box<Node>,
        tree: bool,
    },
}

/// Decides what the layer holds; nothing is written until the whole plan
/// is made, because a directory's entry, which comes before what it
/// holds, may be needed only for what it holds.
struct Planner {
    unchanged: u64,
    buffers: same::Buffers,
}

impl Planner {
    /// A name found in both trees, `rel` in the layer. Returns whether the
    /// parent directory's names change when the plan is applied (a name
    /// removed, made, or replaced), which changes its modification time.
    fn pair(
        &mut self,
        lower: Node,
        upper: Node,
        rel: PathBuf,
        plan: &mut Vec<Step>,
    ) -> Result<bool, ArchiveError> {
        if lower.meta.file_type() != upper.meta.file_type() {
            return Ok(replace(rel, upper, plan));
        }
        let unchanged = same(
            &lower.path,
            &lower.meta,
            &upper.path,
            &upper.meta,
            &mut self.buffers,
        )?;
        if !upper.meta.is_dir() {
            if unchanged {
                self.unchanged += 1;
            } else {
                let (node, tree) = (Box::new(upper), false);
                plan.push(Step::Add { rel, node, tree });
            }
            return Ok(!unchanged);
        }
        // An entry sets the attributes it lists and leaves the others on a
        // directory kept in place: one that lost any is made anew (the top
        // directory cannot be, and keeps them).
        let top = rel == Path::new("./");
        if !unchanged && !top && drops_xattrs(&lower.path, &upper.path)? {
            return Ok(replace(rel, upper, plan));
        }
        // A directory is kept in place; its entry is written when its own
        // metadata changed or when its names do, so that its times end as
        // the upper tree's.
        let mut inside = Vec::new();
        let touched = self.dir(&lower, &upper, strip_dot(&rel), &mut inside)?;
        if unchanged && !touched {
            self.unchanged += 1;
        } else {
            let (node, tree) = (Box::new(upper), false);
            plan.push(Step::Add { rel, node, tree });
        }
        plan.append(&mut inside);
        Ok(false)
    }

    /// Compares two directories found at `rel`, name by name; returns
    /// whether any name is removed, made or replaced.
    fn dir(
        &mut self,
        lower: &Node,
        upper: &Node,
        rel: &Path,
        plan: &mut Vec<Step>,
    ) -> Result<bool, ArchiveError> {
        let names = merge(
            list(&lower.path, &lower.meta)?,
            list(&upper.path, &upper.meta)?,
        );
        let mut touched = false;
        for (name, side) in names {
            let rel = rel.join(&name);
            touched |= match side {
                Side::Lower => {
                    plan.push(Step::Whiteout(rel));
                    true
                }
                Side::Upper => {
                    let node = Box::new(upper.child(&name)?);
                    plan.push(Step::Add {
                        rel,
                        node,
                        tree: true,
                    });
                    true
                }
                Side::Both => self.pair(lower.child(&name)?, upper.child(&name)?, rel, plan)?,
            };
        }
        Ok(touched)
    }
}

/// Plans `rel` removed, then written anew from `upper` with everything
/// beneath it; the parent's names change.
fn replace(rel: PathBuf, upper: Node, plan: &mut Vec<Step>) -> bool {
    plan.push(Step::Whiteout(rel.clone()));
    plan.push(Step::Add {
        rel,
        node: Box::new(upper),
        tree: true,
    });
    true
}

/// The top directory is `./` as an entry, nothing as a prefix.
fn strip_dot(rel: &Path) -> &Path {
    if rel == Path::new("./") {
        Path::new("")
    } else {
        rel
    }
}

/// Where a name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Lower,
    Upper,
    Both,
}

/// Two directories' names, each in byte order, as one list in byte order.
fn merge(lower: Vec<OsString>, upper: Vec<OsString>) -> Vec<(OsString, Side)> {
    let mut out = Vec::with_capacity(lower.len().max(upper.len()));
    let mut lower = lower.into_iter().peekable();
    let mut upper = upper.into_iter().peekable();
    loop {
        let order = match (lower.peek(), upper.peek()) {
            (None, None) => return out,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(l), Some(u)) => l.as_bytes().cmp(u.as_bytes()),
        };
        let next = match order {
            std::cmp::Ordering::Less => lower.next().map(|n| (n, Side::Lower)),
            std::cmp::Ordering::Greater => upper.next().map(|n| (n, Side::Upper)),
            std::cmp::Ordering::Equal => {
                upper.next();
                lower.next().map(|n| (n, Side::Both))
            }
        };
        out.extend(next);
    }
}

/// The whiteout that removes `rel`: `.wh.<name>` beside it.
fn whiteout_of(rel: &Path) -> PathBuf {
    let mut name = OsString::from(WHITEOUT_PREFIX);
    name.push(rel.file_name().unwrap_or_default());
    rel.parent().unwrap_or(Path::new("")).join(name)
}
