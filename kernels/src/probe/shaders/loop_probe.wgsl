// loop_probe: counts the trips of one loop of P.trips trips. A conforming driver returns P.trips; a driver that
// ends a shader's loops after a fixed total returns that total (GpuContext::loop_budget).

// mirrored by kernels/src/probe/mod.rs `ProbeParams` (checked member by member against naga)
struct ProbeParams {
    trips: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: ProbeParams;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(1)
fn main() {
    var count = 0u;
    for (var i = 0u; i < P.trips; i++) {
        count += 1u;
    }
    out[0] = count;
}
