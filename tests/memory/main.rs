//! Memory, counted by this test binary's global allocator (bytes, not time, so nothing here
//! depends on the machine's load): what decoding an avatar really takes against what its header
//! let us promise, that a forged session buys no decode, and that uploads racing each other
//! decode a bounded number at a time.
//!
//! The tests share one counter, so each holds `EXCLUSIVE` for its whole run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use ihome::domain::AvatarImage;
use ihome_tests::{Part, TestApp};
use image::{DynamicImage, ImageFormat, RgbImage, Rgba, RgbaImage};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Both blocks may be live at once while realloc copies.
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Held for a whole test, across its awaits: an async mutex.
static EXCLUSIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bytes allocated at the highest point of `f`, above what was live when it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

async fn peak_of_async<T>(f: impl Future<Output = T>) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f.await;
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

const MB: f64 = 1024.0 * 1024.0;

fn pattern(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| image::Rgb([(x / 3) as u8, (y / 5) as u8, ((x + y) / 7) as u8]))
}

/// Compresses to almost nothing, so what a test counts is pixels, not the upload's copies.
fn flat(width: u32, height: u32) -> RgbImage {
    RgbImage::from_pixel(width, height, image::Rgb([200, 120, 40]))
}

fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/memory/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect(name)
}

/// Every decoder the avatar route runs, on images large enough that per-pixel buffers dominate:
/// the real peak stays under what `ImageHeader::decode_bytes` promised from the header alone.
#[test]
fn decoding_takes_no_more_memory_than_the_header_promised() {
    let _one = EXCLUSIVE.blocking_lock();
    let rgba16 = DynamicImage::ImageRgba16(image::ImageBuffer::from_fn(1200, 900, |x, y| {
        Rgba([(x * 50) as u16, (y * 70) as u16, 4000, 65535 - (x * 9) as u16])
    }));
    let gif = DynamicImage::ImageRgba8(RgbaImage::from_fn(600, 400, |x, y| {
        Rgba([(x / 3) as u8, (y / 2) as u8, 90, if (x + y) % 7 == 0 { 0 } else { 255 }])
    }));
    let samples = [
        ("baseline JPEG 1600×1200", encode(pattern(1600, 1200).into(), ImageFormat::Jpeg)),
        ("progressive JPEG 1600×1200", fixture("progressive-1600x1200.jpg")),
        ("PNG RGB8 1600×1200", encode(pattern(1600, 1200).into(), ImageFormat::Png)),
        ("PNG RGBA16 1200×900", encode(rgba16, ImageFormat::Png)),
        ("GIF 600×400", encode(gif, ImageFormat::Gif)),
        ("WebP lossless 1600×1200", encode(pattern(1600, 1200).into(), ImageFormat::WebP)),
        ("WebP lossy 1600×1200", fixture("lossy-1600x1200.webp")),
        ("WebP lossy+alpha 1600×1200", fixture("lossy-alpha-1600x1200.webp")),
    ];
    let mut over = Vec::new();
    for (name, bytes) in samples {
        let header = AvatarImage::header(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (parsed, peak) = peak_of(|| AvatarImage::parse(bytes));
        parsed.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let promised = header.decode_bytes();
        let pixels = f64::from(header.width) * f64::from(header.height);
        println!(
            "{name}: peak {:.1} MB ({:.2} B/pixel), promised {:.1} MB",
            peak as f64 / MB,
            peak as f64 / pixels,
            promised as f64 / MB
        );
        if peak as u64 > promised {
            over.push(format!("{name}: {peak} > {promised}"));
        }
    }
    assert!(over.is_empty(), "decoders took more than promised: {over:?}");
}

const AVATAR: &str = "/api/v1.0/user/avatar";

fn upload(bytes: &[u8]) -> [Part<'_>; 1] {
    [Part { name: "avatar", filename: Some("a.png"), content_type: "image/png", data: bytes }]
}

/// Hostile testing: a well-formed but forged session token made the route decode the upload
/// while it looked the session up. Now nothing is decoded before the caller is known.
#[tokio::test]
async fn a_forged_session_buys_no_decode() {
    let _one = EXCLUSIVE.lock().await;
    let t = TestApp::spawn().await;
    let mut c = t.client();
    // A flat 6000×5000 picture: a small file that decodes to 90 MB, within the budget, so only
    // the missing session refuses it.
    let png = encode(flat(6000, 5000).into(), ImageFormat::Png);
    assert!(AvatarImage::header(&png).unwrap().decode_bytes() <= AvatarImage::MAX_DECODE_BYTES);
    c.set_cookie("session", &format!("1234567.{}", "A".repeat(43)));
    let (r, peak) = peak_of_async(c.post_multipart(AVATAR, &upload(&png))).await;
    r.assert("4101", "用户未登录");
    println!("forged session: peak {:.1} MB for a {:.1} MB upload", peak as f64 / MB, png.len() as f64 / MB);
    // The body is held (a few copies of it, as multipart parts), never its pixels.
    assert!(peak < 8 * png.len() + (8 << 20), "peak {peak} B for a {} B upload: it was decoded", png.len());
}

/// Six users upload a 4000×4000 PNG (48 MB of pixels) at once: at most two decodes run at a time, so memory stays
/// at two decodes' worth, not six.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_decode_two_at_a_time() {
    let _one = EXCLUSIVE.lock().await;
    let t = TestApp::spawn().await;
    let png = encode(flat(4000, 4000).into(), ImageFormat::Png);
    let one_decode = AvatarImage::header(&png).unwrap().decode_bytes() as usize;
    let mut users = Vec::new();
    for _ in 0..6 {
        users.push(t.registered_user().await.0);
    }
    let parts = upload(&png);
    let uploads = users.iter_mut().map(|c| c.post_multipart(AVATAR, &parts));
    let (answers, peak) = peak_of_async(futures_util::future::join_all(uploads)).await;
    for r in answers {
        r.assert("0", "OK");
    }
    println!("6 racing uploads: peak {:.1} MB, one decode {:.1} MB", peak as f64 / MB, one_decode as f64 / MB);
    // Two decodes and the requests' own buffers; a third decode at once would pass 3×.
    assert!(peak < 3 * one_decode, "peak {peak} B: more than two decodes at once");
}
