//! imgadm driven as an operator drives it, as root, each test on its own
//! relocated root and loop-file pool: install, list, get, show, delete and
//! vacuum with SmartOS's messages, streams and exit codes; bad manifests,
//! bad files, hostile archives and killed installs, each of which must leave
//! nothing behind (no dataset, no `-partial`, no record, no stray file).
//!
//! Test images are built by the tests (`common/images.rs`: a tar made with
//! the `tar` crate, gzip, a v2 manifest with the file's sha1 and size),
//! except the real minimal image, which `images/cached` builds once under
//! the target directory. Where SmartOS's source gives the words (errors.js,
//! imgadm.js), the tests expect them.

mod common;

use std::fs;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::Run;
use common::images::{
    Entry, Image, cached_image, gzip, minimal_image, random_bytes, sha1_hex, tar,
};
use common::imgadm::{Failures, Test, expect, expect_error, s};
use common::leftovers::{Outside, assert_clean, fingerprint};
use serde_json::{Value, json};

// ---- install, list, get, show, delete

/// The real minimal image, installed on a fresh root.
struct Minimal {
    t: Test,
    /// Its manifest.
    m: Value,
    uuid: String,
    /// `<uuid> (<name>@<version>)`.
    label: String,
}

impl Minimal {
    fn field(&self, k: &str) -> String {
        self.m[k].as_str().unwrap().to_owned()
    }
}

/// The JSON value a command printed, after checking it succeeded quietly.
fn json_out(r: &Run) -> Value {
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "exit status, stderr");
    serde_json::from_str(&r.stdout).unwrap()
}

/// Serialized, so that key order counts.
fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

fn check_list(img: &Minimal) {
    let (t, uuid) = (&img.t, &img.uuid);
    let (name, version, os) = (img.field("name"), img.field("version"), img.field("os"));
    let published = img.field("published_at");
    let published = match published.split_once('.') {
        Some((s, _)) => format!("{s}Z"),
        None => published,
    };
    let (nw, vw, ow) = (name.len().max(4), version.len().max(7), os.len().max(2));
    let table = format!(
        "{:<36}  {:<nw$}  {:<vw$}  {:<ow$}  PUBLISHED\n\
         {uuid}  {name:<nw$}  {version:<vw$}  {os:<ow$}  {published}\n",
        "UUID", "NAME", "VERSION", "OS"
    );
    expect(&t.imgadm(&["list"]), 0, &table, "");
    let chosen = format!("{uuid}  {name}  zone-dataset\n");
    expect(
        &t.imgadm(&["list", "-H", "-o", "uuid,name,type"]),
        0,
        &chosen,
        "",
    );

    // -j: the records, with the manifest as installed (keys in order).
    let listed = json_out(&t.imgadm(&["list", "-j"]));
    assert_eq!(
        text(&listed),
        text(&json!([{"manifest": img.m, "zpool": "zones"}]))
    );

    // Filters: exact, substring, type; and ones that match nothing.
    let sub = format!("name=~{}", &name[1..name.len() - 1]);
    for filter in [format!("name={name}"), sub, "type=zone-dataset".into()] {
        let r = t.imgadm(&["list", "-H", "-o", "uuid", &filter]);
        expect(&r, 0, &format!("{uuid}\n"), "");
    }
    for filter in ["name=basalt", "name=~nothing-like-it", "type=zvol"] {
        expect(&t.imgadm(&["list", "-H", "-o", "uuid", filter]), 0, "", "");
    }
}

fn check_get_and_show(img: &Minimal) {
    let (t, uuid) = (&img.t, &img.uuid);
    let got = json_out(&t.imgadm(&["get", uuid]));
    assert_eq!(
        text(&got),
        text(&json!({"manifest": img.m, "zpool": "zones"}))
    );
    let shown = json_out(&t.imgadm(&["show", uuid]));
    assert_eq!(text(&shown), text(&img.m));
}

