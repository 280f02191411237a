/*
 * The tracker's arithmetic outside the graphs, exactly as asymtrack_deploy/crop.py does it
 * (manifest rules ceil_sqrt_area_times_factor, round_half_to_even, right_bottom_short_by_one,
 * opencv_inter_linear_u8, convert_resized_crop_to_rgb, search_crop_to_frame,
 * keep_margin_in_frame; docs/manifest.md).
 *
 * The padded square window is never materialised: the resize reads it through `at_source`,
 * which maps window coordinates to frame bytes or to the zero padding. The resize reproduces
 * OpenCV's uint8 INTER_LINEAR bit for bit: float32 source coordinates, 11-bit fixed-point
 * weights rounded half to even, a horizontal pass kept as int16 h >> 4, the vertical pass's
 * ((b * (h >> 4)) >> 16) products with (sum + 2) >> 2 rounding, clamped rows, and the exact
 * 2x downscale that OpenCV hands to its area-averaging path ((a + b + c + d + 2) >> 2).
 * Compile without floating-point contraction (-ffp-contract=off): a fused multiply-add
 * changes the float32 coordinates. Speed: the search crop is the C tracker's whole per-frame
 * cost outside the graph, so three-channel rows take an SSE2 path on x86-64 (integer, the
 * same bytes as the scalar loop it replaces; other CPUs and formats run the scalar loop).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_core.h"

#if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <emmintrin.h>
#define AT_SSE2 1 /* x86-64's baseline: the three-channel horizontal pass in 128-bit lanes */
#else
#define AT_SSE2 0
#endif

#define COEF_BITS 11
#define COEF_ONE (1 << COEF_BITS)
/* Beyond this a window cannot come from a real frame; refusing keeps int64 arithmetic exact. */
#define MAX_WINDOW ((int64_t)1 << 30)

int at_fail(at_error* err, int status, const char* format, ...) {
    if (err != NULL) {
        va_list args;
        va_start(args, format);
        vsnprintf(err->message, sizeof err->message, format, args);
        va_end(args);
    }
    return status;
}

double at_round_half_even(double value) {
    double low = floor(value);
    double rest = value - low; /* exact for |value| < 2^52 */
    if (rest > 0.5) return low + 1.0;
    if (rest < 0.5) return low;
    return fmod(low, 2.0) == 0.0 ? low : low + 1.0;
}

/* ---- frames and boxes ------------------------------------------------------------------- */

static int bytes_per_pixel(int32_t format) {
    switch (format) {
        case ASYMTRACK_PIXEL_BGR: case ASYMTRACK_PIXEL_RGB: return 3;
        case ASYMTRACK_PIXEL_BGRA: case ASYMTRACK_PIXEL_RGBA: return 4;
        case ASYMTRACK_PIXEL_GRAY: return 1;
        default: return 0;
    }
}

int at_check_frame(const at_frame* frame, at_error* err) {
    int bpp = bytes_per_pixel(frame->format);
    if (bpp == 0)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "unknown pixel format %d (expected ASYMTRACK_PIXEL_BGR=1, RGB=2, BGRA=3, RGBA=4 or GRAY=5)",
                       (int)frame->format);
    if (frame->pixels == NULL)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "pixels is NULL");
    if (frame->width < 1 || frame->height < 1)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "frame size must be at least 1 x 1, got %d x %d",
                       (int)frame->width, (int)frame->height);
    if (frame->stride < (int64_t)frame->width * bpp)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "stride %lld bytes is smaller than a row (%d pixels x %d bytes = %lld)",
                       (long long)frame->stride, (int)frame->width, bpp, (long long)frame->width * bpp);
    if (frame->stride > (INT64_MAX / 2) / frame->height)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "stride %lld bytes x %d rows is too large",
                       (long long)frame->stride, (int)frame->height);
    return ASYMTRACK_OK;
}

int at_check_box(const asymtrack_box* box, at_error* err) {
    if (box == NULL) return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "box is NULL");
    if (!isfinite(box->x) || !isfinite(box->y) || !isfinite(box->width) || !isfinite(box->height))
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "box values must be finite, got (%g, %g, %g, %g)",
                       box->x, box->y, box->width, box->height);
    if (!(box->width > 0) || !(box->height > 0))
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "box width and height must be > 0, got w=%g, h=%g",
                       box->width, box->height);
    return ASYMTRACK_OK;
}

