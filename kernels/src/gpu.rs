//! The GPU context: picks an adapter, asks for the limits the kernels need, and says what it uses.

use std::sync::{Arc, OnceLock};

use crate::error::{KernelError, Result};
pub use crate::kernel::Binding;
use crate::launch::Launcher;
use crate::probe::{ProbeParams, LOOP_PROBE, PROBE_TRIPS};

/// Which compute path to run on, as the user asked for it (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// wgpu on a hardware GPU, the CPU twin otherwise (software adapters are slower than the twin).
    #[default]
    Auto,
    /// wgpu on any adapter, the software one included.
    Gpu,
    /// The CPU twins (rayon, f64).
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "gpu" => Ok(Self::Gpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(format!("unknown backend `{other}`: use auto, gpu or cpu")),
        }
    }
}

/// A wgpu device and queue with what we learnt about the adapter, and what every launch on it shares (its
/// pipelines and parameter ring: `launch.rs`).
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// What `loop_probe` found, measured on first use.
    loop_budget: OnceLock<Option<u64>>,
    pub(crate) launcher: Launcher,
}

impl GpuContext {
    /// Opens the adapter chosen for this process (`choose_adapter`: `--adapter`, else `GLASSCAM_ADAPTER`), or
    /// the best one wgpu finds (any kind, software included), with all of its limits.
    pub fn new() -> Result<Self> {
        match adapter_spec() {
            Some(spec) => Self::open(&spec),
            None => {
                let adapter =
                    pollster::block_on(instance().request_adapter(&wgpu::RequestAdapterOptions {
                        power_preference: wgpu::PowerPreference::HighPerformance,
                        force_fallback_adapter: false,
                        compatible_surface: None,
                        apply_limit_buckets: false,
                    }))
                    .map_err(|_| KernelError::NoAdapter)?;
                Self::on(adapter)
            }
        }
    }

    /// A new device on the adapter `spec` names (an index or a name, see `pick_adapter`); each call opens its
    /// own device, so one adapter opened twice is two devices.
    pub fn open(spec: &str) -> Result<Self> {
        let mut adapters = enumerate();
        let k = pick_adapter(&summaries(&adapters), spec)?;
        Self::on(adapters.swap_remove(k))
    }

