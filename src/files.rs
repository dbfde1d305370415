//! Reading input files safely: only regular files (a FIFO would block, a device such as
//! `/dev/zero` never ends), and never more than a stated size, so a bad path costs an error
//! message instead of a hang or all of memory. Every error names the file.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

pub const MIB: u64 = 1 << 20;

/// Largest JSON file the CLI reads (a model config, a `forward` request, a label list).
pub const MAX_JSON_BYTES: u64 = 64 * MIB;

/// The whole file, refused if it is not a regular file or is larger than `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let err = |m: String| Error::Io(std::io::Error::other(format!("{}: {m}", path.display())));
    // `metadata` follows symlinks without opening: opening a FIFO would block until a writer came.
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(err(format!("{} bytes is larger than the {} byte limit for this input", meta.len(), limit)));
    }
    let file = std::fs::File::open(path).map_err(|e| err(format!("cannot read: {e}")))?;
    // Re-check the opened file (the path may have been swapped) and cap the read itself.
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(err("not a regular file".into()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(err(format!("grew past the {limit} byte limit while being read")));
    }
    Ok(bytes)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_capped(path, limit)?)
        .map_err(|_| Error::Io(std::io::Error::other(format!("{}: not UTF-8 text", path.display()))))
}

/// `create_dir_all` whose error names the folder (a file in the way says "File exists" alone).
pub fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path)
        .map_err(|e| Error::Io(std::io::Error::other(format!("cannot create folder {}: {e}", path.display()))))
}

/// `fs::write` whose error names the file.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| Error::Io(std::io::Error::other(format!("cannot write {}: {e}", path.display()))))
}
