//! Randomness from the operating system, for the model's [`Entropy`].

use basalt_model::facts::Entropy;

/// Fills `buf` from the kernel's random source. The kernel's getrandom
/// does not fail for requests this small once the pool is initialised;
/// should it ever, basalt cannot pick identifiers safely and stops.
pub fn fill(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the kernel's random source failed: {e}");
    }
}

/// The operating system's randomness.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        fill(buf);
    }
}
