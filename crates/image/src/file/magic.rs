//! Which compression a file uses, from its first bytes.

use crate::manifest::Compression;

/// How many leading bytes [`detect`] looks at.
pub const MAGIC_LEN: usize = 10;

const GZIP: &[u8] = &[0x1f, 0x8b, 0x08];
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// bzip2: `BZh`, a block size digit, then the magic of a block (pi) or of
/// the end of the stream (sqrt(pi)), so that a tar whose first name starts
/// with `BZh` is not taken for bzip2.
const BZIP2_BLOCK: &[u8] = &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const BZIP2_END: &[u8] = &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90];

/// The compression whose magic number `head` starts with, if any (imgadm's
/// `magic.js`, plus zstd, with bzip2's check made longer).
pub fn detect(head: &[u8]) -> Option<Compression> {
    if head.starts_with(GZIP) {
        Some(Compression::Gzip)
    } else if head.starts_with(XZ) {
        Some(Compression::Xz)
    } else if head.starts_with(ZSTD) {
        Some(Compression::Zstd)
    } else if is_bzip2(head) {
        Some(Compression::Bzip2)
    } else {
        None
    }
}

fn is_bzip2(head: &[u8]) -> bool {
    match head {
        [b'B', b'Z', b'h', level, rest @ ..] if (b'1'..=b'9').contains(level) => {
            rest.starts_with(BZIP2_BLOCK) || rest.starts_with(BZIP2_END)
        }
        _ => false,
    }
}

/// What to decompress with: the magic number wins over the manifest (as
/// imgadm sniffs files it unpacks); a file with no known magic is taken as
/// uncompressed only if the manifest says so.
pub fn choose(declared: Option<Compression>, detected: Option<Compression>) -> Option<Compression> {
    match (declared, detected) {
        (_, Some(found)) => Some(found),
        (None | Some(Compression::None), None) => Some(Compression::None),
        (Some(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(detect(&[0x1f, 0x8b, 0x08, 0, 0]), Some(Compression::Gzip));
        assert_eq!(
            detect(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4]),
            Some(Compression::Xz)
        );
        assert_eq!(
            detect(&[0x28, 0xb5, 0x2f, 0xfd, 0x24]),
            Some(Compression::Zstd)
        );
        let bz = b"BZh91AY&SY";
        assert_eq!(detect(bz), Some(Compression::Bzip2));
        let bz_empty = [b'B', b'Z', b'h', b'9', 0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
        assert_eq!(detect(&bz_empty), Some(Compression::Bzip2));
    }

    #[test]
    fn near_misses_are_not_compressed() {
        assert_eq!(detect(b"BZh9file.txt\0\0\0"), None);
        assert_eq!(detect(b"BZh0" as &[u8]), None);
        assert_eq!(detect(&[0x1f, 0x8b]), None);
        assert_eq!(detect(b"etc/\0\0\0\0\0\0"), None);
        assert_eq!(detect(&[]), None);
    }

    #[test]
    fn magic_wins_and_none_needs_saying() {
        use Compression::*;
        assert_eq!(choose(Some(Gzip), Some(Xz)), Some(Xz));
        assert_eq!(choose(Some(None), Some(Gzip)), Some(Gzip));
        assert_eq!(choose(Option::None, Some(Zstd)), Some(Zstd));
        assert_eq!(choose(Some(None), Option::None), Some(None));
        assert_eq!(choose(Option::None, Option::None), Some(None));
        assert_eq!(choose(Some(Bzip2), Option::None), Option::None);
    }
}
