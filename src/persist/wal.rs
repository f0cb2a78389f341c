//! The write-ahead log's files: segments under `data_dir/wal/`, each a header and a run of
//! frames (see [`super::record`]), named by the position of their first record. Once every
//! part of the state covers a position, the segments wholly at or below it are deleted.

use super::record::{read_frames, Position, Record, Skipped, Tail};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The first bytes of every segment: the format's name and version.
pub const SEGMENT_MAGIC: &[u8; 8] = b"meterdW2";

/// A segment is closed and a new one started once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

const SUFFIX: &str = ".wal";

/// The log's folder under the data directory.
pub fn wal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("wal")
}

/// The file of the segment whose first record is at position `id`.
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
    /// Its good records with their positions, in order.
    pub records: Vec<(Position, Record)>,
    /// Why it ended early, with the bytes cut off; `None` when it was whole.
    pub cut: Option<(Tail, u64)>,
    /// Damaged runs in the middle, skipped.
    pub skipped: Vec<Skipped>,
}

/// Reads segment `id`; a torn or corrupt tail is cut off the file (so it is never read as
/// records again) and reported, damage in the middle is skipped and reported, neither is an
/// error. Only I/O failures are errors.
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
                skipped: Vec::new(),
            });
        }
        None => {
            return Ok(SegmentRead {
                records: Vec::new(),
                cut: Some((
                    Tail::Undecodable("not a meterd log segment".into()),
                    bytes.len() as u64,
                )),
                skipped: Vec::new(),
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
        skipped: frames.skipped,
    })
}

/// What a replay read, and what damage cost.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records handed to the visitor (after the position asked for).
    pub replayed: usize,
    /// The last position found in the log (0 when it is empty).
    pub last: Position,
    /// Bytes of torn tails cut off.
    pub torn_bytes: u64,
    /// Bytes of damaged runs skipped in the middle.
    pub skipped_bytes: u64,
    /// Records lost to damage, counted by the gaps in positions around it.
    pub skipped_records: u64,
}

/// Hands every record after `after` to `visit`, in order, segment by segment; reports and
/// counts damage (never an error). Only I/O failures are errors.
pub fn replay_after(
    dir: &Path,
    after: Position,
    visit: &mut dyn FnMut(Position, Record),
) -> io::Result<ReplayReport> {
    let mut report = ReplayReport::default();
    let segments = list_segments(dir)?;
    for (i, &id) in segments.iter().enumerate() {
        // A segment whose successor starts at or below `after + 1` holds nothing wanted.
        if segments.get(i + 1).is_some_and(|&next| next <= after + 1) {
            continue;
        }
        let read = read_segment(dir, id)?;
        if let Some((tail, bytes)) = &read.cut {
            tracing::warn!(segment = id, bytes, reason = %tail, "cut off a torn write-ahead log tail");
            report.torn_bytes += bytes;
        }
        let damaged = !read.skipped.is_empty();
        report.skipped_bytes += read.skipped.iter().map(|d| d.bytes as u64).sum::<u64>();
        let mut previous = report.last;
        for (position, record) in read.records {
            if damaged && previous > 0 {
                // Positions follow each other: a gap is what the damage held.
                report.skipped_records += position.saturating_sub(previous + 1);
            }
            previous = position;
            report.last = report.last.max(position);
            if position > after {
                visit(position, record);
                report.replayed += 1;
            }
        }
    }
    Ok(report)
}

/// Deletes every segment whose records all lie at or below `covered` (the next segment starts
/// at or below `covered + 1`); the last segment is kept. Answers how many were deleted.
pub fn delete_through(dir: &Path, covered: Position) -> io::Result<usize> {
    let segments = list_segments(dir)?;
    let mut deleted = 0;
    for pair in segments.windows(2) {
        if pair[1] <= covered.saturating_add(1) {
            fs::remove_file(segment_path(dir, pair[0]))?;
            deleted += 1;
        }
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
            let rec = frame(
                id,
                &RecordRef::Forget {
                    at_ms: id as i64,
                    hashes: &[id],
                },
            );
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

        assert_eq!(delete_through(&dir, 2).unwrap(), 2);
        assert_eq!(list_segments(&dir).unwrap(), vec![3]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn replay_skips_damage_in_the_middle_and_counts_what_it_cost() {
        let dir = temp_dir("replay");
        let mut f = create_segment(&dir, 1).unwrap();
        let frames: Vec<Vec<u8>> = (1..=5)
            .map(|p| {
                frame(
                    p,
                    &RecordRef::Forget {
                        at_ms: 0,
                        hashes: &[p],
                    },
                )
            })
            .collect();
        let mut bytes = Vec::new();
        for fr in &frames {
            bytes.extend(fr);
        }
        // Positions 2 and 3 damaged.
        let from = frames[0].len() + 3;
        let to = frames[0].len() + frames[1].len() + frames[2].len() - 1;
        for b in &mut bytes[from..to] {
            *b ^= 0x5a;
        }
        f.write_all(&bytes).unwrap();
        drop(f);
        let mut seen = Vec::new();
        let report = replay_after(&dir, 1, &mut |p, _| seen.push(p)).unwrap();
        assert_eq!(seen, vec![4, 5]);
        assert_eq!(report.last, 5);
        assert_eq!(report.skipped_records, 2);
        assert_eq!(
            report.skipped_bytes,
            (frames[1].len() + frames[2].len()) as u64
        );
        assert_eq!(report.torn_bytes, 0);
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
