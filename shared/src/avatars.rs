//! Avatar objects: Amazon S3 (in place of the seed's Qiniu), served from a public base URL
//! (CloudFront in the template).

use aws_sdk_s3::primitives::ByteStream;
use rand::RngCore;
use thiserror::Error;

use crate::domain::AvatarImage;

#[derive(Debug, Error)]
#[error("avatar storage failed: {0}")]
pub struct AvatarStoreError(String);

/// Where avatars live and the URL they are served at.
#[derive(Debug, Clone)]
pub enum AvatarStore {
    S3(S3Avatars),
    /// Local runs: files under a directory, served by the local server.
    Dir(std::path::PathBuf),
}

#[derive(Debug, Clone)]
pub struct S3Avatars {
    client: aws_sdk_s3::Client,
    bucket: String,
}

pub const KEY_PREFIX: &str = "avatars/";
/// Keys are never reused, so browsers and CloudFront may keep an avatar for a year.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// A fresh key: 128 random bits, so keys cannot collide and one user's key says nothing about
/// another's.
pub fn new_key(image: &AvatarImage) -> String {
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{hex}.{}", image.extension())
}

impl S3Avatars {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Avatars { client, bucket: bucket.into() }
    }
}

impl AvatarStore {
    pub async fn put(&self, key: &str, image: &AvatarImage) -> Result<(), AvatarStoreError> {
        match self {
            AvatarStore::S3(s3) => {
                s3.client
                    .put_object()
                    .bucket(&s3.bucket)
                    .key(key)
                    .content_type(image.content_type())
                    .cache_control(CACHE_CONTROL)
                    .body(ByteStream::from(image.bytes().to_vec()))
                    .send()
                    .await
                    .map_err(|e| AvatarStoreError(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
            }
            AvatarStore::Dir(dir) => {
                let path = local_path(dir, key)?;
                let bytes = image.bytes().to_vec();
                tokio::task::spawn_blocking(move || {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&path, bytes)
                })
                .await
                .map_err(|e| AvatarStoreError(e.to_string()))?
                .map_err(|e| AvatarStoreError(e.to_string()))?;
            }
        }
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<(), AvatarStoreError> {
        match self {
            AvatarStore::S3(s3) => {
                s3.client
                    .delete_object()
                    .bucket(&s3.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| AvatarStoreError(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
            }
            AvatarStore::Dir(dir) => {
                let path = local_path(dir, key)?;
                match tokio::fs::remove_file(&path).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(AvatarStoreError(e.to_string())),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The file of `key` under `dir`; only keys this module makes (`avatars/<hex>.<ext>`) are accepted,
/// so no key can point outside the directory.
pub fn local_path(dir: &std::path::Path, key: &str) -> Result<std::path::PathBuf, AvatarStoreError> {
    let name = key.strip_prefix(KEY_PREFIX).unwrap_or_default();
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') && !name.starts_with('.');
    if !ok {
        return Err(AvatarStoreError(format!("not an avatar key: {key:?}")));
    }
    Ok(dir.join(name))
}
