//! Readers for configurations written by other programs: LAMMPS text dumps and extended XYZ (2D), with a
//! mapping from the file's atom types to the system's species. A bad frame is reported (file, frame, line,
//! problem) and skipped; the other frames are still returned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::sim::system::SystemDef;

/// File formats `glasscam analyze --input` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// LAMMPS text dump (`dump ... custom ... id type x y` or `xs ys`, `xu yu`, `xsu ysu`).
    LammpsDump,
    /// Extended XYZ with `Lattice=` and `Properties=` (species and pos columns).
    Xyz,
}

/// One configuration read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Frame number in the file, from 0.
    pub index: usize,
    /// Line (from 1) where the frame starts.
    pub line: usize,
    /// Time step, if the file gives one.
    pub step: Option<i64>,
    /// Class ("glass"/"liquid"), if the file gives one (XYZ key `class=`).
    pub class: Option<String>,
    /// Box sides; the box is [0, Lx) x [0, Ly) after shifting the file's origin away.
    pub box_l: [f64; 2],
    /// [x0, y0, ...] wrapped into the box (LAMMPS: sorted by atom id).
    pub positions: Vec<f64>,
    /// Species index per particle.
    pub species: Vec<u32>,
}

/// What a reader returns: the good frames and one `Error::Frame` per bad one.
#[derive(Debug, Default)]
pub struct Imported {
    pub frames: Vec<Frame>,
    pub errors: Vec<Error>,
}

/// Maps a file's atom types to species indices of a system.
///
/// Default: a type equal to a species name maps to that species; otherwise an integer type t maps to species
/// t - 1 (LAMMPS types count from 1). `--types 1=A,2=B` (or `1=0,2=1`) overrides both.
#[derive(Clone, Debug)]
pub struct SpeciesMap {
    explicit: BTreeMap<String, u32>,
    names: Vec<String>,
}

impl SpeciesMap {
    /// `spec` is "TYPE=SPECIES,..." with SPECIES a name or an index; None for the default mapping.
    pub fn new(system: &SystemDef, spec: Option<&str>) -> Result<SpeciesMap> {
        let names: Vec<String> = system.species.iter().map(|s| s.name.clone()).collect();
        let mut explicit = BTreeMap::new();
        if let Some(spec) = spec {
            for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (t, s) = item.split_once('=').ok_or_else(|| {
                    Error::Input(format!(
                        "`types`: `{item}` is not TYPE=SPECIES (e.g. `types` 1=A,2=B)"
                    ))
                })?;
                let (t, s) = (t.trim(), s.trim());
                let k = match names.iter().position(|n| n == s) {
                    Some(k) => k as u32,
                    None => match s.parse::<usize>() {
                        Ok(k) if k < names.len() => k as u32,
                        _ => {
                            return Err(Error::Input(format!(
                                "`types`: `{s}` is not a species of system `{}` (species: {})",
                                system.name,
                                names.join(", ")
                            )))
                        }
                    },
                };
                explicit.insert(t.to_string(), k);
            }
        }
        Ok(SpeciesMap { explicit, names })
    }

    /// Species index of a type, or a message saying how to map it.
    pub fn map(&self, t: &str) -> std::result::Result<u32, String> {
        if let Some(&k) = self.explicit.get(t) {
            return Ok(k);
        }
        if !self.explicit.is_empty() {
            return Err(format!("type {} is not in `types`", quote(t)));
        }
        if let Some(k) = self.names.iter().position(|n| n == t) {
            return Ok(k as u32);
        }
        match t.parse::<usize>() {
            Ok(k) if k >= 1 && k <= self.names.len() => Ok((k - 1) as u32),
            _ => Err(format!(
                "type {} matches no species ({}) and no index 1..{}; map it with `types` TYPE=<species>",
                quote(t),
                self.names.join(", "),
                self.names.len()
            )),
        }
    }
}

