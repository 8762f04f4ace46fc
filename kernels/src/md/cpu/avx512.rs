//! The fast engine on AVX-512 (x86-64 with AVX-512F and POPCNT): the list filter and the pair terms written out
//! in intrinsics, and the engine's loops compiled for the unit. The IEEE operations are the scalar code's in its
//! order (no FMA), so every result is the scalar path's, bit for bit.

use super::forces::PairTable;
use super::lists::{self, Candidates, Grid, ListsMut};
use super::{step, CpuReplica, Isa, Work};
use crate::md::{Advance, MdSetup};

/// `lists::rebuild_body` compiled for AVX-512, with its filter.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn rebuild(setup: &MdSetup, rep: &mut CpuReplica, w: &mut Work) {
    lists::rebuild_body(setup, rep, w, Isa::Avx512)
}

/// `lists::build_rows` compiled for AVX-512, with its filter (for `split::rebuild_split`).
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn build_rows(
    setup: &MdSetup,
    pos: &[[f64; 2]],
    rows: std::ops::Range<usize>,
    grid: (&Grid, &mut Vec<u64>),
    lists: ListsMut,
) {
    lists::build_rows(setup, pos, rows, grid, lists, Isa::Avx512)
}

/// The step loop compiled for AVX-512: its passes over the particles vectorise, and the same IEEE operations give
/// the same bits.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn step(setup: &MdSetup, rep: &mut CpuReplica, adv: &Advance) {
    step::step_loop(setup, rep, adv, &mut None)
}

/// `filter_scalar` on 8 candidates at a time: the same IEEE operations (minimum image by masked subtraction
/// and addition of L, r^2 = dx dx + dy dy without FMA), so the same keys kept, packed by a compress.
#[target_feature(enable = "avx512f,popcnt")]
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
    let h = 0.5 * l;
    let (hv, nhv, lv) = (_mm512_set1_pd(h), _mm512_set1_pd(-h), _mm512_set1_pd(l));
    let (xiv, yiv) = (_mm512_set1_pd(xi[0]), _mm512_set1_pd(xi[1]));
    let iv = _mm512_set1_epi64(i as i64);
    let low = _mm512_set1_epi64(0xffff_ffff);
    // up to 8 species, the radii are looked up by a permutation of one register, not a gather (slow on AMD)
    let few = rl2.len() <= 8;
    let mut radii = [0.0; 8];
    radii[..rl2.len().min(8)].copy_from_slice(&rl2[..rl2.len().min(8)]);
    let table = _mm512_loadu_pd(radii.as_ptr());
    let fold = |d: __m512d| {
        let over = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(d, hv);
        let under = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(d, nhv);
        let d = _mm512_mask_sub_pd(d, over, d, lv);
        _mm512_mask_add_pd(d, under, d, lv)
    };
    let mut k = a;
    while k < b {
        // lanes past the run's end are masked out of the loads and the result
        let lanes: __mmask8 = (0xffu32 >> (8 - (b - k).min(8))) as u8;
        // SAFETY (all pointer reads): k < b <= n, masked-out lanes are not read; the gather indices are species
        // < ns (`MdSetup::check`) or 0 in masked-out lanes, and rl2 has ns entries.
        let key = _mm512_maskz_loadu_epi64(lanes, c.key.as_ptr().add(k) as *const i64);
        let xj = _mm512_maskz_loadu_pd(lanes, c.x.as_ptr().add(k));
        let yj = _mm512_maskz_loadu_pd(lanes, c.y.as_ptr().add(k));
        let dx = fold(_mm512_sub_pd(xiv, xj));
        let dy = fold(_mm512_sub_pd(yiv, yj));
        let r2 = _mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy));
        let sj = _mm512_srli_epi64::<32>(key);
        let lim = if few {
            _mm512_permutexvar_pd(sj, table)
        } else {
            _mm512_i64gather_pd::<8>(sj, rl2.as_ptr())
        };
        // a masked-out lane reads key 0, index 0, never > i: no need to mask the result again
        let keep = _mm512_mask_cmpgt_epu64_mask(
            _mm512_cmp_pd_mask::<_CMP_LT_OQ>(r2, lim),
            _mm512_and_si512(key, low),
            iv,
        );
        debug_assert!(cnt + 8 <= row.len());
        // SAFETY: cnt <= the row's candidates, and row has PAD = 8 entries more. The compress goes to a register
        // and the whole vector is stored: a compressing store to memory is microcoded and slow on AMD Zen 4/5.
        _mm512_storeu_si512(
            row.as_mut_ptr().add(cnt) as *mut __m512i,
            _mm512_maskz_compress_epi64(keep, key),
        );
        cnt += keep.count_ones() as usize;
        k += 8;
    }
    cnt
}

