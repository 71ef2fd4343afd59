//! Where the audio of queued work is kept until a worker runs it: a directory every server
//! sees (the data directory's `uploads/` by default, or `--storage file:///shared/dir`), or an
//! S3-compatible bucket (`--storage s3://bucket/prefix`; endpoint, region and credentials
//! from the usual `AWS_*` variables) through the `object_store` crate. Objects are named by
//! job id; uploads and downloads stream in pieces, never whole in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

pub enum AudioStore {
    Directory(PathBuf),
    Bucket {
        store: Arc<dyn ObjectStore>,
        prefix: String,
        /// What `--storage` said, for the start-up summary.
        url: String,
    },
}

/// A job's audio as a local file for the engine; a downloaded copy is deleted when dropped.
pub struct LocalAudio {
    pub path: PathBuf,
    temporary: bool,
}

impl LocalAudio {
    /// A new file name in `dir`, deleted when dropped.
    pub fn scratch(dir: &Path) -> Self {
        Self {
            path: dir.join(uuid::Uuid::new_v4().to_string()),
            temporary: true,
        }
    }
}

impl Drop for LocalAudio {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl AudioStore {
    /// `storage`: `--storage`, or none for `default_dir`.
    pub fn open(storage: Option<&str>, default_dir: &Path) -> Result<Self, String> {
        let store = match storage {
            None => Self::Directory(default_dir.to_path_buf()),
            Some(url) if url.starts_with("file://") => {
                Self::Directory(PathBuf::from(&url["file://".len()..]))
            }
            Some(url) if url.starts_with("s3://") => {
                let rest = &url["s3://".len()..];
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(format!("--storage {url:?}: no bucket"));
                }
                let store = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| format!("--storage {url:?}: {e}"))?;
                Self::Bucket {
                    store: Arc::new(store),
                    prefix: prefix.trim_matches('/').to_string(),
                    url: url.to_string(),
                }
            }
            Some(other) => {
                return Err(format!(
                    "--storage {other:?}: expected s3://bucket/prefix or file:///shared/dir"
                ));
            }
        };
        if let Self::Directory(dir) = &store {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Ok(store)
    }

    /// Keeps the file at `local` (which is moved, or copied and deleted) as `name`; returns
    /// what the job records to find it again.
    pub async fn put(&self, name: &str, local: &Path) -> Result<String, String> {
        match self {
            Self::Directory(dir) => {
                let target = dir.join(name);
                if std::fs::rename(local, &target).is_err() {
                    // Another file system (a shared mount): copy, then let the upload go.
                    tokio::fs::copy(local, &target)
                        .await
                        .map_err(|e| format!("cannot store the audio: {e}"))?;
                    let _ = std::fs::remove_file(local);
                }
                Ok(target.to_string_lossy().into_owned())
            }
            Self::Bucket { store, prefix, .. } => {
                let object = match prefix.as_str() {
                    "" => ObjectPath::from(name),
                    _ => ObjectPath::from(format!("{prefix}/{name}")),
                };
                let mut file = tokio::fs::File::open(local)
                    .await
                    .map_err(|e| format!("cannot read the upload: {e}"))?;
                let mut writer = BufWriter::new(Arc::clone(store), object.clone());
                let copied = tokio::io::copy(&mut file, &mut writer).await;
                let closed = match copied {
                    Ok(_) => writer.shutdown().await,
                    Err(error) => {
                        let _ = writer.abort().await;
                        Err(error)
                    }
                };
                closed.map_err(|e| format!("cannot store the audio in the bucket: {e}"))?;
                let _ = std::fs::remove_file(local);
                Ok(object.to_string())
            }
        }
    }

    /// The audio recorded as `stored` as a local file: the file itself in a directory, a
    /// download into `scratch` from a bucket.
    pub async fn local(&self, stored: &str, scratch: &Path) -> Result<LocalAudio, String> {
        match self {
            Self::Directory(dir) => Ok(LocalAudio {
                // Absolute as recorded; a bare name is in the directory.
                path: dir.join(stored),
                temporary: false,
            }),
            Self::Bucket { store, .. } => {
                let local = LocalAudio::scratch(scratch);
                let mut stream = store
                    .get(&ObjectPath::from(stored))
                    .await
                    .map_err(|e| format!("cannot read the audio from the bucket: {e}"))?
                    .into_stream();
                let mut file = tokio::fs::File::create(&local.path)
                    .await
                    .map_err(|e| format!("cannot write the audio: {e}"))?;
                while let Some(piece) = stream.next().await {
                    let piece =
                        piece.map_err(|e| format!("cannot read the audio from the bucket: {e}"))?;
                    file.write_all(&piece)
                        .await
                        .map_err(|e| format!("cannot write the audio: {e}"))?;
                }
                file.flush()
                    .await
                    .map_err(|e| format!("cannot write the audio: {e}"))?;
                Ok(local)
            }
        }
    }

    /// Deletes the audio recorded as `stored` (gone already is fine).
    pub async fn delete(&self, stored: &str) {
        match self {
            Self::Directory(dir) => {
                let _ = std::fs::remove_file(dir.join(stored));
            }
            Self::Bucket { store, .. } => {
                let _ = store.delete(&ObjectPath::from(stored)).await;
            }
        }
    }
}

impl std::fmt::Display for AudioStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Directory(dir) => write!(f, "{}", dir.display()),
            Self::Bucket { url, .. } => write!(f, "{url}"),
        }
    }
}
