//! With no GPU: every kernel's source validates with naga, every `.wgsl` file of the crate belongs to a kernel,
//! every kernel has its file and its test module, each kernel's declared bindings (names, access modes) and host
//! structs (member names, offsets, sizes) match what naga reflects, and the generated WGSL prelude holds the Rust
//! constants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glasscam_kernels::kernel::{Binding, Family, HostStruct, Kernel};
use glasscam_kernels::registry::ALL;
use glasscam_kernels::{gnn, md, naga, nn};

fn module(k: &Kernel) -> naga::Module {
    k.validate()
        .unwrap_or_else(|e| panic!("{} does not validate: {e}", k.name))
}

#[test]
fn every_shader_validates_with_naga() {
    let mut failures = Vec::new();
    for k in ALL {
        if let Err(e) = k.validate() {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every `.wgsl` file under `dir`, recursively.
fn wgsl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("a readable folder") {
        let p = e.expect("a readable entry").path();
        if p.is_dir() {
            wgsl_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "wgsl") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_shader_file_belongs_to_a_kernel() {
    let mut files = Vec::new();
    wgsl_files(&src(), &mut files);
    files.sort();
    assert!(
        files.len() >= ALL.len(),
        "only {} shader files",
        files.len()
    );
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable shader");
        let used = ALL.iter().any(|k| k.parts.contains(&text.as_str()));
        assert!(
            used,
            "{} is not part of any kernel in registry::ALL",
            f.display()
        );
    }
}

#[test]
fn every_kernel_has_its_file_and_its_test_module() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernels");
    let main = std::fs::read_to_string(tests.join("main.rs")).expect("tests/kernels/main.rs");
    let mut names = std::collections::HashSet::new();
    for k in ALL {
        assert!(names.insert(k.name), "two kernels are called {}", k.name);
        let file = src()
            .join(k.family.dir())
            .join("shaders")
            .join(format!("{}.wgsl", k.name));
        let own = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("kernel {} has no {}", k.name, file.display()));
        assert_eq!(
            k.parts.last(),
            Some(&own.as_str()),
            "kernel {}: its own file goes last",
            k.name
        );
        let module = tests.join(format!("{}.rs", k.name));
        assert!(
            module.exists() && main.lines().any(|l| l == format!("mod {};", k.name)),
            "kernel {} has no test module: add tests/kernels/{}.rs and `mod {};` to tests/kernels/main.rs",
            k.name,
            k.name,
            k.name
        );
    }
}

/// naga's access mode of a global, in the terms of `Binding`.
fn access_of(space: naga::AddressSpace) -> Option<Binding> {
    match space {
        naga::AddressSpace::Uniform => Some(Binding::Uniform),
        naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
            Some(Binding::ReadWrite)
        }
        naga::AddressSpace::Storage { .. } => Some(Binding::Read),
        _ => None,
    }
}

/// (name, access) of each binding of group 0 as naga reflects it, by binding index.
fn reflected_bindings(m: &naga::Module) -> BTreeMap<u32, (String, Option<Binding>)> {
    m.global_variables
        .iter()
        .filter_map(|(_, g)| {
            let rb = g.binding.as_ref()?;
            assert_eq!(rb.group, 0, "only group 0 is used");
            Some((
                rb.binding,
                (g.name.clone().unwrap_or_default(), access_of(g.space)),
            ))
        })
        .collect()
}

#[test]
fn declared_bindings_match_naga_reflection() {
    for k in ALL {
        let got = reflected_bindings(&module(k));
        let want: BTreeMap<u32, (String, Option<Binding>)> = k
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| {
                // a dynamic offset is the host's choice; WGSL sees a plain uniform
                let access = match b.access {
                    Binding::UniformDynamic => Binding::Uniform,
                    a => a,
                };
                (i as u32, (b.name.to_string(), Some(access)))
            })
            .collect();
        assert_eq!(
            got, want,
            "kernel {}: bindings (index -> name, access) as declared differ from the shader",
            k.name
        );
    }
}

/// naga's layout of struct `name`: size and (member name, offset).
fn wgsl_struct(m: &naga::Module, name: &str) -> Option<HostStruct> {
    m.types
        .iter()
        .find_map(|(_, ty)| match (&ty.name, &ty.inner) {
            (Some(n), naga::TypeInner::Struct { members, span }) if n == name => Some(HostStruct {
                name: "",
                size: *span as usize,
                fields: members
                    .iter()
                    .map(|mem| {
                        let leaked: &'static str =
                            Box::leak(mem.name.clone().unwrap_or_default().into_boxed_str());
                        (leaked, mem.offset as usize)
                    })
                    .collect(),
            }),
            _ => None,
        })
}

