//! The CNN on the CPU in images/s: training steps and Grad-CAM batches of the f32 backend and the f64 twin on the
//! paper's network (SPEC §5) and the quick preset's, with PyTorch CPU (`benches/torch_cnn.py`) alternating with
//! glasscam in every round (medians over the rounds, the 1-minute load beside each measurement); `--profile`: the
//! time per layer, forward and backward; `--kernels`: the convolution and dense GEMMs in GFLOP/s beside the
//! machine's peak, and the convolutions as im2col + `matrixmultiply` GEMMs on the same shapes.
//!
//! cargo bench -p glasscam-kernels --bench cnn_cpu -- [--net paper|quick|both] [--rounds 3] [--seconds 4]
//!     [--python python3] [--torch PATH|none] [--torch-threads default,1] [--no-f64] [--no-set] [--profile]
//!     [--kernels] [--fma-units N]
//!
//! Columns: `train`, training steps on one fixed batch (what torch_cnn.py times); `gradcam`, Grad-CAM batches;
//! `from set`, training as `train` runs it, each batch gathered, augmented, gridized and standardized from
//! 2000-particle snapshots on the backend. The lead's table: `--rounds 3 --profile --kernels` on an idle machine,
//! with `--python` naming an interpreter that has torch.

use std::process::Command;
use std::time::Instant;

use glasscam_kernels::nn::fast::conv::{self, Conv, Geom, WGrad};
use glasscam_kernels::nn::fast::{dense, Isa};
use glasscam_kernels::nn::net::{Net, TrainSet};
use glasscam_kernels::nn::{AdamSpec, GridSpec, Head, NetSpec, Precision};
use glasscam_kernels::Compute;
use rayon::prelude::*;

/// One network to time: its spec, batch, and the model file PyTorch reads (none: the paper's defaults).
struct Bench {
    name: &'static str,
    spec: NetSpec,
    batch: usize,
    /// Gaussian width of the gridization (`--set`).
    width: f64,
    model: Option<String>,
}

fn paper() -> Bench {
    Bench {
        name: "paper",
        spec: NetSpec {
            in_channels: 2,
            grid: 128,
            conv: vec![8, 16, 16],
            kernel: 5,
            hidden: 64,
            classes: 2,
            dropout: 0.5,
            head: Head::Flatten,
        },
        batch: 32,
        width: 0.3,
        model: None,
    }
}

/// The quick preset's network, read from presets/quick-model.toml (the keys the network needs; `key = value`
/// lines).
fn quick(root: &str) -> Bench {
    let path = format!("{root}/presets/quick-model.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value = |key: &str| -> String {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("{path}: no {key}"))
    };
    let num = |key: &str| -> f64 {
        value(key)
            .parse()
            .unwrap_or_else(|_| panic!("{path}: {key}"))
    };
    let conv = value("conv_channels")
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|c| c.trim().parse().expect("channel count"))
        .collect();
    Bench {
        name: "quick",
        spec: NetSpec {
            in_channels: 2,
            grid: num("grid") as usize,
            conv,
            kernel: num("kernel") as usize,
            hidden: num("hidden") as usize,
            classes: 2,
            dropout: num("dropout"),
            head: if value("head") == "mean" {
                Head::Mean
            } else {
                Head::Flatten
            },
        },
        batch: num("batch") as usize,
        width: num("width"),
        model: Some(path),
    }
}

struct Args {
    nets: Vec<&'static str>,
    rounds: usize,
    seconds: f64,
    python: String,
    torch: Option<String>,
    torch_threads: Vec<Option<usize>>,
    f64: bool,
    set: bool,
    profile: bool,
    kernels: bool,
    fma_units: Option<usize>,
}

