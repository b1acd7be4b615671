//! The benchmarks' image: a ~200 MB gzip image of text-like and random
//! files, built once and cached under the target directory, and a fresh
//! relocated root whose pool is made before any clock starts.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha1::{Digest, Sha1};

use super::target_dir;

/// Stop adding files once the compressed image is this large.
const TARGET_BYTES: u64 = 200_000_000;
/// The image's uuid.
pub const UUID: &str = "b3c4d5e6-f7a8-4b9c-8d0e-1f2a3b4c5d6e";
/// Bump when the generator changes, so the cache is rebuilt.
const CACHE: &str = "install-v2";

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
pub struct Built {
    pub file: PathBuf,
    pub manifest: PathBuf,
    /// Size of the compressed file.
    pub file_bytes: u64,
    /// Bytes of file data in the archive.
    pub data_bytes: u64,
    pub files: u64,
}

/// The cached image, built first when missing.
pub fn image() -> Built {
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
pub fn sha1_of(path: &Path) -> (u64, String) {
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
pub struct Root(pub tempfile::TempDir);

impl Root {
    pub fn new() -> Root {
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

    pub fn run(&self, bin: &str, args: &[&str]) {
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
    pub fn dataset(&self, name: &str) -> PathBuf {
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
