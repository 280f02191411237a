/*
 * The public API (asymtrack.h) over OpenVINO's C API.
 *
 * A bundle compiles the two graphs once. A tracker owns one infer request per graph and the
 * tensors they read and write: its crops (written in place by the crop code), its template
 * state (template outputs bound as search inputs, so init() costs no copy) and the box and
 * score outputs. Memory is allocated when the tracker is created; update() allocates only the
 * crop's small coefficient tables.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openvino/c/openvino.h>

#include "at_core.h"

struct asymtrack_bundle {
    at_error error;
    at_manifest manifest;
    ov_core_t* core;
    ov_compiled_model_t* compiled[2];
    char device[64];
    char inference_precision[16];
    char openvino_version[128];
    int trackers;
    int closed;
};

enum { CROP, BOX, SCORE, N_OWN };

struct asymtrack_tracker {
    at_error error;
    asymtrack_bundle* bundle;
    ov_infer_request_t* requests[2];
    ov_tensor_t* own[N_OWN];     /* search crop, box, score */
    ov_tensor_t* template_crop;
    ov_tensor_t** state;
    uint8_t* template_pixels;
    uint8_t* search_pixels;
    const float* box;
    const float* score;
    int initialized, has_state;
    asymtrack_box state_box;
    asymtrack_timing timing;
};

static const char* const STATUS_NAMES[] = {
    "ASYMTRACK_OK", "ASYMTRACK_ERROR_INVALID_ARGUMENT", "ASYMTRACK_ERROR_BAD_BUNDLE", "ASYMTRACK_ERROR_UNSUPPORTED",
    "ASYMTRACK_ERROR_NOT_INITIALIZED", "ASYMTRACK_ERROR_RUNTIME", "ASYMTRACK_ERROR_OUT_OF_MEMORY"};

const char* asymtrack_version(void) { return ASYMTRACK_VERSION_STRING; }

