//! Host tests: every verb on real btrfs pools, each test with its own pool
//! file loop-mounted under its own temporary directory. They need root,
//! btrfs-progs and loop devices, and fail (never skip) without them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use basalt_pool::embedded::{self, PoolSpec, Source};
use basalt_pool::{DatasetName, Kind, Pool, PoolError, SnapshotName};

struct TestPool {
    dir: tempfile::TempDir,
    spec: PoolSpec,
    pool: Pool,
}

impl TestPool {
    fn new(name: &str) -> TestPool {
        assert!(
            nix::unistd::geteuid().is_root(),
            "pool tests need root (CI runs as root)"
        );
        for tool in ["mkfs.btrfs", "btrfs", "mount", "chattr"] {
            assert!(
                std::process::Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{tool} is missing: install btrfs-progs (scripts/test does)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("basalt-pool-test-")
            .tempdir()
            .unwrap();
        let spec = PoolSpec {
            name: name.to_owned(),
            mountpoint: dir.path().join("mnt"),
            source: Source::File {
                path: dir.path().join("pool.btrfs"),
                size: Some(1 << 30),
            },
            lock: dir.path().join("pool.lock"),
        };
        let pool = embedded::ensure(&spec).expect("pool file created and mounted");
        TestPool { dir, spec, pool }
    }

    fn ds(&self, rel: &str) -> DatasetName {
        DatasetName::parse(&format!("{}/{rel}", self.pool.name())).unwrap()
    }

    fn snap(&self, rel: &str) -> SnapshotName {
        SnapshotName::parse(&format!("{}/{rel}", self.pool.name())).unwrap()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.pool.path_of(&self.ds(rel))
    }
}

impl Drop for TestPool {
    fn drop(&mut self) {
        let _ = embedded::detach(&self.spec);
        let _ = &self.dir;
    }
}

fn names(pool: &Pool) -> Vec<String> {
    pool.list().unwrap().into_iter().map(|d| d.name).collect()
}

#[test]
fn create_list_and_names() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("a"), None).unwrap();
    t.pool.create(&t.ds("a/b"), None).unwrap();
    t.pool.create(&t.ds("vol"), Some(64 << 20)).unwrap();
    assert_eq!(names(&t.pool), ["tank", "tank/a", "tank/a/b", "tank/vol"]);
    let a = t.pool.get("tank/a").unwrap();
    assert_eq!(a.kind, Kind::Filesystem);
    assert_eq!(a.mountpoint.as_deref(), Some(t.path("a").as_path()));
    let vol = t.pool.get("tank/vol").unwrap();
    assert_eq!(
        (vol.kind, vol.volsize, vol.mountpoint.clone()),
        (Kind::Volume, Some(64 << 20), None)
    );
    let file = t.pool.volume_file(&t.ds("vol"));
    assert_eq!(fs::metadata(&file).unwrap().len(), 64 << 20);
    let e = t.pool.create(&t.ds("a"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create 'tank/a': dataset already exists"
    );
    let e = t.pool.create(&t.ds("x/y"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create 'tank/x/y': parent does not exist"
    );
    let e = t.pool.create(&t.ds(".snapshots"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create 'tank/.snapshots': the name is reserved"
    );
    assert!(matches!(
        t.pool.get("tank/none"),
        Err(PoolError::NotFound(_))
    ));
}

#[test]
fn snapshots_are_read_only_and_clones_writable_with_origin() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("img"), None).unwrap();
    fs::write(t.path("img").join("hello"), "world").unwrap();
    t.pool.snapshot(&t.snap("img@final")).unwrap();
    let snap_dir = t.pool.snapshot_path(&t.snap("img@final"));
    let err = fs::write(snap_dir.join("new"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()), "{err}");
    t.pool
        .clone_snapshot(&t.snap("img@final"), &t.ds("vm1"))
        .unwrap();
    assert_eq!(
        fs::read_to_string(t.path("vm1").join("hello")).unwrap(),
        "world"
    );
    fs::write(t.path("vm1").join("hello"), "changed").unwrap();
    assert_eq!(
        fs::read_to_string(t.path("img").join("hello")).unwrap(),
        "world"
    );
    let vm1 = t.pool.get("tank/vm1").unwrap();
    assert_eq!(vm1.origin.as_deref(), Some("tank/img@final"));
    assert_eq!(
        names(&t.pool),
        ["tank", "tank/img", "tank/img@final", "tank/vm1"]
    );
    let e = t.pool.snapshot(&t.snap("img@final")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create 'tank/img@final': dataset already exists"
    );
    let e = t
        .pool
        .clone_snapshot(&t.snap("img@nope"), &t.ds("vm2"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot open 'tank/img@nope': dataset does not exist"
    );
}

fn libc_erofs() -> i32 {
    nix::errno::Errno::EROFS as i32
}

#[test]
fn destroy_refuses_children_and_dependents_in_zfs_words() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("img"), None).unwrap();
    t.pool.snapshot(&t.snap("img@final")).unwrap();
    t.pool
        .clone_snapshot(&t.snap("img@final"), &t.ds("vm1"))
        .unwrap();
    t.pool.create(&t.ds("vm1/data"), None).unwrap();
    let e = t.pool.destroy("tank/img", false, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot destroy 'tank/img': filesystem has children\nuse '-r' to destroy the following datasets:\ntank/img@final"
    );
    let e = t.pool.destroy("tank/img@final", false, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot destroy 'tank/img@final': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\ntank/vm1"
    );
    let e = t.pool.destroy("tank/img", true, false).unwrap_err();
    assert!(e.to_string().contains("has dependent clones"), "{e}");
    t.pool.destroy("tank/img", true, true).unwrap();
    assert_eq!(names(&t.pool), ["tank"]);
    assert!(!t.path("vm1").exists());
    let e = t.pool.destroy("tank/gone", false, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot open 'tank/gone': dataset does not exist"
    );
}

