//! AMX micro-kernel: the f32 product as six bf16 tile products ("bf16x3").
//!
//! Every f32 value is split exactly into three bf16 values, each rounded to nearest-even from what the
//! previous ones left:
//! ```text
//! x = x₀ + x₁ + x₂,   x₀ = bf16(x),  x₁ = bf16(x − x₀),  x₂ = x − x₀ − x₁   (|x₁| ≤ 2⁻⁸|x|, |x₂| ≤ 2⁻¹⁶|x|)
//! ```
//! (three 8-bit significands hold the 24 of an f32, so the split is exact for |x| ≥ 2⁻¹⁰³, where no part
//! is subnormal; test `split_is_exact_and_ordered`). The rounding is `VCVTNEPS2BF16`'s, which turns
//! subnormal values into zeros, as `TDPBF16PS` reads them anyway: below 2⁻¹⁰³ a part under 2⁻¹²⁶ is lost. The product keeps the six terms down to order 2⁻¹⁶:
//! ```text
//! a·b ≈ a₂b₀ + a₁b₁ + a₀b₂ + a₁b₀ + a₀b₁ + a₀b₀     (dropped: a₁b₂ + a₂b₁ + a₂b₂, at most ≈ 2⁻²³·|a·b|)
//! ```
//! `TDPBF16PS` multiplies bf16 pairs exactly and accumulates in f32, so each element carries about the
//! error of an f32 dot product (test `amx_error_is_that_of_f32`, against f64); the bits differ from the
//! FMA kernels, which round once per term. The instruction reads subnormal inputs as zero and flushes
//! subnormal results.
//!
//! Tiles: C in `tmm0`/`tmm1` (16 rows × two 16-column tiles), A₀, A₁, A₂ in `tmm2`–`tmm4` (16 rows × 32
//! k), B₀, B₁, B₂ in `tmm5`–`tmm7` (32 k as 16 pairs × 16 columns). B is packed once per pass from its
//! f32 panels ([`pack_tiles`]); A is split per call, 16 rows and at most [`SEG_CHUNKS`]·32 k at a time,
//! into a stack buffer. The `t = k mod 32` values after the last full chunk go into [`tail_tiles`], which
//! hold the six part products of up to five values side by side: the paper's 34 MFCC inputs take seven
//! tile products per 16 × 16 block instead of twelve for a zero-padded second chunk (an AVX-512 FMA pass
//! for the tail, used until session 12, cost as much as the tiles at 64 × 34 × 512). The tiles of A and
//! B are 64-byte aligned (a tile row
//! across two cache lines ran the kernel at a third of its speed); C is read and written where the caller
//! keeps it, once per 16 × 32 block and segment.
//!
//! Speed on this project's Xeon: one `TDPBF16PS` (16·16·32 multiply-adds) issues every 4.4–5.2 ns per
//! core, 3.2–3.6 TFLOP/s in bf16, so six per f32 product make an f32-equivalent peak of 530–600 GFLOP/s
//! per core, against 226 for AVX-512 FMAs. Products into the same accumulator issue just as fast (a C
//! prototype: 4.6 ns each in a chain of one accumulator, 4.4 with four). The step product
//! `[16×128]·[128×512]` runs at 400–440 GFLOP/s on one thread (`cargo xtask bench-lstm`, "step product
//! alone"; session 11: 264–309, the AVX-512 FMA kernel 158–180). What session 12 removed: C tiles
//! through a stack buffer and vector adds (each wait on a tile store), C tiles straddling cache lines,
//! six instructions per bf16 rounding where `VCVTNEPS2BF16` does it in one, tile loads waiting for the
//! products still reading their register (now software pipelined), and the FMA pass for the k tail.
use std::arch::asm;
use std::arch::x86_64::*;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// Rows of a tile (rows of A and C per block).
const TILE_ROWS: usize = 16;
/// k values per tile of A (16 pairs of bf16 per row of B).
const TILE_K: usize = 32;
/// Columns of a C tile.
const TILE_COLS: usize = 16;
/// bf16 values in one tile.
const TILE_VALUES: usize = TILE_ROWS * TILE_K;
/// Bytes in one tile (1 KB): the distance between B₀, B₁, B₂ of a column tile in the packed weights.
const TILE_BYTES: usize = 2 * TILE_VALUES;
/// The six part products kept, as (part of A, part of B); a tail tile holds them side by side.
const COMBOS: [(usize, usize); 6] = [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0)];
/// Most tail tiles: a tail of up to 31 k values, six slots each.
const MAX_TAIL_TILES: usize = (COMBOS.len() * (TILE_K - 1)).div_ceil(TILE_K);
/// k chunks of A split per pass over the columns of C (a 24 KB stack buffer).
const SEG_CHUNKS: usize = 8;
/// bf16 values of the split buffer: three parts of 16 rows × [`SEG_CHUNKS`]·32.
const SPLIT_VALUES: usize = 3 * TILE_ROWS * SEG_CHUNKS * TILE_K;

/// Whether this CPU and OS run the AMX kernel: CPUID reports AMX-TILE, AMX-BF16 and AVX512-BF16 (every
/// CPU with AMX-BF16 so far has it), and Linux grants
/// this process the tile data state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`). Asked
/// once per process.
pub(super) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| cpu_has_amx_bf16() && os_grants_tile_data())
}