int at_check_box_in_frame(const asymtrack_box* box, int32_t width, int32_t height, at_error* err) {
    int s = at_check_box(box, err);
    if (s) return s;
    if (box->width > AT_MAX_BOX_TO_FRAME * width || box->height > AT_MAX_BOX_TO_FRAME * height)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "box (%g x %g) is too large for the %d x %d frame: at most %g times its width and height",
                       box->width, box->height, (int)width, (int)height, AT_MAX_BOX_TO_FRAME);
    if (box->x >= width || box->y >= height || box->x + box->width <= 0 || box->y + box->height <= 0)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "box (%g, %g, %g, %g) is outside the %d x %d frame: it must overlap the frame",
                       box->x, box->y, box->width, box->height, (int)width, (int)height);
    return ASYMTRACK_OK;
}

int at_crop_window(const asymtrack_box* box, double factor, at_window* out, at_error* err) {
    double side = ceil(sqrt(box->width * box->height) * factor);
    double x1, y1;
    if (!(side >= 1.0)) side = 1.0; /* also catches NaN from w*h overflow */
    if (!(side <= (double)MAX_WINDOW))
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "box (%g x %g) too large: its crop side would exceed 2^30 pixels", box->width, box->height);
    x1 = at_round_half_even(box->x + 0.5 * box->width - side * 0.5);
    y1 = at_round_half_even(box->y + 0.5 * box->height - side * 0.5);
    if (!(fabs(x1) <= (double)MAX_WINDOW) || !(fabs(y1) <= (double)MAX_WINDOW))
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "box at (%g, %g) is more than 2^30 pixels outside the frame", box->x, box->y);
    out->x1 = (int64_t)x1;
    out->y1 = (int64_t)y1;
    out->side = (int64_t)side;
    return ASYMTRACK_OK;
}

/* ---- a source image read through a window with zero padding ------------------------------ */

typedef struct at_source {
    const uint8_t* pixels;
    int64_t stride;
    int bpp;          /* bytes per source pixel */
    int channels;     /* channels produced: 1 or 3 for crops, 1..4 for plain resizes */
    int order[4];     /* byte offset of each produced channel within a pixel */
    int64_t x1, y1;   /* window origin in source pixels */
    int64_t width, height;            /* window size */
    int64_t vx0, vx1, vy0, vy1;       /* the valid (non-padding) window region, [v0, v1) */
    int64_t row_bytes;                /* bytes readable from a source row's first pixel */
} at_source;

static const uint8_t* source_row(const at_source* s, int64_t wy) {
    if (wy < s->vy0 || wy >= s->vy1) return NULL;
    return s->pixels + (s->y1 + wy) * s->stride;
}

/* Byte offset of window column wx within a source row, or -1 for padding. */
static int64_t source_column(const at_source* s, int64_t wx) {
    if (wx < s->vx0 || wx >= s->vx1) return -1;
    return (s->x1 + wx) * s->bpp;
}

static int pixel(const at_source* s, const uint8_t* row, int64_t column, int c) {
    return (row != NULL && column >= 0) ? row[column + s->order[c]] : 0;
}

/* ---- OpenCV's INTER_LINEAR coefficients -------------------------------------------------- */

static int16_t fixed_weight(float weight) {
    return (int16_t)at_round_half_even((double)(weight * (float)COEF_ONE));
}

/* Source index and float32 fraction of destination index d, as cv::resize computes them. */
static int64_t source_coordinate(int64_t d, double scale, float* fraction) {
    float f = (float)((d + 0.5) * scale - 0.5);
    float s = floorf(f);
    *fraction = f - s;
    return (int64_t)s;
}

/* Each destination column's two taps: byte offsets from a source row's first pixel and 11-bit
 * weights. A tap on the zero padding gets weight 0 and the offset of a valid pixel, so the
 * horizontal pass reads every tap without a branch and still adds 0 for padding. */
typedef struct at_linear_plan {
    int64_t* col0;
    int64_t* col1;
    int32_t* alpha0;
    int32_t* alpha1;
    int16_t* pairs;  /* per column (w0, w1, w0, w1, w0, w1, 0, 0): the SSE2 pass's multiply-add weights */
    int word_reads;  /* every tap's pixel can be read as 4 bytes inside its row (the SSE2 pass's loads) */
} at_linear_plan;

