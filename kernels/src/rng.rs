//! The project's one pseudo-random generator, splitmix64 (Steele, Lea & Flood 2014): seeded draws (initial
//! weights, shuffles, test inputs) that do not depend on any crate's version.

/// The golden-ratio increment of splitmix64's state.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One splitmix64 step from state `z`: a well-mixed 64-bit hash of `z` (seeds of seeds, hash chains).
pub fn mix(z: u64) -> u64 {
    finalize(z.wrapping_add(GOLDEN))
}

/// A splitmix64 stream; `SplitMix64(s).next_u64() == mix(s)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        finalize(self.0)
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A normal draw of standard deviation `std` by Box-Muller (two uniform draws, the cosine branch).
    pub fn normal(&mut self, std: f64) -> f64 {
        let u1 = self.next_f64().max(1e-300);
        let u2 = self.next_f64();
        std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_the_hash_chain_of_its_states() {
        let mut s = SplitMix64(42);
        let a = s.next_u64();
        assert_eq!(a, mix(42));
        assert_eq!(s.next_u64(), mix(42u64.wrapping_add(GOLDEN)));
        // the first output of splitmix64 seeded with 0 (the reference implementation's)
        assert_eq!(SplitMix64(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let u = SplitMix64(7).next_f64();
        assert!((0.0..1.0).contains(&u));
    }
}
