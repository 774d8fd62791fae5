//! Drawing the image captcha (PNG) for a text we chose with a CSPRNG.

use captcha::RngCaptcha;
use captcha::filters::{Dots, Noise, Wave};

use crate::domain::ImageCodeText;

const WIDTH: u32 = 160;
const HEIGHT: u32 = 60;

/// PNG bytes showing `text`, or `None` if the renderer failed.
pub fn render_png(text: &ImageCodeText) -> Option<Vec<u8>> {
    let mut c = RngCaptcha::from_rng(rand::rng());
    // The crate draws a random character of its allowed set: allow exactly the one we want.
    for ch in text.chars() {
        c.set_chars(&[ch]).add_char();
    }
    if c.chars() != text.chars() {
        return None;
    }
    // Crop to the 160×60 view first, then distort: the filters touch every pixel and the crate
    // draws on a 400×300 canvas, so this is the same work on an eighth of the pixels (measured:
    // 1.36 ms → 0.63 ms a captcha; the vendored crate's faster PNG encoder and once-parsed font
    // then took it to ~0.1 ms: vendor/captcha/PATCHES.md). The wave's frequency counts periods
    // per image width: 16 over 400 px before, so 6.4 over 160 px now keeps the same 25 px waves.
    c.view(WIDTH, HEIGHT)
        .apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 16.0 * f64::from(WIDTH) / 400.0).horizontal())
        .apply_filter(Dots::new(6));
    c.as_png()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_of_every_alphabet_char() {
        for chunk in ImageCodeText::ALPHABET.chunks(4) {
            let text = ImageCodeText::from_stored(String::from_utf8(chunk.to_vec()).unwrap());
            let png = render_png(&text).expect("rendered");
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        }
    }

    #[test]
    fn renders_a_160_by_60_black_on_white_picture() {
        let text = ImageCodeText::from_stored("AB3D".to_owned());
        let png = render_png(&text).expect("rendered");
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).expect("decoded").to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // Gray levels only (the font's antialiasing, black noise and dots on white), both ink and
        // background present.
        assert!(img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        assert!(img.pixels().any(|p| p[0] == 0) && img.pixels().any(|p| p[0] == 255));
    }
}