const char* asymtrack_status_name(int status) {
    if (status < 0 || status >= (int)(sizeof STATUS_NAMES / sizeof STATUS_NAMES[0])) return "ASYMTRACK_UNKNOWN_STATUS";
    return STATUS_NAMES[status];
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The Python side's bound (asymtrack_deploy/limits.py, MAX_THREADS). */
#define AT_MAX_THREADS 1024

static int ov_failed(at_error* err, ov_status_e status, const char* what) {
    if (status == OK) return ASYMTRACK_OK;
    const char* detail = ov_get_last_err_msg(); /* a copy this call owns: ov_free below */
    int s = at_fail(err, ASYMTRACK_ERROR_RUNTIME, "OpenVINO: %s failed (%s)%s%.600s", what, ov_get_error_info(status),
                    detail && *detail ? ": " : "", detail ? detail : "");
    if (detail) ov_free(detail);
    return s;
}

static void copy_text(char* out, size_t size, const char* text) {
    snprintf(out, size, "%s", text ? text : "");
}

/* ---- bundle ---------------------------------------------------------------------------------- */

/* A space- or comma-separated OpenVINO property value contains `token`. */
static int has_token(const char* list, const char* token) {
    size_t n = strlen(token);
    for (const char* p = list; p && (p = strstr(p, token)) != NULL; p += n) {
        int starts = p == list || strchr(" ,[", p[-1]) != NULL;
        int ends = p[n] == '\0' || strchr(" ,]", p[n]) != NULL;
        if (starts && ends) return 1;
    }
    return 0;
}

static int device_supports(asymtrack_bundle* b, const char* property) {
    char device[64], *value = NULL;
    copy_text(device, sizeof device, b->device);
    device[strcspn(device, ":.")] = '\0';
    if (ov_core_get_property(b->core, device, "SUPPORTED_PROPERTIES", &value) != OK) return 0;
    int yes = has_token(value, property);
    ov_free(value);
    return yes;
}

/* The manifest's hint, as the Python backend reads it: on a CPU, f16 compiles as f32 (an fp16
 * bundle keeps its fp16 weights and computes in f32, as its export measured, giving the same
 * boxes on every CPU; native f16 arithmetic moved them past fp16's tolerance on aarch64), and
 * bf16 on a CPU without bf16 arithmetic is refused (NULL): OpenVINO would quietly run f32. */
static const char* precision_hint(asymtrack_bundle* b) {
    const char* hint = b->manifest.precision_hint;
    char* capabilities = NULL;
    if (strncmp(b->device, "CPU", 3) != 0) return hint;
    if (strcmp(hint, "f16") == 0) return "f32";
    if (strcmp(hint, "bf16") != 0) return hint;
    if (ov_core_get_property(b->core, "CPU", "OPTIMIZATION_CAPABILITIES", &capabilities) != OK) return NULL;
    int native = has_token(capabilities, "BF16");
    ov_free(capabilities);
    return native ? hint : NULL;
}

static int compile_graph(asymtrack_bundle* b, const char* folder, int graph, int32_t threads) {
    const at_graph* g = &b->manifest.graphs[graph];
    char threads_text[16];
    const char* hint = precision_hint(b);
    if (hint == NULL)
        return at_fail(&b->error, ASYMTRACK_ERROR_UNSUPPORTED, "a bf16 bundle needs a CPU with bf16 arithmetic (AMX or "
                       "AVX512-BF16); export --precision fp32 or int8 for this one");
    const char* keys[3] = {"PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT", "INFERENCE_NUM_THREADS"};
    const char* values[3] = {"LATENCY", hint, threads_text};
    int use[3] = {device_supports(b, keys[0]), hint[0] != '\0' && device_supports(b, keys[1]),
                  threads > 0 && device_supports(b, keys[2])};
    snprintf(threads_text, sizeof threads_text, "%d", (int)threads);
    const char* args[6];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        if (use[i]) args[n++] = keys[i], args[n++] = values[i];
    char* model_path = at_join_path(folder, g->model_file);
    char* weights_path = g->weights_file ? at_join_path(folder, g->weights_file) : NULL;
    ov_model_t* model = NULL;
    int s = model_path && (weights_path || !g->weights_file) ? ASYMTRACK_OK
                                                             : at_fail(&b->error, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    if (!s) s = ov_failed(&b->error, ov_core_read_model(b->core, model_path, weights_path, &model), model_path);
    ov_compiled_model_t** out = &b->compiled[graph];
    if (!s) {
        ov_status_e st = n == 0 ? ov_core_compile_model(b->core, model, b->device, 0, out)
                       : n == 2 ? ov_core_compile_model(b->core, model, b->device, 2, out, args[0], args[1])
                       : n == 4 ? ov_core_compile_model(b->core, model, b->device, 4, out, args[0], args[1], args[2], args[3])
                                : ov_core_compile_model(b->core, model, b->device, 6, out, args[0], args[1], args[2], args[3],
                                                        args[4], args[5]);
        s = ov_failed(&b->error, st, "compiling the graph");
    }
    if (model) ov_model_free(model);
    free(model_path);
    free(weights_path);
    return s;
}

static ov_element_type_e element_type(at_dtype d) {
    switch (d) {
        case AT_U8: return U8;
        case AT_I8: return I8;
        case AT_I32: return I32;
        case AT_I64: return I64;
        case AT_F16: return F16;
        default: return F32;
    }
}

/* The compiled graph's input or output `name` exists with the manifest's shape and dtype. */
static int check_port(asymtrack_bundle* b, int graph, const at_tensor* t, int is_input) {
    ov_output_const_port_t* port = NULL;
    ov_shape_t shape = {0, NULL};
    ov_element_type_e type = DYNAMIC;
    ov_status_e st = is_input ? ov_compiled_model_input_by_name(b->compiled[graph], t->name, &port)
                              : ov_compiled_model_output_by_name(b->compiled[graph], t->name, &port);
    int same = st == OK && ov_const_port_get_shape(port, &shape) == OK && shape.rank == t->rank;
    for (int i = 0; same && i < t->rank; i++) same = shape.dims[i] == t->shape[i];
    same = same && ov_port_get_element_type(port, &type) == OK && type == element_type(t->dtype);
    if (shape.dims) ov_shape_free(&shape);
    if (port) ov_output_const_port_free(port);
    if (same) return ASYMTRACK_OK;
    return at_fail(&b->error, ASYMTRACK_ERROR_BAD_BUNDLE, "the %s graph has no %s '%s' of the manifest's shape and dtype",
                   graph == AT_TEMPLATE ? "template" : "search", is_input ? "input" : "output", t->name);
}

static int check_ports(asymtrack_bundle* b) {
    int s = ASYMTRACK_OK;
    for (int g = 0; g < 2; g++) {
        const at_graph* spec = &b->manifest.graphs[g];
        for (size_t i = 0; !s && i < spec->n_inputs; i++) s = check_port(b, g, &spec->inputs[i], 1);
        for (size_t i = 0; !s && i < spec->n_outputs; i++) s = check_port(b, g, &spec->outputs[i], 0);
    }
    return s;
}

static void describe(asymtrack_bundle* b) {
    ov_version_t version = {NULL, NULL};
    char* hint = NULL;
    if (ov_get_openvino_version(&version) == OK) {
        copy_text(b->openvino_version, sizeof b->openvino_version, version.buildNumber);
        ov_version_free(&version);
    }
    if (ov_compiled_model_get_property(b->compiled[AT_SEARCH], "INFERENCE_PRECISION_HINT", &hint) == OK) {
        copy_text(b->inference_precision, sizeof b->inference_precision, hint);
        ov_free(hint);
    }
}

static int open_bundle(asymtrack_bundle* b, const char* folder, const char* device, int32_t threads) {
    if (folder == NULL || folder[0] == '\0')
        return at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "folder is NULL or empty");
    if (threads < 0 || threads > AT_MAX_THREADS)
        return at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT,
                       "threads must be from 0 (OpenVINO's choice) to %d, got %d", AT_MAX_THREADS, (int)threads);
    if (device != NULL && (device[0] == '\0' || strlen(device) >= sizeof b->device))
        return at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "device must be a name such as \"CPU\"");
    copy_text(b->device, sizeof b->device, device ? device : "CPU");
    int s = at_manifest_load(folder, &b->manifest, &b->error);
    if (!s) s = ov_failed(&b->error, ov_core_create(&b->core), "creating the OpenVINO core");
    for (int g = 0; !s && g < 2; g++) s = compile_graph(b, folder, g, threads);
    if (!s) s = check_ports(b);
    if (!s) describe(b);
    return s;
}

