//! Host tests (as root): archives that try to write outside the
//! destination fail cleanly, naming the entry, and nothing outside changes.
//!
//! Escapes aim at the sandbox's `victim` file and directory, reached through
//! `/` or `..`, so that a regression shows up in the sandbox rather than in
//! the host's `/etc`.

mod common;

use std::fs;
use std::path::Path;

use basalt_image::extract::{ExtractError, Unsafe, extract};
use rustix::fs::FileType;
use tar::EntryType;

use common::*;

fn refused(s: &Sandbox, ar: &[u8]) -> Result<(String, Unsafe), String> {
    match extract(ar, &s.dest) {
        Err(ExtractError::Unsafe { entry, reason }) => Ok((entry, reason)),
        other => Err(format!("expected an unsafe entry, got {other:?}")),
    }
}

/// The sandbox's path with its leading `/`, for archive paths that go
/// through a link to `/`.
fn from_root(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches('/').to_owned()
}

#[test]
fn dot_dot_is_refused() -> Res {
    for name in ["../victim", "a/../../victim", "./../dest/../victim", ".."] {
        let s = Sandbox::new()?;
        let ar = tar(|b| raw(b, EntryType::Regular, name, "", b"pwned"))?;
        assert_eq!(refused(&s, &ar)?, (name.to_owned(), Unsafe::DotDot));
        s.assert_outside_untouched()?;
    }
    let s = Sandbox::new()?;
    let ar = tar(|b| raw(b, EntryType::Regular, "../x", "", b""))?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("refused archive entry ../x: its path has a \"..\" component")
    );
    Ok(())
}

#[test]
fn absolute_paths_land_inside() -> Res {
    let s = Sandbox::new()?;
    let unique = format!("etc/basalt-image-test-{}", std::process::id());
    let abs = format!("/{unique}");
    let victim_abs = s.victim().to_string_lossy().into_owned();
    let ar = tar(|b| {
        raw(b, EntryType::Regular, &abs, "", b"inside")?;
        raw(b, EntryType::Regular, &victim_abs, "", b"inside too")
    })?;
    extract(&ar[..], &s.dest)?;
    assert!(!Path::new(&abs).exists(), "{abs} was written on the host");
    assert_eq!(fs::read(s.dest.join(&unique))?, b"inside");
    assert_eq!(
        fs::read(s.dest.join(from_root(&s.victim())))?,
        b"inside too"
    );
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_symlink_to_root_cannot_be_written_through() -> Res {
    let s = Sandbox::new()?;
    let through = format!("a/{}", from_root(&s.victim()));
    let new_file = format!("a/{}/planted", from_root(s.dir.path()));
    for target in [through, new_file] {
        let ar = tar(|b| {
            link(b, EntryType::Symlink, "a", "/")?;
            raw(b, EntryType::Regular, &target, "", b"pwned")
        })?;
        assert_eq!(refused(&s, &ar)?, (target.clone(), Unsafe::Escapes));
        s.assert_outside_untouched()?;
        fs::remove_file(s.at("a"))?;
    }
    // The literal attack, only once the same attack aimed at the sandbox
    // above was refused.
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "a", "/")?;
        raw(
            b,
            EntryType::Regular,
            "a/etc/passwd",
            "",
            b"root::0:0::/:/bin/sh\n",
        )
    })?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some(
            "refused archive entry a/etc/passwd: its path leaves the destination through a symbolic link"
        )
    );
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_symlink_upwards_cannot_be_written_through() -> Res {
    for (link_target, path) in [
        ("..", "up/victim"),
        ("sub/../..", "up/victim"),
        ("../dest/..", "up/victim"),
    ] {
        let s = Sandbox::new()?;
        let ar = tar(|b| {
            fs::create_dir_all(s.at("sub"))?;
            link(b, EntryType::Symlink, "up", link_target)?;
            raw(b, EntryType::Regular, path, "", b"pwned")
        })?;
        assert_eq!(
            refused(&s, &ar)?,
            (path.to_owned(), Unsafe::Escapes),
            "{link_target}"
        );
        s.assert_outside_untouched()?;
    }
    Ok(())
}

