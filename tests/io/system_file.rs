//! System files: presets, a valid user file, and bad files refused with messages naming the file and field.

use glasscam::sim::system::SystemDef;

const GOOD: &str = r#"
name = "literal-table-kam"
density = 1.09
n = 2000
t_liquid = 0.8
t_glass = 0.05

[[species]]
name = "A"
count = 700
[[species]]
name = "B"
count = 1300

[[pairs]]
a = "A"
b = "A"
sigma = 1.0
epsilon = 1.0
[[pairs]]
a = "A"
b = "B"
sigma = 0.8
epsilon = 0.5
[[pairs]]
a = "B"
b = "B"
sigma = 0.88
epsilon = 1.5
"#;

fn err(text: &str) -> String {
    SystemDef::from_toml(text, "my_system.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn presets_match_spec_table() {
    let kam = SystemDef::kam();
    assert_eq!((kam.n_particles(), kam.density), (2000, 1.09));
    assert_eq!(kam.pair(0, 1), (0.8, 1.5));
    assert_eq!(kam.pair(1, 1), (0.88, 0.5));
    assert!((kam.box_l() - (2000.0f64 / 1.09).sqrt()).abs() < 1e-12);
    let abm = SystemDef::abm();
    assert_eq!(abm.pair(0, 0), (5.0 / 6.0, 1.0));
    assert_eq!(abm.pair(1, 1), (7.0 / 6.0, 1.0));
    assert_eq!(abm.diameters(), vec![5.0 / 6.0, 7.0 / 6.0]);
    assert_eq!((abm.t_liquid, abm.t_glass), (2.0, 0.05));
}

#[test]
fn the_papers_literal_kam_table_is_reachable_from_a_file() {
    let s = SystemDef::from_toml(GOOD, "t.toml").unwrap();
    assert_eq!(s.pair(0, 1), (0.8, 0.5));
    assert_eq!(s.species[0].count, 700);
    assert_eq!(
        s.species_of_particles().iter().filter(|&&x| x == 1).count(),
        1300
    );
    assert_eq!(
        s.diameters(),
        vec![1.0, 0.88],
        "diameters default to the like-pair sigma"
    );
}

#[test]
fn unknown_species_is_named() {
    let e = err(&GOOD.replace("a = \"A\"\nb = \"B\"", "a = \"A\"\nb = \"C\""));
    assert!(
        e.contains("my_system.toml") && e.contains("unknown species `C`"),
        "{e}"
    );
}

#[test]
fn negative_sigma_is_named() {
    let e = err(&GOOD.replace("sigma = 0.88", "sigma = -0.88"));
    assert!(
        e.contains("my_system.toml") && e.contains("`sigma` must be > 0"),
        "{e}"
    );
}

#[test]
fn missing_epsilon_is_named() {
    let e = err(&GOOD.replace("sigma = 0.8\nepsilon = 0.5\n", "sigma = 0.8\n"));
    assert!(e.contains("my_system.toml") && e.contains("epsilon"), "{e}");
}

#[test]
fn missing_pair_is_named() {
    let e = err(&GOOD.replace(
        "[[pairs]]\na = \"A\"\nb = \"B\"\nsigma = 0.8\nepsilon = 0.5\n",
        "",
    ));
    assert!(e.contains("no [[pairs]] entry for A-B"), "{e}");
}

#[test]
fn counts_that_do_not_add_up_are_named() {
    let e = err(&GOOD.replace("n = 2000", "n = 2001"));
    assert!(
        e.contains("field `n` is 2001") && e.contains("A 700 + B 1300"),
        "{e}"
    );
}

#[test]
fn non_positive_density_is_named() {
    let e = err(&GOOD.replace("density = 1.09", "density = 0.0"));
    assert!(
        e.contains("my_system.toml") && e.contains("`density` must be > 0"),
        "{e}"
    );
}

#[test]
fn unknown_fields_and_missing_files_are_explained() {
    let e = err(&GOOD.replace("density = 1.09", "density = 1.09\ndensty = 2"));
    assert!(e.contains("densty"), "{e}");
    let e = SystemDef::resolve("/nonexistent/sys.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/sys.toml") && e.contains("abm"),
        "{e}"
    );
}

#[test]
fn ka2d_is_glassbenchs_ternary_mixture_with_the_polynomial_form() {
    use glasscam::kernels::md::PairForm;
    let k = SystemDef::resolve("ka2d").unwrap();
    assert_eq!(k.n_particles(), 1290);
    let counts: Vec<usize> = k.species.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![600, 330, 360]);
    assert!((k.box_l() - 32.8962).abs() < 1e-9, "{}", k.box_l());
    assert!(k.species.iter().all(|s| s.mass == 1.0));
    assert_eq!(
        (k.pair(0, 2), k.pair(1, 2), k.pair(2, 2)),
        ((0.9, 0.75), (0.8, 1.5), (0.94, 0.75))
    );
    assert_eq!(k.diameters(), vec![1.0, 0.88, 0.94]);
    let setup = k.md_setup(&Default::default());
    assert_eq!(setup.pairs.len(), 9);
    assert!(setup.pairs.iter().all(|p| p.form == PairForm::KA2D));
    assert!(
        (setup.pairs[2].rc - 2.25).abs() < 1e-12,
        "A-C cuts at 2.5 x 0.9"
    );
    // the file form of the same system reads, and survives the manifest's JSON
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ka2d-tiny.toml");
    let t = SystemDef::from_file(&file).unwrap();
    assert_eq!((t.potential, t.poly), (k.potential, k.poly));
    let back: SystemDef = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
    // today's form writes no potential field, so earlier manifests and fingerprints are unchanged
    let kam = serde_json::to_string(&SystemDef::kam()).unwrap();
    assert!(!kam.contains("potential") && !kam.contains("poly"), "{kam}");
}

#[test]
fn a_polynomial_potential_without_coefficients_or_a_jump_at_the_cutoff_is_refused() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ka2d-tiny.toml");
    let text = std::fs::read_to_string(file).unwrap();
    let no_poly: String = text
        .lines()
        .filter(|l| !l.starts_with("poly"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        err(&no_poly),
        "my_system.toml: `potential = \"lj-poly\"` needs its coefficients: add `poly = { c0 = ..., c2 = ..., c4 = \
         ... }` (GlassBench's KA2D: c0 = 0.04049023795, c2 = -0.00970155098, c4 = 0.00062012616 at cutoff 2.5)"
    );
    let stray = text.replace("potential = \"lj-poly\"", "");
    assert_eq!(
        err(&stray),
        "my_system.toml: field `poly` is given but `potential` is `lj-smooth-linear`; set `potential = \"lj-poly\"` \
         or remove `poly`"
    );
    let wrong_cut = text.replace("t_star = 0.5", "t_star = 0.5\ncutoff = 3.0");
    assert_eq!(
        err(&wrong_cut),
        "my_system.toml: with `poly` { c0 = 0.04049023795, c2 = -0.00970155098, c4 = 0.00062012616 } the potential is \
         2.037e-3 x 4 eps at the cutoff 3 sigma, not zero: the energy would jump there; give coefficients that \
         vanish at `cutoff` (KA2D's belong to cutoff 2.5)"
    );
    let bad_name = text.replace("\"lj-poly\"", "\"lj-poly-2\"");
    assert!(
        err(&bad_name)
            .contains("unknown variant `lj-poly-2`, expected `lj-smooth-linear` or `lj-poly`"),
        "{}",
        err(&bad_name)
    );
}
