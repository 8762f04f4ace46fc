//! Systems as data: species, counts, masses, diameters, LJ sigma/epsilon tables, cut-off, density and the
//! state points of docs/methods.md, "Systems". The `abm` and `kam` presets are built in; users write their own as TOML.

use std::collections::BTreeMap;
use std::path::Path;

use glasscam_kernels::md::{MdSetup, Pair, PairForm};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most particles a system may have: a bound on what a file can make glasscam allocate (positions of one
/// configuration are 16 bytes a particle, 4 GiB at this bound).
pub const MAX_PARTICLES: usize = 1 << 28;

/// One species of a system file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Species {
    pub name: String,
    pub count: usize,
    #[serde(default = "one")]
    pub mass: f64,
    /// Diameter for the Tong-Tanaka order parameter (defaults to sigma of the like pair).
    #[serde(default)]
    pub diameter: Option<f64>,
}

/// The LJ parameters of one species pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PairDef {
    pub a: String,
    pub b: String,
    pub sigma: f64,
    pub epsilon: f64,
}

/// The form of every pair's potential inside its cutoff (docs/reference/system-files.md).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Potential {
    /// Lennard-Jones with linear smoothing: energy and force go to zero at the cutoff.
    #[default]
    LjSmoothLinear,
    /// Lennard-Jones plus 4 eps [c0 + c2 (r/sigma)^2 + c4 (r/sigma)^4] (coefficients in `poly`), GlassBench's KA2D.
    LjPoly,
}

/// The coefficients of `Potential::LjPoly`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poly {
    pub c0: f64,
    pub c2: f64,
    pub c4: f64,
}

/// The largest |phi(rc)| / (4 eps) `LjPoly` may leave at the cutoff: KA2D's is 3.3e-10; a jump this size would
/// already show as energy drift.
const POLY_CUTOFF_TOL: f64 = 1e-6;

fn is_default<T: Default + PartialEq>(x: &T) -> bool {
    *x == T::default()
}

/// A 2D system: what `--system FILE` reads and what the data set's manifest records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemDef {
    pub name: String,
    /// Space dimension; only 2 is implemented.
    #[serde(default = "two")]
    pub dim: usize,
    /// Number density N / L^2.
    pub density: f64,
    /// r_c = cutoff * sigma_ij (the potential goes to zero there).
    #[serde(default = "default_cutoff")]
    pub cutoff: f64,
    /// The pair potential's form, the same for every pair (`lj-smooth-linear` when absent).
    #[serde(default, skip_serializing_if = "is_default")]
    pub potential: Potential,
    /// The polynomial of `potential = "lj-poly"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poly: Option<Poly>,
    /// Total particle count; if given it must equal the sum of the species counts.
    #[serde(default)]
    pub n: Option<usize>,
    pub species: Vec<Species>,
    pub pairs: Vec<PairDef>,
    /// Temperature of the liquid class snapshots.
    pub t_liquid: f64,
    /// Temperature of the glass class snapshots.
    pub t_glass: f64,
    /// Rough onset temperature T* (for the propensity temperatures).
    #[serde(default)]
    pub t_star: Option<f64>,
}

fn one() -> f64 {
    1.0
}
fn two() -> usize {
    2
}
fn default_cutoff() -> f64 {
    2.5
}

impl SystemDef {
    /// The additive binary mixture (Oyama et al. 2022, Table I; docs/methods.md, "Systems").
    pub fn abm() -> SystemDef {
        SystemDef {
            name: "abm".into(),
            dim: 2,
            density: 1.2,
            cutoff: 2.5,
            potential: Potential::LjSmoothLinear,
            poly: None,
            n: Some(2000),
            species: vec![
                Species {
                    name: "A".into(),
                    count: 1000,
                    mass: 1.0,
                    diameter: Some(5.0 / 6.0),
                },
                Species {
                    name: "B".into(),
                    count: 1000,
                    mass: 1.0,
                    diameter: Some(7.0 / 6.0),
                },
            ],
            pairs: vec![
                PairDef {
                    a: "A".into(),
                    b: "A".into(),
                    sigma: 5.0 / 6.0,
                    epsilon: 1.0,
                },
                PairDef {
                    a: "A".into(),
                    b: "B".into(),
                    sigma: 1.0,
                    epsilon: 1.0,
                },
                PairDef {
                    a: "B".into(),
                    b: "B".into(),
                    sigma: 7.0 / 6.0,
                    epsilon: 1.0,
                },
            ],
            t_liquid: 2.0,
            t_glass: 0.05,
            t_star: Some(1.0),
        }
    }