    fn on(adapter: wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        // Large replica batches want the biggest storage buffers the adapter has.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("glasscam"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| KernelError::RequestDevice {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Self {
            launcher: Launcher::new(&device),
            device,
            queue,
            info,
            limits,
            loop_budget: OnceLock::new(),
        })
    }

    /// The loop trips one shader invocation may make in total before the driver ends its loops early, or `None`
    /// when the driver completed `probe::PROBE_TRIPS` (conforming drivers do). Measured once by `loop_probe`;
    /// Mesa 22.3's lavapipe gives 65535.
    pub fn loop_budget(&self) -> Option<u64> {
        *self.loop_budget.get_or_init(|| {
            match self.run_loop_probe(PROBE_TRIPS) {
                Ok(t) if t < PROBE_TRIPS => Some(t as u64),
                // a failed probe leaves the device's errors to the kernels that need it
                _ => None,
            }
        })
    }

    /// Runs `loop_probe` once and returns the trips its loop made (`trips` on a conforming driver).
    pub fn run_loop_probe(&self, trips: u32) -> Result<u32> {
        let out = self.storage_zeroed("loop_probe out", 4);
        let bind = self.bind(&LOOP_PROBE, &[&out])?;
        let mut enc = self.encoder("loop_probe");
        let params = ProbeParams {
            trips,
            ..Default::default()
        };
        enc.launch(&LOOP_PROBE, &params, &bind, 1)?;
        enc.submit();
        let v: Vec<u32> = self.read("loop_probe", &out)?;
        Ok(v[0])
    }

    /// A sentence for the start-up line when the driver ends shader loops early, else `None`.
    pub fn loop_budget_note(&self) -> Option<String> {
        self.loop_budget().map(|b| {
            format!(
                "this driver ends each shader's loops after {b} trips in total, so MD kernels run fewer steps \
                 per dispatch (a newer Mesa has no such limit: scripts/install-vulkan-driver)"
            )
        })
    }

    /// True for CPU-emulated adapters such as Mesa's lavapipe.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// One line naming the adapter, its driver and the backend.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?}, driver {} {})",
            self.info.name,
            self.info.device_type,
            self.info.backend,
            self.info.driver,
            self.info.driver_info
        )
    }

    /// Largest storage-buffer binding the device accepts, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// `groups` workgroups as an (x, y) grid: more than the per-dimension limit spill into y (the kernels flatten
    /// it back with `flat_group`, x fastest); an error names `kernel` when even x * y cannot hold them.
    pub fn spill(&self, kernel: &str, groups: u64) -> Result<(u32, u32)> {
        if groups == 0 {
            return Ok((0, 0));
        }
        let max = self.limits.max_compute_workgroups_per_dimension as u64;
        let x = groups.min(max);
        let y = groups.div_ceil(x);
        if y > max {
            return Err(KernelError::Input {
                kernel: kernel.into(),
                message: format!(
                    "{groups} workgroups exceed the device's {max} x {max}; use a smaller batch"
                ),
            });
        }
        Ok((x as u32, y as u32))
    }

    /// A storage buffer holding `data`, readable and writable by kernels and copyable both ways.
    pub fn storage<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        let contents: &[u8] = bytemuck::cast_slice(data);
        // wgpu rejects zero-sized bindings; keep one word so empty inputs still bind.
        let padded;
        let contents = if contents.is_empty() {
            padded = [0u8; 4];
            &padded[..]
        } else {
            contents
        };
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// An uninitialised (zeroed) storage buffer of `bytes` bytes.
    pub fn storage_zeroed(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer holding `value` (a kernel's parameters that stay for many launches, beside the per-launch
    /// block in the parameter ring).
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A storage buffer holding `data`, refused with `kernel` and `label` named when the device cannot bind it.
    pub fn upload<T: bytemuck::Pod>(
        &self,
        kernel: &str,
        label: &str,
        data: &[T],
    ) -> Result<wgpu::Buffer> {
        self.fits(kernel, label, std::mem::size_of_val(data) as u64)?;
        Ok(self.storage(label, data))
    }

    /// A zeroed storage buffer of `bytes` bytes, refused as `upload` refuses.
    pub fn zeroed(&self, kernel: &str, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.fits(kernel, label, bytes)?;
        Ok(self.storage_zeroed(label, bytes))
    }

    /// Refuses a binding of `bytes` bytes that exceeds the device's limit, naming the kernel and the buffer.
    pub fn fits(&self, kernel: &str, label: &str, bytes: u64) -> Result<()> {
        let limit = self.max_binding();
        if bytes > limit {
            return Err(KernelError::BufferTooLarge {
                kernel: kernel.into(),
                buffer: label.into(),
                bytes,
                limit,
            });
        }
        Ok(())
    }

    /// The first `len` values of an f32 buffer, as f64.
    pub fn read_f64(&self, kernel: &str, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f64>> {
        let v: Vec<f32> = self.read(kernel, buffer)?;
        Ok(v.iter().take(len).map(|&x| x as f64).collect())
    }

    /// Copies `buffer` back to the host as a `Vec<T>` (blocking).
    pub fn read<T: bytemuck::Pod>(&self, kernel: &str, buffer: &wgpu::Buffer) -> Result<Vec<T>> {
        let size = buffer.size();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let err = |message: String| KernelError::Readback {
            kernel: kernel.to_string(),
            message,
        };
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| err(e.to_string()))?;
        rx.recv()
            .map_err(|e| err(e.to_string()))?
            .map_err(|e| err(e.to_string()))?;
        let data = slice.get_mapped_range().map_err(|e| err(e.to_string()))?;
        let n = data.len() / std::mem::size_of::<T>();
        let out: Vec<T> =
            bytemuck::cast_slice::<u8, T>(&data[..n * std::mem::size_of::<T>()]).to_vec();
        drop(data);
        staging.unmap();
        Ok(out)
    }

    /// Waits until the device is idle.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| KernelError::Readback {
                kernel: "wait".into(),
                message: e.to_string(),
            })
    }
}

/// Where kernels run: a wgpu device or the CPU twins.
#[derive(Clone)]
pub enum Compute {
    Gpu(Arc<GpuContext>),
    Cpu,
}