fn cpu_has_amx_bf16() -> bool {
    // SAFETY: CPUID exists on every x86-64 CPU; leaf 7 is valid when leaf 0 reports it. (Safe to call
    // in newer Rust, hence the allow.)
    #[allow(unused_unsafe)]
    let (max_leaf, leaf7, leaf7_1) =
        unsafe { (__cpuid(0).eax, __cpuid_count(7, 0), __cpuid_count(7, 1)) };
    const AMX_BF16: u32 = 1 << 22;
    const AMX_TILE: u32 = 1 << 24;
    // Leaf 7 subleaf 1, EAX: `VCVTNEPS2BF16` for the split.
    const AVX512_BF16: u32 = 1 << 5;
    max_leaf >= 7
        && leaf7.edx & AMX_TILE != 0
        && leaf7.edx & AMX_BF16 != 0
        && leaf7_1.eax & AVX512_BF16 != 0
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

#[cfg(target_os = "linux")]
fn os_grants_tile_data() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with ARCH_REQ_XCOMP_PERM only reads its integer arguments; it fails with an
    // error code (and changes nothing) on kernels or CPUs without AMX.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn os_grants_tile_data() -> bool {
    false
}

/// The three bf16 parts of `x` (bit patterns), `x = x₀ + x₁ + x₂` exactly for |x| ≥ 2⁻¹⁰³ (below, a part
/// under 2⁻¹²⁶ would be subnormal and becomes zero, which `TDPBF16PS` would read it as anyway: an
/// absolute error under 2⁻¹²⁶). Scalar reference of the vector split ([`split3_lanes`]; test
/// `lane_split_equals_scalar_split`).
#[cfg_attr(not(test), allow(dead_code))]
fn split_bf16x3(x: f32) -> [u16; 3] {
    let x0 = round_to_bf16(x);
    let rest = x - f32::from_bits(u32::from(x0) << 16);
    let x1 = round_to_bf16(rest);
    let x2 = round_to_bf16(rest - f32::from_bits(u32::from(x1) << 16));
    [x0, x1, x2]
}

/// bf16 bit pattern nearest to `x` (ties to even), as `VCVTNEPS2BF16` rounds: NaN stays NaN (made
/// quiet), a subnormal `x` becomes a zero of its sign.
#[cfg_attr(not(test), allow(dead_code))]
fn round_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    if x.is_subnormal() {
        return ((bits >> 16) & 0x8000) as u16;
    }
    (bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) >> 16) as u16
}

/// One 64-byte tile row (32 bf16), aligned so that no tile row straddles two cache lines.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct TileLine(pub [u16; TILE_K]);

/// Packs `B` (k × n) as bf16x3 tiles, zero padded: first the full chunks of 32 k,
/// `[k/32][⌈n/16⌉][part 0..3][16 pairs][16 cols][2]`, the pair `(B[32c + 2r][j], B[32c + 2r + 1][j])`
/// at row r of chunk c, as `TDPBF16PS` reads its second source; then the [`tail_tiles`] of the last
/// `t = k mod 32` values, `[tail tile][⌈n/16⌉][16 pairs][16 cols][2]`. Slot `s` of a tail tile's k
/// axis (`s = 2r + e` in row r) holds combination `s mod 6` ([`COMBOS`]) of tail value `s div 6`: the
/// B part of `(a part, b part)`. With A's tail laid out the same way ([`split_tail_rows`]), one tile
/// product adds all six part products of five tail values, where a zero-padded chunk took six.
/// Reads B from its f32 panels `[⌈n/16⌉][k][16]` (zero past n), see `PackedPanels`.
///
/// # Panics
/// If `panels` holds fewer than ⌈n/16⌉·k·16 values, or AMX is not [`available`].
pub(super) fn pack_tiles(k: usize, n: usize, panels: &[f32], out: &mut Vec<TileLine>) {
    let col_tiles = n.div_ceil(TILE_COLS);
    assert!(
        panels.len() >= col_tiles * k * TILE_COLS,
        "pack_tiles: panels too short"
    );
    assert!(available(), "pack_tiles: AMX not available");
    out.clear();
    out.resize(tile_lines(k, n), TileLine::default());
    // SAFETY: `available` includes AVX-512F; the extents were checked above.
    unsafe { pack_tiles_avx512(k, col_tiles, panels.as_ptr(), out) };
}

/// 64-byte lines of the tiles of a `[k × n]` matrix ([`pack_tiles`]).
pub(super) fn tile_lines(k: usize, n: usize) -> usize {
    (3 * full_chunks(k) + tail_tiles(k)) * n.div_ceil(TILE_COLS) * TILE_ROWS
}

/// Full chunks of 32 k values.
pub(super) fn full_chunks(k: usize) -> usize {
    k / TILE_K
}

/// Tiles holding the six part products of the last `t = k mod 32` values side by side: ⌈6t/32⌉
/// (one for the paper's 34 MFCC inputs, where a zero-padded chunk would take six products).
pub(super) fn tail_tiles(k: usize) -> usize {
    (COMBOS.len() * (k % TILE_K)).div_ceil(TILE_K)
}

/// Tail value and part of slot `slot` of a tail tile's k axis, for the `side` (0: A, 1: B), or `None`
/// for a padding slot past `6·tail`.
fn tail_slot(slot: usize, tail: usize, side: usize) -> Option<(usize, usize)> {
    let (value, combo) = (slot / COMBOS.len(), slot % COMBOS.len());
    (value < tail).then(|| {
        let (a_part, b_part) = COMBOS[combo];
        (value, if side == 0 { a_part } else { b_part })
    })
}

