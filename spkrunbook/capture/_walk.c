/* Record-header walk for pcap and pcapng (the only per-record loop of the reader).
 *
 * Optional: spkrunbook.capture.pcap falls back to an equivalent pure-Python walk
 * when this extension is not built.  Both walks have the same contract (see
 * _py_walk_pcap / _py_walk_ng in pcap.py); tests compare them on every test
 * capture and on mutated ones.
 *
 * Safety: every read is bounds-checked against `end`, which is checked against
 * the buffer's length; nothing is ever read past the buffer.  Two passes: the
 * first counts the records (and finds where the walk stops), the second fills
 * exactly-sized bytes objects that numpy views with np.frombuffer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t rd32(const unsigned char *p, int big) {
    if (big)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[0];
}

static inline uint16_t rd16(const unsigned char *p, int big) {
    if (big)
        return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
    return (uint16_t)(((uint16_t)p[1] << 8) | p[0]);
}

static PyObject *new_out(Py_ssize_t count, int64_t **dst) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, count * 8);
    if (b != NULL)
        *dst = (int64_t *)PyBytes_AS_STRING(b);
    return b;
}

/* walk_pcap(buf, start, end, big_endian, snaplen, tsmult)
 *   -> (count, stop, status, data_off, ts_ns, caplen, wirelen)
 * status 0: stopped because the next record is incomplete (need more bytes)
 * status 1: stopped at a record header whose caplen exceeds snaplen (damage)
 * Arrays are int64 (native order) as bytes. */
static PyObject *walk_pcap(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    int big;
    unsigned long long snaplen;
    long long tsmult;
    if (!PyArg_ParseTuple(args, "y*nnpKL", &view, &start, &end, &big, &snaplen, &tsmult))
        return NULL;
    if (start < 0 || end < start || end > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "walk_pcap: start/end outside the buffer");
        return NULL;
    }
    const unsigned char *b = (const unsigned char *)view.buf;
    Py_ssize_t off = start, count = 0;
    int status = 0;
    while (off + 16 <= end) {
        uint32_t cl = rd32(b + off + 8, big);
        if ((unsigned long long)cl > snaplen) {
            status = 1;
            break;
        }
        if ((Py_ssize_t)cl > end - off - 16)
            break;
        count++;
        off += 16 + (Py_ssize_t)cl;
    }
    Py_ssize_t stop = off;
    int64_t *o_off, *o_ts, *o_cap, *o_wire;
    PyObject *a = new_out(count, &o_off), *t = new_out(count, &o_ts), *c = new_out(count, &o_cap),
             *w = new_out(count, &o_wire);
    if (!a || !t || !c || !w) {
        Py_XDECREF(a); Py_XDECREF(t); Py_XDECREF(c); Py_XDECREF(w);
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    off = start;
    for (Py_ssize_t i = 0; i < count; i++) {
        const unsigned char *h = b + off;
        uint32_t cl = rd32(h + 8, big);
        o_off[i] = (int64_t)(off + 16);
        o_ts[i] = (int64_t)rd32(h, big) * 1000000000LL + (int64_t)rd32(h + 4, big) * (int64_t)tsmult;
        o_cap[i] = (int64_t)cl;
        o_wire[i] = (int64_t)rd32(h + 12, big);
        off += 16 + (Py_ssize_t)cl;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("nniNNNN", count, stop, status, a, t, c, w);
}

/* walk_ng(buf, start, end, big_endian, snaplen0)
 *   -> (count, stop, status, data_off, ifid, ts_raw(uint64), caplen, wirelen)
 * Walks pcapng blocks of one section: enhanced (6), obsolete (2) and simple (3)
 * packet blocks are recorded, other complete well-formed blocks skipped.
 * status 0: the block at `stop` is incomplete (need more bytes), or fewer than
 *           12 bytes are left
 * status 2: the block at `stop` needs Python: a section header, an interface
 *           description, or a malformed block (Python raises the error). */
static PyObject *walk_ng(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    int big;
    long long snap0;
    if (!PyArg_ParseTuple(args, "y*nnpL", &view, &start, &end, &big, &snap0))
        return NULL;
    if (start < 0 || end < start || end > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "walk_ng: start/end outside the buffer");
        return NULL;
    }
    const unsigned char *b = (const unsigned char *)view.buf;
    static const unsigned char shb[4] = {0x0a, 0x0d, 0x0d, 0x0a};
    Py_ssize_t off = start, count = 0;
    int status = 0;
    while (off + 12 <= end) {
        const unsigned char *h = b + off;
        if (memcmp(h, shb, 4) == 0) {
            status = 2;
            break;
        }
        uint32_t btype = rd32(h, big), blen = rd32(h + 4, big);
        if (blen < 12 || (blen % 4) != 0 || blen > 0x10000000u) {
            status = 2;
            break;
        }
        if ((Py_ssize_t)blen > end - off)
            break; /* incomplete */
        if (rd32(h + blen - 4, big) != blen || btype == 1) {
            status = 2;
            break;
        }
        if (btype == 6 || btype == 2) {
            if (blen < 32) {
                status = 2;
                break;
            }
            count++;
        } else if (btype == 3) {
            if (blen < 16) {
                status = 2;
                break;
            }
            count++;
        }
        off += blen;
    }
    Py_ssize_t stop = off;
    int64_t *o_off, *o_if, *o_ts, *o_cap, *o_wire;
    PyObject *a = new_out(count, &o_off), *f = new_out(count, &o_if), *t = new_out(count, &o_ts),
             *c = new_out(count, &o_cap), *w = new_out(count, &o_wire);
    if (!a || !f || !t || !c || !w) {
        Py_XDECREF(a); Py_XDECREF(f); Py_XDECREF(t); Py_XDECREF(c); Py_XDECREF(w);
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    off = start;
    Py_ssize_t i = 0;
    while (i < count) {
        const unsigned char *h = b + off;
        uint32_t btype = rd32(h, big), blen = rd32(h + 4, big);
        if (btype == 6 || btype == 2) {
            int64_t cl = (int64_t)rd32(h + 20, big), room = (int64_t)blen - 32;
            o_off[i] = (int64_t)(off + 28);
            o_if[i] = btype == 2 ? (int64_t)rd16(h + 8, big) : (int64_t)rd32(h + 8, big);
            ((uint64_t *)o_ts)[i] = ((uint64_t)rd32(h + 12, big) << 32) | (uint64_t)rd32(h + 16, big);
            o_cap[i] = cl < room ? cl : room;
            o_wire[i] = (int64_t)rd32(h + 24, big);
            i++;
        } else if (btype == 3) {
            int64_t wl = (int64_t)rd32(h + 8, big), cl = wl, room = (int64_t)blen - 16;
            if (cl > snap0) cl = snap0;
            if (cl > room) cl = room;
            o_off[i] = (int64_t)(off + 12);
            o_if[i] = 0;
            o_ts[i] = 0;
            o_cap[i] = cl;
            o_wire[i] = wl;
            i++;
        }
        off += blen;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("nniNNNNN", count, stop, status, a, f, t, c, w);
}

static PyMethodDef methods[] = {
    {"walk_pcap", walk_pcap, METH_VARARGS, "Walk classic pcap record headers (see pcap.py)."},
    {"walk_ng", walk_ng, METH_VARARGS, "Walk pcapng packet blocks of one section (see pcap.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_walk", "C record-header walk for pcap/pcapng.", -1, methods};

PyMODINIT_FUNC PyInit__walk(void) { return PyModule_Create(&moddef); }
