//! The stage runner at its edges: a stage killed between its last write and its record is adopted, a finished
//! stage whose outputs were replaced underneath is redone and so is what read it, and a ramp interrupted after its
//! simulation keeps the simulation.

use std::cell::Cell;
use std::path::Path;

use glasscam::events::quiet;
use glasscam::pipeline::oyama::stages::{OyamaSettings, OyamaStage};
use glasscam::pipeline::runner::{Call, StageRunner};
use glasscam::pipeline::swanson::stages::{SwansonSettings, SwansonStage};

fn gradcam_call<'a>(parents: &'a [&'a str]) -> Call<'a, OyamaStage> {
    Call {
        unit: "kam",
        stage: OyamaStage::Gradcam,
        settings: OyamaSettings::Gradcam {
            split: glasscam::learn::cnn::ReplicaSet::Test,
            batch: 4,
        },
        parents,
        backend: "cpu".into(),
    }
}

fn analyze_call<'a>(parents: &'a [&'a str]) -> Call<'a, OyamaStage> {
    Call {
        unit: "kam",
        stage: OyamaStage::Analyze,
        settings: OyamaSettings::Analyze {
            xi: 3.0,
            cutoff: 3.0,
        },
        parents,
        backend: "cpu".into(),
    }
}

fn write_gradcam(dir: &Path, text: &str) -> glasscam::Result<()> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("gamma.npy"), "arrays").unwrap();
    std::fs::write(dir.join("gradcam.json"), text).unwrap();
    Ok(())
}

fn write_analyze(dir: &Path) -> glasscam::Result<()> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("summary.json"), "{}").unwrap();
    std::fs::write(dir.join("correlations.csv"), "a,b").unwrap();
    Ok(())
}

/// Finding 8: killed after its last write, before "done": the next run adopts the complete outputs.
#[test]
fn a_stage_killed_before_its_done_record_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    {
        let mut r = StageRunner::<OyamaStage>::open(out, false).unwrap();
        let e = r.stage(gradcam_call(&["parent"]), quiet(), |d| {
            write_gradcam(d, "{\"a\": 1}")?;
            // the kill: everything written, the record still says "started"
            Err(glasscam::Error::Interrupted)
        });
        assert!(matches!(e, Err(glasscam::Error::Interrupted)));
    }
    let stages = std::fs::read_to_string(out.join("stages.json")).unwrap();
    assert!(stages.contains("\"started\""), "{stages}");
    let mut r = StageRunner::<OyamaStage>::open(out, false).unwrap();
    let ran = Cell::new(false);
    r.stage(gradcam_call(&["parent"]), quiet(), |_| {
        ran.set(true);
        Ok(())
    })
    .unwrap();
    assert!(!ran.get(), "the finished stage was computed again");
    assert_eq!(r.outcome.skipped.len(), 1);
    let stages = std::fs::read_to_string(out.join("stages.json")).unwrap();
    assert!(
        stages.contains("\"done\"") && !stages.contains("\"started\""),
        "{stages}"
    );
}

/// Finding 10: outputs replaced underneath a finished stage: it runs again, and the stage that read it too.
#[test]
fn outputs_replaced_underneath_redo_the_stage_and_its_readers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let first = {
        let mut r = StageRunner::<OyamaStage>::open(out, false).unwrap();
        let fp = r
            .stage(gradcam_call(&[]), quiet(), |d| {
                write_gradcam(d, "{\"run\": 1}")
            })
            .unwrap();
        r.stage(analyze_call(&[&fp]), quiet(), write_analyze)
            .unwrap();
        fp
    };
    // unchanged: both skipped, the same fingerprint handed on
    {
        let mut r = StageRunner::<OyamaStage>::open(out, false).unwrap();
        let fp = r
            .stage(gradcam_call(&[]), quiet(), |_| panic!("redone"))
            .unwrap();
        assert_eq!(fp, first);
        r.stage(analyze_call(&[&fp]), quiet(), |_| panic!("redone"))
            .unwrap();
    }
    // another program rewrites the Grad-CAM record in the stage directory
    std::fs::write(out.join("kam/gradcam/gradcam.json"), "{\"run\": 2}").unwrap();
    let mut r = StageRunner::<OyamaStage>::open(out, false).unwrap();
    let (ran_g, ran_a) = (Cell::new(false), Cell::new(false));
    let fp = r
        .stage(gradcam_call(&[]), quiet(), |d| {
            ran_g.set(true);
            write_gradcam(d, "{\"run\": 3}")
        })
        .unwrap();
    r.stage(analyze_call(&[&fp]), quiet(), |d| {
        ran_a.set(true);
        write_analyze(d)
    })
    .unwrap();
    assert!(ran_g.get() && ran_a.get(), "stale results were kept");
    assert_ne!(fp, first);
}

/// Finding 7: a ramp's MD and its minimisation are two stages; an interrupted minimisation is run again, the
/// finished ramp is not.
#[test]
fn a_ramp_interrupted_after_its_simulation_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let preset =
        glasscam::pipeline::swanson::preset::SwansonPreset::new(glasscam::domain::Preset::Quick);
    let ramp = preset
        .ramps
        .settings(glasscam::pipeline::swanson::preset::Ramp::Slow, preset.name)
        .unwrap();
    let md = || Call {
        unit: "slow",
        stage: SwansonStage::Ramp,
        settings: SwansonSettings::Ramp {
            system: Box::new(preset.system().clone()),
            ramp: ramp.clone(),
            seed: 1,
        },
        parents: &[],
        backend: "cpu".into(),
    };
    let minima = |fp: &str, run: &mut dyn FnMut(&Path) -> glasscam::Result<()>| {
        let mut r = StageRunner::<SwansonStage>::open(out, false).unwrap();
        let parents = [fp];
        r.stage(
            Call {
                unit: "slow",
                stage: SwansonStage::Inherent,
                settings: SwansonSettings::Inherent {
                    minimize: preset.minimize.clone(),
                    replicas: None,
                },
                parents: &parents,
                backend: "cpu".into(),
            },
            quiet(),
            run,
        )
    };
    let fp = StageRunner::<SwansonStage>::open(out, false)
        .unwrap()
        .stage(md(), quiet(), |d| {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("manifest.json"), "the finished simulation").unwrap();
            std::fs::write(d.join("positions.npy"), "positions").unwrap();
            Ok(())
        })
        .unwrap();
    // interrupted during the minimisation, after a first file
    let e = minima(&fp, &mut |d| {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("manifest.json"), "half").unwrap();
        Err(glasscam::Error::Interrupted)
    });
    assert!(matches!(e, Err(glasscam::Error::Interrupted)));
    let again = StageRunner::<SwansonStage>::open(out, false)
        .unwrap()
        .stage(md(), quiet(), |_| {
            panic!("the finished ramp was simulated again")
        })
        .unwrap();
    assert_eq!(again, fp);
    minima(&fp, &mut |d| {
        assert!(
            !d.exists(),
            "the interrupted minimisation's files were kept"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("slow/data/manifest.json")).unwrap(),
            "the finished simulation"
        );
        std::fs::create_dir_all(d).unwrap();
        for f in ["manifest.json", "positions.npy", "inherent.json"] {
            std::fs::write(d.join(f), "{}").unwrap();
        }
        Ok(())
    })
    .unwrap();
    assert!(out.join("slow/data/inherent/inherent.json").exists());
}