/// [`pack_tiles`] after its checks.
///
/// # Safety
/// AVX-512F; `panels` valid for `col_tiles·k·16` values; `out` holds [`tile_lines`] lines.
#[target_feature(enable = "avx512f")]
unsafe fn pack_tiles_avx512(k: usize, col_tiles: usize, panels: *const f32, out: &mut [TileLine]) {
    let chunks = full_chunks(k);
    // Row kk < k of a column tile's panel.
    let row = |tile: usize, kk: usize| {
        // SAFETY: kk < k and tile < col_tiles: inside the panels (caller contract).
        unsafe { _mm512_loadu_ps(panels.add((tile * k + kk) * TILE_COLS)) }
    };
    for chunk in 0..chunks {
        for tile in 0..col_tiles {
            let base = (chunk * col_tiles + tile) * 3 * TILE_ROWS;
            for pair in 0..TILE_K / 2 {
                let kk = chunk * TILE_K + 2 * pair;
                let parts = split_pair(row(tile, kk), row(tile, kk + 1));
                for (part, line) in parts.into_iter().enumerate() {
                    // SAFETY: a TileLine is 64 aligned bytes; the index is below 3·chunks·col_tiles·16.
                    unsafe {
                        _mm512_store_si512(
                            out[base + part * TILE_ROWS + pair].0.as_mut_ptr().cast(),
                            line,
                        )
                    };
                }
            }
        }
    }
    let (k0, tail) = (chunks * TILE_K, k % TILE_K);
    let tail_base = 3 * chunks * col_tiles * TILE_ROWS;
    for tile in 0..col_tiles {
        // The three parts of each tail value's 16 columns.
        let mut parts = [[_mm256_setzero_si256(); 3]; TILE_K];
        for (value, p) in parts.iter_mut().enumerate().take(tail) {
            *p = split3_lanes(row(tile, k0 + value));
        }
        for q in 0..tail_tiles(k) {
            for pair in 0..TILE_K / 2 {
                let slot = |e: usize| match tail_slot(q * TILE_K + 2 * pair + e, tail, 1) {
                    Some((value, part)) => _mm512_cvtepu16_epi32(parts[value][part]),
                    None => _mm512_setzero_si512(),
                };
                let line = _mm512_or_si512(slot(0), _mm512_slli_epi32::<16>(slot(1)));
                let at = tail_base + (q * col_tiles + tile) * TILE_ROWS + pair;
                // SAFETY: a TileLine is 64 aligned bytes; `at` is below `tile_lines(k, n)`.
                unsafe { _mm512_store_si512(out[at].0.as_mut_ptr().cast(), line) };
            }
        }
    }
}

/// One tile row of each of the three parts from 16 columns of two consecutive k: u16 `2j` holds the
/// part of `even[j]`, `2j + 1` that of `odd[j]` ([`split_bf16x3`] per value).
#[target_feature(enable = "avx512f")]
#[inline]
fn split_pair(even: __m512, odd: __m512) -> [__m512i; 3] {
    let (even, odd) = (split3_lanes(even), split3_lanes(odd));
    std::array::from_fn(|part| {
        _mm512_or_si512(
            _mm512_cvtepu16_epi32(even[part]),
            _mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(odd[part])),
        )
    })
}

/// `ldtilecfg` operand: palette 1, eight tiles of 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn all_full() -> Self {
        let mut bytes = [0u8; 64];
        bytes[0] = 1;
        for tile in 0..8 {
            bytes[16 + 2 * tile] = 64;
            bytes[48 + tile] = TILE_ROWS as u8;
        }
        TileConfig(bytes)
    }
}

/// Loads [`TileConfig::all_full`] unless this thread already did. Only this kernel uses tiles in this
/// process, Linux keeps the configuration across context switches, and `ldtilecfg` costs about as much as
/// the whole product at H = 32, so once per thread is enough.
///
/// # Safety
/// AMX usable (see [`available`]).
unsafe fn configure_tiles() {
    thread_local!(static CONFIGURED: Cell<bool> = const { Cell::new(false) });
    if !CONFIGURED.with(|configured| configured.replace(true)) {
        let config = TileConfig::all_full();
        // SAFETY: a valid palette-1 configuration; the caller guarantees AMX is usable.
        unsafe { asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack, readonly)) };
    }
}

/// The split rows of A, 64-byte aligned so that every tile row is one cache line (a tile load across
/// lines ran the kernel at a third of its speed).
#[repr(C, align(64))]
struct SplitBuffer([u16; SPLIT_VALUES]);

/// The tail of A's rows in tail-tile layout `[tail tile][16 rows][32 slots]` ([`split_tail_rows`]).
#[repr(C, align(64))]
struct TailBuffer([u16; MAX_TAIL_TILES * TILE_VALUES]);

/// One C tile as stored from `tmm0`/`tmm1`, 64-byte aligned.
#[repr(C, align(64))]
struct CTile([f32; TILE_ROWS * TILE_COLS]);

