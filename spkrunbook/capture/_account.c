/* One streaming pass over decoded packets: the statistics tallies and the TCP expert analysis.
 *
 * Why C: the streaming path (spkrunbook/capture/streaming.py) must analyse a
 * capture of any size at about the speed the whole-file reader decodes it, in
 * bounded memory.  The readers decode headers a chunk at a time with numpy; this
 * module then walks the chunk's rows once, as tshark does, keeping state per
 * conversation, per TCP stream and per address -- never per packet.
 *
 * Two types:
 *
 * Tally   conversations (folded 5-tuples), endpoints (per address), I/O bins
 *         (time bin x interface x direction), protocol-hierarchy leaves, TCP flag
 *         combinations and the summary counters.
 * Expert  tshark's tcp.analysis.* flags, packet by packet, with per-stream and
 *         per-direction state; the same rules as the vectorised
 *         spkrunbook.capture.expert.analyze (which documents them), written as
 *         the sequential state machine they describe.  Per stream it also keeps
 *         what the tables need: packets, first/last time, resets, warning
 *         counts, the handshake times, the first row and where the stream lies
 *         in the file.  For tcpdump text it can turn relative sequence numbers
 *         back into absolute ones (tcpdump's own bookkeeping) and count the
 *         jumps that tell which reading of the text is right.
 *
 * Both take numpy arrays (buffer protocol, C-contiguous, the dtypes the .pyi
 * names) and check every length; results come back as bytes objects that numpy
 * views.  The equality of this engine with the whole-file path is tested on
 * every kept capture and on generated ones (tests/capture/test_streaming.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define M32 0xFFFFFFFFLL
#define HALF 0x80000000LL
#define NS_MIN INT64_MIN
#define FAR_PAST (INT64_MIN / 2) /* numpy: np.iinfo(np.int64).min // 2 */
enum { FIN = 1, SYN = 2, RST = 4, ACK = 16 };
enum { P_TCP = 0, P_UDP = 1 };

/* wrapping arithmetic, as numpy's int64 does (signed overflow is undefined in C) */
static inline int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
/* tshark's LT_SEQ / GT_SEQ / LE_SEQ on 32-bit sequence numbers held in int64 */
static inline int lt_seq(int64_t a, int64_t b) { return ((a - b) & M32) >= HALF; }
static inline int gt_seq(int64_t a, int64_t b) { int64_t d = (a - b) & M32; return d != 0 && d < HALF; }
static inline int le_seq(int64_t a, int64_t b) { int64_t d = (a - b) & M32; return d == 0 || d >= HALF; }

/* ------------------------------------------------------------------ growable arrays */
typedef struct { void *p; Py_ssize_t n, cap, size; } Vec;

static int vec_reserve(Vec *v, Py_ssize_t want) {
    if (want <= v->cap) return 0;
    Py_ssize_t cap = v->cap ? v->cap : 64;
    while (cap < want) cap *= 2;
    void *p = realloc(v->p, (size_t)(cap * v->size));
    if (!p) { PyErr_NoMemory(); return -1; }
    memset((char *)p + v->cap * v->size, 0, (size_t)((cap - v->cap) * v->size));
    v->p = p;
    v->cap = cap;
    return 0;
}
#define VEC(type) ((type *)v_->p)
static PyObject *vec_bytes(Vec *v) { return PyBytes_FromStringAndSize((const char *)v->p, v->n * v->size); }

/* ------------------------------------------------------------------ hash map: two int64 words -> index */
typedef struct { int64_t k0, k1, v; } Slot; /* v < 0: empty */
typedef struct { Slot *s; size_t cap, n; } Map;

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}
static inline size_t slot_of(const Map *m, int64_t k0, int64_t k1) {
    return (size_t)(mix64((uint64_t)k0 * 0x9E3779B97F4A7C15ULL ^ mix64((uint64_t)k1 + 0x632BE59BD9B4E019ULL)) & (m->cap - 1));
}
static int map_init(Map *m, size_t cap) {
    m->s = malloc(cap * sizeof(Slot));
    if (!m->s) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < cap; i++) m->s[i].v = -1;
    m->cap = cap;
    m->n = 0;
    return 0;
}
static int map_grow(Map *m) {
    Map g;
    if (map_init(&g, m->cap * 2) < 0) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        Slot *s = &m->s[i];
        if (s->v < 0) continue;
        size_t j = slot_of(&g, s->k0, s->k1);
        while (g.s[j].v >= 0) j = (j + 1) & (g.cap - 1);
        g.s[j] = *s;
    }
    g.n = m->n;
    free(m->s);
    *m = g;
    return 0;
}
/* the index stored for (k0, k1); -1 if absent */
static inline int64_t map_get(const Map *m, int64_t k0, int64_t k1) {
    size_t j = slot_of(m, k0, k1);
    for (;;) {
        const Slot *s = &m->s[j];
        if (s->v < 0) return -1;
        if (s->k0 == k0 && s->k1 == k1) return s->v;
        j = (j + 1) & (m->cap - 1);
    }
}
/* store (k0, k1) -> v (the key must be absent) */
static inline int map_put(Map *m, int64_t k0, int64_t k1, int64_t v) {
    if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0) return -1;
    size_t j = slot_of(m, k0, k1);
    while (m->s[j].v >= 0) j = (j + 1) & (m->cap - 1);
    m->s[j].k0 = k0; m->s[j].k1 = k1; m->s[j].v = v;
    m->n++;
    return 0;
}

/* ------------------------------------------------------------------ argument buffers */
typedef struct { Py_buffer b[32]; int n; } Bufs;

static void bufs_release(Bufs *bs) {
    for (int i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}
/* a C-contiguous buffer of `count` items of `itemsize` bytes; None -> NULL when optional */
static const void *arg_buf(Bufs *bs, PyObject *o, Py_ssize_t itemsize, Py_ssize_t count, const char *name, int optional) {
    if (o == Py_None) {
        if (optional) return NULL;
        PyErr_Format(PyExc_TypeError, "%s: an array is required", name);
        return (void *)-1;
    }
    Py_buffer *b = &bs->b[bs->n];
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return (void *)-1;
    bs->n++;
    if (b->itemsize != itemsize || b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "%s: want %zd items of %zd bytes, got %zd bytes of %zd-byte items",
                     name, count, itemsize, b->len, b->itemsize);
        return (void *)-1;
    }
    return b->buf;
}
#define BAD(p) ((const void *)(p) == (const void *)-1)

