//! Time per captcha: `cargo bench -p ihome --bench captcha [-- N]` draws N captchas (3,000 by
//! default) through `render_png`, one at a time on this thread, and prints the median, p90 and
//! mean time per captcha and the mean PNG size. A plain loop: the number that matters is the CPU
//! one `GET /imagecode` spends drawing (vendor/captcha/PATCHES.md).

use std::hint::black_box;
use std::time::Instant;

use ihome::captcha::render_png;
use ihome::domain::ImageCodeText;

fn main() {
    // `cargo bench` passes `--bench`; the first plain number is N.
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3000);
    let texts: Vec<ImageCodeText> = (0..64).map(|_| ImageCodeText::generate()).collect();

    // Warm-up: the font is parsed and each glyph decoded on first use.
    for t in texts.iter().cycle().take(200) {
        black_box(render_png(t).expect("rendered"));
    }

    let mut micros = Vec::with_capacity(n);
    let mut bytes = 0usize;
    let all = Instant::now();
    for t in texts.iter().cycle().take(n) {
        let start = Instant::now();
        let png = black_box(render_png(t).expect("rendered"));
        micros.push(start.elapsed().as_secs_f64() * 1e6);
        bytes += png.len();
    }
    let mean = all.elapsed().as_secs_f64() * 1e6 / n as f64;
    micros.sort_by(f64::total_cmp);
    println!(
        "render_png, {n} captchas: median {:.1} µs, p90 {:.1} µs, mean {mean:.1} µs; PNG {} bytes on average",
        micros[n / 2],
        micros[n * 9 / 10],
        bytes / n
    );
}
