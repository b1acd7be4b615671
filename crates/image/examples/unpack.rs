//! Unpacks an image file into a directory and prints the throughput: the
//! install path without the pool, for benchmarks against `tar -x`.
//!
//! `cargo run --release -p basalt-image --example unpack -- FILE DEST [--no-read-ahead]`

use std::error::Error;
use std::fs::File;
use std::time::Instant;

use basalt_image::extract::extract;
use basalt_image::file::{ImageStream, ReadAhead};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), Some(dest)) = (args.first(), args.get(1)) else {
        return Err("usage: unpack FILE DEST [--no-read-ahead]".into());
    };
    let read_ahead = !args.iter().any(|a| a == "--no-read-ahead");
    let started = Instant::now();
    let stream = ImageStream::open(File::open(file)?, file, None)?;
    let compression = stream.compression();
    let (summary, verified) = if read_ahead {
        let mut ra = ReadAhead::spawn(stream)?;
        let summary = extract(&mut ra, dest.as_ref())?;
        (summary, ra.into_inner()?.finish()?)
    } else {
        let mut stream = stream;
        let summary = extract(&mut stream, dest.as_ref())?;
        (summary, stream.finish()?)
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{file} ({compression}): {} files, {} dirs, {} MB of data in {secs:.2} s: {:.0} MB/s \
         (file {} bytes, sha1 {})",
        summary.files,
        summary.dirs,
        summary.bytes / 1_000_000,
        summary.bytes as f64 / 1e6 / secs,
        verified.size,
        verified.sha1,
    );
    Ok(())
}
