/*
 * asymtrack.h - the AsymTrack tracker in C, over a bundle exported by asymtrack-deploy.
 *
 * A bundle is a folder with two graphs (template, search) and manifest.json (schema 2), which
 * states every rule the tracker follows (crop, resize, colour, map-back, clip, outputs) and the
 * inference precision; docs/manifest.md of asymtrack-deploy documents each field. The library
 * runs the graphs with OpenVINO's C API and reproduces the Python tracker's arithmetic exactly
 * (OpenCV's uint8 INTER_LINEAR resize included, without OpenCV).
 *
 * Conventions:
 *  - every function that can fail returns an asymtrack_status; ASYMTRACK_OK is 0;
 *  - the message of the last failure is kept per handle: asymtrack_bundle_last_error() and
 *    asymtrack_tracker_last_error() (never NULL; "" when the last call succeeded);
 *  - no global state, no printing, no exit(); close/destroy functions accept NULL;
 *  - boxes are (x, y, width, height) in pixels of the frame, as doubles;
 *  - a bundle may serve any number of trackers; each tracker owns its template state and infer
 *    requests. Use one tracker from one thread at a time; different trackers may run in
 *    different threads. Open, close and create/destroy trackers of one bundle from one thread.
 */
#ifndef ASYMTRACK_H
#define ASYMTRACK_H

#include <stddef.h>
#include <stdint.h>

#define ASYMTRACK_VERSION_MAJOR 0
#define ASYMTRACK_VERSION_MINOR 1
#define ASYMTRACK_VERSION_PATCH 0
#define ASYMTRACK_VERSION_STRING "0.1.0"
/* The manifest schema version this library reads (older and newer bundles are refused). */
#define ASYMTRACK_MANIFEST_SCHEMA_VERSION 2

#if defined(_WIN32)
#  if defined(ASYMTRACK_BUILDING)
#    define ASYMTRACK_API __declspec(dllexport)
#  else
#    define ASYMTRACK_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define ASYMTRACK_API __attribute__((visibility("default")))
#else
#  define ASYMTRACK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum asymtrack_status {
    ASYMTRACK_OK = 0,
    ASYMTRACK_ERROR_INVALID_ARGUMENT = 1, /* NULL pointer, bad size or stride, bad box, unknown pixel format */
    ASYMTRACK_ERROR_BAD_BUNDLE = 2,       /* missing or unreadable file, malformed manifest, sha256 mismatch */
    ASYMTRACK_ERROR_UNSUPPORTED = 3,      /* schema version, unknown rule, target or batch this library cannot run */
    ASYMTRACK_ERROR_NOT_INITIALIZED = 4,  /* update() before init() */
    ASYMTRACK_ERROR_RUNTIME = 5,          /* OpenVINO failed, or the network returned a non-finite box */
    ASYMTRACK_ERROR_OUT_OF_MEMORY = 6
} asymtrack_status;

/* 8-bit pixel layouts; 0 is deliberately not a format. */
typedef enum asymtrack_pixel_format {
    ASYMTRACK_PIXEL_BGR = 1,  /* 3 bytes per pixel, as OpenCV reads images */
    ASYMTRACK_PIXEL_RGB = 2,
    ASYMTRACK_PIXEL_BGRA = 3, /* 4 bytes per pixel, alpha ignored */
    ASYMTRACK_PIXEL_RGBA = 4,
    ASYMTRACK_PIXEL_GRAY = 5  /* 1 byte per pixel */
} asymtrack_pixel_format;

typedef struct asymtrack_box {
    double x, y, width, height;
} asymtrack_box;

/* What a bundle says and how it was compiled. Strings are NUL-terminated, truncated to fit. */
typedef struct asymtrack_bundle_info {
    char variant[32];
    char target[32];               /* "openvino" or "onnx" */
    char precision[16];            /* fp32, fp16, bf16, int8 */
    char inference_precision[16];  /* the compiled search graph's INFERENCE_PRECISION_HINT, e.g. "f32" */
    char device[64];
    char openvino_version[128];
    int32_t template_size, search_size;
    double template_factor, search_factor;
    double clip_margin;            /* tracker.clip.margin */
    double score_threshold;        /* tracker.outputs.score.default_threshold */
} asymtrack_bundle_info;

