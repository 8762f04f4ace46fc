// hash: the dropout hash shared by the nn and gnn families (after their common part, which declares P with the
// drop probability `p`). Twin: nn::common::{hash_u32, keep}.

// PCG output permutation; the CPU twin does the same wrapping u32 arithmetic, so masks agree bit for bit.
fn hash_u32(x: u32) -> u32 {
    let s = x * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// Dropout keeps element i of the current step when its 24-bit uniform is at least the drop probability.
fn keep(seed: u32, i: u32) -> bool {
    let h = hash_u32(i ^ hash_u32(seed));
    return f32(h >> 8u) * (1.0 / 16777216.0) >= P.p;
}
