//! IMGAPI over HTTP.

#![forbid(unsafe_code)]
