/*
 * One walk over a parsed Lexbor body: the text of otj.rules.html.html_to_text (DESIGN.md §4.1).
 *
 * The Python path converts with several passes over the DOM (a CSS search for links and
 * dropped elements, a second one for inline elements, unwrapping, merging text nodes, text
 * extraction, then whitespace normalisation in Python). This walk reads the same tree once
 * and writes the same text: tests/unit/rules/test_fast_paths.py compares both, and the
 * reference implementation, on generated hostile HTML.
 *
 * The document belongs to selectolax (a LexborHTMLParser the caller keeps alive during the
 * call); this module only reads it, through Lexbor's public non-inline accessors (the `_noi`
 * functions that Lexbor provides for bindings), which selectolax's extension exports. They
 * are looked up by name with dlsym when `bind` is called; nothing of Lexbor is compiled in.
 *
 * What the text is, in terms of the tree:
 * - a *run* is a maximal stretch of text nodes not separated by a boundary; each run becomes
 *   one line, its whitespace (what Python's str.split() splits on) collapsed to single spaces
 *   and stripped; empty lines are dropped;
 * - `style` and `script` elements are dropped with their content and are not boundaries;
 * - the inline elements (span, font, a, b, strong, i, em, u, o:p, small) are transparent when
 *   they have a child other than a dropped element; an inline element without one (such as
 *   `<span></span>`) is a boundary, as every other element is, on both sides, and as every
 *   other kind of node (comments) is;
 * - after an `a` element with an `href` whose value, stripped, is neither empty nor starts
 *   with `#`, the text ` <href>` follows (inside the run when the `a` is transparent).
 *
 * body_texts also returns a second copy of the text in which the Safe Links wrappers among
 * those hrefs are decoded where the text-level decoder of otj/rules/links.py would certainly
 * decode them the same way, to a final target (see safelink_target); decoding that copy gives
 * what decoding the text gives, with most of the work done here.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

typedef struct lxb_node lxb_node;
typedef lxb_node *(*node_fn)(lxb_node *);
typedef int (*type_fn)(lxb_node *);
typedef const unsigned char *(*local_name_fn)(lxb_node *, size_t *);
typedef const unsigned char *(*attribute_fn)(lxb_node *, const unsigned char *, size_t, size_t *);
typedef unsigned char *(*text_fn)(lxb_node *, size_t *);

/* DOM node types (DOM Standard §4.4, Lexbor's lxb_dom_node_type_t). */
enum { NODE_ELEMENT = 1, NODE_TEXT = 3 };

static struct {
    node_fn first_child, next;
    type_fn type;
    local_name_fn local_name;
    attribute_fn attribute;
    text_fn text;
    int bound;
} lxb;

/* --- output: runs of text with collapsed whitespace ------------------------------------ */

typedef struct {
    size_t start, end;         /* bytes of the text replaced in the decoded copy */
    size_t target, target_end; /* their replacement, in Output.targets */
} Splice;

typedef struct {
    char *data;
    size_t length, capacity;
    int run_has_text;  /* the current run has written a character */
    int pending_space; /* whitespace seen after the run's last character */
    /* Safe Links hrefs decoded (see safelink_target): the decoded copy of the text */
    Splice *splices;
    size_t splice_count, splice_capacity;
    char *targets;
    size_t targets_length, targets_capacity;
} Output;

static void output_free(Output *out) {
    PyMem_Free(out->data);
    PyMem_Free(out->splices);
    PyMem_Free(out->targets);
}

/* Grow *buffer (of *capacity items of size item) to hold needed items. */
static int grow(void **buffer, size_t *capacity, size_t needed, size_t item) {
    if (needed <= *capacity) return 0;
    size_t more = *capacity ? *capacity : 64;
    while (more < needed) more *= 2;
    void *grown = PyMem_Realloc(*buffer, more * item);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buffer = grown;
    *capacity = more;
    return 0;
}