static void free_bundle(asymtrack_bundle* b) {
    for (int g = 0; g < 2; g++)
        if (b->compiled[g]) ov_compiled_model_free(b->compiled[g]);
    if (b->core) ov_core_free(b->core);
    at_manifest_free(&b->manifest);
    free(b);
}

asymtrack_status asymtrack_bundle_open(const char* folder, const char* device, int32_t threads,
                                       asymtrack_bundle** out_bundle) {
    if (out_bundle == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    asymtrack_bundle* b = (asymtrack_bundle*)calloc(1, sizeof *b);
    *out_bundle = b;
    if (b == NULL) return ASYMTRACK_ERROR_OUT_OF_MEMORY;
    int s = open_bundle(b, folder, device, threads);
    if (s) { /* keep the message, release the rest */
        for (int g = 0; g < 2; g++)
            if (b->compiled[g]) ov_compiled_model_free(b->compiled[g]), b->compiled[g] = NULL;
        at_manifest_free(&b->manifest);
    }
    b->closed = s != ASYMTRACK_OK ? -1 : 0; /* -1: failed open, no tracker may be made */
    return (asymtrack_status)s;
}

void asymtrack_bundle_close(asymtrack_bundle* b) {
    if (b == NULL) return;
    b->closed = 1;
    if (b->trackers == 0) free_bundle(b);
}

const char* asymtrack_bundle_last_error(const asymtrack_bundle* b) {
    return b == NULL ? "bundle is NULL" : b->error.message;
}

asymtrack_status asymtrack_bundle_get_info(asymtrack_bundle* b, asymtrack_bundle_info* out) {
    if (b == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    if (out == NULL) return (asymtrack_status)at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "out_info is NULL");
    if (b->closed) return (asymtrack_status)at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "the bundle is not open");
    const at_manifest* m = &b->manifest;
    memset(out, 0, sizeof *out);
    copy_text(out->variant, sizeof out->variant, m->variant);
    copy_text(out->target, sizeof out->target, m->target);
    copy_text(out->precision, sizeof out->precision, m->precision);
    copy_text(out->inference_precision, sizeof out->inference_precision, b->inference_precision);
    copy_text(out->device, sizeof out->device, b->device);
    copy_text(out->openvino_version, sizeof out->openvino_version, b->openvino_version);
    out->template_size = m->template_size, out->search_size = m->search_size;
    out->template_factor = m->template_factor, out->search_factor = m->search_factor;
    out->clip_margin = m->clip_margin, out->score_threshold = m->score_threshold;
    b->error.message[0] = '\0';
    return ASYMTRACK_OK;
}

/* ---- tracker: creation ------------------------------------------------------------------------- */

