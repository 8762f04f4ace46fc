//! Writes one snapshot of a data set as extended XYZ (OVITO, ASE) or as a LAMMPS data file (2D, atom_style
//! atomic), so that MD people can look at or continue our configurations with their tools.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::dataset::Dataset;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Extended XYZ (z = 0, `Lattice`, `Properties=species:S:1:pos:R:3`, pbc="T T F").
    Xyz,
    /// LAMMPS data file, atom_style atomic, 2D (z = 0 in a thin slab).
    LammpsData,
}

/// A name as it can stand in a header or column: names with a control character (a newline would end the
/// line) are refused in both formats; in extended XYZ, a name with whitespace or `=` is quoted, and one with a
/// quote or a backslash (which the format's readers, ours too, do not agree on) is refused. `column`: the name
/// is a whitespace-separated column of the atom lines, so whitespace is refused too.
fn safe_name(what: &str, name: &str, format: Format, column: bool) -> Result<String> {
    let refuse = |why: &str| {
        Err(Error::Input(format!(
            "export: {what} {} {why}, so the file could not be read back; rename it (in the data set's \
             manifest.json, or the system file it was simulated from)",
            crate::io::import::quote(name)
        )))
    };
    if name.is_empty() {
        return refuse("is empty");
    }
    if name.chars().any(char::is_control) {
        return refuse("holds a control character such as a newline");
    }
    if format == Format::LammpsData {
        return Ok(name.to_string());
    }
    if column && name.chars().any(char::is_whitespace) {
        return refuse("holds whitespace and names a column of the atom lines");
    }
    if name.contains(['"', '\\']) {
        return refuse("holds a quote or a backslash, which an extended XYZ header cannot carry");
    }
    Ok(if name.contains(|c: char| c.is_whitespace() || c == '=') {
        format!("\"{name}\"")
    } else {
        name.to_string()
    })
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
    let system = safe_name("the system name", &sys.name, format, false)?;
    let names = sys
        .species
        .iter()
        .map(|sp| safe_name("the species name", &sp.name, format, true))
        .collect::<Result<Vec<String>>>()?;
    let mut s = String::with_capacity(n * 48);
    match format {
        Format::Xyz => {
            let _ = writeln!(s, "{n}");
            let _ = writeln!(
                s,
                "Lattice=\"{l:.10} 0.0 0.0 0.0 {l:.10} 0.0 0.0 0.0 1.0\" Properties=species:S:1:pos:R:3 \
                 pbc=\"T T F\" system={} replica={} class={} step={} target_T={} kinetic_T={:.6} pe_per_particle={:.8}",
                system, meta.replica, meta.class, meta.step, meta.target_t, meta.kinetic_t, meta.pe_per_particle
            );
            for i in 0..n {
                let name = &names[ds.species[i] as usize];
                let _ = writeln!(s, "{name} {:.10} {:.10} 0.0", pos[2 * i], pos[2 * i + 1]);
            }
        }
        Format::LammpsData => {
            let _ = writeln!(
                s,
                "glasscam snapshot {k} of {} (system {system}, replica {}, {} at target T {})\n",
                // a path may hold any character but a NUL: this line is a comment, keep it one line
                ds.dir.display().to_string().replace(char::is_control, "?"),
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
            for (t, (sp, name)) in sys.species.iter().zip(&names).enumerate() {
                let _ = writeln!(s, "{} {}  # {name}", t + 1, sp.mass);
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
        crate::io::dataset::MANIFEST,
    ];
    let inside = |a: &Path| std::fs::canonicalize(a).ok();
    let (parent, name) = (
        out.parent().filter(|p| !p.as_os_str().is_empty()),
        out.file_name(),
    );
    let parent = parent.unwrap_or(Path::new("."));
    let same_dir = inside(parent) == inside(dir);
    let a_dataset = parent.join(crate::io::dataset::MANIFEST).exists();
    if (same_dir || a_dataset) && name.is_some_and(|n| own.iter().any(|o| n == *o)) {
        return Err(Error::Input(format!(
            "`out` {} is a file of {}; choose another name",
            out.display(),
            if same_dir {
                "the data set itself".to_string()
            } else {
                format!("the data set in {}", parent.display())
            }
        )));
    }
    // the directory written into is held like any output directory
    let _lock = crate::io::outdir::OutDir::lock(parent)?;
    let text = format_snapshot(&ds, k, format)?;
    crate::io::outdir::no_overwrite(out, force, "a file")?;
    crate::io::outdir::write_atomic(out, text.as_bytes())
}
