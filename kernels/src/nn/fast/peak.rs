//! The f32 peak of this machine's cores (cores x clock x SIMD lanes x FMA units x 2 flops), with how it was
//! computed, and CPU-time clocks: what the CNN's benchmarks state their GEMM speed against.

use super::Isa;

/// CPU seconds used so far by this process (`process`) or this thread; NaN where unknown. On a machine others
/// share, work per CPU second measures the code, work per wall second also the share of the cores it got.
pub fn cpu_seconds(process: bool) -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        // CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID
        let clock = if process { 2 } else { 3 };
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: clock_gettime writes one timespec
        if unsafe { clock_gettime(clock, &mut ts) } == 0 {
            return ts.sec as f64 + ts.nsec as f64 * 1e-9;
        }
    }
    let _ = process;
    f64::NAN
}

/// The clock one core runs at now, in GHz: a chain of dependent integer adds (one cycle each) timed.
#[cfg(target_arch = "x86_64")]
pub fn measured_ghz() -> f64 {
    let iters: u64 = 50_000_000;
    let t = cpu_seconds(false);
    let mut x: u64 = 0;
    let mut n = iters;
    // SAFETY: registers only
    unsafe {
        std::arch::asm!(
            "2:",
            "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
            "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
            "dec {n}",
            "jnz 2b",
            x = inout(reg) x,
            n = inout(reg) n,
        );
    }
    assert_eq!((x, n), (8 * iters, 0));
    8.0 * iters as f64 / (cpu_seconds(false) - t) / 1e9
}

#[cfg(not(target_arch = "x86_64"))]
pub fn measured_ghz() -> f64 {
    f64::NAN
}

/// FMAs on 16 independent registers: what one core's FMA units deliver, in GFLOP per CPU second.
pub fn measured_fma_peak(isa: Isa) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        const ITERS: usize = 20_000_000;
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512() -> f32 {
            let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
            let mut acc = [_mm512_set1_ps(1.0); 16];
            for _ in 0..ITERS {
                for v in acc.iter_mut() {
                    *v = _mm512_fmadd_ps(*v, a, b);
                }
            }
            acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2() -> f32 {
            let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
            let mut acc = [_mm256_set1_ps(1.0); 16];
            for _ in 0..ITERS {
                for v in acc.iter_mut() {
                    *v = _mm256_fmadd_ps(*v, a, b);
                }
            }
            let mut out = [0f32; 8];
            _mm256_storeu_ps(out.as_mut_ptr(), acc[0]);
            out.iter().sum()
        }
        let (lanes, run): (usize, fn() -> f32) = match isa {
            // SAFETY: detection found the unit
            Isa::Avx512 => (16, || unsafe { avx512() }),
            Isa::Avx2 => (8, || unsafe { avx2() }),
            Isa::Scalar => return f64::NAN,
        };
        let t = cpu_seconds(false);
        std::hint::black_box(run());
        (ITERS * 16 * lanes * 2) as f64 / (cpu_seconds(false) - t) / 1e9
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        f64::NAN
    }
}

/// The machine's f32 peak: cores x clock x SIMD lanes x FMA units x 2 flops, with the clock of /proc/cpuinfo and
/// the clock one core runs at (`measured_ghz`), and the FMA loop's own rate. Returns one core's peak at the
/// measured clock in GFLOP/s, the cores (rayon's threads), and the lines saying how it was computed.
pub fn peak(fma_units: Option<usize>) -> (f64, usize, Vec<String>) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let cores = rayon::current_num_threads();
    let mhz: f64 = field("cpu MHz").parse().unwrap_or(f64::NAN);
    let flags = field("flags");
    let has = |f: &str| flags.split(' ').any(|x| x == f);
    let lanes = if has("avx512f") {
        16
    } else if has("avx2") {
        8
    } else {
        4
    };
    // FMA units per core at that width: AMD Zen 4 runs a 512-bit FMA as two halves on its two 256-bit units (one
    // 512-bit FMA per cycle); AVX2 cores and Intel's AVX-512 server cores have two. /proc/cpuinfo does not say:
    // `--fma-units` overrides.
    let amd = field("vendor_id") == "AuthenticAMD";
    let units = fma_units.unwrap_or(if amd && lanes == 16 { 1 } else { 2 });
    let ghz = measured_ghz();
    let per_ghz = (cores * lanes * units * 2) as f64;
    let core = per_ghz / cores as f64 * ghz;
    let fma = measured_fma_peak(Isa::detect());
    let lines = vec![
        format!(
            "{} (family {}), {cores} cores x {lanes} f32 lanes x {units} FMA unit(s) x 2 flops = {per_ghz} flops \
             per cycle",
            field("model name"),
            field("cpu family")
        ),
        format!(
            "peak at /proc/cpuinfo's {:.3} GHz: {:.1} GFLOP/s; at the {ghz:.2} GHz a dependent-add chain runs at \
             (timed in CPU time): {:.1} GFLOP/s, {core:.1} per core; an FMA loop reaches {fma:.1} GFLOP per CPU \
             second on one core",
            mhz / 1e3,
            per_ghz * mhz / 1e3,
            per_ghz * ghz
        ),
    ];
    (core, cores, lines)
}