/// `pair_terms` on 8 list entries at a time, written out: LLVM's vectorisation of `pair_terms` gathers the
/// four pair constants of every entry (8 gathers per 8 entries, slow on AMD Zen 4/5), where with up to 8 pair
/// types (2 species) one register holds each constant and a permutation looks it up. The IEEE operations are
/// `pair_terms`' in its order (no FMA), for the form `POLY` says, so the terms are its bits; the last entries
/// are masked.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pair_terms<const E: bool, const POLY: bool>(
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    (owner, nbr, ptype): (&[u32], &[u32], &[u32]),
    terms: &mut [[f64; 2]],
    halfe: &mut [f64],
) {
    use std::arch::x86_64::*;
    let (m, n) = (nbr.len(), pos.len());
    assert!(owner.len() >= m && ptype.len() >= m && terms.len() >= m && (!E || halfe.len() >= m));
    let few = k.s2.len() <= 8;
    // one constant per pair type, as a register (up to 8 types) or looked up by a gather
    let column = |v: &[f64]| {
        let mut t = [0.0; 8];
        t[..v.len().min(8)].copy_from_slice(&v[..v.len().min(8)]);
        _mm512_loadu_pd(t.as_ptr())
    };
    let (s2, rc2, fc, eps24) = (
        column(&k.s2),
        column(&k.rc2),
        column(&k.fc),
        column(&k.eps24),
    );
    let (eps4, ec, rc) = (column(&k.eps4), column(&k.ec), column(&k.rc));
    let (k0, k2, k4) = (column(&k.k0), column(&k.k2), column(&k.k4));
    let h = 0.5 * l;
    let (hv, nhv, lv) = (_mm512_set1_pd(h), _mm512_set1_pd(-h), _mm512_set1_pd(l));
    let (one, two, four, half, zero) = (
        _mm512_set1_pd(1.0),
        _mm512_set1_pd(2.0),
        _mm512_set1_pd(4.0),
        _mm512_set1_pd(0.5),
        _mm512_setzero_pd(),
    );
    let fold = |d: __m512d| {
        let over = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(d, hv);
        let under = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(d, nhv);
        let d = _mm512_mask_sub_pd(d, over, d, lv);
        _mm512_mask_add_pd(d, under, d, lv)
    };
    // lanes of terms[q..q + 8] as [x, y] pairs: the first four entries, then the last four
    let (lo, hi) = (
        _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11),
        _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15),
    );
    let base = pos.as_ptr() as *const f64;
    let (evens, odds) = (
        _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
        _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15),
    );
    let mut q = 0;
    while q < m {
        let left = (m - q).min(8);
        let lanes = (0xffu32 >> (8 - left)) as __mmask8;
        // SAFETY (all reads): q + lanes <= m and the slices hold m entries (asserted), masked-out lanes are not
        // read; gather offsets are 2 x a particle index < n (`rebuild`), so x and y of pos, and pair types are
        // < ns * ns, the length of the table's columns.
        let idx = |v: &[u32]| {
            let w = _mm512_maskz_loadu_epi32(lanes as __mmask16, v.as_ptr().add(q) as *const i32);
            _mm512_castsi512_si256(w)
        };
        let (iv, j2, t) = (idx(owner), idx(nbr), idx(ptype));
        let j2 = _mm256_slli_epi32::<1>(j2);
        let gather = |o: __m256i, p: *const f64| _mm512_mask_i32gather_pd::<8>(zero, lanes, o, p);
        // The rows' particles: the list runs row by row, so 8 entries usually belong to one or two rows, and
        // then the positions of particles i0..i0 + 8 (two whole-vector loads, x and y interleaved) hold them
        // all and a permutation picks each lane's; a gather otherwise.
        let i0 = *owner.get_unchecked(q) as usize;
        let span = *owner.get_unchecked(q + left - 1) as usize - i0;
        let (xi, yi) = if span < 8 {
            let have = (n - i0).min(8);
            let mask = |from: usize| {
                (0xffffu32 >> (16 - 2 * have.saturating_sub(from).min(4))) as __mmask8
            };
            // SAFETY: particles i0..i0 + have < n exist; the masks cover 2 x have doubles from 2 x i0.
            let lo = _mm512_maskz_loadu_pd(mask(0), base.add(2 * i0));
            let hi = _mm512_maskz_loadu_pd(mask(4), base.add(2 * i0 + 8));
            let d = _mm512_cvtepu32_epi64(_mm256_sub_epi32(iv, _mm256_set1_epi32(i0 as i32)));
            let dx2 = _mm512_slli_epi64::<1>(d);
            let dy2 = _mm512_add_epi64(dx2, _mm512_set1_epi64(1));
            (
                _mm512_permutex2var_pd(lo, dx2, hi),
                _mm512_permutex2var_pd(lo, dy2, hi),
            )
        } else {
            let i2 = _mm256_slli_epi32::<1>(iv);
            (gather(i2, base), gather(i2, base.add(1)))
        };
        let (xj, yj) = if left == 8 {
            // the neighbours' positions as 8 loads of (x, y) into two registers, then split into x and y
            let p = |o: usize| {
                let j = *nbr.get_unchecked(q + o) as usize;
                _mm_loadu_ps(base.add(2 * j) as *const f32)
            };
            let a = _mm512_castps128_ps512(p(0));
            let a = _mm512_insertf32x4::<1>(a, p(1));
            let a = _mm512_insertf32x4::<2>(a, p(2));
            let a = _mm512_castps_pd(_mm512_insertf32x4::<3>(a, p(3)));
            let b = _mm512_castps128_ps512(p(4));
            let b = _mm512_insertf32x4::<1>(b, p(5));
            let b = _mm512_insertf32x4::<2>(b, p(6));
            let b = _mm512_castps_pd(_mm512_insertf32x4::<3>(b, p(7)));
            (
                _mm512_permutex2var_pd(a, evens, b),
                _mm512_permutex2var_pd(a, odds, b),
            )
        } else {
            (gather(j2, base), gather(j2, base.add(1)))
        };
        let dx = fold(_mm512_sub_pd(xi, xj));
        let dy = fold(_mm512_sub_pd(yi, yj));
        let t64 = _mm512_cvtepu32_epi64(t);
        let pick = |reg: __m512d, v: &[f64]| {
            if few {
                _mm512_permutexvar_pd(t64, reg)
            } else {
                _mm512_mask_i32gather_pd::<8>(zero, lanes, t, v.as_ptr())
            }
        };
        let r2 = _mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy));
        // LjPoly: 1 / r2 (no square root); LjSmoothLinear: 1 / sqrt(r2), squared
        let rinv = if POLY {
            zero
        } else {
            _mm512_div_pd(one, _mm512_sqrt_pd(r2))
        };
        let inv2 = if POLY {
            _mm512_div_pd(one, r2)
        } else {
            _mm512_mul_pd(rinv, rinv)
        };
        let sr2 = _mm512_mul_pd(pick(s2, &k.s2), inv2);
        let sr6 = _mm512_mul_pd(_mm512_mul_pd(sr2, sr2), sr2);
        let sr12 = _mm512_mul_pd(sr6, sr6);
        let inside = lanes & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(r2, pick(rc2, &k.rc2));
        let lj = _mm512_sub_pd(_mm512_mul_pd(two, sr12), sr6);
        let ljf = _mm512_mul_pd(_mm512_mul_pd(pick(eps24, &k.eps24), inv2), lj);
        let (fcv, k2v, k4v) = if POLY {
            (zero, pick(k2, &k.k2), pick(k4, &k.k4))
        } else {
            (pick(fc, &k.fc), zero, zero)
        };
        let fr = if POLY {
            let dpoly = _mm512_add_pd(
                _mm512_mul_pd(two, k2v),
                _mm512_mul_pd(_mm512_mul_pd(four, k4v), r2),
            );
            _mm512_sub_pd(ljf, dpoly)
        } else {
            _mm512_add_pd(ljf, _mm512_mul_pd(fcv, rinv))
        };
        let fr = _mm512_maskz_mov_pd(inside, fr);
        let (tx, ty) = (_mm512_mul_pd(fr, dx), _mm512_mul_pd(fr, dy));
        // SAFETY: terms holds m >= q + left entries of 2 f64; the stores write 2 x left of them.
        let out = terms.as_mut_ptr().add(q) as *mut f64;
        let first = (0xffffu32 >> (16 - 2 * left.min(4))) as __mmask8;
        _mm512_mask_storeu_pd(out, first, _mm512_permutex2var_pd(tx, lo, ty));
        if left > 4 {
            let second = (0xffffu32 >> (16 - 2 * (left - 4))) as __mmask8;
            _mm512_mask_storeu_pd(out.add(8), second, _mm512_permutex2var_pd(tx, hi, ty));
        }
        if E {
            let lje = _mm512_mul_pd(pick(eps4, &k.eps4), _mm512_sub_pd(sr12, sr6));
            let e = if POLY {
                let poly = _mm512_add_pd(
                    pick(k0, &k.k0),
                    _mm512_mul_pd(r2, _mm512_add_pd(k2v, _mm512_mul_pd(k4v, r2))),
                );
                _mm512_add_pd(lje, poly)
            } else {
                let rr = _mm512_mul_pd(r2, rinv);
                _mm512_sub_pd(
                    _mm512_sub_pd(lje, pick(ec, &k.ec)),
                    _mm512_mul_pd(_mm512_sub_pd(rr, pick(rc, &k.rc)), fcv),
                )
            };
            // SAFETY: halfe holds m entries (asserted); the store writes the `lanes` of q..q + left.
            _mm512_mask_storeu_pd(
                halfe.as_mut_ptr().add(q),
                lanes,
                _mm512_maskz_mov_pd(inside, _mm512_mul_pd(half, e)),
            );
        }
        q += 8;
    }
}
