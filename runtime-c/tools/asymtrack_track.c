/*
 * asymtrack-track [--device D] [--threads N] BUNDLE_DIR FRAMES_DIR x,y,w,h
 *
 * Tracks through the binary PPM (P6, 8-bit) frames of FRAMES_DIR, sorted by file name, from
 * the box x,y,w,h on the first frame, and prints one line per frame: x,y,w,h,score (the first
 * line is the initial box with score 1). Exits non-zero with the library's message on any
 * failure. POSIX (opendir) for the folder listing.
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

typedef struct image {
    uint8_t* pixels;
    int width, height;
} image;

static int fail(const char* what, const char* detail) {
    fprintf(stderr, "asymtrack-track: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* One header number of a PPM, skipping whitespace and # comments. */
static int ppm_number(FILE* f, int* out) {
    int c = fgetc(f);
    while (c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        if (c == '#') while (c != '\n' && c != EOF) c = fgetc(f);
        c = fgetc(f);
    }
    long value = 0;
    if (c < '0' || c > '9') return 0;
    for (; c >= '0' && c <= '9' && value < 1000000; c = fgetc(f)) value = value * 10 + (c - '0');
    *out = (int)value;
    return c == ' ' || c == '\t' || c == '\n' || c == '\r'; /* exactly one whitespace ends the header */
}

static int read_ppm(const char* path, image* img) {
    FILE* f = fopen(path, "rb");
    int maxval = 0, ok = f != NULL && fgetc(f) == 'P' && fgetc(f) == '6';
    ok = ok && ppm_number(f, &img->width) && ppm_number(f, &img->height) && ppm_number(f, &maxval);
    ok = ok && maxval == 255 && img->width > 0 && img->height > 0;
    size_t size = ok ? (size_t)img->width * (size_t)img->height * 3 : 0;
    img->pixels = ok ? (uint8_t*)malloc(size) : NULL;
    ok = img->pixels != NULL && fread(img->pixels, 1, size, f) == size;
    if (f) fclose(f);
    if (!ok) free(img->pixels), img->pixels = NULL;
    return ok;
}

static int by_name(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

/* The .ppm files of `folder`, sorted; NULL-terminated, malloc'ed. */
static char** list_frames(const char* folder, size_t* count) {
    DIR* dir = opendir(folder);
    char** names = NULL;
    size_t n = 0;
    struct dirent* entry;
    if (dir == NULL) return NULL;
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 4, ".ppm") != 0) continue;
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
        if (!read_ppm(frames[i], &img)) return fail("not a binary 8-bit PPM (P6, maxval 255)", frames[i]);
        int s = i == 0 ? asymtrack_tracker_init(tracker, img.pixels, img.width, img.height, (int64_t)img.width * 3,
                                                ASYMTRACK_PIXEL_RGB, &box)
                       : asymtrack_tracker_update(tracker, img.pixels, img.width, img.height, (int64_t)img.width * 3,
                                                  ASYMTRACK_PIXEL_RGB, &box, &score);
        free(img.pixels);
        if (s != ASYMTRACK_OK) return fail(frames[i], asymtrack_tracker_last_error(tracker));
        printf("%.6f,%.6f,%.6f,%.6f,%.6f\n", box.x, box.y, box.width, box.height, (double)score);
    }
    asymtrack_timing timing;
    if (asymtrack_tracker_get_timing(tracker, &timing) == ASYMTRACK_OK && timing.updates > 0)
        fprintf(stderr, "asymtrack-track: %zu frames, %.2f ms per update (%.2f ms in the search graph)\n", count,
                timing.total_update_ms / (double)timing.updates, timing.total_inference_ms / (double)timing.updates);
    return 0;
}

static int run(const char* bundle_dir, const char* frames_dir, asymtrack_box box, const char* device, int threads) {
    size_t count = 0;
    char** frames = list_frames(frames_dir, &count);
    if (frames == NULL || count == 0) {
        free(frames);
        return fail("no .ppm frames in", frames_dir);
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