#[test]
fn rollback_restores_content_keeps_children_and_quota() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("z"), None).unwrap();
    fs::write(t.path("z").join("f"), "one").unwrap();
    t.pool.snapshot(&t.snap("z@s1")).unwrap();
    t.pool.create(&t.ds("z/kid"), None).unwrap();
    fs::write(t.path("z/kid").join("k"), "kid").unwrap();
    fs::write(t.path("z").join("f"), "two").unwrap();
    fs::write(t.path("z").join("g"), "new").unwrap();
    t.pool.snapshot(&t.snap("z@s2")).unwrap();
    t.pool.set_quota(&t.ds("z"), Some(100 << 20)).unwrap();
    let e = t.pool.rollback(&t.snap("z@s1"), false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot rollback to 'tank/z@s1': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\ntank/z@s2"
    );
    t.pool.rollback(&t.snap("z@s1"), true).unwrap();
    assert_eq!(fs::read_to_string(t.path("z").join("f")).unwrap(), "one");
    assert!(!t.path("z").join("g").exists());
    assert_eq!(
        fs::read_to_string(t.path("z/kid").join("k")).unwrap(),
        "kid",
        "child dataset kept"
    );
    assert_eq!(
        names(&t.pool),
        ["tank", "tank/z", "tank/z@s1", "tank/z/kid"]
    );
    assert_eq!(t.pool.get("tank/z").unwrap().quota, Some(100 << 20));
    assert_eq!(
        t.pool.get("tank/z").unwrap().origin,
        None,
        "a rollback is not a clone"
    );
}

#[test]
fn quota_stops_writes_with_edquot_and_clears() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("q"), None).unwrap();
    t.pool.set_quota(&t.ds("q"), Some(8 << 20)).unwrap();
    assert_eq!(t.pool.get("tank/q").unwrap().quota, Some(8 << 20));
    let err = write_mib(&t.path("q").join("big"), 32).unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(nix::errno::Errno::EDQUOT as i32),
        "{err}"
    );
    fs::remove_file(t.path("q").join("big")).unwrap();
    t.pool.set_quota(&t.ds("q"), None).unwrap();
    assert_eq!(t.pool.get("tank/q").unwrap().quota, None);
    write_mib(&t.path("q").join("big"), 32).unwrap();
}

fn write_mib(path: &Path, mib: usize) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    let chunk = vec![0x5au8; 1 << 20];
    for _ in 0..mib {
        f.write_all(&chunk)?;
        f.sync_data()?;
    }
    f.sync_all()
}

/// Everything about a file tree that a round trip must keep.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let mut xattrs: Vec<String> = xattr::list(&p)
            .unwrap()
            .map(|n| {
                let v = xattr::get(&p, &n).unwrap().unwrap_or_default();
                format!("{}={:?}", n.to_string_lossy(), v)
            })
            .collect();
        xattrs.sort();
        let content = if m.file_type().is_symlink() {
            format!("-> {}", fs::read_link(&p).unwrap().display())
        } else if m.is_file() {
            format!("{:?}", fs::read(&p).unwrap())
        } else {
            String::new()
        };
        out.insert(
            rel,
            format!(
                "{:o} {}:{} {} {}",
                m.mode(),
                m.uid(),
                m.gid(),
                content,
                xattrs.join(",")
            ),
        );
        if m.is_dir() {
            walk(root, &p, out);
        }
    }
}