/* A tensor of the manifest's shape in memory the tracker owns, bound to `name` of each request. */
static int bind_tensor(asymtrack_tracker* t, const at_tensor* spec, ov_infer_request_t* a, ov_infer_request_t* b2,
                       ov_tensor_t** out, void** data) {
    ov_shape_t shape = {0, NULL};
    at_error* err = &t->bundle->error;
    int s = ov_failed(err, ov_shape_create(spec->rank, spec->shape, &shape), "creating a shape");
    if (!s) s = ov_failed(err, ov_tensor_create(element_type(spec->dtype), shape, out), "allocating a tensor");
    if (shape.dims) ov_shape_free(&shape);
    if (!s) s = ov_failed(err, ov_infer_request_set_tensor(a, spec->name, *out), spec->name);
    if (!s && b2) s = ov_failed(err, ov_infer_request_set_tensor(b2, spec->name, *out), spec->name);
    if (!s && data) s = ov_failed(err, ov_tensor_data(*out, data), "mapping a tensor");
    return s;
}

static int bind_all(asymtrack_tracker* t) {
    const at_manifest* m = &t->bundle->manifest;
    ov_infer_request_t *tq = t->requests[AT_TEMPLATE], *sq = t->requests[AT_SEARCH];
    const at_graph* search = &m->graphs[AT_SEARCH];
    void *crop = NULL, *template_crop = NULL, *box = NULL, *score = NULL;
    int s = bind_tensor(t, &m->graphs[AT_TEMPLATE].inputs[0], tq, NULL, &t->template_crop, &template_crop);
    if (!s) s = bind_tensor(t, at_find_tensor(search->inputs, search->n_inputs, m->search_input), sq, NULL, &t->own[CROP], &crop);
    if (!s) s = bind_tensor(t, at_find_tensor(search->outputs, search->n_outputs, m->box_output), sq, NULL, &t->own[BOX], &box);
    if (!s) s = bind_tensor(t, at_find_tensor(search->outputs, search->n_outputs, m->score_output), sq, NULL, &t->own[SCORE], &score);
    for (size_t i = 0; !s && i < m->n_state; i++) s = bind_tensor(t, &m->state[i], tq, sq, &t->state[i], NULL);
    t->template_pixels = (uint8_t*)template_crop, t->search_pixels = (uint8_t*)crop;
    t->box = (const float*)box, t->score = (const float*)score;
    return s;
}

static void free_tracker(asymtrack_tracker* t) {
    size_t n_state = t->bundle->manifest.n_state;
    for (int g = 0; g < 2; g++)
        if (t->requests[g]) ov_infer_request_free(t->requests[g]);
    for (int i = 0; i < N_OWN; i++)
        if (t->own[i]) ov_tensor_free(t->own[i]);
    if (t->template_crop) ov_tensor_free(t->template_crop);
    for (size_t i = 0; t->state && i < n_state; i++)
        if (t->state[i]) ov_tensor_free(t->state[i]);
    free(t->state);
    free(t);
}