#[test]
fn a_symlink_inside_is_followed_only_inside() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        dir(b, "real", 0o755, (0, 0), 1)?;
        link(b, EntryType::Symlink, "alias", "real")?;
        file(b, "alias/f", b"through the alias", 0o644, (0, 0))
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(fs::read(s.at("real/f"))?, b"through the alias");
    assert_eq!(file_type(&s.at("alias"))?, FileType::Symlink);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_file_entry_replaces_a_symlink_instead_of_writing_through_it() -> Res {
    let s = Sandbox::new()?;
    let victim = s.victim().to_string_lossy().into_owned();
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "s", &victim)?;
        file(b, "s", b"replaced", 0o600, (0, 0))?;
        link(b, EntryType::Symlink, "t", &victim)?;
        let mut h = header(EntryType::Char, 0o666, 0, 0, 1);
        h.set_device_major(1)?;
        h.set_device_minor(3)?;
        b.append_data(&mut h, "t", std::io::empty())?;
        link(b, EntryType::Symlink, "u", &victim)?;
        dir(b, "u", 0o777, (0, 0), 1)
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(fs::read(s.at("s"))?, b"replaced");
    assert_eq!(file_type(&s.at("t"))?, FileType::CharacterDevice);
    assert_eq!(file_type(&s.at("u"))?, FileType::Directory);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_hard_link_to_a_symlink_links_the_symlink() -> Res {
    let s = Sandbox::new()?;
    let victim = s.victim().to_string_lossy().into_owned();
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "s", &victim)?;
        link(b, EntryType::Link, "h", "s")
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(file_type(&s.at("h"))?, FileType::Symlink);
    assert_eq!(lstat(&s.at("h"))?.st_ino, lstat(&s.at("s"))?.st_ino);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn hard_links_resolve_inside_the_destination() -> Res {
    // /etc/shadow means <dest>/etc/shadow: absent here, so the link fails.
    let s = Sandbox::new()?;
    let ar = tar(|b| link(b, EntryType::Link, "shadow", "/etc/shadow"))?;
    let e = extract(&ar[..], &s.dest).err();
    assert!(
        matches!(&e, Some(ExtractError::Io { entry, .. }) if entry == "shadow"),
        "{e:?}"
    );
    assert!(!s.at("shadow").exists());
    s.assert_outside_untouched()?;

    // Present in the archive: the link is to the archive's own file.
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        file(b, "etc/shadow", b"root:*:1::::::\n", 0o640, (0, 42))?;
        raw(b, EntryType::Link, "shadow-link", "/etc/shadow", b"")
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(
        lstat(&s.at("shadow-link"))?.st_ino,
        lstat(&s.at("etc/shadow"))?.st_ino
    );
    assert_eq!(fs::read(s.at("shadow-link"))?, b"root:*:1::::::\n");
    Ok(())
}

#[test]
fn hard_links_cannot_reach_out() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| raw(b, EntryType::Link, "h", "../victim", b""))?;
    assert_eq!(refused(&s, &ar)?, ("h".to_owned(), Unsafe::LinkDotDot));
    let victim_via_root = format!("root/{}", from_root(&s.victim()));
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "root", "/")?;
        raw(b, EntryType::Link, "h", &victim_via_root, b"")
    })?;
    assert_eq!(refused(&s, &ar)?, ("h".to_owned(), Unsafe::Escapes));
    let ar = tar(|b| raw(b, EntryType::Link, "h2", "/", b""))?;
    assert_eq!(refused(&s, &ar)?, ("h2".to_owned(), Unsafe::LinkToRoot));
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn a_symlinked_file_is_not_a_directory() -> Res {
    let s = Sandbox::new()?;
    let victim = s.victim().to_string_lossy().into_owned();
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "f", &victim)?;
        raw(b, EntryType::Regular, "f/x", "", b"pwned")
    })?;
    let e = extract(&ar[..], &s.dest).err();
    assert!(
        matches!(&e, Some(ExtractError::Unsafe { entry, .. }) if entry == "f/x"),
        "{e:?}"
    );
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn the_destination_itself_cannot_be_replaced() -> Res {
    let s = Sandbox::new()?;
    for kind in [EntryType::Regular, EntryType::Symlink] {
        let ar = tar(|b| raw(b, kind, "./", "/", b""))?;
        assert_eq!(refused(&s, &ar)?, ("./".to_owned(), Unsafe::ReplacesRoot));
    }
    assert_eq!(file_type(&s.dest)?, FileType::Directory);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn device_nodes_and_setuid_files_stay_inside() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        let mut h = header(EntryType::Block, 0o666, 0, 0, 1);
        h.set_device_major(8)?;
        h.set_device_minor(0)?;
        b.append_data(&mut h, "dev/sda", std::io::empty())?;
        file(b, "bin/rootshell", b"#!/bin/sh\n", 0o6755, (0, 0))
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(file_type(&s.at("dev/sda"))?, FileType::BlockDevice);
    assert_eq!(lstat(&s.at("bin/rootshell"))?.st_mode & 0o7777, 0o6755);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn bad_headers_name_their_entry() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| raw(b, EntryType::Symlink, "nolink", "", b""))?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("invalid archive entry nolink: it has no link target")
    );
    let ar = tar(|b| {
        b.append_pax_extensions([("SCHILY.xattr.", &b"v"[..])])?;
        file(b, "x", b"", 0o644, (0, 0))
    })?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("invalid archive entry x: it names an extended attribute badly")
    );
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn pax_and_gnu_long_names_are_checked_too() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        b.append_pax_extensions([("path", &b"../victim"[..])])?;
        file(b, "innocent", b"pwned", 0o644, (0, 0))
    })?;
    assert_eq!(refused(&s, &ar)?, ("../victim".to_owned(), Unsafe::DotDot));
    let ar = tar(|b| {
        b.append_pax_extensions([("linkpath", &b"../victim"[..])])?;
        link(b, EntryType::Link, "innocent", "target")
    })?;
    assert_eq!(
        refused(&s, &ar)?,
        ("innocent".to_owned(), Unsafe::LinkDotDot)
    );
    let long = format!("{}/../../victim", "d".repeat(120));
    let ar = tar(|b| {
        let mut name = tar::Header::new_gnu();
        name.set_entry_type(EntryType::GNULongName);
        name.set_size(long.len() as u64 + 1);
        name.set_cksum();
        let mut data = long.clone().into_bytes();
        data.push(0);
        b.append(&name, &data[..])?;
        raw(b, EntryType::Regular, "short", "", b"pwned")
    })?;
    assert_eq!(refused(&s, &ar)?, (long.clone(), Unsafe::DotDot));
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn symlink_loops_fail_cleanly() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        link(b, EntryType::Symlink, "a", "b")?;
        link(b, EntryType::Symlink, "b", "a")?;
        raw(b, EntryType::Regular, "a/x", "", b"")
    })?;
    let e = extract(&ar[..], &s.dest).err();
    assert!(
        matches!(&e, Some(ExtractError::Io { entry, .. }) if entry == "a/x"),
        "{e:?}"
    );
    s.assert_outside_untouched()?;
    Ok(())
}

