//! What a root must look like when a command is done: the datasets and
//! image records expected, nothing else on the pool or under the root;
//! and nothing changed outside it.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Root;

/// Asserts that the pool holds exactly the images `uuids` (each with its
/// `@final`) and the datasets `others`, with no `-partial`; that the image
/// database holds exactly their records; and that nothing else was written
/// under the root or at the top of the pool.
pub fn assert_clean(root: &Root, uuids: &[&str], others: &[&str]) {
    let listed = root.pooladm_ok(&["list", "-H", "-t", "all", "-o", "name"]);
    let got: BTreeSet<&str> = listed.lines().collect();
    let mut want: BTreeSet<String> = BTreeSet::from(["zones".to_owned()]);
    for u in uuids {
        want.insert(format!("zones/{u}"));
        want.insert(format!("zones/{u}@final"));
    }
    want.extend(others.iter().map(|o| (*o).to_owned()));
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(got, want, "datasets on the pool");

    let records: BTreeSet<String> = names(&root.path().join("var/imgadm/images"));
    let want: BTreeSet<String> = uuids.iter().map(|u| format!("zones-{u}.json")).collect();
    assert_eq!(records, want, "records in /var/imgadm/images");

    let mut top: BTreeSet<String> = names(&root.pool());
    top.remove(".basalt.lock");
    let snapshots = top.remove(".snapshots");
    let mut leaves: BTreeSet<String> = uuids.iter().map(|u| (*u).to_owned()).collect();
    leaves.extend(others.iter().filter_map(|o| {
        let leaf = o.strip_prefix("zones/")?;
        (!leaf.contains('@')).then(|| leaf.to_owned())
    }));
    assert_eq!(top, leaves, "entries at the top of the pool");
    if snapshots {
        let held = names(&root.pool().join(".snapshots"));
        let want: BTreeSet<String> = uuids.iter().map(|u| format!("{u}@")).collect();
        assert!(held.is_subset(&want), "snapshot directories: {held:?}");
    }

    let stray: Vec<String> = files_under(root.path(), Path::new(""))
        .into_iter()
        .filter(|f| !expected_outside(f, uuids))
        .collect();
    assert!(stray.is_empty(), "stray files under the root: {stray:?}");
}

pub fn names(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(it) => it
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    }
}

/// Files (not directories) under the root, the pool's mount excluded.
fn files_under(root: &Path, rel: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(root.join(rel)).unwrap() {
        let e = e.unwrap();
        let rel = rel.join(e.file_name());
        if rel == Path::new("zones") {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(root, &rel));
        } else {
            out.push(rel.to_str().unwrap().to_owned());
        }
    }
    out
}

/// What imgadm and the pool may leave under the root: the node's config,
/// the pool file and its lock, one log per run, import locks (as SmartOS
/// leaves `/var/run/img.<uuid>.import.lock`), installed images' records and
/// their kept files.
fn expected_outside(f: &str, uuids: &[&str]) -> bool {
    matches!(
        f,
        "usbkey/config" | "var/basalt/zones.btrfs" | "var/basalt/zones.lock"
    ) || (f.starts_with("var/log/vm/logs/") && f.ends_with(".log"))
        || (f.starts_with("var/run/img.") && f.ends_with(".import.lock"))
        || uuids.iter().any(|u| {
            f == format!("var/imgadm/images/zones-{u}.json")
                || f == format!("var/imgadm/files/{u}.file")
        })
}

/// What identifies a file's state: contents, inode, links, mode, mtime.
pub type Print = (Vec<u8>, u64, u64, u32, i64, i64);

pub fn fingerprint(p: &Path) -> Option<Print> {
    let m = fs::symlink_metadata(p).ok()?;
    let data = if m.is_file() {
        fs::read(p).unwrap_or_default()
    } else {
        Vec::new()
    };
    Some((
        data,
        m.ino(),
        m.nlink(),
        m.mode(),
        m.mtime(),
        m.mtime_nsec(),
    ))
}

/// What a hostile archive aims at outside the image: a sentinel directory
/// and file next to the test's inputs, the host's /etc/shadow and
/// /etc/passwd, and host paths named after the test that an escape would
/// create.
pub struct Outside {
    /// A name no one else uses.
    tag: String,
    pub sentinel_dir: PathBuf,
    pub sentinel: PathBuf,
    before: Vec<Option<Print>>,
    /// Host paths that must never appear.
    host: Vec<PathBuf>,
}

impl Outside {
    /// Makes the sentinel in `work`, a directory of the test's own.
    pub fn new(work: &Path) -> Outside {
        let tag = work.file_name().unwrap().to_str().unwrap().to_owned();
        let sentinel_dir = work.join("sentinel");
        fs::create_dir(&sentinel_dir).unwrap();
        let sentinel = sentinel_dir.join("file");
        fs::write(&sentinel, b"sentinel\n").unwrap();
        let mut o = Outside {
            tag,
            sentinel_dir,
            sentinel,
            before: Vec::new(),
            host: Vec::new(),
        };
        o.before = o.watched().iter().map(|p| fingerprint(p)).collect();
        o
    }

    fn watched(&self) -> [&Path; 3] {
        [
            &self.sentinel,
            Path::new("/etc/shadow"),
            Path::new("/etc/passwd"),
        ]
    }

    /// `<dir>/<tag>-<what>`, a host path an escape would write.
    pub fn host_path(&mut self, dir: &str, what: &str) -> String {
        let p = format!("{dir}/{}-{what}", self.tag);
        self.host.push(PathBuf::from(&p));
        p
    }

    /// What changed outside, if anything.
    pub fn changed(&self) -> Vec<String> {
        let after = self.watched().map(fingerprint);
        let mut out = Vec::new();
        for ((p, b), a) in self.watched().iter().zip(&self.before).zip(&after) {
            if b != a {
                out.push(format!("{} changed", p.display()));
            }
        }
        for p in self.host.iter().filter(|p| p.exists()) {
            out.push(format!("{} was written", p.display()));
        }
        let held = names(&self.sentinel_dir);
        if held != BTreeSet::from(["file".to_owned()]) {
            out.push(format!("the sentinel directory holds {held:?}"));
        }
        out
    }
}
