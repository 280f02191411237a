/*
 * Tests of the core (JSON, SHA-256, manifest, crop and resize) that need no OpenVINO, meant to
 * run under AddressSanitizer and UBSan (cmake -DASYMTRACK_SANITIZE=ON): every malformed input
 * must give an error, never a crash or an out-of-bounds read. Bit-exactness against OpenCV is
 * tested from Python (tests/c/test_core_exact.py) through the testkit library.
 * Prints "N passed, M failed" and exits non-zero on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_core.h"

static int passed, failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) passed++;                                                \
        else {                                                             \
            failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

static uint32_t rng_state = 12345u;
static uint32_t rng(void) { rng_state = rng_state * 1664525u + 1013904223u; return rng_state >> 8; }

/* ---- SHA-256 ------------------------------------------------------------------------------ */

static void sha_hex(const char* text, size_t n, size_t chunk, char hex[65]) {
    at_sha256 ctx;
    uint8_t digest[32];
    at_sha256_init(&ctx);
    for (size_t i = 0; i < n; i += chunk) at_sha256_update(&ctx, text + i, n - i < chunk ? n - i : chunk);
    at_sha256_final(&ctx, digest);
    at_sha256_hex(digest, hex);
}

static void test_sha256(void) {
    char hex[65];
    static const char* two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex("", 0, 1, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "empty: %s", hex);
    sha_hex("abc", 3, 1, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "abc: %s", hex);
    for (size_t chunk = 1; chunk <= 64; chunk += 7) {
        sha_hex(two_blocks, strlen(two_blocks), chunk, hex);
        CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "448 bits chunk %zu", chunk);
    }
    char* million = (char*)malloc(1000000);
    memset(million, 'a', 1000000);
    sha_hex(million, 1000000, 4099, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "million a: %s", hex);
    free(million);
    uint64_t size;
    at_error err;
    CHECK(at_sha256_file("/nonexistent/file", hex, &size, &err) == ASYMTRACK_ERROR_BAD_BUNDLE, "missing file");
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void test_json_values(void) {
    static const char* doc = " {\"a\": [1, -2.5e3, 0.1, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"], \"b\": {}, "
                             "\"c\": NaN, \"d\": -Infinity, \"e\": 123456789012345678901234567890, \"f\": 1e-320} ";
    at_error err;
    at_json* v = at_json_parse(doc, strlen(doc), &err);
    CHECK(v != NULL, "valid document refused: %s", err.message);
    if (v == NULL) return;
    const at_json* a = at_json_get(v, "a");
    CHECK(a && a->count == 7 && a->items[0]->is_integer && a->items[1]->number == -2500.0, "array values");
    CHECK(a && a->items[2]->number == 0.1 && a->items[3]->boolean == 1 && a->items[4]->boolean == 0, "0.1, true, false");
    CHECK(a && strcmp(a->items[6]->string, "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0, "escapes and surrogate pairs");
    CHECK(isnan(at_json_get(v, "c")->number) && at_json_get(v, "d")->number == -INFINITY, "NaN and -Infinity");
    CHECK(at_json_get(v, "e")->number == 123456789012345678901234567890.0, "long integer");
    CHECK(at_json_get(v, "f")->number == 1e-320, "subnormal");
    CHECK(at_json_get(v, "b")->type == AT_JSON_OBJECT && at_json_get(v, "zz") == NULL, "lookup");
    at_json_free(v);
}

static void test_json_refusals(void) {
    static const char* bad[] = {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "1e", "\"abc",
                                "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\u0000\"", "\"a\tb\"", "[1] 2", "tru",
                                "{\"a\":1,\"a\":2}", "{1:2}", "nul", "[\"\\", "\"\\ud83d\\u0041\""};
    at_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        at_json* v = at_json_parse(bad[i], strlen(bad[i]), &err);
        CHECK(v == NULL && strstr(err.message, "line 1") != NULL, "accepted bad JSON #%zu: %s", i, bad[i]);
        at_json_free(v);
    }
    char deep[200];
    memset(deep, '[', sizeof deep);
    at_json* v = at_json_parse(deep, sizeof deep, &err);
    CHECK(v == NULL && strstr(err.message, "nesting") != NULL, "deep nesting: %s", err.message);
}

