/*
 * manifest.json (schema 2) into an at_manifest, refusing anything this library cannot run
 * exactly: another schema version, an unknown tracker rule, a target without OpenVINO-readable
 * graphs, a batch other than 1, inputs or outputs that differ from what the tracker feeds and
 * reads. Every message starts with "manifest.json: " and names the field.
 */
#if !defined(_WIN32) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* realpath */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_core.h"

#define MAX_MANIFEST_BYTES (16 << 20)
#define BAD ASYMTRACK_ERROR_BAD_BUNDLE
#define UNSUPPORTED ASYMTRACK_ERROR_UNSUPPORTED

/* The member at a dotted path ("tracker.crop.edge"), or NULL. */
static const at_json* at_path(const at_json* root, const char* path) {
    char key[64];
    const at_json* node = root;
    while (node != NULL && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        node = at_json_get(node, key);
        path += n + (path[n] == '.');
    }
    return node;
}

static int need(const at_json* root, const char* path, at_json_type type, const at_json** out, at_error* err) {
    static const char* names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    const at_json* v = at_path(root, path);
    if (v == NULL) return at_fail(err, BAD, "manifest.json: %s is missing", path);
    if (v->type != type) return at_fail(err, BAD, "manifest.json: %s must be %s", path, names[type]);
    *out = v;
    return ASYMTRACK_OK;
}

static int need_int(const at_json* root, const char* path, int low, int high, int* out, at_error* err) {
    const at_json* v;
    int status = need(root, path, AT_JSON_NUMBER, &v, err);
    if (status) return status;
    if (!v->is_integer || !(v->number >= low && v->number <= high))
        return at_fail(err, BAD, "manifest.json: %s must be an integer in [%d, %d], got %g", path, low, high, v->number);
    *out = (int)v->number;
    return ASYMTRACK_OK;
}

static int need_number(const at_json* root, const char* path, double low, double high, double* out, at_error* err) {
    const at_json* v;
    int status = need(root, path, AT_JSON_NUMBER, &v, err);
    if (status) return status;
    if (!isfinite(v->number) || v->number < low || v->number > high)
        return at_fail(err, BAD, "manifest.json: %s must be a number in [%g, %g], got %g", path, low, high, v->number);
    *out = v->number;
    return ASYMTRACK_OK;
}

static int need_text(const at_json* root, const char* path, char* out, size_t size, at_error* err) {
    const at_json* v;
    int status = need(root, path, AT_JSON_STRING, &v, err);
    if (status) return status;
    if (strlen(v->string) >= size) return at_fail(err, BAD, "manifest.json: %s is too long", path);
    memcpy(out, v->string, strlen(v->string) + 1);
    return ASYMTRACK_OK;
}

static int need_equal(const at_json* root, const char* path, const char* expected, int status_if_other, at_error* err) {
    const at_json* v;
    int status = need(root, path, AT_JSON_STRING, &v, err);
    if (status) return status;
    if (strcmp(v->string, expected) != 0) {
        if (status_if_other == UNSUPPORTED)
            return at_fail(err, UNSUPPORTED,
                           "manifest.json: %s '%s' is not a rule this library implements (known: %s); "
                           "use a newer asymtrack C library", path, v->string, expected);
        return at_fail(err, status_if_other, "manifest.json: %s must be '%s', got '%s'", path, expected, v->string);
    }
    return ASYMTRACK_OK;
}

static char* copy_string(const char* s) {
    size_t n = strlen(s) + 1;
    char* out = (char*)malloc(n);
    if (out != NULL) memcpy(out, s, n);
    return out;
}

/* ---- schema version ------------------------------------------------------------------------ */

