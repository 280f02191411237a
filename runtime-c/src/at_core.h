/*
 * Internal parts of the asymtrack C library that need no OpenVINO: error messages, a JSON
 * reader, SHA-256, the manifest and the tracker's crop/map-back/clip arithmetic. They are
 * built into a static library of their own so that a test executable can run them under
 * AddressSanitizer and UndefinedBehaviorSanitizer (OpenVINO's TBB does not run there).
 */
#ifndef AT_CORE_H
#define AT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "asymtrack.h"

/* ---- errors ----------------------------------------------------------------------------- */

typedef struct at_error {
    char message[1024];
} at_error;

/* Formats the message into `err` (when not NULL) and returns `status`. */
int at_fail(at_error* err, int status, const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- JSON ------------------------------------------------------------------------------- */

typedef enum at_json_type {
    AT_JSON_NULL, AT_JSON_BOOL, AT_JSON_NUMBER, AT_JSON_STRING, AT_JSON_ARRAY, AT_JSON_OBJECT
} at_json_type;

typedef struct at_json {
    at_json_type type;
    int boolean;
    double number;
    int is_integer;           /* a number written without fraction or exponent */
    char* string;             /* NUL-terminated UTF-8 (\u0000 is refused) */
    struct at_json** items;   /* array items or object values */
    char** keys;              /* object keys, parallel to items */
    size_t count;
} at_json;

#define AT_JSON_MAX_DEPTH 64

/* Parses `length` bytes; NULL with a message ("line L, column C: ...") on any error. */
at_json* at_json_parse(const char* text, size_t length, at_error* err);
void at_json_free(at_json* value);
/* The member `key` of an object, or NULL (also when `object` is not an object). */
const at_json* at_json_get(const at_json* object, const char* key);

/* ---- SHA-256 ---------------------------------------------------------------------------- */

typedef struct at_sha256 {
    uint32_t state[8];
    uint64_t length;
    uint8_t block[64];
    size_t used;
} at_sha256;

void at_sha256_init(at_sha256* ctx);
void at_sha256_update(at_sha256* ctx, const void* data, size_t size);
void at_sha256_final(at_sha256* ctx, uint8_t digest[32]);
void at_sha256_hex(const uint8_t digest[32], char hex[65]);
/* The file's digest as 64 lowercase hex digits and its size; 0 or an error status. */
int at_sha256_file(const char* path, char hex[65], uint64_t* size, at_error* err);

/* ---- the manifest ----------------------------------------------------------------------- */

typedef enum at_dtype { AT_U8 = 1, AT_I8, AT_I32, AT_I64, AT_F16, AT_F32 } at_dtype;

#define AT_MAX_RANK 8

typedef struct at_tensor {
    char* name;
    int rank;
    int64_t shape[AT_MAX_RANK];
    at_dtype dtype;
} at_tensor;

typedef struct at_graph {
    char* model_file;    /* the file OpenVINO reads: IR .xml, or .onnx */
    char* weights_file;  /* the IR's .bin, or NULL */
    at_tensor* inputs;
    size_t n_inputs;
    at_tensor* outputs;
    size_t n_outputs;
} at_graph;

typedef struct at_file {
    char* name;
    char sha256[65];
    uint64_t bytes;
} at_file;

typedef struct at_manifest {
    int schema_version;
    char variant[32], target[32], precision[16];
    int batch;
    int template_size, search_size;
    double template_factor, search_factor;
    at_graph graphs[2]; /* template, search */
    at_tensor* state;
    size_t n_state;
    at_file* files;
    size_t n_files;
    /* tracker section */
    double clip_margin, score_threshold;
    char* box_output;
    char* score_output;
    /* inference section: OpenVINO's INFERENCE_PRECISION_HINT, "" for the device default */
    char precision_hint[8];
    /* the crop inputs of the two graphs (names owned by graphs[].inputs) */
    const char* template_input;
    const char* search_input;
} at_manifest;

enum { AT_TEMPLATE = 0, AT_SEARCH = 1 };

/* Parses and validates manifest.json text (no file access). */
int at_manifest_parse(const char* text, size_t length, at_manifest* out, at_error* err);
/* Reads `folder`/manifest.json, parses it and checks every listed file's size and sha256. */
int at_manifest_load(const char* folder, at_manifest* out, at_error* err);
void at_manifest_free(at_manifest* manifest);
const at_tensor* at_find_tensor(const at_tensor* tensors, size_t count, const char* name);
/* folder + "/" + name, malloc'ed (NULL when memory runs out). */
char* at_join_path(const char* folder, const char* name);

/* ---- the tracker's arithmetic ----------------------------------------------------------- */

typedef struct at_frame {
    const uint8_t* pixels;
    int32_t width, height;
    int64_t stride;
    int32_t format;
} at_frame;

typedef struct at_window {
    int64_t x1, y1, side;
} at_window;

int at_check_frame(const at_frame* frame, at_error* err);
int at_check_box(const asymtrack_box* box, at_error* err);
/* at_check_box, and the box overlaps the width x height frame and is at most AT_MAX_BOX_TO_FRAME
 * times its width and height (a box to start tracking from; Python's boxes.check_box_in_frame). */
#define AT_MAX_BOX_TO_FRAME 2.0
int at_check_box_in_frame(const asymtrack_box* box, int32_t width, int32_t height, at_error* err);
/* side = max(1, ceil(sqrt(w*h) * factor)); x1 = round_half_even(x + w/2 - side/2), y1 likewise. */
int at_crop_window(const asymtrack_box* box, double factor, at_window* out, at_error* err);
/* The square crop around `box`, zero-padded (right/bottom edge one pixel short), resized to
 * out_size x out_size with OpenCV's uint8 INTER_LINEAR, as RGB (out_size*out_size*3 bytes);
 * *resize_factor = out_size / side. */
int at_crop(const at_frame* frame, const asymtrack_box* box, double factor, int out_size, uint8_t* out_rgb,
            double* resize_factor, at_error* err);
/* OpenCV's cv::resize(INTER_LINEAR) of a uint8 image with `channels` (1..4) interleaved channels. */
int at_resize_u8(const uint8_t* src, int src_width, int src_height, int64_t src_stride, int channels,
                 uint8_t* dst, int dst_width, int dst_height, at_error* err);
/* A normalised (cx, cy, w, h) in the search crop -> (x, y, w, h) in the frame. */
asymtrack_box at_map_back(const float pred[4], const asymtrack_box* previous, int search_size, double resize_factor);
/* The clip rule; in a frame narrower or lower than `margin` the margin is the frame's side. */
asymtrack_box at_clip_box(const asymtrack_box* box, int height, int width, double margin);
double at_round_half_even(double value);

#endif /* AT_CORE_H */
