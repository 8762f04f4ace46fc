//! Reading NumPy `.npz` archives: a zip file of `.npy` members, stored or deflated, with zip64 fields as numpy
//! writes them; each member is checked against its CRC-32.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Most bytes one member may expand to: a bound on what a damaged header can make glasscam allocate.
const MAX_MEMBER: u64 = 1 << 34;

/// One member of the archive, as the central directory describes it.
#[derive(Clone, Copy, Debug)]
struct Member {
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    offset: u64,
}

/// An opened `.npz` file: its bytes and the members by array name (the member name without `.npy`).
pub struct Npz {
    path: PathBuf,
    bytes: Vec<u8>,
    members: BTreeMap<String, Member>,
}

fn u16_at(b: &[u8], k: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(k..k + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], k: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(k..k + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], k: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(k..k + 8)?.try_into().ok()?))
}

impl Npz {
    /// Reads `path` and its central directory.
    pub fn open(path: &Path) -> Result<Npz> {
        let bytes = std::fs::read(path).at(path)?;
        let members = directory(&bytes).ok_or_else(|| {
            Error::Input(format!(
                "{}: not a .npz file glasscam can read (no valid zip central directory); is the file complete?",
                path.display()
            ))
        })?;
        Ok(Npz {
            path: path.to_path_buf(),
            bytes,
            members,
        })
    }

    /// The array names it holds.
    pub fn keys(&self) -> Vec<&str> {
        self.members.keys().map(String::as_str).collect()
    }

    pub fn has(&self, key: &str) -> bool {
        self.members.contains_key(key)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `.npy` bytes of array `key`, inflated and checked against their CRC-32.
    pub fn npy_bytes(&self, key: &str) -> Result<Vec<u8>> {
        let bad = |m: String| Error::Input(format!("{}: key `{key}`: {m}", self.path.display()));
        let m = self.members.get(key).ok_or_else(|| {
            Error::Input(format!(
                "{}: no key `{key}` (it has {})",
                self.path.display(),
                self.keys().join(", ")
            ))
        })?;
        let b = &self.bytes;
        let local = usize::try_from(m.offset).map_err(|_| bad("offset out of range".into()))?;
        if u32_at(b, local) != Some(0x0403_4b50) {
            return Err(bad(
                "no local zip header where the directory points; the file is damaged".into(),
            ));
        }
        let (name_len, extra_len) = (
            u16_at(b, local + 26).unwrap_or(0) as usize,
            u16_at(b, local + 28).unwrap_or(0) as usize,
        );
        let start = local + 30 + name_len + extra_len;
        let data = usize::try_from(m.compressed)
            .ok()
            .and_then(|c| b.get(start..start.checked_add(c)?))
            .ok_or_else(|| {
                bad("the member runs past the end of the file; the file is truncated".into())
            })?;
        if m.size > MAX_MEMBER {
            return Err(bad(format!("{} bytes is more than glasscam reads", m.size)));
        }
        let out = match m.method {
            0 => data.to_vec(),
            8 => {
                let mut out = Vec::with_capacity(m.size as usize);
                flate2::read::DeflateDecoder::new(data)
                    .take(m.size + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| bad(format!("cannot inflate: {e}")))?;
                out
            }
            other => {
                return Err(bad(format!(
                    "zip compression method {other}; numpy writes stored (savez) or deflated (savez_compressed) members"
                )))
            }
        };
        if out.len() as u64 != m.size || crc32fast::hash(&out) != m.crc {
            return Err(bad("CRC or size mismatch; the file is damaged".into()));
        }
        Ok(out)
    }
}

/// The central directory of a zip file: member name (without `.npy`) to its record.
fn directory(b: &[u8]) -> Option<BTreeMap<String, Member>> {
    // the end-of-central-directory record lies in the last 64 KiB + 22 bytes
    let lo = b.len().saturating_sub(22 + 65_535);
    let eocd = (lo..=b.len().checked_sub(22)?)
        .rev()
        .find(|&k| u32_at(b, k) == Some(0x0605_4b50))?;
    let mut count = u16_at(b, eocd + 10)? as u64;
    let mut offset = u32_at(b, eocd + 16)? as u64;
    // zip64: the locator just before points to the zip64 end record
    if eocd >= 20 && u32_at(b, eocd - 20) == Some(0x0706_4b50) {
        let z = usize::try_from(u64_at(b, eocd - 20 + 8)?).ok()?;
        if u32_at(b, z) != Some(0x0606_4b50) {
            return None;
        }
        count = u64_at(b, z + 32)?;
        offset = u64_at(b, z + 48)?;
    }
    let mut k = usize::try_from(offset).ok()?;
    let mut out = BTreeMap::new();
    for _ in 0..count {
        if u32_at(b, k)? != 0x0201_4b50 {
            return None;
        }
        let method = u16_at(b, k + 10)?;
        let crc = u32_at(b, k + 16)?;
        let mut compressed = u32_at(b, k + 20)? as u64;
        let mut size = u32_at(b, k + 24)? as u64;
        let (nl, el, cl) = (
            u16_at(b, k + 28)? as usize,
            u16_at(b, k + 30)? as usize,
            u16_at(b, k + 32)? as usize,
        );
        let mut local = u32_at(b, k + 42)? as u64;
        let name = std::str::from_utf8(b.get(k + 46..k + 46 + nl)?).ok()?;
        // zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in this order
        let mut e = k + 46 + nl;
        let end = e + el;
        while e + 4 <= end {
            let (id, len) = (u16_at(b, e)?, u16_at(b, e + 2)? as usize);
            if id == 1 {
                let mut p = e + 4;
                for field in [&mut size, &mut compressed, &mut local] {
                    if *field == 0xFFFF_FFFF {
                        *field = u64_at(b, p)?;
                        p += 8;
                    }
                }
            }
            e += 4 + len;
        }
        let key = name.strip_suffix(".npy").unwrap_or(name).to_string();
        out.insert(
            key,
            Member {
                method,
                crc,
                compressed,
                size,
                offset: local,
            },
        );
        k = end + cl;
    }
    Some(out)
}
