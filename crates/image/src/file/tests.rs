//! Image files: each compression, the magic number winning, and every
//! mismatch named with what was expected and what was found.

use std::io::{self, Read, Write};

use sha1::{Digest, Sha1};

use super::*;

fn data() -> Vec<u8> {
    (0..300_000u32)
        .flat_map(|i| (i % 977).to_le_bytes())
        .collect()
}

fn compress(c: Compression, raw: &[u8]) -> io::Result<Vec<u8>> {
    Ok(match c {
        Compression::None => raw.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(raw)?;
            e.finish()?
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(raw)?;
            e.finish()?
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(raw)?;
            e.finish()?
        }
        Compression::Zstd => zstd::encode_all(raw, 1)?,
    })
}

fn described(file: &[u8], c: Compression) -> ImageFile {
    ImageFile {
        sha1: Sha1Digest(Sha1::digest(file).into()),
        size: file.len() as u64,
        compression: c,
        extra: Default::default(),
    }
}

fn read_all(s: &mut ImageStream<&[u8]>) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| s.error(e))?;
    Ok(out)
}

#[test]
fn every_compression_round_trips_and_verifies() -> Result<(), Box<dyn std::error::Error>> {
    let raw = data();
    for c in Compression::ALL.iter().copied() {
        let file = compress(c, &raw)?;
        let mut s = ImageStream::open(&file[..], "img", Some(&described(&file, c)))?;
        assert_eq!((s.compression(), s.overridden()), (c, None));
        assert!(read_all(&mut s)? == raw, "{c}");
        let v = s.finish()?;
        assert_eq!(
            (v.size, v.sha1),
            (file.len() as u64, described(&file, c).sha1)
        );
    }
    Ok(())
}

#[test]
fn concatenated_members_and_streams_are_all_read() -> Result<(), Box<dyn std::error::Error>> {
    for c in [
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ] {
        let mut file = compress(c, b"first half, ")?;
        file.extend(compress(c, b"second half")?);
        let mut s = ImageStream::open(&file[..], "img", Some(&described(&file, c)))?;
        assert_eq!(read_all(&mut s)?, b"first half, second half", "{c}");
        s.finish()?;
    }
    Ok(())
}

#[test]
fn the_magic_number_wins_over_the_manifest() -> Result<(), Box<dyn std::error::Error>> {
    let file = compress(Compression::Xz, b"hello")?;
    let mut s = ImageStream::open(&file[..], "img", Some(&described(&file, Compression::Gzip)))?;
    assert_eq!(
        (s.compression(), s.overridden()),
        (Compression::Xz, Some(Compression::Gzip))
    );
    assert_eq!(read_all(&mut s)?, b"hello");
    let mut s = ImageStream::open(&file[..], "img", None)?;
    assert_eq!((s.compression(), s.overridden()), (Compression::Xz, None));
    assert_eq!(read_all(&mut s)?, b"hello");
    Ok(())
}

#[test]
fn a_declared_compression_needs_its_magic() {
    let file = b"plain tar, not gzip".to_vec();
    let e = ImageStream::open(
        &file[..],
        "/var/tmp/x.file",
        Some(&described(&file, Compression::Gzip)),
    )
    .err();
    let e = e.map(|e| (e.code(), e.to_string()));
    assert_eq!(
        e,
        Some((
            "UncompressionError",
            "image file /var/tmp/x.file is not gzip-compressed as its manifest says".to_owned()
        ))
    );
}

#[test]
fn a_wrong_sha1_names_both_digests() -> Result<(), Box<dyn std::error::Error>> {
    let file = b"abc".to_vec();
    let mut wrong = described(&file, Compression::None);
    wrong.sha1 = Sha1Digest([0x11; 20]);
    let mut s = ImageStream::open(&file[..], "f.zfs", Some(&wrong))?;
    assert_eq!(read_all(&mut s)?, b"abc");
    let e = s.finish().err();
    assert!(e.as_ref().is_some_and(FileError::is_mismatch));
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some(
            "image file checksum (sha1) error: manifest says \
             \"1111111111111111111111111111111111111111\", f.zfs is \
             \"a9993e364706816aba3e25717850c26c9cd0d89d\""
        )
    );
    Ok(())
}

