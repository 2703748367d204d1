/* The fast phase's counter before Python 3.12: calls, own and total time of the traced
 * functions, seen through the interpreter's frame-evaluation hook (PEP 523).
 *
 * cProfile's profiler is a profile hook: while one is set, CPython 3.10 and 3.11 run every
 * instruction of every frame on their slow path (3.11 without its specialized
 * instructions), and a test body full of calls runs about twice as long.  A frame-evaluation
 * function costs one call per frame that starts or resumes, and nothing per instruction.
 *
 * The counter sees only the functions it watches (the traced functions' code objects, which
 * it keeps alive until it stops), only in the thread that turned it on, and only while it is
 * on.  Per watched function: starts (a frame that begins, not a generator that resumes),
 * own time (time not spent in other watched functions) and total time (outermost
 * activations only, as cProfile counts a recursive function).  take() returns the figures
 * of the functions seen since the last take() and sets them back to zero.
 *
 * Inputs: a watched function has a countdown of starts.  At the start that brings it to
 * zero the counter calls the reporter (report_to()) with the code object, its starts since
 * the last take() and its arguments' values (in co_varnames order), counting nothing while
 * the reporter runs; the reporter returns the next countdown (0: never again).  The
 * reporter's time is not its caller's own time.  An exception it raises is reported as
 * unraisable and ends that function's reports: the tests never see it.
 *
 * Its bookkeeping lives on the heap, never on the C stack: a greenlet switch (which moves C
 * stacks) can only lose figures, never corrupt memory.
 *
 * While a frame-evaluation function is set, 3.11 no longer runs a Python call inside its
 * caller's C frame: every call nested below takes C stack, as on 3.10.  A thread more than
 * NESTING_MAX frames deep (a test that raised the recursion limit) could then overflow the
 * C stack where the plain run does not, so the counter steps aside there: it restores the
 * default function, counts nothing deeper, and comes back at the next count(True) once the
 * thread that turns it on is shallow again.
 *
 * Built for CPython 3.10 and 3.11 only (3.12 and later have sys.monitoring), and optional:
 * without it the fast phase uses cProfile's profiler.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX >= 0x030C0000 || PY_VERSION_HEX < 0x030A0000
#error "_evalcount is for CPython 3.10 and 3.11"
#endif

#if PY_VERSION_HEX >= 0x030B0000
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
typedef struct _PyInterpreterFrame Frame;
static inline PyCodeObject *code_of(Frame *f) { return f->f_code; }
/* A frame that has not run an instruction yet (3.11 sets prev_instr one before the first). */
static inline int starts(Frame *f) { return f->prev_instr < _PyCode_CODE(f->f_code); }
#else
#include <frameobject.h>
typedef PyFrameObject Frame;
static inline PyCodeObject *code_of(Frame *f) { return f->f_code; }
static inline int starts(Frame *f) { return f->f_lasti < 0; }
#endif

typedef struct {
    PyObject *code;      /* strong reference while watched */
    long long calls, own, total;
    long long countdown; /* starts until the next report; 0: none */
    int depth;           /* activations running (total time counts the outermost) */
    int touched;         /* in the list of entries seen since the last take() */
} Entry;

typedef struct {
    Frame *frame;        /* whose activation this is (checked when it ends) */
    Py_ssize_t entry;
    long long start, inner;  /* when it began; time spent in watched callees */
} Active;

static Py_ssize_t extra_index = -1;
static Entry *entries = NULL;
static Py_ssize_t n_entries = 0, cap_entries = 0;
static Py_ssize_t *touched = NULL;
static Py_ssize_t n_touched = 0, cap_touched = 0;
static Active *stack = NULL;
static Py_ssize_t depth = 0, cap_stack = 0;
static int counting = 0, installed = 0;
static PyThreadState *owner = NULL;
static PyObject *reporter = NULL;
#define NESTING_MAX 2000
static __thread long nesting = 0;  /* frames this thread runs through evaluate() */
static int suspended = 0;

static inline long long now_ns(void) { return (long long)_PyTime_GetPerfCounter(); }

static int grow(void **array, Py_ssize_t *cap, Py_ssize_t item, Py_ssize_t need) {
    if (need <= *cap) return 0;
    Py_ssize_t size = *cap ? *cap * 2 : 64;
    while (size < need) size *= 2;
    void *bigger = PyMem_RawRealloc(*array, (size_t)(size * item));
    if (bigger == NULL) return -1;
    *array = bigger;
    *cap = size;
    return 0;
}