/// Reads every frame of `path`, one frame in memory at a time.
pub fn read(path: &Path, format: Format, map: &SpeciesMap) -> Result<Imported> {
    let file = std::fs::File::open(path).at(path)?;
    let r = std::io::BufReader::new(file);
    Ok(match format {
        Format::LammpsDump => read_lammps_dump(r, path, map),
        Format::Xyz => read_xyz(r, path, map),
    })
}

/// Longest line read: a frame line is short, and a longer one is not quoted or kept (a 1 GB line is not text
/// of these formats).
pub const MAX_LINE: usize = 1 << 20;

/// At most this many characters of the file are quoted in a message.
const QUOTE_CHARS: usize = 60;

/// Quotes file text for a message: at most `QUOTE_CHARS` characters, control and invisible characters
/// escaped (a byte-order mark shows as `\u{feff}`), and the length when cut.
pub fn quote(text: &str) -> String {
    let n = text.chars().count();
    let shown: String = text
        .chars()
        .take(QUOTE_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if n > QUOTE_CHARS {
        format!("`{shown}...` ({} bytes)", text.len())
    } else {
        format!("`{shown}`")
    }
}

/// Lines of a text file, read one at a time with their numbers: a leading UTF-8 byte-order mark is dropped,
/// and a line that is too long, holds a NUL byte or is not UTF-8 is an error that says the input is not text.
struct Lines<R> {
    r: R,
    /// Number of the last line returned (from 1).
    line: usize,
    buf: Vec<u8>,
}

impl<R: std::io::BufRead> Lines<R> {
    fn new(r: R) -> Lines<R> {
        Lines {
            r,
            line: 0,
            buf: Vec::new(),
        }
    }

    fn next(&mut self) -> std::result::Result<Option<String>, FrameErr> {
        use std::io::{BufRead, Read};
        self.buf.clear();
        let ln = self.line + 1;
        let got = (&mut self.r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .or_else(|e| ferr(ln, format!("cannot read the file: {e}")))?;
        if got == 0 {
            return Ok(None);
        }
        self.line = ln;
        if self.buf.len() > MAX_LINE {
            return ferr(
                ln,
                format!(
                    "line is longer than {} MiB: not a text trajectory of this format; frames after this are \
                     not read",
                    MAX_LINE >> 20
                ),
            );
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let mut bytes = self.buf.as_slice();
        if ln == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let binary = |what: String| {
            ferr(
                ln,
                format!(
                    "{what}: this looks like a binary file, not text (`analyze --input` reads LAMMPS text dumps, \
                     `dump custom`, and extended XYZ); frames after this are not read"
                ),
            )
        };
        if let Some(k) = bytes.iter().position(|&b| b == 0) {
            return binary(format!("a NUL byte at column {}", k + 1));
        }
        match std::str::from_utf8(bytes) {
            Ok(t) => Ok(Some(t.to_string())),
            Err(e) => binary(format!(
                "byte 0x{:02x} at column {} is not UTF-8 text",
                bytes[e.valid_up_to()],
                e.valid_up_to() + 1
            )),
        }
    }
}

struct FrameErr {
    line: usize,
    message: String,
}

fn ferr<T>(line: usize, message: impl Into<String>) -> std::result::Result<T, FrameErr> {
    Err(FrameErr {
        line,
        message: message.into(),
    })
}

fn frame_error(path: &Path, frame: usize, e: FrameErr) -> Error {
    Error::Frame {
        path: PathBuf::from(path),
        frame,
        line: e.line,
        message: e.message,
    }
}

/// Parses a number, rejecting NaN and infinities.
fn num(tok: &str, line: usize, what: &str) -> std::result::Result<f64, FrameErr> {
    match tok.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => ferr(line, format!("{what} is {v}")),
        Err(_) => ferr(line, format!("{what} {} is not a number", quote(tok))),
    }
}

/// Checks a coordinate against its box side and wraps it in. Wrapped coordinates may stray up to half a box
/// outside (LAMMPS rewraps only on reneighbouring); farther means the box does not belong to the positions.
fn place(
    x: f64,
    lo: f64,
    l: f64,
    unwrapped: bool,
    line: usize,
    axis: &str,
) -> std::result::Result<f64, FrameErr> {
    let u = x - lo;
    if !unwrapped && (u < -0.5 * l || u > 1.5 * l) {
        return ferr(
            line,
            format!(
                "particle outside the box: {axis} = {x} but the box is [{lo}, {}); \
                 does the box belong to this frame?",
                lo + l
            ),
        );
    }
    let mut w = u.rem_euclid(l);
    if w >= l {
        w = 0.0;
    }
    Ok(w)
}

/// LAMMPS text dump: frames start at `ITEM: TIMESTEP`.
pub fn parse_lammps_dump(text: &str, path: &Path, map: &SpeciesMap) -> Imported {
    read_lammps_dump(text.as_bytes(), path, map)
}

/// A LAMMPS text dump from a reader, one frame in memory at a time.
pub fn read_lammps_dump<R: std::io::BufRead>(r: R, path: &Path, map: &SpeciesMap) -> Imported {
    let mut rd = Lines::new(r);
    let mut out = Imported::default();
    // the lines of the frame being read, and the file line of its first
    let mut frame: Option<(usize, Vec<String>)> = None;
    let mut f = 0;
    let finish = |frame: Option<(usize, Vec<String>)>, out: &mut Imported, f: &mut usize| {
        if let Some((start, lines)) = frame {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            match lammps_frame(&refs, start, map) {
                Ok(mut fr) => {
                    fr.index = *f;
                    out.frames.push(fr);
                }
                Err(err) => out.errors.push(frame_error(path, *f, err)),
            }
            *f += 1;
        }
    };
    loop {
        let line = match rd.next() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                out.errors.push(frame_error(path, f, e));
                return out;
            }
        };
        if line.trim_start().starts_with("ITEM: TIMESTEP") {
            finish(frame.take(), &mut out, &mut f);
            frame = Some((rd.line, vec![line]));
        } else if let Some((start, lines)) = &mut frame {
            if lines.len() > MAX_FRAME_LINES {
                out.errors.push(frame_error(
                    path,
                    f,
                    FrameErr {
                        line: *start,
                        message: format!(
                            "frame has more than {MAX_FRAME_LINES} lines (the limit is {} atoms); frames after \
                             this are not read",
                            crate::sim::system::MAX_PARTICLES
                        ),
                    },
                ));
                return out;
            }
            lines.push(line);
        }
    }
    if frame.is_none() {
        let message = if rd.line == 0 {
            "the file is empty: no frames".to_string()
        } else {
            "no `ITEM: TIMESTEP` line: not a LAMMPS text dump".to_string()
        };
        out.errors
            .push(frame_error(path, 0, FrameErr { line: 1, message }));
        return out;
    }
    finish(frame, &mut out, &mut f);
    out
}

