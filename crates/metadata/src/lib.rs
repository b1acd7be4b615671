//! The metadata service's protocol: how a guest learns who it is
//! (hostname, keys, user-script, networks) and writes back, over a unix
//! socket in zones and a serial port in VMs (reference section 4).
//!
//! This crate owns the protocol and nothing around it:
//!
//! - [`codec`]: V1 and V2 on the wire, both directions: request lines
//!   read by the server and written by the client, answers written by the
//!   server and read by the client, lines reassembled from arbitrary reads
//!   with a bound on their length.
//! - [`server`]: one connection's [`Session`] (bytes in, bytes out), the
//!   [`Backend`] it asks for keys, [`Routing`] of keys to an instance's
//!   configuration (`sdc:` keys, customer and internal metadata,
//!   namespaces), and an in-memory backend.
//!
//! It is pure: no sockets, files, clocks or processes. The transport (a
//! socket listener, a serial port), persisting writes and reading the
//! instance's configuration belong to whoever drives a [`Session`].

#![forbid(unsafe_code)]

pub mod codec;
pub mod server;

pub use codec::{Command, Envelope, ReqId, Request, Response};
pub use server::{Backend, Failure, Lookup, MemoryBackend, Routing, Session};