static int reserve(Output *out, size_t more) {
    if (out->length + more <= out->capacity) return 0;
    size_t capacity = out->capacity ? out->capacity : 4096;
    while (capacity < out->length + more) capacity *= 2;
    char *data = PyMem_Realloc(out->data, capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = data;
    out->capacity = capacity;
    return 0;
}

static void boundary(Output *out) {
    out->run_has_text = 0;
    out->pending_space = 0;
}

/* ASCII whitespace as Python's str.isspace sees it. */
static int ascii_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

/* Length of the whitespace character (Python's str.isspace) at s, else 0. */
static size_t whitespace_at(const unsigned char *s, size_t left) {
    unsigned char c = s[0];
    if (c < 0x80) return ascii_space(c);
    if (c == 0xc2 && left >= 2) return (s[1] == 0x85 || s[1] == 0xa0) ? 2 : 0;
    if (left < 3) return 0;
    if (c == 0xe1) return (s[1] == 0x9a && s[2] == 0x80) ? 3 : 0; /* U+1680 */
    if (c == 0xe2) {
        if (s[1] == 0x80) /* U+2000..U+200A, U+2028, U+2029, U+202F */
            return (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf) ? 3 : 0;
        if (s[1] == 0x81) return s[2] == 0x9f ? 3 : 0; /* U+205F */
        return 0;
    }
    if (c == 0xe3) return (s[1] == 0x80 && s[2] == 0x80) ? 3 : 0; /* U+3000 */
    return 0;
}

/* A printable ASCII character other than the space. */
#define PLAIN(c) ((unsigned char)((c) - 0x21) < 0x5e)

static int append_text(Output *out, const unsigned char *s, size_t length) {
    if (reserve(out, length + 2) < 0) return -1;
    char *dst = out->data + out->length;
    size_t i = 0;
    while (i < length) {
        unsigned char c = s[i];
        /* the common case: printable ASCII words with single spaces between them */
        if (PLAIN(c)) {
            if (out->pending_space) {
                *dst++ = ' ';
                out->pending_space = 0;
            } else if (!out->run_has_text) {
                if (dst != out->data) *dst++ = '\n';
                out->run_has_text = 1;
            }
            const size_t start = i++;
            for (;;) {
                while (i < length && PLAIN(s[i])) i++;
                if (i + 1 < length && s[i] == ' ' && PLAIN(s[i + 1])) {
                    i += 2;
                    continue;
                }
                break;
            }
            memcpy(dst, s + start, i - start);
            dst += i - start;
            continue;
        }
        size_t space = whitespace_at(s + i, length - i);
        if (space) {
            if (out->run_has_text) out->pending_space = 1;
            i += space;
            continue;
        }
        if (out->pending_space) {
            *dst++ = ' ';
            out->pending_space = 0;
        } else if (!out->run_has_text) {
            if (dst != out->data) *dst++ = '\n';
            out->run_has_text = 1;
        }
        *dst++ = (char)c;
        i++;
    }
    out->length = (size_t)(dst - out->data);
    return 0;
}

/* --- element kinds ---------------------------------------------------------------------- */

enum { KIND_OTHER, KIND_INLINE, KIND_ANCHOR, KIND_DROPPED };

static int kind_of(lxb_node *element) {
    size_t length = 0;
    const unsigned char *name = lxb.local_name(element, &length);
    if (name == NULL) return KIND_OTHER;
#define IS(text) (length == sizeof(text) - 1 && memcmp(name, text, sizeof(text) - 1) == 0)
    switch (length) {
    case 1:
        if (name[0] == 'a') return KIND_ANCHOR;
        return (name[0] == 'b' || name[0] == 'i' || name[0] == 'u') ? KIND_INLINE : KIND_OTHER;
    case 2:
        return IS("em") ? KIND_INLINE : KIND_OTHER;
    case 3:
        return IS("o:p") ? KIND_INLINE : KIND_OTHER;
    case 4:
        return (IS("span") || IS("font")) ? KIND_INLINE : KIND_OTHER;
    case 5:
        if (IS("small")) return KIND_INLINE;
        return IS("style") ? KIND_DROPPED : KIND_OTHER;
    case 6:
        if (IS("strong")) return KIND_INLINE;
        return IS("script") ? KIND_DROPPED : KIND_OTHER;
    default:
        return KIND_OTHER;
    }
#undef IS
}

static int is_dropped(lxb_node *node) {
    return lxb.type(node) == NODE_ELEMENT && kind_of(node) == KIND_DROPPED;
}

/* An inline element is unwrapped (transparent) when something but dropped elements is in it. */
static int has_kept_child(lxb_node *element) {
    for (lxb_node *child = lxb.first_child(element); child != NULL; child = lxb.next(child))
        if (!is_dropped(child)) return 1;
    return 0;
}

/* The href of an anchor stripped as str.strip() does, or NULL when it gets no ` <target>`. */
static const unsigned char *link_target(lxb_node *anchor, size_t *length) {
    size_t size = 0;
    const unsigned char *value = lxb.attribute(anchor, (const unsigned char *)"href", 4, &size);
    if (value == NULL) return NULL;
    size_t start = 0, end = size, space;
    while (start < end && (space = whitespace_at(value + start, end - start)) != 0) start += space;
    while (end > start) { /* the last character starts at most three continuation bytes back */
        size_t last = end - 1;
        while (last > start && (value[last] & 0xc0) == 0x80 && end - last < 4) last--;
        if (whitespace_at(value + last, end - last) != end - last) break;
        end = last;
    }
    if (start == end || value[start] == '#') return NULL;
    *length = end - start;
    return value + start;
}

/* --- Safe Links hrefs ------------------------------------------------------------------- */

/* otj.rules.links decodes Safe Links wrappers in the text (TEXT below); for a link target the
 * walk writes, the same replacement can be made here, on the href alone, when it is certain to
 * be the one TEXT makes and to be final (TEXT finds nothing more to decode in it). Every other
 * href is left as it is for TEXT to decode, so the text decoded afterwards is the same.
 * TEXT = _replace_safelinks_lower and decode_wrapped_links_lower in otj/rules/links.py. */

static const char HOST[] = "safelinks.protection.outlook.com/";
#define HOST_LENGTH (sizeof(HOST) - 1)
static const char NEEDLE_CHARS[] = "safelinks.protection.outlook.com/urldefense";

static const unsigned char *find_bytes(const unsigned char *h, size_t n, const char *needle,
                                       size_t m) {
    if (m > n) return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (h[i] == (unsigned char)needle[0] && memcmp(h + i, needle, m) == 0) return h + i;
    return NULL;
}

/* Whether the lower case of h (ASCII) contains the lower-case needle. */
static int find_lower(const unsigned char *h, size_t n, const char *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m) {
            unsigned char c = h[i + j];
            if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != (unsigned char)needle[j]) break;
            j++;
        }
        if (j == m) return 1;
    }
    return 0;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The target TEXT puts in place of href[*start:], appended to out->targets; 0: leave href. */
