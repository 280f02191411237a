/*
 * A small, strict JSON reader for manifest.json: RFC 8259 plus the NaN / Infinity / -Infinity
 * tokens that Python's json module writes. Nesting is limited to AT_JSON_MAX_DEPTH, every read
 * is bounds-checked against the given length, and numbers convert the same in any C locale.
 */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "at_core.h"

typedef struct parser {
    const char* text;
    size_t length, pos;
    at_error* err;
    int failed;
} parser;

static at_json* parse_value(parser* p, int depth);

static void* fail_at(parser* p, const char* what) {
    if (!p->failed) {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < p->pos && i < p->length; i++) {
            if (p->text[i] == '\n') line++, column = 1;
            else column++;
        }
        at_fail(p->err, ASYMTRACK_ERROR_BAD_BUNDLE, "line %zu, column %zu: %s", line, column, what);
        p->failed = 1;
    }
    return NULL;
}

static int peek(const parser* p) { return p->pos < p->length ? (unsigned char)p->text[p->pos] : -1; }

static void skip_space(parser* p) {
    while (p->pos < p->length) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int take_word(parser* p, const char* word) {
    size_t n = strlen(word);
    if (p->length - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

static at_json* new_value(parser* p, at_json_type type) {
    at_json* v = (at_json*)calloc(1, sizeof *v);
    if (v == NULL) return fail_at(p, "out of memory");
    v->type = type;
    return v;
}

void at_json_free(at_json* v) {
    if (v == NULL) return;
    for (size_t i = 0; i < v->count; i++) {
        at_json_free(v->items[i]);
        if (v->keys != NULL) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v);
}

/* ---- numbers ------------------------------------------------------------------------------ */

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static size_t scan_digits(parser* p) {
    size_t start = p->pos;
    while (is_digit(peek(p))) p->pos++;
    return p->pos - start;
}

/* Exact when the digits fit in 2^53 and the power of ten is exact (Clinger's fast path);
 * otherwise strtod on a copy whose decimal point matches the current locale. */
static double convert_number(const char* s, size_t n) {
    static const double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    uint64_t mantissa = 0;
    int digits = 0, exponent = 0, negative = s[0] == '-', i = negative, seen_point = 0;
    for (; i < (int)n && (is_digit(s[i]) || s[i] == '.'); i++) {
        if (s[i] == '.') { seen_point = 1; continue; }
        if (mantissa == 0 && s[i] == '0') { if (seen_point) exponent--; continue; }
        if (++digits > 18) break;
        mantissa = mantissa * 10 + (uint64_t)(s[i] - '0');
        if (seen_point) exponent--;
    }
    if (digits <= 18 && i < (int)n && (s[i] == 'e' || s[i] == 'E')) {
        int sign = 1, e = 0;
        i++;
        if (s[i] == '+' || s[i] == '-') sign = s[i++] == '-' ? -1 : 1;
        for (; i < (int)n && e < 100000; i++) e = e * 10 + (s[i] - '0');
        exponent += sign * e;
    }
    if (digits <= 18 && mantissa <= ((uint64_t)1 << 53) && exponent >= -22 && exponent <= 22) {
        double v = (double)mantissa;
        v = exponent >= 0 ? v * powers[exponent] : v / powers[-exponent];
        return negative ? -v : v;
    }
    char buffer[512];
    if (n >= sizeof buffer) n = sizeof buffer - 1;
    memcpy(buffer, s, n);
    buffer[n] = '\0';
    char* point = strchr(buffer, '.');
    if (point != NULL) *point = localeconv()->decimal_point[0];
    return strtod(buffer, NULL);
}

static at_json* parse_number(parser* p) {
    size_t start = p->pos;
    int integer = 1;
    if (peek(p) == '-') p->pos++;
    if (take_word(p, "Infinity")) {
        at_json* v = new_value(p, AT_JSON_NUMBER);
        if (v) v->number = p->text[start] == '-' ? -INFINITY : INFINITY;
        return v;
    }
    if (peek(p) == '0') p->pos++;
    else if (scan_digits(p) == 0) return fail_at(p, "invalid number");
    if (peek(p) == '.') {
        p->pos++, integer = 0;
        if (scan_digits(p) == 0) return fail_at(p, "invalid number: digits must follow '.'");
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++, integer = 0;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (scan_digits(p) == 0) return fail_at(p, "invalid number: digits must follow the exponent");
    }
    at_json* v = new_value(p, AT_JSON_NUMBER);
    if (v == NULL) return NULL;
    v->number = convert_number(p->text + start, p->pos - start);
    v->is_integer = integer;
    return v;
}

/* ---- strings ------------------------------------------------------------------------------ */

static int hex4(parser* p, unsigned* out) {
    unsigned value = 0;
    if (p->length - p->pos < 4) return 0;
    for (int i = 0; i < 4; i++) {
        char c = p->text[p->pos++];
        value <<= 4;
        if (c >= '0' && c <= '9') value |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') value |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') value |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = value;
    return 1;
}

static size_t put_utf8(char* out, unsigned cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX, with a following low surrogate when the first is a high one. */
static int unicode_escape(parser* p, unsigned* cp) {
    unsigned low;
    if (!hex4(p, cp)) return 0;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return 0;
    if (*cp < 0xD800 || *cp > 0xDBFF) return *cp != 0;
    if (!take_word(p, "\\u") || !hex4(p, &low) || low < 0xDC00 || low > 0xDFFF) return 0;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    return 1;
}

static int escape(parser* p, char* out, size_t* n) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = p->pos < p->length ? p->text[p->pos++] : '\0';
    const char* hit = c ? strchr(from, c) : NULL;
    if (hit != NULL) { out[(*n)++] = to[hit - from]; return 1; }
    unsigned cp;
    if (c != 'u' || !unicode_escape(p, &cp)) return 0;
    *n += put_utf8(out + *n, cp);
    return 1;
}

/* The string at p->pos (after its opening quote); malloc'ed, NUL-terminated. */
static char* parse_string_raw(parser* p) {
    size_t start = p->pos, n = 0;
    while (p->pos < p->length && p->text[p->pos] != '"') p->pos += p->text[p->pos] == '\\' ? 2 : 1;
    if (p->pos >= p->length) return fail_at(p, "unterminated string");
    char* out = (char*)malloc(p->pos - start + 1); /* escapes never grow the text */
    if (out == NULL) return fail_at(p, "out of memory");
    for (p->pos = start; p->text[p->pos] != '"';) {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c < 0x20) { free(out); return fail_at(p, "control character in string"); }
        if (c != '\\') { out[n++] = (char)c; p->pos++; continue; }
        p->pos++;
        if (!escape(p, out, &n)) { free(out); return fail_at(p, "invalid escape in string (\\u0000 is refused)"); }
    }
    p->pos++;
    out[n] = '\0';
    return out;
}

/* ---- arrays and objects ------------------------------------------------------------------- */

#define MAX_MEMBERS 10000 /* keeps the duplicate-key check and hostile files cheap */

static int append(parser* p, at_json* container, at_json* item, char* key) {
    size_t n = container->count + 1;
    if (n > MAX_MEMBERS) { at_json_free(item); free(key); fail_at(p, "more than 10000 members"); return 0; }
    at_json** items = (at_json**)realloc(container->items, n * sizeof *items);
    if (items != NULL) container->items = items;
    if (items != NULL && container->type == AT_JSON_OBJECT) {
        char** keys = (char**)realloc(container->keys, n * sizeof *keys);
        if (keys == NULL) items = NULL;
        else container->keys = keys, keys[n - 1] = key;
    }
    if (items == NULL) { at_json_free(item); free(key); fail_at(p, "out of memory"); return 0; }
    items[n - 1] = item;
    container->count = n;
    return 1;
}

static char* parse_key(parser* p, const at_json* object) {
    skip_space(p);
    if (peek(p) != '"') return fail_at(p, "expected a string key");
    p->pos++;
    char* key = parse_string_raw(p);
    if (key == NULL) return NULL;
    if (at_json_get(object, key) != NULL) { free(key); return fail_at(p, "duplicate key in object"); }
    skip_space(p);
    if (peek(p) != ':') { free(key); return fail_at(p, "expected ':' after a key"); }
    p->pos++;
    return key;
}

static at_json* parse_container(parser* p, int depth, at_json_type type) {
    char close = type == AT_JSON_ARRAY ? ']' : '}';
    at_json* v = new_value(p, type);
    if (v == NULL) return NULL;
    p->pos++;
    skip_space(p);
    if (peek(p) == close) { p->pos++; return v; }
    for (;;) {
        char* key = NULL;
        if (type == AT_JSON_OBJECT && (key = parse_key(p, v)) == NULL) break;
        at_json* item = parse_value(p, depth + 1);
        if (item == NULL) { free(key); break; }
        if (!append(p, v, item, key)) break;
        skip_space(p);
        if (peek(p) == ',') { p->pos++; continue; }
        if (peek(p) == close) { p->pos++; return v; }
        fail_at(p, type == AT_JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
        break;
    }
    at_json_free(v);
    return NULL;
}

static at_json* parse_literal(parser* p) {
    at_json* v = NULL;
    if (take_word(p, "null")) return new_value(p, AT_JSON_NULL);
    int truth = take_word(p, "true");
    if (truth || take_word(p, "false")) {
        if ((v = new_value(p, AT_JSON_BOOL)) != NULL) v->boolean = truth;
        return v;
    }
    if (take_word(p, "NaN")) {
        if ((v = new_value(p, AT_JSON_NUMBER)) != NULL) v->number = NAN;
        return v;
    }
    return fail_at(p, "unexpected character");
}

static at_json* parse_value(parser* p, int depth) {
    if (depth > AT_JSON_MAX_DEPTH) return fail_at(p, "nesting deeper than 64 levels");
    skip_space(p);
    int c = peek(p);
    if (c == '{') return parse_container(p, depth, AT_JSON_OBJECT);
    if (c == '[') return parse_container(p, depth, AT_JSON_ARRAY);
    if (c == '"') {
        p->pos++;
        char* s = parse_string_raw(p);
        at_json* v = s ? new_value(p, AT_JSON_STRING) : NULL;
        if (v == NULL) { free(s); return NULL; }
        v->string = s;
        return v;
    }
    if (c == '-' || is_digit(c)) return parse_number(p);
    if (c < 0) return fail_at(p, "unexpected end of text");
    return parse_literal(p);
}

at_json* at_json_parse(const char* text, size_t length, at_error* err) {
    parser p = {text, length, 0, err, 0};
    if (text == NULL) return fail_at(&p, "no text");
    at_json* v = parse_value(&p, 0);
    if (v == NULL) return NULL;
    skip_space(&p);
    if (p.pos != p.length) { at_json_free(v); return fail_at(&p, "text after the JSON value"); }
    return v;
}

const at_json* at_json_get(const at_json* object, const char* key) {
    if (object == NULL || object->type != AT_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}
