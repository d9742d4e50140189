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
    char *data;
    size_t length, capacity;
    int run_has_text;  /* the current run has written a character */
    int pending_space; /* whitespace seen after the run's last character */
} Output;

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

/* Length of the whitespace character (Python's str.isspace) at s, else 0. */
static size_t whitespace_at(const unsigned char *s, size_t left) {
    unsigned char c = s[0];
    if (c < 0x80) return (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f));
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

static int append_link(Output *out, lxb_node *anchor) {
    size_t length = 0;
    const unsigned char *target = link_target(anchor, &length);
    if (target == NULL) return 0;
    if (append_text(out, (const unsigned char *)" <", 2) < 0) return -1;
    if (append_text(out, target, length) < 0) return -1;
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
                if (depth == capacity) {
                    size_t more = capacity ? capacity * 2 : 64;
                    Frame *grown = PyMem_Realloc(stack, more * sizeof(Frame));
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        goto fail;
                    }
                    stack = grown;
                    capacity = more;
                }
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
static PyObject *body_text(PyObject *self, PyObject *arg) {
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
    if (walk((lxb_node *)address, &out) < 0) {
        PyMem_Free(out.data);
        return NULL;
    }
    PyObject *text = PyUnicode_DecodeUTF8(out.data ? out.data : "", (Py_ssize_t)out.length,
                                          "replace");
    PyMem_Free(out.data);
    return text;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS, "Look up Lexbor's accessors in the shared object at path."},
    {"body_text", body_text, METH_O,
     "Text of the Lexbor node at this address (selectolax's mem_id), as html_to_text."},
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