/* Every prefix and every one-byte change of a valid document: an answer, never a crash. An
   answer is a parsed value or an error with a message; every proper prefix is an error, and the
   whole document parses. */
static int parse_answers(const char* text, size_t n) {
    at_error err;
    err.message[0] = '\0';
    at_json* v = at_json_parse(text, n, &err);
    int answered = v != NULL ? 2 : err.message[0] != '\0';
    at_json_free(v);
    return answered;
}

static void test_json_mutations(const char* doc) {
    size_t n = strlen(doc);
    char* copy = (char*)malloc(n);
    int prefixes_refused = 1, mutations_answered = 1;
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(copy, doc, cut); /* an exact-size buffer: ASan sees any read past it */
        prefixes_refused &= parse_answers(copy, cut) == 1;
    }
    for (int k = 0; k < 3000; k++) {
        memcpy(copy, doc, n);
        copy[rng() % n] = (char)(rng() & 0xff);
        mutations_answered &= parse_answers(copy, n) != 0;
    }
    memcpy(copy, doc, n);
    CHECK(parse_answers(copy, n) == 2, "the unchanged document does not parse");
    CHECK(prefixes_refused, "a proper prefix of the document parsed, or was refused without a message");
    CHECK(mutations_answered, "a changed document was refused without a message");
    free(copy);
}

/* ---- manifest ------------------------------------------------------------------------------- */

static const char* MANIFEST =
    "{\"schema_version\": 2, \"model\": {\"name\": \"AsymTrack\", \"variant\": \"tiny\", \"template_size\": 128,"
    " \"search_size\": 256, \"template_factor\": 2.0, \"search_factor\": 4.0},"
    " \"preprocess\": {\"color_order\": \"rgb\", \"layout\": \"NHWC\", \"dtype\": \"uint8\", \"in_graph\": true,"
    " \"scale\": 0.00392156862745098, \"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225]},"
    " \"tracker\": {\"crop\": {\"side\": \"ceil_sqrt_area_times_factor\", \"min_side\": 1,"
    " \"origin\": \"round_half_to_even\", \"padding_value\": [0, 0, 0], \"edge\": \"right_bottom_short_by_one\","
    " \"interpolation\": \"opencv_inter_linear_u8\", \"color\": \"convert_resized_crop_to_rgb\"},"
    " \"map_back\": {\"rule\": \"search_crop_to_frame\", \"origin\": \"previous_state_centre_unrounded\"},"
    " \"clip\": {\"rule\": \"keep_margin_in_frame\", \"margin\": 10.0},"
    " \"outputs\": {\"box\": {\"name\": \"box\", \"format\": \"cx,cy,w,h\", \"normalized_by\": \"search_size\"},"
    " \"score\": {\"name\": \"score\", \"meaning\": \"corner_peak_mass_geometric_mean\", \"default_threshold\": 0.25}}},"
    " \"target\": \"onnx\", \"precision\": \"fp32\", \"inference\": {\"arithmetic\": \"fp32\", \"openvino_precision_hint\": \"f32\"},"
    " \"batch\": 1, \"graphs\": {\"template\": {\"files\": {\"onnx\": \"template.onnx\"},"
    " \"inputs\": [{\"name\": \"template\", \"shape\": [1, 128, 128, 3], \"dtype\": \"uint8\"}],"
    " \"outputs\": [{\"name\": \"k\", \"shape\": [1, 2, 3], \"dtype\": \"float32\"}]},"
    " \"search\": {\"files\": {\"onnx\": \"search.onnx\"}, \"inputs\": [{\"name\": \"search\", \"shape\": [1, 256, 256, 3],"
    " \"dtype\": \"uint8\"}, {\"name\": \"k\", \"shape\": [1, 2, 3], \"dtype\": \"float32\"}],"
    " \"outputs\": [{\"name\": \"box\", \"shape\": [1, 4], \"dtype\": \"float32\"},"
    " {\"name\": \"score\", \"shape\": [1], \"dtype\": \"float32\"}]}},"
    " \"state\": [{\"name\": \"k\", \"shape\": [1, 2, 3], \"dtype\": \"float32\"}],"
    " \"files\": {\"search.onnx\": {\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\","
    " \"bytes\": 1}, \"template.onnx\": {\"sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\","
    " \"bytes\": 2}}}";