static int check_schema(const at_json* root, at_error* err) {
    const at_json* v = at_json_get(root, "schema_version");
    if (v == NULL || v->type != AT_JSON_NUMBER || !v->is_integer)
        return at_fail(err, BAD, "manifest.json: schema_version is missing or not an integer");
    if (v->number == ASYMTRACK_MANIFEST_SCHEMA_VERSION) return ASYMTRACK_OK;
    if (v->number > ASYMTRACK_MANIFEST_SCHEMA_VERSION)
        return at_fail(err, UNSUPPORTED,
                       "manifest.json: schema_version %.0f is newer than this library reads (%d); "
                       "use a newer asymtrack C library", v->number, ASYMTRACK_MANIFEST_SCHEMA_VERSION);
    const at_json* target = at_path(root, "target");
    const at_json* precision = at_path(root, "precision");
    const at_json* variant = at_path(root, "model.variant");
    return at_fail(err, UNSUPPORTED,
                   "manifest.json: schema_version %.0f is older than this library reads (%d: the tracker rules); "
                   "re-export the bundle: asymtrack-deploy export --target %s --precision %s --variant %s "
                   "--checkpoint CHECKPOINT --out DIR --force", v->number, ASYMTRACK_MANIFEST_SCHEMA_VERSION,
                   target && target->type == AT_JSON_STRING ? target->string : "openvino",
                   precision && precision->type == AT_JSON_STRING ? precision->string : "fp32",
                   variant && variant->type == AT_JSON_STRING ? variant->string : "tiny");
}

/* ---- model, preprocess, tracker, inference ------------------------------------------------- */

/* The normalisation happens inside the graphs, so the library does not use these numbers; it
 * still refuses a manifest whose numbers are not numbers, as the Python reader does. */
static int check_normalisation(const at_json* root, at_error* err) {
    static const char* triples[] = {"preprocess.mean", "preprocess.std"};
    const at_json* scale = at_path(root, "preprocess.scale");
    if (scale == NULL || scale->type != AT_JSON_NUMBER || !isfinite(scale->number))
        return at_fail(err, BAD, "manifest.json: preprocess.scale must be a finite number");
    for (int t = 0; t < 2; t++) {
        const at_json* v = at_path(root, triples[t]);
        int ok = v != NULL && v->type == AT_JSON_ARRAY && v->count == 3;
        for (size_t i = 0; ok && i < 3; i++) ok = v->items[i]->type == AT_JSON_NUMBER && isfinite(v->items[i]->number);
        if (!ok) return at_fail(err, BAD, "manifest.json: %s must be 3 finite numbers (one per channel)", triples[t]);
    }
    return ASYMTRACK_OK;
}

/* Each variant's crop sides, as asymtrack_deploy/bundle.py's VARIANT_CROP_SIZES: a manifest whose
 * variant was edited names the wrong network (tiny and small differ only in depth, no shape). */
static int check_variant(const at_manifest* m, at_error* err) {
    static const struct { const char* name; int template_size, search_size; } known[] = {
        {"tiny", 128, 256}, {"small", 128, 256}, {"base", 192, 384}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(m->variant, known[i].name) != 0) continue;
        if (known[i].template_size == m->template_size && known[i].search_size == m->search_size) return ASYMTRACK_OK;
        return at_fail(err, BAD, "manifest.json: model.variant '%s' takes %d / %d pixel crops, but the manifest's graphs "
                       "take %d / %d: the manifest was edited or belongs to other graphs; re-export the bundle",
                       m->variant, known[i].template_size, known[i].search_size, m->template_size, m->search_size);
    }
    return at_fail(err, BAD, "manifest.json: model.variant '%s' is not one of tiny, small, base", m->variant);
}

static int parse_model(const at_json* root, at_manifest* m, at_error* err) {
    int s = need_text(root, "model.variant", m->variant, sizeof m->variant, err);
    if (!s) s = need_int(root, "model.template_size", 1, 4096, &m->template_size, err);
    if (!s) s = need_int(root, "model.search_size", 1, 4096, &m->search_size, err);
    if (!s) s = need_number(root, "model.template_factor", 1e-3, 1e3, &m->template_factor, err);
    if (!s) s = need_number(root, "model.search_factor", 1e-3, 1e3, &m->search_factor, err);
    if (!s) s = check_variant(m, err);
    if (!s) s = need_text(root, "target", m->target, sizeof m->target, err);
    if (!s) s = need_text(root, "precision", m->precision, sizeof m->precision, err);
    if (!s) s = need_int(root, "batch", 1, 1 << 20, &m->batch, err);
    if (!s && m->batch != 1)
        s = at_fail(err, UNSUPPORTED, "manifest.json: batch %d: a C tracker follows one target; export with --batch 1",
                    m->batch);
    /* the graphs take raw RGB uint8 NHWC crops and normalise inside */
    if (!s) s = need_equal(root, "preprocess.color_order", "rgb", UNSUPPORTED, err);
    if (!s) s = need_equal(root, "preprocess.layout", "NHWC", UNSUPPORTED, err);
    if (!s) s = need_equal(root, "preprocess.dtype", "uint8", UNSUPPORTED, err);
    if (!s) s = check_normalisation(root, err);
    const at_json* in_graph = at_path(root, "preprocess.in_graph");
    if (!s && (in_graph == NULL || in_graph->type != AT_JSON_BOOL || !in_graph->boolean))
        s = at_fail(err, UNSUPPORTED, "manifest.json: preprocess.in_graph must be true (normalisation inside the graphs)");
    return s;
}