#[test]
fn a_short_file_names_both_sizes() -> Result<(), Box<dyn std::error::Error>> {
    let file = b"abc".to_vec();
    let mut long = described(&file, Compression::None);
    long.size = 10;
    let mut s = ImageStream::open(&file[..], "f", Some(&long))?;
    read_all(&mut s)?;
    let e = s.finish().err().map(|e| (e.code(), e.to_string()));
    assert_eq!(
        e,
        Some((
            "DownloadError",
            "image file size error: manifest says 10 bytes, f is 3 bytes".into()
        ))
    );
    assert!(verify_size("f", &long, 10).is_ok());
    assert!(verify_size("f", &long, 3).is_err());
    Ok(())
}

#[test]
fn a_long_file_stops_as_soon_as_it_is_too_long() -> Result<(), Box<dyn std::error::Error>> {
    let file = vec![0u8; 3 * BUF_SIZE];
    let mut short = described(&file, Compression::None);
    short.size = 100;
    let mut s = ImageStream::open(&file[..], "f", Some(&short))?;
    let e = read_all(&mut s).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("image file size error: manifest says 100 bytes, f is larger")
    );
    Ok(())
}

#[test]
fn finish_reads_what_the_consumer_left() -> Result<(), Box<dyn std::error::Error>> {
    let raw = data();
    let file = compress(Compression::Gzip, &raw)?;
    let mut s = ImageStream::open(&file[..], "f", Some(&described(&file, Compression::Gzip)))?;
    let mut first = [0u8; 100];
    s.read_exact(&mut first)?;
    assert_eq!(s.finish()?.size, file.len() as u64);
    Ok(())
}

#[test]
fn corruption_is_a_decompression_error_and_a_sha1_mismatch()
-> Result<(), Box<dyn std::error::Error>> {
    let raw = data();
    let good = compress(Compression::Gzip, &raw)?;
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid..mid + 64].fill(0x55);
    let mut s = ImageStream::open(&bad[..], "f", Some(&described(&good, Compression::Gzip)))?;
    let e = read_all(&mut s).err();
    assert!(
        matches!(
            e,
            Some(FileError::Decompress {
                compression: Compression::Gzip,
                ..
            })
        ),
        "{e:?}"
    );
    assert!(matches!(s.finish(), Err(FileError::Sha1Mismatch { .. })));
    Ok(())
}

#[test]
fn read_ahead_carries_the_stream_and_gives_it_back() -> Result<(), Box<dyn std::error::Error>> {
    let raw = data();
    let file = compress(Compression::Zstd, &raw)?;
    let f = described(&file, Compression::Zstd);
    let s = ImageStream::open(io::Cursor::new(file), "f", Some(&f))?;
    let mut ra = ReadAhead::spawn(s)?;
    let mut out = Vec::new();
    ra.read_to_end(&mut out)?;
    assert!(out == raw);
    assert_eq!(ra.into_inner()?.finish()?.sha1, f.sha1);
    Ok(())
}

#[test]
fn what_an_image_writer_writes_reads_back_and_matches_its_description() {
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ] {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = crate::file::ImageWriter::new(Vec::new(), c).unwrap();
        std::io::Write::write_all(&mut w, &data).unwrap();
        let (bytes, file) = w.finish().unwrap();
        assert_eq!(file.size, bytes.len() as u64, "{c:?}");
        assert_eq!(file.compression, c);
        let mut stream = ImageStream::open(&bytes[..], "f", Some(&file)).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut back).unwrap();
        assert_eq!(back, data, "{c:?}");
        stream.finish().unwrap();
    }
}
