//! Counter-based randomness: every random number is a pure function of
//! (seed, image, step, position, draw), computed with 32-bit integer ops only so the WGSL
//! kernels (shaders/sample.wgsl) reproduce it bit for bit.

/// "lowbias32" integer finaliser (Chris Wellons): a strong 32-bit avalanche mix.
#[inline]
pub fn mix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    h
}

/// Hash of the five counters. Each counter is folded in with a distinct odd constant so that
/// swapping two counters gives a different stream.
#[inline]
pub fn hash(seed: u32, image: u32, step: u32, position: u32, draw: u32) -> u32 {
    let mut h = mix32(seed ^ 0x9e37_79b9);
    h = mix32(h ^ image.wrapping_mul(0x85eb_ca6b));
    h = mix32(h ^ step.wrapping_mul(0xc2b2_ae35));
    h = mix32(h ^ position.wrapping_mul(0x27d4_eb2f));
    mix32(h ^ draw.wrapping_mul(0x1656_67b1))
}

/// The largest f32 below 1 (1 − 2⁻²⁴).
pub const MAX_UNIFORM: f32 = 16_777_215.0 / 16_777_216.0;

/// Uniform in the open interval (0, 1) from a hash: its top 24 bits, centred in their bucket.
/// The top bucket's centre (1 − 2⁻²⁵) rounds to 1.0 in f32, where a Gumbel sample is infinite,
/// so it is clamped to `MAX_UNIFORM`; every other value is unchanged.
#[inline]
pub fn uniform_from_hash(h: u32) -> f32 {
    (((h >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)).min(MAX_UNIFORM)
}

/// Uniform in the open interval (0, 1) from the counters.
#[inline]
pub fn uniform(seed: u32, image: u32, step: u32, position: u32, draw: u32) -> f32 {
    uniform_from_hash(hash(seed, image, step, position, draw))
}

/// Standard Gumbel sample from the same counters.
#[inline]
pub fn gumbel(seed: u32, image: u32, step: u32, position: u32, draw: u32) -> f32 {
    -(-uniform(seed, image, step, position, draw).ln()).ln()
}
