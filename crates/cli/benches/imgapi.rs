//! Import throughput from another node: node A serves the ~200 MB bench
//! image (`imgadm serve` on loopback), and node B imports it with
//! `imgadm import` (download, sha1 and size checks, decompression,
//! extraction into a new dataset, snapshot). The peer is `curl | tar -xz`
//! of the same file from the same server into a dataset of a fresh pool of
//! the same kind. Each run gets a fresh root whose pool and sources are
//! made before the clock starts. Prints the medians of 3 runs in MB/s of
//! the compressed file and the ratio (target: imgadm ≥ 0.8× curl | tar).
//! Never fails on a timing.
//!
//! Run as root: `cargo bench -p basalt-cli --bench imgapi`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::image::{Root, UUID, image};
use common::{missing, s};

const RUNS: usize = 3;

#[path = "../tests/support/served.rs"]
mod served;

use served::Served;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// One `imgadm import` on a fresh root whose only source is `url`.
fn time_import(url: &str) -> Duration {
    let root = Root::new();
    root.run(
        env!("CARGO_BIN_EXE_imgadm"),
        &["sources", "-d", "https://images.smartos.org"],
    );
    root.run(env!("CARGO_BIN_EXE_imgadm"), &["sources", "-a", url]);
    let started = Instant::now();
    root.run(env!("CARGO_BIN_EXE_imgadm"), &["import", "-q", UUID]);
    started.elapsed()
}

/// One `curl | tar -xz` into a dataset of a fresh pool.
fn time_curl_tar(url: &str) -> Duration {
    let root = Root::new();
    let dest = root.dataset("curl");
    let started = Instant::now();
    let status = Command::new("sh")
        .args([
            "-c",
            "curl -sSf \"$1\" | tar -xz -C \"$2\"",
            "sh",
            &format!("{url}/images/{UUID}/file"),
            s(&dest),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "curl | tar: {status}");
    started.elapsed()
}

fn main() {
    let lacking = missing(&["curl", "tar", "mkfs.btrfs"]);
    assert!(lacking.is_empty(), "the benchmark needs {lacking:?}");
    let img = image();
    let a = Root::new();
    a.run(
        env!("CARGO_BIN_EXE_imgadm"),
        &["install", "-m", s(&img.manifest), "-f", s(&img.file)],
    );
    let mut serve = Command::new(env!("CARGO_BIN_EXE_imgadm"));
    serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("BASALT_ROOT", a.0.path());
    let server = Served::start(serve);
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        peer.push(time_curl_tar(&server.url));
        ours.push(time_import(&server.url));
    }
    let (ours, peer) = (median(ours), median(peer));
    let mb = img.file_bytes as f64 / 1e6;
    println!(
        "image: {:.1} MB gzip, {:.1} MB in {} files; served by imgadm serve on {}",
        mb,
        img.data_bytes as f64 / 1e6,
        img.files,
        server.url
    );
    println!(
        "imgadm import   {:>7.3} s  {:>7.1} MB/s",
        ours.as_secs_f64(),
        mb / ours.as_secs_f64()
    );
    println!(
        "curl | tar -xz  {:>7.3} s  {:>7.1} MB/s",
        peer.as_secs_f64(),
        mb / peer.as_secs_f64()
    );
    println!(
        "ratio imgadm / curl|tar: {:.2} (target >= 0.8)",
        peer.as_secs_f64() / ours.as_secs_f64()
    );
}
