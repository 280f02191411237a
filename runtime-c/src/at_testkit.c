/*
 * Test entry points into the core (no OpenVINO): the Python tests load this small shared
 * library with ctypes and compare the crop and resize with OpenCV, SHA-256 with hashlib and
 * the manifest reader with Python's. Not part of the public API.
 */
#include <stdio.h>
#include <string.h>

#include "at_core.h"

#if defined(_WIN32)
#define ATK_API __declspec(dllexport)
#else
#define ATK_API __attribute__((visibility("default")))
#endif

static int report(int status, const at_error* err, char* message, size_t size) {
    if (message != NULL && size > 0) snprintf(message, size, "%s", status ? err->message : "");
    return status;
}

ATK_API int atk_resize(const uint8_t* src, int width, int height, int64_t stride, int channels, uint8_t* dst,
                       int dst_width, int dst_height, char* message, size_t size) {
    at_error err = {""};
    return report(at_resize_u8(src, width, height, stride, channels, dst, dst_width, dst_height, &err), &err, message, size);
}

ATK_API int atk_crop(const uint8_t* pixels, int32_t width, int32_t height, int64_t stride, int32_t format,
                     const asymtrack_box* box, double factor, int out_size, uint8_t* out_rgb, double* resize_factor,
                     char* message, size_t size) {
    at_error err = {""};
    at_frame frame = {pixels, width, height, stride, format};
    int s = at_check_frame(&frame, &err);
    if (!s) s = at_check_box(box, &err);
    if (!s) s = at_crop(&frame, box, factor, out_size, out_rgb, resize_factor, &err);
    return report(s, &err, message, size);
}

ATK_API void atk_sha256(const uint8_t* data, size_t length, char hex[65]) {
    at_sha256 ctx;
    uint8_t digest[32];
    at_sha256_init(&ctx);
    at_sha256_update(&ctx, data, length);
    at_sha256_final(&ctx, digest);
    at_sha256_hex(digest, hex);
}

ATK_API int atk_sha256_file(const char* path, char hex[65], uint64_t* bytes, char* message, size_t size) {
    at_error err = {""};
    return report(at_sha256_file(path, hex, bytes, &err), &err, message, size);
}

/* Parses manifest text; on success writes the clip margin and score threshold. */
ATK_API int atk_manifest(const char* text, size_t length, double* clip_margin, double* score_threshold, char* message,
                         size_t size) {
    at_error err = {""};
    at_manifest m;
    int s = at_manifest_parse(text, length, &m, &err);
    if (!s) *clip_margin = m.clip_margin, *score_threshold = m.score_threshold, at_manifest_free(&m);
    return report(s, &err, message, size);
}

/* Parses JSON; on success returns the number of a top-level number (or NaN for other types). */
ATK_API int atk_json_number(const char* text, size_t length, double* number, char* message, size_t size) {
    at_error err = {""};
    at_json* v = at_json_parse(text, length, &err);
    if (v == NULL) return report(ASYMTRACK_ERROR_BAD_BUNDLE, &err, message, size);
    *number = v->type == AT_JSON_NUMBER ? v->number : 0.0 / 0.0;
    at_json_free(v);
    return report(ASYMTRACK_OK, &err, message, size);
}
