//! Host tests (as root): a tar stream applied as a layer over a tree,
//! whiteouts and opaque directories removing what lower layers left, and
//! nothing outside the destination ever removed.

mod common;

use std::fs;
use std::io;
use std::path::Path;

use basalt_image::extract::{ExtractError, Summary, Unsafe, extract, extract_layer};
use rustix::fs::FileType;
use tar::{Builder, EntryType};

use common::*;

/// A sandbox whose destination holds a lower layer: files, a link, a
/// fifo, a directory tree.
fn over_lower() -> Res<Sandbox> {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        etc_files(b)?;
        link(
            b,
            EntryType::Symlink,
            "etc/localtime",
            "/usr/share/zoneinfo/UTC",
        )?;
        b.append_data(
            &mut header(EntryType::Fifo, 0o600, 0, 0, 1),
            "run/fifo",
            std::io::empty(),
        )?;
        dir(b, "opt/app", 0o755, (0, 0), 1)?;
        file(b, "opt/app/bin/run", b"#!/bin/sh\n", 0o755, (0, 0))?;
        file(b, "opt/app/lib/x.so", b"\x7fELF", 0o644, (0, 0))?;
        link(b, EntryType::Symlink, "opt/app/current", ".")
    })?;
    extract(&ar[..], &s.dest)?;
    Ok(s)
}

/// Applies the layer `build` writes over the sandbox's destination.
fn apply(s: &Sandbox, build: impl FnOnce(&mut Builder<Vec<u8>>) -> io::Result<()>) -> Res<Summary> {
    Ok(extract_layer(&tar(build)?[..], &s.dest)?)
}