/* The manifest with the first `from` replaced by `to`. */
static int parse_edited(const char* from, const char* to, at_error* err) {
    char text[8192];
    const char* at = strstr(MANIFEST, from);
    if (at == NULL) return -1;
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - MANIFEST), MANIFEST, to, at + strlen(from));
    at_manifest m;
    int s = at_manifest_parse(text, strlen(text), &m, err);
    if (s == 0) at_manifest_free(&m);
    return s;
}

static void test_manifest(void) {
    at_manifest m;
    at_error err;
    int s = at_manifest_parse(MANIFEST, strlen(MANIFEST), &m, &err);
    CHECK(s == 0, "valid manifest refused: %s", err.message);
    if (s == 0) {
        CHECK(m.clip_margin == 10.0 && m.score_threshold == 0.25 && strcmp(m.precision_hint, "f32") == 0, "values");
        CHECK(strcmp(m.search_input, "search") == 0 && m.n_state == 1 && m.n_files == 2, "graphs");
        at_manifest_free(&m);
    }
    static const struct { const char *from, *to, *message; int status; } cases[] = {
        {"\"schema_version\": 2", "\"schema_version\": 1", "re-export the bundle", ASYMTRACK_ERROR_UNSUPPORTED},
        {"\"schema_version\": 2", "\"schema_version\": 3", "newer than this library", ASYMTRACK_ERROR_UNSUPPORTED},
        {"right_bottom_short_by_one", "exact", "tracker.crop.edge 'exact' is not a rule", ASYMTRACK_ERROR_UNSUPPORTED},
        {"opencv_inter_linear_u8", "float", "interpolation", ASYMTRACK_ERROR_UNSUPPORTED},
        {"[0, 0, 0]", "[114, 114, 114]", "padding_value", ASYMTRACK_ERROR_UNSUPPORTED},
        {"\"margin\": 10.0", "\"margin\": -1", "tracker.clip.margin", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"batch\": 1", "\"batch\": 2", "batch 2", ASYMTRACK_ERROR_UNSUPPORTED},
        {"\"target\": \"onnx\"", "\"target\": \"tensorrt\"", "no OpenVINO IR", ASYMTRACK_ERROR_UNSUPPORTED},
        {"\"name\": \"box\", \"format\"", "\"name\": \"boxes\", \"format\"", "outputs.box.name", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"search.onnx\": {", "\"../x\": {", "plain file name", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"f32\"", "\"int4\"", "openvino_precision_hint", ASYMTRACK_ERROR_UNSUPPORTED},
        {"[1, 256, 256, 3]", "[1, 255, 256, 3]", "crop input", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"state\": [{\"name\": \"k\"", "\"state\": [{\"name\": \"q\"", "state tensor 'q'", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"[0.485, 0.456, 0.406]", "\"abc\"", "preprocess.mean must be 3 finite numbers", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"[0.229, 0.224, 0.225]", "[0.229, 0.224]", "preprocess.std must be 3 finite numbers", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"scale\": 0.00392156862745098", "\"scale\": \"1/255\"", "preprocess.scale", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"variant\": \"tiny\"", "\"variant\": \"base\"", "model.variant 'base' takes 192 / 384", ASYMTRACK_ERROR_BAD_BUNDLE},
        {"\"variant\": \"tiny\"", "\"variant\": \"huge\"", "not one of tiny, small, base", ASYMTRACK_ERROR_BAD_BUNDLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s = parse_edited(cases[i].from, cases[i].to, &err);
        CHECK(s == cases[i].status && strstr(err.message, cases[i].message) != NULL, "case %zu: status %d, '%s'", i, s,
              err.message);
    }
    size_t n = strlen(MANIFEST);
    char* copy = (char*)malloc(n);
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(copy, MANIFEST, cut);
        s = at_manifest_parse(copy, cut, &m, &err);
        if (s == 0) at_manifest_free(&m);
    }
    free(copy);
    passed++;
}