/// Most lines one dump frame may have: the particle limit and its header.
const MAX_FRAME_LINES: usize = crate::sim::system::MAX_PARTICLES + 64;

/// One dump frame; `first` is the file line number (from 1) of `lines[0]`.
fn lammps_frame(
    lines: &[&str],
    first: usize,
    map: &SpeciesMap,
) -> std::result::Result<Frame, FrameErr> {
    let mut step = None;
    let mut natoms: Option<usize> = None;
    let mut bounds: Vec<(f64, f64)> = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        let ln = first + k;
        let l = lines[k].trim();
        if let Some(rest) = l.strip_prefix("ITEM:") {
            let rest = rest.trim();
            if rest.starts_with("TIMESTEP") {
                let v = lines.get(k + 1).map(|s| s.trim()).unwrap_or("");
                step = Some(v.parse::<i64>().or_else(|_| {
                    ferr(ln + 1, format!("time step {} is not an integer", quote(v)))
                })?);
                k += 2;
            } else if rest.starts_with("NUMBER OF ATOMS") {
                let v = lines.get(k + 1).map(|s| s.trim()).unwrap_or("");
                let n = v.parse::<usize>().or_else(|_| {
                    ferr(
                        ln + 1,
                        format!("number of atoms {} is not an integer", quote(v)),
                    )
                })?;
                if n > crate::sim::system::MAX_PARTICLES {
                    return ferr(
                        ln + 1,
                        format!(
                            "number of atoms {n} is above the limit of {}",
                            crate::sim::system::MAX_PARTICLES
                        ),
                    );
                }
                natoms = Some(n);
                k += 2;
            } else if rest.starts_with("BOX BOUNDS") {
                let tilted = rest.contains("xy");
                k += 1;
                while k < lines.len()
                    && !lines[k].trim_start().starts_with("ITEM:")
                    && bounds.len() < 3
                {
                    let toks: Vec<&str> = lines[k].split_whitespace().collect();
                    if toks.len() < 2 {
                        return ferr(first + k, "box bounds line needs `lo hi`");
                    }
                    let lo = num(toks[0], first + k, "box lower bound")?;
                    let hi = num(toks[1], first + k, "box upper bound")?;
                    if tilted && toks.len() > 2 {
                        let tilt = num(toks[2], first + k, "box tilt")?;
                        if tilt != 0.0 {
                            return ferr(first + k, "triclinic box (non-zero tilt): only rectangular boxes are supported");
                        }
                    }
                    if hi <= lo {
                        return ferr(
                            first + k,
                            format!("box bounds [{lo}, {hi}] are empty or reversed"),
                        );
                    }
                    bounds.push((lo, hi));
                    k += 1;
                }
                if bounds.len() < 2 {
                    return ferr(ln, "BOX BOUNDS needs lines for x and y");
                }
            } else if let Some(names) = rest.strip_prefix("ATOMS") {
                let cols: Vec<&str> = names.split_whitespace().collect();
                let n = match natoms {
                    Some(n) => n,
                    None => return ferr(ln, "ITEM: ATOMS before ITEM: NUMBER OF ATOMS"),
                };
                if bounds.len() < 2 {
                    return ferr(ln, "ITEM: ATOMS before ITEM: BOX BOUNDS");
                }
                return lammps_atoms(&lines[k + 1..], ln + 1, &cols, n, &bounds, step, first, map);
            } else {
                // Other sections (none are standard) are skipped.
                k += 1;
            }
        } else if l.is_empty() {
            k += 1;
        } else {
            return ferr(
                ln,
                format!("unexpected line {} outside an ITEM section", quote(l)),
            );
        }
    }
    ferr(
        first,
        "frame has no `ITEM: ATOMS` section (truncated file?)",
    )
}

