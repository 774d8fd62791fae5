use image::ImageResult as Result;
use std::cmp::{max, min};
use std::path::Path;

use image::{ImageBuffer, Rgb, RgbImage};
use png;

// Vendored (PATCHES.md): chosen by measurement on 160×60 CAPTCHAs of 20 % noise: fdeflate
// with adaptive row filters, ~29 µs and ~3.2 KB a CAPTCHA against lodepng's ~500 µs and ~3.0 KB.
const PNG_COMPRESSION: png::Compression = png::Compression::Fast;

#[derive(Clone, Copy)]
pub struct Pixl {
    rgb: [u8; 3],
}

#[derive(Clone)]
pub struct Image {
    img: RgbImage,
}

impl Pixl {
    pub fn new(r: u8, g: u8, b: u8) -> Pixl {
        Pixl { rgb: [r, g, b] }
    }

    pub fn black() -> Pixl {
        Pixl::new(0, 0, 0)
    }

    pub fn red() -> Pixl {
        Pixl::new(255, 0, 0)
    }

    pub fn invert(&mut self) {
        self.rgb[0] = 255 - self.rgb[0];
        self.rgb[1] = 255 - self.rgb[1];
        self.rgb[2] = 255 - self.rgb[2];
    }
}

impl Image {
    pub fn from_png(v: Vec<u8>) -> Option<Image> {
        // Vendored (PATCHES.md): PNG's decoder alone. `load_from_memory` guesses among every
        // format `image` is built with, and its features are unified across the workspace (JPEG,
        // GIF, WebP for avatars): that linked all their decoders into every captcha binary.
        let decoder = image::codecs::png::PngDecoder::new(std::io::Cursor::new(v)).ok()?;
        image::DynamicImage::from_decoder(decoder).ok().map(|i| Image { img: i.to_rgb8() })
    }

    pub fn new(w: u32, h: u32) -> Image {
        Image {
            img: Self::white(w, h),
        }
    }

    /// Vendored (PATCHES.md): `ImageBuffer::from_pixel(w, h, white)`, as one fill of the buffer.
    fn white(w: u32, h: u32) -> RgbImage {
        let len = (w as usize * h as usize)
            .checked_mul(3)
            .expect("image too large");
        ImageBuffer::from_raw(w, h, vec![255; len]).expect("buffer of the image's size")
    }

    /// Vendored (PATCHES.md): the `w`×`h` pixels from (`x`, `y`), copied a row at a time, or
    /// None if they are not all inside this image.
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Option<Image> {
        let inside = |start: u32, len: u32, size: u32| {
            start.checked_add(len).map_or(false, |end| end <= size)
        };
        if !inside(x, w, self.width()) || !inside(y, h, self.height()) {
            return None;
        }
        let src = self.img.as_raw();
        let stride = self.width() as usize * 3;
        let row = w as usize * 3;
        let mut raw = Vec::with_capacity(row * h as usize);
        for r in y as usize..(y + h) as usize {
            let start = r * stride + x as usize * 3;
            raw.extend_from_slice(&src[start..start + row]);
        }
        ImageBuffer::from_raw(w, h, raw).map(|img| Image { img })
    }

    pub fn set_color(&mut self, color: &[u8; 3]) {
        // TODO: optimize
        for y in 0..self.img.height() {
            for x in 0..self.img.width() {
                let c = *self.img.get_pixel(x, y);
                if c[0] == 0 {
                    // if red channel is 0 we assume it's a black pixel
                    let rgb = Rgb::<u8>(*color);
                    self.img.put_pixel(x, y, rgb);
                }
            }
        }
    }

    pub fn put_pixel(&mut self, x: u32, y: u32, p: Pixl) {
        if x < self.img.width() && y < self.img.height() {
            self.img.put_pixel(x, y, Rgb::<u8>(p.rgb));
        }
    }

    pub fn get_pixel(&self, x: u32, y: u32) -> Pixl {
        let p = *self.img.get_pixel(x, y);
        Pixl {
            rgb: [p[0], p[1], p[2]],
        }
    }

    pub fn width(&self) -> u32 {
        self.img.width()
    }

    pub fn height(&self) -> u32 {
        self.img.height()
    }

    pub fn save(&self, p: &Path) -> Result<()> {
        self.img.save(p)
    }

