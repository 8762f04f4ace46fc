//! The one safe way for a command to write an output directory: names used as path components are plain names, a
//! run holds an advisory lock on its directory while it writes, an existing result is overwritten only with
//! `force`, and nothing is removed that this run did not create (or explicitly adopt as its own scratch).
//!
//! ```no_run
//! # fn main() -> glasscam::Result<()> {
//! use glasscam::io::outdir::{self, OutDir};
//! let mut out = OutDir::lock(std::path::Path::new("runs/kam"))?; // a second process is refused, with our PID
//! outdir::no_overwrite(&out.root().join("manifest.json"), false, "a data set")?;
//! let scratch = out.create_dir(".partial")?; // ours: may be removed again
//! // ... write into `scratch`, then the result ...
//! out.remove_dir(&scratch)?;
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// The lock file every writing run holds in its output directory (it holds the writer's PID).
pub const LOCK_FILE: &str = ".glasscam.lock";

/// The files a pipeline (`reproduce`) writes at the top of its output directory, with what each holds: never an
/// output directory's name, so that `out` given as one of them is refused by name.
pub const PIPELINE_FILES: [(&str, &str); 3] = [
    ("stages.json", "stage records"),
    ("results.json", "results"),
    ("report.html", "report"),
];

/// Refuses an output directory named as a pipeline's own file (`stages.json` ...), or an existing file inside a
/// pipeline's output directory, saying which.
fn not_a_pipeline_file(root: &Path) -> Result<()> {
    let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parent = root.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some((file, what)) = PIPELINE_FILES.iter().find(|(f, _)| *f == name) {
        return Err(Error::Input(format!(
            "`out` {} is named as a pipeline's own file ({file}: a `reproduce` output directory's {}), not as a \
             directory to write into; {}",
            root.display(),
            what,
            match parent {
                Some(p) => format!("give the directory ({}) or another name", p.display()),
                None => "choose another name".into(),
            }
        )));
    }
    if root.is_file() {
        let pipeline = root
            .ancestors()
            .skip(1)
            .find(|a| a.join(PIPELINE_FILES[0].0).is_file());
        if let Some(p) = pipeline {
            return Err(Error::Input(format!(
                "`out` {} is a file inside the pipeline output {} (it holds {}), not a directory to \
                 write into; choose an output directory outside it",
                root.display(),
                p.display(),
                PIPELINE_FILES[0].0
            )));
        }
    }
    Ok(())
}

/// Checks that `name` (a system, stage or file name that becomes one path component) is a plain name: not empty,
/// no path separator, not `.` or `..`, not absolute, no control characters. `what` says what the name is, for the
/// message (e.g. "system name").
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it names a directory itself")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if Path::new(name).is_absolute() {
        Some("it is an absolute path")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::Input(format!(
            "{what} `{}` cannot be used as a directory name ({why}); use a plain name such as `kam` or `my-glass` \
             (letters, digits, `-`, `_`, `.`)",
            name.escape_debug()
        ))),
    }
}

/// Refuses when `path` exists and `force` is not set; `what` names the result (e.g. "a data set").
pub fn no_overwrite(path: &Path, force: bool, what: &str) -> Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::Input(format!(
            "{} already holds {what}; use `force` to overwrite it, or choose another output",
            path.display()
        )));
    }
    Ok(())
}

/// Where a command writes its results: checked and locked before any work, so a bad `out` (a file, a read-only
/// directory, one that a running command holds) is refused at once. `out` is never one of the command's `inputs`,
/// and a directory that holds a data set is written into only by a command whose result is a data set
/// (`makes_dataset`), and then only with `force`.
pub fn claim(out: &Path, inputs: &[&Path], makes_dataset: bool, force: bool) -> Result<OutDir> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(o) = canon(out) {
        if let Some(input) = inputs.iter().find(|i| canon(i).as_ref() == Some(&o)) {
            return Err(Error::Input(format!(
                "`out` {} is this command's own input {}; choose another output directory",
                out.display(),
                input.display()
            )));
        }
    }
    if out.join(crate::io::dataset::MANIFEST).exists() && (!makes_dataset || !force) {
        return Err(Error::Input(format!(
            "`out` {} holds a data set; {}",
            out.display(),
            if makes_dataset {
                "use `force` to overwrite it, or choose another output directory"
            } else {
                "this command's files do not go into a data set: choose another output directory"
            }
        )));
    }
    OutDir::lock(out)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed to disk, then renamed over `path`,
/// so a reader (or a resumed run) sees the old content or the new one, never a mixture or a torn file.
///
/// Test hook: with `GLASSCAM_FAILPOINT=write:K` the process aborts after writing half of the temporary file of
/// its K-th atomic write; with `rename:K`, just before the K-th rename (the kill tests use this to kill inside
/// checkpoint and data set writes).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).at(&f.tmp)?;
    f.finish()
}