static int safelink_target(Output *out, const unsigned char *href, size_t n, size_t *start) {
    for (size_t i = 0; i < n; i++) { /* ASCII, and no URL stop (whitespace < > " ') in it */
        unsigned char c = href[i];
        if (c >= 0x80 || ascii_space(c) || c == '<' || c == '>' || c == '"' || c == '\'')
            return 0;
    }
    const unsigned char *host = find_bytes(href, n, HOST, HOST_LENGTH);
    if (host == NULL) return 0;
    size_t index = (size_t)(host - href);
    for (size_t i = 0; i < index; i++) /* the text and its lower case agree before the host */
        if (href[i] >= 'A' && href[i] <= 'Z') return 0;
    /* TEXT: the last "http" in the 40 characters before the host starts the wrapper ... */
    size_t low = index > 40 ? index - 40 : 0, http = SIZE_MAX;
    for (size_t i = low; i + 4 <= index; i++)
        if (memcmp(href + i, "http", 4) == 0) http = i;
    if (http == SIZE_MAX) return 0;
    /* ... which is https?://[a-z0-9.-]* up to the host */
    size_t i = http + 4;
    if (i < index && href[i] == 's') i++;
    if (i + 3 > index || memcmp(href + i, "://", 3) != 0) return 0;
    for (i += 3; i < index; i++) {
        unsigned char c = href[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return 0;
    }
    /* the value of the first ?url=, &url= or &amp;url= after the host, up to & or # */
    size_t value = SIZE_MAX;
    for (i = index; i < n; i++) {
        if (href[i] != '?' && href[i] != '&') continue;
        if (n - i > 4 && memcmp(href + i + 1, "url=", 4) == 0) {
            value = i + 5;
            break;
        }
        if (n - i > 8 && memcmp(href + i + 1, "amp;url=", 8) == 0) {
            value = i + 9;
            break;
        }
    }
    if (value == SIZE_MAX) return 0;
    size_t value_end = value;
    while (value_end < n && href[value_end] != '&' && href[value_end] != '#') value_end++;
    /* percent-decoded (urllib.parse.unquote) after "+" became a space (then not a URL) */
    if (grow((void **)&out->targets, &out->targets_capacity,
             out->targets_length + (value_end - value), 1) < 0)
        return -1;
    unsigned char *target = (unsigned char *)out->targets + out->targets_length;
    size_t length = 0;
    for (i = value; i < value_end; i++) {
        unsigned char c = href[i];
        if (c == '+') return 0;
        if (c == '%' && i + 2 < value_end) {
            int high = hex_value(href[i + 1]), low_digit = hex_value(href[i + 2]);
            if (high >= 0 && low_digit >= 0) {
                c = (unsigned char)(high * 16 + low_digit);
                i += 2;
            }
        }
        if (c >= 0x80 || ascii_space(c)) return 0; /* ASCII targets only; no whitespace */
        target[length++] = c;
    }
    /* _looks_like_url: not empty, a ":" in the first 12 characters (no whitespace: above) */
    if (length == 0 || memchr(target, ':', length < 12 ? length : 12) == NULL) return 0;
    /* final: no Safe Links host or "urldefense" in its lower case, and a match cannot straddle
     * its end (it does not start with one of their characters) */
    if (find_lower(target, length, HOST, HOST_LENGTH)) return 0;
    if (find_lower(target, length, "urldefense", 10)) return 0;
    unsigned char first = target[0] >= 'A' && target[0] <= 'Z' ? target[0] + 32 : target[0];
    if (memchr(NEEDLE_CHARS, first, sizeof(NEEDLE_CHARS) - 1) != NULL) return 0;
    *start = http;
    return (int)length;
}

static int append_link(Output *out, lxb_node *anchor) {
    size_t length = 0;
    const unsigned char *target = link_target(anchor, &length);
    if (target == NULL) return 0;
    if (append_text(out, (const unsigned char *)" <", 2) < 0) return -1;
    size_t before = out->length;
    if (append_text(out, target, length) < 0) return -1;
    size_t after = out->length, start = 0;
    int decoded = safelink_target(out, target, length, &start);
    if (decoded < 0) return -1;
    if (decoded > 0 && after - before == length) { /* the href was written as it is */
        if (grow((void **)&out->splices, &out->splice_capacity, out->splice_count + 1,
                 sizeof(Splice)) < 0)
            return -1;
        Splice *splice = &out->splices[out->splice_count++];
        splice->start = before + start;
        splice->end = after;
        splice->target = out->targets_length;
        splice->target_end = out->targets_length + (size_t)decoded;
        out->targets_length += (size_t)decoded;
    }
    return append_text(out, (const unsigned char *)">", 1);
}

/* --- the walk ---------------------------------------------------------------------------- */

typedef struct {
    lxb_node *node;
    int kind; /* of the element entered; a transparent `a` is followed by its link target */
} Frame;

static int walk(lxb_node *root, Output *out) {
    Frame *stack = NULL;
    size_t depth = 0, capacity = 0;
    lxb_node *node = lxb.first_child(root);
    int status = 0;
    while (node != NULL) {
        lxb_node *child = NULL;
        int type = lxb.type(node);
        if (type == NODE_TEXT) {
            size_t length = 0;
            unsigned char *data = lxb.text(node, &length);
            if (data != NULL && append_text(out, data, length) < 0) goto fail;
        } else if (type == NODE_ELEMENT) {
            int kind = kind_of(node);
            if (kind == KIND_DROPPED) {
                /* skipped with its content; not a boundary */
            } else if ((kind == KIND_INLINE || kind == KIND_ANCHOR) && has_kept_child(node)) {
                child = lxb.first_child(node);
            } else {
                boundary(out);
                if (kind == KIND_ANCHOR && append_link(out, node) < 0) goto fail;
                if (kind != KIND_ANCHOR && kind != KIND_INLINE) child = lxb.first_child(node);
            }
            if (child != NULL) {
                if (grow((void **)&stack, &capacity, depth + 1, sizeof(Frame)) < 0) goto fail;
                stack[depth].node = node;
                stack[depth].kind = kind;
                depth++;
                node = child;
                continue;
            }
        } else {
            boundary(out);
        }
        /* next node: the next sibling, else leave elements until one has a next sibling */
        for (;;) {
            lxb_node *next = lxb.next(node);
            if (next != NULL) {
                node = next;
                break;
            }
            if (depth == 0) {
                node = NULL;
                break;
            }
            Frame *frame = &stack[--depth];
            node = frame->node;
            if (frame->kind == KIND_ANCHOR) {
                if (append_link(out, node) < 0) goto fail;
            } else if (frame->kind != KIND_INLINE) {
                boundary(out);
            }
        }
    }
    goto done;
fail:
    status = -1;
done:
    PyMem_Free(stack);
    return status;
}

/* --- module ----------------------------------------------------------------------------- */

static PyObject *bind(PyObject *self, PyObject *args) {
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL) handle = dlopen(path, RTLD_NOW);
    if (handle == NULL) {
        PyErr_Format(PyExc_ImportError, "cannot open %s: %s", path, dlerror());
        return NULL;
    }
    void *found[7];
    static const char *names[7] = {
        "lxb_dom_node_first_child_noi", "lxb_dom_node_next_noi",
        "lxb_dom_node_type_noi",        "lxb_dom_element_local_name",
        "lxb_dom_element_get_attribute", "lxb_dom_node_text_content",
        NULL,
    };
    for (size_t i = 0; names[i] != NULL; i++) {
        found[i] = dlsym(handle, names[i]);
        if (found[i] == NULL) { /* an earlier binding stays as it was */
            PyErr_Format(PyExc_ImportError, "%s does not export %s", path, names[i]);
            dlclose(handle);
            return NULL;
        }
    }
    lxb.first_child = (node_fn)found[0];
    lxb.next = (node_fn)found[1];
    lxb.type = (type_fn)found[2];
    lxb.local_name = (local_name_fn)found[3];
    lxb.attribute = (attribute_fn)found[4];
    lxb.text = (text_fn)found[5];
    lxb.bound = 1;
    Py_RETURN_NONE;
}