fn args(root: &str) -> Args {
    let mut a = Args {
        nets: vec!["paper", "quick"],
        rounds: 3,
        seconds: 4.0,
        python: "python3".into(),
        torch: Some(format!("{root}/benches/torch_cnn.py")),
        torch_threads: vec![None, Some(1)],
        f64: true,
        set: true,
        profile: false,
        kernels: false,
        fma_units: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{x} takes a value"));
        match x.as_str() {
            "--net" => {
                a.nets = match val().as_str() {
                    "paper" => vec!["paper"],
                    "quick" => vec!["quick"],
                    "both" => vec!["paper", "quick"],
                    v => panic!("--net {v}: paper, quick or both"),
                }
            }
            "--rounds" => a.rounds = val().parse().expect("--rounds N"),
            "--seconds" => a.seconds = val().parse().expect("--seconds S"),
            "--python" => a.python = val(),
            "--torch" => {
                let v = val();
                a.torch = (v != "none").then_some(v);
            }
            "--torch-threads" => {
                a.torch_threads = val()
                    .split(',')
                    .map(|t| (t != "default").then(|| t.parse().expect("thread count")))
                    .collect()
            }
            "--no-f64" => a.f64 = false,
            "--no-set" => a.set = false,
            "--profile" => a.profile = true,
            "--kernels" => a.kernels = true,
            "--fma-units" => a.fma_units = Some(val().parse().expect("--fma-units N")),
            // cargo bench passes --bench to every harness
            "--bench" => {}
            other => panic!("unknown argument {other} (see the top of kernels/benches/cnn_cpu.rs)"),
        }
    }
    a
}

fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

/// Fixed pseudo-random images and alternating labels (as `glasscam bench nn` feeds).
fn batch(spec: &NetSpec, b: usize) -> (Vec<f32>, Vec<u32>) {
    let imgs = (0..b * spec.act_len(0))
        .map(|i| ((i * 2654435761) % 1000) as f32 / 4000.0)
        .collect();
    (imgs, (0..b as u32).map(|i| i % 2).collect())
}

/// Runs `f` (which processes `per` images) once to warm up, then until `seconds` have passed (at least twice):
/// images per second.
fn rate(seconds: f64, per: usize, mut f: impl FnMut(u32)) -> f64 {
    f(0);
    let t = Instant::now();
    let mut n = 0;
    while n < 2 || t.elapsed().as_secs_f64() < seconds {
        n += 1;
        f(n);
    }
    (n as usize * per) as f64 / t.elapsed().as_secs_f64()
}

