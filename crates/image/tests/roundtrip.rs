//! Host tests (as root): a tree archived and extracted again is the same
//! tree: contents, modes, owners, times, links, devices, extended
//! attributes.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use basalt_image::archive::archive;
use basalt_image::extract::extract;
use rustix::fs::{CWD, FileType, Mode, makedev};

use common::*;

const CAP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Everything a path is, as compared between two trees.
#[derive(Debug, PartialEq, Eq)]
struct Node {
    kind: String,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    rdev: u64,
    content: Vec<u8>,
    xattrs: Vec<(String, Vec<u8>)>,
    /// Index of the first path sharing this inode (hard links).
    link_group: usize,
}

fn describe(top: &Path) -> Res<BTreeMap<String, Node>> {
    let mut out = BTreeMap::new();
    let mut inodes: Vec<u64> = Vec::new();
    let mut paths = vec![top.to_owned()];
    while let Some(p) = paths.pop() {
        let st = lstat(&p)?;
        let kind = FileType::from_raw_mode(st.st_mode);
        let content = match kind {
            FileType::RegularFile => fs::read(&p)?,
            FileType::Symlink => fs::read_link(&p)?.into_os_string().into_encoded_bytes(),
            FileType::Directory => {
                for e in fs::read_dir(&p)? {
                    paths.push(e?.path());
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        let group = match inodes.iter().position(|&i| i == st.st_ino) {
            Some(i) if kind != FileType::Directory => i,
            _ => {
                inodes.push(st.st_ino);
                inodes.len() - 1
            }
        };
        let rel = p.strip_prefix(top)?.to_string_lossy().into_owned();
        let node = Node {
            kind: format!("{kind:?}"),
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: st.st_mtime,
            rdev: st.st_rdev,
            content,
            xattrs: list_xattrs(&p)?,
            link_group: group,
        };
        out.insert(rel, node);
    }
    // Group numbers depend on walk order; name each group by its first path.
    let firsts: BTreeMap<usize, String> = out
        .iter()
        .rev()
        .map(|(k, n)| (n.link_group, k.clone()))
        .collect();
    let index: Vec<String> = firsts.values().cloned().collect();
    for n in out.values_mut() {
        n.link_group = index
            .iter()
            .position(|k| *k == firsts[&n.link_group])
            .unwrap_or(usize::MAX);
    }
    Ok(out)
}

fn chown(p: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
}

/// A tree with one of everything.
fn build(top: &Path) -> Res {
    let p = |r: &str| top.join(r);
    for d in ["etc", "usr/bin", "tmp", "dev", "empty", &"n".repeat(150)] {
        fs::create_dir_all(p(d))?;
    }
    fs::write(p("etc/passwd"), PASSWD)?;
    fs::write(p("usr/bin/ping"), b"\x7fELF ping")?;
    fs::write(p("usr/bin/sudo"), vec![0xa5u8; 200_000])?;
    fs::write(
        p(&format!("{}/{}", "n".repeat(150), "f".repeat(120))),
        b"long",
    )?;
    fs::hard_link(p("usr/bin/sudo"), p("usr/bin/sudoedit"))?;
    symlink("/usr/bin/ping", p("bin-ping"))?;
    symlink("../etc/passwd", p("tmp/rel"))?;
    rustix::fs::mknodat(
        CWD,
        p("dev/null"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        makedev(1, 3),
    )?;
    rustix::fs::mknodat(
        CWD,
        p("dev/loop7"),
        FileType::BlockDevice,
        Mode::from_raw_mode(0o660),
        makedev(7, 7),
    )?;
    rustix::fs::mknodat(
        CWD,
        p("tmp/fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )?;
    chown(&p("etc/passwd"), 0, 0)?;
    chown(&p("usr/bin/sudo"), 0, 27)?;
    chmod(&p("usr/bin/sudo"), 0o4750)?;
    chmod(&p("tmp"), 0o1777)?;
    chmod(&p("dev/null"), 0o666)?;
    chown(&p("tmp/rel"), 1000, 1000)?;
    chown(&p("empty"), 1000, 100)?;
    chmod(&p("empty"), 0o2750)?;
    chmod(top, 0o755)?;
    set_xattr(&p("usr/bin/ping"), "security.capability", &CAP)?;
    set_xattr(&p("etc/passwd"), "user.note", b"kept")?;
    set_xattr(&p("empty"), "user.dir", b"yes")?;
    set_xattr(&p("bin-ping"), "trusted.on-a-link", b"1")?;
    let mut all = describe(top)?.into_keys().collect::<Vec<_>>();
    all.push(String::new());
    for (i, rel) in all.iter().enumerate() {
        touch(&top.join(rel), 1_600_000_000 + i as i64)?;
    }
    Ok(())
}

#[test]
fn archive_then_extract_reproduces_the_tree() -> Res {
    let src = tempfile::tempdir()?;
    build(src.path())?;
    let before = describe(src.path())?;
    let (bytes, summary) = archive(src.path(), Vec::new())?;
    assert_eq!(summary.skipped_sockets, 0);
    assert!(
        (200_000..400_000).contains(&summary.bytes),
        "a hard link stores its data once"
    );
    let s = Sandbox::new()?;
    extract(&bytes[..], &s.dest)?;
    let after = describe(&s.dest)?;
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, node) in &before {
        assert_eq!(Some(node), after.get(path), "{path:?}");
    }
    assert_eq!(
        after["usr/bin/sudo"].link_group,
        after["usr/bin/sudoedit"].link_group
    );
    assert_eq!(after["usr/bin/ping"].xattrs[0].1, CAP);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn the_same_tree_gives_the_same_archive() -> Res {
    let src = tempfile::tempdir()?;
    build(src.path())?;
    let (a, _) = archive(src.path(), Vec::new())?;
    let (b, _) = archive(src.path(), Vec::new())?;
    assert!(a == b);
    Ok(())
}

#[test]
fn sockets_are_skipped() -> Res {
    let src = tempfile::tempdir()?;
    let _listener = std::os::unix::net::UnixListener::bind(src.path().join("sock"))?;
    fs::write(src.path().join("f"), b"x")?;
    let (bytes, summary) = archive(src.path(), Vec::new())?;
    assert_eq!((summary.entries, summary.skipped_sockets), (2, 1));
    let s = Sandbox::new()?;
    extract(&bytes[..], &s.dest)?;
    assert!(!s.at("sock").exists() && s.at("f").exists());
    Ok(())
}

#[test]
fn gnu_tars_archives_extract_to_the_same_tree() -> Res {
    let src = tempfile::tempdir()?;
    build(src.path())?;
    let out = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-C"])
        .arg(src.path())
        .args(["-cf", "-", "."])
        .output()?;
    assert!(
        out.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Sandbox::new()?;
    extract(&out.stdout[..], &s.dest)?;
    assert_eq!(describe(src.path())?, describe(&s.dest)?);
    Ok(())
}

#[test]
fn gnu_tar_extracts_basalts_archives_to_the_same_tree() -> Res {
    let src = tempfile::tempdir()?;
    build(src.path())?;
    let (bytes, _) = archive(src.path(), Vec::new())?;
    let s = Sandbox::new()?;
    let mut child = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-C"])
        .arg(&s.dest)
        .args(["-xpf", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, &bytes)?;
    }
    assert!(child.wait()?.success());
    assert_eq!(describe(src.path())?, describe(&s.dest)?);
    Ok(())
}

/// `u::rwx,u:4242:r-x,g::r-x,m::r-x,o::r--` as the kernel stores it (4242:
/// a uid with no name here, so GNU tar writes the number).
const ACL: [u8; 44] = [
    2, 0, 0, 0, //
    1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, //
    2, 0, 5, 0, 0x92, 0x10, 0, 0, //
    4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, //
    0x10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, //
    0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
];

#[test]
fn gnu_tars_acls_become_posix_acls() -> Res {
    let src = tempfile::tempdir()?;
    fs::create_dir(src.path().join("shared"))?;
    fs::write(src.path().join("shared/f"), b"x")?;
    set_xattr(
        &src.path().join("shared/f"),
        "system.posix_acl_access",
        &ACL,
    )?;
    set_xattr(&src.path().join("shared"), "system.posix_acl_default", &ACL)?;
    let out = std::process::Command::new("tar")
        .args(["--format=posix", "--acls", "--numeric-owner", "-C"])
        .arg(src.path())
        .args(["-cf", "-", "."])
        .output()?;
    assert!(
        out.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.windows(17).any(|w| w == b"SCHILY.acl.access"));
    let s = Sandbox::new()?;
    let summary = extract(&out.stdout[..], &s.dest)?;
    assert_eq!(summary.skipped_acls, 0);
    assert_eq!(xattr(&s.at("shared/f"), "system.posix_acl_access")?, ACL);
    assert_eq!(xattr(&s.at("shared"), "system.posix_acl_default")?, ACL);
    assert_eq!(describe(src.path())?, describe(&s.dest)?);
    Ok(())
}