fn whiteout(b: &mut Builder<Vec<u8>>, path: &str) -> io::Result<()> {
    file(b, path, b"", 0o000, (0, 0))
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

#[test]
fn whiteouts_remove_files_links_nodes_and_trees() -> Res {
    let s = over_lower()?;
    let summary = apply(&s, |b| {
        whiteout(b, "etc/.wh.motd")?;
        whiteout(b, "etc/.wh.localtime")?;
        whiteout(b, "run/.wh.fifo")?;
        whiteout(b, ".wh.opt")?;
        whiteout(b, "etc/.wh.never-there")?;
        whiteout(b, "nowhere/at/all/.wh.x")?;
        file(b, "etc/hostname", b"zone\n", 0o644, (0, 0))
    })?;
    assert_eq!((summary.whiteouts, summary.files), (6, 1));
    for gone in ["etc/motd", "etc/localtime", "run/fifo", "opt"] {
        assert!(!exists(&s.at(gone)), "{gone} is still there");
    }
    for kept in ["etc/passwd", "etc/hostname", "run"] {
        assert!(exists(&s.at(kept)), "{kept} is gone");
    }
    for never in ["etc/.wh.motd", ".wh.opt", "nowhere"] {
        assert!(!exists(&s.at(never)), "{never} was written");
    }
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn plain_extraction_writes_whiteouts_as_files() -> Res {
    let s = over_lower()?;
    let ar = tar(|b| {
        whiteout(b, "etc/.wh.motd")?;
        whiteout(b, "opt/.wh..wh..opq")
    })?;
    let summary = extract(&ar[..], &s.dest)?;
    assert_eq!((summary.whiteouts, summary.files), (0, 2));
    assert!(exists(&s.at("etc/.wh.motd")) && exists(&s.at("etc/motd")));
    assert!(exists(&s.at("opt/.wh..wh..opq")) && exists(&s.at("opt/app/bin/run")));
    Ok(())
}

#[test]
fn an_opaque_directory_keeps_only_this_layers_entries() -> Res {
    let s = over_lower()?;
    fs::create_dir_all(s.at("opt/implied"))?;
    fs::write(s.at("opt/implied/lower"), b"lower")?;
    let summary = apply(&s, |b| {
        dir(b, "opt", 0o711, (0, 0), 1_500_000_000)?;
        file(b, "opt/before", b"b", 0o644, (0, 0))?;
        // Listed by this layer, but it held lower children too.
        dir(b, "opt/app", 0o750, (0, 0), 1_500_000_001)?;
        file(b, "opt/app/own", b"o", 0o644, (0, 0))?;
        // Never listed: made by lower layers, written into by this one.
        file(b, "opt/implied/mine", b"m", 0o644, (0, 0))?;
        whiteout(b, "opt/.wh..wh..opq")?;
        file(b, "opt/after", b"a", 0o644, (0, 0))?;
        file(b, "opt/app/lib/new.so", b"n", 0o644, (0, 0))
    })?;
    assert_eq!(summary.whiteouts, 1);
    assert_eq!(
        tree(&s.at("opt"))?,
        [
            "after",
            "app",
            "app/lib",
            "app/lib/new.so",
            "app/own",
            "before",
            "implied",
            "implied/mine",
        ]
    );
    assert!(!exists(&s.at("opt/.wh..wh..opq")));
    let st = lstat(&s.at("opt/app"))?;
    assert_eq!((st.st_mode & 0o777, st.st_mtime), (0o750, 1_500_000_001));
    assert_eq!(lstat(&s.at("opt"))?.st_mtime, 1_500_000_000);
    assert!(exists(&s.at("etc/motd")), "outside the opaque directory");
    Ok(())
}

#[test]
fn an_opaque_root_clears_the_lower_tree() -> Res {
    let s = over_lower()?;
    apply(&s, |b| {
        whiteout(b, ".wh..wh..opq")?;
        file(b, "etc/only", b"", 0o644, (0, 0))
    })?;
    assert_eq!(tree(&s.dest)?, ["etc", "etc/only"]);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_whiteout_hides_lower_layers_only() -> Res {
    let s = over_lower()?;
    let summary = apply(&s, |b| {
        file(b, "etc/new", b"this layer's", 0o644, (0, 0))?;
        whiteout(b, "etc/.wh.new")?;
        // A directory this layer lists inside one it then whites out: the
        // tree goes, and its metadata is not applied at the end.
        dir(b, "opt/app/lib/sub", 0o700, (0, 0), 1)?;
        whiteout(b, "opt/.wh.app")
    })?;
    assert_eq!(summary.whiteouts, 2);
    assert_eq!(fs::read(s.at("etc/new"))?, b"this layer's");
    assert!(!exists(&s.at("opt/app")));
    assert!(exists(&s.at("opt")));
    Ok(())
}

#[test]
fn a_layers_file_replaces_a_lower_directory_tree() -> Res {
    let s = over_lower()?;
    apply(&s, |b| {
        file(b, "opt/app", b"now a file", 0o644, (0, 0))?;
        link(b, EntryType::Symlink, "etc", "/nowhere")
    })?;
    assert_eq!(fs::read(s.at("opt/app"))?, b"now a file");
    assert_eq!(file_type(&s.at("etc"))?, FileType::Symlink);
    s.assert_outside_untouched()?;
    Ok(())
}

fn refused_layer(s: &Sandbox, ar: &[u8]) -> Result<(String, Unsafe), String> {
    match extract_layer(ar, &s.dest) {
        Err(ExtractError::Unsafe { entry, reason }) => Ok((entry, reason)),
        other => Err(format!("expected an unsafe entry, got {other:?}")),
    }
}

#[test]
fn whiteouts_cannot_reach_outside() -> Res {
    let s = Sandbox::new()?;
    for (name, reason) in [
        ("../.wh.victim", Unsafe::DotDot),
        ("a/../../.wh.victim", Unsafe::DotDot),
        (".wh...", Unsafe::DotDot),
        ("etc/.wh...", Unsafe::DotDot),
        ("../.wh..wh..opq", Unsafe::DotDot),
    ] {
        let ar = tar(|b| raw(b, EntryType::Regular, name, "", b""))?;
        assert_eq!(refused_layer(&s, &ar)?, (name.to_owned(), reason));
        s.assert_outside_untouched()?;
    }
    let e = apply(&s, |b| whiteout(b, "etc/.wh."))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("invalid archive entry etc/.wh.: its whiteout names nothing")
    );
    Ok(())
}

#[test]
fn whiteouts_never_go_through_a_symlink_out() -> Res {
    let s = Sandbox::new()?;
    let sandbox = s.dir.path().to_string_lossy().into_owned();
    let sandbox_rel = sandbox.trim_start_matches('/').to_owned();
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "up", "..")?;
        link(b, EntryType::Symlink, "root", "/")?;
        link(b, EntryType::Symlink, "out", &sandbox)?;
        dir(b, "d", 0o755, (0, 0), 1)?;
        link(b, EntryType::Symlink, "d/out", &sandbox)
    })?;
    extract(&ar[..], &s.dest)?;
    for name in [
        "up/.wh.victim".to_owned(),
        format!("root/{sandbox_rel}/.wh.victim"),
        "out/.wh.victim".to_owned(),
        format!("root/{sandbox_rel}/.wh..wh..opq"),
    ] {
        let ar = tar(|b| whiteout(b, &name))?;
        assert_eq!(refused_layer(&s, &ar)?, (name.clone(), Unsafe::Escapes));
        s.assert_outside_untouched()?;
    }
    // An opaque marker in a directory that is a symbolic link: the link is
    // not the directory, nothing is removed.
    for name in ["up/.wh..wh..opq", "out/.wh..wh..opq"] {
        assert_eq!(apply(&s, |b| whiteout(b, name))?.whiteouts, 1, "{name}");
        s.assert_outside_untouched()?;
    }
    // Removing the links, or a tree holding one, removes the links only.
    let summary = apply(&s, |b| {
        whiteout(b, ".wh.out")?;
        whiteout(b, ".wh.up")?;
        whiteout(b, ".wh.root")?;
        whiteout(b, ".wh.d")
    })?;
    assert_eq!(summary.whiteouts, 4);
    let left = tree(&s.dest)?;
    assert!(left.is_empty(), "{left:?}");
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn an_opaque_directory_never_follows_a_symlink_inside_it() -> Res {
    let s = Sandbox::new()?;
    let sandbox = s.dir.path().to_string_lossy().into_owned();
    fs::create_dir_all(s.at("d/sub"))?;
    fs::write(s.at("d/sub/lower"), b"")?;
    std::os::unix::fs::symlink(&sandbox, s.at("d/sub/out"))?;
    std::os::unix::fs::symlink(&sandbox, s.at("d/out"))?;
    apply(&s, |b| {
        file(b, "d/sub/own", b"", 0o644, (0, 0))?;
        whiteout(b, "d/.wh..wh..opq")
    })?;
    assert_eq!(tree(&s.at("d"))?, ["sub", "sub/own"]);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn aufs_bookkeeping_is_skipped() -> Res {
    let s = Sandbox::new()?;
    let summary = apply(&s, |b| {
        whiteout(b, ".wh..wh.aufs")?;
        dir(b, ".wh..wh.plnk", 0o700, (0, 0), 1)?;
        file(b, ".wh..wh.plnk/1.2", b"x", 0o644, (0, 0))?;
        file(b, "f", b"f", 0o644, (0, 0))
    })?;
    assert_eq!((summary.files, summary.dirs, summary.whiteouts), (1, 0, 0));
    assert_eq!(tree(&s.dest)?, ["f"]);
    Ok(())
}