/* The values of the arguments of a frame that has not started yet, or NULL (no error set). */
static PyObject *arguments(Frame *frame) {
    PyCodeObject *code = code_of(frame);
    Py_ssize_t count = code->co_argcount + code->co_kwonlyargcount;
    count += (code->co_flags & CO_VARARGS) ? 1 : 0;
    count += (code->co_flags & CO_VARKEYWORDS) ? 1 : 0;
    PyObject *values = PyTuple_New(count);
    if (values == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
#if PY_VERSION_HEX >= 0x030B0000
        PyObject *value = frame->localsplus[i];  /* MAKE_CELL has not run yet */
#else
        PyObject *value = frame->f_localsplus[i];
        if (value == NULL && code->co_cell2arg != NULL) {  /* an argument that is a cell */
            Py_ssize_t cells = PyTuple_GET_SIZE(code->co_cellvars);
            for (Py_ssize_t j = 0; j < cells; j++) {
                if (code->co_cell2arg[j] == i) {
                    PyObject *cell = frame->f_localsplus[code->co_nlocals + j];
                    value = cell != NULL ? PyCell_GET(cell) : NULL;
                    break;
                }
            }
        }
#endif
        if (value == NULL) {
            Py_DECREF(values);
            return NULL;
        }
        Py_INCREF(value);
        PyTuple_SET_ITEM(values, i, value);
    }
    return values;
}

static void report(Py_ssize_t index, Frame *frame) {
    PyObject *values = arguments(frame);
    if (values == NULL) {
        PyErr_Clear();
        return;  /* the countdown stays at zero: no more reports for it */
    }
    PyObject *code = entries[index].code, *callable = reporter;
    Py_INCREF(code);
    Py_INCREF(callable);
    int was = counting;
    counting = 0;
    PyObject *next = PyObject_CallFunction(callable, "OLO", code, entries[index].calls, values);
    counting = was && installed;
    long long countdown = 0;
    if (next == NULL) {
        PyErr_WriteUnraisable(callable);
    } else {
        countdown = PyLong_AsLongLong(next);
        if (countdown == -1 && PyErr_Occurred()) PyErr_WriteUnraisable(callable);
        Py_DECREF(next);
    }
    if (index < n_entries && entries[index].code == code) {  /* (stop() may have run) */
        entries[index].countdown = countdown > 0 ? countdown : 0;
    }
    Py_DECREF(callable);
    Py_DECREF(code);
    Py_DECREF(values);
}

static PyObject *counted(PyThreadState *ts, Frame *frame, int throwflag) {
    if (!counting || ts != owner) return _PyEval_EvalFrameDefault(ts, frame, throwflag);
    void *extra = NULL;
    if (_PyCode_GetExtra((PyObject *)code_of(frame), extra_index, &extra) < 0 || extra == NULL) {
        return _PyEval_EvalFrameDefault(ts, frame, throwflag);
    }
    if (grow((void **)&stack, &cap_stack, sizeof(Active), depth + 1) < 0) {
        return _PyEval_EvalFrameDefault(ts, frame, throwflag);
    }
    Py_ssize_t index = (Py_ssize_t)(intptr_t)extra - 1;
    Entry *entry = &entries[index];
    if (starts(frame)) {
        entry->calls++;
        if (entry->countdown > 0 && --entry->countdown == 0 && reporter != NULL && !throwflag
            && !PyErr_Occurred()) {
            long long began = now_ns();
            report(index, frame);
            if (!installed || index >= n_entries) {  /* the reporter stopped the counter */
                return _PyEval_EvalFrameDefault(ts, frame, throwflag);
            }
            if (depth > 0) stack[depth - 1].inner += now_ns() - began;
            entry = &entries[index];
        }
    }
    if (!entry->touched) {
        if (grow((void **)&touched, &cap_touched, sizeof(Py_ssize_t), n_touched + 1) == 0) {
            touched[n_touched++] = index;
            entry->touched = 1;
        }
    }
    entry->depth++;
    Py_ssize_t mine = depth++;
    stack[mine].frame = frame;
    stack[mine].entry = index;
    stack[mine].inner = 0;
    stack[mine].start = now_ns();
    PyObject *result = _PyEval_EvalFrameDefault(ts, frame, throwflag);
    long long end = now_ns();
    /* Normally the top of the stack is this activation; after a greenlet switch it may not
     * be: drop what lies above it, or give up if it is gone. */
    if (mine >= depth || stack[mine].frame != frame) return result;
    depth = mine;
    entry = &entries[stack[mine].entry];  /* entries may have moved (watch() grows them) */
    long long spent = end - stack[mine].start;
    entry->own += spent - stack[mine].inner;
    if (--entry->depth <= 0) {
        entry->depth = 0;
        entry->total += spent;
    }
    if (mine > 0) stack[mine - 1].inner += spent;
    return result;
}

static PyObject *evaluate(PyThreadState *ts, Frame *frame, int throwflag) {
    if (++nesting > NESTING_MAX && !suspended) {
        _PyInterpreterState_SetEvalFrameFunc(ts->interp, _PyEval_EvalFrameDefault);
        suspended = 1;  /* calls below this one run inlined again (3.11) */
    }
    PyObject *result = counted(ts, frame, throwflag);
    --nesting;
    return result;
}

