//! Host tests (as root): what a well-formed archive becomes.

mod common;

use std::fs;

use basalt_image::extract::{ExtractError, extract};
use rustix::fs::{FileType, major, minor};
use tar::{EntryType, Header};

use common::*;

/// `security.capability` granting cap_net_raw, effective (VFS_CAP_REVISION_2).
const CAP_NET_RAW: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

#[test]
fn files_and_directories_keep_modes_owners_and_times() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        dir(b, "etc", 0o750, (0, 4), 1_500_000_000)?;
        file(b, "etc/motd", b"hello\n", 0o640, (1000, 1001))?;
        dir(b, "ro", 0o555, (0, 0), 1_500_000_001)?;
        file(b, "ro/inside", b"x", 0o444, (0, 0))?;
        file(b, "usr/bin/ping", b"\x7fELF", 0o4755, (0, 0))?;
        file(b, "usr/bin/su", b"\x7fELF", 0o4750, (7, 8))?;
        dir(b, "shared", 0o2775, (0, 50), 1_500_000_002)?;
        dir(b, "tmp", 0o1777, (0, 0), 1_500_000_003)
    })?;
    let summary = extract(&ar[..], &s.dest)?;
    assert_eq!((summary.files, summary.dirs, summary.bytes), (4, 4, 15));
    assert_eq!(fs::read(s.at("etc/motd"))?, b"hello\n");
    let check = |p: &str, mode: u32, uid: u32, gid: u32| -> Res {
        let st = lstat(&s.at(p))?;
        assert_eq!(
            (st.st_mode & 0o7777, st.st_uid, st.st_gid),
            (mode, uid, gid),
            "{p}"
        );
        Ok(())
    };
    check("etc", 0o750, 0, 4)?;
    check("etc/motd", 0o640, 1000, 1001)?;
    check("ro", 0o555, 0, 0)?;
    check("ro/inside", 0o444, 0, 0)?;
    check("usr/bin/ping", 0o4755, 0, 0)?;
    check("usr/bin/su", 0o4750, 7, 8)?;
    check("shared", 0o2775, 0, 50)?;
    check("tmp", 0o1777, 0, 0)?;
    check("usr", 0o755, 0, 0)?;
    assert_eq!(lstat(&s.at("etc/motd"))?.st_mtime, 1_600_000_000);
    assert_eq!(
        lstat(&s.at("etc"))?.st_mtime,
        1_500_000_000,
        "directory time set after its contents"
    );
    assert_eq!(lstat(&s.at("ro"))?.st_mtime, 1_500_000_001);
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn xattrs_and_file_capabilities_survive_the_owner_change() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        b.append_pax_extensions([
            ("SCHILY.xattr.security.capability", &CAP_NET_RAW[..]),
            ("SCHILY.xattr.user.origin", &b"debian"[..]),
        ])?;
        file(b, "bin/ping", b"\x7fELF", 0o755, (0, 0))?;
        b.append_pax_extensions([
            ("SCHILY.xattr.user.role", &b"data"[..]),
            ("mtime", &b"1600000000.25"[..]),
        ])?;
        file(b, "owned", b"o", 0o4711, (1000, 1000))?;
        b.append_pax_extensions([("SCHILY.xattr.user.dir", &b"d"[..])])?;
        dir(b, "d", 0o700, (3, 3), 1_400_000_000)?;
        b.append_pax_extensions([("SCHILY.xattr.trusted.link", &b"l"[..])])?;
        link(b, EntryType::Symlink, "l", "bin/ping")
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(
        xattr(&s.at("bin/ping"), "security.capability")?,
        CAP_NET_RAW
    );
    assert_eq!(xattr(&s.at("bin/ping"), "user.origin")?, b"debian");
    assert_eq!(xattr(&s.at("owned"), "user.role")?, b"data");
    assert_eq!(xattr(&s.at("d"), "user.dir")?, b"d");
    assert_eq!(xattr(&s.at("l"), "trusted.link")?, b"l");
    let st = lstat(&s.at("owned"))?;
    assert_eq!((st.st_mode & 0o7777, st.st_uid), (0o4711, 1000));
    assert_eq!(
        (st.st_mtime, st.st_mtime_nsec),
        (1_600_000_000, 250_000_000)
    );
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn links_devices_and_fifos() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        file(b, "a", b"shared inode", 0o644, (0, 0))?;
        link(b, EntryType::Link, "b", "a")?;
        link(b, EntryType::Symlink, "abs", "/usr/bin/nowhere")?;
        link(b, EntryType::Symlink, "rel", "../up/and/away")?;
        let mut h = header(EntryType::Symlink, 0o777, 5, 6, 1_234_567_890);
        b.append_link(&mut h, "owned-link", "a")?;
        let mut null = header(EntryType::Char, 0o666, 0, 0, 1_600_000_000);
        null.set_device_major(1)?;
        null.set_device_minor(3)?;
        b.append_data(&mut null, "dev/null", std::io::empty())?;
        let mut loop0 = header(EntryType::Block, 0o660, 0, 6, 1_600_000_000);
        loop0.set_device_major(7)?;
        loop0.set_device_minor(0)?;
        b.append_data(&mut loop0, "dev/loop0", std::io::empty())?;
        let mut fifo = header(EntryType::Fifo, 0o620, 9, 9, 1_600_000_000);
        b.append_data(&mut fifo, "run/fifo", std::io::empty())
    })?;
    let summary = extract(&ar[..], &s.dest)?;
    assert_eq!(
        (summary.hard_links, summary.symlinks, summary.nodes),
        (1, 3, 3)
    );
    let (a, bb) = (lstat(&s.at("a"))?, lstat(&s.at("b"))?);
    assert_eq!((a.st_ino, a.st_nlink), (bb.st_ino, 2));
    assert_eq!(
        fs::read_link(s.at("abs"))?.to_str(),
        Some("/usr/bin/nowhere")
    );
    assert_eq!(fs::read_link(s.at("rel"))?.to_str(), Some("../up/and/away"));
    let ol = lstat(&s.at("owned-link"))?;
    assert_eq!((ol.st_uid, ol.st_gid, ol.st_mtime), (5, 6, 1_234_567_890));
    let null = lstat(&s.at("dev/null"))?;
    assert_eq!(file_type(&s.at("dev/null"))?, FileType::CharacterDevice);
    assert_eq!(
        (
            major(null.st_rdev),
            minor(null.st_rdev),
            null.st_mode & 0o7777
        ),
        (1, 3, 0o666)
    );
    let lp = lstat(&s.at("dev/loop0"))?;
    assert_eq!(file_type(&s.at("dev/loop0"))?, FileType::BlockDevice);
    assert_eq!(
        (major(lp.st_rdev), lp.st_mode & 0o7777, lp.st_gid),
        (7, 0o660, 6)
    );
    let fifo = lstat(&s.at("run/fifo"))?;
    assert_eq!(file_type(&s.at("run/fifo"))?, FileType::Fifo);
    assert_eq!((fifo.st_mode & 0o7777, fifo.st_uid), (0o620, 9));
    s.assert_outside_untouched()?;
    Ok(())
}

