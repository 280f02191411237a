/*
 * asymtrack-track [--device D] [--threads N] BUNDLE_DIR FRAMES_DIR x,y,w,h
 *
 * Tracks through the image files of FRAMES_DIR (JPEG, PNG, BMP, PPM/PGM: the files the Python
 * `track` reads from a folder), sorted by file name, from the box x,y,w,h on the first frame,
 * and prints one line per frame: x,y,w,h,score (the first line is the initial box with score
 * 1). Exits non-zero with the library's message on any failure. Frames are decoded by
 * stb_image (third_party/); POSIX (opendir) for the folder listing.
 */
#if !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asymtrack.h"
#include "stb_image.h"
#ifdef ASYMTRACK_HAVE_LIBJPEG
#include "jpeg_file.h"
#define JPEG_DECODER "libjpeg"
#else
#define JPEG_DECODER "stb_image"
#endif

typedef struct image {
    uint8_t* pixels;
    int width, height;
} image;

static int fail(const char* what, const char* detail) {
    fprintf(stderr, "asymtrack-track: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static int has_suffix(const char* name, const char* suffix) {
    size_t len = strlen(name), n = strlen(suffix), k = 0;
    if (len <= n) return 0;
    while (k < n && (name[len - n + k] | 0x20) == suffix[k]) k++;
    return k == n;
}

/* A frame file as 8-bit RGB, whatever its format and channels (a grey PGM or PNG is expanded);
 * free with free(). JPEG through libjpeg when built with it (OpenCV's pixels exactly). */
static int read_image(const char* path, image* img) {
    int channels = 0;
#ifdef ASYMTRACK_HAVE_LIBJPEG
    if (has_suffix(path, ".jpg") || has_suffix(path, ".jpeg")) {
        img->pixels = read_jpeg_rgb(path, &img->width, &img->height);
        return img->pixels != NULL;
    }
#endif
    img->pixels = stbi_load(path, &img->width, &img->height, &channels, 3);
    return img->pixels != NULL;
}

/* Whether `name` ends with one of the frame suffixes (any letter case, as in the Python `track`). */
static int is_frame_file(const char* name) {
    static const char* const suffixes[] = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (has_suffix(name, suffixes[i])) return 1;
    return 0;
}

static int by_name(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

/* The frame files of `folder`, sorted by name; NULL-terminated, malloc'ed. */
static char** list_frames(const char* folder, size_t* count) {
    DIR* dir = opendir(folder);
    char** names = NULL;
    size_t n = 0;
    struct dirent* entry;
    if (dir == NULL) return NULL;
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (!is_frame_file(entry->d_name)) continue;
        char** grown = (char**)realloc(names, (n + 2) * sizeof *names);
        if (grown == NULL) break;
        names = grown;
        names[n] = (char*)malloc(strlen(folder) + len + 2);
        if (names[n] == NULL) break;
        sprintf(names[n++], "%s/%s", folder, entry->d_name);
    }
    closedir(dir);
    if (names) qsort(names, n, sizeof *names, by_name), names[n] = NULL;
    *count = n;
    return names;
}

static int track(asymtrack_tracker* tracker, char** frames, size_t count, asymtrack_box box) {
    for (size_t i = 0; i < count; i++) {
        image img = {NULL, 0, 0};
        float score = 1.0f;
        if (!read_image(frames[i], &img)) {
            fprintf(stderr, "asymtrack-track: %s: cannot decode it as an image\n", frames[i]);
            return 1;
        }
        int s = i == 0 ? asymtrack_tracker_init(tracker, img.pixels, img.width, img.height, (int64_t)img.width * 3,
                                                ASYMTRACK_PIXEL_RGB, &box)
                       : asymtrack_tracker_update(tracker, img.pixels, img.width, img.height, (int64_t)img.width * 3,
                                                  ASYMTRACK_PIXEL_RGB, &box, &score);
        free(img.pixels); /* stb_image allocates with malloc too */
        if (s != ASYMTRACK_OK) return fail(frames[i], asymtrack_tracker_last_error(tracker));
        printf("%.6f,%.6f,%.6f,%.6f,%.6f\n", box.x, box.y, box.width, box.height, (double)score);
    }
    asymtrack_timing timing;
    if (asymtrack_tracker_get_timing(tracker, &timing) == ASYMTRACK_OK && timing.updates > 0)
        fprintf(stderr, "asymtrack-track: %zu frames, %.2f ms per update (%.2f ms in the search graph); JPEG decoder: %s\n",
                count, timing.total_update_ms / (double)timing.updates, timing.total_inference_ms / (double)timing.updates,
                JPEG_DECODER);
    return 0;
}

static int run(const char* bundle_dir, const char* frames_dir, asymtrack_box box, const char* device, int threads) {
    size_t count = 0;
    char** frames = list_frames(frames_dir, &count);
    if (frames == NULL || count == 0) {
        free(frames);
        return fail("no frame files (.jpg .jpeg .png .bmp .ppm .pgm) in", frames_dir);
    }
    asymtrack_bundle* bundle = NULL;
    asymtrack_tracker* tracker = NULL;
    int rc;
    if (asymtrack_bundle_open(bundle_dir, device, threads, &bundle) != ASYMTRACK_OK)
        rc = fail("cannot open the bundle", asymtrack_bundle_last_error(bundle));
    else if (asymtrack_tracker_create(bundle, &tracker) != ASYMTRACK_OK)
        rc = fail("cannot create a tracker", asymtrack_bundle_last_error(bundle));
    else
        rc = track(tracker, frames, count, box);
    asymtrack_tracker_destroy(tracker);
    asymtrack_bundle_close(bundle);
    for (size_t i = 0; i < count; i++) free(frames[i]);
    free(frames);
    return rc;
}

/* A whole decimal number in [0, 1024] (the library's bound), not atoi's silent wrap or 0. */
static int parse_threads(const char* text, int* out) {
    char* end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 1024) return 0;
    *out = (int)value;
    return 1;
}

int main(int argc, char** argv) {
    const char* device = "CPU";
    int threads = 0, first = 1;
    for (; first + 1 < argc && strncmp(argv[first], "--", 2) == 0; first += 2) {
        if (strcmp(argv[first], "--device") == 0) device = argv[first + 1];
        else if (strcmp(argv[first], "--threads") == 0) {
            if (!parse_threads(argv[first + 1], &threads)) {
                fail("--threads takes an integer from 0 to 1024, got", argv[first + 1]);
                return 2;
            }
        }
        else return fail("unknown option", argv[first]);
    }
    asymtrack_box box;
    char tail;
    if (argc - first != 3 ||
        sscanf(argv[first + 2], "%lf,%lf,%lf,%lf%c", &box.x, &box.y, &box.width, &box.height, &tail) != 4) {
        fprintf(stderr, "usage: asymtrack-track [--device D] [--threads N] BUNDLE_DIR FRAMES_DIR x,y,w,h\n");
        return 2;
    }
    return run(argv[first], argv[first + 1], box, device, threads);
}
