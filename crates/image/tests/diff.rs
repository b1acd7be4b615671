//! Host tests (as root): the layer between two trees, what it holds and
//! what applying it over the lower tree gives.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use basalt_image::archive::ArchiveError;
use basalt_image::diff::{DiffSummary, diff};
use basalt_image::extract::extract_layer;
use tar::EntryType;
use tempfile::TempDir;

use common::*;

const OLD: i64 = 1_600_000_000;

/// Every path under `top` (itself included, as ""), deepest first, so that
/// setting directory times last leaves them set.
fn paths(top: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![top.to_owned()];
    while let Some(p) = todo.pop() {
        if fs::symlink_metadata(&p)?.is_dir() {
            for e in fs::read_dir(&p)? {
                todo.push(e?.path());
            }
        }
        out.push(p);
    }
    out.reverse();
    Ok(out)
}

fn touch_all(top: &Path, secs: i64) -> Res {
    for p in paths(top)? {
        touch(&p, secs)?;
    }
    Ok(())
}

fn cp_a(from: &Path, to: &Path) -> Res {
    let out = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(from)
        .arg(to)
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cp -a failed: {err}");
    Ok(())
}

/// The lower tree: a bit of everything, all times `OLD`.
fn build_lower(top: &Path) -> Res {
    let p = |r: &str| top.join(r);
    for d in [
        "etc",
        "bin",
        "lib",
        "olddir/sub",
        "d2f",
        "keep",
        "plain",
        "tagged",
    ] {
        fs::create_dir_all(p(d))?;
    }
    fs::write(p("etc/passwd"), PASSWD)?;
    fs::write(p("etc/hosts"), b"127.0.0.1 alpha\n")?;
    fs::write(p("etc/motd"), b"welcome\n")?;
    fs::write(p("bin/sh"), vec![0x5au8; 300_000])?;
    fs::write(p("lib/libc.so"), b"\x7fELF libc")?;
    fs::write(p("old.txt"), b"bye")?;
    fs::write(p("olddir/a"), b"a")?;
    fs::write(p("olddir/sub/b"), b"b")?;
    fs::write(p("d2f/x"), b"x")?;
    fs::write(p("f2d"), b"a file for now")?;
    fs::write(p("plain/p"), b"p")?;
    fs::write(p("tagged/c"), b"c")?;
    set_xattr(&p("tagged"), "user.tag", b"lower")?;
    fs::write(p("note"), b"plain")?;
    fs::write(p("data"), b"shared data")?;
    fs::write(p("keep/one"), b"1")?;
    fs::hard_link(p("keep/one"), p("keep/two"))?;
    symlink("etc/passwd", p("link"))?;
    std::os::unix::fs::lchown(p("etc/passwd"), Some(0), Some(0))?;
    chmod(&p("etc/motd"), 0o644)?;
    touch_all(top, OLD)
}

/// The changes that make the upper tree out of a copy of the lower one.
fn change(top: &Path) -> Res {
    let p = |r: &str| top.join(r);
    // Same size, same times: only the contents tell.
    fs::write(p("etc/hosts"), b"127.0.0.1 omega\n")?;
    touch(&p("etc/hosts"), OLD)?;
    chmod(&p("etc/motd"), 0o600)?;
    fs::write(p("new"), b"new file")?;
    fs::create_dir_all(p("newdir/sub"))?;
    fs::write(p("newdir/sub/f"), b"linked twice")?;
    fs::hard_link(p("newdir/sub/f"), p("newdir/g"))?;
    fs::remove_file(p("old.txt"))?;
    fs::remove_dir_all(p("olddir"))?;
    fs::remove_dir_all(p("d2f"))?;
    fs::write(p("d2f"), b"now a file")?;
    fs::remove_file(p("f2d"))?;
    fs::create_dir(p("f2d"))?;
    fs::write(p("f2d/inner"), b"inside")?;
    set_xattr(&p("plain"), "user.tag", b"upper")?;
    rustix::fs::lremovexattr(p("tagged"), "user.tag")?;
    fs::remove_file(p("link"))?;
    symlink("etc/hosts", p("link"))?;
    set_xattr(&p("note"), "user.note", b"annotated")?;
    fs::hard_link(p("data"), p("data2"))?;
    Ok(())
}