#[test]
fn the_root_entry_sets_the_destinations_metadata() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        let mut h = header(EntryType::Directory, 0o711, 0, 3, 1_111_111_111);
        let bytes = h.as_mut_bytes();
        bytes[..2].copy_from_slice(b"./");
        h.set_cksum();
        b.append(&h, std::io::empty())?;
        file(b, "./x", b"", 0o600, (0, 0))
    })?;
    extract(&ar[..], &s.dest)?;
    let st = lstat(&s.dest)?;
    assert_eq!(
        (st.st_mode & 0o7777, st.st_gid, st.st_mtime),
        (0o711, 3, 1_111_111_111)
    );
    Ok(())
}

#[test]
fn later_entries_replace_earlier_ones() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        file(b, "f", b"first", 0o644, (0, 0))?;
        file(b, "f", b"second", 0o600, (0, 0))?;
        file(b, "g", b"file", 0o644, (0, 0))?;
        link(b, EntryType::Symlink, "g", "f")?;
        dir(b, "d", 0o700, (0, 0), 1)?;
        file(b, "d/in", b"", 0o644, (0, 0))?;
        dir(b, "d", 0o755, (0, 0), 2)?;
        dir(b, "empty", 0o755, (0, 0), 1)?;
        file(b, "empty", b"now a file", 0o644, (0, 0))
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(fs::read(s.at("f"))?, b"second");
    assert_eq!(lstat(&s.at("f"))?.st_mode & 0o777, 0o600);
    assert_eq!(fs::read_link(s.at("g"))?.to_str(), Some("f"));
    assert_eq!(
        (
            lstat(&s.at("d"))?.st_mode & 0o777,
            lstat(&s.at("d"))?.st_mtime
        ),
        (0o755, 2)
    );
    assert!(s.at("d/in").exists());
    assert_eq!(fs::read(s.at("empty"))?, b"now a file");
    Ok(())
}