static void plan_tap(const at_source* s, int64_t wx, int32_t weight, int64_t* offset, int32_t* alpha) {
    int64_t column = source_column(s, wx);
    *offset = column >= 0 ? column : (s->x1 + s->vx0) * s->bpp;
    *alpha = column >= 0 ? weight : 0;
}

static void plan_columns(const at_source* s, int dst_width, at_linear_plan* p) {
    double scale = 1.0 / ((double)dst_width / (double)s->width);
    for (int dx = 0; dx < dst_width; dx++) {
        float f;
        int64_t sx = source_coordinate(dx, scale, &f);
        if (sx < 0) sx = 0, f = 0.0f;
        if (sx >= s->width - 1) sx = s->width - 1, f = 0.0f;
        plan_tap(s, sx, fixed_weight(1.0f - f), &p->col0[dx], &p->alpha0[dx]);
        plan_tap(s, sx + 1 < s->width ? sx + 1 : sx, fixed_weight(f), &p->col1[dx], &p->alpha1[dx]);
    }
#if AT_SSE2
    p->word_reads = 1;
    for (int dx = 0; dx < dst_width; dx++) {
        int16_t* pair = p->pairs + 8 * (size_t)dx;
        for (int c = 0; c < 3; c++) pair[2 * c] = (int16_t)p->alpha0[dx], pair[2 * c + 1] = (int16_t)p->alpha1[dx];
        pair[6] = pair[7] = 0;
        if (p->col0[dx] + 4 > s->row_bytes || p->col1[dx] + 4 > s->row_bytes) p->word_reads = 0;
    }
#endif
}

/* The horizontal pass keeps h >> 4, all that the vertical pass reads: h <= 255 * 2049, so
 * h >> 4 fits int16, which lets the vertical pass run on 16-bit lanes. */
static inline int16_t tap_sum(const uint8_t* row, const at_linear_plan* p, int dx, int byte) {
    return (int16_t)((row[p->col0[dx] + byte] * p->alpha0[dx] + row[p->col1[dx] + byte] * p->alpha1[dx]) >> 4);
}

/* Three-channel pixels from column `first` on; `swap` reverses the channels (BGR to RGB). The
 * crop's only channel orders are RGB's and BGR's (rgb_order), so these are all. */
static inline void horizontal_rgb(const uint8_t* row, const at_linear_plan* p, int first, int dst_width, int swap,
                                  int16_t* restrict out) {
    for (int dx = first; dx < dst_width; dx++, out += 3) {
        out[0] = tap_sum(row, p, dx, swap ? 2 : 0);
        out[1] = tap_sum(row, p, dx, 1);
        out[2] = tap_sum(row, p, dx, swap ? 0 : 2);
    }
}

#if AT_SSE2
static inline __m128i tap_bytes(const uint8_t* row, int64_t offset0, int64_t offset1) {
    uint32_t first, second;
    memcpy(&first, row + offset0, 4);
    memcpy(&second, row + offset1, 4);
    return _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)first), _mm_cvtsi32_si128((int)second));
}

/* Two destination pixels per step: each tap's pixel loaded as 4 bytes, the two taps' bytes
 * interleaved into 16-bit (a_c, b_c) pairs, and one multiply-add with (w0, w1) gives a_c * w0 +
 * b_c * w1 per channel, exactly the scalar sum (the fourth byte is weighted 0). `swap` reverses
 * the channels (BGR to RGB). Writes one int16 past the row (the caller's slack). */
static void horizontal_rgb_sse2(const uint8_t* row, const at_linear_plan* p, int dst_width, int swap, int16_t* out) {
    const __m128i zero = _mm_setzero_si128();
    int dx = 0;
    for (; dx + 2 <= dst_width; dx += 2, out += 6) {
        __m128i a = tap_bytes(row, p->col0[dx], p->col0[dx + 1]);
        __m128i b = tap_bytes(row, p->col1[dx], p->col1[dx + 1]);
        __m128i pairs = _mm_unpacklo_epi8(a, b);
        __m128i h0 = _mm_madd_epi16(_mm_unpacklo_epi8(pairs, zero), _mm_loadu_si128((const __m128i*)(p->pairs + 8 * (size_t)dx)));
        __m128i h1 = _mm_madd_epi16(_mm_unpackhi_epi8(pairs, zero), _mm_loadu_si128((const __m128i*)(p->pairs + 8 * (size_t)dx + 8)));
        h0 = _mm_srai_epi32(h0, 4);
        h1 = _mm_srai_epi32(h1, 4);
        if (swap) {
            h0 = _mm_shuffle_epi32(h0, _MM_SHUFFLE(3, 0, 1, 2));
            h1 = _mm_shuffle_epi32(h1, _MM_SHUFFLE(3, 0, 1, 2));
        }
        __m128i both = _mm_packs_epi32(h0, h1); /* values <= 32655: no saturation */
        _mm_storel_epi64((__m128i*)out, both);
        _mm_storel_epi64((__m128i*)(out + 3), _mm_srli_si128(both, 8));
    }
    horizontal_rgb(row, p, dx, dst_width, swap, out); /* an odd last column */
}
#endif

