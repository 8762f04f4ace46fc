// md_step: `steps` velocity-Verlet steps with a Nose-Hoover chain (symmetric Trotter splitting) for every replica,
// the thermostat target ramping linearly over the current schedule segment.

// Target temperature at the end of segment step k; the form t_from*(1-a) + t_to*a hits t_to exactly at a = 1.
fn target_at(k: u32) -> f32 {
    let a = f32(k) / f32(max(P.seg_len, 1u));
    return P.t_from * (1.0 - a) + P.t_to * a;
}

// Half a thermostat step on the chain of replica r (Martyna-Tuckerman-Klein); returns the velocity scale.
fn nhc_update(r: u32, ke2_in: f32, kt: f32) -> f32 {
    var st = state[r];
    let m = P.n_chain;
    let dt2 = 0.5 * P.dt;
    let dt4 = 0.25 * P.dt;
    let dt8 = 0.125 * P.dt;
    let tau2 = P.tau_t * P.tau_t;
    var q: array<f32, MAX_CHAIN>;
    var g: array<f32, MAX_CHAIN>;
    q[0] = P.n_dof * kt * tau2;
    for (var j = 1u; j < m; j++) {
        q[j] = kt * tau2;
    }
    var ke2 = ke2_in;
    g[0] = (ke2 - P.n_dof * kt) / q[0];
    for (var j = 1u; j < m; j++) {
        g[j] = (q[j - 1u] * st.veta[j - 1u] * st.veta[j - 1u] - kt) / q[j];
    }
    st.veta[m - 1u] += g[m - 1u] * dt4;
    for (var jj = i32(m) - 2; jj >= 0; jj--) {
        let j = u32(jj);
        let aa = exp(-st.veta[j + 1u] * dt8);
        st.veta[j] = (st.veta[j] * aa + g[j] * dt4) * aa;
    }
    let scale = exp(-st.veta[0] * dt2);
    ke2 *= scale * scale;
    for (var j = 0u; j < m; j++) {
        st.eta[j] += st.veta[j] * dt2;
    }
    g[0] = (ke2 - P.n_dof * kt) / q[0];
    for (var j = 0u; j + 1u < m; j++) {
        let aa = exp(-st.veta[j + 1u] * dt8);
        st.veta[j] = (st.veta[j] * aa + g[j] * dt4) * aa;
        g[j + 1u] = (q[j] * st.veta[j] * st.veta[j] - kt) / q[j + 1u];
    }
    st.veta[m - 1u] += g[m - 1u] * dt4;
    state[r] = st;
    return scale;
}

// Thermostat half step for the whole workgroup: reduce 2 KE, update the chain, scale velocities.
// Returns 2 KE after scaling.
fn nhc_half(r: u32, lid: u32, kt: f32) -> f32 {
    let base = r * P.n;
    var k2 = 0.0;
    for (var i = lid; i < P.n; i += WG) {
        let v = vel[base + i];
        k2 += sp[species[i]].mass * dot(v, v);
    }
    let ke2 = wg_sum(lid, k2);
    if (lid == 0u) {
        // chain length 0 is plain NVE
        if (P.n_chain == 0u) {
            wg_scale = 1.0;
        } else {
            wg_scale = nhc_update(r, ke2, kt);
        }
    }
    let sc = workgroupUniformLoad(&wg_scale);
    for (var i = lid; i < P.n; i += WG) {
        vel[base + i] = vel[base + i] * sc;
    }
    return ke2 * sc * sc;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    if (r >= P.n_replicas) {
        return;
    }
    let base = r * P.n;
    let half_dt = 0.5 * P.dt;
    let limit = 0.25 * P.skin * P.skin;
    for (var s = 0u; s < P.steps; s++) {
        if (lid == 0u) {
            atomicStore(&wg_fail, 0u);
            wg_flag = state[r].status;
        }
        if (workgroupUniformLoad(&wg_flag) != 0u) {
            return;
        }
        let kt = target_at(P.seg_step0 + s + 1u) * state[r].t_scale;
        nhc_half(r, lid, kt);
        // kick, drift, wrap into the box, and how far anyone moved since the last list build
        var d2max = 0.0;
        for (var i = lid; i < P.n; i += WG) {
            let im = sp[species[i]].inv_mass;
            let v = vel[base + i] + force[base + i] * (im * half_dt);
            vel[base + i] = v;
            d2max = max(d2max, drift_wrap(base + i, v, P.dt));
        }
        rebuild_if_moved(r, lid, d2max, limit);
        let e = wg_sum(lid, compute_forces(r, lid));
        storageBarrier();
        for (var i = lid; i < P.n; i += WG) {
            let im = sp[species[i]].inv_mass;
            vel[base + i] = vel[base + i] + force[base + i] * (im * half_dt);
        }
        storageBarrier();
        let ke2 = nhc_half(r, lid, kt);
        if (lid == 0u) {
            state[r].ke = 0.5 * ke2;
            state[r].pe = e;
        }
        storageBarrier();
        if (settle_failure(r, lid, P.step0 + s + 1u) != 0u) {
            return;
        }
    }
}