/// `C[m×n] = A·B` (`overwrite`) or `C += A·B` with B packed by [`pack_tiles`], one split segment of k
/// (≤ 256 values, the last one with the tail tiles) at a time. A whole 16 × 16 tile of C stays in the
/// tile registers: loaded from C when adding (else zeroed), it takes the segment's products and is
/// stored straight back. Tiles at a partial edge start from zero, go through a stack buffer and are
/// then written to C or added to it. (Adding through the buffer made the step product wait for each
/// tile store: 9–17 % slower at H = 64–128.)
///
/// # Safety
/// Requires [`available`] (AMX-TILE, AMX-BF16, AVX512-BF16, AVX-512F, tile state granted); `a` valid
/// for m rows of stride lda with k values, `tiles` for the [`tile_lines`]`(k, n)` lines of
/// [`pack_tiles`], `c` for m rows of stride ldc with n values.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn matmul(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    lda: usize,
    tiles: *const u16,
    c: *mut f32,
    ldc: usize,
    overwrite: bool,
) {
    let (chunks, tails, col_tiles) = (full_chunks(k), tail_tiles(k), n.div_ceil(TILE_COLS));
    let segments = chunks.div_ceil(SEG_CHUNKS).max(1);
    let tail_b = tiles.wrapping_add(3 * chunks * col_tiles * TILE_VALUES);
    // SAFETY: the caller guarantees AMX is usable.
    unsafe { configure_tiles() };
    // Written in full by `split_rows`/`split_tail_rows` before any tile load reads them, and by
    // `tilestored` before it is read: zeroing them per call cost more than the products at H = 32.
    let mut split_buffer = MaybeUninit::<SplitBuffer>::uninit();
    let split = split_buffer.as_mut_ptr().cast::<u16>();
    let mut tail_buffer = MaybeUninit::<TailBuffer>::uninit();
    let tail_a = tail_buffer.as_mut_ptr().cast::<u16>();
    let mut c_tiles = MaybeUninit::<[CTile; 2]>::uninit();
    let c_tiles = c_tiles.as_mut_ptr().cast::<f32>();
    let mut r0 = 0;
    while r0 < m {
        let rows = (m - r0).min(TILE_ROWS);
        if tails > 0 {
            // SAFETY: rows r0..r0+rows and the tail's k values lie inside A; `tail_a` holds
            // MAX_TAIL_TILES ≥ tails tiles; `available` includes AVX-512BW.
            unsafe { split_tail_rows(a.add(r0 * lda), lda, rows, k, tail_a) };
        }
        for segment in 0..segments {
            let first_chunk = segment * SEG_CHUNKS;
            let seg_chunks = chunks.saturating_sub(first_chunk).min(SEG_CHUNKS);
            let seg_k = seg_chunks * TILE_K;
            let last_segment = segment + 1 == segments;
            if seg_chunks > 0 {
                // SAFETY: rows r0..r0+rows and k values first_chunk·32.. lie inside A (caller
                // contract); 3·16·seg_k ≤ SPLIT_VALUES.
                unsafe {
                    split_rows(
                        a.add(r0 * lda + first_chunk * TILE_K),
                        lda,
                        rows,
                        seg_k,
                        split,
                    );
                }
            }
            let add_to_c = segment > 0 || !overwrite;
            let mut tile = 0;
            while tile < col_tiles {
                let pair = (col_tiles - tile).min(2);
                // C's tiles go straight through the tile registers when they are whole; otherwise via
                // `c_tiles` and vector adds.
                let direct = rows == TILE_ROWS && (tile + pair) * TILE_COLS <= n;
                let c_at = c.wrapping_add(r0 * ldc + tile * TILE_COLS);
                // SAFETY: `split` holds seg_chunks chunks of 16 rows and `tail_a` the tail tiles; the B
                // tiles of chunks first_chunk.. and of the tail, column tiles tile..tile+pair, exist by
                // `pack_tiles`; `c_tiles` holds two aligned 16 × 16 tiles; a direct block lies in C.
                unsafe {
                    if direct && add_to_c {
                        asm!(
                            "tileloadd tmm0, [{c0} + {s}*1]",
                            "tileloadd tmm1, [{c0} + {s}*1 + {next}]",
                            c0 = in(reg) c_at,
                            s = in(reg) ldc * 4,
                            next = const TILE_COLS * 4,
                            options(nostack, readonly),
                        );
                    } else {
                        asm!("tilezero tmm0", "tilezero tmm1", options(nostack, nomem));
                    }
                    let b_tiles = tiles.add((first_chunk * col_tiles + tile) * 3 * TILE_VALUES);
                    let b_chunk_stride = col_tiles * 3 * TILE_VALUES;
                    if pair == 2 {
                        if seg_chunks > 0 {
                            products_pair_segment(
                                split,
                                seg_k,
                                b_tiles,
                                b_chunk_stride,
                                seg_chunks,
                            );
                        }
                        if last_segment {
                            for q in 0..tails {
                                tail_products(
                                    tail_a.add(q * TILE_VALUES),
                                    tail_b.add((q * col_tiles + tile) * TILE_VALUES),
                                    true,
                                );
                            }
                        }
                    } else {
                        for chunk in 0..seg_chunks {
                            load_a_chunk(split, seg_k, chunk);
                            products_single(b_tiles.add(chunk * b_chunk_stride));
                        }
                        if last_segment {
                            for q in 0..tails {
                                tail_products(
                                    tail_a.add(q * TILE_VALUES),
                                    tail_b.add((q * col_tiles + tile) * TILE_VALUES),
                                    false,
                                );
                            }
                        }
                    }
                    if direct {
                        if pair == 2 {
                            asm!(
                                "tilestored [{c0} + {s}*1], tmm0",
                                "tilestored [{c0} + {s}*1 + {next}], tmm1",
                                c0 = in(reg) c_at,
                                s = in(reg) ldc * 4,
                                next = const TILE_COLS * 4,
                                options(nostack),
                            );
                        } else {
                            asm!(
                                "tilestored [{c0} + {s}*1], tmm0",
                                c0 = in(reg) c_at,
                                s = in(reg) ldc * 4,
                                options(nostack),
                            );
                        }
                        tile += pair;
                        continue;
                    }
                    asm!(
                        "tilestored [{t0} + {s}*1], tmm0",
                        "tilestored [{t1} + {s}*1], tmm1",
                        t0 = in(reg) c_tiles,
                        t1 = in(reg) c_tiles.add(TILE_ROWS * TILE_COLS),
                        s = in(reg) TILE_COLS * 4,
                        options(nostack),
                    );
                }
                for q in 0..pair {
                    let col = (tile + q) * TILE_COLS;
                    let width = (n - col).min(TILE_COLS);
                    let mask: __mmask16 = if width == TILE_COLS {
                        0xFFFF
                    } else {
                        (1u16 << width) - 1
                    };
                    for r in 0..rows {
                        // SAFETY: tile q row r lies in `c_tiles`; row r0 + r < m and the `width`
                        // columns from `col` < n lie inside C (the mask limits the access to them).
                        unsafe {
                            let sum = _mm512_load_ps(c_tiles.add((q * TILE_ROWS + r) * TILE_COLS));
                            let at = c.add((r0 + r) * ldc + col);
                            let out = if add_to_c {
                                _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), sum)
                            } else {
                                sum
                            };
                            _mm512_mask_storeu_ps(at, mask, out);
                        }
                    }
                }
                tile += pair;
            }
        }
        r0 += rows;
    }
}