mod any_archive {
    use proptest::prelude::*;

    use super::*;

    /// Names and link targets hostile archives combine.
    const NAMES: &[&str] = &[
        "a", "a/b", "a/b/c", "s", "s/x", "s/x/y", "h", "/a/z", "./s/", "t", "t/u",
    ];
    const TARGETS: &[&str] = &[
        "/",
        "..",
        "../..",
        "a",
        "a/b",
        "s",
        "./",
        "/etc",
        "VICTIM",
        "VICTIM_DIR",
    ];

    #[derive(Debug, Clone)]
    enum E {
        File(usize),
        Dir(usize),
        Symlink(usize, usize),
        HardLink(usize, usize),
        Node(usize),
    }

    fn entry() -> impl Strategy<Value = E> {
        let n = 0..NAMES.len();
        let t = 0..TARGETS.len();
        prop_oneof![
            n.clone().prop_map(E::File),
            n.clone().prop_map(E::Dir),
            (n.clone(), t.clone()).prop_map(|(a, b)| E::Symlink(a, b)),
            (n.clone(), 0..NAMES.len()).prop_map(|(a, b)| E::HardLink(a, b)),
            n.prop_map(E::Node),
        ]
    }

    fn build(s: &Sandbox, entries: &[E]) -> std::io::Result<Vec<u8>> {
        let victim = s.victim().to_string_lossy().into_owned();
        let victim_dir = s.dir.path().to_string_lossy().into_owned();
        let target = |i: usize| match TARGETS[i] {
            "VICTIM" => victim.clone(),
            "VICTIM_DIR" => victim_dir.clone(),
            t => t.to_owned(),
        };
        tar(|b| {
            for e in entries {
                match *e {
                    E::File(n) => raw(b, EntryType::Regular, NAMES[n], "", b"pwned")?,
                    E::Dir(n) => raw(b, EntryType::Directory, NAMES[n], "", b"")?,
                    E::Symlink(n, t) => raw(b, EntryType::Symlink, NAMES[n], &target(t), b"")?,
                    E::HardLink(n, t) => raw(b, EntryType::Link, NAMES[n], NAMES[t], b"")?,
                    E::Node(n) => raw(b, EntryType::Fifo, NAMES[n], "", b"")?,
                }
            }
            Ok(())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn nothing_outside_ever_changes(entries in prop::collection::vec(entry(), 1..10)) {
            let s = Sandbox::new().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let ar = build(&s, &entries).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let _ = extract(&ar[..], &s.dest);
            s.assert_outside_untouched().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(file_type(&s.dest).ok(), Some(FileType::Directory));
        }
    }
}