/* ================================================================== Tally */
typedef struct {
    int64_t a_ep, b_ep;          /* endpoint = address code << 16 | port; A sent the first packet */
    int64_t packets, bytes, pk_ab, by_ab, start, end;
    int8_t proto;
} Conv;

typedef struct {
    PyObject_HEAD
    Map conv_map, bin_map;
    int64_t *hier_index;          /* hierarchy key -> leaf index (-1: none yet) */
    Vec convs;                    /* Conv */
    Vec ps, bs, pr, br, first_src, first_dst; /* per address code: int64 */
    Vec bin_key, bin_combo, bin_packets, bin_bytes; /* per bin entry: int64 */
    Vec hier_key, hier_frames, hier_bytes, hier_first; /* per hierarchy leaf: int64 */
    int64_t bin_ns;               /* current bin width */
    int64_t packets, bytes, wire_rows, tmin, tmax, valid_times, resets, tcp_data, tcp_no_header;
    int64_t proto_counts[8], dir_counts[8], flag_counts[256];
    Vec iface_counts;             /* int64 per interface code */
} Tally;

static const int64_t BIN_LADDER[] = {100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL, 5000000000LL,
                                     60000000000LL, 300000000000LL, 3600000000000LL, 86400000000000LL};
#define N_LADDER ((int)(sizeof(BIN_LADDER) / sizeof(BIN_LADDER[0])))
#define MAX_BINS (1 << 17) /* bins across the capture's span, at most (the width grows to keep it so) */

static void tally_free(Tally *t) {
    free(t->conv_map.s); free(t->bin_map.s); free(t->hier_index); t->hier_index = NULL;
    Vec *vs[] = {&t->convs, &t->ps, &t->bs, &t->pr, &t->br, &t->first_src, &t->first_dst, &t->bin_key, &t->bin_combo,
                 &t->bin_packets, &t->bin_bytes, &t->hier_key, &t->hier_frames, &t->hier_bytes, &t->hier_first,
                 &t->iface_counts};
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) { free(vs[i]->p); vs[i]->p = NULL; vs[i]->n = vs[i]->cap = 0; }
}