static int check_padding(const at_json* root, at_error* err) {
    const at_json* v;
    int s = need(root, "tracker.crop.padding_value", AT_JSON_ARRAY, &v, err);
    if (s) return s;
    int zero = v->count == 3;
    for (size_t i = 0; zero && i < 3; i++) zero = v->items[i]->type == AT_JSON_NUMBER && v->items[i]->number == 0;
    if (!zero) return at_fail(err, UNSUPPORTED, "manifest.json: tracker.crop.padding_value: only [0, 0, 0] is implemented");
    int min_side = 0;
    s = need_int(root, "tracker.crop.min_side", 0, 1 << 30, &min_side, err);
    if (!s && min_side != 1)
        s = at_fail(err, UNSUPPORTED, "manifest.json: tracker.crop.min_side %d: only 1 is implemented", min_side);
    return s;
}

static int parse_tracker(const at_json* root, at_manifest* m, at_error* err) {
    static const char* rules[][2] = {
        {"tracker.crop.side", "ceil_sqrt_area_times_factor"},
        {"tracker.crop.origin", "round_half_to_even"},
        {"tracker.crop.edge", "right_bottom_short_by_one"},
        {"tracker.crop.interpolation", "opencv_inter_linear_u8"},
        {"tracker.crop.color", "convert_resized_crop_to_rgb"},
        {"tracker.map_back.rule", "search_crop_to_frame"},
        {"tracker.map_back.origin", "previous_state_centre_unrounded"},
        {"tracker.clip.rule", "keep_margin_in_frame"},
        {"tracker.outputs.box.format", "cx,cy,w,h"},
        {"tracker.outputs.box.normalized_by", "search_size"},
    };
    const at_json *box, *score;
    int s = ASYMTRACK_OK;
    for (size_t i = 0; !s && i < sizeof rules / sizeof rules[0]; i++) s = need_equal(root, rules[i][0], rules[i][1], UNSUPPORTED, err);
    if (!s) s = check_padding(root, err);
    if (!s) s = need_number(root, "tracker.clip.margin", 0.0, 1e9, &m->clip_margin, err);
    if (!s) s = need_number(root, "tracker.outputs.score.default_threshold", 0.0, 1.0, &m->score_threshold, err);
    if (!s) s = need(root, "tracker.outputs.box.name", AT_JSON_STRING, &box, err);
    if (!s) s = need(root, "tracker.outputs.score.name", AT_JSON_STRING, &score, err);
    if (s) return s;
    m->box_output = copy_string(box->string);
    m->score_output = copy_string(score->string);
    return m->box_output && m->score_output ? ASYMTRACK_OK : at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
}