/// A clone of the image: `get -r` names it, delete is refused and keeps
/// the image; once the clone is gone, delete goes through.
fn check_clone_then_delete(img: &Minimal) {
    let (t, uuid) = (&img.t, &img.uuid);
    let snapshot = format!("zones/{uuid}@final");
    t.root.pooladm_ok(&["clone", &snapshot, "zones/x"]);
    let got = json_out(&t.imgadm(&["get", "-r", uuid]));
    assert_eq!(
        got["children"],
        json!({"snapshots": [snapshot], "clones": ["zones/x"]})
    );
    let r = t.imgadm(&["delete", uuid]);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{}", r.stderr);
    let prefix = "imgadm delete: error (ImageHasDependentClones): ";
    assert!(r.stderr.starts_with(prefix), "{}", r.stderr);
    assert_eq!(t.listed(), format!("{uuid}\n"));
    assert_clean(&t.root, &[uuid], &["zones/x"]);

    t.root.pooladm_ok(&["destroy", "zones/x"]);
    let deleted = format!("Deleted image {}\n", img.label);
    expect(&t.imgadm(&["delete", uuid]), 0, &deleted, "");
}

#[test]
fn minimal_image_install_list_get_show_delete() {
    let t = Test::new("imgadm-lifecycle");
    let (manifest, file) = minimal_image();
    let m: Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    let uuid = m["uuid"].as_str().unwrap().to_owned();
    let label = format!(
        "{uuid} ({}@{})",
        m["name"].as_str().unwrap(),
        m["version"].as_str().unwrap()
    );
    let img = Minimal { t, m, uuid, label };
    let t = &img.t;
    let install = ["install", "-m", s(&manifest), "-f", s(&file)];

    expect(
        &t.imgadm(&install),
        0,
        &format!("Installed image {}\n", img.label),
        "",
    );
    let root = t.root.pool().join(&img.uuid).join("root");
    assert!(root.join("bin/busybox").is_file(), "busybox in the image");
    let skipping = format!("Image {} is already installed, skipping\n", img.label);
    expect(&t.imgadm(&install), 0, &skipping, "");
    assert_clean(&t.root, &[&img.uuid], &[]);

    check_list(&img);
    check_get_and_show(&img);
    check_clone_then_delete(&img);

    let not_installed = format!("image \"{}\" was not found on zpool \"zones\"", img.uuid);
    let r = t.imgadm(&["get", &img.uuid]);
    expect_error(&r, "get", 3, "ImageNotInstalled", &not_installed);
    let r = t.imgadm(&["-E", "get", &img.uuid]);
    assert_eq!((r.code, r.stdout.as_str()), (3, ""));
    let last: Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(
        last,
        json!({"code": "ImageNotInstalled", "message": not_installed})
    );
    expect(&t.imgadm(&["list", "-H"]), 0, "", "");
    assert_clean(&t.root, &[], &[]);
}

/// SmartOS's words (errors.js, ImageHasDependentClonesError): the uuid in
/// quotes and the first clone, ` and N others...` when there are more.
#[test]
fn delete_refused_while_cloned_says_what_smartos_says() {
    let t = Test::new("imgadm-clones");
    let img = Image::of(
        t.dir(),
        "5b0a1c84-4f0e-4bb4-9d55-0d3c7c0e5a01",
        "base",
        &[Entry::Dir("etc/"), Entry::File("etc/motd", b"hello\n")],
    );
    t.installed(&img);
    let snap = format!("zones/{}@final", img.uuid);
    t.root.pooladm_ok(&["clone", &snap, "zones/vm0"]);
    let one = format!("image \"{}\" has dependent clones: zones/vm0", img.uuid);
    let r = t.imgadm(&["delete", &img.uuid]);
    expect_error(&r, "delete", 1, "ImageHasDependentClones", &one);
    let r = t.imgadm(&["-E", "delete", &img.uuid]);
    assert_eq!(
        serde_json::from_str::<Value>(r.stderr.lines().last().unwrap()).unwrap(),
        json!({"code": "ImageHasDependentClones", "message": one})
    );
    t.root.pooladm_ok(&["clone", &snap, "zones/vm1"]);
    t.root.pooladm_ok(&["clone", &snap, "zones/vm2"]);
    let r = t.imgadm(&["delete", &img.uuid]);
    expect_error(
        &r,
        "delete",
        1,
        "ImageHasDependentClones",
        &format!("{one} and 2 others..."),
    );
    assert_eq!(t.listed(), format!("{}\n", img.uuid));
    assert_clean(
        &t.root,
        &[&img.uuid],
        &["zones/vm0", "zones/vm1", "zones/vm2"],
    );
}

