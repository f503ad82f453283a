//! Reading `--table FILE`, with the checks every load makes, at start-up
//! and at each reload: a regular file (a device that never ends or a FIFO
//! nobody writes is refused before it is opened), at most
//! `--max-table-bytes` (checked again while reading, in case the file
//! grows), holding a JSON object of strings to strings. The file is read
//! in pieces straight into the table, never held whole. What is done with
//! the table is the caller's.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use sockmux_proto::{Table, TableBuilder, TableError};

/// What tells one version of a file from another without reading it: a
/// rename over it changes the inode, a write the time or the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    device: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
}

/// The file's stamp now; `None` when it cannot be looked at (it is gone).
pub fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
}

/// Reads the table in `path`, a regular file of at most `max_bytes`. The
/// error names the file and the problem, in one line.
pub fn load(path: &Path, max_bytes: usize) -> anyhow::Result<Table> {
    let cannot_read = || format!("cannot read table file {}", path.display());
    let file = open(path, max_bytes).with_context(cannot_read)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = Bounded {
        file,
        left: max_bytes as u64,
    };
    // A hint only: a file that grew is still read to its limit.
    let hint = usize::try_from(size).unwrap_or(max_bytes).min(max_bytes);
    match TableBuilder::with_capacity(hint).read_from(reader) {
        Ok(table) => Ok(table),
        Err(TableError::Io(e)) if e.kind() == io::ErrorKind::FileTooLarge => {
            Err(too_big(max_bytes)).with_context(cannot_read)
        }
        Err(TableError::Io(e)) => Err(anyhow!(e)).with_context(cannot_read),
        Err(e) => Err(anyhow!(e)).with_context(|| format!("bad table file {}", path.display())),
    }
}

/// Opens `path` after checking that it is a regular file within the
/// limit, and checks the file opened again (it may have been replaced in
/// between).
fn open(path: &Path, max_bytes: usize) -> anyhow::Result<File> {
    check(&std::fs::metadata(path)?, max_bytes)?;
    let file = File::open(path)?;
    check(&file.metadata()?, max_bytes)?;
    Ok(file)
}

fn check(meta: &Metadata, max_bytes: usize) -> anyhow::Result<()> {
    anyhow::ensure!(meta.is_file(), "not a regular file");
    if meta.len() > max_bytes as u64 {
        return Err(too_big(max_bytes));
    }
    Ok(())
}

fn too_big(max_bytes: usize) -> anyhow::Error {
    anyhow!("larger than --max-table-bytes ({max_bytes} bytes)")
}

/// A file that fails with [`io::ErrorKind::FileTooLarge`] once more than
/// its limit has been read from it.
struct Bounded {
    file: File,
    left: u64,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or(io::ErrorKind::FileTooLarge)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sockmux-table-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn loads_a_table_and_names_the_file_and_the_fault_when_it_cannot() {
        let good = temp("good.json", r#"{"k": "v"}"#);
        assert_eq!(load(&good, 1024).expect("loads").get("k"), Some("v"));

        let bad = temp("bad.json", r#"{"k": 1}"#);
        let err = format!("{:#}", load(&bad, 1024).expect_err("a number"));
        assert!(
            err.starts_with(&format!(
                "bad table file {}: not a JSON object",
                bad.display()
            )),
            "{err}"
        );

        let big = temp("big.json", r#"{"k": "vvvvvvvvvv"}"#);
        let err = format!("{:#}", load(&big, 8).expect_err("too big"));
        assert!(
            err.ends_with("larger than --max-table-bytes (8 bytes)"),
            "{err}"
        );

        let err = format!(
            "{:#}",
            load(Path::new("/dev/null"), 8).expect_err("a device")
        );
        assert!(err.ends_with("not a regular file"), "{err}");
    }

    #[test]
    fn a_file_that_grows_past_the_limit_while_read_is_refused() {
        let path = temp("grows.json", r#"{"k": "v"}"#);
        let mut reader = Bounded {
            file: File::open(&path).expect("open"),
            left: 4,
        };
        let mut buf = [0; 64];
        let err = reader.read(&mut buf).expect_err("over the limit");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn a_stamp_changes_when_the_file_is_replaced() {
        let path = temp("stamp.json", "{}");
        let before = stamp(&path).expect("there");
        let other = temp("stamp-new.json", "{ }");
        std::fs::rename(&other, &path).expect("rename");
        assert_ne!(stamp(&path), Some(before));
        assert_eq!(stamp(&path.with_extension("gone")), None);
    }
}
