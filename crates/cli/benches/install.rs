//! Install throughput of a ~200 MB image: `imgadm install` next to plain
//! `tar -xzf` of the same file into a directory on a pool of the same kind
//! (a fresh btrfs loop-file pool each run, made before the clock starts).
//! Prints the median of 3 runs in MB/s of the compressed file and of the
//! unpacked data, and the ratio (target: imgadm ≥ 0.8× tar). Then the
//! parts one at a time (decompression, sha1, extraction, the final sync)
//! to show where the time goes. Never fails on a timing.
//!
//! Run as root: `cargo bench -p basalt-cli --bench install`. The image is
//! built once and cached under the target directory.

mod common;

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flate2::bufread::MultiGzDecoder;
use sha1::{Digest, Sha1};

use common::{s, target_dir};

const RUNS: usize = 3;
/// Stop adding files once the compressed image is this large.
const TARGET_BYTES: u64 = 200_000_000;
const UUID: &str = "b3c4d5e6-f7a8-4b9c-8d0e-1f2a3b4c5d6e";
/// Bump when the generator changes, so the cache is rebuilt.
const CACHE: &str = "install-v2";

// ---- the image

/// xorshift64*: deterministic, so every build of the image is the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A file size between 1 KiB and 1 MiB, log-uniform (as many small
    /// files as large ones per octave, like a root file system).
    fn file_size(&mut self) -> usize {
        (1024.0 * 1024f64.powf(self.unit())) as usize
    }

    /// `n` bytes that gzip shrinks to about half: 4 KiB blocks of text
    /// from a small vocabulary, one in three random bytes instead.
    fn content(&mut self, n: usize, words: &[String]) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 4096);
        while out.len() < n {
            if self.next().is_multiple_of(3) {
                for _ in 0..512 {
                    out.extend_from_slice(&self.next().to_le_bytes());
                }
            } else {
                let end = out.len() + 4096;
                while out.len() < end {
                    let w = &words[(self.next() % words.len() as u64) as usize];
                    out.extend_from_slice(w.as_bytes());
                    out.push(if self.next().is_multiple_of(12) {
                        b'\n'
                    } else {
                        b' '
                    });
                }
            }
        }
        out.truncate(n);
        out
    }
}

/// Counts what passes through to the file.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The image: its file, manifest, and what it unpacks to.
struct Built {
    file: PathBuf,
    manifest: PathBuf,
    /// Size of the compressed file.
    file_bytes: u64,
    /// Bytes of file data in the archive.
    data_bytes: u64,
    files: u64,
}

/// The cached image, built first when missing.
fn image() -> Built {
    let dir = target_dir().join("bench-images").join(CACHE);
    if !dir.join("stamp").exists() {
        let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        let started = Instant::now();
        build(&tmp);
        eprintln!(
            "built the bench image in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&tmp, &dir).unwrap();
    }
    let stamp = fs::read_to_string(dir.join("stamp")).unwrap();
    let field = |k: &str| -> u64 {
        stamp
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}: no {k}", dir.join("stamp").display()))
    };
    Built {
        file: dir.join("image.tar.gz"),
        manifest: dir.join("image.imgmanifest"),
        file_bytes: field("file_bytes"),
        data_bytes: field("data_bytes"),
        files: field("files"),
    }
}