static int parse_inference(const at_json* root, at_manifest* m, at_error* err) {
    const at_json* arithmetic;
    int s = need(root, "inference.arithmetic", AT_JSON_STRING, &arithmetic, err);
    if (s) return s;
    if (strcmp(arithmetic->string, "fp32") && strcmp(arithmetic->string, "fp16") && strcmp(arithmetic->string, "bf16") &&
        strcmp(arithmetic->string, "int8"))
        return at_fail(err, UNSUPPORTED, "manifest.json: inference.arithmetic '%s' is not fp32, fp16, bf16 or int8",
                       arithmetic->string);
    const at_json* hint = at_path(root, "inference.openvino_precision_hint");
    if (hint == NULL) return at_fail(err, BAD, "manifest.json: inference.openvino_precision_hint is missing");
    if (hint->type == AT_JSON_NULL) { m->precision_hint[0] = '\0'; return ASYMTRACK_OK; }
    if (hint->type != AT_JSON_STRING ||
        (strcmp(hint->string, "f32") && strcmp(hint->string, "f16") && strcmp(hint->string, "bf16")))
        return at_fail(err, UNSUPPORTED, "manifest.json: inference.openvino_precision_hint must be f32, f16, bf16 or null");
    memcpy(m->precision_hint, hint->string, strlen(hint->string) + 1);
    return ASYMTRACK_OK;
}

/* ---- tensors, graphs, state, files --------------------------------------------------------- */

static int parse_dtype(const char* name, at_dtype* out) {
    static const char* names[] = {"uint8", "int8", "int32", "int64", "float16", "float32"};
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0) { *out = (at_dtype)(AT_U8 + i); return 1; }
    return 0;
}

static int parse_tensor(const at_json* v, const char* where, size_t index, at_tensor* t, at_error* err) {
    const at_json* name = at_json_get(v, "name");
    const at_json* shape = at_json_get(v, "shape");
    const at_json* dtype = at_json_get(v, "dtype");
    if (!name || name->type != AT_JSON_STRING || !shape || shape->type != AT_JSON_ARRAY || !dtype ||
        dtype->type != AT_JSON_STRING)
        return at_fail(err, BAD, "manifest.json: %s[%zu] must be {name, shape, dtype}", where, index);
    if (!parse_dtype(dtype->string, &t->dtype))
        return at_fail(err, BAD, "manifest.json: %s[%zu].dtype '%s' is not a known dtype", where, index, dtype->string);
    if (shape->count < 1 || shape->count > AT_MAX_RANK)
        return at_fail(err, BAD, "manifest.json: %s[%zu].shape must have 1 to %d dimensions", where, index, AT_MAX_RANK);
    t->rank = (int)shape->count;
    for (size_t i = 0; i < shape->count; i++) {
        const at_json* d = shape->items[i];
        if (d->type != AT_JSON_NUMBER || !d->is_integer || !(d->number >= 1 && d->number <= 1e9))
            return at_fail(err, BAD, "manifest.json: %s[%zu].shape must be positive integers (static shapes)", where, index);
        t->shape[i] = (int64_t)d->number;
    }
    t->name = copy_string(name->string);
    return t->name ? ASYMTRACK_OK : at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
}

static int parse_tensors(const at_json* root, const char* path, at_tensor** out, size_t* count, at_error* err) {
    const at_json* list;
    int s = need(root, path, AT_JSON_ARRAY, &list, err);
    if (s) return s;
    *out = (at_tensor*)calloc(list->count ? list->count : 1, sizeof **out);
    if (*out == NULL) return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    *count = list->count;
    for (size_t i = 0; !s && i < list->count; i++) s = parse_tensor(list->items[i], path, i, &(*out)[i], err);
    return s;
}

static const char* role_file(const at_json* files, const char* role) {
    const at_json* v = at_json_get(files, role);
    return v != NULL && v->type == AT_JSON_STRING ? v->string : NULL;
}

/* The IR when there is one; the .onnx of an onnx bundle; anything else cannot run here. */
static int choose_files(const at_json* files, const char* target, const char* graph, at_graph* g, at_error* err) {
    const char* xml = role_file(files, "openvino_xml");
    const char* onnx = strcmp(target, "onnx") == 0 ? role_file(files, "onnx") : NULL;
    const char* bin = xml ? role_file(files, "openvino_bin") : NULL;
    if (xml == NULL && onnx == NULL)
        return at_fail(err, UNSUPPORTED, "manifest.json: the %s graph of this '%s' bundle has no OpenVINO IR or plain ONNX "
                       "file; the C library runs openvino and onnx bundles (export with --target openvino)", graph, target);
    g->model_file = copy_string(xml ? xml : onnx);
    g->weights_file = bin ? copy_string(bin) : NULL;
    if (g->model_file == NULL || (bin && g->weights_file == NULL))
        return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    return ASYMTRACK_OK;
}

