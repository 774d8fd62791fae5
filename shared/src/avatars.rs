//! Avatar objects: the port, and its Amazon S3 adapter (in place of the seed's Qiniu), served from
//! a public base URL (CloudFront in the template).

use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;
use rand::RngCore;
use thiserror::Error;

use crate::config::Config;
use crate::deferred::Deferred;
use crate::domain::AvatarImage;

#[derive(Debug, Error)]
#[error("avatar storage failed: {0}")]
pub struct AvatarStoreError(pub String);

/// Where avatar objects are kept: S3 under Lambda, a folder in `ihome-local`.
pub trait AvatarStore: Send + Sync {
    fn put<'a>(
        &'a self,
        key: &'a str,
        image: &'a AvatarImage,
    ) -> impl Future<Output = Result<(), AvatarStoreError>> + Send + 'a;
    fn delete<'a>(&'a self, key: &'a str) -> impl Future<Output = Result<(), AvatarStoreError>> + Send + 'a;
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

/// The object key behind an avatar URL this stack handed out (under `base_url`), if it is one.
pub fn key_of<'a>(url: &'a str, base_url: &str) -> Option<&'a str> {
    url.strip_prefix(base_url).filter(|k| k.starts_with(KEY_PREFIX))
}

#[derive(Debug, Clone)]
pub struct S3Avatars {
    client: Deferred<aws_sdk_s3::Client>,
    bucket: String,
}

impl S3Avatars {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Avatars { client: Deferred::ready(client), bucket: bucket.into() }
    }

    /// The store for a function: its S3 client from the function's SDK settings, built on the
    /// first put or delete (`crate::deferred`: `delete-user` needs it only for a user with an
    /// avatar, `upload-avatar` only for a signed-in caller's valid image).
    pub fn from_sdk(sdk: &aws_types::SdkConfig, config: &Config) -> Self {
        let mut conf = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(url) = crate::aws_env::service_endpoint("S3") {
            conf = conf.endpoint_url(url);
        }
        let conf = conf.build();
        let client = Deferred::new(move || aws_sdk_s3::Client::from_conf(conf.clone()));
        S3Avatars { client, bucket: config.avatar_bucket.clone() }
    }
}

fn s3_error<E: std::error::Error>(e: E) -> AvatarStoreError {
    AvatarStoreError(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
}

impl AvatarStore for S3Avatars {
    #[inline(never)]
    fn put<'a>(
        &'a self,
        key: &'a str,
        image: &'a AvatarImage,
    ) -> impl Future<Output = Result<(), AvatarStoreError>> + Send + 'a {
        crate::boxed(async move {
            self.client
                .get()
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(image.content_type())
                .cache_control(CACHE_CONTROL)
                .body(ByteStream::from(image.bytes().to_vec()))
                .send()
                .await
                .map_err(s3_error)?;
            Ok(())
        })
    }

    #[inline(never)]
    fn delete<'a>(&'a self, key: &'a str) -> impl Future<Output = Result<(), AvatarStoreError>> + Send + 'a {
        crate::boxed(async move {
            self.client.get().delete_object().bucket(&self.bucket).key(key).send().await.map_err(s3_error)?;
            Ok(())
        })
    }
}