/// Adds one tail tile's products: `tmm0 += A_tail·B_tail` of the first column tile and, with `pair`,
/// `tmm1 +=` that of the second (its B tile one column tile further on).
///
/// # Safety
/// AMX usable, tiles configured; `a` one tail tile of A (`[16][32]`, 64-byte aligned), `b` the first
/// column tile's tail tile (and, with `pair`, the next one's right after it).
#[inline(always)]
unsafe fn tail_products(a: *const u16, b: *const u16, pair: bool) {
    // SAFETY: see the function's contract.
    unsafe {
        if pair {
            asm!(
                "tileloadd tmm2, [{a} + {s}*1]",
                "tileloadd tmm5, [{b} + {s}*1]",
                "tileloadd tmm6, [{b} + {s}*1 + {next}]",
                "tdpbf16ps tmm0, tmm2, tmm5",
                "tdpbf16ps tmm1, tmm2, tmm6",
                a = in(reg) a,
                b = in(reg) b,
                s = in(reg) TILE_K * 2,
                next = const TILE_BYTES,
                options(nostack, readonly),
            );
        } else {
            asm!(
                "tileloadd tmm2, [{a} + {s}*1]",
                "tileloadd tmm5, [{b} + {s}*1]",
                "tdpbf16ps tmm0, tmm2, tmm5",
                a = in(reg) a,
                b = in(reg) b,
                s = in(reg) TILE_K * 2,
                options(nostack, readonly),
            );
        }
    }
}

/// Lays out the tail `A[r][k0..k]` (`k0 = 32·⌊k/32⌋`) of `rows` rows as [`tail_tiles`]`(k)` tiles of
/// 16 rows × 32 slots, slot `s` holding the A part of combination `s mod 6` of tail value `s div 6` (as
/// [`pack_tiles`] lays out B's), zero padded to 16 rows and to whole tiles. One `vpermt2w` per row and
/// tile gathers the slots from the split parts.
///
/// # Safety
/// AVX-512F and AVX-512BW; `a` valid for `rows` rows of stride `lda` and k values; `out` for
/// `tail_tiles(k)·512` writes, 64-byte aligned.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn split_tail_rows(a: *const f32, lda: usize, rows: usize, k: usize, out: *mut u16) {
    let (k0, tail, tiles) = (full_chunks(k) * TILE_K, k % TILE_K, tail_tiles(k));
    // Word index of each slot in the 64 words (A₀ of values 0..16, A₁ of 0..16 | A₂ of 0..16, A₀ of
    // 16..32) and which slots are real; past 16 values A₁ and A₂ come from a second such pair.
    let mut index = [[[0u16; TILE_K]; MAX_TAIL_TILES]; 2];
    let mut real = [[0u32; MAX_TAIL_TILES]; 2];
    for q in 0..tiles {
        for slot in 0..TILE_K {
            if let Some((value, part)) = tail_slot(q * TILE_K + slot, tail, 0) {
                let (high, v) = (value / 16, value % 16);
                index[high][q][slot] = [v, 16 + v, 32 + v][part] as u16;
                real[high][q] |= 1 << slot;
            }
        }
    }
    let halves = tail.div_ceil(16);
    for r in 0..TILE_ROWS {
        let mut words = [[_mm512_setzero_si512(); 2]; 2];
        if r < rows {
            for (half, w) in words.iter_mut().enumerate().take(halves) {
                let width = (tail - 16 * half).min(16);
                let mask: __mmask16 = if width == 16 {
                    0xFFFF
                } else {
                    (1u16 << width) - 1
                };
                // SAFETY: the mask limits the load to the row's tail values.
                let x = unsafe { _mm512_maskz_loadu_ps(mask, a.add(r * lda + k0 + 16 * half)) };
                let [p0, p1, p2] = split3_lanes(x);
                *w = [
                    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(p0), p1),
                    _mm512_castsi256_si512(p2),
                ];
            }
        }
        for q in 0..tiles {
            let mut line = _mm512_setzero_si512();
            for (high, w) in words.iter().enumerate().take(halves.max(1)) {
                // SAFETY: `index[high][q]` holds 32 words.
                let idx = unsafe { _mm512_loadu_si512(index[high][q].as_ptr().cast()) };
                let gathered = _mm512_maskz_permutex2var_epi16(real[high][q], w[0], idx, w[1]);
                line = _mm512_or_si512(line, gathered);
            }
            // SAFETY: q < tiles, r < 16: one aligned 64-byte row of the tail tiles.
            unsafe { _mm512_store_si512(out.add(q * TILE_VALUES + r * TILE_K).cast(), line) };
        }
    }
}

