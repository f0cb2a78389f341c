//! The write-ahead log's files: numbered segments under `data_dir/wal/`, each a header and a
//! run of frames (see [`super::record`]). A snapshot names the first segment it does not
//! cover; segments before it are deleted once the snapshot is stored.

use super::record::{read_frames, Record, Tail};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The first bytes of every segment: the format's name and version.
pub const SEGMENT_MAGIC: &[u8; 8] = b"meterdW1";

/// A segment is closed and a new one started once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

const SUFFIX: &str = ".wal";

/// The log's folder under the data directory.
pub fn wal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("wal")
}

/// The file of segment `id`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SUFFIX}"))
}

/// The ids of the segments in `dir`, ascending (other files are ignored).
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let name = entry?.file_name();
        let id = name
            .to_str()
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok());
        ids.extend(id);
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Creates segment `id` with its header, fsyncs it and the folder (so that the file survives
/// a crash), and answers it open for appending.
pub fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(segment_path(dir, id))?;
    file.write_all(SEGMENT_MAGIC)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// Fsyncs a folder, making the files created or removed in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What reading one segment found.
#[derive(Debug)]
pub struct SegmentRead {
    /// Its good records, in order.
    pub records: Vec<Record>,
    /// Why it ended early, with the bytes cut off; `None` when it was whole.
    pub cut: Option<(Tail, u64)>,
}

/// Reads segment `id`; a torn or corrupt tail is cut off the file (so it is never read as
/// records again) and reported, never an error. Only I/O failures are errors.
pub fn read_segment(dir: &Path, id: u64) -> io::Result<SegmentRead> {
    let path = segment_path(dir, id);
    let bytes = fs::read(&path)?;
    let body = match bytes.strip_prefix(SEGMENT_MAGIC.as_slice()) {
        Some(body) => body,
        // A segment cut inside its header (a crash while it was created) holds nothing.
        None if bytes.len() < SEGMENT_MAGIC.len() && SEGMENT_MAGIC.starts_with(&bytes) => {
            return Ok(SegmentRead {
                records: Vec::new(),
                cut: (!bytes.is_empty()).then_some((Tail::Short, bytes.len() as u64)),
            });
        }
        None => {
            return Ok(SegmentRead {
                records: Vec::new(),
                cut: Some((
                    Tail::Undecodable("not a meterd log segment".into()),
                    bytes.len() as u64,
                )),
            });
        }
    };
    let frames = read_frames(body);
    let cut = match frames.tail {
        None => None,
        Some(tail) => {
            let keep = (SEGMENT_MAGIC.len() + frames.valid_len) as u64;
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(keep)?;
            file.sync_all()?;
            Some((tail, bytes.len() as u64 - keep))
        }
    };
    Ok(SegmentRead {
        records: frames.records,
        cut,
    })
}

/// Deletes every segment before `id` (covered by a stored snapshot); answers how many.
pub fn delete_before(dir: &Path, id: u64) -> io::Result<usize> {
    let mut deleted = 0;
    for old in list_segments(dir)?.into_iter().take_while(|&s| s < id) {
        fs::remove_file(segment_path(dir, old))?;
        deleted += 1;
    }
    if deleted > 0 {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::super::record::{frame, RecordRef};
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meterd-wal-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn segments_list_read_cut_and_delete() {
        let dir = temp_dir("segments");
        for id in [3, 1, 2] {
            let mut f = create_segment(&dir, id).unwrap();
            let rec = frame(&RecordRef::Forget {
                at_ms: id as i64,
                hashes: &[id],
            });
            f.write_all(&rec).unwrap();
            if id == 3 {
                // A torn last record: half of a second frame.
                f.write_all(&rec[..rec.len() / 2]).unwrap();
            }
        }
        fs::write(dir.join("notes.txt"), "x").unwrap();
        assert_eq!(list_segments(&dir).unwrap(), vec![1, 2, 3]);

        let whole = read_segment(&dir, 2).unwrap();
        assert_eq!(whole.records.len(), 1);
        assert!(whole.cut.is_none());

        let torn = read_segment(&dir, 3).unwrap();
        assert_eq!(torn.records.len(), 1);
        assert!(matches!(torn.cut, Some((Tail::Short, n)) if n > 0));
        // The cut is made on disk: reading again finds a whole segment.
        assert!(read_segment(&dir, 3).unwrap().cut.is_none());

        assert_eq!(delete_before(&dir, 3).unwrap(), 2);
        assert_eq!(list_segments(&dir).unwrap(), vec![3]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_segment_torn_in_its_header_is_empty() {
        let dir = temp_dir("header");
        fs::write(segment_path(&dir, 1), &SEGMENT_MAGIC[..3]).unwrap();
        let read = read_segment(&dir, 1).unwrap();
        assert!(read.records.is_empty());
        fs::write(segment_path(&dir, 2), b"garbage!garbage").unwrap();
        assert!(read_segment(&dir, 2).unwrap().cut.is_some());
        fs::remove_dir_all(&dir).unwrap();
    }
}
