//! The committed JSON Schemas (`docs/schemas/`) equal the ones generated from the Rust types, and name the fields
//! the files have. `GLASSCAM_BLESS=1 cargo test --test io schemas` rewrites them.

use std::path::Path;

#[test]
fn committed_schemas_equal_the_generated_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas");
    let bless = std::env::var("GLASSCAM_BLESS").is_ok_and(|v| v == "1");
    for (name, schema) in glasscam::io::schemas::all() {
        let want = glasscam::io::schemas::text(&schema);
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} differs from the schema of the Rust type: run `GLASSCAM_BLESS=1 cargo test --test io schemas` and \
             commit the result",
            path.display()
        );
    }
}

#[test]
fn schemas_name_the_fields_the_files_have() {
    let all = glasscam::io::schemas::all();
    let props = |name: &str| -> Vec<String> {
        let (_, s) = all.iter().find(|(n, _)| *n == name).unwrap();
        let v = serde_json::to_value(s).unwrap();
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for f in [
        "format_version",
        "system",
        "snapshots",
        "protocol",
        "backend",
    ] {
        assert!(
            props("manifest.schema.json").contains(&f.to_string()),
            "{f}"
        );
    }
    for f in ["systems", "stages", "preset", "hardware"] {
        assert!(props("results.schema.json").contains(&f.to_string()), "{f}");
    }
    for f in [
        "matrices",
        "swanson_auc",
        "training",
        "attention",
        "stages",
        "hardware",
    ] {
        assert!(
            props("swanson-results.schema.json").contains(&f.to_string()),
            "{f}"
        );
    }
    for f in ["snapshots", "misclassified", "class", "predicted"] {
        assert!(props("gradcam.schema.json").contains(&f.to_string()), "{f}");
    }
    for f in ["config", "tensors", "split", "input_mean"] {
        assert!(
            props("model-config.schema.json").contains(&f.to_string()),
            "{f}"
        );
    }
}