static int parse_graphs(const at_json* root, at_manifest* m, at_error* err) {
    static const char* names[2] = {"template", "search"};
    char path[64];
    int s = ASYMTRACK_OK;
    for (int i = 0; !s && i < 2; i++) {
        const at_json* files;
        snprintf(path, sizeof path, "graphs.%s.files", names[i]);
        s = need(root, path, AT_JSON_OBJECT, &files, err);
        if (!s) s = choose_files(files, m->target, names[i], &m->graphs[i], err);
        snprintf(path, sizeof path, "graphs.%s.inputs", names[i]);
        if (!s) s = parse_tensors(root, path, &m->graphs[i].inputs, &m->graphs[i].n_inputs, err);
        snprintf(path, sizeof path, "graphs.%s.outputs", names[i]);
        if (!s) s = parse_tensors(root, path, &m->graphs[i].outputs, &m->graphs[i].n_outputs, err);
    }
    if (!s) s = parse_tensors(root, "state", &m->state, &m->n_state, err);
    return s;
}

static int plain_name(const char* name) {
    return name[0] != '\0' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && strcmp(name, "manifest.json") != 0 &&
           strpbrk(name, "/\\:") == NULL;
}

static int parse_file_record(const char* name, const at_json* record, at_file* f, at_error* err) {
    const at_json* sha = at_json_get(record, "sha256");
    const at_json* bytes = at_json_get(record, "bytes");
    if (!plain_name(name))
        return at_fail(err, BAD, "manifest.json: file name '%s' must be a plain file name inside the bundle folder", name);
    if (!sha || sha->type != AT_JSON_STRING || strlen(sha->string) != 64 || strspn(sha->string, "0123456789abcdef") != 64)
        return at_fail(err, BAD, "manifest.json: files.%s.sha256 must be 64 lowercase hex digits", name);
    if (!bytes || bytes->type != AT_JSON_NUMBER || !bytes->is_integer || !(bytes->number >= 0 && bytes->number < 9e15))
        return at_fail(err, BAD, "manifest.json: files.%s.bytes must be a non-negative integer", name);
    memcpy(f->sha256, sha->string, 65);
    f->bytes = (uint64_t)bytes->number;
    f->name = copy_string(name);
    return f->name ? ASYMTRACK_OK : at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
}

static int parse_files(const at_json* root, at_manifest* m, at_error* err) {
    const at_json* files;
    int s = need(root, "files", AT_JSON_OBJECT, &files, err);
    if (s) return s;
    m->files = (at_file*)calloc(files->count ? files->count : 1, sizeof *m->files);
    if (m->files == NULL) return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    m->n_files = files->count;
    for (size_t i = 0; !s && i < files->count; i++) s = parse_file_record(files->keys[i], files->items[i], &m->files[i], err);
    return s;
}

/* ---- what the tracker needs from the graphs ------------------------------------------------ */

const at_tensor* at_find_tensor(const at_tensor* tensors, size_t count, const char* name) {
    for (size_t i = 0; i < count; i++)
        if (strcmp(tensors[i].name, name) == 0) return &tensors[i];
    return NULL;
}

static int is_shape(const at_tensor* t, at_dtype dtype, int rank, const int64_t* dims) {
    if (t == NULL || t->dtype != dtype || t->rank != rank) return 0;
    for (int i = 0; i < rank; i++)
        if (t->shape[i] != dims[i]) return 0;
    return 1;
}

static int listed(const at_manifest* m, const char* name) {
    for (size_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i].name, name) == 0) return 1;
    return 0;
}

static int check_state(const at_manifest* m, at_error* err) {
    const at_graph *t = &m->graphs[AT_TEMPLATE], *s = &m->graphs[AT_SEARCH];
    for (size_t i = 0; i < m->n_state; i++) {
        const char* name = m->state[i].name;
        if (!at_find_tensor(t->outputs, t->n_outputs, name) || !at_find_tensor(s->inputs, s->n_inputs, name))
            return at_fail(err, BAD, "manifest.json: state tensor '%s' must be both a template output and a search input", name);
    }
    if (t->n_outputs != m->n_state)
        return at_fail(err, BAD, "manifest.json: the template graph's outputs must be the state tensors");
    return ASYMTRACK_OK;
}