/// Loads chunk `chunk` of the split A (`[3][16][seg_k]` bf16) into `tmm2`–`tmm4` (A₀, A₁, A₂).
///
/// # Safety
/// AMX usable, tiles configured; `split` holds three `[16][seg_k]` parts with chunk < seg_k / 32.
#[inline(always)]
unsafe fn load_a_chunk(split: *const u16, seg_k: usize, chunk: usize) {
    // SAFETY: see the function's contract.
    unsafe {
        let a_tiles = split.add(chunk * TILE_K);
        asm!(
            "tileloadd tmm2, [{a0} + {s}*1]",
            "tileloadd tmm3, [{a1} + {s}*1]",
            "tileloadd tmm4, [{a2} + {s}*1]",
            a0 = in(reg) a_tiles,
            a1 = in(reg) a_tiles.add(TILE_ROWS * seg_k),
            a2 = in(reg) a_tiles.add(2 * TILE_ROWS * seg_k),
            s = in(reg) seg_k * 2,
            options(nostack, readonly),
        );
    }
}

/// Adds the six products of two adjacent column tiles over `chunks` k chunks into `tmm0` and `tmm1`,
/// per chunk and accumulator in the order `A₂B₀, A₁B₀, A₀B₀, A₁B₁, A₀B₁, A₀B₂` (smallest terms first),
/// alternating between the two accumulators so that no product waits for the one before it. (C0 then
/// C1, six products each, ran the step product 1.4× slower.)
///
/// Software pipelined: tile registers are not renamed, so a load into a register waits until the
/// products reading it have run. Each load is therefore placed right after the last product that reads
/// its register, and the next chunk's A₂, A₁, B₀ and A₀ are loaded while this chunk's last products
/// run: 4–12 % faster than loading each chunk's tiles just before its products (C prototype, H = 32–128).
/// Registers: A₀, A₁, A₂ in `tmm2`–`tmm4`; B in `tmm5`–`tmm7`.
///
/// # Safety
/// AMX usable, tiles configured; `split` as for [`load_a_chunk`] with `chunks ≤ seg_k / 32`; `b` the
/// first chunk's B₀, B₁, B₂ of the first tile then of the second (64-byte aligned), and chunk c's at
/// `b + c·b_chunk_stride` values.
#[inline(always)]
unsafe fn products_pair_segment(
    split: *const u16,
    seg_k: usize,
    b: *const u16,
    b_chunk_stride: usize,
    chunks: usize,
) {
    // SAFETY: see the function's contract; every pointer below addresses a chunk < `chunks`.
    unsafe {
        load_a_chunk(split, seg_k, 0);
        asm!(
            "tileloadd tmm5, [{b} + {s}*1]",
            "tileloadd tmm6, [{b} + {s}*1 + {second}]",
            b = in(reg) b,
            s = in(reg) TILE_K * 2,
            second = const 3 * TILE_BYTES,
            options(nostack, readonly),
        );
        for chunk in 0..chunks {
            let b_now = b.add(chunk * b_chunk_stride);
            if chunk + 1 < chunks {
                let a_next = split.add((chunk + 1) * TILE_K);
                asm!(
                    "tdpbf16ps tmm0, tmm4, tmm5",
                    "tdpbf16ps tmm1, tmm4, tmm6",
                    "tileloadd tmm7, [{b} + {s}*1 + {part1}]",
                    "tdpbf16ps tmm0, tmm3, tmm5",
                    "tdpbf16ps tmm1, tmm3, tmm6",
                    "tileloadd tmm4, [{a2} + {as}*1]",
                    "tdpbf16ps tmm0, tmm2, tmm5",
                    "tdpbf16ps tmm1, tmm2, tmm6",
                    "tileloadd tmm5, [{b} + {s}*1 + {second} + {part1}]",
                    "tdpbf16ps tmm0, tmm3, tmm7",
                    "tdpbf16ps tmm0, tmm2, tmm7",
                    "tileloadd tmm6, [{b} + {s}*1 + {part2}]",
                    "tdpbf16ps tmm1, tmm3, tmm5",
                    "tileloadd tmm3, [{a1} + {as}*1]",
                    "tdpbf16ps tmm1, tmm2, tmm5",
                    "tileloadd tmm7, [{b} + {s}*1 + {second} + {part2}]",
                    "tdpbf16ps tmm0, tmm2, tmm6",
                    "tileloadd tmm5, [{nb} + {s}*1]",
                    "tdpbf16ps tmm1, tmm2, tmm7",
                    "tileloadd tmm6, [{nb} + {s}*1 + {second}]",
                    "tileloadd tmm2, [{a0} + {as}*1]",
                    b = in(reg) b_now,
                    nb = in(reg) b_now.add(b_chunk_stride),
                    a0 = in(reg) a_next,
                    a1 = in(reg) a_next.add(TILE_ROWS * seg_k),
                    a2 = in(reg) a_next.add(2 * TILE_ROWS * seg_k),
                    s = in(reg) TILE_K * 2,
                    as = in(reg) seg_k * 2,
                    part1 = const TILE_BYTES,
                    part2 = const 2 * TILE_BYTES,
                    second = const 3 * TILE_BYTES,
                    options(nostack, readonly),
                );
            } else {
                asm!(
                    "tdpbf16ps tmm0, tmm4, tmm5",
                    "tdpbf16ps tmm1, tmm4, tmm6",
                    "tileloadd tmm7, [{b} + {s}*1 + {part1}]",
                    "tdpbf16ps tmm0, tmm3, tmm5",
                    "tdpbf16ps tmm1, tmm3, tmm6",
                    "tdpbf16ps tmm0, tmm2, tmm5",
                    "tdpbf16ps tmm1, tmm2, tmm6",
                    "tileloadd tmm5, [{b} + {s}*1 + {second} + {part1}]",
                    "tdpbf16ps tmm0, tmm3, tmm7",
                    "tdpbf16ps tmm0, tmm2, tmm7",
                    "tileloadd tmm6, [{b} + {s}*1 + {part2}]",
                    "tdpbf16ps tmm1, tmm3, tmm5",
                    "tdpbf16ps tmm1, tmm2, tmm5",
                    "tileloadd tmm7, [{b} + {s}*1 + {second} + {part2}]",
                    "tdpbf16ps tmm0, tmm2, tmm6",
                    "tdpbf16ps tmm1, tmm2, tmm7",
                    b = in(reg) b_now,
                    s = in(reg) TILE_K * 2,
                    part1 = const TILE_BYTES,
                    part2 = const 2 * TILE_BYTES,
                    second = const 3 * TILE_BYTES,
                    options(nostack, readonly),
                );
            }
        }
    }
}