static void horizontal_pass(const at_source* s, const at_linear_plan* p, int64_t wy, int dst_width, int16_t* out) {
    const uint8_t* row = source_row(s, wy);
    const int cn = s->channels;
    const int swap = s->order[0] == 2;
    if (row == NULL) {
        memset(out, 0, sizeof(int16_t) * (size_t)dst_width * (size_t)cn);
#if AT_SSE2
    } else if (cn == 3 && p->word_reads) {
        horizontal_rgb_sse2(row, p, dst_width, swap, out);
#endif
    } else if (cn == 3 && swap) { /* a constant swap: the compiler specialises each loop */
        horizontal_rgb(row, p, 0, dst_width, 1, out);
    } else if (cn == 3) {
        horizontal_rgb(row, p, 0, dst_width, 0, out);
    } else {
        for (int dx = 0; dx < dst_width; dx++, out += cn)
            for (int c = 0; c < cn; c++) out[c] = tap_sum(row, p, dx, s->order[c]);
    }
}

/* OpenCV's ((beta * (h >> 4)) >> 16) is a 16-bit multiply-high (beta <= 2048, h >> 4 < 2^15);
 * weights sum to about 2048, so the value stays in [0, 255]: no clamp. */
static inline int32_t mul_high(int16_t beta, int16_t h) {
    return (int16_t)(((int32_t)beta * (int32_t)h) >> 16);
}

static uint8_t vertical_value(int16_t h0, int16_t h1, int16_t beta0, int16_t beta1) {
    return (uint8_t)((mul_high(beta0, h0) + mul_high(beta1, h1) + 2) >> 2);
}

/* One destination row; a loop the compiler vectorises (multiply-high on 16-bit lanes). */
static void vertical_row(const int16_t* restrict h0, const int16_t* restrict h1, int16_t beta0, int16_t beta1,
                         uint8_t* restrict out, size_t count) {
    for (size_t j = 0; j < count; j++) out[j] = vertical_value(h0[j], h1[j], beta0, beta1);
}

static int64_t clamp_row(int64_t y, int64_t height) {
    return y < 0 ? 0 : (y >= height ? height - 1 : y);
}

/* Horizontal rows computed once and kept while consecutive destination rows reuse them. */
typedef struct at_row_cache {
    int16_t* rows[2];
    int64_t index[2];
} at_row_cache;

static const int16_t* cached_row(const at_source* s, const at_linear_plan* p, at_row_cache* cache, int64_t wy,
                                 int64_t avoid, int dst_width) {
    for (int k = 0; k < 2; k++)
        if (cache->index[k] == wy) return cache->rows[k];
    int k = cache->index[0] == avoid ? 1 : 0;
    horizontal_pass(s, p, wy, dst_width, cache->rows[k]);
    cache->index[k] = wy;
    return cache->rows[k];
}