static PyObject *start(PyObject *self, PyObject *unused) {
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (installed) Py_RETURN_FALSE;  /* in use (a test's own traced run, in this process) */
    if (_PyInterpreterState_GetEvalFrameFunc(interp) != _PyEval_EvalFrameDefault) {
        Py_RETURN_FALSE;  /* another tool evaluates frames (a debugger): leave it alone */
    }
    _PyInterpreterState_SetEvalFrameFunc(interp, evaluate);
    installed = 1;
    Py_RETURN_TRUE;
}

static PyObject *stop(PyObject *self, PyObject *unused) {
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (installed && _PyInterpreterState_GetEvalFrameFunc(interp) == evaluate) {
        _PyInterpreterState_SetEvalFrameFunc(interp, _PyEval_EvalFrameDefault);
    }
    installed = counting = suspended = 0;
    owner = NULL;
    Py_CLEAR(reporter);
    for (Py_ssize_t i = 0; i < n_entries; i++) {
        _PyCode_SetExtra(entries[i].code, extra_index, NULL);
        Py_CLEAR(entries[i].code);
    }
    n_entries = n_touched = depth = 0;
    Py_RETURN_NONE;
}

static PyObject *watch(PyObject *self, PyObject *args) {
    PyObject *code;
    long long countdown = 0;
    if (!PyArg_ParseTuple(args, "O!|L:watch", &PyCode_Type, &code, &countdown)) return NULL;
    void *extra = NULL;
    if (_PyCode_GetExtra(code, extra_index, &extra) < 0) return NULL;
    if (extra != NULL) Py_RETURN_NONE;
    if (grow((void **)&entries, &cap_entries, sizeof(Entry), n_entries + 1) < 0) {
        return PyErr_NoMemory();
    }
    if (_PyCode_SetExtra(code, extra_index, (void *)(intptr_t)(n_entries + 1)) < 0) return NULL;
    Entry *entry = &entries[n_entries++];
    memset(entry, 0, sizeof(Entry));
    Py_INCREF(code);
    entry->code = code;
    entry->countdown = countdown > 0 ? countdown : 0;
    Py_RETURN_NONE;
}

static PyObject *report_to(PyObject *self, PyObject *callable) {
    if (callable != Py_None && !PyCallable_Check(callable)) {
        PyErr_SetString(PyExc_TypeError, "report_to() takes a callable or None");
        return NULL;
    }
    Py_XINCREF(callable == Py_None ? NULL : callable);
    PyObject *old = reporter;
    reporter = callable == Py_None ? NULL : callable;
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

static PyObject *count(PyObject *self, PyObject *on) {
    int flag = PyObject_IsTrue(on);
    if (flag < 0) return NULL;
    counting = flag && installed;
    if (counting) owner = PyThreadState_Get();
    if (counting && suspended && nesting < NESTING_MAX / 2) {
        PyInterpreterState *interp = PyInterpreterState_Get();
        if (_PyInterpreterState_GetEvalFrameFunc(interp) == _PyEval_EvalFrameDefault) {
            _PyInterpreterState_SetEvalFrameFunc(interp, evaluate);
        }
        suspended = 0;
    }
    Py_RETURN_NONE;
}

static PyObject *take(PyObject *self, PyObject *unused) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n_touched; i++) {
        Entry *entry = &entries[touched[i]];
        PyObject *row = Py_BuildValue("(OLLL)", entry->code, entry->calls, entry->own, entry->total);
        if (row == NULL || PyList_Append(out, row) < 0) {
            Py_XDECREF(row);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(row);
        entry->calls = entry->own = entry->total = 0;
        entry->touched = 0;
    }
    n_touched = 0;
    return out;
}

static PyMethodDef methods[] = {
    {"start", start, METH_NOARGS, "Install the hook; False if it or another is in use."},
    {"stop", stop, METH_NOARGS, "Remove the hook and forget every watched function."},
    {"watch", watch, METH_VARARGS, "watch(code, countdown=0): count its calls and time."},
    {"report_to", report_to, METH_O, "report_to(f): f(code, starts, values) -> countdown."},
    {"count", count, METH_O, "Count (in the calling thread only), or stop counting."},
    {"take", take, METH_NOARGS, "[(code, starts, own ns, total ns)] since the last take()."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_evalcount", "Counts calls and time of watched functions (PEP 523).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__evalcount(void) {
    if (extra_index < 0) {
        extra_index = _PyEval_RequestCodeExtraIndex(NULL);
        if (extra_index < 0) {
            PyErr_SetString(PyExc_RuntimeError, "no code-object extra slot is left");
            return NULL;
        }
    }
    return PyModule_Create(&module);
}
