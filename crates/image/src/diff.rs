//! The difference between two trees as a layer.