#[allow(clippy::too_many_arguments)]
fn lammps_atoms(
    lines: &[&str],
    first: usize,
    cols: &[&str],
    n: usize,
    bounds: &[(f64, f64)],
    step: Option<i64>,
    frame_line: usize,
    map: &SpeciesMap,
) -> std::result::Result<Frame, FrameErr> {
    let col = |name: &str| cols.iter().position(|c| *c == name);
    let header = first - 1;
    // Preference: wrapped, then unwrapped, then scaled coordinates.
    let (cx, cy, scaled, unwrapped) = if let (Some(x), Some(y)) = (col("x"), col("y")) {
        (x, y, false, false)
    } else if let (Some(x), Some(y)) = (col("xu"), col("yu")) {
        (x, y, false, true)
    } else if let (Some(x), Some(y)) = (col("xs"), col("ys")) {
        (x, y, true, false)
    } else if let (Some(x), Some(y)) = (col("xsu"), col("ysu")) {
        (x, y, true, true)
    } else {
        return ferr(
            header,
            format!(
                "missing position columns: need x y (or xu yu, xs ys, xsu ysu), the dump has {}",
                quote(&cols.join(" "))
            ),
        );
    };
    let ct = match col("type").or_else(|| col("element")) {
        Some(c) => c,
        None => {
            return ferr(
                header,
                format!(
                    "missing column `type`; the dump has {}",
                    quote(&cols.join(" "))
                ),
            )
        }
    };
    let cid = col("id");
    let cz = ["z", "zu", "zs", "zsu"].iter().find_map(|c| col(c));
    let mut zs = ZSpread::default();
    let need = cols.len();
    let (xlo, lx) = (bounds[0].0, bounds[0].1 - bounds[0].0);
    let (ylo, ly) = (bounds[1].0, bounds[1].1 - bounds[1].0);
    let body: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(k, l)| (first + k, *l))
        .collect();
    if body.len() != n {
        return ferr(
            header,
            format!(
                "NUMBER OF ATOMS says {n} but the ATOMS section has {} lines",
                body.len()
            ),
        );
    }
    let mut atoms: Vec<(i64, f64, f64, u32)> = Vec::with_capacity(n);
    for (k, (ln, l)) in body.iter().enumerate() {
        let toks: Vec<&str> = l.split_whitespace().collect();
        if toks.len() < need {
            return ferr(
                *ln,
                format!("{} columns, the header names {need}", toks.len()),
            );
        }
        let id = match cid {
            Some(c) => toks[c]
                .parse::<i64>()
                .or_else(|_| ferr(*ln, format!("atom id {} is not an integer", quote(toks[c]))))?,
            None => k as i64,
        };
        let mut x = num(toks[cx], *ln, cols[cx])?;
        let mut y = num(toks[cy], *ln, cols[cy])?;
        if scaled {
            x = xlo + x * lx;
            y = ylo + y * ly;
        }
        if let Some(c) = cz {
            zs.add(num(toks[c], *ln, cols[c])?, *ln);
        }
        let x = place(x, xlo, lx, unwrapped, *ln, "x")?;
        let y = place(y, ylo, ly, unwrapped, *ln, "y")?;
        let s = map.map(toks[ct]).or_else(|m| ferr(*ln, m))?;
        atoms.push((id, x, y, s));
    }
    zs.check(cz.map_or("z", |c| cols[c]), lx.max(ly))?;
    // Dumps list atoms in processor order; sort by id so particle i is the same atom in every frame.
    atoms.sort_by_key(|a| a.0);
    if let Some(w) = atoms.windows(2).find(|w| w[0].0 == w[1].0) {
        return ferr(header, format!("atom id {} appears twice", w[0].0));
    }
    Ok(Frame {
        index: 0,
        line: frame_line,
        step,
        class: None,
        box_l: [lx, ly],
        positions: atoms.iter().flat_map(|a| [a.1, a.2]).collect(),
        species: atoms.iter().map(|a| a.3).collect(),
    })
}