fn populate(dir: &Path) {
    fs::create_dir_all(dir.join("etc/sub")).unwrap();
    fs::write(dir.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    fs::set_permissions(dir.join("etc/passwd"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(dir.join("etc/sub/secret"), "s").unwrap();
    fs::set_permissions(
        dir.join("etc/sub/secret"),
        fs::Permissions::from_mode(0o4750),
    )
    .unwrap();
    std::os::unix::fs::chown(dir.join("etc/sub/secret"), Some(1234), Some(5678)).unwrap();
    std::os::unix::fs::symlink("passwd", dir.join("etc/link")).unwrap();
    fs::hard_link(dir.join("etc/passwd"), dir.join("etc/hard")).unwrap();
    xattr::set(dir.join("etc/passwd"), "user.role", b"db").unwrap();
    xattr::set(
        dir.join("etc/sub/secret"),
        "security.capability",
        &[0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
}

#[test]
fn send_receive_round_trip_full_and_incremental() {
    let a = TestPool::new("src");
    let b = TestPool::new("dst");
    a.pool.create(&a.ds("fs"), None).unwrap();
    populate(&a.path("fs"));
    a.pool.snapshot(&a.snap("fs@one")).unwrap();
    let mut stream = Vec::new();
    a.pool.send(&a.snap("fs@one"), None, &mut stream).unwrap();
    let got = b
        .pool
        .receive(&b.ds("copy"), &mut stream.as_slice(), false)
        .unwrap();
    assert_eq!(got.to_string(), "dst/copy@one");
    assert_eq!(tree(&b.path("copy")), tree(&a.path("fs")));
    assert_eq!(names(&b.pool), ["dst", "dst/copy", "dst/copy@one"]);

    fs::write(a.path("fs").join("etc/added"), "later").unwrap();
    fs::remove_file(a.path("fs").join("etc/hard")).unwrap();
    a.pool.snapshot(&a.snap("fs@two")).unwrap();
    let mut incr = Vec::new();
    a.pool
        .send(&a.snap("fs@two"), Some(&a.snap("fs@one")), &mut incr)
        .unwrap();
    assert!(incr.len() < stream.len() + 4096);
    fs::write(b.path("copy").join("local"), "edit").unwrap();
    let e = b
        .pool
        .receive(&b.ds("copy"), &mut incr.as_slice(), false)
        .unwrap_err();
    assert!(e.to_string().contains("has been modified"), "{e}");
    assert_eq!(
        names(&b.pool),
        ["dst", "dst/copy", "dst/copy@one"],
        "a refused receive leaves nothing"
    );
    b.pool
        .receive(&b.ds("copy"), &mut incr.as_slice(), true)
        .unwrap();
    assert_eq!(tree(&b.path("copy")), tree(&a.path("fs")));
    assert_eq!(
        names(&b.pool),
        ["dst", "dst/copy", "dst/copy@one", "dst/copy@two"]
    );
}

#[test]
fn a_broken_stream_leaves_nothing_behind() {
    let a = TestPool::new("src");
    a.pool.create(&a.ds("fs"), None).unwrap();
    fs::write(a.path("fs").join("big"), vec![7u8; 4 << 20]).unwrap();
    a.pool.snapshot(&a.snap("fs@s")).unwrap();
    let mut stream = Vec::new();
    a.pool.send(&a.snap("fs@s"), None, &mut stream).unwrap();
    stream.truncate(stream.len() / 2);
    let b = TestPool::new("dst");
    assert!(
        b.pool
            .receive(&b.ds("copy"), &mut stream.as_slice(), false)
            .is_err()
    );
    assert_eq!(names(&b.pool), ["dst"]);
    assert!(!b.pool.mountpoint().join(".snapshots/copy@").exists());
    let e = b
        .pool
        .receive(&b.ds("no/parent"), &mut &b"junk"[..], false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create 'dst/no/parent': parent does not exist"
    );
}

#[test]
fn the_pool_file_reattaches_and_a_damaged_one_is_refused() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("keep"), None).unwrap();
    fs::write(t.path("keep").join("f"), "persisted").unwrap();
    embedded::detach(&t.spec).unwrap();
    assert!(!embedded::is_mounted(&t.spec.mountpoint));
    let again = embedded::ensure(&t.spec).unwrap();
    assert_eq!(
        fs::read_to_string(t.path("keep").join("f")).unwrap(),
        "persisted"
    );
    assert!(again.get("tank/keep").is_ok());
    embedded::ensure(&t.spec).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.btrfs");
    fs::write(&file, vec![0xa5u8; 4 << 20]).unwrap();
    let spec = PoolSpec {
        name: "bad".into(),
        mountpoint: dir.path().join("mnt"),
        source: Source::File {
            path: file.clone(),
            size: None,
        },
        lock: dir.path().join("lock"),
    };
    let e = embedded::ensure(&spec).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "pool 'bad' is not available: pool file {} could not be mounted (damaged?)",
            file.display()
        )),
        "{e}"
    );
    assert!(!embedded::is_mounted(&spec.mountpoint));
    let missing = PoolSpec {
        source: Source::Device(dir.path().join("nodev")),
        ..spec.clone()
    };
    let e = embedded::ensure(&missing).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "pool 'bad' is not available: pool device {} does not exist",
            dir.path().join("nodev").display()
        )
    );
}

