//! IMGAPI over HTTP, both ends.
//!
//! - [`client`]: the blocking client `imgadm` uses for its `imgapi`
//!   sources — ping, list (paged as SmartOS pages), get, download with
//!   resume, publish — with SmartOS's headers, channels, retries of
//!   idempotent calls and errors parsed from the server's JSON.
//! - [`server`]: the IMGAPI endpoints a node serves so that it is another
//!   node's image source: the same read calls, and the publish calls when
//!   enabled. What the node offers comes through the [`server::Catalog`]
//!   trait; the server only speaks HTTP, filters and pages.
//!
//! The crate owns the wire protocol only. It depends on none of basalt's
//! crates: manifests are plain [`serde_json::Value`]s, which the node
//! parses and validates; it never touches a pool, an image store or the
//! node's configuration.

#![forbid(unsafe_code)]

pub mod client;
pub mod server;
mod urlenc;

pub use client::{Client, ClientError, ClientOptions, Download, TransportKind};
pub use server::{Catalog, CatalogError, ServerHandle, ServerOptions};