/// [`products_pair_segment`] for one chunk of a lone last column tile, into `tmm0` only.
///
/// # Safety
/// AMX usable, tiles configured, `tmm2`–`tmm4` holding A₀–A₂ ([`load_a_chunk`]); `b` valid for one
/// tile's 3·512 values, 64-byte aligned.
#[inline(always)]
unsafe fn products_single(b: *const u16) {
    // SAFETY: see the function's contract.
    unsafe {
        asm!(
            "tileloadd tmm5, [{b} + {s}*1]",
            "tileloadd tmm6, [{b} + {s}*1 + {part1}]",
            "tileloadd tmm7, [{b} + {s}*1 + {part2}]",
            "tdpbf16ps tmm0, tmm4, tmm5",
            "tdpbf16ps tmm0, tmm3, tmm5",
            "tdpbf16ps tmm0, tmm2, tmm5",
            "tdpbf16ps tmm0, tmm3, tmm6",
            "tdpbf16ps tmm0, tmm2, tmm6",
            "tdpbf16ps tmm0, tmm2, tmm7",
            b = in(reg) b,
            s = in(reg) TILE_K * 2,
            part1 = const TILE_BYTES,
            part2 = const 2 * TILE_BYTES,
            options(nostack, readonly),
        )
    }
}

/// Splits `rows` rows of `seg_k` k values (row stride `lda`; full chunks only, the tail goes through
/// [`split_tail_rows`]) into `out` as three `[16][seg_k]` bf16 blocks (A₀, A₁, A₂), zero padded to 16
/// rows.
///
/// # Safety
/// AVX-512F; `a` valid for `rows` rows of `seg_k` values; `seg_k` a multiple of 16; `out` valid for
/// `3·16·seg_k` writes.
#[target_feature(enable = "avx512f")]
unsafe fn split_rows(a: *const f32, lda: usize, rows: usize, seg_k: usize, out: *mut u16) {
    for r in 0..TILE_ROWS {
        // Rows past `rows` are padding: zeros, nothing read.
        let mask: __mmask16 = if r < rows { 0xFFFF } else { 0 };
        let mut col = 0;
        while col < seg_k {
            // SAFETY: the mask limits the load to rows that exist, whose seg_k values all do.
            let x = unsafe { _mm512_maskz_loadu_ps(mask, a.add(r * lda + col)) };
            for (part, words) in split3_lanes(x).into_iter().enumerate() {
                // SAFETY: part < 3, r < 16, col + 16 ≤ seg_k: inside the 3·16·seg_k values.
                unsafe {
                    _mm256_storeu_si256(out.add((part * TILE_ROWS + r) * seg_k + col).cast(), words)
                };
            }
            col += 16;
        }
    }
}