/// A layer's entries in stream order: name and type (`w` for a whiteout).
fn entries(layer: &[u8]) -> Res<Vec<(String, char)>> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(layer);
    for e in ar.entries()? {
        let mut e = e?;
        let name = e.path()?.to_string_lossy().into_owned();
        let kind = match e.header().entry_type() {
            _ if name
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".wh.")) =>
            {
                assert_eq!(e.header().entry_type(), EntryType::Regular);
                let mut data = Vec::new();
                e.read_to_end(&mut data)?;
                assert!(data.is_empty(), "whiteout {name} has data");
                'w'
            }
            EntryType::Regular => 'f',
            EntryType::Directory => 'd',
            EntryType::Symlink => 'l',
            EntryType::Link => 'h',
            other => panic!("unexpected entry {name}: {other:?}"),
        };
        out.push((name, kind));
    }
    Ok(out)
}

fn named(list: &[(&str, char)]) -> Vec<(String, char)> {
    list.iter().map(|(n, k)| ((*n).to_owned(), *k)).collect()
}

/// A lower tree, a copy of it changed into an upper tree, and the layer.
struct Case {
    _dir: TempDir,
    lower: PathBuf,
    upper: PathBuf,
    layer: Vec<u8>,
    summary: DiffSummary,
}

fn case() -> Res<Case> {
    let dir = tempfile::Builder::new()
        .prefix("basalt-image-diff-")
        .tempdir()?;
    let lower = dir.path().join("lower");
    let upper = dir.path().join("upper");
    fs::create_dir(&lower)?;
    build_lower(&lower)?;
    cp_a(&lower, &upper)?;
    change(&upper)?;
    let (layer, summary) = diff(&lower, &upper, Vec::new())?;
    Ok(Case {
        _dir: dir,
        lower,
        upper,
        layer,
        summary,
    })
}

/// Whiteouts of names written again just after.
const REPLACED: [&str; 3] = [".wh.d2f", ".wh.f2d", ".wh.tagged"];

#[test]
fn the_layer_holds_exactly_what_changed() -> Res {
    let c = case()?;
    let want = named(&[
        ("./", 'd'),
        ("d2f", 'w'),
        ("d2f", 'f'),
        ("data2", 'f'),
        // Its metadata is unchanged, but applying the layer replaces
        // files in it: its entry restores its times.
        ("etc", 'd'),
        ("etc/hosts", 'f'),
        ("etc/motd", 'f'),
        ("f2d", 'w'),
        ("f2d", 'd'),
        ("f2d/inner", 'f'),
        ("link", 'l'),
        ("new", 'f'),
        ("newdir", 'd'),
        ("newdir/g", 'f'),
        ("newdir/sub", 'd'),
        ("newdir/sub/f", 'h'),
        ("note", 'f'),
        (".wh.old.txt", 'w'),
        (".wh.olddir", 'w'),
        // An attribute added to a directory: its entry sets it.
        ("plain", 'd'),
        // An attribute removed: the directory is made anew.
        ("tagged", 'w'),
        ("tagged", 'd'),
        ("tagged/c", 'f'),
    ]);
    let mut got = entries(&c.layer)?;
    // The whiteout of a type change comes just before its new entry.
    for (i, (name, kind)) in got.iter().enumerate() {
        if *kind == 'w' && REPLACED.contains(&name.as_str()) {
            assert_eq!(got[i + 1].0, &name[4..]);
        }
    }
    for (name, _) in got.iter_mut() {
        if REPLACED.contains(&name.as_str()) {
            *name = name[4..].to_owned();
        }
    }
    assert_eq!(got, want);
    assert_eq!(c.summary.entries, 18);
    assert_eq!(c.summary.whiteouts, 5);
    assert_eq!(c.summary.skipped_sockets, 0);
    // bin, lib, keep and what they hold; data; etc/passwd; plain/p.
    assert_eq!(c.summary.unchanged, 10);
    let files = [
        "d2f",
        "data2",
        "etc/hosts",
        "etc/motd",
        "f2d/inner",
        "tagged/c",
        "new",
        "newdir/g",
        "note",
    ];
    let bytes = files
        .iter()
        .map(|p| fs::metadata(c.upper.join(p)).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    assert_eq!(c.summary.bytes, bytes, "a hard link's data is written once");
    Ok(())
}

/// Everything compared between two trees, by path; times to the second,
/// as the tar format keeps them.
fn describe(top: &Path) -> Res<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in paths(top)? {
        let m = fs::symlink_metadata(&p)?;
        let content = if m.is_file() {
            format!("{:?}", fs::read(&p)?)
        } else if m.is_symlink() {
            format!("-> {:?}", fs::read_link(&p)?)
        } else {
            String::new()
        };
        let xattrs = if m.is_symlink() {
            Vec::new()
        } else {
            list_xattrs(&p)?
        };
        let rel = p.strip_prefix(top)?.to_string_lossy().into_owned();
        let what = format!(
            "mode {:o} owner {}:{} mtime {} rdev {} {content} {xattrs:?}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.mtime(),
            m.rdev()
        );
        out.insert(rel, what);
    }
    Ok(out)
}