    /// The standard 2D Kob-Andersen model (docs/methods.md, "Systems": not the paper's misprinted Table I).
    pub fn kam() -> SystemDef {
        SystemDef {
            name: "kam".into(),
            dim: 2,
            density: 1.09,
            cutoff: 2.5,
            potential: Potential::LjSmoothLinear,
            poly: None,
            n: Some(2000),
            species: vec![
                Species {
                    name: "A".into(),
                    count: 1300,
                    mass: 1.0,
                    diameter: Some(1.0),
                },
                Species {
                    name: "B".into(),
                    count: 700,
                    mass: 1.0,
                    diameter: Some(0.88),
                },
            ],
            pairs: vec![
                PairDef {
                    a: "A".into(),
                    b: "A".into(),
                    sigma: 1.0,
                    epsilon: 1.0,
                },
                PairDef {
                    a: "A".into(),
                    b: "B".into(),
                    sigma: 0.8,
                    epsilon: 1.5,
                },
                PairDef {
                    a: "B".into(),
                    b: "B".into(),
                    sigma: 0.88,
                    epsilon: 0.5,
                },
            ],
            t_liquid: 0.8,
            t_glass: 0.05,
            t_star: Some(0.37),
        }
    }

    /// GlassBench's 2D ternary Kob-Andersen mixture (Jung, Biroli & Berthier, PRL 130, 238202 (2023); docs/methods.md,
    /// "Systems"): 600 A + 330 B + 360 C in a square box of side 32.8962, LJ plus an even polynomial that brings
    /// energy, force and curvature to zero at 2.5 sigma_ab, all masses 1.
    pub fn ka2d() -> SystemDef {
        let PairForm::LjPoly { c0, c2, c4 } = PairForm::KA2D else {
            unreachable!("KA2D is a polynomial form")
        };
        let sp = |name: &str, count: usize, diameter: f64| Species {
            name: name.into(),
            count,
            mass: 1.0,
            diameter: Some(diameter),
        };
        let pair = |a: &str, b: &str, sigma: f64, epsilon: f64| PairDef {
            a: a.into(),
            b: b.into(),
            sigma,
            epsilon,
        };
        SystemDef {
            name: "ka2d".into(),
            dim: 2,
            density: 1290.0 / (KA2D_BOX * KA2D_BOX),
            cutoff: PairForm::KA2D_CUTOFF,
            potential: Potential::LjPoly,
            poly: Some(Poly { c0, c2, c4 }),
            n: Some(1290),
            // Tong-Tanaka diameters: twice Jung et al.'s radii (A 0.5, B 0.44, C 0.47), i.e. the like sigmas
            species: vec![sp("A", 600, 1.0), sp("B", 330, 0.88), sp("C", 360, 0.94)],
            pairs: vec![
                pair("A", "A", 1.0, 1.0),
                pair("A", "B", 0.8, 1.5),
                pair("A", "C", 0.9, 0.75),
                pair("B", "B", 0.88, 0.5),
                pair("B", "C", 0.8, 1.5),
                pair("C", "C", 0.94, 0.75),
            ],
            // GlassBench's temperatures are 0.30 and 0.23; t_liquid well above the onset
            t_liquid: 1.0,
            t_glass: 0.05,
            t_star: Some(0.5),
        }
    }

    /// A preset by name, or a TOML file.
    pub fn resolve(name_or_path: &str) -> Result<SystemDef> {
        match name_or_path {
            "abm" => Ok(Self::abm()),
            "kam" => Ok(Self::kam()),
            "ka2d" => Ok(Self::ka2d()),
            path => Self::from_file(Path::new(path)),
        }
    }