static int check_crops(at_manifest* m, at_error* err) {
    const at_graph* s = &m->graphs[AT_SEARCH];
    int64_t t_dims[4] = {1, m->template_size, m->template_size, 3}, s_dims[4] = {1, m->search_size, m->search_size, 3};
    if (m->graphs[AT_TEMPLATE].n_inputs != 1 || !is_shape(&m->graphs[AT_TEMPLATE].inputs[0], AT_U8, 4, t_dims))
        return at_fail(err, BAD, "manifest.json: the template graph must have one uint8 input [1, %d, %d, 3]",
                       m->template_size, m->template_size);
    m->template_input = m->graphs[AT_TEMPLATE].inputs[0].name;
    if (s->n_inputs != m->n_state + 1)
        return at_fail(err, BAD, "manifest.json: the search graph's inputs must be one crop plus the state tensors");
    for (size_t i = 0; i < s->n_inputs; i++)
        if (!at_find_tensor(m->state, m->n_state, s->inputs[i].name)) m->search_input = s->inputs[i].name;
    if (m->search_input == NULL || !is_shape(at_find_tensor(s->inputs, s->n_inputs, m->search_input), AT_U8, 4, s_dims))
        return at_fail(err, BAD, "manifest.json: the search graph must have a uint8 crop input [1, %d, %d, 3]",
                       m->search_size, m->search_size);
    return ASYMTRACK_OK;
}

static int check_outputs(const at_manifest* m, at_error* err) {
    const at_graph* s = &m->graphs[AT_SEARCH];
    int64_t box_dims[2] = {1, 4}, score_dims[1] = {1};
    if (!is_shape(at_find_tensor(s->outputs, s->n_outputs, m->box_output), AT_F32, 2, box_dims))
        return at_fail(err, BAD, "manifest.json: tracker.outputs.box.name '%s' must be a float32 search output [1, 4]",
                       m->box_output);
    if (!is_shape(at_find_tensor(s->outputs, s->n_outputs, m->score_output), AT_F32, 1, score_dims))
        return at_fail(err, BAD, "manifest.json: tracker.outputs.score.name '%s' must be a float32 search output [1]",
                       m->score_output);
    for (int g = 0; g < 2; g++) {
        const char* files[2] = {m->graphs[g].model_file, m->graphs[g].weights_file};
        for (int k = 0; k < 2; k++)
            if (files[k] != NULL && !listed(m, files[k]))
                return at_fail(err, BAD, "manifest.json: graph file '%s' has no entry in 'files'", files[k]);
    }
    return ASYMTRACK_OK;
}

int at_manifest_parse(const char* text, size_t length, at_manifest* m, at_error* err) {
    memset(m, 0, sizeof *m);
    at_error json_err;
    at_json* root = at_json_parse(text, length, &json_err);
    if (root == NULL) return at_fail(err, BAD, "manifest.json: not valid JSON (%s)", json_err.message);
    int s = root->type == AT_JSON_OBJECT ? check_schema(root, err)
                                         : at_fail(err, BAD, "manifest.json: the top level must be an object");
    if (!s) s = parse_model(root, m, err);
    if (!s) s = parse_tracker(root, m, err);
    if (!s) s = parse_inference(root, m, err);
    if (!s) s = parse_graphs(root, m, err);
    if (!s) s = parse_files(root, m, err);
    if (!s) s = check_state(m, err);
    if (!s) s = check_crops(m, err);
    if (!s) s = check_outputs(m, err);
    at_json_free(root);
    m->schema_version = ASYMTRACK_MANIFEST_SCHEMA_VERSION;
    if (s) at_manifest_free(m);
    return s;
}

/* ---- files ---------------------------------------------------------------------------------- */