impl Compute {
    /// Resolves the user's `--backend` choice, silently (the library does not print; see `resolve`).
    pub fn select(choice: BackendChoice) -> Result<Self> {
        Self::resolve(choice).map(|(c, _)| c)
    }

    /// Resolves the user's `--backend` choice into the compute path and one line saying what was picked and
    /// why, for the caller (the binary) to show.
    pub fn resolve(choice: BackendChoice) -> Result<(Self, String)> {
        let threads = rayon::current_num_threads();
        Ok(match choice {
            BackendChoice::Cpu => (
                Compute::Cpu,
                format!("backend: CPU twin ({threads} threads), as asked"),
            ),
            BackendChoice::Gpu => {
                let ctx = shared_context()?;
                let line = gpu_line(&ctx);
                (Compute::Gpu(ctx), line)
            }
            BackendChoice::Auto => match shared_context() {
                Ok(ctx) if !ctx.is_software() => {
                    let line = gpu_line(&ctx);
                    (Compute::Gpu(ctx), line)
                }
                Ok(ctx) => (
                    Compute::Cpu,
                    format!(
                        "backend: CPU twin ({threads} threads): the only adapter is the software one, {} \
                         (use --backend gpu to run the WGSL kernels on it anyway)",
                        ctx.info.name
                    ),
                ),
                Err(KernelError::NoAdapter) => (
                    Compute::Cpu,
                    format!("backend: CPU twin ({threads} threads): no GPU adapter found"),
                ),
                Err(e) => return Err(e),
            },
        })
    }

    /// What determines the numbers a run produces (not thread counts): recorded in data sets, compared on merge.
    pub fn identity(&self) -> String {
        match self {
            Compute::Gpu(ctx) => format!("gpu: {} ({:?})", ctx.info.name, ctx.info.backend),
            Compute::Cpu => "cpu: f64 twin".to_string(),
        }
    }

    /// What the user should know about the device beyond its name (a driver that ends loops early), if anything.
    pub fn note(&self) -> Option<String> {
        match self {
            Compute::Gpu(ctx) => ctx.loop_budget_note(),
            Compute::Cpu => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Compute::Gpu(ctx) => format!("gpu: {}", ctx.describe()),
            Compute::Cpu => format!("cpu: CPU twin, {} threads", rayon::current_num_threads()),
        }
    }
}

/// The start-up line for a GPU backend: the adapter, and the driver's loop limit where it has one.
fn gpu_line(ctx: &GpuContext) -> String {
    match ctx.loop_budget_note() {
        Some(note) => format!("backend: GPU {}; {note}", ctx.describe()),
        None => format!("backend: GPU {}", ctx.describe()),
    }
}

/// One device per process: opening a wgpu device is slow and tests share it.
pub fn shared_context() -> Result<Arc<GpuContext>> {
    static CTX: OnceLock<std::result::Result<Arc<GpuContext>, Option<String>>> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new().map(Arc::new).map_err(|e| match e {
            KernelError::NoAdapter => None,
            e => Some(e.to_string()),
        })
    })
    .clone()
    .map_err(|e| match e {
        None => KernelError::NoAdapter,
        Some(message) => KernelError::Adapter { message },
    })
}

/// The wgpu instance every adapter is found through, and its backends (the primary ones unless `WGPU_BACKEND`
/// says otherwise).
fn instance_and_backends() -> (wgpu::Instance, wgpu::Backends) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    let backends = desc.backends;
    (wgpu::Instance::new(desc), backends)
}

fn instance() -> wgpu::Instance {
    instance_and_backends().0
}

/// Every adapter of this machine, in wgpu's order (the index `--adapter` takes).
fn enumerate() -> Vec<wgpu::Adapter> {
    let (instance, backends) = instance_and_backends();
    pollster::block_on(instance.enumerate_adapters(backends))
}

/// One adapter as `glasscam info` lists it: what it is and the limits that size a run.
#[derive(Clone, Debug, PartialEq)]
pub struct AdapterSummary {
    pub index: usize,
    pub name: String,
    /// discrete, integrated, virtual, software or other.
    pub kind: &'static str,
    pub backend: String,
    pub driver: String,
    /// Largest buffer, and largest storage binding, in bytes.
    pub max_buffer: u64,
    pub max_binding: u64,
    /// Workgroup (shared) memory, in bytes.
    pub workgroup_memory: u32,
    pub max_workgroups_per_dimension: u32,
}