    /// Reads and checks a TOML system file.
    pub fn from_file(path: &Path) -> Result<SystemDef> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::SystemFile {
            path: shown.clone(),
            message: format!(
                "cannot read the system file ({e}); give `abm`, `kam`, `ka2d` or a TOML file"
            ),
        })?;
        Self::from_toml(&text, &shown)
    }

    /// Parses and checks TOML text; `origin` names the file in messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<SystemDef> {
        let def: SystemDef = toml::from_str(text).map_err(|e| Error::SystemFile {
            path: origin.to_string(),
            message: format!("not a valid system file: {}", e.to_string().trim_end()),
        })?;
        def.check(origin)?;
        Ok(def)
    }

    /// Checks the definition; every message names the field.
    pub fn check(&self, origin: &str) -> Result<()> {
        self.problem().map_err(|message| Error::SystemFile {
            path: origin.to_string(),
            message,
        })
    }

    /// What is wrong with the definition, if anything: the scalars, the species, the pairs, the area fraction.
    fn problem(&self) -> std::result::Result<(), String> {
        if self.dim != 2 {
            return Err(format!(
                "field `dim` is {}; only 2D systems are implemented",
                self.dim
            ));
        }
        if !(self.density > 0.0 && self.density.is_finite()) {
            return Err(format!("field `density` must be > 0, got {}", self.density));
        }
        if !(self.cutoff > 1.0 && self.cutoff.is_finite()) {
            return Err(format!(
                "field `cutoff` must be > 1 (in units of sigma_ij), got {}",
                self.cutoff
            ));
        }
        let (names, total) = self.species_problem()?;
        self.pairs_problem(&names)?;
        self.potential_problem()?;
        if !self.box_l().is_finite() {
            return Err(format!(
                "field `density` {} gives a box of side sqrt({total} / {}), which is not a finite number",
                self.density, self.density
            ));
        }
        for (field, t) in [("t_liquid", self.t_liquid), ("t_glass", self.t_glass)] {
            if !(t > 0.0 && t.is_finite()) {
                return Err(format!("field `{field}` must be > 0, got {t}"));
            }
        }
        self.area_fraction_problem(total)?;
        if self.t_glass >= self.t_liquid {
            return Err(format!(
                "field `t_glass` ({}) must lie below `t_liquid` ({}): the glass is the colder state",
                self.t_glass, self.t_liquid
            ));
        }
        if let Some(t) = self.t_star {
            if !(t > 0.0 && t.is_finite()) {
                return Err(format!("field `t_star` must be > 0, got {t}"));
            }
        }
        Ok(())
    }

    /// The species: names once, counts, masses and diameters in range, the total within `MAX_PARTICLES` and
    /// equal to `n` when given. Returns each name's index and the total.
    fn species_problem(&self) -> std::result::Result<(BTreeMap<&str, usize>, usize), String> {
        if self.species.is_empty() {
            return Err("field `species` is empty: list at least one [[species]]".into());
        }
        let mut names = BTreeMap::new();
        for (k, s) in self.species.iter().enumerate() {
            if names.insert(s.name.as_str(), k).is_some() {
                return Err(format!("species `{}` is listed twice in `species`", s.name));
            }
            if s.count == 0 {
                return Err(format!("species `{}`: field `count` must be > 0", s.name));
            }
            if !(s.mass > 0.0 && s.mass.is_finite()) {
                return Err(format!(
                    "species `{}`: field `mass` must be > 0, got {}",
                    s.name, s.mass
                ));
            }
            if let Some(d) = s.diameter {
                if !(d > 0.0 && d.is_finite()) {
                    return Err(format!(
                        "species `{}`: field `diameter` must be > 0, got {d}",
                        s.name
                    ));
                }
            }
        }
        let total = self
            .species
            .iter()
            .try_fold(0usize, |t, s| t.checked_add(s.count))
            .filter(|&t| t <= MAX_PARTICLES);
        let Some(total) = total else {
            return Err(format!(
                "the species counts add up to more than {MAX_PARTICLES} particles; give counts of a system that \
                 fits in memory"
            ));
        };
        if let Some(n) = self.n {
            if n != total {
                return Err(format!(
                    "field `n` is {n} but the species counts add up to {total} ({})",
                    self.species
                        .iter()
                        .map(|s| format!("{} {}", s.name, s.count))
                        .collect::<Vec<_>>()
                        .join(" + ")
                ));
            }
        }
        Ok((names, total))
    }

    /// The pairs: known species, sigma and epsilon in range, each pair once, and every pair of species given.
    fn pairs_problem(&self, names: &BTreeMap<&str, usize>) -> std::result::Result<(), String> {
        let mut seen = BTreeMap::new();
        for p in &self.pairs {
            for name in [&p.a, &p.b] {
                if !names.contains_key(name.as_str()) {
                    return Err(format!(
                        "pair {}-{}: unknown species `{name}` (species are: {})",
                        p.a,
                        p.b,
                        names.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            if !(p.sigma > 0.0 && p.sigma.is_finite()) {
                return Err(format!(
                    "pair {}-{}: field `sigma` must be > 0, got {}",
                    p.a, p.b, p.sigma
                ));
            }
            if !(p.epsilon > 0.0 && p.epsilon.is_finite()) {
                return Err(format!(
                    "pair {}-{}: field `epsilon` must be > 0, got {}",
                    p.a, p.b, p.epsilon
                ));
            }
            let (i, j) = (names[p.a.as_str()], names[p.b.as_str()]);
            if seen.insert((i.min(j), i.max(j)), ()).is_some() {
                return Err(format!("pair {}-{} is given twice in `pairs`", p.a, p.b));
            }
        }
        for (i, a) in self.species.iter().enumerate() {
            for b in &self.species[i..] {
                let (x, y) = (names[a.name.as_str()], names[b.name.as_str()]);
                if !seen.contains_key(&(x.min(y), x.max(y))) {
                    return Err(format!(
                        "no [[pairs]] entry for {}-{}: every species pair needs `sigma` and `epsilon`",
                        a.name, b.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The potential: `poly` given exactly with `lj-poly`, finite, and bringing the potential to zero at the
    /// cutoff (a jump there heats an NVE run).
    fn potential_problem(&self) -> std::result::Result<(), String> {
        match (self.potential, self.poly) {
            (Potential::LjSmoothLinear, None) => Ok(()),
            (Potential::LjSmoothLinear, Some(_)) => Err(
                "field `poly` is given but `potential` is `lj-smooth-linear`; set `potential = \"lj-poly\"` or \
                 remove `poly`"
                    .into(),
            ),
            (Potential::LjPoly, None) => Err(
                "`potential = \"lj-poly\"` needs its coefficients: add `poly = { c0 = ..., c2 = ..., c4 = ... }` \
                 (GlassBench's KA2D: c0 = 0.04049023795, c2 = -0.00970155098, c4 = 0.00062012616 at cutoff 2.5)"
                    .into(),
            ),
            (Potential::LjPoly, Some(p)) => {
                if ![p.c0, p.c2, p.c4].iter().all(|c| c.is_finite()) {
                    return Err(format!(
                        "field `poly`: c0 {}, c2 {}, c4 {} must be finite",
                        p.c0, p.c2, p.c4
                    ));
                }
                let x = self.cutoff;
                let phi = x.powi(-12) - x.powi(-6) + p.c0 + p.c2 * x * x + p.c4 * x.powi(4);
                if phi.abs() > POLY_CUTOFF_TOL {
                    return Err(format!(
                        "with `poly` {{ c0 = {}, c2 = {}, c4 = {} }} the potential is {phi:.3e} x 4 eps at the cutoff \
                         {x} sigma, not zero: the energy would jump there; give coefficients that vanish at `cutoff` \
                         (KA2D's belong to cutoff 2.5)",
                        p.c0, p.c2, p.c4
                    ));
                }
                Ok(())
            }
        }
    }

    /// The pair form of every pair.
    pub fn pair_form(&self) -> PairForm {
        match (self.potential, self.poly) {
            (Potential::LjPoly, Some(p)) => PairForm::LjPoly {
                c0: p.c0,
                c2: p.c2,
                c4: p.c4,
            },
            _ => PairForm::LjSmoothLinear,
        }
    }

    /// The area fraction from the like-pair sigmas: glass formers sit near 0.8. Far above 1 the particles overlap
    /// (the MD blows up at once), far below the system is a dilute gas: both mean density and sigma are in
    /// different units (sigma in Angstrom, density per sigma^2, say).
    fn area_fraction_problem(&self, total: usize) -> std::result::Result<(), String> {
        let total_f = total as f64;
        let phi: f64 = (0..self.n_species())
            .map(|i| {
                let s = self.pair(i, i).0;
                self.species[i].count as f64 / total_f * std::f64::consts::FRAC_PI_4 * s * s
            })
            .sum::<f64>()
            * self.density;
        let units = "density and the sigmas look like they are in different units: give both in reduced \
                     Lennard-Jones units (sigma of the first like pair about 1, density in particles per sigma^2)";
        if phi > MAX_AREA_FRACTION {
            return Err(format!(
                "the particles would cover {phi:.3e} times the box (area fraction density * pi/4 * sigma^2, about \
                 0.8 for a glass former; density {}, sigma of the like pairs {}); {units}",
                self.density,
                self.like_sigmas()
            ));
        }
        if phi < MIN_AREA_FRACTION {
            return Err(format!(
                "the particles would cover only {phi:.3e} of the box (area fraction density * pi/4 * sigma^2, about \
                 0.8 for a glass former, a dilute gas below {MIN_AREA_FRACTION}; density {}, sigma of the like \
                 pairs {}); {units}",
                self.density,
                self.like_sigmas()
            ));
        }
        Ok(())
    }

    pub fn n_particles(&self) -> usize {
        self.species.iter().map(|s| s.count).sum()
    }

    pub fn n_species(&self) -> usize {
        self.species.len()
    }

    /// Side of the periodic square box, sqrt(N / rho).
    pub fn box_l(&self) -> f64 {
        (self.n_particles() as f64 / self.density).sqrt()
    }

    /// Species index of each particle: species 0 first, then 1, ...
    pub fn species_of_particles(&self) -> Vec<u32> {
        self.species
            .iter()
            .enumerate()
            .flat_map(|(k, s)| std::iter::repeat_n(k as u32, s.count))
            .collect()
    }

    /// (sigma, epsilon) of a species pair by index.
    pub fn pair(&self, i: usize, j: usize) -> (f64, f64) {
        let (a, b) = (&self.species[i].name, &self.species[j].name);
        self.pairs
            .iter()
            .find(|p| (&p.a == a && &p.b == b) || (&p.a == b && &p.b == a))
            .map(|p| (p.sigma, p.epsilon))
            .expect("checked systems have every pair")
    }

    /// "A 1, B 0.88": sigma of each like pair, for messages.
    fn like_sigmas(&self) -> String {
        (0..self.n_species())
            .map(|i| format!("{} {}", self.species[i].name, self.pair(i, i).0))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Diameter per species (for Tong-Tanaka): the given one, else sigma of the like pair.
    pub fn diameters(&self) -> Vec<f64> {
        (0..self.n_species())
            .map(|i| {
                self.species[i]
                    .diameter
                    .unwrap_or_else(|| self.pair(i, i).0)
            })
            .collect()
    }

    /// The MD kernels' setup for this system.
    pub fn md_setup(&self, md: &MdSettings) -> MdSetup {
        let ns = self.n_species();
        let form = self.pair_form();
        let mut pairs = Vec::with_capacity(ns * ns);
        for i in 0..ns {
            for j in 0..ns {
                let (s, e) = self.pair(i, j);
                pairs.push(Pair::with_form(s, e, self.cutoff * s, md.skin, form));
            }
        }
        MdSetup {
            n: self.n_particles(),
            box_l: self.box_l(),
            species: self.species_of_particles(),
            mass: self.species.iter().map(|s| s.mass).collect(),
            pairs,
            dt: md.dt,
            skin: md.skin,
            tau_t: md.tau_t,
            n_chain: md.chain,
            max_force: md.max_force,
        }
    }
}

/// GlassBench's KA2D box side at N = 1290 (the archive's `box`).
pub const KA2D_BOX: f64 = 32.8962;

/// Area fractions (density * pi/4 * sigma^2 over the like pairs) a system file may have: a glass former sits
/// near 0.8; beyond these bounds density and sigma are in different units.
pub const MAX_AREA_FRACTION: f64 = 2.0;
pub const MIN_AREA_FRACTION: f64 = 0.02;

/// Integrator settings (docs/methods.md, "MD protocol"), with the defaults there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MdSettings {
    pub dt: f64,
    /// Neighbour-list skin; lists are rebuilt when a particle moved skin/2.
    pub skin: f64,
    /// Nose-Hoover relaxation time.
    pub tau_t: f64,
    /// Nose-Hoover chain length.
    pub chain: usize,
    /// A force above this marks a replica as blown up.
    pub max_force: f64,
}

impl Default for MdSettings {
    fn default() -> Self {
        MdSettings {
            dt: 0.005,
            skin: 0.3,
            tau_t: 0.5,
            chain: 3,
            max_force: 1.0e5,
        }
    }
}