static int resize_linear(const at_source* s, uint8_t* dst, int dst_width, int dst_height, int out_channels,
                         at_error* err) {
    size_t n = (size_t)dst_width, row_len = n * (size_t)s->channels;
    size_t row_room = row_len + 4; /* the SSE2 pass writes one int16 past a row */
    void* block = malloc(n * (2 * sizeof(int64_t) + 2 * sizeof(int32_t) + 8 * sizeof(int16_t)) +
                         2 * row_room * sizeof(int16_t));
    if (block == NULL) return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory in the crop resize");
    at_linear_plan plan = {(int64_t*)block, (int64_t*)block + n, (int32_t*)((int64_t*)block + 2 * n), NULL, NULL, 0};
    plan.alpha1 = plan.alpha0 + n;
    plan.pairs = (int16_t*)(plan.alpha1 + n);
    int16_t* rows = plan.pairs + 8 * n;
    at_row_cache cache = {{rows, rows + row_room}, {-1, -1}};
    plan_columns(s, dst_width, &plan);
    double scale = 1.0 / ((double)dst_height / (double)s->height);
    for (int dy = 0; dy < dst_height; dy++) {
        float f;
        int64_t sy = source_coordinate(dy, scale, &f);
        int64_t r0 = clamp_row(sy, s->height), r1 = clamp_row(sy + 1, s->height);
        const int16_t* h0 = cached_row(s, &plan, &cache, r0, -2, dst_width);
        const int16_t* h1 = cached_row(s, &plan, &cache, r1, r0, dst_width);
        int16_t beta0 = fixed_weight(1.0f - f), beta1 = fixed_weight(f);
        uint8_t* out = dst + (size_t)dy * n * (size_t)out_channels;
        if (s->channels == out_channels) {
            vertical_row(h0, h1, beta0, beta1, out, row_len);
        } else { /* one channel replicated: GRAY2RGB */
            for (size_t dx = 0; dx < n; dx++)
                memset(out + dx * (size_t)out_channels, vertical_value(h0[dx], h1[dx], beta0, beta1), (size_t)out_channels);
        }
    }
    free(block);
    return ASYMTRACK_OK;
}

/* OpenCV turns an exact 2x downscale (both axes) into area averaging with round-half-up. */
static void resize_half(const at_source* s, uint8_t* dst, int dst_width, int dst_height, int out_channels) {
    for (int dy = 0; dy < dst_height; dy++) {
        const uint8_t* r0 = source_row(s, 2 * (int64_t)dy);
        const uint8_t* r1 = source_row(s, 2 * (int64_t)dy + 1);
        uint8_t* out = dst + (size_t)dy * (size_t)dst_width * (size_t)out_channels;
        for (int dx = 0; dx < dst_width; dx++) {
            int64_t c0 = source_column(s, 2 * (int64_t)dx), c1 = source_column(s, 2 * (int64_t)dx + 1);
            for (int c = 0; c < out_channels; c++) {
                int k = s->channels == 1 ? 0 : c;
                int sum = pixel(s, r0, c0, k) + pixel(s, r0, c1, k) + pixel(s, r1, c0, k) + pixel(s, r1, c1, k);
                out[(size_t)dx * (size_t)out_channels + (size_t)c] = (uint8_t)((sum + 2) >> 2);
            }
        }
    }
}

/* Same size: OpenCV copies. */
static void resize_copy(const at_source* s, uint8_t* dst, int size_x, int size_y, int out_channels) {
    for (int y = 0; y < size_y; y++) {
        const uint8_t* row = source_row(s, y);
        uint8_t* out = dst + (size_t)y * (size_t)size_x * (size_t)out_channels;
        for (int x = 0; x < size_x; x++) {
            int64_t column = source_column(s, x);
            for (int c = 0; c < out_channels; c++)
                out[(size_t)x * (size_t)out_channels + (size_t)c] = (uint8_t)pixel(s, row, column, s->channels == 1 ? 0 : c);
        }
    }
}

/* Resizes the window of `s` into dst with `out_channels` interleaved channels (a 1-channel
 * source is replicated when out_channels is 3: GRAY2RGB after the resize, as in crop.py). */
static int resize_source(const at_source* s, uint8_t* dst, int dst_width, int dst_height, int out_channels,
                         at_error* err) {
    if (s->width == dst_width && s->height == dst_height) {
        resize_copy(s, dst, dst_width, dst_height, out_channels);
        return ASYMTRACK_OK;
    }
    double scale_x = 1.0 / ((double)dst_width / (double)s->width);
    double scale_y = 1.0 / ((double)dst_height / (double)s->height);
    if (scale_x == 2.0 && scale_y == 2.0) {
        resize_half(s, dst, dst_width, dst_height, out_channels);
        return ASYMTRACK_OK;
    }
    return resize_linear(s, dst, dst_width, dst_height, out_channels, err);
}