/// [`split_bf16x3`] on 16 lanes: the three parts as 16 bf16 bit patterns each.
#[target_feature(enable = "avx512f")]
#[inline]
fn split3_lanes(x: __m512) -> [__m256i; 3] {
    let x0 = round_to_bf16_lanes(x);
    let rest = _mm512_sub_ps(x, widen_bf16(x0));
    let x1 = round_to_bf16_lanes(rest);
    [
        x0,
        x1,
        round_to_bf16_lanes(_mm512_sub_ps(rest, widen_bf16(x1))),
    ]
}

/// [`round_to_bf16`] on 16 lanes: one `VCVTNEPS2BF16`.
#[target_feature(enable = "avx512f")]
#[inline]
fn round_to_bf16_lanes(x: __m512) -> __m256i {
    let words: __m256i;
    // SAFETY: AVX512-BF16 is part of `available`, every caller's precondition; the instruction only
    // reads its register operand.
    unsafe {
        asm!(
            "vcvtneps2bf16 {words}, {x}",
            x = in(zmm_reg) x,
            words = lateout(ymm_reg) words,
            options(pure, nomem, nostack),
        )
    };
    words
}

/// The f32 values of 16 bf16 bit patterns (exact).
#[target_feature(enable = "avx512f")]
#[inline]
fn widen_bf16(words: __m256i) -> __m512 {
    _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(words)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values over the whole normal range, both signs, with full 24-bit significands, and the
    /// rounding ties of bf16.
    fn samples() -> Vec<f32> {
        let mut state = 0x2545_f491_u32;
        let mut out = vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            f32::MAX / 2.0,
            f32::MIN_POSITIVE * 4.0,
        ];
        // Ties: low 16 bits exactly 0x8000, with the bf16 part even and odd.
        out.extend([f32::from_bits(0x3F80_8000), f32::from_bits(0x3F81_8000)]);
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // Exponent field 24..=246 (|x| ≥ 2⁻¹⁰³): normal values whose parts stay normal too.
            let exponent = 24 + state % 223;
            out.push(f32::from_bits(
                (state & 0x8000_0000) | (exponent << 23) | (state >> 9),
            ));
        }
        out
    }

    fn bf16(bits: u16) -> f64 {
        f64::from(f32::from_bits(u32::from(bits) << 16))
    }

    #[test]
    fn split_is_exact_and_ordered() {
        for x in samples() {
            let [x0, x1, x2] = split_bf16x3(x);
            let (p0, p1, p2) = (bf16(x0), bf16(x1), bf16(x2));
            assert_eq!(
                p0 + p1 + p2,
                f64::from(x),
                "{x:e}: {p0:e} + {p1:e} + {p2:e}"
            );
            assert!(
                p1.abs() <= 2f64.powi(-8) * f64::from(x).abs(),
                "{x:e}: x1 = {p1:e}"
            );
            assert!(
                p2.abs() <= 2f64.powi(-16) * f64::from(x).abs(),
                "{x:e}: x2 = {p2:e}"
            );
        }
        assert!(bf16(split_bf16x3(f32::NAN)[0]).is_nan());
    }

    #[test]
    fn lane_split_equals_scalar_split() {
        if !available() {
            eprintln!(
                "AMX-BF16 not available on this CPU (or not granted by the OS): not tested here"
            );
            return;
        }
        let mut values = samples();
        values.extend([f32::NAN, -f32::NAN, 3.0]);
        // Subnormal values, and small ones whose later parts would be subnormal: flushed to zero
        // by the instruction and the reference alike.
        let mut state = 0x9E37_79B9_u32;
        for _ in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let exponent = state % 26;
            values.push(f32::from_bits(
                (state & 0x8000_0000) | (exponent << 23) | (state >> 9),
            ));
        }
        values.extend([
            f32::from_bits(1),
            -f32::from_bits(0x007F_FFFF),
            f32::MIN_POSITIVE,
        ]);
        values.resize(values.len().next_multiple_of(2 * TILE_COLS), 1.0);
        for line in values.chunks_exact(2 * TILE_COLS) {
            let even: [f32; TILE_COLS] = std::array::from_fn(|j| line[j]);
            let odd: [f32; TILE_COLS] = std::array::from_fn(|j| line[TILE_COLS + j]);
            // SAFETY: `available` includes AVX-512F; 16 values each.
            let lines = unsafe {
                split_pair(
                    _mm512_loadu_ps(even.as_ptr()),
                    _mm512_loadu_ps(odd.as_ptr()),
                )
                .map(|v| std::mem::transmute::<__m512i, TileLine>(v))
            };
            for j in 0..TILE_COLS {
                let (e, o) = (split_bf16x3(even[j]), split_bf16x3(odd[j]));
                for part in 0..3 {
                    let (got_e, got_o) = (lines[part].0[2 * j], lines[part].0[2 * j + 1]);
                    if even[j].is_nan() {
                        assert!(bf16(got_e).is_nan());
                    } else {
                        assert_eq!(got_e, e[part], "{:e} part {part}", even[j]);
                    }
                    if odd[j].is_nan() {
                        assert!(bf16(got_o).is_nan());
                    } else {
                        assert_eq!(got_o, o[part], "{:e} part {part}", odd[j]);
                    }
                }
            }
        }
    }
}