/* ---- crop and resize ------------------------------------------------------------------------ */

static uint8_t* random_image(size_t size) {
    uint8_t* p = (uint8_t*)malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++) p[i] = (uint8_t)rng();
    return p;
}

static void test_resize_sizes(void) {
    at_error err;
    for (int k = 0; k < 400; k++) {
        int w = 1 + (int)(rng() % 70), h = 1 + (int)(rng() % 70), dw = 1 + (int)(rng() % 70), dh = 1 + (int)(rng() % 70);
        int cn = 1 + (int)(rng() % 4), pad = (int)(rng() % 5);
        if (k % 5 == 0) dw = (w + 1) / 2, dh = (h + 1) / 2, w = 2 * dw, h = 2 * dh; /* the 2x area path */
        uint8_t* src = random_image((size_t)(w * cn + pad) * (size_t)h);
        uint8_t* dst = (uint8_t*)malloc((size_t)dw * (size_t)dh * (size_t)cn);
        int s = at_resize_u8(src, w, h, w * cn + pad, cn, dst, dw, dh, &err);
        CHECK(s == 0, "resize %dx%dx%d -> %dx%d: %s", w, h, cn, dw, dh, err.message);
        free(src), free(dst);
    }
    uint8_t one = 7, out[16];
    CHECK(at_resize_u8(&one, 1, 1, 1, 1, out, 4, 4, &err) == 0 && out[0] == 7 && out[15] == 7, "1x1 upscale");
    CHECK(at_resize_u8(&one, 1, 1, 0, 1, out, 4, 4, &err) == ASYMTRACK_ERROR_INVALID_ARGUMENT, "stride < row");
}

static asymtrack_box random_box(int width, int height) {
    double span = (double)(width > height ? width : height);
    asymtrack_box b = {(double)(rng() % 4000) / 1000.0 * span - 1.5 * span, (double)(rng() % 4000) / 1000.0 * span - 1.5 * span,
                       0.01 + (double)(rng() % 1000) / 300.0 * span, 0.01 + (double)(rng() % 1000) / 300.0 * span};
    return b;
}

static void test_crops(void) {
    static const int formats[] = {ASYMTRACK_PIXEL_BGR, ASYMTRACK_PIXEL_RGB, ASYMTRACK_PIXEL_BGRA, ASYMTRACK_PIXEL_RGBA,
                                  ASYMTRACK_PIXEL_GRAY};
    static const int bpp[] = {3, 3, 4, 4, 1};
    at_error err;
    int failures = 0;
    for (int k = 0; k < 600; k++) {
        int f = (int)(rng() % 5), w = 1 + (int)(rng() % 60), h = 1 + (int)(rng() % 60), out_size = 1 + (int)(rng() % 48);
        int64_t stride = (int64_t)w * bpp[f] + (int64_t)(rng() % 3);
        uint8_t* pixels = random_image((size_t)stride * (size_t)h);
        uint8_t* out = (uint8_t*)malloc((size_t)out_size * (size_t)out_size * 3);
        at_frame frame = {pixels, w, h, stride, formats[f]};
        asymtrack_box box = random_box(w, h);
        double factor = k % 2 ? 2.0 : 4.0, rf = 0;
        failures += at_check_frame(&frame, &err) != 0 || at_crop(&frame, &box, factor, out_size, out, &rf, &err) != 0;
        free(pixels), free(out);
    }
    CHECK(failures == 0, "%d random crops failed (%s)", failures, err.message);
}