/* The caller passes the address of a node of a document it keeps alive (html.py passes
 * selectolax's mem_id of a parser's body); any other integer is undefined behaviour. */
static PyObject *body_texts(PyObject *self, PyObject *arg) {
    if (!lxb.bound) {
        PyErr_SetString(PyExc_RuntimeError, "bind() has not succeeded");
        return NULL;
    }
    void *address = PyLong_AsVoidPtr(arg);
    if (address == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "null node");
        return NULL;
    }
    Output out = {0};
    PyObject *text = NULL, *decoded = NULL, *result = NULL;
    char *copy = NULL;
    if (walk((lxb_node *)address, &out) < 0) goto done;
    text = PyUnicode_DecodeUTF8(out.data ? out.data : "", (Py_ssize_t)out.length, "replace");
    if (text == NULL) goto done;
    if (out.splice_count == 0) {
        result = PyTuple_Pack(2, text, text);
        goto done;
    }
    /* the decoded copy: the text with each splice's bytes replaced by its (shorter) target */
    copy = PyMem_Malloc(out.length ? out.length : 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t length = 0, done_to = 0;
    for (size_t i = 0; i < out.splice_count; i++) {
        const Splice *splice = &out.splices[i];
        memcpy(copy + length, out.data + done_to, splice->start - done_to);
        length += splice->start - done_to;
        memcpy(copy + length, out.targets + splice->target, splice->target_end - splice->target);
        length += splice->target_end - splice->target;
        done_to = splice->end;
    }
    memcpy(copy + length, out.data + done_to, out.length - done_to);
    length += out.length - done_to;
    decoded = PyUnicode_DecodeUTF8(copy, (Py_ssize_t)length, "replace");
    if (decoded != NULL) result = PyTuple_Pack(2, text, decoded);
done:
    Py_XDECREF(text);
    Py_XDECREF(decoded);
    PyMem_Free(copy);
    output_free(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS, "Look up Lexbor's accessors in the shared object at path."},
    {"body_texts", body_texts, METH_O,
     "(text, text with Safe Links link targets decoded) of the Lexbor node at this address."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_lexbor_text",
    .m_doc = "One-walk HTML body to text over Lexbor (otj.rules.html).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__lexbor_text(void) { return PyModule_Create(&module); }