/// CPU seconds used so far by this process (`process`) or this thread; NaN where unknown. On a machine others
/// share, work per CPU second measures the code, work per wall second also the share of the cores it got.
fn cpu_seconds(process: bool) -> f64 {
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

/// Runs `f` once to warm up, then until `seconds` have passed (at least twice): runs per wall second and per CPU
/// second of the process.
fn cpu_rate(seconds: f64, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let (t, c) = (Instant::now(), cpu_seconds(true));
    let mut n = 0;
    while n < 2 || t.elapsed().as_secs_f64() < seconds {
        n += 1;
        f();
    }
    let wall = t.elapsed().as_secs_f64();
    (n as f64 / wall, n as f64 / (cpu_seconds(true) - c))
}

/// The network of `b` on the CPU in `precision`, He-initialised from seed 1.
fn net(b: &Bench, precision: Precision) -> Net {
    let spec = b.spec.clone();
    let init = spec.init(1);
    Net::with_precision(&Compute::Cpu, precision, spec, &init, b.batch).expect("net")
}

/// One measurement of one glasscam path: (train, gradcam, train from the set) images/s.
fn time_glasscam(b: &Bench, precision: Precision, seconds: f64, set: bool) -> [f64; 3] {
    let spec = &b.spec;
    let mut net = net(b, precision);
    let (imgs, labels) = batch(spec, b.batch);
    let adam = AdamSpec::default();
    let train = rate(seconds, b.batch, |s| {
        net.train_step(&imgs, &labels, s, &adam).expect("step");
    });
    let gradcam = rate(seconds, b.batch, |_| {
        net.gradcam(&imgs, 1).expect("gradcam");
    });
    let from_set = if set {
        time_set(b, &mut net, seconds)
    } else {
        f64::NAN
    };
    [train, gradcam, from_set]
}

/// Training as `train` runs it: batches gathered from a set of uniform random snapshots of 2000 particles at
/// density 1.2, augmented, gridized and standardized on the backend, then the step.
fn time_set(b: &Bench, net: &mut Net, seconds: f64) -> f64 {
    let n = 2000;
    let size = 4 * b.batch;
    let box_l = (n as f64 / 1.2).sqrt();
    let mut s = glasscam_kernels::rng::SplitMix64(7);
    let positions: Vec<f64> = (0..size * n * 2).map(|_| s.next_f64() * box_l).collect();
    let species: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let labels: Vec<u32> = (0..size as u32).map(|i| i % 2).collect();
    net.load_set(&TrainSet {
        positions: &positions,
        species: &species,
        labels: &labels,
        grid: GridSpec {
            grid: b.spec.grid,
            box_l,
            width: b.width,
            cutoff: 4.0,
        },
        mean: &[0.0, 0.0],
        std: &[1.0, 1.0],
    })
    .expect("set");
    let order: Vec<u32> = (0..size as u32).collect();
    let adam = AdamSpec::default();
    let per_epoch = size / b.batch;
    rate(seconds, b.batch, |step| {
        let k = step as usize % per_epoch;
        if k == 0 {
            let tf: Vec<[f64; 4]> = (0..size)
                .map(|j| [0.1 * j as f64, 0.2 * step as f64, (j % 8) as f64, box_l])
                .collect();
            net.begin_epoch(&order, Some(&tf)).expect("epoch");
        }
        net.train_set_step(k * b.batch, b.batch, step, &adam)
            .expect("step");
    })
}

/// One PyTorch measurement: (train, gradcam) images/s and its description, or why it could not run.
fn time_torch(
    a: &Args,
    script: &str,
    b: &Bench,
    threads: Option<usize>,
) -> Result<([f64; 2], String), String> {
    let mut cmd = Command::new(&a.python);
    cmd.arg(script)
        .args(["--device", "cpu", "--seconds"])
        .arg(a.seconds.to_string());
    if let Some(m) = &b.model {
        cmd.args(["--model", m]);
    }
    if let Some(t) = threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    let out = cmd.output().map_err(|e| format!("{}: {e}", a.python))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("").to_string();
    let nums: Vec<f64> = line
        .split_whitespace()
        .rev()
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    if !out.status.success() || nums.len() != 2 {
        return Err(format!(
            "{script} failed: {}{}",
            line,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    // the line is the description, then the two rates
    let mut desc = line.trim_end();
    for _ in 0..2 {
        desc = desc[..desc.rfind(char::is_whitespace).unwrap_or(0)].trim_end();
    }
    let desc = desc.to_string();
    Ok(([nums[1], nums[0]], desc))
}

/// What the row of a table measures.
struct Row {
    name: String,
    /// Per round: [train, gradcam, train from set] images/s and the load when it ran.
    runs: Vec<([f64; 3], f64)>,
}

impl Row {
    fn medians(&self) -> [f64; 3] {
        std::array::from_fn(|i| median(&self.runs.iter().map(|r| r.0[i]).collect::<Vec<_>>()))
    }
}

fn fmt(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-".into()
    }
}

fn bench_net(a: &Args, b: &Bench) {
    let s = &b.spec;
    println!(
        "\n== {} network: grid {}, conv {:?} k {}, {:?} head, hidden {}, dropout {}, batch {}; {} rayon threads, \
         f32 backend on {}",
        b.name,
        s.grid,
        s.conv,
        s.kernel,
        s.head,
        s.hidden,
        s.dropout,
        b.batch,
        rayon::current_num_threads(),
        Isa::detect().name()
    );
    let mut rows = vec![Row {
        name: "glasscam f32".into(),
        runs: vec![],
    }];
    if a.f64 {
        rows.push(Row {
            name: "glasscam f64 twin".into(),
            runs: vec![],
        });
    }
    let torch_rows = rows.len();
    let mut torch_ok = a.torch.is_some();
    for &t in &a.torch_threads {
        if torch_ok {
            rows.push(Row {
                name: format!(
                    "pytorch {}",
                    t.map_or("default threads".into(), |t| format!("{t} threads"))
                ),
                runs: vec![],
            });
        }
    }
    for round in 0..a.rounds {
        let l = load();
        rows[0]
            .runs
            .push((time_glasscam(b, Precision::F32, a.seconds, a.set), l));
        if a.f64 {
            let l = load();
            // the twin is slow: a shorter window, the same number of rounds
            rows[1]
                .runs
                .push((time_glasscam(b, Precision::F64, a.seconds / 2.0, a.set), l));
        }
        if let (Some(script), true) = (&a.torch, torch_ok) {
            for (j, &t) in a.torch_threads.iter().enumerate() {
                let l = load();
                match time_torch(a, script, b, t) {
                    Ok((r, desc)) => {
                        if round == 0 {
                            rows[torch_rows + j].name = desc;
                        }
                        rows[torch_rows + j].runs.push(([r[0], r[1], f64::NAN], l));
                    }
                    Err(e) => {
                        println!("PyTorch not timed: {e}");
                        torch_ok = false;
                        rows.truncate(torch_rows);
                        break;
                    }
                }
            }
        }
        eprintln!("round {} of {} done", round + 1, a.rounds);
    }
    println!(
        "{:<44} {:>10} {:>10} {:>10}   per round: train / gradcam img/s (load)",
        "path", "train", "gradcam", "from set"
    );
    for r in &rows {
        let m = r.medians();
        let rounds: Vec<String> = r
            .runs
            .iter()
            .map(|(x, l)| format!("{} / {} ({l:.1})", fmt(x[0]), fmt(x[1])))
            .collect();
        println!(
            "{:<44} {:>10} {:>10} {:>10}   {}",
            r.name,
            fmt(m[0]),
            fmt(m[1]),
            fmt(m[2]),
            rounds.join(", ")
        );
    }
    let f32m = rows[0].medians();
    if rows.len() > torch_rows {
        let best = |i: usize| {
            rows[torch_rows..]
                .iter()
                .map(|r| r.medians()[i])
                .fold(f64::NAN, f64::max)
        };
        println!(
            "glasscam f32 / best PyTorch (medians): training {:.2}x, Grad-CAM {:.2}x",
            f32m[0] / best(0),
            f32m[1] / best(1)
        );
    }
    if a.f64 {
        let m = rows[1].medians();
        println!(
            "glasscam f32 / f64 twin (medians): training {:.2}x, Grad-CAM {:.2}x",
            f32m[0] / m[0],
            f32m[1] / m[1]
        );
    }
    if a.profile {
        profile(b, Precision::F32);
        if a.f64 {
            profile(b, Precision::F64);
        }
    }
}

/// Per-layer times of a training step and of a Grad-CAM batch (medians over a few), one op at a time.
fn profile(b: &Bench, precision: Precision) {
    let spec = &b.spec;
    let mut net = net(b, precision);
    let (imgs, labels) = batch(spec, b.batch);
    let adam = AdamSpec::default();
    let reps = if precision == Precision::F32 { 5 } else { 2 };
    let collect = |runs: Vec<Vec<(String, f64)>>| -> Vec<(String, f64)> {
        // sum each label within a run, then the median over runs
        let mut names: Vec<String> = Vec::new();
        for (n, _) in &runs[0] {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        names
            .into_iter()
            .map(|n| {
                let per: Vec<f64> = runs
                    .iter()
                    .map(|r| r.iter().filter(|x| x.0 == n).map(|x| x.1).sum())
                    .collect();
                (n, median(&per))
            })
            .collect()
    };
    net.train_step(&imgs, &labels, 0, &adam).expect("warm-up");
    let train = collect(
        (0..reps)
            .map(|s| {
                net.profile_train_layers(&imgs, &labels, s + 1, &adam)
                    .expect("profile")
            })
            .collect(),
    );
    let gradcam = collect(
        (0..reps)
            .map(|_| net.profile_gradcam_layers(&imgs, 1).expect("profile"))
            .collect(),
    );
    for (what, rows) in [("training step", train), ("Grad-CAM batch", gradcam)] {
        let total: f64 = rows.iter().map(|r| r.1).sum();
        println!(
            "\n{} {}, {}: {:.1} ms per batch of {} ({:.1} img/s), load {:.1}",
            b.name,
            net.describe(),
            what,
            total * 1e3,
            b.batch,
            b.batch as f64 / total,
            load()
        );
        for (name, t) in rows {
            println!(
                "  {:<28} {:>9.3} ms {:>5.1} %",
                name,
                t * 1e3,
                100.0 * t / total
            );
        }
    }
}

/// The clock one core runs at now, in GHz: a chain of dependent integer adds (one cycle each) timed.
#[cfg(target_arch = "x86_64")]
fn measured_ghz() -> f64 {
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
fn measured_ghz() -> f64 {
    f64::NAN
}

/// FMAs on 16 independent registers: what one core's FMA units deliver, in GFLOP per CPU second.
fn measured_fma_peak(isa: Isa) -> f64 {
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
/// measured clock, the cores, and the lines saying how it was computed.
fn peak(fma_units: Option<usize>) -> (f64, usize, Vec<String>) {
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

/// The convolution and dense GEMMs of the paper's network (batch 32) in GFLOP/s, beside the peak; and the
/// forward convolutions as im2col + `matrixmultiply` sgemm per image for comparison.
fn kernels(a: &Args) {
    let (core_peak, cores, how) = peak(a.fma_units);
    println!(
        "\n== GEMM speed on the paper's layer shapes (batch 32, grid 128, k 5), load {:.1}",
        load()
    );
    for line in how {
        println!("{line}");
    }
    let isa = Isa::detect();
    let (batch, g) = (
        32,
        Geom {
            h: 128,
            w: 128,
            k: 5,
        },
    );
    let secs = a.seconds.min(2.0);
    let mut rng = glasscam_kernels::rng::SplitMix64(3);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f64() as f32 - 0.5).collect() };
    println!(
        "  {:<56} {:>22} {:>26}",
        "", "wall: GFLOP/s, % of peak", "GFLOP per CPU s, % of core"
    );
    let report = |what: &str, flop: f64, (wall, cpu): (f64, f64)| {
        let (gw, gc) = (flop * wall / 1e9, flop * cpu / 1e9);
        println!(
            "  {what:<56} {gw:>8.1} {:>12.1} % {gc:>12.1} {:>12.1} %",
            100.0 * gw / (core_peak * cores as f64),
            100.0 * gc / core_peak
        );
    };
    for (c_in, c_out) in [(2, 8), (8, 16), (16, 16)] {
        let kk = g.k * g.k;
        let flop = 2.0 * (batch * c_out * c_in * kk * g.hw()) as f64;
        let input = rand(batch * c_in * g.hw());
        let gout = rand(batch * c_out * g.hw());
        let w = rand(c_out * c_in * kk);
        let bias = rand(c_out);
        let mut out = vec![0f32; batch * c_out * g.hw()];
        let mut gin = vec![0f32; batch * c_in * g.hw()];
        let mut pad = vec![0f32; batch * c_in.max(c_out) * g.padded()];
        let (mut wpk, mut offs) = (Vec::new(), Vec::new());
        let tile = conv::tile(isa);
        let fwd = cpu_rate(secs, || {
            conv::pad(g, &input, &mut pad[..batch * c_in * g.padded()], 2);
            conv::pack(&w, (c_in, c_out, g.k), tile.0, false, &mut wpk);
            conv::tap_offsets(g, c_in, &mut offs);
            let c = Conv {
                g,
                n_src: c_in,
                n_out: c_out,
                tile,
                src: &pad,
                offs: &offs,
                wpk: &wpk,
                bias: Some(&bias),
                relu: true,
            };
            conv::conv(isa, &c, batch, &mut out);
        });
        report(
            &format!("conv {c_in}->{c_out} forward (implicit GEMM, pad included)"),
            flop,
            fwd,
        );
        let bwi = cpu_rate(secs, || {
            conv::pad(g, &gout, &mut pad[..batch * c_out * g.padded()], 2);
            conv::pack(&w, (c_in, c_out, g.k), tile.0, true, &mut wpk);
            conv::tap_offsets(g, c_out, &mut offs);
            let c = Conv {
                g,
                n_src: c_out,
                n_out: c_in,
                tile,
                src: &pad,
                offs: &offs,
                wpk: &wpk,
                bias: None,
                relu: false,
            };
            conv::conv(isa, &c, batch, &mut gin);
        });
        report(&format!("conv {c_in}->{c_out} backward input"), flop, bwi);
        let mut part = Vec::new();
        let bww = cpu_rate(secs, || {
            conv::pad(g, &input, &mut pad[..batch * c_in * g.padded()], 2);
            let wg = WGrad {
                g,
                c_in,
                c_out,
                mc: conv::wgrad_channels(isa),
                src: &pad,
                gout: &gout,
            };
            part.resize(batch * wg.part_len(), 0.0);
            conv::wgrad(isa, &wg, batch, &mut part);
        });
        report(
            &format!("conv {c_in}->{c_out} backward weight (per-image sums)"),
            flop,
            bww,
        );
        // im2col + sgemm: col[(ci, ky, kx)][pixel] per image, out = W col
        let kdim = c_in * kk;
        let mut cols = vec![0f32; rayon::current_num_threads() * kdim * g.hw()];
        let im2col = cpu_rate(secs, || {
            conv::pad(g, &input, &mut pad[..batch * c_in * g.padded()], 2);
            let threads = rayon::current_num_threads();
            let per = batch.div_ceil(threads);
            out.par_chunks_mut(per * c_out * g.hw())
                .zip(cols.par_chunks_mut(kdim * g.hw()))
                .enumerate()
                .for_each(|(t, (o, col))| {
                    for (i, ob) in o.chunks_mut(c_out * g.hw()).enumerate() {
                        let b = t * per + i;
                        let src = &pad[b * c_in * g.padded()..];
                        for (r, crow) in col.chunks_mut(g.hw()).enumerate() {
                            let (ci, ky, kx) = (r / kk, (r % kk) / g.k, r % g.k);
                            for y in 0..g.h {
                                let s = ci * g.padded() + (y + ky) * g.wp() + kx;
                                crow[y * g.w..(y + 1) * g.w].copy_from_slice(&src[s..s + g.w]);
                            }
                        }
                        // SAFETY: W is c_out x kdim, col kdim x hw, ob c_out x hw, all row-major and in bounds
                        unsafe {
                            matrixmultiply::sgemm(
                                c_out,
                                kdim,
                                g.hw(),
                                1.0,
                                w.as_ptr(),
                                kdim as isize,
                                1,
                                col.as_ptr(),
                                g.hw() as isize,
                                1,
                                0.0,
                                ob.as_mut_ptr(),
                                g.hw() as isize,
                                1,
                            )
                        }
                    }
                });
        });
        report(
            &format!("conv {c_in}->{c_out} forward as im2col + matrixmultiply"),
            flop,
            im2col,
        );
    }
    // the flattened head's fc1: batch x 262144 inputs x 64 outputs
    let (n_in, n_out) = (16 * g.hw(), 64);
    let flop = 2.0 * (batch * n_in * n_out) as f64;
    let x = rand(batch * n_in);
    let w = rand(n_out * n_in);
    let bias = rand(n_out);
    let gout = rand(batch * n_out);
    let mut part = vec![0f32; dense::forward_scratch(batch, n_in, n_out)];
    let mut out = vec![0f32; batch * n_out];
    let f = cpu_rate(secs, || {
        dense::forward(
            isa,
            (batch, n_in, n_out),
            &w,
            &bias,
            true,
            &x,
            &mut part,
            &mut out,
        )
    });
    report(
        "fc1 forward (batch x output tiles, chunks of inputs)",
        flop,
        f,
    );
    let mut gin = vec![0f32; batch * n_in];
    let mut pk = dense::Packed::default();
    let bi = cpu_rate(secs, || {
        dense::backward_input(isa, (batch, n_in, n_out), &w, &gout, &mut gin, &mut pk)
    });
    report("fc1 backward input (column GEMM)", flop, bi);
    let (mut gw, mut gb) = (vec![0f32; n_out * n_in], vec![0f32; n_out]);
    let bw = cpu_rate(secs, || {
        dense::backward_weight(
            isa,
            (batch, n_in, n_out),
            &x,
            &gout,
            &mut gw,
            &mut gb,
            &mut pk,
        )
    });
    report("fc1 backward weight (column GEMM)", flop, bw);
    // a large square GEMM: what matrixmultiply reaches on this machine, split over the threads by rows
    let n = 1024;
    let (am, bm) = (rand(n * n), rand(n * n));
    let mut cm = vec![0f32; n * n];
    let threads = rayon::current_num_threads();
    let rows = n.div_ceil(threads);
    let sq = cpu_rate(secs, || {
        cm.par_chunks_mut(rows * n)
            .zip(am.par_chunks(rows * n))
            .for_each(|(c, a)| {
                let m = c.len() / n;
                // SAFETY: a is m x n, bm n x n, c m x n, row-major and in bounds
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        n,
                        n,
                        1.0,
                        a.as_ptr(),
                        n as isize,
                        1,
                        bm.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
    });
    report(
        "square sgemm 1024 (matrixmultiply, rows over threads)",
        2.0 * (n * n * n) as f64,
        sq,
    );
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let a = args(root);
    println!(
        "glasscam CNN on the CPU: {} rayon threads, vector unit {}, load {:.1}",
        rayon::current_num_threads(),
        Isa::detect().name(),
        load()
    );
    if let Some(script) = &a.torch {
        let info = Command::new(&a.python)
            .args([
                "-c",
                "import torch; print('pytorch', torch.__version__, '| intra-op threads', torch.get_num_threads(), \
                 '| MKL', torch.backends.mkl.is_available(), '| oneDNN', torch.backends.mkldnn.is_available(), \
                 '| CPU capability', torch.backends.cpu.get_cpu_capability())",
            ])
            .output();
        match info {
            Ok(o) if o.status.success() => {
                println!(
                    "{} (script {script})",
                    String::from_utf8_lossy(&o.stdout).trim()
                )
            }
            _ => println!(
                "{}: no torch; PyTorch is not timed (--python names another)",
                a.python
            ),
        }
    }
    if a.kernels {
        kernels(&a);
    }
    for name in &a.nets {
        let b = if *name == "paper" {
            paper()
        } else {
            quick(root)
        };
        bench_net(&a, &b);
    }
}
