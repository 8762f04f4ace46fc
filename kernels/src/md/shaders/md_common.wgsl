// md_common: types, bindings and functions shared by md_forces, md_step and md_fire.
// One workgroup owns one replica (replica = workgroup_id.x); its threads stride over the particles.
// Layouts are replica-major: particle i of replica r sits at r * n + i.

// WG, MAX_CELLS (cell counts live in workgroup memory; the host keeps nc * nc within it), MAX_CHAIN, the
// FAIL_* codes and the PAIR_* form words come from the prelude generated from the Rust constants
// (kernels/src/md/kernels.rs).

// mirrored by kernels/src/md/mod.rs `MdParams` (checked member by member against naga)
struct MdParams {
    n: u32,
    n_replicas: u32,
    n_species: u32,
    nc: u32,
    box_l: f32,
    cell_size: f32,
    skin: f32,
    dt: f32,
    cell_cap: u32,
    nbr_cap: u32,
    n_chain: u32,
    steps: u32,
    n_dof: f32,
    tau_t: f32,
    t_from: f32,
    t_to: f32,
    seg_step0: u32,
    seg_len: u32,
    step0: u32,
    max_force: f32,
}

// mirrored by kernels/src/md/mod.rs `PairParams` (checked member by member against naga)
struct PairParams {
    sigma2: f32,
    eps: f32,
    rc2: f32,
    // squared neighbour-list radius (rc + skin)^2
    rl2: f32,
    // phi*'(rc), the slope removed by the linear smoothing (PAIR_LJ_SMOOTH_LINEAR)
    fc: f32,
    // phi*(rc) (PAIR_LJ_SMOOTH_LINEAR)
    ec: f32,
    rc: f32,
    // PAIR_LJ_SMOOTH_LINEAR or PAIR_LJ_POLY
    form: u32,
    // PAIR_LJ_POLY's polynomial k0 + k2 r^2 + k4 r^4 (4 eps c_n / sigma^n, multiplied out on the host)
    k0: f32,
    k2: f32,
    k4: f32,
    _pad: f32,
}

// mirrored by kernels/src/md/mod.rs `SpeciesParams` (checked member by member against naga)
struct SpeciesParams {
    mass: f32,
    inv_mass: f32,
    _pad0: f32,
    _pad1: f32,
}