/// A file written in pieces (a data set's positions, chunk by chunk, never all in memory) with the guarantee of
/// `write_atomic`: the pieces go to a temporary file beside `path`, which `finish` flushes and renames into place.
/// Dropped unfinished, the temporary file stays behind and `path` keeps its old content.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: std::io::BufWriter<File>,
    /// This write's number, for the `GLASSCAM_FAILPOINT` hooks.
    nth: u64,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!("{name}.tmp"));
        let nth = WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let file = std::io::BufWriter::with_capacity(1 << 20, File::create(&tmp).at(&tmp)?);
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file,
            nth,
        })
    }

    /// Flushes the temporary file to disk and renames it over the final path.
    pub fn finish(self) -> Result<()> {
        let AtomicFile {
            path,
            tmp,
            file,
            nth,
        } = self;
        let f = file.into_inner().map_err(|e| e.into_error()).at(&tmp)?;
        if failpoint("write") == Some(nth) {
            // a kill halfway through the temporary file
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.set_len(len / 2);
            let _ = f.sync_all();
            std::process::abort();
        }
        f.sync_all().at(&tmp)?;
        drop(f);
        if failpoint("rename") == Some(nth) {
            std::process::abort();
        }
        std::fs::rename(&tmp, &path).at(&path)?;
        // make the rename itself durable (directories can be fsynced on Unix only)
        #[cfg(unix)]
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl std::io::Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Renames a directory (or file) in one step and makes the rename durable.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).at(to)?;
    #[cfg(unix)]
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `Some(K)` when `GLASSCAM_FAILPOINT` is `<kind>:K`.
fn failpoint(kind: &str) -> Option<u64> {
    static SPEC: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var("GLASSCAM_FAILPOINT").ok()?;
        let (k, n) = v.split_once(':')?;
        Some((k.to_string(), n.trim().parse().ok()?))
    });
    spec.as_ref().filter(|(k, _)| k == kind).map(|(_, n)| *n)
}

/// An output directory held by this process. The advisory lock is released when it is dropped (or the process
/// dies: the operating system releases it, so a killed run never leaves a stale lock).
#[derive(Debug)]
pub struct OutDir {
    root: PathBuf,
    lock: Option<File>,
    /// Paths this run created (or adopted), the only ones `remove_*` will touch.
    own: Vec<PathBuf>,
}