impl AdapterSummary {
    /// One line: index, name, kind, backend, driver and the limits.
    pub fn line(&self) -> String {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        format!(
            "{}: {} ({}, {}, driver {}); max buffer {:.0} MiB, max storage binding {:.0} MiB, workgroup memory \
             {} KiB, {} workgroups per dimension",
            self.index,
            self.name,
            self.kind,
            self.backend,
            self.driver,
            mib(self.max_buffer),
            mib(self.max_binding),
            self.workgroup_memory / 1024,
            self.max_workgroups_per_dimension
        )
    }
}

fn summaries(adapters: &[wgpu::Adapter]) -> Vec<AdapterSummary> {
    adapters
        .iter()
        .enumerate()
        .map(|(index, a)| {
            let (info, limits) = (a.get_info(), a.limits());
            AdapterSummary {
                index,
                name: info.name,
                kind: match info.device_type {
                    wgpu::DeviceType::DiscreteGpu => "discrete",
                    wgpu::DeviceType::IntegratedGpu => "integrated",
                    wgpu::DeviceType::VirtualGpu => "virtual",
                    wgpu::DeviceType::Cpu => "software",
                    wgpu::DeviceType::Other => "other",
                },
                backend: format!("{:?}", info.backend),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
                max_buffer: limits.max_buffer_size,
                max_binding: limits.max_storage_buffer_binding_size,
                workgroup_memory: limits.max_compute_workgroup_storage_size,
                max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            }
        })
        .collect()
}

/// Every adapter of this machine, for `glasscam info`.
pub fn list_adapters() -> Vec<AdapterSummary> {
    summaries(&enumerate())
}

/// The adapter `spec` names among `adapters`: an index, or a name (case-insensitive; an exact name, else the one
/// name that contains it). A spec that matches none, or several, is refused with the list.
pub fn pick_adapter(adapters: &[AdapterSummary], spec: &str) -> Result<usize> {
    let spec = spec.trim();
    let list = || {
        if adapters.is_empty() {
            "this machine has no adapter (wgpu saw none)".to_string()
        } else {
            let names: Vec<String> = adapters
                .iter()
                .map(|a| format!("{}: {} ({})", a.index, a.name, a.kind))
                .collect();
            format!("the adapters are {}", names.join("; "))
        }
    };
    let refuse = |why: String| {
        Err(KernelError::Adapter {
            message: format!("`adapter` {spec}: {why}; {}", list()),
        })
    };
    if let Ok(k) = spec.parse::<usize>() {
        return if k < adapters.len() {
            Ok(k)
        } else {
            refuse(format!("there is no adapter {k}"))
        };
    }
    let lower = spec.to_lowercase();
    if lower.is_empty() {
        return refuse("give an index or a name".into());
    }
    if let Some(a) = adapters.iter().find(|a| a.name.to_lowercase() == lower) {
        return Ok(a.index);
    }
    let hits: Vec<usize> = adapters
        .iter()
        .filter(|a| a.name.to_lowercase().contains(&lower))
        .map(|a| a.index)
        .collect();
    match hits[..] {
        [k] => Ok(k),
        [] => refuse("no adapter has this name".into()),
        _ => refuse(format!(
            "{} adapters match; give an index or more of the name",
            hits.len()
        )),
    }
}

/// Sets the adapter this process opens (`--adapter`); `None` leaves it to `GLASSCAM_ADAPTER`, else the best
/// adapter. The first call wins, and it must come before the first `shared_context`.
pub fn choose_adapter(spec: Option<&str>) {
    let _ = ADAPTER.set(spec.map(str::to_string).or_else(env_adapter));
}

static ADAPTER: OnceLock<Option<String>> = OnceLock::new();