fn build(dir: &Path) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words: Vec<String> = (0..256)
        .map(|_| {
            let len = 2 + rng.next() % 9;
            (0..len)
                .map(|_| (b'a' + (rng.next() % 26) as u8) as char)
                .collect()
        })
        .collect();
    let out = File::create(dir.join("image.tar.gz")).unwrap();
    let counting = Counting {
        inner: BufWriter::with_capacity(1 << 20, out),
        count: 0,
    };
    let gz = flate2::write::GzEncoder::new(counting, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let (mut files, mut data) = (0u64, 0u64);
    while tar.get_ref().get_ref().count < TARGET_BYTES {
        if files % 100 == 0 {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(0);
            h.set_mtime(1_748_736_000);
            let name = format!("usr/share/d{:03}/", files / 100);
            tar.append_data(&mut h, name, io::empty()).unwrap();
        }
        let n = rng.file_size();
        let body = rng.content(n, &words);
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(n as u64);
        h.set_mtime(1_748_736_000);
        let name = format!("usr/share/d{:03}/f{files:05}", files / 100);
        tar.append_data(&mut h, name, body.as_slice()).unwrap();
        files += 1;
        data += n as u64;
    }
    let mut w = tar.into_inner().unwrap().finish().unwrap();
    w.flush().unwrap();
    drop(w);

    let file = dir.join("image.tar.gz");
    let (size, sha1) = sha1_of(&file);
    let manifest = serde_json::json!({
        "v": 2, "uuid": UUID, "owner": "00000000-0000-0000-0000-000000000000",
        "name": "bench-install", "version": "1.0.0", "state": "active",
        "disabled": false, "public": true, "published_at": "2025-06-01T00:00:00Z",
        "type": "zone-dataset", "os": "other",
        "files": [{"sha1": sha1, "size": size, "compression": "gzip"}],
    });
    fs::write(
        dir.join("image.imgmanifest"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    fs::write(
        dir.join("stamp"),
        format!("file_bytes={size}\ndata_bytes={data}\nfiles={files}\n"),
    )
    .unwrap();
}

/// The size and sha1 of a file.
fn sha1_of(path: &Path) -> (u64, String) {
    let mut f = File::open(path).unwrap();
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    (size, hex::encode(h.finalize()))
}

// ---- a fresh root with its pool

/// A relocated root whose 2 GiB pool is made at once, unmounted on drop.
struct Root(tempfile::TempDir);

impl Root {
    fn new() -> Root {
        let dir = tempfile::Builder::new()
            .prefix("basalt-bench-install-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(dir.path().join("usbkey")).unwrap();
        fs::write(dir.path().join("usbkey/config"), "pool_file_size=2G\n").unwrap();
        let root = Root(dir);
        root.run(env!("CARGO_BIN_EXE_pooladm"), &["list", "-H", "-o", "name"]);
        root
    }

    fn run(&self, bin: &str, args: &[&str]) {
        let out = Command::new(bin)
            .args(args)
            .env("BASALT_ROOT", self.0.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new dataset of the pool, as a directory to unpack into.
    fn dataset(&self, name: &str) -> PathBuf {
        let ds = format!("zones/{name}");
        self.run(env!("CARGO_BIN_EXE_pooladm"), &["create", &ds]);
        self.0.path().join(&ds)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg(self.0.path().join("zones"))
            .status();
    }
}

fn sh(argv: &[&str]) {
    let status = Command::new(argv[0]).args(&argv[1..]).status().unwrap();
    assert!(status.success(), "{argv:?}: {status}");
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

// ---- the comparison

/// One `imgadm install` on a fresh root.
fn time_imgadm(img: &Built) -> Duration {
    let root = Root::new();
    let started = Instant::now();
    root.run(
        env!("CARGO_BIN_EXE_imgadm"),
        &["install", "-m", s(&img.manifest), "-f", s(&img.file)],
    );
    started.elapsed()
}

/// One `tar -xzf` into a dataset of a fresh pool; with `sync`, until the
/// data is on disk too (as a snapshot of it would need).
fn time_tar(img: &Built, sync: bool) -> Duration {
    let root = Root::new();
    let dest = root.dataset("tar");
    let started = Instant::now();
    sh(&["tar", "-xzf", s(&img.file), "-C", s(&dest)]);
    if sync {
        sh(&["sync", "-f", s(&dest)]);
    }
    started.elapsed()
}

fn rate(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}

fn report(what: &str, img: &Built, t: Duration) {
    println!(
        "{what:<28} {:>7.2} s  {:>6.1} MB/s of file  {:>6.1} MB/s unpacked",
        t.as_secs_f64(),
        rate(img.file_bytes, t),
        rate(img.data_bytes, t)
    );
}

// ---- the parts

/// The archive decompressed once, kept for the extraction-only runs.
fn gunzip(file: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let f = BufReader::with_capacity(1 << 20, File::open(file).unwrap());
    MultiGzDecoder::new(f).read_to_end(&mut out).unwrap();
    out
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let v = f();
    (started.elapsed(), v)
}

fn parts(img: &Built) {
    println!("\nwhere the time goes (one run each):");
    let (t, tar_bytes) = time(|| gunzip(&img.file));
    report("gunzip in process (flate2)", img, t);
    let (t, ()) = time(|| {
        let devnull = File::create("/dev/null").unwrap();
        let status = Command::new("gzip")
            .args(["-dc", s(&img.file)])
            .stdout(devnull)
            .status()
            .unwrap();
        assert!(status.success());
    });
    report("gzip -dc > /dev/null", img, t);
    let (t, _) = time(|| sha1_of(&img.file));
    report("sha1 of the file", img, t);

    let root = Root::new();
    let dest = root.dataset("extract");
    let (t, _) = time(|| basalt_image::extract::extract(tar_bytes.as_slice(), &dest).unwrap());
    report("extract() from memory", img, t);
    let (t, ()) = time(|| sh(&["sync", "-f", s(&dest)]));
    report("  then sync", img, t);
    let plain = root.0.path().join("image.tar");
    fs::write(&plain, &tar_bytes).unwrap();
    let dest = root.dataset("tar-x");
    let (t, ()) = time(|| sh(&["tar", "-xf", s(&plain), "-C", s(&dest)]));
    report("tar -xf (uncompressed)", img, t);
    let (t, ()) = time(|| sh(&["sync", "-f", s(&dest)]));
    report("  then sync", img, t);
}

fn main() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the install benchmark needs root (it makes btrfs pools on loop files)"
    );
    let img = image();
    println!(
        "image: {:.1} MB gzip file, {} files, {:.1} MB unpacked",
        img.file_bytes as f64 / 1e6,
        img.files,
        img.data_bytes as f64 / 1e6
    );
    // Both read the file from the page cache.
    gunzip(&img.file);
    let (mut ours, mut tar, mut tar_sync) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ours.push(time_imgadm(&img));
        tar.push(time_tar(&img, false));
        tar_sync.push(time_tar(&img, true));
    }
    let (ours, tar, tar_sync) = (median(ours), median(tar), median(tar_sync));
    println!("median of {RUNS} runs:");
    report("imgadm install", &img, ours);
    report("tar -xzf", &img, tar);
    report("tar -xzf, then sync", &img, tar_sync);
    println!(
        "ratio imgadm / tar -xzf: {:.2}x (target >= 0.8x); imgadm / (tar -xzf + sync): {:.2}x",
        tar.as_secs_f64() / ours.as_secs_f64(),
        tar_sync.as_secs_f64() / ours.as_secs_f64()
    );
    parts(&img);
}