asymtrack_status asymtrack_tracker_create(asymtrack_bundle* b, asymtrack_tracker** out) {
    if (b == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    if (out == NULL) return (asymtrack_status)at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "out_tracker is NULL");
    *out = NULL;
    if (b->closed) return (asymtrack_status)at_fail(&b->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "the bundle is not open");
    asymtrack_tracker* t = (asymtrack_tracker*)calloc(1, sizeof *t);
    ov_tensor_t** state = (ov_tensor_t**)calloc(b->manifest.n_state + 1, sizeof *state);
    if (t == NULL || state == NULL) {
        free(t), free(state);
        return (asymtrack_status)at_fail(&b->error, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    t->bundle = b, t->state = state;
    int s = ASYMTRACK_OK;
    for (int g = 0; !s && g < 2; g++)
        s = ov_failed(&b->error, ov_compiled_model_create_infer_request(b->compiled[g], &t->requests[g]), "creating an infer request");
    if (!s) s = bind_all(t);
    if (s) { free_tracker(t); return (asymtrack_status)s; }
    b->trackers++;
    b->error.message[0] = '\0';
    *out = t;
    return ASYMTRACK_OK;
}

void asymtrack_tracker_destroy(asymtrack_tracker* t) {
    if (t == NULL) return;
    asymtrack_bundle* b = t->bundle;
    free_tracker(t);
    if (--b->trackers == 0 && b->closed) free_bundle(b);
}

const char* asymtrack_tracker_last_error(const asymtrack_tracker* t) {
    return t == NULL ? "tracker is NULL" : t->error.message;
}

/* ---- tracker: init, update, state ------------------------------------------------------------- */

static asymtrack_status done(asymtrack_tracker* t, int status) {
    if (status == ASYMTRACK_OK) t->error.message[0] = '\0';
    return (asymtrack_status)status;
}

static int check_frame_and_box(asymtrack_tracker* t, const at_frame* frame, const asymtrack_box* box) {
    int s = at_check_frame(frame, &t->error);
    return s ? s : at_check_box_in_frame(box, frame->width, frame->height, &t->error);
}

asymtrack_status asymtrack_tracker_init(asymtrack_tracker* t, const uint8_t* pixels, int32_t width, int32_t height,
                                        int64_t stride_bytes, int32_t pixel_format, const asymtrack_box* box) {
    if (t == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    const at_manifest* m = &t->bundle->manifest;
    at_frame frame = {pixels, width, height, stride_bytes, pixel_format};
    double resize_factor;
    int s = check_frame_and_box(t, &frame, box);
    if (!s) s = at_crop(&frame, box, m->template_factor, m->template_size, t->template_pixels, &resize_factor, &t->error);
    if (!s) {
        s = ov_failed(&t->error, ov_infer_request_infer(t->requests[AT_TEMPLATE]), "running the template graph");
        t->initialized = s == ASYMTRACK_OK; /* a failed run may have left the template state half written */
    }
    if (!s) t->state_box = *box, t->has_state = 1;
    return done(t, s);
}

static int finite_box(const asymtrack_box* b) {
    return isfinite(b->x) && isfinite(b->y) && isfinite(b->width) && isfinite(b->height);
}

static int search(asymtrack_tracker* t, const at_frame* frame, asymtrack_box* out_box, float* out_score) {
    const at_manifest* m = &t->bundle->manifest;
    double resize_factor;
    int s = at_crop(frame, &t->state_box, m->search_factor, m->search_size, t->search_pixels, &resize_factor, &t->error);
    if (s) return s;
    double started = now_ms();
    s = ov_failed(&t->error, ov_infer_request_infer(t->requests[AT_SEARCH]), "running the search graph");
    t->timing.last_inference_ms = now_ms() - started;
    if (s) return s;
    asymtrack_box mapped = at_map_back(t->box, &t->state_box, m->search_size, resize_factor);
    asymtrack_box clipped = at_clip_box(&mapped, frame->height, frame->width, m->clip_margin);
    if (!finite_box(&clipped) || !isfinite(*t->score))
        return at_fail(&t->error, ASYMTRACK_ERROR_RUNTIME, "the network returned a non-finite box or score; state kept");
    t->state_box = clipped;
    *out_box = clipped;
    *out_score = *t->score;
    return ASYMTRACK_OK;
}

asymtrack_status asymtrack_tracker_update(asymtrack_tracker* t, const uint8_t* pixels, int32_t width, int32_t height,
                                          int64_t stride_bytes, int32_t pixel_format, asymtrack_box* out_box,
                                          float* out_score) {
    if (t == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    double started = now_ms();
    at_frame frame = {pixels, width, height, stride_bytes, pixel_format};
    int s = ASYMTRACK_OK;
    if (!t->initialized)
        s = at_fail(&t->error, ASYMTRACK_ERROR_NOT_INITIALIZED, "update() called before init(): call init(frame, box) first");
    if (!s && (out_box == NULL || out_score == NULL))
        s = at_fail(&t->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "out_box and out_score must not be NULL");
    if (!s) s = at_check_frame(&frame, &t->error);
    if (!s) s = search(t, &frame, out_box, out_score);
    if (!s) {
        t->timing.last_update_ms = now_ms() - started;
        t->timing.updates++;
        t->timing.total_update_ms += t->timing.last_update_ms;
        t->timing.total_inference_ms += t->timing.last_inference_ms;
    }
    return done(t, s);
}

asymtrack_status asymtrack_tracker_set_state(asymtrack_tracker* t, const asymtrack_box* box) {
    if (t == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    int s = at_check_box(box, &t->error);
    if (!s) t->state_box = *box, t->has_state = 1;
    return done(t, s);
}

asymtrack_status asymtrack_tracker_get_state(asymtrack_tracker* t, asymtrack_box* out_box) {
    if (t == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    int s = out_box == NULL ? at_fail(&t->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "out_box is NULL")
          : !t->has_state   ? at_fail(&t->error, ASYMTRACK_ERROR_NOT_INITIALIZED, "no state yet: call init() or set_state()")
                            : ASYMTRACK_OK;
    if (!s) *out_box = t->state_box;
    return done(t, s);
}

asymtrack_status asymtrack_tracker_get_timing(asymtrack_tracker* t, asymtrack_timing* out) {
    if (t == NULL) return ASYMTRACK_ERROR_INVALID_ARGUMENT;
    if (out == NULL) return done(t, at_fail(&t->error, ASYMTRACK_ERROR_INVALID_ARGUMENT, "out_timing is NULL"));
    *out = t->timing;
    return done(t, ASYMTRACK_OK);
}
