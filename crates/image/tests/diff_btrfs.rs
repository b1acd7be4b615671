//! Host tests (as root): layers between a btrfs subvolume and its
//! snapshot, where unchanged files keep their inode numbers and ctimes.
//! They need `mkfs.btrfs`, `btrfs`, `mount` and loop devices; a missing
//! one fails the test and says so.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use basalt_image::diff::diff;
use basalt_image::extract::extract_layer;

use common::*;

/// A btrfs file system in a loop file, mounted under its own temporary
/// directory, unmounted on drop.
struct Btrfs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

fn run(argv: &[&str], args: &[&Path]) -> Res {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {} (host tests need it): {e}", argv[0]))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{argv:?} {args:?} failed ({}): {err}", out.status).into());
    }
    Ok(())
}

impl Btrfs {
    fn new() -> Res<Btrfs> {
        let dir = tempfile::Builder::new()
            .prefix("basalt-image-diff-btrfs-")
            .tempdir()?;
        let file = dir.path().join("pool.img");
        fs::File::create(&file)?.set_len(256 << 20)?;
        run(&["mkfs.btrfs", "-q"], &[&file])?;
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt)?;
        run(&["mount", "-o", "loop"], &[&file, &mnt])?;
        Ok(Btrfs { _dir: dir, mnt })
    }

    fn subvolume(&self, name: &str) -> Res<PathBuf> {
        let path = self.mnt.join(name);
        run(&["btrfs", "-q", "subvolume", "create"], &[&path])?;
        Ok(path)
    }

    fn snapshot(&self, from: &Path, name: &str) -> Res<PathBuf> {
        let path = self.mnt.join(name);
        run(&["btrfs", "-q", "subvolume", "snapshot"], &[from, &path])?;
        Ok(path)
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
    }
}

fn build(top: &Path) -> Res {
    for d in ["etc", "bin", "var/log"] {
        fs::create_dir_all(top.join(d))?;
    }
    fs::write(top.join("etc/hosts"), b"127.0.0.1 alpha\n")?;
    fs::write(top.join("etc/motd"), b"welcome\n")?;
    fs::write(top.join("bin/sh"), vec![0x5au8; 1 << 20])?;
    fs::write(top.join("var/log/old"), b"rotated")?;
    std::os::unix::fs::symlink("../etc/hosts", top.join("bin/hosts"))?;
    Ok(())
}

/// A file system holding the subvolume `lower`, built, and its snapshot
/// `upper`.
fn built_and_snapshotted() -> Res<(Btrfs, PathBuf, PathBuf)> {
    let b = Btrfs::new()?;
    let lower = b.subvolume("lower")?;
    build(&lower)?;
    let upper = b.snapshot(&lower, "upper")?;
    Ok((b, lower, upper))
}

fn names(layer: &[u8]) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for e in tar::Archive::new(layer).entries()? {
        let mut e = e?;
        out.push(e.path()?.to_string_lossy().into_owned());
        e.read_to_end(&mut Vec::new())?;
    }
    Ok(out)
}

#[test]
fn an_untouched_snapshot_gives_an_empty_layer() -> Res {
    let (_b, lower, upper) = built_and_snapshotted()?;
    let (layer, summary) = diff(&lower, &upper, Vec::new())?;
    assert_eq!(names(&layer)?, Vec::<String>::new());
    assert_eq!((summary.entries, summary.whiteouts), (0, 0));
    assert_eq!(summary.unchanged, 10);
    Ok(())
}

#[test]
fn changes_in_a_snapshot_are_found_even_behind_kept_times() -> Res {
    let (b, lower, upper) = built_and_snapshotted()?;
    let hosts = upper.join("etc/hosts");
    let before = fs::symlink_metadata(&hosts)?;
    // Same inode, same size, same mtime: only the ctime moved.
    fs::OpenOptions::new()
        .write(true)
        .open(&hosts)?
        .write_all_at(b"omega", 10)?;
    set_times(&hosts, before.mtime(), before.mtime_nsec())?;
    set_xattr(&upper.join("etc/motd"), "user.tag", b"1")?;
    let log = upper.join("var/log");
    let log_meta = fs::symlink_metadata(&log)?;
    fs::remove_file(log.join("old"))?;
    set_times(&log, log_meta.mtime(), log_meta.mtime_nsec())?;
    fs::write(upper.join("bin/new"), b"new")?;
    let (layer, summary) = diff(&lower, &upper, Vec::new())?;
    // etc and var/log keep their metadata, but their names change when
    // the layer is applied: their entries restore their times.
    let want = [
        "bin",
        "bin/new",
        "etc",
        "etc/hosts",
        "etc/motd",
        "var/log",
        "var/log/.wh.old",
    ];
    assert_eq!(names(&layer)?, want);
    assert_eq!((summary.entries, summary.whiteouts), (6, 1));
    let applied = b.snapshot(&lower, "applied")?;
    extract_layer(&layer[..], &applied)?;
    for rel in ["etc", "etc/hosts", "var/log", "bin", "bin/new"] {
        let (want, got) = (upper.join(rel), applied.join(rel));
        let (w, g) = (fs::symlink_metadata(&want)?, fs::symlink_metadata(&got)?);
        assert_eq!((w.mode(), w.mtime()), (g.mode(), g.mtime()), "{rel}");
    }
    assert_eq!(fs::read(applied.join("etc/hosts"))?, fs::read(&hosts)?);
    assert_eq!(xattr(&applied.join("etc/motd"), "user.tag")?, b"1");
    assert!(!applied.join("var/log/old").exists());
    Ok(())
}