static void test_crop_padding_and_edge(void) {
    at_error err;
    uint8_t frame[4 * 4 * 3], out[4 * 4 * 3];
    memset(frame, 200, sizeof frame);
    at_frame f = {frame, 4, 4, 12, ASYMTRACK_PIXEL_BGR};
    asymtrack_box outside = {100, 100, 2, 2}, whole = {0, 0, 4, 4};
    double rf;
    CHECK(at_crop(&f, &outside, 1.0, 4, out, &rf, &err) == 0 && out[0] == 0 && out[47] == 0, "outside: zeros");
    /* side 4 at origin 0 reaches the right/bottom edge: the last column and row are padding */
    CHECK(at_crop(&f, &whole, 1.0, 4, out, &rf, &err) == 0 && out[0] == 200 && out[3 * 3] == 0 && out[12 * 3] == 0 &&
          out[2 * 3] == 200 && rf == 1.0, "edge quirk");
    asymtrack_box huge = {0, 0, 1e300, 1e300}, nan_box = {0, 0, NAN, 1};
    CHECK(at_crop(&f, &huge, 4.0, 4, out, &rf, &err) == ASYMTRACK_ERROR_INVALID_ARGUMENT, "huge box refused");
    CHECK(at_check_box(&nan_box, &err) == ASYMTRACK_ERROR_INVALID_ARGUMENT, "NaN box refused");
}

static void test_window_and_map_back(void) {
    at_window w;
    at_error err;
    asymtrack_box half = {0.5, 0.5, 1, 1}, tracked = {398.62361573672564, 135.72238645838087, 175.8086290131003,
                                                      279.0025052849469};
    CHECK(at_crop_window(&half, 1.0, &w, &err) == 0 && w.x1 == 0 && w.y1 == 0 && w.side == 1, "0.5 rounds to 0");
    asymtrack_box b = {1.5, 1.5, 1, 1};
    CHECK(at_crop_window(&b, 1.0, &w, &err) == 0 && w.x1 == 2 && w.side == 1, "1.5 + 0.5 - 0.5 = 1.5 rounds to 2");
    CHECK(at_round_half_even(-2.5) == -2.0 && at_round_half_even(3.5) == 4.0 && at_round_half_even(-0.7) == -1.0, "half even");
    CHECK(at_crop_window(&tracked, 4.0, &w, &err) == 0 && w.side == 886 && w.x1 == 44 && w.y1 == -168, "official step 0");
    /* the official step 0 of track_tiny.json: prediction -> next state */
    float pred[4] = {0.3787812292575836f, 0.5116336941719055f, -0.02862071990966797f, 0.14255261421203613f};
    asymtrack_box mapped = at_map_back(pred, &tracked, 256, 256.0 / 886.0);
    asymtrack_box clipped = at_clip_box(&mapped, 528, 720, 10.0);
    CHECK(fabs(clipped.x - 391.80707828547776) < 1e-6 && fabs(clipped.y - 222.3802840412306) < 1e-6 &&
          clipped.width == 10.0 && fabs(clipped.height - 126.30161619186401) < 1e-6,
          "map-back and clip: %.10f %.10f %.10f %.10f", clipped.x, clipped.y, clipped.width, clipped.height);
}

int main(void) {
    test_sha256();
    test_json_values();
    test_json_refusals();
    test_json_mutations(MANIFEST);
    test_manifest();
    test_resize_sizes();
    test_crops();
    test_crop_padding_and_edge();
    test_window_and_map_back();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