// mirrored by kernels/src/md/mod.rs `ReplicaState` (checked member by member against naga)
struct ReplicaState {
    eta: array<f32, MAX_CHAIN>,
    veta: array<f32, MAX_CHAIN>,
    ke: f32,
    pe: f32,
    // 0 running; else why it stopped (see `Failure` on the host)
    status: u32,
    fail_step: u32,
    rebuilds: u32,
    // this replica's thermostat target is the schedule's times t_scale (runs at several T in one batch)
    t_scale: f32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: MdParams;
@group(0) @binding(1) var<storage, read> pairs: array<PairParams>;
@group(0) @binding(2) var<storage, read> sp: array<SpeciesParams>;
@group(0) @binding(3) var<storage, read> species: array<u32>;
@group(0) @binding(4) var<storage, read_write> pos: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> vel: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> force: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> pe: array<f32>;
@group(0) @binding(8) var<storage, read_write> img: array<vec2<i32>>;
@group(0) @binding(9) var<storage, read_write> xref: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read_write> cells: array<u32>;
@group(0) @binding(11) var<storage, read_write> nbr: array<u32>;
@group(0) @binding(12) var<storage, read_write> nn: array<u32>;
@group(0) @binding(13) var<storage, read_write> state: array<ReplicaState>;
// [0] largest cell occupancy seen, [1] largest neighbour count seen: the host grows and redoes past capacity.
@group(0) @binding(14) var<storage, read_write> overflow: array<atomic<u32>>;

var<workgroup> red: array<f32, WG>;
var<workgroup> ccount: array<atomic<u32>, MAX_CELLS>;
var<workgroup> wg_flag: u32;
var<workgroup> wg_scale: f32;
var<workgroup> wg_fail: atomic<u32>;

// An empty merge head (no particle has this index).
const NONE: u32 = 0xffffffffu;

fn min_image(d: vec2<f32>) -> vec2<f32> {
    return d - P.box_l * round(d / P.box_l);
}

fn cell_of(x: vec2<f32>) -> vec2<u32> {
    let c = vec2<i32>(floor(x / P.cell_size));
    return vec2<u32>(clamp(c, vec2<i32>(0), vec2<i32>(i32(P.nc) - 1)));
}

// k-th neighbour of particle i in replica r: k-major inside a replica so that neighbouring threads read neighbouring words.
fn nb_idx(r: u32, k: u32, i: u32) -> u32 {
    return (r * P.nbr_cap + k) * P.n + i;
}

fn not_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// Tree sum over the workgroup; every thread gets the total. Fixed order, so deterministic.
fn wg_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

fn wg_max(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = max(red[lid], red[lid + s]);
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

// Bins the replica's particles into cells and rebuilds every neighbour list (in index order), storing the
// positions it was built at. Called by the whole workgroup. The binning's atomics leave each cell in any order, so
// each cell is then sorted by index (cells hold about ten particles); each list is a merge of the sorted cells of
// its stencil, so it comes out in index order with no sorting of the lists themselves: the force sum has one order.
fn rebuild(r: u32, lid: u32) {
    let ncell = P.nc * P.nc;
    let base = r * P.n;
    for (var c = lid; c < ncell; c += WG) {
        atomicStore(&ccount[c], 0u);
    }
    workgroupBarrier();
    for (var i = lid; i < P.n; i += WG) {
        let c = cell_of(pos[base + i]);
        let ci = c.y * P.nc + c.x;
        let slot = atomicAdd(&ccount[ci], 1u);
        if (slot < P.cell_cap) {
            cells[(r * ncell + ci) * P.cell_cap + slot] = i;
        }
    }
    storageBarrier();
    workgroupBarrier();
    for (var c = lid; c < ncell; c += WG) {
        let m = atomicLoad(&ccount[c]);
        atomicMax(&overflow[0], m);
        // insertion sort of the cell's members by index
        let cb = (r * ncell + c) * P.cell_cap;
        let len = min(m, P.cell_cap);
        for (var a = 1u; a < len; a++) {
            let v = cells[cb + a];
            var b = a;
            loop {
                if (b == 0u) {
                    break;
                }
                let prev = cells[cb + b - 1u];
                if (prev < v) {
                    break;
                }
                cells[cb + b] = prev;
                b -= 1u;
            }
            cells[cb + b] = v;
        }
    }
    storageBarrier();
    workgroupBarrier();
    // A 3x3 stencil needs nc >= 3; smaller boxes use one cell holding everything.
    let span = select(1u, 3u, P.nc >= 3u);
    let back = span / 2u;
    let nsten = span * span;
    for (var i = lid; i < P.n; i += WG) {
        let xi = pos[base + i];
        let si = species[i];
        let c = cell_of(xi);
        // a cursor into each sorted stencil cell, and the member it points at (NONE when the cell is done)
        var cur: array<u32, 9>;
        var last: array<u32, 9>;
        var head: array<u32, 9>;
        for (var k = 0u; k < 9u; k++) {
            head[k] = NONE;
            if (k < nsten) {
                let cy = (c.y + P.nc + k / span - back) % P.nc;
                let cx = (c.x + P.nc + k % span - back) % P.nc;
                let cb = (r * ncell + cy * P.nc + cx) * P.cell_cap;
                cur[k] = cb;
                last[k] = cb + min(atomicLoad(&ccount[cy * P.nc + cx]), P.cell_cap);
                head[k] = select(NONE, cells[cb], cb < last[k]);
            }
        }
        var count = 0u;
        loop {
            // the smallest head, written out rather than looped so that each member costs one loop trip (see
            // `md::loop_trips`); heads are distinct particles or NONE, so the order of comparison does not matter
            var j = head[0];
            var kj = 0u;
            if (head[1] < j) { j = head[1]; kj = 1u; }
            if (head[2] < j) { j = head[2]; kj = 2u; }
            if (head[3] < j) { j = head[3]; kj = 3u; }
            if (head[4] < j) { j = head[4]; kj = 4u; }
            if (head[5] < j) { j = head[5]; kj = 5u; }
            if (head[6] < j) { j = head[6]; kj = 6u; }
            if (head[7] < j) { j = head[7]; kj = 7u; }
            if (head[8] < j) { j = head[8]; kj = 8u; }
            if (j == NONE) {
                break;
            }
            cur[kj] += 1u;
            head[kj] = select(NONE, cells[cur[kj]], cur[kj] < last[kj]);
            if (j == i) {
                continue;
            }
            let d = min_image(xi - pos[base + j]);
            if (dot(d, d) < pairs[si * P.n_species + species[j]].rl2) {
                if (count < P.nbr_cap) {
                    nbr[nb_idx(r, count, i)] = j;
                }
                count += 1u;
            }
        }
        nn[base + i] = min(count, P.nbr_cap);
        xref[base + i] = xi;
        atomicMax(&overflow[1], count);
    }
    storageBarrier();
    workgroupBarrier();
}

// LJ forces and per-particle energies (half of each pair) for replica r, each pair in its form (the branch is
// uniform in practice: a system's pairs share one form).
// Returns this thread's share of the potential energy; flags non-finite or absurd forces in wg_fail.
fn compute_forces(r: u32, lid: u32) -> f32 {
    let base = r * P.n;
    var e_thread = 0.0;
    for (var i = lid; i < P.n; i += WG) {
        let xi = pos[base + i];
        let row = species[i] * P.n_species;
        var f = vec2<f32>(0.0, 0.0);
        var e = 0.0;
        let m = nn[base + i];
        for (var k = 0u; k < m; k++) {
            let j = nbr[nb_idx(r, k, i)];
            let d = min_image(xi - pos[base + j]);
            let r2 = dot(d, d);
            let pp = pairs[row + species[j]];
            if (r2 < pp.rc2) {
                let inv2 = 1.0 / r2;
                let sr2 = pp.sigma2 * inv2;
                let sr6 = sr2 * sr2 * sr2;
                let sr12 = sr6 * sr6;
                if (pp.form == PAIR_LJ_POLY) {
                    // even in r: no square root
                    let fr = 24.0 * pp.eps * inv2 * (2.0 * sr12 - sr6) - (2.0 * pp.k2 + 4.0 * pp.k4 * r2);
                    f += fr * d;
                    e += 4.0 * pp.eps * (sr12 - sr6) + (pp.k0 + r2 * (pp.k2 + pp.k4 * r2));
                } else {
                    let rr = sqrt(r2);
                    let fr = 24.0 * pp.eps * inv2 * (2.0 * sr12 - sr6) + pp.fc / rr;
                    f += fr * d;
                    e += 4.0 * pp.eps * (sr12 - sr6) - pp.ec - (rr - pp.rc) * pp.fc;
                }
            }
        }
        force[base + i] = f;
        pe[base + i] = 0.5 * e;
        e_thread += 0.5 * e;
        if (not_finite(f.x) || not_finite(f.y) || not_finite(e)) {
            atomicMax(&wg_fail, FAIL_NONFINITE);
        } else if (dot(f, f) > P.max_force * P.max_force) {
            atomicMax(&wg_fail, FAIL_FORCE);
        }
    }
    return e_thread;
}

// Thread 0 stores a failure seen by any thread; returns it uniformly.
fn settle_failure(r: u32, lid: u32, step: u32) -> u32 {
    workgroupBarrier();
    if (lid == 0u) {
        let f = atomicLoad(&wg_fail);
        if (f != 0u && state[r].status == 0u) {
            state[r].status = f;
            state[r].fail_step = step;
        }
        wg_flag = state[r].status;
    }
    return workgroupUniformLoad(&wg_flag);
}

// Moves particle `idx` (flat index) by v dt, wraps it into the box counting the image, and returns its squared
// distance from where it stood at the last list build.
fn drift_wrap(idx: u32, v: vec2<f32>, dt: f32) -> f32 {
    var x = pos[idx] + v * dt;
    var w = img[idx];
    if (x.x >= P.box_l) { x.x -= P.box_l; w.x += 1; }
    if (x.x < 0.0) { x.x += P.box_l; w.x -= 1; }
    if (x.y >= P.box_l) { x.y -= P.box_l; w.y += 1; }
    if (x.y < 0.0) { x.y += P.box_l; w.y -= 1; }
    pos[idx] = x;
    img[idx] = w;
    let dd = min_image(x - xref[idx]);
    return dot(dd, dd);
}

// Rebuilds replica r's lists when the largest squared move since the last build (each thread's `d2max`)
// exceeds `limit`; the whole workgroup takes the same branch.
fn rebuild_if_moved(r: u32, lid: u32, d2max: f32, limit: f32) {
    storageBarrier();
    let moved = wg_max(lid, d2max);
    if (lid == 0u) {
        wg_flag = select(0u, 1u, moved > limit);
    }
    if (workgroupUniformLoad(&wg_flag) != 0u) {
        rebuild(r, lid);
        if (lid == 0u) {
            state[r].rebuilds += 1u;
        }
    }
    storageBarrier();
}