#[test]
fn the_layer_over_the_lower_tree_gives_the_upper_tree() -> Res {
    let c = case()?;
    let applied = c._dir.path().join("applied");
    cp_a(&c.lower, &applied)?;
    extract_layer(&c.layer[..], &applied)?;
    let (want, got) = (describe(&c.upper)?, describe(&applied)?);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (path, what) in &want {
        assert_eq!(Some(what), got.get(path), "{path:?}");
    }
    let ino = |p: &str| fs::symlink_metadata(applied.join(p)).map(|m| m.ino());
    assert_eq!(ino("newdir/g")?, ino("newdir/sub/f")?);
    assert_eq!(ino("keep/one")?, ino("keep/two")?);
    // The new link to an unchanged file came as a file of its own.
    assert_ne!(ino("data")?, ino("data2")?);
    Ok(())
}

#[test]
fn a_tree_against_itself_gives_an_empty_layer() -> Res {
    let dir = tempfile::tempdir()?;
    build_lower(dir.path())?;
    let (layer, summary) = diff(dir.path(), dir.path(), Vec::new())?;
    assert_eq!(
        (summary.entries, summary.whiteouts, summary.bytes),
        (0, 0, 0)
    );
    assert_eq!(summary.unchanged, u64::try_from(paths(dir.path())?.len())?);
    assert!(
        layer.iter().all(|&b| b == 0),
        "only the end-of-archive blocks"
    );
    Ok(())
}

#[test]
fn the_same_trees_give_the_same_layer() -> Res {
    let c = case()?;
    let (again, _) = diff(&c.lower, &c.upper, Vec::new())?;
    assert!(again == c.layer);
    Ok(())
}

/// A temporary directory holding the empty trees `lower` and `upper`.
fn empty_trees() -> Res<(TempDir, PathBuf, PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("basalt-image-diff-")
        .tempdir()?;
    let (lower, upper) = (dir.path().join("lower"), dir.path().join("upper"));
    fs::create_dir(&lower)?;
    fs::create_dir(&upper)?;
    Ok((dir, lower, upper))
}

#[test]
fn a_file_named_like_a_whiteout_is_refused() -> Res {
    let (_dir, lower, upper) = empty_trees()?;
    fs::create_dir(upper.join("d"))?;
    fs::write(upper.join("d/.wh.passwd"), b"")?;
    match diff(&lower, &upper, Vec::new()) {
        Err(ArchiveError::Reserved { path }) => assert_eq!(path, upper.join("d/.wh.passwd")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    Ok(())
}

#[test]
fn sockets_are_skipped_and_what_they_replace_is_removed() -> Res {
    let (_dir, lower, upper) = empty_trees()?;
    fs::write(lower.join("sock"), b"was a file")?;
    let _listener = std::os::unix::net::UnixListener::bind(upper.join("sock"))?;
    touch(&lower, OLD)?;
    touch(&upper, OLD)?;
    let (layer, summary) = diff(&lower, &upper, Vec::new())?;
    assert_eq!(entries(&layer)?, named(&[("./", 'd'), (".wh.sock", 'w')]));
    assert_eq!((summary.skipped_sockets, summary.whiteouts), (1, 1));
    Ok(())
}

#[test]
fn symbolic_links_are_not_followed() -> Res {
    let (dir, lower, upper) = empty_trees()?;
    let outside = dir.path().join("outside");
    fs::create_dir_all(outside.join("secret"))?;
    fs::write(outside.join("secret/key"), b"k")?;
    symlink(&outside, upper.join("escape"))?;
    let (layer, _) = diff(&lower, &upper, Vec::new())?;
    let got = entries(&layer)?;
    assert!(got.contains(&("escape".to_owned(), 'l')));
    assert!(!got.iter().any(|(n, _)| n.contains("key")));
    // A top directory given as a link is refused, not followed.
    let top_link = dir.path().join("top");
    symlink(&upper, &top_link)?;
    assert!(matches!(
        diff(&lower, &top_link, Vec::new()),
        Err(ArchiveError::Read { .. })
    ));
    Ok(())
}