fn env_adapter() -> Option<String> {
    std::env::var("GLASSCAM_ADAPTER")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The adapter chosen for this process, if any.
pub fn adapter_spec() -> Option<String> {
    ADAPTER.get_or_init(env_adapter).clone()
}

/// One device per adapter that `list` names (`--adapters`: indices or names, comma-separated, or `all`: every
/// hardware adapter, or every adapter where there is none); an adapter named twice is opened twice.
pub fn open_devices(list: &str) -> Result<Vec<Arc<GpuContext>>> {
    let adapters = summaries(&enumerate());
    let picks: Vec<usize> = if list.trim() == "all" {
        let hw: Vec<usize> = adapters
            .iter()
            .filter(|a| a.kind != "software")
            .map(|a| a.index)
            .collect();
        if hw.is_empty() {
            adapters.iter().map(|a| a.index).collect()
        } else {
            hw
        }
    } else {
        list.split(',')
            .map(|s| pick_adapter(&adapters, s))
            .collect::<Result<_>>()?
    };
    if picks.is_empty() {
        return Err(KernelError::NoAdapter);
    }
    picks
        .into_iter()
        .map(|k| GpuContext::open(&k.to_string()).map(Arc::new))
        .collect()
}

/// For GPU tests (this crate's and the main crate's): the shared context, or `None` after printing that the test
/// skipped. A test fixture, so hidden from the documented API.
/// With `GLASSCAM_REQUIRE_GPU=1` a missing adapter panics instead, so CI cannot skip silently; with
/// `GLASSCAM_REQUIRE_HARDWARE=1` a software adapter panics too.
#[doc(hidden)]
pub fn test_context(test: &str) -> Option<Arc<GpuContext>> {
    match shared_context() {
        // scripts/gpu-check: the point is the hardware, so a software adapter must not pass for it
        Ok(ctx)
            if ctx.is_software()
                && std::env::var("GLASSCAM_REQUIRE_HARDWARE").as_deref() == Ok("1") =>
        {
            panic!(
                "{test}: GLASSCAM_REQUIRE_HARDWARE=1 but the adapter is a software one: {}",
                ctx.describe()
            )
        }
        Ok(ctx) => Some(ctx),
        Err(e) => {
            if std::env::var("GLASSCAM_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("{test}: GLASSCAM_REQUIRE_GPU=1 but no adapter: {e}");
            }
            eprintln!("SKIPPED {test}: no GPU adapter ({e})");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(index: usize, name: &str, kind: &'static str) -> AdapterSummary {
        AdapterSummary {
            index,
            name: name.into(),
            kind,
            backend: "Vulkan".into(),
            driver: "test".into(),
            max_buffer: 1 << 30,
            max_binding: 1 << 30,
            workgroup_memory: 32768,
            max_workgroups_per_dimension: 65535,
        }
    }

    #[test]
    fn an_adapter_is_picked_by_index_or_one_name_and_others_are_refused_with_the_list() {
        let list = [
            adapter(0, "NVIDIA H100 80GB HBM3", "discrete"),
            adapter(1, "NVIDIA H100 80GB HBM3 ", "discrete"),
            adapter(2, "llvmpipe (LLVM 15.0.6, 256 bits)", "software"),
        ];
        assert_eq!(pick_adapter(&list, "2").unwrap(), 2);
        assert_eq!(pick_adapter(&list, " 1 ").unwrap(), 1);
        assert_eq!(pick_adapter(&list, "LLVMPIPE").unwrap(), 2);
        assert_eq!(pick_adapter(&list, "nvidia h100 80gb hbm3").unwrap(), 0);
        for (spec, why) in [
            ("3", "there is no adapter 3"),
            ("radeon", "no adapter has this name"),
            ("h100", "2 adapters match"),
            ("", "give an index or a name"),
        ] {
            let e = pick_adapter(&list, spec).unwrap_err().to_string();
            assert!(
                e.contains(why)
                    && e.contains("`adapter`")
                    && e.contains("0: NVIDIA H100 80GB HBM3 (discrete)")
                    && e.contains("2: llvmpipe (LLVM 15.0.6, 256 bits) (software)"),
                "{spec:?}: {e}"
            );
        }
        let e = pick_adapter(&[], "0").unwrap_err().to_string();
        assert!(e.contains("no adapter"), "{e}");
        assert!(
            list[2].line().starts_with("2: llvmpipe"),
            "{}",
            list[2].line()
        );
        assert!(list[2].line().contains("software, Vulkan, driver test"));
        assert!(list[2].line().contains("workgroup memory 32 KiB"));
    }
}