    pub fn fill_circle(&mut self, x: u32, y: u32, r: u32, p: Pixl) {
        let h = self.height();
        let w = self.width();

        for py in max(y as i32 - r as i32, 0)..min(y + r, h) as i32 {
            for px in max(x as i32 - r as i32, 0)..min(x + r, w) as i32 {
                let dy = y as i32 - py;
                let dx = x as i32 - px;
                let d = ((dy * dy + dx * dx) as f32).sqrt() as u32;
                if d <= r {
                    self.put_pixel(px as u32, py as u32, p);
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.img = Self::white(self.width(), self.height())
    }

    pub fn add_image(&mut self, x: u32, y: u32, i: &Image) {
        for iy in 0..i.height() {
            for ix in 0..i.width() {
                self.put_pixel(x + ix, y + iy, i.get_pixel(ix, iy));
            }
        }
    }

    /// Vendored (PATCHES.md): encoded with the `png` crate instead of lodepng's default
    /// settings. An image whose every pixel is gray (r == g == b: the default font and the black
    /// filters draw nothing else) is written as 8-bit grayscale, which decodes to the very same
    /// pixels with a third of the data to compress; any other as 8-bit RGB.
    pub fn as_png(&self) -> Option<Vec<u8>> {
        let raw = self.img.as_raw();
        let gray = raw.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]);
        if gray {
            let luma: Vec<u8> = raw.chunks_exact(3).map(|p| p[0]).collect();
            self.encode_png(&luma, png::ColorType::Grayscale)
        } else {
            self.encode_png(raw, png::ColorType::Rgb)
        }
    }

    fn encode_png(&self, data: &[u8], color: png::ColorType) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() / 2);
        {
            let mut e = png::Encoder::new(&mut out, self.img.width(), self.img.height());
            e.set_color(color);
            e.set_depth(png::BitDepth::Eight);
            e.set_compression(PNG_COMPRESSION);
            let mut w = e.write_header().ok()?;
            w.write_image_data(data).ok()?;
            w.finish().ok()?;
        }
        Some(out)
    }

    #[cfg(test)]
    pub fn raw(&self) -> &[u8] {
        self.img.as_raw()
    }
}

// Vendored (PATCHES.md): the PNG decodes to exactly the pixels drawn, gray or coloured.
#[cfg(test)]
mod tests {
    use images::{Image, Pixl};

    fn round_trip(i: &Image) -> Image {
        let png = i.as_png().expect("encoded");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let back = Image::from_png(png).expect("decoded");
        assert_eq!((back.width(), back.height()), (i.width(), i.height()));
        back
    }

    fn drawn(w: u32, h: u32) -> Image {
        let mut i = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 7 + y * 13) % 256) as u8;
                if (x + y) % 3 == 0 {
                    i.put_pixel(x, y, Pixl::new(v, v, v));
                }
            }
        }
        i
    }

    #[test]
    fn crop_copies_the_pixels_inside_and_only_those() {
        let i = drawn(50, 40);
        let c = i.crop(7, 5, 30, 20).expect("inside");
        assert_eq!((c.width(), c.height()), (30, 20));
        for y in 0..20 {
            for x in 0..30 {
                assert_eq!(c.get_pixel(x, y).rgb, i.get_pixel(x + 7, y + 5).rgb);
            }
        }
        assert!(i.crop(0, 0, 50, 40).is_some());
        assert!(i.crop(21, 0, 30, 20).is_none());
        assert!(i.crop(0, 21, 30, 20).is_none());
        assert!(i.crop(u32::MAX, 0, 2, 1).is_none());
    }

    #[test]
    fn gray_png_is_grayscale_and_lossless() {
        let i = drawn(160, 60);
        let png = i.as_png().unwrap();
        // IHDR's colour type (byte 25): 0 is grayscale.
        assert_eq!(png[25], 0);
        assert_eq!(round_trip(&i).raw(), i.raw());
    }

    #[test]
    fn coloured_png_is_rgb_and_lossless() {
        let mut i = drawn(160, 60);
        i.put_pixel(3, 4, Pixl::red());
        let png = i.as_png().unwrap();
        assert_eq!(png[25], 2);
        assert_eq!(round_trip(&i).raw(), i.raw());

        let mut c = drawn(50, 40);
        c.set_color(&[10, 200, 30]);
        assert_eq!(round_trip(&c).raw(), c.raw());
    }
}