#[test]
fn host_structs_match_naga_layout_member_by_member() {
    let mut checked = 0;
    for k in ALL {
        let m = module(k);
        assert!(
            !k.structs.is_empty(),
            "kernel {} declares no structs",
            k.name
        );
        for host in k.structs.iter().map(|f| f()) {
            let wgsl = wgsl_struct(&m, host.name)
                .unwrap_or_else(|| panic!("kernel {}: no WGSL struct {}", k.name, host.name));
            assert_eq!(
                host.fields, wgsl.fields,
                "kernel {}: struct {} members (name, offset): host left, WGSL right",
                k.name, host.name
            );
            assert_eq!(
                host.size, wgsl.size,
                "kernel {}: struct {} size: host left, WGSL right",
                k.name, host.name
            );
            checked += 1;
        }
    }
    // 2 MD kernels x 4 structs, 15 nn kernels x NnParams
    assert!(checked >= 2 * 4 + 15, "only {checked} structs checked");
}

#[test]
fn every_kernel_takes_its_parameters_in_a_slot_of_the_ring() {
    // the one launch path binds the parameter ring at binding 0 with a dynamic offset (`GpuContext::bind`)
    for k in ALL {
        assert_eq!(
            k.bindings.first().map(|b| b.access),
            Some(Binding::UniformDynamic),
            "kernel {}: binding 0 is not the parameter slot",
            k.name
        );
    }
}

#[test]
fn a_swapped_member_is_caught() {
    // the check above must be able to fail: swap two members of a copy of NnParams' layout
    let k = &nn::DENSE_FORWARD;
    let mut host = nn::NnParams::host_layout();
    host.fields.swap(0, 1);
    let wgsl = wgsl_struct(&module(k), "NnParams").expect("NnParams in dense_forward");
    assert_ne!(host.fields, wgsl.fields);
}

/// The `u32` constants the WGSL prelude of kernel `k` declares, as naga evaluates them.
fn prelude_consts(k: &Kernel) -> BTreeMap<String, u32> {
    let src = k.prelude();
    let m = naga::front::wgsl::parse_str(&src).expect("the prelude parses");
    m.constants
        .iter()
        .map(|(_, c)| {
            let v = match m.global_expressions[c.init] {
                naga::Expression::Literal(naga::Literal::U32(v)) => v,
                ref e => panic!("prelude constant {:?} is {e:?}, not a u32", c.name),
            };
            (c.name.clone().unwrap_or_default(), v)
        })
        .collect()
}

#[test]
fn wgsl_prelude_equals_the_rust_constants() {
    let want_md: BTreeMap<String, u32> = [
        ("WG", md::WG),
        ("MAX_CELLS", md::MAX_CELLS),
        ("MAX_CHAIN", md::MAX_CHAIN as u32),
        ("FAIL_NONFINITE", md::Failure::NonFinite.status()),
        ("FAIL_FORCE", md::Failure::AbsurdForce.status()),
        ("FIRE_RUNNING", md::fire::RUNNING),
        ("FIRE_CONVERGED", md::fire::CONVERGED),
        ("FIRE_FAILED", md::fire::FAILED),
        ("PAIR_LJ_SMOOTH_LINEAR", md::PairForm::LjSmoothLinear.code()),
        ("PAIR_LJ_POLY", md::PairForm::KA2D.code()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let want_nn: BTreeMap<String, u32> = [
        ("WG", nn::WG),
        ("MAX_MAPS", nn::MAX_MAPS as u32),
        ("DENSE_BATCH", nn::DENSE_BATCH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let want_gnn: BTreeMap<String, u32> = [
        ("WG", gnn::kernels::WG),
        ("RELU", gnn::kernels::RELU),
        ("ACC", gnn::kernels::ACC),
        ("BIAS", gnn::kernels::BIAS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_ne!(want_md["PAIR_LJ_SMOOTH_LINEAR"], want_md["PAIR_LJ_POLY"]);
    // every kernel's prelude holds its family's constants
    for k in ALL {
        let want = match k.family {
            Family::Md => &want_md,
            Family::Nn => &want_nn,
            Family::Gnn => &want_gnn,
            Family::Driver => &BTreeMap::new(),
        };
        assert_eq!(&prelude_consts(k), want, "prelude of {}", k.name);
    }
    // the chain arrays follow MAX_CHAIN: veta starts MAX_CHAIN floats after eta
    let m = module(&md::kernels::MD_STEP);
    let rs = wgsl_struct(&m, "ReplicaState").expect("ReplicaState");
    assert_eq!(rs.fields[1], ("veta", 4 * md::MAX_CHAIN));
}

#[test]
fn shaders_do_not_repeat_prelude_values() {
    // a hand-written copy of a constant would silently drift from Rust; the prelude is the only definition
    for k in ALL {
        for part in k.parts {
            for (name, _) in k.consts {
                assert!(
                    !part.contains(&format!("const {name}:")),
                    "kernel {}: a shader part defines {name}, which the prelude generates",
                    k.name
                );
            }
            assert!(
                !part.contains("array<f32, 8>") && !part.contains("@workgroup_size(256)"),
                "kernel {}: a literal where a prelude constant belongs",
                k.name
            );
        }
    }
}