/* Times of a tracker's update() calls, taken inside the library with a monotonic clock. */
typedef struct asymtrack_timing {
    uint64_t updates;          /* successful updates since the tracker was created */
    double last_update_ms;     /* the whole last update: checks, crop, inference, map-back, clip */
    double last_inference_ms;  /* the search graph alone in the last update */
    double total_update_ms;
    double total_inference_ms;
} asymtrack_timing;

typedef struct asymtrack_bundle asymtrack_bundle;
typedef struct asymtrack_tracker asymtrack_tracker;

/* "0.1.0": the library that is actually loaded (the macros above give the header's). */
ASYMTRACK_API const char* asymtrack_version(void);
/* A short constant name for a status ("ASYMTRACK_ERROR_BAD_BUNDLE"); never NULL. */
ASYMTRACK_API const char* asymtrack_status_name(int status);

/*
 * Opens the bundle in `folder`: reads manifest.json, checks its schema version, its rules and
 * the sha256 of every file it lists, and compiles both graphs once on `device` ("CPU", "GPU",
 * "AUTO"...; NULL means "CPU") with the manifest's inference precision. `threads` > 0 sets
 * OpenVINO's CPU inference threads (at most 1024), 0 leaves OpenVINO's choice.
 * Like sqlite3_open, *out_bundle receives a handle even on failure (except when memory runs
 * out: then NULL), so that asymtrack_bundle_last_error() can say why; close it in any case.
 */
ASYMTRACK_API asymtrack_status asymtrack_bundle_open(const char* folder, const char* device, int32_t threads,
                                                     asymtrack_bundle** out_bundle);
/* Frees the bundle once its last tracker is destroyed (trackers keep it alive). NULL is fine. */
ASYMTRACK_API void asymtrack_bundle_close(asymtrack_bundle* bundle);
ASYMTRACK_API const char* asymtrack_bundle_last_error(const asymtrack_bundle* bundle);
ASYMTRACK_API asymtrack_status asymtrack_bundle_get_info(asymtrack_bundle* bundle, asymtrack_bundle_info* out_info);

/* A new tracker on an open bundle; failures are reported on the bundle. */
ASYMTRACK_API asymtrack_status asymtrack_tracker_create(asymtrack_bundle* bundle, asymtrack_tracker** out_tracker);
ASYMTRACK_API void asymtrack_tracker_destroy(asymtrack_tracker* tracker);
ASYMTRACK_API const char* asymtrack_tracker_last_error(const asymtrack_tracker* tracker);

/*
 * Frames: `pixels` points at the first byte of the top row; rows are `stride_bytes` apart
 * (at least width * bytes per pixel); width and height >= 1.
 * init() crops the template around `box` (finite, width and height > 0) and runs the template
 * graph; update() tracks into the next frame and writes the new box and its score in [0, 1].
 * On failure the tracker's state is unchanged.
 */
ASYMTRACK_API asymtrack_status asymtrack_tracker_init(asymtrack_tracker* tracker, const uint8_t* pixels,
                                                      int32_t width, int32_t height, int64_t stride_bytes,
                                                      int32_t pixel_format, const asymtrack_box* box);
ASYMTRACK_API asymtrack_status asymtrack_tracker_update(asymtrack_tracker* tracker, const uint8_t* pixels,
                                                        int32_t width, int32_t height, int64_t stride_bytes,
                                                        int32_t pixel_format, asymtrack_box* out_box,
                                                        float* out_score);
/* The box the next update searches around; set it to re-centre the search (e.g. from a detector). */
ASYMTRACK_API asymtrack_status asymtrack_tracker_set_state(asymtrack_tracker* tracker, const asymtrack_box* box);
ASYMTRACK_API asymtrack_status asymtrack_tracker_get_state(asymtrack_tracker* tracker, asymtrack_box* out_box);
ASYMTRACK_API asymtrack_status asymtrack_tracker_get_timing(asymtrack_tracker* tracker, asymtrack_timing* out_timing);

#ifdef __cplusplus
}
#endif

#endif /* ASYMTRACK_H */
