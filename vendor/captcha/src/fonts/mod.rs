use base64::Engine;
use images::Image;
use serde_json;
use std::collections::HashMap;
use std::sync::OnceLock;

pub trait Font {
    fn png_as_base64(&self, letter: char) -> Option<&String>;

    fn chars(&self) -> Vec<char>;

    /// Returns None if letter does not exist or if letter could not decoded.
    fn png(&self, letter: char) -> Option<Vec<u8>> {
        match self.png_as_base64(letter) {
            None => None,
            Some(s) => match base64::engine::general_purpose::STANDARD.decode(s) {
                Err(_) => None,
                Ok(v) => Some(v),
            },
        }
    }

    /// Returns the letter's glyph as an image, None if the letter does not exist or could not be
    /// decoded.
    ///
    /// Vendored (PATCHES.md): added so that a font can decode its glyphs once; this default
    /// decodes `png()` on every call, as upstream's `add_char` did.
    fn image(&self, letter: char) -> Option<Image> {
        self.png(letter).and_then(Image::from_png)
    }
}

/// One glyph of the default font: its PNG in base64, as in the JSON, and the decoded image, made
/// on first use.
struct Glyph {
    base64: String,
    image: OnceLock<Option<Image>>,
}

/// The default font, parsed once per process.
struct Glyphs {
    glyphs: HashMap<char, Glyph>,
    /// The letters, sorted: the same order for every CAPTCHA.
    chars: Vec<char>,
}

impl Glyphs {
    fn get() -> &'static Glyphs {
        static DEFAULT: OnceLock<Glyphs> = OnceLock::new();
        DEFAULT.get_or_init(|| {
            let json = include_str!("font_default.json");
            let data: HashMap<char, String> = serde_json::from_str(json).expect("invalid json");
            let mut chars: Vec<char> = data.keys().cloned().collect();
            chars.sort_unstable();
            let glyphs = data
                .into_iter()
                .map(|(c, base64)| {
                    let image = OnceLock::new();
                    (c, Glyph { base64, image })
                })
                .collect();
            Glyphs { glyphs, chars }
        })
    }
}

/// Vendored (PATCHES.md): upstream parsed the 49 KB JSON of the default font on every `new()`
/// (every CAPTCHA); now it is parsed on the first, and each glyph decoded on its first use.
pub struct Default {
    glyphs: &'static Glyphs,
}

impl Default {
    pub fn new() -> Default {
        Default {
            glyphs: Glyphs::get(),
        }
    }
}

impl Font for Default {
    fn png_as_base64(&self, letter: char) -> Option<&String> {
        self.glyphs.glyphs.get(&letter).map(|g| &g.base64)
    }

    fn chars(&self) -> Vec<char> {
        self.glyphs.chars.clone()
    }

    fn image(&self, letter: char) -> Option<Image> {
        let glyph = self.glyphs.glyphs.get(&letter)?;
        glyph
            .image
            .get_or_init(|| self.png(letter).and_then(Image::from_png))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use fonts::{Default, Font};
    use images::Image;

    #[test]
    fn fonts_default() {
        let f = Default::new();

        assert_eq!(f.chars().len(), 57);
        assert!(f.png_as_base64('a').is_some());
        assert!(f.png('a').is_some());
        for i in f.chars() {
            assert!(Image::from_png(f.png(i).unwrap()).is_some());
        }
    }

    // Vendored (PATCHES.md): the cached glyph is the glyph decoded afresh.
    #[test]
    fn cached_glyphs_are_the_decoded_pngs() {
        let f = Default::new();
        for c in f.chars() {
            let fresh = Image::from_png(f.png(c).unwrap()).unwrap();
            for _ in 0..2 {
                let cached = f.image(c).unwrap();
                assert_eq!(cached.raw(), fresh.raw(), "glyph {}", c);
            }
        }
        assert!(f.image('!').is_none());
    }
}