static void Tally_dealloc(Tally *self) {
    tally_free(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Tally_init(Tally *self, PyObject *args, PyObject *kw) {
    if (!PyArg_ParseTuple(args, "")) return -1;
    tally_free(self);
    memset((char *)self + sizeof(PyObject), 0, sizeof(Tally) - sizeof(PyObject));
    self->convs.size = sizeof(Conv);
    Vec *v8[] = {&self->ps, &self->bs, &self->pr, &self->br, &self->first_src, &self->first_dst, &self->bin_key,
                 &self->bin_combo, &self->bin_packets, &self->bin_bytes, &self->hier_key, &self->hier_frames,
                 &self->hier_bytes, &self->hier_first, &self->iface_counts};
    for (size_t i = 0; i < sizeof(v8) / sizeof(v8[0]); i++) v8[i]->size = 8;
    if (map_init(&self->conv_map, 1024) < 0 || map_init(&self->bin_map, 1024) < 0) return -1;
    self->bin_ns = BIN_LADDER[0];
    self->tmin = INT64_MAX;
    self->tmax = INT64_MIN;
    return 0;
}

/* floor division (bins of times before 1970 stay ordered) */
static inline int64_t floor_div(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }

/* widen the bins until the span fits MAX_BINS; entries are merged (the new width is a multiple of the old) */
static int tally_rebin(Tally *t) {
    if (t->valid_times == 0) return 0;
    int64_t span = t->tmax - t->tmin;
    int k = 0;
    while (k < N_LADDER && BIN_LADDER[k] < t->bin_ns) k++;
    int k0 = k;
    while (k + 1 < N_LADDER && span / BIN_LADDER[k] >= MAX_BINS) k++;
    if (k == k0) return 0;
    int64_t w = BIN_LADDER[k], old = t->bin_ns;
    t->bin_ns = w;
    Map m;
    if (map_init(&m, 1024) < 0) return -1;
    int64_t *key = (int64_t *)t->bin_key.p, *combo = (int64_t *)t->bin_combo.p;
    int64_t *pk = (int64_t *)t->bin_packets.p, *by = (int64_t *)t->bin_bytes.p;
    Py_ssize_t out = 0;
    for (Py_ssize_t i = 0; i < t->bin_key.n; i++) {
        int64_t nk = floor_div(key[i] * old, w);
        int64_t j = map_get(&m, nk, combo[i]);
        if (j < 0) {
            if (map_put(&m, nk, combo[i], out) < 0) { free(m.s); return -1; }
            key[out] = nk; combo[out] = combo[i]; pk[out] = pk[i]; by[out] = by[i];
            out++;
        } else {
            pk[j] += pk[i];
            by[j] += by[i];
        }
    }
    t->bin_key.n = t->bin_combo.n = t->bin_packets.n = t->bin_bytes.n = out;
    free(t->bin_map.s);
    t->bin_map = m;
    return 0;
}

static int grow_addrs(Tally *t, Py_ssize_t need) {
    Vec *vs[] = {&t->ps, &t->bs, &t->pr, &t->br, &t->first_src, &t->first_dst};
    for (int i = 0; i < 6; i++) {
        Py_ssize_t old = vs[i]->n;
        if (need <= old) continue;
        if (vec_reserve(vs[i], need) < 0) return -1;
        if (i >= 4) for (Py_ssize_t j = old; j < need; j++) ((int64_t *)vs[i]->p)[j] = -1;
        vs[i]->n = need;
    }
    return 0;
}

/* the protocol-hierarchy leaf of a packet: (link + 1) * 64 + network * 8 + transport (tables.hierarchy_keys) */
static inline int32_t hier_key(int8_t link, int8_t proto, uint8_t ipv) {
    int net = ipv == 4 ? 0 : ipv == 6 ? 1 : proto == 4 ? 2 : proto == 5 ? 3 : 4;
    int tr = net <= 1 ? (proto >= 0 && proto <= 3 ? proto + 1 : 5) : 0;
    return (int32_t)((link + 1) * 64 + net * 8 + tr);
}
#define N_HIER ((35 + 1) * 64)

/* Tally.add(n, ordinal0, t, wire, wire_ok, payload, payload_ok, src, dst, sport, dport, proto, flags, tcp_ok,
 *           iface, pkttype, pkttype_ok, link, ipv)
 * t int64 (INT64_MIN: no time); wire/payload uint32 (bytes: wire, else payload, else 0); *_ok bool;
 * src/dst/iface int32 (-1: none); sport/dport uint16; proto/link int8 (link -1: unknown); flags/pkttype/ipv
 * uint8 (ipv 0: not IP; a direction is a pkttype 0..4 whose pkttype_ok is set). */
static PyObject *Tally_add(Tally *self, PyObject *args) {
    Py_ssize_t n;
    long long ord0;
    PyObject *o[17];
    if (!PyArg_ParseTuple(args, "nLOOOOOOOOOOOOOOOOO", &n, &ord0, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                          &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15], &o[16]))
        return NULL;
    Bufs bs = {.n = 0};
    const int64_t *t = arg_buf(&bs, o[0], 8, n, "t", 0);
    const uint32_t *wire = arg_buf(&bs, o[1], 4, n, "wire", 0);
    const uint8_t *wire_ok = arg_buf(&bs, o[2], 1, n, "wire_ok", 0);
    const uint32_t *payload = arg_buf(&bs, o[3], 4, n, "payload", 0);
    const uint8_t *payload_ok = arg_buf(&bs, o[4], 1, n, "payload_ok", 0);
    const int32_t *src = arg_buf(&bs, o[5], 4, n, "src", 0);
    const int32_t *dst = arg_buf(&bs, o[6], 4, n, "dst", 0);
    const uint16_t *sport = arg_buf(&bs, o[7], 2, n, "sport", 0);
    const uint16_t *dport = arg_buf(&bs, o[8], 2, n, "dport", 0);
    const int8_t *proto = arg_buf(&bs, o[9], 1, n, "proto", 0);
    const uint8_t *flags = arg_buf(&bs, o[10], 1, n, "flags", 0);
    const uint8_t *tcp_ok = arg_buf(&bs, o[11], 1, n, "tcp_ok", 0);
    const int32_t *iface = arg_buf(&bs, o[12], 4, n, "iface", 0);
    const uint8_t *pkt = arg_buf(&bs, o[13], 1, n, "pkttype", 0);
    const uint8_t *pkt_ok = arg_buf(&bs, o[14], 1, n, "pkttype_ok", 0);
    const int8_t *link = arg_buf(&bs, o[15], 1, n, "link", 0);
    const uint8_t *ipv = arg_buf(&bs, o[16], 1, n, "ipv", 0);
    if (BAD(t) || BAD(wire) || BAD(wire_ok) || BAD(payload) || BAD(payload_ok) || BAD(src) || BAD(dst) || BAD(sport) ||
        BAD(dport) || BAD(proto) || BAD(flags) || BAD(tcp_ok) || BAD(iface) || BAD(pkt) || BAD(pkt_ok) || BAD(link) ||
        BAD(ipv)) {
        bufs_release(&bs);
        return NULL;
    }
    /* addresses and interfaces first: one resize per call */
    int32_t amax = -1, imax = -1;
    int64_t cmin = INT64_MAX, cmax = INT64_MIN;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (src[i] > amax) amax = src[i];
        if (dst[i] > amax) amax = dst[i];
        if (iface[i] > imax) imax = iface[i];
        if (t[i] != NS_MIN) { if (t[i] < cmin) cmin = t[i]; if (t[i] > cmax) cmax = t[i]; }
    }
    if (grow_addrs(self, (Py_ssize_t)amax + 1) < 0) goto fail;
    if (imax >= 0 && self->iface_counts.n <= imax) {
        if (vec_reserve(&self->iface_counts, (Py_ssize_t)imax + 1) < 0) goto fail;
        self->iface_counts.n = (Py_ssize_t)imax + 1;
    }
    if (cmin <= cmax) {
        if (cmin < self->tmin) self->tmin = cmin;
        if (cmax > self->tmax) self->tmax = cmax;
        self->valid_times = 1;
        if (tally_rebin(self) < 0) goto fail;
    }
    if (!self->hier_index) {
        self->hier_index = malloc(N_HIER * sizeof(int64_t));
        if (!self->hier_index) { PyErr_NoMemory(); goto fail; }
        for (int j = 0; j < N_HIER; j++) self->hier_index[j] = -1;
    }
    int64_t *ps = self->ps.p, *bsent = self->bs.p, *pr = self->pr.p, *br = self->br.p;
    int64_t *fsrc = self->first_src.p, *fdst = self->first_dst.p, *ifc = self->iface_counts.p;
    int64_t w = self->bin_ns;
    int64_t last_key = INT64_MIN, last_combo = -1, last_bin = -1; /* consecutive packets mostly share a bin */
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t ord = ord0 + i;
        int64_t b = wire_ok[i] ? (int64_t)wire[i] : payload_ok[i] ? (int64_t)payload[i] : 0;
        int8_t p = proto[i];
        int8_t dir = (pkt_ok[i] && pkt[i] <= 4) ? (int8_t)pkt[i] : -1;
        self->packets++;
        self->bytes += b;
        self->wire_rows += wire_ok[i] != 0;
        if (p >= 0 && p < 8) self->proto_counts[p]++;
        if (dir >= 0) self->dir_counts[dir]++;
        if (iface[i] >= 0) ifc[iface[i]]++;
        if (p == P_TCP) {
            if (tcp_ok[i]) self->flag_counts[flags[i]]++;
            else self->tcp_no_header++;
            if (payload_ok[i] && payload[i] > 0) self->tcp_data++;
        }
        if (tcp_ok[i] && (flags[i] & RST)) self->resets++;
        int32_t s = src[i], d = dst[i];
        if (s >= 0) { ps[s]++; bsent[s] += b; if (fsrc[s] < 0) fsrc[s] = ord; }
        if (d >= 0) { pr[d]++; br[d] += b; if (fdst[d] < 0) fdst[d] = ord; }
        if (s >= 0 && d >= 0) { /* a conversation: both directions folded */
            int64_t ea = ((int64_t)s << 16) | sport[i], eb = ((int64_t)d << 16) | dport[i];
            int64_t lo = ea < eb ? ea : eb, hi = ea < eb ? eb : ea;
            int64_t k0 = ((int64_t)(uint8_t)p << 48) | lo;
            int64_t j = map_get(&self->conv_map, k0, hi);
            Conv *c;
            if (j < 0) {
                j = self->convs.n;
                if (vec_reserve(&self->convs, j + 1) < 0 || map_put(&self->conv_map, k0, hi, j) < 0) goto fail;
                self->convs.n++;
                c = (Conv *)self->convs.p + j;
                c->a_ep = ea; c->b_ep = eb; c->proto = p;
                c->start = INT64_MAX; c->end = INT64_MIN;
            } else {
                c = (Conv *)self->convs.p + j;
            }
            c->packets++;
            c->bytes += b;
            if (ea == c->a_ep) { c->pk_ab++; c->by_ab += b; }
            if (t[i] < c->start) c->start = t[i];
            if (t[i] > c->end) c->end = t[i];
        }
        if (t[i] != NS_MIN) { /* I/O bins */
            int64_t key = floor_div(t[i], w), combo = ((int64_t)(iface[i] + 1) << 8) | (int64_t)(dir + 1);
            int64_t j;
            if (key == last_key && combo == last_combo) {
                j = last_bin;
            } else {
                j = map_get(&self->bin_map, key, combo);
                if (j < 0) {
                    j = self->bin_key.n;
                    if (vec_reserve(&self->bin_key, j + 1) < 0 || vec_reserve(&self->bin_combo, j + 1) < 0 ||
                        vec_reserve(&self->bin_packets, j + 1) < 0 || vec_reserve(&self->bin_bytes, j + 1) < 0 ||
                        map_put(&self->bin_map, key, combo, j) < 0)
                        goto fail;
                    ((int64_t *)self->bin_key.p)[j] = key;
                    ((int64_t *)self->bin_combo.p)[j] = combo;
                    self->bin_key.n = self->bin_combo.n = self->bin_packets.n = self->bin_bytes.n = j + 1;
                }
                last_key = key; last_combo = combo; last_bin = j;
            }
            ((int64_t *)self->bin_packets.p)[j]++;
            ((int64_t *)self->bin_bytes.p)[j] += b;
        }
        { /* protocol hierarchy leaf */
            int32_t h = hier_key(link[i] >= 0 && link[i] < 35 ? link[i] : -1, p, ipv[i]);
            int64_t j = self->hier_index[h];
            if (j < 0) {
                j = self->hier_key.n;
                if (vec_reserve(&self->hier_key, j + 1) < 0 || vec_reserve(&self->hier_frames, j + 1) < 0 ||
                    vec_reserve(&self->hier_bytes, j + 1) < 0 || vec_reserve(&self->hier_first, j + 1) < 0)
                    goto fail;
                self->hier_index[h] = j;
                ((int64_t *)self->hier_key.p)[j] = h;
                ((int64_t *)self->hier_first.p)[j] = ord;
                self->hier_key.n = self->hier_frames.n = self->hier_bytes.n = self->hier_first.n = j + 1;
            }
            ((int64_t *)self->hier_frames.p)[j]++;
            ((int64_t *)self->hier_bytes.p)[j] += b;
        }
    }
    bufs_release(&bs);
    Py_RETURN_NONE;
