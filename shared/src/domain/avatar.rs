use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};
use zune_core::bytestream::ZCursor;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// An avatar image whose type was decided by its bytes and which decodes, whole, as that type.
#[derive(Clone)]
pub struct AvatarImage {
    bytes: Vec<u8>,
    format: ImageFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvatarError {
    Empty,
    TooLarge,
    /// The header promises more pixels than one decode may hold in memory.
    TooManyPixels,
    NotAnImage,
}

impl AvatarError {
    pub fn message(self) -> &'static str {
        match self {
            AvatarError::Empty => "未上传图片",
            AvatarError::TooLarge => "图片过大",
            AvatarError::TooManyPixels => "图片尺寸过大",
            AvatarError::NotAnImage => "图片格式错误，仅支持JPEG、PNG、GIF、WebP",
        }
    }
}

/// What an image's header says, read without decoding a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// The decoded pixels' size, as the decoder will allocate them.
    pub output_bytes: u64,
    /// A progressive JPEG keeps every DCT coefficient until its last scan.
    pub progressive: bool,
    pub components: u8,
}

impl ImageHeader {
    /// Room for a decoder's fixed buffers (Huffman and colour tables, rows, inflate windows).
    const FIXED: u64 = 1024 * 1024;

    /// The most memory decoding this image takes: its pixels plus what the format's decoder keeps
    /// beside them. Each term was measured with a counting allocator (tests/memory) rather than
    /// trusted from the decoders' own limits, which some formats overrun (a WebP decodes its
    /// YUV planes before the RGB it is asked for).
    pub fn decode_bytes(&self) -> u64 {
        let pixels = u64::from(self.width) * u64::from(self.height);
        let beside = match self.format {
            // Coefficients are i16 per sample, for every block, kept until the last scan.
            ImageFormat::Jpeg if self.progressive => pixels * u64::from(self.components) * 2,
            // Baseline: decoded row of blocks by row of blocks straight into the output.
            ImageFormat::Jpeg => 0,
            // Rows are unfiltered one at a time into the output.
            ImageFormat::Png => 0,
            // A frame of indices, then of RGBA, before it is placed on the canvas.
            ImageFormat::Gif => pixels * 5,
            // Lossless: an ARGB word per pixel and a copy; lossy: YUV planes, and with alpha an
            // ARGB alpha plane too (measured 10.5 B/pixel in all for lossy with alpha, RGBA out).
            _ => pixels * 7,
        };
        self.output_bytes + beside + Self::FIXED
    }
}

impl AvatarImage {
    pub const MAX_BYTES: usize = 4 * 1024 * 1024;
    /// The memory one decode may take, pixels and decoder buffers together: a 12-megapixel
    /// phone photo fits (36 MB baseline, 109 MB progressive); a small file claiming a huge
    /// canvas does not, and is refused from its header alone.
    pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
    const MAX_SIDE: u32 = 8192;

    /// Checks the bytes, never the file name or declared type: the signature must be JPEG, PNG,
    /// GIF or WebP, the header must promise no more than `MAX_DECODE_BYTES` of decoding, and
    /// the whole image must then decode as that format (a truncated file is refused).
    /// CPU-bound: call it off the async executor.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, AvatarError> {
        let header = Self::header(&bytes)?;
        if header.width > Self::MAX_SIDE
            || header.height > Self::MAX_SIDE
            || header.decode_bytes() > Self::MAX_DECODE_BYTES
        {
            return Err(AvatarError::TooManyPixels);
        }
        decode(&bytes, header.format).map_err(|_| AvatarError::NotAnImage)?;
        Ok(AvatarImage { bytes, format: header.format })
    }

    /// The header of an accepted format, or why the bytes are refused before decoding.
    pub fn header(bytes: &[u8]) -> Result<ImageHeader, AvatarError> {
        if bytes.is_empty() {
            return Err(AvatarError::Empty);
        }
        if bytes.len() > Self::MAX_BYTES {
            return Err(AvatarError::TooLarge);
        }
        let format = image::guess_format(bytes).map_err(|_| AvatarError::NotAnImage)?;
        match format {
            ImageFormat::Jpeg => jpeg_header(bytes),
            ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP => {
                let decoder = reader(bytes, format).into_decoder().map_err(|_| AvatarError::NotAnImage)?;
                let (width, height) = decoder.dimensions();
                let components = decoder.color_type().channel_count();
                Ok(ImageHeader {
                    format,
                    width,
                    height,
                    output_bytes: decoder.total_bytes(),
                    progressive: false,
                    components,
                })
            }
            _ => Err(AvatarError::NotAnImage),
        }
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

/// JPEG goes to zune-jpeg directly, in strict mode: through `image` it pads a truncated scan with
/// grey and calls the image whole.
fn jpeg_options() -> DecoderOptions {
    let side = AvatarImage::MAX_SIDE as usize;
    DecoderOptions::default().set_strict_mode(true).set_max_width(side).set_max_height(side)
}

fn jpeg_header(bytes: &[u8]) -> Result<ImageHeader, AvatarError> {
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), jpeg_options());
    decoder.decode_headers().map_err(|_| AvatarError::NotAnImage)?;
    let info = decoder.info().ok_or(AvatarError::NotAnImage)?;
    let output_bytes = decoder.output_buffer_size().ok_or(AvatarError::NotAnImage)?;
    Ok(ImageHeader {
        format: ImageFormat::Jpeg,
        width: u32::from(info.width),
        height: u32::from(info.height),
        output_bytes: output_bytes as u64,
        progressive: info.sof.is_progressive(),
        components: info.components,
    })
}