/// The range of the atoms' z coordinates: glasscam's systems are 2D, and a frame whose atoms spread in z is a 3D
/// one, refused rather than analysed as its xy projection.
#[derive(Default)]
struct ZSpread {
    lo: Option<(f64, usize)>,
    hi: Option<(f64, usize)>,
}

impl ZSpread {
    fn add(&mut self, z: f64, line: usize) {
        if self.lo.is_none_or(|(v, _)| z < v) {
            self.lo = Some((z, line));
        }
        if self.hi.is_none_or(|(v, _)| z > v) {
            self.hi = Some((z, line));
        }
    }

    /// Refuses a spread in z above a millionth of the box side `l`.
    fn check(&self, column: &str, l: f64) -> std::result::Result<(), FrameErr> {
        match (self.lo, self.hi) {
            (Some((lo, _)), Some((hi, line))) if hi - lo > 1e-6 * l => ferr(
                line,
                format!(
                    "the frame is 3D: its atoms spread in the third dimension, {column} from {lo} to {hi}; \
                     glasscam analyses 2D systems (give a 2D trajectory, or one layer with z fixed)"
                ),
            ),
            _ => Ok(()),
        }
    }
}

/// Splits an extended-XYZ comment line into key=value pairs (values may be double-quoted).
fn xyz_keys(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let c: Vec<char> = line.chars().collect();
    let mut k = 0;
    while k < c.len() {
        while k < c.len() && c[k].is_whitespace() {
            k += 1;
        }
        let ks = k;
        while k < c.len() && c[k] != '=' && !c[k].is_whitespace() {
            k += 1;
        }
        let key: String = c[ks..k].iter().collect();
        if k < c.len() && c[k] == '=' {
            k += 1;
            let value: String = if k < c.len() && c[k] == '"' {
                k += 1;
                let vs = k;
                while k < c.len() && c[k] != '"' {
                    k += 1;
                }
                let v = c[vs..k].iter().collect();
                k += 1;
                v
            } else {
                let vs = k;
                while k < c.len() && !c[k].is_whitespace() {
                    k += 1;
                }
                c[vs..k].iter().collect()
            };
            out.insert(key, value);
        } else if !key.is_empty() {
            out.insert(key, "T".into());
        }
    }
    out
}

