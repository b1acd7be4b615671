//! Clone time of a 1 GiB dataset next to a 1 MiB one, on a real loop-file
//! pool: a clone is a btrfs writable snapshot, so the ratio should stay
//! near 1 (target ≤ 1.5). Prints medians and the ratio; never fails on a
//! timing. Run as root: `cargo bench -p basalt-pool --bench clone`.

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use basalt_pool::embedded::{self, PoolSpec, Source};
use basalt_pool::{DatasetName, Pool, SnapshotName};

const ROUNDS: usize = 15;

fn fill(pool: &Pool, name: &DatasetName, bytes: usize) {
    let mut f = fs::File::create(pool.path_of(name).join("data")).unwrap();
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 31 % 251) as u8).collect();
    for _ in 0..bytes / chunk.len() {
        f.write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
}

fn median_clone(pool: &Pool, snap: &SnapshotName, tag: &str) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|i| {
            let target = DatasetName::parse(&format!("{}/{tag}-{i}", pool.name())).unwrap();
            let start = Instant::now();
            pool.clone_snapshot(snap, &target).unwrap();
            let t = start.elapsed();
            pool.destroy(target.as_str(), false, false).unwrap();
            t
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn main() {
    let dir = tempfile::Builder::new()
        .prefix("basalt-bench-clone-")
        .tempdir()
        .unwrap();
    let spec = PoolSpec {
        name: "bench".into(),
        mountpoint: dir.path().join("mnt"),
        source: Source::File {
            path: dir.path().join("pool.btrfs"),
            size: Some(4 << 30),
        },
        lock: dir.path().join("lock"),
    };
    let pool = embedded::ensure(&spec).expect("a pool (run as root with btrfs-progs)");
    for (tag, bytes) in [("small", 1usize << 20), ("large", 1 << 30)] {
        let ds = DatasetName::parse(&format!("bench/{tag}")).unwrap();
        pool.create(&ds, None).unwrap();
        fill(&pool, &ds, bytes);
        pool.snapshot(&ds.snapshot("final").unwrap()).unwrap();
    }
    let small = median_clone(
        &pool,
        &SnapshotName::parse("bench/small@final").unwrap(),
        "s",
    );
    let large = median_clone(
        &pool,
        &SnapshotName::parse("bench/large@final").unwrap(),
        "l",
    );
    println!(
        "clone of a 1 MiB dataset: median {:.2} ms over {ROUNDS}",
        small.as_secs_f64() * 1e3
    );
    println!(
        "clone of a 1 GiB dataset: median {:.2} ms over {ROUNDS}",
        large.as_secs_f64() * 1e3
    );
    println!(
        "ratio 1 GiB / 1 MiB: {:.2} (target <= 1.5)",
        large.as_secs_f64() / small.as_secs_f64()
    );
    embedded::detach(&spec).unwrap();
}
