//! A folder of input files as one source (`--source dir:PATH`): its files in name order, each
//! read as topics where the store stopped reading it, then the files that arrive, until the
//! folder has been idle for a set time (or for ever). A file is taken as complete when it is
//! there: a writer writes it under a name this source leaves alone (a leading `.`, or ending
//! `.tmp` or `.part`) and renames it into place. The operator's files are never moved or
//! deleted, unless a done folder is given: a file goes there once its last line is committed.

use crate::file_record::name_of;
use crate::file_topics::{FileTopics, Opened};
use crate::partition::Numbers;
use crate::source::{Line, Source};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often an idle folder is listed again.
const POLL: Duration = Duration::from_millis(200);

/// Opens a file where the store stopped reading it (`crate::store::files::open`).
pub type Opener = Box<dyn FnMut(&Path, &mut Numbers) -> std::io::Result<Opened> + Send>;

pub struct Folder {
    dir: PathBuf,
    done_dir: Option<PathBuf>,
    /// Stop once no file has come for this long; `None`: wait for ever.
    idle: Option<Duration>,
    open: Opener,
    /// The accounts of numbers, learned from file to file (and from the store before).
    numbers: Numbers,
    /// The files this run took up, by name.
    taken: BTreeSet<String>,
    current: Option<Box<FileTopics>>,
    since: Instant,
    /// Return at once when nothing is there (`Source::yield_when_idle`); the last batch did.
    yield_now: bool,
    paused: bool,
    /// Files rated to their end in this run, and files skipped as read before.
    pub finished: u64,
    pub skipped: u64,
}

impl Folder {
    pub fn new(dir: PathBuf, open: Opener, numbers: Numbers) -> std::io::Result<Folder> {
        is_folder(&dir)?;
        Ok(Folder {
            dir,
            done_dir: None,
            idle: None,
            open,
            numbers,
            taken: BTreeSet::new(),
            current: None,
            since: Instant::now(),
            yield_now: false,
            paused: false,
            finished: 0,
            skipped: 0,
        })
    }

    /// Moves each file whose lines are all committed into `done_dir` (on the same file system;
    /// a file of the same name already there is never replaced).
    pub fn done_dir(mut self, done_dir: Option<PathBuf>) -> std::io::Result<Folder> {
        if let Some(done) = &done_dir {
            is_folder(done)?;
        }
        self.done_dir = done_dir;
        Ok(self)
    }

    pub fn exit_when_idle(mut self, idle: Option<Duration>) -> Folder {
        self.idle = idle;
        self
    }

    /// The first file by name not taken yet that is ready to read.
    fn next_file(&self) -> std::io::Result<Option<(String, PathBuf)>> {
        let mut first: Option<(String, PathBuf)> = None;
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(raw) = path.file_name() else {
                continue;
            };
            let raw = raw.to_string_lossy();
            if raw.starts_with('.') || raw.ends_with(".tmp") || raw.ends_with(".part") {
                continue;
            }
            // A file that goes away between listing and looking is no longer there.
            if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let name = name_of(&path)?;
            if self.taken.contains(&name) || first.as_ref().is_some_and(|f| f.0 <= name) {
                continue;
            }
            first = Some((name, path));
        }
        Ok(first)
    }

    /// Takes up the next file; false if there is none.
    fn take_next(&mut self) -> std::io::Result<bool> {
        let Some((name, path)) = self.next_file()? else {
            return Ok(false);
        };
        self.taken.insert(name.clone());
        self.since = Instant::now();
        match (self.open)(&path, &mut self.numbers)? {
            Opened::Topics(topics) if !topics.exhausted() => self.current = Some(topics),
            // Nothing left to rate: its record says finished (`files::open` wrote it).
            Opened::Topics(_) => {
                self.finished += 1;
                self.put_away(&name);
            }
            Opened::Finished => {
                self.skipped += 1;
                tracing::info!(file = %name, "read to its end before: skipped");
                self.put_away(&name);
            }
        }
        Ok(true)
    }

    /// Moves a file whose lines are all committed into the done folder, if there is one.
    fn put_away(&self, name: &str) {
        let Some(done) = &self.done_dir else {
            return;
        };
        let (from, to) = (self.dir.join(name), done.join(name));
        // A link, then an unlink: unlike a rename, it never replaces a file already there.
        let moved = std::fs::hard_link(&from, &to).and_then(|()| std::fs::remove_file(&from));
        if let Err(e) = moved {
            tracing::warn!(file = %name, to = %to.display(), error = %e, "not moved to the done folder");
        }
    }
}

impl Source for Folder {
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        self.paused = false;
        loop {
            if let Some(current) = &mut self.current {
                current.next_batch(max, out)?;
                if !out.is_empty() {
                    self.since = Instant::now();
                    return Ok(());
                }
                self.current = None;
            }
            if self.take_next()? {
                continue;
            }
            let stop = crate::operations::shutdown::requested();
            if stop || self.idle.is_some_and(|idle| self.since.elapsed() >= idle) {
                return Ok(());
            }
            if self.yield_now {
                self.paused = true;
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }

    fn describe(&self) -> String {
        format!("dir:{}", self.dir.display())
    }

    fn yield_when_idle(&mut self, yield_now: bool) {
        self.yield_now = yield_now;
    }

    fn paused(&self) -> bool {
        self.paused
    }

    fn committed(&mut self, lines: &[Line]) {
        for line in lines {
            if let Some(mark) = line.file.as_deref().filter(|m| m.record.finished) {
                self.finished += 1;
                self.put_away(&mark.name);
            }
        }
    }
}

/// `path` is a folder; the error, if not, names it (the source's and the done folder's errors
/// are told apart).
fn is_folder(path: &Path) -> std::io::Result<()> {
    let named =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if std::fs::metadata(path).map_err(named)?.is_dir() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{}: not a folder",
            path.display()
        )))
    }
}
