//! Writes one snapshot of a data set as extended XYZ (OVITO, ASE) or as a LAMMPS data file (2D, atom_style
//! atomic), so that MD people can look at or continue our configurations with their tools.

use std::fmt::Write as _;
use std::path::Path;

use crate::dataset::Dataset;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Extended XYZ (z = 0, `Lattice`, `Properties=species:S:1:pos:R:3`, pbc="T T F").
    Xyz,
    /// LAMMPS data file, atom_style atomic, 2D (z = 0 in a thin slab).
    LammpsData,
}

/// Formats snapshot `k` of `ds`.
pub fn format_snapshot(ds: &Dataset, k: usize, format: Format) -> Result<String> {
    if k >= ds.n_snapshots() {
        return Err(Error::Input(format!(
            "snapshot {k} does not exist: {} has {} snapshots (0..{})",
            ds.dir.display(),
            ds.n_snapshots(),
            ds.n_snapshots().saturating_sub(1)
        )));
    }
    let meta = &ds.manifest.snapshots[k];
    let sys = &ds.manifest.system;
    let l = ds.box_l();
    let pos = ds.snapshot(k);
    let n = ds.n_particles();
    let mut s = String::with_capacity(n * 48);
    match format {
        Format::Xyz => {
            let _ = writeln!(s, "{n}");
            let _ = writeln!(
                s,
                "Lattice=\"{l:.10} 0.0 0.0 0.0 {l:.10} 0.0 0.0 0.0 1.0\" Properties=species:S:1:pos:R:3 \
                 pbc=\"T T F\" system={} replica={} class={} step={} target_T={} kinetic_T={:.6} pe_per_particle={:.8}",
                sys.name, meta.replica, meta.class, meta.step, meta.target_t, meta.kinetic_t, meta.pe_per_particle
            );
            for i in 0..n {
                let name = &sys.species[ds.species[i] as usize].name;
                let _ = writeln!(s, "{name} {:.10} {:.10} 0.0", pos[2 * i], pos[2 * i + 1]);
            }
        }
        Format::LammpsData => {
            let _ = writeln!(
                s,
                "glasscam snapshot {k} of {} (system {}, replica {}, {} at target T {})\n",
                ds.dir.display(),
                sys.name,
                meta.replica,
                meta.class,
                meta.target_t
            );
            let _ = writeln!(s, "{n} atoms\n{} atom types\n", sys.species.len());
            let _ = writeln!(
                s,
                "0.0 {l:.10} xlo xhi\n0.0 {l:.10} ylo yhi\n-0.5 0.5 zlo zhi\n"
            );
            let _ = writeln!(s, "Masses\n");
            for (t, sp) in sys.species.iter().enumerate() {
                let _ = writeln!(s, "{} {}  # {}", t + 1, sp.mass, sp.name);
            }
            let _ = writeln!(s, "\nAtoms # atomic\n");
            for i in 0..n {
                let _ = writeln!(
                    s,
                    "{} {} {:.10} {:.10} 0.0",
                    i + 1,
                    ds.species[i] + 1,
                    pos[2 * i],
                    pos[2 * i + 1]
                );
            }
        }
    }
    Ok(s)
}

/// Writes snapshot `k` of the data set in `dir` to `out`; an existing `out` is replaced only with `force`, and
/// never when it is one of the data set's own files.
pub fn export(dir: &Path, k: usize, format: Format, out: &Path, force: bool) -> Result<()> {
    let ds = Dataset::load(dir)?;
    let own = [
        "positions.npy",
        "species.npy",
        "labels.npy",
        "box.npy",
        crate::dataset::MANIFEST,
    ];
    let inside = |a: &Path| std::fs::canonicalize(a).ok();
    let (parent, name) = (
        out.parent().filter(|p| !p.as_os_str().is_empty()),
        out.file_name(),
    );
    let same_dir = inside(parent.unwrap_or(Path::new("."))) == inside(dir);
    if same_dir && name.is_some_and(|n| own.iter().any(|o| n == *o)) {
        return Err(Error::Input(format!(
            "--out {} is a file of the data set itself; choose another name",
            out.display()
        )));
    }
    let text = format_snapshot(&ds, k, format)?;
    crate::outdir::no_overwrite(out, force, "a file")?;
    crate::outdir::write_atomic(out, text.as_bytes())
}
