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
