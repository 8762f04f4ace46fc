//! The fast engine on AVX2 (x86-64 with AVX2 and POPCNT): the list filter written out in intrinsics, and the
//! engine's loops compiled for the unit. The IEEE operations are the scalar code's in its order (no FMA), so every
//! result is the scalar path's, bit for bit.

use super::forces::{self, PairTable};
use super::lists::{self, Candidates, Grid, ListsMut};
use super::{step, CpuReplica, Isa, Work};
use crate::md::{Advance, MdSetup};

/// `lists::rebuild_body` compiled for AVX2, with its filter.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn rebuild(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    lists::rebuild_body(setup, rep, w, Isa::Avx2)
}

/// `lists::build_rows` compiled for AVX2, with its filter (for `split::rebuild_split`).
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn build_rows(
    setup: &MdSetup,
    pos: &[[f64; 2]],
    rows: std::ops::Range<usize>,
    grid: (&Grid, &mut Vec<u64>),
    lists: ListsMut,
) {
    lists::build_rows(setup, pos, rows, grid, lists, Isa::Avx2)
}

/// `forces::pair_terms` compiled for AVX2 (LLVM vectorises it).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pair_terms<const E: bool, const POLY: bool>(
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    list: (&[u32], &[u32], &[u32]),
    out: (&mut [[f64; 2]], &mut [f64]),
) {
    forces::pair_terms::<E, POLY>(pos, l, k, list, out.0, out.1)
}

/// The step loop compiled for AVX2: its passes over the particles vectorise, and the same IEEE operations give the
/// same bits.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn step(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
    step::step_loop(setup, rep, adv, &mut None)
}

/// `filter_scalar` on 4 candidates at a time (as `avx512::filter`); the kept keys are packed by a permutation
/// looked up from the 4-bit mask and stored as a whole vector (the row buffer has `PAD` spare entries).
#[target_feature(enable = "avx2,popcnt")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn filter(
    xi: [f64; 2],
    i: u32,
    l: f64,
    rl2: &[f64],
    c: &Candidates,
    (a, b): (usize, usize),
    row: &mut [u64],
    mut cnt: usize,
) -> usize {
    use std::arch::x86_64::*;
    // per 4-bit mask, the 32-bit lanes that bring the kept 64-bit lanes to the front
    const PACK: [[i32; 8]; 16] = {
        let mut t = [[0i32; 8]; 16];
        let mut m = 0;
        while m < 16 {
            let mut o = 0;
            let mut lane: i32 = 0;
            while lane < 4 {
                if m & (1 << lane) != 0 {
                    t[m][2 * o] = 2 * lane;
                    t[m][2 * o + 1] = 2 * lane + 1;
                    o += 1;
                }
                lane += 1;
            }
            m += 1;
        }
        t
    };
    let h = 0.5 * l;
    let (hv, nhv, lv) = (_mm256_set1_pd(h), _mm256_set1_pd(-h), _mm256_set1_pd(l));
    let (xiv, yiv) = (_mm256_set1_pd(xi[0]), _mm256_set1_pd(xi[1]));
    let iv = _mm256_set1_epi64x(i as i64);
    let low = _mm256_set1_epi64x(0xffff_ffff);
    let fold = |d: __m256d| {
        let over = _mm256_cmp_pd::<_CMP_GT_OQ>(d, hv);
        let under = _mm256_cmp_pd::<_CMP_LT_OQ>(d, nhv);
        let d = _mm256_blendv_pd(d, _mm256_sub_pd(d, lv), over);
        _mm256_blendv_pd(d, _mm256_add_pd(d, lv), under)
    };
    let mut k = a;
    while k < b {
        let lanes = 0xfu32 >> (4 - (b - k).min(4));
        // SAFETY (all pointer reads): k < b <= n and the arrays have PAD >= 4 entries after n, so whole vectors
        // are in bounds; lanes past b are masked out of the result. The gather indices are keys' species, < ns
        // (`MdSetup::check`), also in the padding (key 0).
        let key = _mm256_loadu_si256(c.key.as_ptr().add(k) as *const __m256i);
        let xj = _mm256_loadu_pd(c.x.as_ptr().add(k));
        let yj = _mm256_loadu_pd(c.y.as_ptr().add(k));
        let dx = fold(_mm256_sub_pd(xiv, xj));
        let dy = fold(_mm256_sub_pd(yiv, yj));
        let r2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
        let lim = _mm256_i64gather_pd::<8>(rl2.as_ptr(), _mm256_srli_epi64::<32>(key));
        let near = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(r2, lim)) as u32;
        let after = _mm256_cmpgt_epi64(_mm256_and_si256(key, low), iv);
        let keep = lanes & near & _mm256_movemask_pd(_mm256_castsi256_pd(after)) as u32;
        let perm = _mm256_loadu_si256(PACK[keep as usize].as_ptr() as *const __m256i);
        debug_assert!(cnt + 4 <= row.len());
        // SAFETY: cnt <= the row's candidates, and row has PAD >= 4 entries more.
        _mm256_storeu_si256(
            row.as_mut_ptr().add(cnt) as *mut __m256i,
            _mm256_permutevar8x32_epi32(key, perm),
        );
        cnt += keep.count_ones() as usize;
        k += 4;
    }
    cnt
}