/// Extended XYZ: a count line, a comment line with `Lattice="..."` and `Properties=...`, then the atoms.
pub fn parse_xyz(text: &str, path: &Path, map: &SpeciesMap) -> Imported {
    read_xyz(text.as_bytes(), path, map)
}

/// Extended XYZ from a reader, one frame in memory at a time.
pub fn read_xyz<R: std::io::BufRead>(r: R, path: &Path, map: &SpeciesMap) -> Imported {
    let mut rd = Lines::new(r);
    let mut out = Imported::default();
    let mut f = 0;
    let stop = |out: &mut Imported, f: usize, e: FrameErr| out.errors.push(frame_error(path, f, e));
    loop {
        let count = match rd.next() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                stop(&mut out, f, e);
                break;
            }
        };
        if count.trim().is_empty() {
            continue;
        }
        let first = rd.line;
        // Without the count the frame boundaries are lost: report and stop reading this file.
        let n = match count.trim().parse::<usize>() {
            Ok(n) if n <= crate::sim::system::MAX_PARTICLES => n,
            Ok(n) => {
                stop(
                    &mut out,
                    f,
                    FrameErr {
                        line: first,
                        message: format!(
                            "atom count {n} is above the limit of {} atoms; frames after this are not read",
                            crate::sim::system::MAX_PARTICLES
                        ),
                    },
                );
                break;
            }
            Err(_) => {
                stop(
                    &mut out,
                    f,
                    FrameErr {
                        line: first,
                        message: format!(
                            "expected the atom count of a frame, found {}; frames after this are not read",
                            quote(count.trim())
                        ),
                    },
                );
                break;
            }
        };
        let mut lines = vec![count];
        let mut failed = None;
        while lines.len() < n + 2 {
            match rd.next() {
                Ok(Some(l)) => lines.push(l),
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            stop(&mut out, f, e);
            break;
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        match xyz_frame(&refs, first, n, map) {
            Ok(mut fr) => {
                fr.index = f;
                out.frames.push(fr);
            }
            Err(e) => out.errors.push(frame_error(path, f, e)),
        }
        f += 1;
    }
    if out.frames.is_empty() && out.errors.is_empty() {
        let message = if rd.line == 0 {
            "the file is empty: no frames"
        } else {
            "the file holds only blank lines: no frames"
        };
        out.errors.push(frame_error(
            path,
            0,
            FrameErr {
                line: 1,
                message: message.into(),
            },
        ));
    }
    out
}

