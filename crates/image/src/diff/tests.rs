use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::same::{Buffers, same};
use super::{Side, merge, strip_dot, whiteout_of};

fn names(v: &[&[u8]]) -> Vec<OsString> {
    v.iter().map(|n| OsString::from_vec(n.to_vec())).collect()
}

#[test]
fn merge_keeps_byte_order_and_says_where_each_name_is() {
    let lower = names(&[b"A", b"b", b"c", b"\xff"]);
    let upper = names(&[b"B", b"b", b"d", b"\xfe"]);
    let got: Vec<(Vec<u8>, Side)> = merge(lower, upper)
        .into_iter()
        .map(|(n, s)| (n.into_vec(), s))
        .collect();
    let want: Vec<(Vec<u8>, Side)> = vec![
        (b"A".to_vec(), Side::Lower),
        (b"B".to_vec(), Side::Upper),
        (b"b".to_vec(), Side::Both),
        (b"c".to_vec(), Side::Lower),
        (b"d".to_vec(), Side::Upper),
        (b"\xfe".to_vec(), Side::Upper),
        (b"\xff".to_vec(), Side::Lower),
    ];
    assert_eq!(got, want);
}

#[test]
fn merge_of_empty_sides() {
    assert!(merge(Vec::new(), Vec::new()).is_empty());
    let only = merge(names(&[b"x"]), Vec::new());
    assert_eq!(only, vec![(OsString::from("x"), Side::Lower)]);
}

#[test]
fn a_whiteout_stands_beside_its_name() {
    assert_eq!(whiteout_of(Path::new("etc")), Path::new(".wh.etc"));
    assert_eq!(
        whiteout_of(Path::new("usr/lib/x.so")),
        Path::new("usr/lib/.wh.x.so")
    );
    assert_eq!(strip_dot(Path::new("./")), Path::new(""));
    assert_eq!(strip_dot(Path::new("a")), Path::new("a"));
}

/// Sets a regular file's modification time. (Unit tests cannot reach the
/// host tests' `touch`, which also handles links and directories.)
fn set_mtime(p: &Path, secs: u64) -> std::io::Result<()> {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    fs::File::open(p)?.set_modified(when)
}

/// Two files with the same metadata, differing only in one byte past the
/// first chunk, and then not at all.
#[test]
fn contents_are_compared_past_the_first_chunk() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let mut data = vec![7u8; 300_000];
    fs::write(&a, &data)?;
    data[299_999] = 8;
    fs::write(&b, &data)?;
    for p in [&a, &b] {
        set_mtime(p, 1_600_000_000)?;
    }
    let mut buffers = Buffers::default();
    let meta = |p: &Path| fs::symlink_metadata(p);
    assert!(!same(&a, &meta(&a)?, &b, &meta(&b)?, &mut buffers)?);
    data[299_999] = 7;
    fs::write(&b, &data)?;
    set_mtime(&b, 1_600_000_000)?;
    assert!(same(&a, &meta(&a)?, &b, &meta(&b)?, &mut buffers)?);
    set_mtime(&b, 1_600_000_001)?;
    assert!(!same(&a, &meta(&a)?, &b, &meta(&b)?, &mut buffers)?);
    Ok(())
}