char* at_join_path(const char* folder, const char* name) {
    size_t a = strlen(folder), b = strlen(name);
    char* out = (char*)malloc(a + b + 2);
    if (out == NULL) return NULL;
    memcpy(out, folder, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return out;
}

static int read_text(const char* path, char** text, size_t* length, at_error* err) {
    FILE* f = fopen(path, "rb");
    if (f == NULL) return at_fail(err, BAD, "%s: missing or unreadable; the folder is not an asymtrack-deploy bundle "
                                            "(export one first)", path);
    char* buffer = (char*)malloc(MAX_MANIFEST_BYTES + 1);
    size_t n = buffer ? fread(buffer, 1, MAX_MANIFEST_BYTES + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (buffer == NULL) return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory reading %s", path);
    if (failed || n > MAX_MANIFEST_BYTES) {
        free(buffer);
        return at_fail(err, BAD, "%s: %s", path, failed ? "read error" : "larger than 16 MiB");
    }
    *text = buffer;
    *length = n;
    return ASYMTRACK_OK;
}

/* A file of the bundle lies in its folder, not behind a link to a file elsewhere (as in Python). */
static int check_inside(const char* folder, const char* path, at_error* err) {
#ifdef _WIN32
    (void)folder, (void)path, (void)err;
    return ASYMTRACK_OK;
#else
    char* dir = realpath(folder, NULL);
    char* file = realpath(path, NULL);
    size_t n = dir ? strlen(dir) : 0;
    int inside = dir && file && strncmp(file, dir, n) == 0 && file[n] == '/' && strchr(file + n + 1, '/') == NULL;
    int s = inside ? ASYMTRACK_OK
                   : at_fail(err, BAD, "%s: a link to %s, outside the bundle; a bundle's files must be in its folder "
                                       "(copy the file in instead of linking it)", path, file ? file : "?");
    free(dir);
    free(file);
    return s;
#endif
}

static int check_file(const char* folder, const at_file* f, at_error* err) {
    char hex[65];
    uint64_t size = 0;
    char* path = at_join_path(folder, f->name);
    if (path == NULL) return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    FILE* probe = fopen(path, "rb");
    int s = probe ? ASYMTRACK_OK : at_fail(err, BAD, "%s: listed in manifest.json but missing from the bundle", path);
    if (probe) fclose(probe);
    if (!s) s = check_inside(folder, path, err);
    if (!s) s = at_sha256_file(path, hex, &size, err);
    if (!s && (size != f->bytes || strcmp(hex, f->sha256) != 0))
        s = at_fail(err, BAD, "%s: sha256 mismatch with manifest.json (file changed or damaged after export; "
                              "expected %.16s..., %llu bytes; found %.16s..., %llu bytes)",
                    path, f->sha256, (unsigned long long)f->bytes, hex, (unsigned long long)size);
    free(path);
    return s;
}

int at_manifest_load(const char* folder, at_manifest* m, at_error* err) {
    char* text = NULL;
    size_t length = 0;
    memset(m, 0, sizeof *m);
    char* path = at_join_path(folder, "manifest.json");
    if (path == NULL) return at_fail(err, ASYMTRACK_ERROR_OUT_OF_MEMORY, "out of memory");
    int s = read_text(path, &text, &length, err);
    free(path);
    if (s) return s;
    s = at_manifest_parse(text, length, m, err);
    free(text);
    for (size_t i = 0; !s && i < m->n_files; i++) s = check_file(folder, &m->files[i], err);
    if (s) at_manifest_free(m);
    return s;
}

static void free_tensors(at_tensor* tensors, size_t count) {
    for (size_t i = 0; tensors != NULL && i < count; i++) free(tensors[i].name);
    free(tensors);
}

void at_manifest_free(at_manifest* m) {
    for (int g = 0; g < 2; g++) {
        free(m->graphs[g].model_file);
        free(m->graphs[g].weights_file);
        free_tensors(m->graphs[g].inputs, m->graphs[g].n_inputs);
        free_tensors(m->graphs[g].outputs, m->graphs[g].n_outputs);
    }
    free_tensors(m->state, m->n_state);
    for (size_t i = 0; m->files != NULL && i < m->n_files; i++) free(m->files[i].name);
    free(m->files);
    free(m->box_output);
    free(m->score_output);
    memset(m, 0, sizeof *m);
}
