use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// An avatar image whose type was decided by its bytes and which decodes as that type.
#[derive(Clone)]
pub struct AvatarImage {
    bytes: Vec<u8>,
    format: ImageFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvatarError {
    Empty,
    TooLarge,
    NotAnImage,
}

impl AvatarError {
    pub fn message(self) -> &'static str {
        match self {
            AvatarError::Empty => "未上传图片",
            AvatarError::TooLarge => "图片过大",
            AvatarError::NotAnImage => "图片格式错误，仅支持JPEG、PNG、GIF、WebP",
        }
    }
}

impl AvatarImage {
    pub const MAX_BYTES: usize = 4 * 1024 * 1024;
    /// Decoding is bounded too, so a small file cannot claim a huge canvas.
    const MAX_SIDE: u32 = 8192;
    const MAX_ALLOC: u64 = 128 * 1024 * 1024;

    /// Checks the bytes, never the file name or declared type: the signature must be JPEG, PNG,
    /// GIF or WebP, and the whole image must decode as that format. CPU-bound: call it off the
    /// async executor.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, AvatarError> {
        if bytes.is_empty() {
            return Err(AvatarError::Empty);
        }
        if bytes.len() > Self::MAX_BYTES {
            return Err(AvatarError::TooLarge);
        }
        let format = image::guess_format(&bytes).map_err(|_| AvatarError::NotAnImage)?;
        if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP) {
            return Err(AvatarError::NotAnImage);
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(Self::MAX_SIDE);
        limits.max_image_height = Some(Self::MAX_SIDE);
        limits.max_alloc = Some(Self::MAX_ALLOC);
        let mut reader = ImageReader::with_format(Cursor::new(&bytes), format);
        reader.limits(limits);
        reader.decode().map_err(|_| AvatarError::NotAnImage)?;
        Ok(AvatarImage { bytes, format })
    }

    pub fn content_type(&self) -> &'static str {
        match self.format {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Gif => "image/gif",
            _ => "image/webp",
        }
    }

    pub fn extension(&self) -> &'static str {
        match self.format {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Gif => "gif",
            _ => "webp",
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for AvatarImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AvatarImage({}, {} bytes)", self.content_type(), self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small real images in every accepted format.
    fn sample_image(format: ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([(x * 30) as u8, (y * 30) as u8, 128]));
        let mut out = Cursor::new(Vec::new());
        // Writing to memory cannot fail for these encoders and sizes.
        let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut out, format);
        out.into_inner()
    }

    #[test]
    fn accepts_the_four_formats_by_their_bytes() {
        for (format, ct) in [
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::WebP, "image/webp"),
        ] {
            let bytes = sample_image(format);
            assert!(!bytes.is_empty(), "{format:?} sample");
            let img = AvatarImage::parse(bytes.clone()).unwrap_or_else(|e| panic!("{format:?}: {e:?}"));
            assert_eq!(img.content_type(), ct);
            assert_eq!(img.bytes(), bytes.as_slice());
        }
    }

    #[test]
    fn refuses_what_only_looks_like_an_image() {
        let mut png_header_on_garbage = b"\x89PNG\r\n\x1a\n".to_vec();
        png_header_on_garbage.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
        let mut truncated = sample_image(ImageFormat::Png);
        truncated.truncate(truncated.len() / 2);
        for bad in [
            png_header_on_garbage,
            truncated,
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
            b"<svg/>".to_vec(),
            b"BM\0\0".to_vec(),
        ] {
            assert_eq!(AvatarImage::parse(bad).unwrap_err(), AvatarError::NotAnImage);
        }
        assert_eq!(AvatarImage::parse(vec![]).unwrap_err(), AvatarError::Empty);
        assert_eq!(AvatarImage::parse(vec![0xff; 5 * 1024 * 1024]).unwrap_err(), AvatarError::TooLarge);
    }
}
