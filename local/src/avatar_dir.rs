//! Avatars as files in a folder, served by the local server at `/avatars/…`.

use std::path::{Path, PathBuf};

use ihome::avatars::{AvatarStore, AvatarStoreError, KEY_PREFIX};
use ihome::domain::AvatarImage;

#[derive(Debug, Clone)]
pub struct AvatarDir {
    dir: PathBuf,
}

impl AvatarDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AvatarDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file of `key`; only keys `avatars::new_key` makes (`avatars/<hex>.<ext>`) are
    /// accepted, so no key can point outside the folder.
    fn file(&self, key: &str) -> Result<PathBuf, AvatarStoreError> {
        let name = key.strip_prefix(KEY_PREFIX).unwrap_or_default();
        let ok =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') && !name.starts_with('.');
        if !ok {
            return Err(AvatarStoreError(format!("not an avatar key: {key:?}")));
        }
        Ok(self.dir.join(name))
    }
}

impl AvatarStore for AvatarDir {
    async fn put(&self, key: &str, image: &AvatarImage) -> Result<(), AvatarStoreError> {
        let path = self.file(key)?;
        let bytes = image.bytes().to_vec();
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, bytes)
        })
        .await
        .map_err(|e| AvatarStoreError(e.to_string()))?
        .map_err(|e| AvatarStoreError(e.to_string()))
    }

    async fn delete(&self, key: &str) -> Result<(), AvatarStoreError> {
        match tokio::fs::remove_file(self.file(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AvatarStoreError(e.to_string())),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_folder() {
        let d = AvatarDir::new("/data/avatars");
        assert_eq!(d.file("avatars/ab12.png").unwrap(), PathBuf::from("/data/avatars/ab12.png"));
        for bad in ["avatars/../x", "avatars/", "other/ab.png", "avatars/.hidden", "avatars/a/b.png"] {
            assert!(d.file(bad).is_err(), "{bad}");
        }
    }
}
