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
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::bufread::MultiGzDecoder;

use common::image::{Built, Root, image, sha1_of};
use common::s;

const RUNS: usize = 3;

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