fail:
    bufs_release(&bs);
    return NULL;
}

/* Tally.tables() -> dict of bytes (int64 arrays unless said) and numbers */
static PyObject *Tally_tables(Tally *self, PyObject *Py_UNUSED(ignored)) {
    Py_ssize_t k = self->convs.n;
    PyObject *cols[9];
    int64_t *buf[9];
    for (int c = 0; c < 9; c++) {
        cols[c] = PyBytes_FromStringAndSize(NULL, k * 8);
        if (!cols[c]) { for (int j = 0; j < c; j++) Py_DECREF(cols[j]); return NULL; }
        buf[c] = (int64_t *)PyBytes_AS_STRING(cols[c]);
    }
    const Conv *cv = self->convs.p;
    for (Py_ssize_t i = 0; i < k; i++) {
        buf[0][i] = cv[i].proto; buf[1][i] = cv[i].a_ep; buf[2][i] = cv[i].b_ep; buf[3][i] = cv[i].packets;
        buf[4][i] = cv[i].bytes; buf[5][i] = cv[i].pk_ab; buf[6][i] = cv[i].by_ab; buf[7][i] = cv[i].start;
        buf[8][i] = cv[i].end;
    }
    PyObject *protos = PyBytes_FromStringAndSize((const char *)self->proto_counts, sizeof(self->proto_counts));
    PyObject *dirs = PyBytes_FromStringAndSize((const char *)self->dir_counts, sizeof(self->dir_counts));
    PyObject *flags = PyBytes_FromStringAndSize((const char *)self->flag_counts, sizeof(self->flag_counts));
    PyObject *d = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,"
        "s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,"
        "s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L}",
        "conv_proto", cols[0], "conv_a", cols[1], "conv_b", cols[2], "conv_packets", cols[3], "conv_bytes", cols[4],
        "conv_pk_ab", cols[5], "conv_by_ab", cols[6], "conv_start", cols[7], "conv_end", cols[8],
        "ps", vec_bytes(&self->ps), "bs", vec_bytes(&self->bs), "pr", vec_bytes(&self->pr), "br", vec_bytes(&self->br),
        "first_src", vec_bytes(&self->first_src), "first_dst", vec_bytes(&self->first_dst),
        "bin_key", vec_bytes(&self->bin_key), "bin_combo", vec_bytes(&self->bin_combo),
        "bin_packets", vec_bytes(&self->bin_packets), "bin_bytes", vec_bytes(&self->bin_bytes),
        "hier_key", vec_bytes(&self->hier_key), "hier_frames", vec_bytes(&self->hier_frames),
        "hier_bytes", vec_bytes(&self->hier_bytes), "hier_first", vec_bytes(&self->hier_first),
        "iface_counts", vec_bytes(&self->iface_counts), "proto_counts", protos, "dir_counts", dirs, "flag_counts", flags,
        "bin_ns", (long long)self->bin_ns, "packets", (long long)self->packets, "bytes", (long long)self->bytes,
        "wire_rows", (long long)self->wire_rows, "tmin", (long long)self->tmin, "tmax", (long long)self->tmax,
        "resets", (long long)self->resets, "tcp_data", (long long)self->tcp_data,
        "tcp_no_header", (long long)self->tcp_no_header, "valid_times", (long long)self->valid_times);
    return d;
}