int at_resize_u8(const uint8_t* src, int src_width, int src_height, int64_t src_stride, int channels, uint8_t* dst,
                 int dst_width, int dst_height, at_error* err) {
    if (src == NULL || dst == NULL) return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "resize: NULL image");
    if (channels < 1 || channels > 4 || src_width < 1 || src_height < 1 || dst_width < 1 || dst_height < 1 ||
        src_stride < (int64_t)src_width * channels)
        return at_fail(err, ASYMTRACK_ERROR_INVALID_ARGUMENT, "resize: bad sizes (%d x %d x %d, stride %lld -> %d x %d)",
                       src_width, src_height, channels, (long long)src_stride, dst_width, dst_height);
    at_source s = {src, src_stride, channels, channels, {0, 1, 2, 3}, 0, 0, src_width, src_height,
                   0, src_width, 0, src_height, (int64_t)src_width * channels};
    return resize_source(&s, dst, dst_width, dst_height, channels, err);
}

/* ---- the crop ---------------------------------------------------------------------------- */

static void rgb_order(int32_t format, int order[4]) {
    int bgr = format == ASYMTRACK_PIXEL_BGR || format == ASYMTRACK_PIXEL_BGRA;
    order[0] = bgr ? 2 : 0;
    order[1] = 1;
    order[2] = bgr ? 0 : 2;
    order[3] = 0;
}

/* The valid part of the window, with crop.py's right/bottom quirk: when the window reaches the
 * frame's far edge, the valid region ends at size - 1 (one real pixel is left out). */
static void valid_range(int64_t origin, int64_t side, int64_t size, int64_t* v0, int64_t* v1) {
    int64_t start = origin > 0 ? origin : 0;
    int64_t end = origin + side >= size ? size - 1 : origin + side;
    if (end <= start) start = end = origin; /* nothing valid: all padding */
    *v0 = start - origin;
    *v1 = end - origin;
}

int at_crop(const at_frame* frame, const asymtrack_box* box, double factor, int out_size, uint8_t* out_rgb,
            double* resize_factor, at_error* err) {
    at_window w;
    int status = at_crop_window(box, factor, &w, err);
    if (status != ASYMTRACK_OK) return status;
    at_source s = {frame->pixels, frame->stride, bytes_per_pixel(frame->format),
                   frame->format == ASYMTRACK_PIXEL_GRAY ? 1 : 3, {0, 0, 0, 0}, w.x1, w.y1, w.side, w.side,
                   0, 0, 0, 0, (int64_t)frame->width * bytes_per_pixel(frame->format)};
    rgb_order(frame->format, s.order);
    valid_range(w.x1, w.side, frame->width, &s.vx0, &s.vx1);
    valid_range(w.y1, w.side, frame->height, &s.vy0, &s.vy1);
    if (s.vx0 == s.vx1 || s.vy0 == s.vy1) s.vx0 = s.vx1 = s.vy0 = s.vy1 = 0;
    if (s.channels == 1) s.order[0] = 0;
    *resize_factor = (double)out_size / (double)w.side;
    return resize_source(&s, out_rgb, out_size, out_size, 3, err);
}

/* ---- map-back and clip ------------------------------------------------------------------- */

asymtrack_box at_map_back(const float pred[4], const asymtrack_box* previous, int search_size, double resize_factor) {
    double cx = (double)pred[0] * search_size / resize_factor;
    double cy = (double)pred[1] * search_size / resize_factor;
    double w = (double)pred[2] * search_size / resize_factor;
    double h = (double)pred[3] * search_size / resize_factor;
    double half = 0.5 * search_size / resize_factor;
    cx += previous->x + 0.5 * previous->width - half;
    cy += previous->y + 0.5 * previous->height - half;
    asymtrack_box out = {cx - 0.5 * w, cy - 0.5 * h, w, h};
    return out;
}

/* Python's max(a, b) and min(a, b): the first argument unless the second is strictly beyond. */
static double py_max(double a, double b) { return b > a ? b : a; }
static double py_min(double a, double b) { return b < a ? b : a; }

asymtrack_box at_clip_box(const asymtrack_box* box, int height, int width, double margin) {
    margin = py_min(py_min(margin, (double)width), (double)height);
    double x1 = py_min(py_max(0.0, box->x), width - margin);
    double x2 = py_min(py_max(margin, box->x + box->width), (double)width);
    double y1 = py_min(py_max(0.0, box->y), height - margin);
    double y2 = py_min(py_max(margin, box->y + box->height), (double)height);
    asymtrack_box out = {x1, y1, py_max(margin, x2 - x1), py_max(margin, y2 - y1)};
    return out;
}