#[test]
fn rename_takes_snapshots_and_children_along_and_clones_keep_their_origin() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("a"), None).unwrap();
    t.pool.create(&t.ds("a/b"), None).unwrap();
    t.pool.snapshot(&t.snap("a@b")).unwrap();
    t.pool.snapshot(&t.snap("a/b@s")).unwrap();
    t.pool.clone_snapshot(&t.snap("a@b"), &t.ds("c")).unwrap();
    assert_eq!(
        names(&t.pool),
        [
            "tank",
            "tank/a",
            "tank/a@b",
            "tank/a/b",
            "tank/a/b@s",
            "tank/c"
        ]
    );
    t.pool.rename(&t.ds("a"), &t.ds("z")).unwrap();
    assert_eq!(
        names(&t.pool),
        [
            "tank",
            "tank/c",
            "tank/z",
            "tank/z@b",
            "tank/z/b",
            "tank/z/b@s"
        ]
    );
    assert_eq!(
        t.pool.get("tank/c").unwrap().origin.as_deref(),
        Some("tank/z@b")
    );
    let e = t.pool.rename(&t.ds("c"), &t.ds("z")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot create 'tank/z': dataset already exists"
    );
}

#[test]
fn a_clone_keeps_its_origin_through_rollback_and_snapshots_list_in_creation_order() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("img"), None).unwrap();
    t.pool.snapshot(&t.snap("img@final")).unwrap();
    t.pool
        .clone_snapshot(&t.snap("img@final"), &t.ds("vm"))
        .unwrap();
    t.pool.snapshot(&t.snap("vm@zz")).unwrap();
    t.pool.snapshot(&t.snap("vm@aa")).unwrap();
    t.pool.rollback(&t.snap("vm@zz"), true).unwrap();
    assert_eq!(
        t.pool.get("tank/vm").unwrap().origin.as_deref(),
        Some("tank/img@final")
    );
    let e = t.pool.destroy("tank/img@final", false, false).unwrap_err();
    assert!(e.to_string().contains("has dependent clones"), "{e}");
    t.pool.snapshot(&t.snap("vm@bb")).unwrap();
    t.pool.snapshot(&t.snap("vm@ab")).unwrap();
    let snaps: Vec<String> = names(&t.pool)
        .into_iter()
        .filter(|n| n.starts_with("tank/vm@"))
        .collect();
    assert_eq!(
        snaps,
        ["tank/vm@zz", "tank/vm@bb", "tank/vm@ab"],
        "in the order they were taken"
    );
}

#[test]
fn rollback_never_moves_a_child_dataset_through_a_link_in_the_snapshot() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("a"), None).unwrap();
    t.pool.create(&t.ds("b"), None).unwrap();
    fs::create_dir(t.path("b").join("etc")).unwrap();
    std::os::unix::fs::symlink(t.path("b").join("etc"), t.path("a").join("tmp")).unwrap();
    t.pool.snapshot(&t.snap("a@s")).unwrap();
    fs::remove_file(t.path("a").join("tmp")).unwrap();
    fs::create_dir(t.path("a").join("tmp")).unwrap();
    let made = std::process::Command::new("btrfs")
        .args(["subvolume", "create"])
        .arg(t.path("a").join("tmp/kid"))
        .output()
        .unwrap();
    assert!(made.status.success());
    assert!(names(&t.pool).contains(&"tank/a/tmp/kid".to_owned()));
    assert!(t.pool.rollback(&t.snap("a@s"), false).is_err());
    assert!(
        !t.path("b").join("etc/kid").exists(),
        "nothing lands in another dataset"
    );
    assert!(
        t.path("a").join("tmp/kid").is_dir(),
        "the refused rollback left the dataset as it was"
    );
    assert_eq!(
        names(&t.pool),
        ["tank", "tank/a", "tank/a@s", "tank/a/tmp/kid", "tank/b"]
    );
}

