// md_fire: FIRE 2.0 energy minimisation (semi-implicit Euler, Guénolé et al. 2020) of every replica, P.steps
// iterations per dispatch on md_common's lists and forces; P.steps = 0 only rebuilds lists and evaluates forces.
// A replica stops when max |F| < ftol (converged), when it fails, or at the iteration cap.

// mirrored by kernels/src/md/fire/mod.rs `FireParams` (checked member by member against naga)
struct FireParams {
    dt_start: f32,
    dt_max: f32,
    dt_min: f32,
    alpha0: f32,
    f_inc: f32,
    f_dec: f32,
    f_alpha: f32,
    ftol2: f32,
    n_delay: u32,
    max_iter: u32,
    _pad0: u32,
    _pad1: u32,
}

// mirrored by kernels/src/md/fire/mod.rs `FireState` (checked member by member against naga)
struct FireState {
    dt: f32,
    alpha: f32,
    // iterations since the power F.v was last <= 0
    n_pos: u32,
    iters: u32,
    // FIRE_RUNNING, FIRE_CONVERGED or FIRE_FAILED
    status: u32,
    pe: f32,
    // sum F.F, the power F.v and max |F_i|^2 at the current positions
    f2: f32,
    power: f32,
    fmax2: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(15) var<uniform> FP: FireParams;
@group(0) @binding(16) var<storage, read_write> fire: array<FireState>;

// FIRE_RUNNING, FIRE_CONVERGED and FIRE_FAILED (the status word) come from the prelude.

var<workgroup> red4: array<vec4<f32>, WG>;
var<workgroup> wg_dt: f32;
var<workgroup> wg_alpha: f32;
var<workgroup> wg_f2: f32;
var<workgroup> wg_uphill: u32;

// Tree reduction: x, y, z summed, w maxed; every thread gets the result. Fixed order, so deterministic.
fn wg_stats(lid: u32, v: vec4<f32>) -> vec4<f32> {
    red4[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let a = red4[lid];
            let b = red4[lid + s];
            red4[lid] = vec4<f32>(a.xyz + b.xyz, max(a.w, b.w));
        }
        workgroupBarrier();
    }
    let total = red4[0];
    workgroupBarrier();
    return total;
}

// Forces at the current positions, then what the next iteration needs: (E, F.F, F.v, max |F_i|^2); thread 0
// records them and decides failure, then convergence. `counted` adds one to the iteration count.
fn fire_forces(r: u32, lid: u32, counted: u32) {
    let base = r * P.n;
    let e = compute_forces(r, lid);
    var f2 = 0.0;
    var power = 0.0;
    var fmax2 = 0.0;
    for (var i = lid; i < P.n; i += WG) {
        let f = force[base + i];
        let ff = dot(f, f);
        f2 += ff;
        power += dot(f, vel[base + i]);
        fmax2 = max(fmax2, ff);
    }
    let s = wg_stats(lid, vec4<f32>(e, f2, power, fmax2));
    if (lid == 0u) {
        var st = fire[r];
        st.iters += counted;
        st.pe = s.x;
        st.f2 = s.y;
        st.power = s.z;
        st.fmax2 = s.w;
        let fail = atomicLoad(&wg_fail);
        if (fail != 0u) {
            if (state[r].status == 0u) {
                state[r].status = fail;
                state[r].fail_step = st.iters;
            }
            st.status = FIRE_FAILED;
        } else if (s.w < FP.ftol2) {
            st.status = FIRE_CONVERGED;
        }
        state[r].pe = s.x;
        fire[r] = st;
    }
    storageBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    if (r >= P.n_replicas) {
        return;
    }
    let base = r * P.n;
    let limit = 0.25 * P.skin * P.skin;
    if (P.steps == 0u) {
        if (lid == 0u) {
            atomicStore(&wg_fail, 0u);
        }
        rebuild(r, lid);
        fire_forces(r, lid, 0u);
        return;
    }
    for (var s = 0u; s < P.steps; s++) {
        if (lid == 0u) {
            atomicStore(&wg_fail, 0u);
            var st = fire[r];
            let running = st.status == FIRE_RUNNING && st.iters < FP.max_iter;
            wg_flag = select(0u, 1u, running);
            // adapt dt and alpha on the sign of the power; going uphill also steps half back and stops
            let uphill = st.power <= 0.0;
            if (running) {
                if (uphill) {
                    st.n_pos = 0u;
                    if (st.iters >= FP.n_delay) {
                        st.dt = max(st.dt * FP.f_dec, FP.dt_min);
                        st.alpha = FP.alpha0;
                    }
                } else {
                    st.n_pos += 1u;
                    if (st.n_pos > FP.n_delay) {
                        st.dt = min(st.dt * FP.f_inc, FP.dt_max);
                        st.alpha *= FP.f_alpha;
                    }
                }
                fire[r] = st;
            }
            wg_dt = st.dt;
            wg_alpha = st.alpha;
            wg_f2 = st.f2;
            wg_uphill = select(0u, 1u, uphill);
        }
        if (workgroupUniformLoad(&wg_flag) == 0u) {
            return;
        }
        let dt = wg_dt;
        let uphill = wg_uphill != 0u;
        // FIRE 2.0 on an uphill step: half a step back and stop, then the kick from rest; then |v| for the mixing
        var v2 = 0.0;
        for (var i = lid; i < P.n; i += WG) {
            let im = sp[species[i]].inv_mass;
            var v = vel[base + i];
            if (uphill) {
                pos[base + i] = pos[base + i] - 0.5 * dt * v;
                v = vec2<f32>(0.0, 0.0);
            }
            v = v + force[base + i] * (im * dt);
            vel[base + i] = v;
            v2 += dot(v, v);
        }
        let v2s = wg_sum(lid, v2);
        let alpha = wg_alpha;
        let f2 = wg_f2;
        let mix_v = 1.0 - alpha;
        let mix_f = select(0.0, alpha * sqrt(v2s / f2), f2 > 0.0);
        // mix, drift, wrap, and how far anyone moved since the list build
        var d2max = 0.0;
        for (var i = lid; i < P.n; i += WG) {
            let v = mix_v * vel[base + i] + mix_f * force[base + i];
            vel[base + i] = v;
            d2max = max(d2max, drift_wrap(base + i, v, dt));
        }
        rebuild_if_moved(r, lid, d2max, limit);
        fire_forces(r, lid, 1u);
    }
}
