//! basalt's images: what an image is and how its bytes become a root file
//! system.
//!
//! This crate owns
//! - [`manifest`]: the v2 image manifest as typed data, and its validation
//!   with imgadm's error codes and messages (pure);
//! - [`file`](mod@file): an image file's checks (size and sha1, computed while the
//!   file streams) and its decompression (gzip, bzip2, xz, zstd, chosen by
//!   the manifest and by the file's magic bytes);
//! - [`extract`]: unpacking a tar stream into a directory it is given, so
//!   that nothing is ever written outside that directory whatever the
//!   archive says, keeping owners, modes, links, devices, times and extended
//!   attributes (file capabilities included), or applying such a stream
//!   as a layer over an existing tree, with OCI whiteouts;
//! - [`archive`]: the inverse, a directory tree written as such a tar stream;
//! - [`oci`]: OCI image layouts and `docker save` archives, read from a
//!   directory or a tar file without unpacking it, every blob checked
//!   against its digest, and applied layer by layer (whiteouts included)
//!   as one root file system.
//!
//! It must never touch the pool, datasets or instances: it does not create,
//! snapshot or remove the directory it extracts into, and knows nothing of
//! where images are stored. Those choices belong to the caller (the node),
//! which extracts into a fresh directory and removes it if extraction fails.

#![forbid(unsafe_code)]

pub mod archive;
pub mod diff;
pub mod extract;
pub mod file;
pub mod manifest;
pub mod oci;

pub use manifest::{Manifest, ManifestError};
