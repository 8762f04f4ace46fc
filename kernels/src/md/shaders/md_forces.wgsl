// md_forces: rebuilds every replica's neighbour list and evaluates forces and potential energy once.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    if (r >= P.n_replicas) {
        return;
    }
    if (lid == 0u) {
        atomicStore(&wg_fail, 0u);
    }
    rebuild(r, lid);
    let e = wg_sum(lid, compute_forces(r, lid));
    if (lid == 0u) {
        state[r].pe = e;
    }
    settle_failure(r, lid, P.step0);
}