#[test]
fn a_full_directory_is_not_replaced() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        file(b, "d/in", b"", 0o644, (0, 0))?;
        file(b, "d", b"file over dir", 0o644, (0, 0))
    })?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("failed to replace d"));
    Ok(())
}

#[test]
fn long_names_and_large_files() -> Res {
    let s = Sandbox::new()?;
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(200));
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let ar = tar(|b| {
        file(b, &long, b"deep", 0o644, (0, 0))?;
        link(b, EntryType::Symlink, "to-long", &long)?;
        file(b, "big", &big, 0o644, (0, 0))
    })?;
    extract(&ar[..], &s.dest)?;
    assert_eq!(fs::read(s.dest.join(&long))?, b"deep");
    assert_eq!(
        fs::read_link(s.at("to-long"))?.to_str(),
        Some(long.as_str())
    );
    assert!(fs::read(s.at("big"))? == big);
    Ok(())
}

#[test]
fn a_truncated_archive_is_a_read_error() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        file(b, "ok", b"fine", 0o644, (0, 0))?;
        file(b, "cut", &[7u8; 5000], 0o644, (0, 0))
    })?;
    let e = extract(&ar[..1024 + 512 + 1000], &s.dest).err();
    assert!(matches!(e, Some(ExtractError::Read { .. })), "{e:?}");
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("failed to read the archive after entry ok")
    );
    Ok(())
}

#[test]
fn unsupported_entry_types_are_named() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::new(b'V'));
        h.set_size(0);
        h.set_path("volume-label")?;
        h.set_cksum();
        b.append(&h, std::io::empty())
    })?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("unsupported archive entry volume-label: type 'V'")
    );
    Ok(())
}

#[test]
fn a_missing_destination_is_reported() {
    let e = extract(&[][..], std::path::Path::new("/nonexistent/basalt")).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("failed to open destination directory /nonexistent/basalt")
    );
}

#[test]
fn binary_attributes_may_hold_newlines_and_named_acls_are_counted() -> Res {
    let s = Sandbox::new()?;
    // cap_dac_override and cap_fowner: the first byte of the set is '\n'.
    let mut cap = CAP_NET_RAW;
    cap[4..6].copy_from_slice(&[0x0a, 0x00]);
    let ar = tar(|b| {
        b.append_pax_extensions([
            ("SCHILY.xattr.security.capability", &cap[..]),
            ("SCHILY.xattr.user.lines", &b"one\ntwo\n"[..]),
        ])?;
        file(b, "bin/tool", b"\x7fELF", 0o755, (0, 0))?;
        b.append_pax_extensions([(
            "SCHILY.acl.access",
            &b"user::rw-\nuser:lisa:r--\ngroup::r--\nmask::r--\nother::r--\n"[..],
        )])?;
        file(b, "named-acl", b"", 0o644, (0, 0))?;
        b.append_pax_extensions([(
            "SCHILY.acl.access",
            &b"user::rw-\ngroup::r--\nother::r--\n"[..],
        )])?;
        file(b, "trivial-acl", b"", 0o640, (0, 0))
    })?;
    let summary = extract(&ar[..], &s.dest)?;
    assert_eq!(xattr(&s.at("bin/tool"), "security.capability")?, cap);
    assert_eq!(xattr(&s.at("bin/tool"), "user.lines")?, b"one\ntwo\n");
    assert_eq!(summary.skipped_acls, 1);
    assert!(xattr(&s.at("named-acl"), "system.posix_acl_access").is_err());
    assert_eq!(lstat(&s.at("trivial-acl"))?.st_mode & 0o777, 0o640);
    Ok(())
}

#[test]
fn sparse_members_are_refused() -> Res {
    let s = Sandbox::new()?;
    let ar = tar(|b| {
        b.append_pax_extensions([
            ("GNU.sparse.major", &b"1"[..]),
            ("GNU.sparse.minor", &b"0"[..]),
        ])?;
        file(b, "sparse", b"packed map and data", 0o644, (0, 0))
    })?;
    let e = extract(&ar[..], &s.dest).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("unsupported archive entry sparse: type 'S'")
    );
    Ok(())
}