static PyMethodDef Tally_methods[] = {
    {"add", (PyCFunction)Tally_add, METH_VARARGS, "Tally one chunk of decoded rows (see the module docstring)."},
    {"tables", (PyCFunction)Tally_tables, METH_NOARGS, "Everything tallied so far, as bytes and numbers."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TallyType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spkrunbook.capture._account.Tally",
    .tp_basicsize = sizeof(Tally),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Statistics tallies of a capture, fed one chunk of decoded rows at a time.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tally_init,
    .tp_dealloc = (destructor)Tally_dealloc,
    .tp_methods = Tally_methods,
};

/* ================================================================== Expert */
#define N_KINDS 13
enum { K_RETRANS, K_FAST, K_SPURIOUS, K_OOO, K_LOST, K_DUP, K_ZW, K_ZWP, K_ZWP_ACK, K_WFULL, K_WUPD, K_KA, K_KA_ACK };

typedef struct {
    int64_t last_seq, last_seq_u;   /* the last known (printed) sequence number, raw and unwrapped */
    int64_t max_nseq_u, ns_time;    /* highest next-sequence so far (unwrapped) and when it was raised */
    int64_t last_ack, last_win, last_t, run;
    uint8_t has_rows, has_known, ns_set, last_ka, last_zwp, ifa;
    int8_t ws;                      /* window scale: -1 unknown, -2 none, else the shift */
} Dir;

typedef struct {
    Dir dir[2];
    int64_t prev_t, mru_t, first_rtt;
    int64_t packets, t0, t1, resets, warn[6];       /* retransmission, lost, dup ACK, out-of-order, zero window, window full */
    int64_t first_frame, last_frame, first_off, last_end;
    int32_t a_addr, b_addr;
    uint16_t a_port, b_port;
    /* handshake: the first pure SYN, the first SYN-ACK, then the earliest ACK in the SYN's direction */
    int64_t t_syn, t_synack, t_ack;
    int32_t syn_src, syn_dst;
    uint16_t syn_sport, syn_dport;
    uint8_t has_prev, mru_set, first_rtt_set, has_syn, has_synack, has_ack, d_syn;
} Stream;

typedef struct {
    int64_t stream, base[2];
    int64_t a_seq, a_ack1, last_seq[2], last_ack[2];
    uint8_t base_set[2], seen_ack, anchor_set, anchor_d, has_seq[2], has_ack[2];
} Tuple;

typedef struct {
    PyObject_HEAD
    Map tuples_map;
    Vec tuples, streams;
    int text, relative, has_ws;
    int64_t counts[N_KINDS], jumps, rows;
} Expert;

static void Expert_dealloc(Expert *self) {
    free(self->tuples_map.s);
    free(self->tuples.p);
    free(self->streams.p);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Expert(text, relative, has_wscale): text -- tcpdump text rules (inferred keep-alives, jump counting);
 * relative -- convert tcpdump's relative numbers back to absolute; has_wscale -- the window-scale column exists */
static int Expert_init(Expert *self, PyObject *args, PyObject *kw) {
    int text, relative, has_ws;
    if (!PyArg_ParseTuple(args, "ppp", &text, &relative, &has_ws)) return -1;
    free(self->tuples_map.s); free(self->tuples.p); free(self->streams.p);
    memset((char *)self + sizeof(PyObject), 0, sizeof(Expert) - sizeof(PyObject));
    self->text = text; self->relative = relative; self->has_ws = has_ws;
    self->tuples.size = sizeof(Tuple);
    self->streams.size = sizeof(Stream);
    return map_init(&self->tuples_map, 1024);
}

static void jump(Expert *self, uint8_t *has, int64_t *last, int64_t x) {
    if (*has) {
        int64_t d = (x - *last) & M32;
        if ((d < (1LL << 32) - d ? d : (1LL << 32) - d) > (1LL << 26)) self->jumps++;
    }
    *has = 1;
    *last = x;
}

/* Expert.add(n, src, dst, sport, dport, proto, flags, tcp_ok, seq, seq_ok, ack, ack_ok, win, win_ok, payload,
 *            payload_ok, t, wscale, wscale_ok, frame, offset, end) -> (bits uint16, stream int32) as bytes
 * wscale/wscale_ok/offset/end may be None. */
static PyObject *Expert_add(Expert *self, PyObject *args) {
    Py_ssize_t n;
    PyObject *o[21];
    if (!PyArg_ParseTuple(args, "nOOOOOOOOOOOOOOOOOOOOO", &n, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15], &o[16], &o[17], &o[18], &o[19], &o[20]))
        return NULL;
    Bufs bs = {.n = 0};
    const int32_t *src = arg_buf(&bs, o[0], 4, n, "src", 0);
    const int32_t *dst = arg_buf(&bs, o[1], 4, n, "dst", 0);
    const uint16_t *sport = arg_buf(&bs, o[2], 2, n, "sport", 0);
    const uint16_t *dport = arg_buf(&bs, o[3], 2, n, "dport", 0);
    const int8_t *proto = arg_buf(&bs, o[4], 1, n, "proto", 0);
    const uint8_t *flags = arg_buf(&bs, o[5], 1, n, "flags", 0);
    const uint8_t *tcp_ok = arg_buf(&bs, o[6], 1, n, "tcp_ok", 0);
    const uint32_t *seq = arg_buf(&bs, o[7], 4, n, "seq", 0);
    const uint8_t *seq_ok = arg_buf(&bs, o[8], 1, n, "seq_ok", 0);
    const uint32_t *ackv = arg_buf(&bs, o[9], 4, n, "ack", 0);
    const uint8_t *ack_ok = arg_buf(&bs, o[10], 1, n, "ack_ok", 0);
    const uint16_t *win = arg_buf(&bs, o[11], 2, n, "win", 0);
    const uint8_t *win_ok = arg_buf(&bs, o[12], 1, n, "win_ok", 0);
    const uint32_t *pay = arg_buf(&bs, o[13], 4, n, "payload", 0);
    const uint8_t *pay_ok = arg_buf(&bs, o[14], 1, n, "payload_ok", 0);
    const int64_t *tt = arg_buf(&bs, o[15], 8, n, "t", 0);
    const uint8_t *wsv = arg_buf(&bs, o[16], 1, n, "wscale", 1);
    const uint8_t *ws_ok = arg_buf(&bs, o[17], 1, n, "wscale_ok", 1);
    const int64_t *frame = arg_buf(&bs, o[18], 8, n, "frame", 0);
    const int64_t *offs = arg_buf(&bs, o[19], 8, n, "offset", 1);
    const int64_t *ends = arg_buf(&bs, o[20], 8, n, "end", 1);
    if (BAD(src) || BAD(dst) || BAD(sport) || BAD(dport) || BAD(proto) || BAD(flags) || BAD(tcp_ok) || BAD(seq) ||
        BAD(seq_ok) || BAD(ackv) || BAD(ack_ok) || BAD(win) || BAD(win_ok) || BAD(pay) || BAD(pay_ok) || BAD(tt) ||
        BAD(wsv) || BAD(ws_ok) || BAD(frame) || BAD(offs) || BAD(ends)) {
        bufs_release(&bs);
        return NULL;
    }
    PyObject *bits_o = PyBytes_FromStringAndSize(NULL, n * 2), *str_o = PyBytes_FromStringAndSize(NULL, n * 4);
    if (!bits_o || !str_o) { Py_XDECREF(bits_o); Py_XDECREF(str_o); bufs_release(&bs); return NULL; }
    uint16_t *out_bits = (uint16_t *)PyBytes_AS_STRING(bits_o);
    int32_t *out_str = (int32_t *)PyBytes_AS_STRING(str_o);
    for (Py_ssize_t i = 0; i < n; i++) {
        out_bits[i] = 0;
        out_str[i] = -1;
        if (proto[i] != P_TCP || !tcp_ok[i] || src[i] < 0 || dst[i] < 0) continue;
        self->rows++;
        int64_t ea = ((int64_t)src[i] << 16) | sport[i], eb = ((int64_t)dst[i] << 16) | dport[i];
        int d = ea > eb;
        int64_t lo = d ? eb : ea, hi = d ? ea : eb;
        int64_t cf = flags[i], cl = pay_ok[i] ? (int64_t)pay[i] : 0, ct = tt[i];
        int cks = seq_ok[i] != 0, cak = ack_ok[i] != 0;
        int64_t cs = cks ? (int64_t)seq[i] : 0, ca = cak ? (int64_t)ackv[i] : 0;
        int64_t cw = win_ok[i] ? (int64_t)win[i] : -1;
        /* the 4-tuple (both directions folded) */
        int64_t ti = map_get(&self->tuples_map, lo, hi);
        if (ti < 0) {
            ti = self->tuples.n;
            if (vec_reserve(&self->tuples, ti + 1) < 0 || map_put(&self->tuples_map, lo, hi, ti) < 0) goto fail;
            self->tuples.n++;
            ((Tuple *)self->tuples.p)[ti].stream = -1;
        }
        Tuple *T = (Tuple *)self->tuples.p + ti;
        /* tcpdump's relative numbers back to absolute (print-tcp.c's bookkeeping, per 4-tuple) */
        if (self->relative && (cf & ACK)) {
            if (!T->seen_ack || (cf & SYN)) {
                T->anchor_set = 1; T->anchor_d = (uint8_t)d;
                T->a_seq = cks ? cs : 0;
                T->a_ack1 = (ca - 1) & M32;
            } else if (T->anchor_set) {
                int same = d == T->anchor_d;
                int64_t own = same ? T->a_seq : T->a_ack1, oth = same ? T->a_ack1 : T->a_seq;
                if (cks) cs = (cs + own) & M32;
                if (cak) ca = (ca + oth) & M32;
            }
            T->seen_ack = 1;
        }
        if (self->text) {
            if (cks) jump(self, &T->has_seq[d], &T->last_seq[d], cs);
            if (cak) jump(self, &T->has_ack[d], &T->last_ack[d], ca);
        }
        /* a new stream where a SYN reuses the 4-tuple with another sequence number (tshark) */
        {
            int64_t sq = cks ? cs : -1;
            int split = 0;
            if ((cf & (SYN | ACK)) == SYN && T->base_set[d] && sq != T->base[d]) {
                split = 1;
                T->base_set[0] = T->base_set[1] = 0;
            } else if ((cf & (SYN | ACK)) == (SYN | ACK) && T->base_set[d] && sq != T->base[d]) {
                T->base[d] = sq;
            }
            if (!T->base_set[d]) {
                T->base[d] = (cf & SYN) ? sq : (sq >= 0 ? ((sq - 1) & M32) : -2);
                T->base_set[d] = 1;
            }
            if (!T->base_set[1 - d] && (cf & ACK)) { T->base[1 - d] = (ca - 1) & M32; T->base_set[1 - d] = 1; }
            if (T->stream < 0 || split) {
                Py_ssize_t si = self->streams.n;
                if (vec_reserve(&self->streams, si + 1) < 0) goto fail;
                T = (Tuple *)self->tuples.p + ti;
                self->streams.n++;
                Stream *S = (Stream *)self->streams.p + si;
                S->dir[0].ws = S->dir[1].ws = -1;
                S->t0 = INT64_MAX; S->t1 = INT64_MIN;
                S->first_frame = frame[i];
                S->first_off = offs ? offs[i] : -1;
                S->a_addr = src[i]; S->b_addr = dst[i]; S->a_port = sport[i]; S->b_port = dport[i];
                T->stream = si;
            }
        }
        Py_ssize_t si = T->stream;
        Stream *S = (Stream *)self->streams.p + si;
        Dir *D = &S->dir[d], *R = &S->dir[1 - d];
        int synfin = (cf & (SYN | FIN)) != 0;
        int no_sfr = (cf & (SYN | FIN | RST)) == 0;
        int64_t seq_u = 0, nseq_u = 0;
        if (cks) {
            seq_u = D->has_known ? D->last_seq_u + (((cs - D->last_seq + HALF) & M32) - HALF) : cs;
            D->has_known = 1; D->last_seq = cs; D->last_seq_u = seq_u;
            nseq_u = seq_u + cl + synfin;
        }
        int ns_set = D->ns_set;
        int64_t ns = ns_set ? (D->max_nseq_u & M32) : 0;
        int64_t ns_time = ns_set ? D->ns_time : FAR_PAST;
        int rev_ok = R->has_rows;
        int64_t rev_win = rev_ok ? R->last_win : M32, rev_ack = rev_ok ? R->last_ack : 0;
        int zwp = cl == 1 && cks && ns_set && cs == ns && rev_win == 0;
        if (cks && !zwp && (!D->ns_set || nseq_u > D->max_nseq_u)) {
            D->max_nseq_u = nseq_u; D->ns_time = ct; D->ns_set = 1;
        }
        int seq_ok2 = cks || ns_set;
        int64_t seq_e = cks ? cs : ns;
        int64_t fwd_ack = D->has_rows ? D->last_ack : 0, fwd_win = D->has_rows ? D->last_win : M32;
        int at_next = seq_ok2 && ns_set && seq_e == ns;
        int zero_window = cw == 0 && no_sfr && !zwp;
        int lost = cks && ns_set && gt_seq(cs, ns) && !(cf & RST) && !zwp;
        int ka = cl <= 1 && cks && ns_set && cs == ((ns - 1) & M32) && no_sfr && !zwp;
        if (self->text) { /* no printed seq: a zero-length ACK after >= 1 s of silence is taken for a keep-alive */
            int64_t gap = S->has_prev ? wsub(ct, S->prev_t) : 0;
            if (!cks && cl == 0 && no_sfr && ns_set && gap >= 1000000000LL) ka = 1;
            if (ka) at_next = 0;
        }
        int same_ack = at_next && ca == fwd_ack && cl == 0 && no_sfr && !zwp;
        int wupd = same_ack && cw != 0 && cw != fwd_win;
        /* window scale of the other direction, as of the previous packet of the stream */
        int64_t rev_ws = R->ws;
        if (cf & SYN) {
            if (self->has_ws && ws_ok && wsv && ws_ok[i]) D->ws = (int8_t)(wsv[i] < 14 ? wsv[i] : 14);
            if (D->ws == -1) { S->dir[0].ws = S->dir[1].ws = -2; }
            else if ((cf & ACK) && R->ws == -2) D->ws = -2;
        }
        int rev_ifa = rev_ok ? R->ifa : 0;
        if (cf & SYN) D->ifa = 1;
        else if ((cf & (SYN | ACK)) == ACK) D->ifa = 0;
        int64_t shift = (rev_ifa || rev_ws < 0) ? 0 : rev_ws;
        int64_t edge = (rev_ack + ((int64_t)((uint64_t)rev_win << shift) & M32)) & M32;
        int wfull = self->has_ws && !self->text && cl > 0 && rev_ws != -1 && cks && ((cs + cl) & M32) == edge && no_sfr && !zwp;
        int rev_ka = rev_ok ? R->last_ka : 0, rev_zwp = rev_ok ? R->last_zwp : 0;
        int ka_ack = same_ack && cw != 0 && cw == fwd_win && rev_ka;
        int zwp_ack = same_ack && cw == 0 && cw == fwd_win && rev_zwp && !ka_ack;
        int dup = same_ack && cw != 0 && cw == fwd_win && !ka_ack && !zwp_ack;
        if (!D->has_rows || ca != fwd_ack) D->run = 0;
        if (dup) D->run++;
        /* handshake RTT: the out-of-order window (tshark's ts_first_rtt), 3 ms until known */
        if ((cf & (SYN | ACK)) == SYN) { S->mru_t = ct; S->mru_set = 1; }
        int64_t rtt_delta = S->mru_set ? wsub(ct, S->mru_t) : 0;
        int64_t thres = S->first_rtt_set ? S->first_rtt : 3000000;
        if ((cf & (SYN | ACK)) == ACK && S->mru_set && rtt_delta != 0 && !S->first_rtt_set) {
            S->first_rtt = rtt_delta; S->first_rtt_set = 1;
        }
        int cand = (cl > 0 || synfin) && cks && !ka;
        int sna = ns_set && lt_seq(cs, ns) && !(cl > 1 && ((ns - 1) & M32) == cs);
        int spurious = cand && cl > 0 && rev_ack != 0 && le_seq((cs + cl) & M32, rev_ack);
        int64_t rev_dup = rev_ok ? R->run : 0;
        int64_t rev_t = rev_ok ? R->last_t : FAR_PAST;
        int64_t since_ack = wsub(ct, rev_t), since_next = wsub(ct, ns_time);
        int fast = cand && !spurious && sna && rev_dup >= 2 && rev_ack == cs && since_ack >= 0 && since_ack < 20000000;
        int ooo = cand && !spurious && !fast && sna && since_next >= 0 && since_next < thres &&
                  ns != ((cs + cl + synfin) & M32);
        int retrans = cand && !spurious && !fast && !ooo && sna;
        /* this packet is now the direction's last */
        D->has_rows = 1; D->last_ack = ca; D->last_win = cw; D->last_t = ct; D->last_ka = (uint8_t)ka;
        D->last_zwp = (uint8_t)zwp;
        S->has_prev = 1; S->prev_t = ct;
        int k[N_KINDS] = {retrans || fast || spurious, fast, spurious, ooo, lost, dup, zero_window, zwp, zwp_ack, wfull,
                          wupd, ka, ka_ack};
        uint16_t b = 0;
        for (int j = 0; j < N_KINDS; j++) if (k[j]) { b |= (uint16_t)(1u << j); self->counts[j]++; }
        out_bits[i] = b;
        out_str[i] = (int32_t)si;
        /* what the tables need of this stream */
        S->packets++;
        if (ct < S->t0) S->t0 = ct;
        if (ct > S->t1) S->t1 = ct;
        S->resets += (cf & RST) != 0;
        S->warn[0] += k[K_RETRANS]; S->warn[1] += k[K_LOST]; S->warn[2] += k[K_DUP]; S->warn[3] += k[K_OOO];
        S->warn[4] += k[K_ZW]; S->warn[5] += k[K_WFULL];
        S->last_frame = frame[i];
        if (ends) S->last_end = ends[i];
        if ((cf & (SYN | ACK)) == SYN && !S->has_syn) {
            S->has_syn = 1; S->t_syn = ct; S->d_syn = (uint8_t)d;
            S->syn_src = src[i]; S->syn_dst = dst[i]; S->syn_sport = sport[i]; S->syn_dport = dport[i];
        }
        if ((cf & (SYN | ACK)) == (SYN | ACK) && !S->has_synack) { S->has_synack = 1; S->t_synack = ct; }
        /* an ACK after both (in the file), no earlier than the SYN-ACK: the earliest completes the handshake */
        if ((cf & (SYN | ACK)) == ACK && S->has_syn && S->has_synack && d == S->d_syn && ct >= S->t_synack &&
            (!S->has_ack || ct < S->t_ack)) {
            S->t_ack = ct; S->has_ack = 1;
        }
    }
    bufs_release(&bs);
    return Py_BuildValue("NN", bits_o, str_o);
fail:
    Py_DECREF(bits_o);
    Py_DECREF(str_o);
    bufs_release(&bs);
    return NULL;
}

#define NS_COLS 26
/* Expert.streams() -> dict of int64 arrays (bytes), one entry per stream, plus the counters */
static PyObject *Expert_streams(Expert *self, PyObject *Py_UNUSED(ignored)) {
    static const char *names[NS_COLS] = {"packets", "t0", "t1", "resets", "retransmission", "lost_segment", "duplicate_ack",
                                         "out_of_order", "zero_window", "window_full", "first_frame", "last_frame",
                                         "first_off", "last_end", "a", "a_port", "b", "b_port", "has_handshake", "t_syn",
                                         "t_synack", "t_ack", "client", "client_port", "server", "server_port"};
    Py_ssize_t k = self->streams.n;
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    const Stream *S = self->streams.p;
    for (int c = 0; c < NS_COLS; c++) {
        PyObject *col = PyBytes_FromStringAndSize(NULL, k * 8);
        if (!col) { Py_DECREF(d); return NULL; }
        int64_t *v = (int64_t *)PyBytes_AS_STRING(col);
        for (Py_ssize_t i = 0; i < k; i++) {
            const Stream *s = &S[i];
            int hs = s->has_syn && s->has_synack && s->has_ack && s->t_synack >= s->t_syn;
            int64_t x;
            switch (c) {
            case 0: x = s->packets; break;
            case 1: x = s->t0; break;
            case 2: x = s->t1; break;
            case 3: x = s->resets; break;
            case 4: case 5: case 6: case 7: case 8: case 9: x = s->warn[c - 4]; break;
            case 10: x = s->first_frame; break;
            case 11: x = s->last_frame; break;
            case 12: x = s->first_off; break;
            case 13: x = s->last_end; break;
            case 14: x = s->a_addr; break;
            case 15: x = s->a_port; break;
            case 16: x = s->b_addr; break;
            case 17: x = s->b_port; break;
            case 18: x = hs; break;
            case 19: x = s->t_syn; break;
            case 20: x = s->t_synack; break;
            case 21: x = s->t_ack; break;
            case 22: x = s->syn_src; break;
            case 23: x = s->syn_sport; break;
            case 24: x = s->syn_dst; break;
            default: x = s->syn_dport; break;
            }
            v[i] = x;
        }
        if (PyDict_SetItemString(d, names[c], col) < 0) { Py_DECREF(col); Py_DECREF(d); return NULL; }
        Py_DECREF(col);
    }
    PyObject *counts = PyBytes_FromStringAndSize((const char *)self->counts, sizeof(self->counts));
    PyObject *extra = Py_BuildValue("{s:N,s:L,s:L}", "counts", counts, "jumps", (long long)self->jumps, "rows",
                                    (long long)self->rows);
    if (!extra || PyDict_Update(d, extra) < 0) { Py_XDECREF(extra); Py_DECREF(d); return NULL; }
    Py_DECREF(extra);
    return d;
}

static PyMethodDef Expert_methods[] = {
    {"add", (PyCFunction)Expert_add, METH_VARARGS, "Analyse one chunk of decoded rows; returns (bits, stream) as bytes."},
    {"streams", (PyCFunction)Expert_streams, METH_NOARGS, "Per-stream tables and counters so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ExpertType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spkrunbook.capture._account.Expert",
    .tp_basicsize = sizeof(Expert),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "tshark's TCP expert analysis as a state machine, fed one chunk of decoded rows at a time.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Expert_init,
    .tp_dealloc = (destructor)Expert_dealloc,
    .tp_methods = Expert_methods,
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_account", "Streaming tallies and TCP expert analysis.", -1, NULL};

PyMODINIT_FUNC PyInit__account(void) {
    if (PyType_Ready(&TallyType) < 0 || PyType_Ready(&ExpertType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    Py_INCREF(&TallyType);
    Py_INCREF(&ExpertType);
    if (PyModule_AddObject(m, "Tally", (PyObject *)&TallyType) < 0 ||
        PyModule_AddObject(m, "Expert", (PyObject *)&ExpertType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
