//! Criterion benchmark of md_step: KAM N = 2000, 16 replicas, CPU twin and (when an adapter exists) GPU.
//! Throughput is reported in particle-steps. `glasscam bench md` prints the full table (1 to 1024 replicas).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glasscam::sim::bench::bench_replicas;
use glasscam::sim::system::{MdSettings, SystemDef};
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::{Advance, MdBackend, Segment};

fn md_step(c: &mut Criterion) {
    let sys = SystemDef::kam();
    let setup = sys.md_setup(&MdSettings::default());
    let replicas = 16;
    let steps = 20;
    let reps = bench_replicas(&setup, replicas, sys.t_liquid);
    let seg = Segment {
        t_from: 0.8,
        t_to: 0.8,
        len: u64::MAX / 4,
    };
    let mut group = c.benchmark_group("md_step");
    group.sample_size(10);
    group.throughput(Throughput::Elements((replicas * setup.n) as u64 * steps));
    let mut backends: Vec<(&str, Box<dyn MdBackend>)> =
        vec![("cpu", Box::new(CpuMd::new(setup.clone()).expect("setup")))];
    match glasscam_kernels::gpu::shared_context() {
        Ok(ctx) => backends.push((
            "gpu",
            Box::new(GpuMd::new(ctx, setup.clone()).expect("setup")),
        )),
        Err(e) => eprintln!("md_step bench: GPU skipped ({e})"),
    }
    for (name, mut b) in backends {
        b.upload(&reps).expect("upload");
        let mut step = 0u64;
        group.bench_function(format!("{name}/kam2000x{replicas}/{steps}steps"), |bench| {
            bench.iter(|| {
                b.advance(&Advance {
                    segment: seg,
                    seg_done: step,
                    step0: step,
                    steps,
                })
                .expect("advance");
                b.download().expect("sync");
                step += steps;
            })
        });
    }
    group.finish();
}

criterion_group!(benches, md_step);
criterion_main!(benches);