impl OutDir {
    /// Creates `root` (and its parents) if needed and takes the lock. If another process holds it, the error names
    /// that process's PID.
    pub fn lock(root: &Path) -> Result<OutDir> {
        let mut own = Vec::new();
        not_a_pipeline_file(root)?;
        if std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink())
            && !root.exists()
        {
            return Err(Error::Input(format!(
                "{} is a symbolic link to nothing; remove it or choose another output directory",
                root.display()
            )));
        }
        if !root.exists() {
            std::fs::create_dir_all(root).at(root)?;
            own.push(root.to_path_buf());
        } else if !root.is_dir() {
            return Err(Error::Input(format!(
                "{} exists and is not a directory; choose another output directory",
                root.display()
            )));
        }
        let path = root.join(LOCK_FILE);
        // A lock file removed by its previous holder between our open and our lock would leave us locking an
        // unlinked file: retry until the locked file is the one at `path`.
        for _ in 0..100 {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .at(&path)?;
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(fs4::TryLockError::WouldBlock) => {
                    let pid = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = pid.trim();
                    return Err(Error::Input(format!(
                        "{} is in use by another glasscam process (PID {}); wait for it to finish or stop it, \
                         or choose another output directory",
                        root.display(),
                        if pid.is_empty() { "unknown" } else { pid }
                    )));
                }
                Err(fs4::TryLockError::Error(e)) => return Err(e).at(&path),
            }
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).at(&path)?;
            let mut f = &file;
            writeln!(f, "{}", std::process::id()).at(&path)?;
            return Ok(OutDir {
                root: root.to_path_buf(),
                lock: Some(file),
                own,
            });
        }
        Err(Error::Input(format!(
            "{}: could not take the lock {LOCK_FILE} (it keeps being replaced); is another program removing it?",
            root.display()
        )))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `root/name`, with `name` checked as a plain name (see `check_name`).
    pub fn child(&self, what: &str, name: &str) -> Result<PathBuf> {
        check_name(what, name)?;
        Ok(self.root.join(name))
    }

    /// Creates `root/name` if it does not exist and records it as this run's own; an existing directory is
    /// used as it is but not recorded (use `adopt` once the caller has checked that it is its own).
    pub fn create_dir(&mut self, name: &str) -> Result<PathBuf> {
        let path = self.child("directory name", name)?;
        if !path.exists() {
            std::fs::create_dir(&path).at(&path)?;
            self.own.push(path.clone());
        }
        Ok(path)
    }

    /// Records an existing `path` inside the root as this run's own (e.g. the scratch directory of an interrupted
    /// run that the caller has identified as the same run), so that `remove_dir` may remove it.
    pub fn adopt(&mut self, path: &Path) -> Result<()> {
        self.inside(path)?;
        self.own.push(path.to_path_buf());
        Ok(())
    }

    /// Removes a directory this run created or adopted; anything else is refused.
    pub fn remove_dir(&mut self, path: &Path) -> Result<()> {
        self.inside(path)?;
        let Some(k) = self.own.iter().position(|p| p == path) else {
            return Err(Error::Input(format!(
                "refusing to remove {}: this run did not create it",
                path.display()
            )));
        };
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).at(path),
            _ => {}
        }
        self.own.swap_remove(k);
        Ok(())
    }

    /// `path` must lie strictly inside the root, reached by plain names only.
    fn inside(&self, path: &Path) -> Result<()> {
        let ok = path.strip_prefix(&self.root).is_ok_and(|rel| {
            rel.components().count() > 0
                && rel.components().all(|c| matches!(c, Component::Normal(_)))
        });
        if ok {
            Ok(())
        } else {
            Err(Error::Input(format!(
                "{} lies outside the output directory {}; nothing outside it is written or removed",
                path.display(),
                self.root.display()
            )))
        }
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if let Some(file) = self.lock.take() {
            // Remove the lock file while still holding the lock (a waiter that opened it retries, see `lock`);
            // only on Unix, where `same_file` can tell.
            if cfg!(unix) {
                let _ = std::fs::remove_file(self.root.join(LOCK_FILE));
            }
            drop(file);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        r.expect_err("must be refused").to_string()
    }

    #[test]
    fn plain_names_pass_and_paths_are_refused_with_a_fix() {
        for ok in ["kam", "abm", "my-glass_2", "a.b", "..x"] {
            check_name("system name", ok).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            (".", "directory itself"),
            ("..", "directory itself"),
            ("a/b", "separator"),
            ("../x", "separator"),
            ("/etc", "separator"),
            ("a\\b", "separator"),
            ("a\nb", "control"),
        ] {
            let e = err(check_name("system name", bad));
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(
                e.contains("system name") && e.contains("use a plain name"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let first = OutDir::lock(&root).unwrap();
        let held = std::fs::read_to_string(root.join(LOCK_FILE)).unwrap();
        assert_eq!(held.trim(), std::process::id().to_string());
        // a second open file description conflicts even inside one process (flock semantics)
        let e = err(OutDir::lock(&root));
        assert!(
            e.contains(&format!("PID {}", std::process::id())) && e.contains("in use"),
            "{e}"
        );
        drop(first);
        assert!(
            !root.join(LOCK_FILE).exists(),
            "the lock file goes with the lock"
        );
        let again = OutDir::lock(&root).unwrap();
        assert!(again.root().join(LOCK_FILE).exists());
    }

    #[test]
    fn claim_refuses_the_own_input_a_data_set_and_a_dangling_link() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join(crate::io::dataset::MANIFEST), "{}").unwrap();
        let e = err(claim(&data, &[&data], true, true));
        assert!(e.contains("own input"), "{e}");
        let e = err(claim(&dir.path().join("data/."), &[&data], true, true));
        assert!(e.contains("own input"), "{e}");
        let e = err(claim(&data, &[], false, true));
        assert!(
            e.contains("holds a data set") && e.contains("do not go into a data set"),
            "{e}"
        );
        let e = err(claim(&data, &[], true, false));
        assert!(e.contains("use `force`"), "{e}");
        claim(&data, &[], true, true).unwrap();
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
            let e = err(claim(&link, &[], false, false));
            assert!(e.contains("symbolic link to nothing"), "{e}");
        }
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = err(claim(&file, &[], false, false));
        assert!(e.contains("not a directory"), "{e}");
    }

    #[test]
    fn atomic_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.bin");
        write_atomic(&f, b"old").unwrap();
        write_atomic(&f, b"new content").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new content");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary left behind");
    }

    #[test]
    fn overwrite_needs_force() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("manifest.json");
        no_overwrite(&f, false, "a data set").unwrap();
        std::fs::write(&f, "{}").unwrap();
        let e = err(no_overwrite(&f, false, "a data set"));
        assert!(e.contains("use `force`") && e.contains("a data set"), "{e}");
        no_overwrite(&f, true, "a data set").unwrap();
    }

    #[test]
    fn only_what_this_run_created_or_adopted_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir_all(root.join("theirs")).unwrap();
        std::fs::write(root.join("theirs/keep.txt"), "x").unwrap();
        let mut out = OutDir::lock(&root).unwrap();
        let theirs = out.create_dir("theirs").unwrap();
        let e = err(out.remove_dir(&theirs));
        assert!(e.contains("did not create"), "{e}");
        assert!(root.join("theirs/keep.txt").exists());
        let mine = out.create_dir(".partial").unwrap();
        std::fs::write(mine.join("x"), "y").unwrap();
        out.remove_dir(&mine).unwrap();
        assert!(!mine.exists());
        // adopted: allowed; outside the root or via `..`: refused
        out.adopt(&theirs).unwrap();
        out.remove_dir(&theirs).unwrap();
        assert!(!theirs.exists());
        for bad in [
            dir.path().to_path_buf(),
            root.join("../out/x"),
            root.clone(),
        ] {
            let e = err(out.adopt(&bad));
            assert!(e.contains("outside the output directory"), "{e}");
        }
        let e = err(out.create_dir("../escape"));
        assert!(e.contains("path separator"), "{e}");
        assert!(!dir.path().join("escape").exists());
    }
}