#[test]
fn names_of_another_pool_are_not_this_pools() {
    let t = TestPool::new("tank");
    t.pool.create(&t.ds("a"), None).unwrap();
    let other = SnapshotName::parse("other/a@s").unwrap();
    assert!(t.pool.snapshot(&other).is_err());
    assert!(
        t.pool
            .set_quota(&DatasetName::parse("other/a").unwrap(), Some(1 << 20))
            .is_err()
    );
    assert_eq!(names(&t.pool), ["tank", "tank/a"]);
}

#[test]
fn receive_follows_zfs_rules_for_full_and_incremental_streams() {
    let a = TestPool::new("src");
    let b = TestPool::new("dst");
    a.pool.create(&a.ds("fs"), None).unwrap();
    fs::write(a.path("fs").join("f"), "1").unwrap();
    a.pool.snapshot(&a.snap("fs@one")).unwrap();
    fs::write(a.path("fs").join("f"), "2").unwrap();
    a.pool.snapshot(&a.snap("fs@two")).unwrap();
    let (mut full, mut incr) = (Vec::new(), Vec::new());
    a.pool.send(&a.snap("fs@one"), None, &mut full).unwrap();
    a.pool
        .send(&a.snap("fs@two"), Some(&a.snap("fs@one")), &mut incr)
        .unwrap();

    let e = b
        .pool
        .receive(&b.ds("nowhere"), &mut incr.as_slice(), false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot receive incremental stream: destination 'dst/nowhere' does not exist"
    );
    assert_eq!(names(&b.pool), ["dst"]);

    b.pool.create(&b.ds("existing"), None).unwrap();
    let e = b
        .pool
        .receive(&b.ds("existing"), &mut incr.as_slice(), false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot receive incremental stream: most recent snapshot of dst/existing does not\nmatch incremental source"
    );
    let e = b
        .pool
        .receive(&b.ds("existing"), &mut full.as_slice(), false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot receive new filesystem stream: destination 'dst/existing' exists\nmust specify -F to overwrite it"
    );
    assert_eq!(names(&b.pool), ["dst", "dst/existing"]);
    b.pool
        .receive(&b.ds("existing"), &mut full.as_slice(), true)
        .unwrap();
    assert_eq!(
        fs::read_to_string(b.path("existing").join("f")).unwrap(),
        "1"
    );
    b.pool
        .receive(&b.ds("existing"), &mut incr.as_slice(), false)
        .unwrap();
    assert_eq!(
        fs::read_to_string(b.path("existing").join("f")).unwrap(),
        "2"
    );
}

#[test]
fn the_next_pool_lock_finishes_a_replacement_a_killed_process_left() {
    let t = TestPool::new("tank");
    let top = t.pool.mountpoint().to_owned();
    let btrfs = |args: &[&str]| {
        let out = std::process::Command::new("btrfs")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    t.pool.create(&t.ds("a"), None).unwrap();
    fs::write(t.path("a").join("f"), "old").unwrap();
    t.pool.snapshot(&t.snap("a@s")).unwrap();
    t.pool.create(&t.ds("a/kid"), None).unwrap();
    fs::write(t.path("a").join("f"), "new").unwrap();

    // Killed after setting the old subvolume aside, before the snapshot
    // took its place: the old one goes back.
    fs::rename(t.path("a"), top.join(".basalt-old-a")).unwrap();
    assert!(!names(&t.pool).contains(&"tank/a".to_owned()));
    t.pool.create(&t.ds("other"), None).unwrap();
    assert_eq!(fs::read_to_string(t.path("a").join("f")).unwrap(), "new");
    assert!(names(&t.pool).contains(&"tank/a/kid".to_owned()));

    // Killed after the snapshot took its place, before the children moved:
    // the children move over and the old subvolume goes.
    fs::rename(t.path("a"), top.join(".basalt-old-a")).unwrap();
    let snap = t.pool.snapshot_path(&t.snap("a@s"));
    btrfs(&[
        "subvolume",
        "snapshot",
        snap.to_str().unwrap(),
        t.path("a").to_str().unwrap(),
    ]);
    t.pool.create(&t.ds("third"), None).unwrap();
    assert_eq!(fs::read_to_string(t.path("a").join("f")).unwrap(), "old");
    assert!(t.path("a/kid").is_dir());
    assert!(!top.join(".basalt-old-a").exists());
    assert_eq!(
        names(&t.pool),
        [
            "tank",
            "tank/a",
            "tank/a@s",
            "tank/a/kid",
            "tank/other",
            "tank/third"
        ]
    );
}