fn xyz_frame(
    lines: &[&str],
    first: usize,
    n: usize,
    map: &SpeciesMap,
) -> std::result::Result<Frame, FrameErr> {
    if n.checked_add(2).is_none_or(|need| lines.len() < need) {
        return ferr(
            first,
            format!(
                "frame says {n} atoms but the file ends after {} lines",
                lines.len().saturating_sub(2)
            ),
        );
    }
    let cl = first + 1;
    let keys = xyz_keys(lines[1]);
    let lattice = match keys.get("Lattice") {
        Some(l) => l,
        None => {
            return ferr(
                cl,
                "no Lattice=\"...\" on the comment line: the periodic box is needed",
            )
        }
    };
    let lat: Vec<f64> = lattice
        .split_whitespace()
        .map(|t| num(t, cl, "Lattice entry"))
        .collect::<std::result::Result<_, _>>()?;
    // 9 numbers (three 3D vectors) per the format, or 4 (two 2D vectors).
    let (a, b) = match lat.len() {
        9 => ([lat[0], lat[1]], [lat[3], lat[4]]),
        4 => ([lat[0], lat[1]], [lat[2], lat[3]]),
        m => {
            return ferr(
                cl,
                format!("Lattice has {m} numbers; expected 9 (or 4 in 2D)"),
            )
        }
    };
    let (lx, ly) = (a[0], b[1]);
    if !(lx > 0.0 && ly > 0.0) || a[1].abs() > 1e-12 * lx || b[0].abs() > 1e-12 * ly {
        return ferr(
            cl,
            format!(
                "Lattice vectors {a:?}, {b:?}: only rectangular boxes along x and y are supported"
            ),
        );
    }
    let props = keys
        .get("Properties")
        .cloned()
        .unwrap_or_else(|| "species:S:1:pos:R:3".to_string());
    let parts: Vec<&str> = props.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return ferr(
            cl,
            format!(
                "Properties={} is not a list of name:type:count triples",
                quote(&props)
            ),
        );
    }
    let mut col: usize = 0;
    let (mut cs, mut cp, mut dims) = (None, None, 0);
    for t in parts.chunks(3) {
        let m: usize = t[2].parse().or_else(|_| {
            ferr(
                cl,
                format!(
                    "Properties: column count {} of {} is not an integer",
                    quote(t[2]),
                    quote(t[0])
                ),
            )
        })?;
        match t[0] {
            "species" | "type" | "Z" if cs.is_none() => cs = Some(col),
            "pos" => {
                if m < 2 {
                    return ferr(cl, "Properties: pos needs at least 2 columns");
                }
                cp = Some(col);
                dims = m;
            }
            _ => {}
        }
        col = col.saturating_add(m);
    }
    let (cs, cp) = match (cs, cp) {
        (Some(s), Some(p)) => (s, p),
        _ => {
            return ferr(
                cl,
                format!(
                    "missing columns: Properties={} needs `species` (or type/Z) and `pos`",
                    quote(&props)
                ),
            )
        }
    };
    let origin: Vec<f64> = match keys.get("Origin") {
        Some(o) => o
            .split_whitespace()
            .map(|t| num(t, cl, "Origin entry"))
            .collect::<std::result::Result<_, _>>()?,
        None => vec![0.0, 0.0],
    };
    let (xlo, ylo) = (
        origin.first().copied().unwrap_or(0.0),
        origin.get(1).copied().unwrap_or(0.0),
    );
    let mut positions = Vec::with_capacity(2 * n);
    let mut species = Vec::with_capacity(n);
    let mut zs = ZSpread::default();
    for (k, l) in lines[2..2 + n].iter().enumerate() {
        let ln = first + 2 + k;
        let toks: Vec<&str> = l.split_whitespace().collect();
        if toks.len() < col {
            return ferr(
                ln,
                format!("{} columns, Properties names {col}", toks.len()),
            );
        }
        let x = num(toks[cp], ln, "x")?;
        let y = num(toks[cp + 1], ln, "y")?;
        if dims >= 3 {
            zs.add(num(toks[cp + 2], ln, "z")?, ln);
        }
        positions.push(place(x, xlo, lx, false, ln, "x")?);
        positions.push(place(y, ylo, ly, false, ln, "y")?);
        species.push(map.map(toks[cs]).or_else(|m| ferr(ln, m))?);
    }
    zs.check("z (the third pos column)", lx.max(ly))?;
    let step = ["step", "Step", "timestep", "Timestep"]
        .iter()
        .find_map(|k| keys.get(*k).and_then(|v| v.parse::<i64>().ok()));
    Ok(Frame {
        index: 0,
        line: first,
        step,
        class: keys.get("class").cloned(),
        box_l: [lx, ly],
        positions,
        species,
    })
}