/// The other formats through `image`, with its limits as a second fence.
fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(AvatarImage::MAX_SIDE);
    limits.max_image_height = Some(AvatarImage::MAX_SIDE);
    limits.max_alloc = Some(AvatarImage::MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    reader
}

fn decode(bytes: &[u8], format: ImageFormat) -> Result<(), Box<dyn std::error::Error>> {
    if format == ImageFormat::Jpeg {
        JpegDecoder::new_with_options(ZCursor::new(bytes), jpeg_options()).decode()?;
    } else {
        reader(bytes, format).decode()?;
    }
    Ok(())
}

impl std::fmt::Debug for AvatarImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AvatarImage({}, {} bytes)", self.content_type(), self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real images in every accepted format, noisy enough that a cut lands inside pixel data.
    fn sample_image(format: ImageFormat, side: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(side, side, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 30) as u8, ((x * 7919 + y * 104_729) % 251) as u8])
        });
        let mut out = Cursor::new(Vec::new());
        // Writing to memory cannot fail for these encoders and sizes.
        let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut out, format);
        out.into_inner()
    }

    const FORMATS: [(ImageFormat, &str); 4] = [
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Gif, "image/gif"),
        (ImageFormat::WebP, "image/webp"),
    ];

    #[test]
    fn accepts_the_four_formats_by_their_bytes() {
        for (format, ct) in FORMATS {
            let bytes = sample_image(format, 8);
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
        for bad in [png_header_on_garbage, b"#!/bin/sh\nrm -rf /\n".to_vec(), b"<svg/>".to_vec(), b"BM\0\0".to_vec()] {
            assert_eq!(AvatarImage::parse(bad).unwrap_err(), AvatarError::NotAnImage);
        }
        assert_eq!(AvatarImage::parse(vec![]).unwrap_err(), AvatarError::Empty);
        assert_eq!(AvatarImage::parse(vec![0xff; 5 * 1024 * 1024]).unwrap_err(), AvatarError::TooLarge);
    }

    /// Hostile testing found a JPEG cut at half or nine tenths accepted: the decoder had filled
    /// the missing blocks with grey.
    #[test]
    fn refuses_a_truncated_file_of_every_format() {
        for (format, _) in FORMATS {
            let whole = sample_image(format, 64);
            assert!(AvatarImage::parse(whole.clone()).is_ok(), "{format:?} whole");
            for tenths in [5, 9] {
                let cut = whole[..whole.len() * tenths / 10].to_vec();
                assert_eq!(
                    AvatarImage::parse(cut).unwrap_err(),
                    AvatarError::NotAnImage,
                    "{format:?} cut at {tenths}/10"
                );
            }
        }
    }

    /// A small PNG whose header claims `width`×`height`: its IHDR rewritten, CRC and all.
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        fn crc32(data: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in data {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let mut png = sample_image(ImageFormat::Png, 8);
        // Signature (8), IHDR length (4), "IHDR" (4), width, height, then 5 bytes and the CRC.
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    #[test]
    fn a_huge_canvas_is_refused_from_its_header() {
        // 8192×5461 RGB: 134 MB of pixels, just under the old 128 MiB allocation limit.
        let png = png_claiming(8192, 5461);
        let header = AvatarImage::header(&png).unwrap();
        assert_eq!((header.width, header.height, header.output_bytes), (8192, 5461, 8192 * 5461 * 3));
        assert_eq!(AvatarImage::parse(png).unwrap_err(), AvatarError::TooManyPixels);
        // 4000×3000 fits the budget: refused only because its pixels are not there.
        let png = png_claiming(4000, 3000);
        assert!(AvatarImage::header(&png).unwrap().decode_bytes() <= AvatarImage::MAX_DECODE_BYTES);
        assert_eq!(AvatarImage::parse(png).unwrap_err(), AvatarError::NotAnImage);
    }
}
