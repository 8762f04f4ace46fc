//! Every shader parses and validates with naga (no GPU needed), every file in shaders/ belongs to a kernel,
//! and host structs have the sizes naga gives their WGSL twins.

use glasscam_kernels::shaders::{self, struct_size, ALL};

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

#[test]
fn every_shader_file_belongs_to_a_kernel() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable shader");
        let used = ALL.iter().any(|k| k.parts.contains(&text.as_str()));
        assert!(
            used,
            "{} is not part of any kernel in shaders::ALL",
            f.display()
        );
    }
}

#[test]
fn kernel_names_match_their_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for k in ALL {
        let own = std::fs::read_to_string(dir.join(format!("{}.wgsl", k.name)))
            .unwrap_or_else(|_| panic!("kernel {} has no shaders/{}.wgsl", k.name, k.name));
        assert_eq!(
            k.parts.last(),
            Some(&own.as_str()),
            "kernel {}: its own file goes last",
            k.name
        );
    }
}

#[test]
fn md_host_structs_match_wgsl_layout() {
    use glasscam_kernels::md::{MdParams, PairParams, ReplicaState, SpeciesParams};
    let m = shaders::MD_STEP.validate().expect("md_step validates");
    for (name, size) in [
        ("MdParams", std::mem::size_of::<MdParams>()),
        ("PairParams", std::mem::size_of::<PairParams>()),
        ("SpeciesParams", std::mem::size_of::<SpeciesParams>()),
        ("ReplicaState", std::mem::size_of::<ReplicaState>()),
    ] {
        assert_eq!(
            struct_size(&m, name),
            Some(size as u32),
            "{name}: host and WGSL sizes differ"
        );
    }
}

#[test]
fn nn_host_structs_match_wgsl_layout() {
    use glasscam_kernels::nn::NnParams;
    for k in glasscam_kernels::nn::ALL {
        let m = k.kernel.validate().expect("nn kernel validates");
        assert_eq!(
            struct_size(&m, "NnParams"),
            Some(std::mem::size_of::<NnParams>() as u32),
            "{}: NnParams host and WGSL sizes differ",
            k.kernel.name
        );
    }
}