// ---- bad manifests

#[test]
fn bad_manifests_are_refused_and_leave_nothing() {
    let t = Test::new("imgadm-manifests");
    let img = Image::of(
        t.dir(),
        "0d6f4bf6-3a3f-4c35-8a43-3d7ad2b1e001",
        "good",
        &[Entry::File("f", b"x")],
    );
    let mut f = Failures::default();
    let write = |name: &str, text: &str| {
        let p = t.path(name);
        fs::write(&p, text).unwrap();
        p
    };
    let install = |m: &Path, file: &Path| t.imgadm(&["install", "-m", s(m), "-f", s(file)]);

    let text = "{ this is not JSON";
    let reason = serde_json::from_str::<Value>(text).unwrap_err().to_string();
    let r = install(&write("not-json", text), &img.file);
    let message = format!("manifest is invalid: {reason}");
    f.install_error("not JSON", &r, "InvalidManifest", &message);
    let r = t.imgadm(&[
        "-E",
        "install",
        "-m",
        s(&t.path("not-json")),
        "-f",
        s(&img.file),
    ]);
    let last = r.stderr.lines().last().unwrap_or_default();
    f.check(
        "not JSON, -E",
        serde_json::from_str::<Value>(last).ok()
            == Some(json!({"code": "InvalidManifest", "message": message})),
        &format!("last line of stderr is not the JSON error: {last:?}"),
    );
    f.clean("not JSON", &t, &[]);

    let r = install(&write("array", "[1, 2]"), &img.file);
    let message = "manifest is invalid: not a JSON object";
    f.install_error("a JSON array", &r, "InvalidManifest", message);
    f.clean("a JSON array", &t, &[]);

    // Every required field that is missing is named, not just the first.
    let r = install(&write("bare", r#"{"v": 2, "description": "x"}"#), &img.file);
    let missing = ["uuid", "name", "version", "type", "os"]
        .map(|k| format!("{k} (MissingParameter)"))
        .join(", ");
    let message = format!("invalid manifest: {missing}");
    f.install_error(
        "required fields missing",
        &r,
        "ManifestValidation",
        &message,
    );
    f.clean("required fields missing", &t, &[]);

    let mut bad = img.value.clone();
    bad.as_object_mut().unwrap().remove("name");
    bad["type"] = json!("floppy");
    let r = install(&write("bad", &bad.to_string()), &img.file);
    let (code, problems) = (r.code, r.stderr.clone());
    f.check(
        "name missing and type invalid",
        code == 1
            && problems
                .starts_with("imgadm install: error (ManifestValidation): invalid manifest: ")
            && problems.contains("name (MissingParameter)")
            && problems.contains("type"),
        &format!("both problems named: exit {code}, stderr {problems:?}"),
    );
    f.clean("name missing and type invalid", &t, &[]);

    let gone = t.path("no-such.imgmanifest");
    let r = install(&gone, &img.file);
    let message = format!("manifest file \"{}\" does not exist", gone.display());
    f.install_error("no manifest file", &r, "InvalidArgument", &message);
    f.clean("no manifest file", &t, &[]);

    let gone = t.path("no-such.file");
    let r = install(&img.manifest, &gone);
    let message = format!("image file \"{}\" does not exist", gone.display());
    f.install_error("no image file", &r, "InvalidArgument", &message);
    f.clean("no image file", &t, &[]);

    f.assert_none();
    t.installed(&img);
    assert_clean(&t.root, &[&img.uuid], &[]);
}

// ---- bad image files

#[test]
fn bad_image_files_are_refused_with_their_codes_and_leave_nothing() {
    let t = Test::new("imgadm-files");
    let archive = tar(&[
        Entry::Dir("etc/"),
        Entry::File("etc/motd", b"hello\n"),
        Entry::File("data", &random_bytes(256 << 10, 7)),
    ]);
    let packed = gzip(&archive);
    let mut f = Failures::default();
    let uuid = |n: u32| format!("2f1d7d2e-55aa-4c1b-9e0e-00000000{n:04}");

    // A wrong sha1: SmartOS's DownloadError, both digests named.
    let img = Image::new(t.dir(), &uuid(1), "sha1", &packed, "gzip", |m| {
        m["files"][0]["sha1"] = json!("0".repeat(40));
    });
    let message = format!(
        "image file checksum (sha1) error: manifest says \"{}\", {} is \"{}\"",
        "0".repeat(40),
        img.file.display(),
        sha1_hex(&packed)
    );
    f.install_error("wrong sha1", &t.install(&img), "DownloadError", &message);
    f.clean("wrong sha1", &t, &[]);

    // A corrupt download: not even an archive, and not the file the
    // manifest describes. The checksum is the error (SmartOS checks it
    // before unpacking anything).
    let junk = random_bytes(64 << 10, 8);
    let img = Image::new(t.dir(), &uuid(2), "junk", &junk, "none", |m| {
        m["files"][0]["sha1"] = json!(sha1_hex(&packed));
    });
    let message = format!(
        "image file checksum (sha1) error: manifest says \"{}\", {} is \"{}\"",
        sha1_hex(&packed),
        img.file.display(),
        sha1_hex(&junk)
    );
    let r = t.install(&img);
    f.install_error("wrong sha1, not an archive", &r, "DownloadError", &message);
    f.clean("wrong sha1, not an archive", &t, &[]);

    // Sizes: SmartOS stats the file first and names both sizes.
    let n = packed.len();
    let sizes = [
        ("manifest size too large", "large", 3, n + 1),
        ("manifest size too small", "small", 4, n - 1),
    ];
    for (case, name, i, said) in sizes {
        let img = Image::new(t.dir(), &uuid(i), name, &packed, "gzip", |m| {
            m["files"][0]["size"] = json!(said);
        });
        let message = format!(
            "image file size error: manifest says {said} bytes, {} is {n} bytes",
            img.file.display()
        );
        f.install_error(case, &t.install(&img), "DownloadError", &message);
        f.clean(case, &t, &[]);
    }

    // Declared gzip, but a plain tar.
    let img = Image::new(t.dir(), &uuid(5), "plain", &archive, "gzip", |_| {});
    let message = format!(
        "image file {} is not gzip-compressed as its manifest says",
        img.file.display()
    );
    let r = t.install(&img);
    f.install_error(
        "declared gzip, not compressed",
        &r,
        "UncompressionError",
        &message,
    );
    f.clean("declared gzip, not compressed", &t, &[]);

    // A gzip stream cut short (the manifest describes the cut file).
    let cut = &packed[..packed.len() / 2];
    let img = Image::new(t.dir(), &uuid(6), "cut", cut, "gzip", |_| {});
    let message = format!(
        "failed to decompress image file {} (gzip)",
        img.file.display()
    );
    let r = t.install(&img);
    f.install_error("truncated gzip", &r, "UncompressionError", &message);
    f.clean("truncated gzip", &t, &[]);

    f.assert_none();
}

// ---- hostile archives

fn refused(entry: &str, why: &str) -> String {
    format!("image archive could not be unpacked: refused archive entry {entry}: {why}")
}

const THROUGH_LINK: &str = "its path leaves the destination through a symbolic link";

/// Deletes an image that must be installed.
fn delete(t: &Test, img: &Image) {
    let deleted = format!("Deleted image {}\n", img.label());
    expect(&t.imgadm(&["delete", &img.uuid]), 0, &deleted, "");
}

#[test]
fn archive_paths_never_leave_the_image() {
    let t = Test::new("imgadm-hostile-paths");
    let mut out = Outside::new(t.dir());
    let mut f = Failures::default();

    // `..` is refused, however deep.
    let target = out.host_path("/tmp", "dotdot");
    let deep = format!("{}{}", "../".repeat(12), &target[1..]);
    let entries = [
        Entry::Dir("etc/"),
        Entry::File("etc/motd", b"hello\n"),
        Entry::File(&deep, b"escaped\n"),
    ];
    let img = Image::of(t.dir(), &uuid(0x11), "dotdot", &entries);
    let why = "its path has a \"..\" component";
    f.install_error(
        "../ path",
        &t.install(&img),
        "FileSystem",
        &refused(&deep, why),
    );
    f.clean("../ path", &t, &[]);

    // An absolute path lands inside, as GNU tar puts it.
    let abs = out.host_path("/etc", "abs");
    let img = Image::of(
        t.dir(),
        &uuid(0x12),
        "absolute",
        &[Entry::File(&abs, b"inside\n")],
    );
    t.installed(&img);
    let inside = t.root.pool().join(&img.uuid).join("root").join(&abs[1..]);
    let got = fs::read(&inside).ok();
    f.check(
        "absolute path",
        got.as_deref() == Some(b"inside\n".as_slice()),
        &format!("{} holds {got:?}", inside.display()),
    );
    delete(&t, &img);
    f.clean("absolute path", &t, &[]);

    f.add(out.changed());
    f.assert_none();
}

#[test]
fn archive_symlinks_never_lead_out_of_the_image() {
    let t = Test::new("imgadm-hostile-symlinks");
    let mut out = Outside::new(t.dir());
    let mut f = Failures::default();

    // Through a link the archive made: to /, to a directory outside, up.
    let evil = format!("a{}", out.host_path("/etc", "evil"));
    let entries = [Entry::Symlink("a", "/"), Entry::File(&evil, b"evil\n")];
    let img = Image::of(t.dir(), &uuid(0x21), "link-root", &entries);
    let case = "a -> /, then a/etc/x";
    f.install_error(
        case,
        &t.install(&img),
        "FileSystem",
        &refused(&evil, THROUGH_LINK),
    );
    f.clean(case, &t, &[]);

    let entries = [
        Entry::Symlink("s", s(&out.sentinel_dir)),
        Entry::File("s/file", b"overwritten\n"),
    ];
    let img = Image::of(t.dir(), &uuid(0x22), "link-out", &entries);
    let case = "s -> sentinel directory, then s/file";
    let why = refused("s/file", THROUGH_LINK);
    f.install_error(case, &t.install(&img), "FileSystem", &why);
    f.clean(case, &t, &[]);

    let up = format!("r{}", out.host_path("/tmp", "up"));
    let dots = "../".repeat(16);
    let entries = [Entry::Symlink("r", &dots), Entry::File(&up, b"escaped\n")];
    let img = Image::of(t.dir(), &uuid(0x23), "link-up", &entries);
    let case = "r -> ../../.., then r/tmp/x";
    f.install_error(
        case,
        &t.install(&img),
        "FileSystem",
        &refused(&up, THROUGH_LINK),
    );
    f.clean(case, &t, &[]);

    // A file entry over a link to the sentinel replaces the link, inside.
    let entries = [
        Entry::Symlink("t", s(&out.sentinel)),
        Entry::File("t", b"replaced\n"),
    ];
    let img = Image::of(t.dir(), &uuid(0x24), "over-link", &entries);
    t.installed(&img);
    let path = t.root.pool().join(&img.uuid).join("root/t");
    let is_file = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
    let got = fs::read(&path).ok();
    f.check(
        "t -> sentinel, then a file t",
        is_file && got.as_deref() == Some(b"replaced\n".as_slice()),
        &format!("{} is a file holding {got:?}", path.display()),
    );
    delete(&t, &img);
    f.clean("t -> sentinel, then a file t", &t, &[]);

    f.add(out.changed());
    f.assert_none();
}

/// A hard link's target is a path inside the image: absent there, the
/// link fails; present, the link joins the image's own file.
#[test]
fn archive_hard_links_only_join_files_of_the_image() {
    let t = Test::new("imgadm-hostile-links");
    let out = Outside::new(t.dir());
    let mut f = Failures::default();
    let message = "image archive could not be unpacked: failed to open the directory of h";

    let entries = [Entry::HardLink("h", "/etc/shadow")];
    let img = Image::of(t.dir(), &uuid(0x31), "hard-shadow", &entries);
    let case = "h => /etc/shadow, not in the image";
    f.install_error(case, &t.install(&img), "FileSystem", message);
    f.clean(case, &t, &[]);

    let entries = [Entry::HardLink("h", s(&out.sentinel))];
    let img = Image::of(t.dir(), &uuid(0x32), "hard-out", &entries);
    let case = "h => the sentinel";
    f.install_error(case, &t.install(&img), "FileSystem", message);
    f.clean(case, &t, &[]);

    let entries = [
        Entry::Dir("etc/"),
        Entry::File("etc/shadow", b"the image's own\n"),
        Entry::HardLink("h", "/etc/shadow"),
    ];
    let img = Image::of(t.dir(), &uuid(0x33), "hard-inside", &entries);
    t.installed(&img);
    let root = t.root.pool().join(&img.uuid).join("root");
    let (h, own) = (
        fingerprint(&root.join("h")),
        fingerprint(&root.join("etc/shadow")),
    );
    f.check(
        "h => /etc/shadow, in the image",
        h.as_ref()
            .is_some_and(|h| h.0 == b"the image's own\n" && h.2 == 2)
            && h == own,
        &format!("h is the image's etc/shadow: {h:?} vs {own:?}"),
    );
    delete(&t, &img);
    f.clean("h => /etc/shadow, in the image", &t, &[]);

    f.add(out.changed());
    f.assert_none();
}

/// A uuid for test image number `n`.
fn uuid(n: u32) -> String {
    format!("7c0c5d9a-1e44-4d7e-a0a4-00000000{n:04x}")
}

// ---- killed installs

/// 64 MiB that no compressor shrinks, in one file of an uncompressed tar:
/// long enough to install that a test can kill the install halfway.
fn big_image(t: &Test, uuid: &str) -> Image {
    let big = random_bytes(64 << 20, 42);
    let archive = tar(&[Entry::Dir("data/"), Entry::File("data/big", &big)]);
    Image::new(t.dir(), uuid, "big", &archive, "none", |_| {})
}

/// A child killed (and reaped) on drop, so a failing test leaves no
/// install running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls every 2 ms until `done` holds; fails if the install ends first
/// or after a minute.
fn wait_for(child: &mut Child, what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("install ended ({status}) before {what}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {what} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts installing `img` and kills it with SIGKILL while it unpacks:
/// once its `-partial` dataset exists and the big file is being written
/// (or at most 100 ms later), so a faster build still kills it halfway.
fn kill_mid_install(t: &Test, img: &Image) {
    let child = t
        .root
        .command(env!("CARGO_BIN_EXE_imgadm"))
        .args(["install", "-m", s(&img.manifest), "-f", s(&img.file)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Reaped(child);
    let partial = t.root.pool().join(format!("{}-partial", img.uuid));
    wait_for(&mut child.0, &format!("{}", partial.display()), || {
        partial.exists()
    });
    let big = partial.join("root/data/big");
    let seen = Instant::now();
    wait_for(&mut child.0, "the big file or 100 ms", || {
        big.exists() || seen.elapsed() > Duration::from_millis(100)
    });
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "install killed by SIGKILL"
    );
}

#[test]
fn killed_install_leaves_nothing_the_next_install_trips_over() {
    let t = Test::new("imgadm-killed");
    let img = big_image(&t, "9e3c4a10-7a51-4f0b-b3a5-6c1d2e3f4a01");
    kill_mid_install(&t, &img);
    let partial = format!("zones/{}-partial", img.uuid);
    let datasets = t
        .root
        .pooladm_ok(&["list", "-H", "-t", "all", "-o", "name"]);
    assert!(
        datasets.lines().any(|d| d == partial),
        "killed mid-install, yet no {partial}: {datasets}"
    );
    assert_eq!(t.listed(), "", "imgadm list after a killed install");
    expect(
        &t.imgadm(&["list"]),
        0,
        "UUID  NAME  VERSION  OS  PUBLISHED\n",
        "",
    );
    let r = t.imgadm(&["get", &img.uuid]);
    assert_eq!(r.code, 3, "get after a killed install: {}", r.stderr);

    t.installed(&img);
    assert_clean(&t.root, &[&img.uuid], &[]);
    let big = fs::read(t.root.pool().join(&img.uuid).join("root/data/big")).unwrap();
    assert_eq!(sha1_hex(&big), sha1_hex(&random_bytes(64 << 20, 42)));
    t.imgadm(&["delete", &img.uuid]);
    assert_clean(&t.root, &[], &[]);
}

#[test]
fn vacuum_removes_what_a_killed_install_left() {
    let t = Test::new("imgadm-killed-vacuum");
    let img = big_image(&t, "9e3c4a10-7a51-4f0b-b3a5-6c1d2e3f4a02");
    kill_mid_install(&t, &img);
    assert_eq!(t.listed(), "");
    expect(&t.imgadm(&["vacuum", "-f"]), 0, "", "");
    assert_clean(&t.root, &[], &[]);
}

// ---- zvol images

fn zvol(m: &mut Value, mib: u64) {
    m["type"] = json!("zvol");
    m["os"] = json!("linux");
    m["image_size"] = json!(mib);
    m["nic_driver"] = json!("virtio");
    m["disk_driver"] = json!("virtio");
    m["cpu_type"] = json!("host");
}

#[test]
fn zvol_image_becomes_a_volume_of_image_size() {
    let t = Test::new("imgadm-zvol");
    let mut disk = random_bytes(3 << 20, 5);
    disk[510..512].copy_from_slice(&[0x55, 0xaa]);
    let packed = gzip(&disk);
    let img = Image::new(
        t.dir(),
        "c4d1a2b3-0f1e-4d2c-8b3a-5e6f7a8b9c01",
        "disk",
        &packed,
        "gzip",
        |m| zvol(m, 8),
    );
    t.installed(&img);
    expect(
        &t.root
            .pooladm(&["list", "-H", "-t", "volume", "-o", "name,volsize"]),
        0,
        &format!("zones/{}\t8M\n", img.uuid),
        "",
    );
    expect(
        &t.imgadm(&["list", "-H", "-o", "uuid,type"]),
        0,
        &format!("{}  zvol\n", img.uuid),
        "",
    );
    let volume = fs::read(t.root.pool().join(&img.uuid).join("volume")).unwrap();
    assert_eq!(volume.len(), 8 << 20, "the volume is image_size long");
    assert!(volume.starts_with(&disk), "the volume starts with the disk");
    assert!(volume[disk.len()..].iter().all(|b| *b == 0), "then zeros");
    assert_clean(&t.root, &[&img.uuid], &[]);
    expect(
        &t.imgadm(&["delete", &img.uuid]),
        0,
        &format!("Deleted image {}\n", img.label()),
        "",
    );
    assert_clean(&t.root, &[], &[]);

    // A disk larger than image_size fails, and leaves nothing.
    let img = Image::new(
        t.dir(),
        "c4d1a2b3-0f1e-4d2c-8b3a-5e6f7a8b9c02",
        "big-disk",
        &packed,
        "gzip",
        |m| zvol(m, 2),
    );
    expect_error(
        &t.install(&img),
        "install",
        1,
        "InvalidManifest",
        "image file holds more than image_size (2 MiB)",
    );
    assert_clean(&t.root, &[], &[]);
}

// ---- vacuum

#[test]
fn vacuum_deletes_unused_images_and_keeps_cloned_ones() {
    let t = Test::new("imgadm-vacuum");
    let files = [Entry::Dir("etc/"), Entry::File("etc/motd", b"hi\n")];
    let unused = Image::of(
        t.dir(),
        "3b9e0c2a-8d4f-4e1a-9c7b-000000000001",
        "alpha",
        &files,
    );
    let cloned = Image::of(
        t.dir(),
        "3b9e0c2a-8d4f-4e1a-9c7b-000000000002",
        "beta",
        &files,
    );
    t.installed(&unused);
    t.installed(&cloned);
    let snap = format!("zones/{}@final", cloned.uuid);
    t.root.pooladm_ok(&["clone", &snap, "zones/vm"]);
    let both = format!("{}\n{}\n", unused.uuid, cloned.uuid);

    let would = format!("Would delete image {}\n", unused.label());
    expect(&t.imgadm(&["vacuum", "-n"]), 0, &would, "");
    assert_eq!(t.listed(), both, "a dry run deletes nothing");
    assert_clean(&t.root, &[&unused.uuid, &cloned.uuid], &["zones/vm"]);

    let deleted = format!("Deleted image {}\n", unused.label());
    expect(&t.imgadm(&["vacuum", "-f"]), 0, &deleted, "");
    assert_eq!(t.listed(), format!("{}\n", cloned.uuid));
    assert_clean(&t.root, &[&cloned.uuid], &["zones/vm"]);

    expect(&t.imgadm(&["vacuum", "-f"]), 0, "", "");
    expect(&t.imgadm(&["vacuum", "-n"]), 0, "", "");
    assert_eq!(t.listed(), format!("{}\n", cloned.uuid));

    t.root.pooladm_ok(&["destroy", "zones/vm"]);
    let deleted = format!("Deleted image {}\n", cloned.label());
    expect(&t.imgadm(&["vacuum", "-f"]), 0, &deleted, "");
    assert_clean(&t.root, &[], &[]);
}

/// The Debian image the lx brand boots: built once with debootstrap (a few
/// minutes the first time, cached under the target directory), installed,
/// and its root kept as Debian made it — systemd as init, Debian's own
/// numeric owners.
#[test]
fn debian_image_installs_with_systemd_as_init() {
    use std::os::unix::fs::MetadataExt;
    let t = Test::new("imgadm-debian");
    let (manifest, file) = cached_image("debian");
    let m: Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    let uuid = m["uuid"].as_str().unwrap();
    let r = t.imgadm(&["install", "-m", s(&manifest), "-f", s(&file)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let root = t.root.pool().join(uuid).join("root");
    let init = fs::read_link(root.join("sbin/init")).unwrap();
    assert!(
        init.to_string_lossy().ends_with("systemd"),
        "{}",
        init.display()
    );
    assert!(root.join("usr/lib/systemd/systemd").is_file());
    let shadow = fs::metadata(root.join("etc/shadow")).unwrap();
    assert_eq!(
        (shadow.uid(), shadow.gid()),
        (0, 42),
        "Debian's shadow group kept"
    );
    let got: Value = serde_json::from_str(&t.imgadm(&["get", uuid]).stdout).unwrap();
    assert_eq!(got["manifest"]["type"], "lx-dataset");
    assert_eq!(got["manifest"]["requirements"]["brand"], "lx");
}

/// An image dataset whose record is gone is replaced by the next install,
/// but never at the cost of what is cloned from it; and vacuum removes only
/// the `<uuid>-partial` datasets of killed installs, nothing else.
#[test]
fn installs_and_vacuum_never_take_other_datasets_with_them() {
    let t = Test::new("imgadm-collateral");
    let img = Image::of(
        t.dir(),
        "6c1b2d95-5f1f-4cc5-8e66-1e4d8d1f6b02",
        "base",
        &[Entry::Dir("etc/"), Entry::File("etc/motd", b"hi\n")],
    );
    t.installed(&img);
    let snap = format!("zones/{}@final", img.uuid);
    t.root.pooladm_ok(&["clone", &snap, "zones/inst1"]);
    let record = t
        .root
        .path()
        .join(format!("var/imgadm/images/zones-{}.json", img.uuid));
    fs::remove_file(&record).unwrap();
    let r = t.imgadm(&["install", "-m", s(&img.manifest), "-f", s(&img.file)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("has dependent clones"), "{}", r.stderr);
    let names = t.root.pooladm_ok(&["list", "-H", "-o", "name"]);
    assert!(
        names.contains("zones/inst1\n"),
        "the clone survives: {names}"
    );

    t.root.pooladm_ok(&["create", "zones/backup-partial"]);
    let r = t.imgadm(&["vacuum", "-f"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names = t.root.pooladm_ok(&["list", "-H", "-o", "name"]);
    assert!(
        names.contains("zones/backup-partial\n"),
        "not imgadm's: {names}"
    );
    assert!(names.contains("zones/inst1\n"));
}
