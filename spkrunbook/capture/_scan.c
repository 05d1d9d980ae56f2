/* tcpdump text, line by line, in C: the fields spkrunbook.capture.text.LINE_RE captures.
 *
 * Why: a regular expression with two dozen optional groups costs microseconds a
 * line, in RE2 as in Python's re.  This scanner walks each line once, left to
 * right, taking at every optional part the choice the regular expression prefers
 * (present before absent, longest before shortest, alternatives in order).  When
 * that path reaches the end of the expression, the expression's own first match is
 * the same path, so the fields are the same.  When it does not -- a part the
 * expression would have to backtrack over, a byte outside printable ASCII, a shape
 * this scanner does not know -- the line is handed back ("punted") and the caller
 * runs LINE_RE on it.  The equality is tested on every kept capture in every
 * tcpdump form and on mutated lines (tests/capture/test_scan.py).
 *
 * Records: tcpdump -v prints an IPv4 header on its own line, ending in ")", and the
 * packet on the next, indented by four spaces ("    SRC > DST: ..."); such a pair is
 * one record (its text is the two lines joined by one space, its line the first).
 * text.py joins the same pairs for the other engines (text.CONTINUATION_RE).
 *
 * scan(buf) -> (lines, record_line, joined, status, ints, has, small, tokens, names)
 *   lines          number of lines in buf (the last one may lack its newline)
 *   record_line    int64: the line each record starts on (0-based)
 *   joined         uint8: 1 when the record is a -v pair
 *   status         uint8: 0 read here, 1 punted (the caller uses LINE_RE)
 *   ints           int64 x 12 per record: date (y*10000+m*100+d, -1), tod ns (-1), epoch ns,
 *                  ifindex, flen, vlan, vlan2, seq, ack, win, len, flag bits (-1: none printed)
 *   has            uint8 x 12: date, tod, epoch (1 ok, 2 too large), then whether each number was
 *                  printed and fits int64, then 0
 *   small          int8 x 4: direction (0..4 In/B/M/P/Out, -1), l3 (1 IP, 2 IP6, 3 ARP, 4 LLDP, 0),
 *                  kind (1 Flags, 2 UDP, 3 ICMP6, 4 ICMP, 0), arp (1) / lldp (2) / 0
 *   tokens         int32 x 5: iface, src, dst, arp sender, arp target (indices into names, -1)
 *   names          list of str, the distinct tokens of this buffer
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_INT 12
#define N_SMALL 4
#define N_TOK 5
enum { I_DATE, I_TOD, I_EPOCH, I_IFINDEX, I_FLEN, I_VLAN, I_VLAN2, I_SEQ, I_ACK, I_WIN, I_LEN, I_FLAGS };
enum { S_DIR, S_L3, S_KIND, S_ARP };
enum { T_IFACE, T_SRC, T_DST, T_ARPS, T_ARPT };

typedef struct { const unsigned char *p; Py_ssize_t n; } Span;

/* ------------------------------------------------------------------ token table (per call) */
typedef struct {
    Py_ssize_t *slot;   /* index + 1 into names, 0 empty */
    uint64_t *hash;
    size_t cap, n;
    PyObject *names;    /* list of str */
    Span *spans;        /* the bytes of each token (the joined -v text lives in `own`) */
    char **own;
} Tokens;

static uint64_t fnv(const unsigned char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static int tok_init(Tokens *t) {
    t->cap = 1024; t->n = 0;
    t->slot = calloc(t->cap, sizeof(Py_ssize_t));
    t->hash = calloc(t->cap, sizeof(uint64_t));
    t->spans = malloc(t->cap / 2 * sizeof(Span));
    t->own = calloc(t->cap / 2, sizeof(char *));
    t->names = PyList_New(0);
    if (!t->slot || !t->hash || !t->spans || !t->own || !t->names) { PyErr_NoMemory(); return -1; }
    return 0;
}

static void tok_free(Tokens *t) {
    for (size_t i = 0; i < t->n; i++) free(t->own[i]);
    free(t->slot); free(t->hash); free(t->spans); free(t->own);
    Py_XDECREF(t->names);
}

static int tok_grow(Tokens *t) {
    size_t cap = t->cap * 2;
    Py_ssize_t *slot = calloc(cap, sizeof(Py_ssize_t));
    uint64_t *hash = calloc(cap, sizeof(uint64_t));
    Span *spans = realloc(t->spans, cap / 2 * sizeof(Span));
    char **own = realloc(t->own, cap / 2 * sizeof(char *));
    if (!slot || !hash || !spans || !own) { free(slot); free(hash); if (spans) t->spans = spans; if (own) t->own = own; PyErr_NoMemory(); return -1; }
    t->spans = spans; t->own = own;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i]) continue;
        size_t j = t->hash[i] & (cap - 1);
        while (slot[j]) j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i]; hash[j] = t->hash[i];
    }
    free(t->slot); free(t->hash);
    t->slot = slot; t->hash = hash; t->cap = cap;
    return 0;
}

/* the index of the token a + b (b may be empty; joined with "." when not) */
static Py_ssize_t tok_id(Tokens *t, const unsigned char *a, Py_ssize_t na, const unsigned char *b, Py_ssize_t nb) {
    unsigned char small[256];
    const unsigned char *p = a;
    Py_ssize_t n = na;
    char *heap = NULL;
    if (nb) { /* "src.port" after IPv6 extension headers */
        n = na + 1 + nb;
        unsigned char *dst = small;
        if (n > (Py_ssize_t)sizeof(small)) { heap = malloc((size_t)n); if (!heap) { PyErr_NoMemory(); return -2; } dst = (unsigned char *)heap; }
        memcpy(dst, a, (size_t)na); dst[na] = '.'; memcpy(dst + na + 1, b, (size_t)nb);
        p = dst;
    }
    uint64_t h = fnv(p, n);
    size_t j = h & (t->cap - 1);
    while (t->slot[j]) {
        Py_ssize_t k = t->slot[j] - 1;
        if (t->hash[j] == h && t->spans[k].n == n && memcmp(t->spans[k].p, p, (size_t)n) == 0) { free(heap); return k; }
        j = (j + 1) & (t->cap - 1);
    }
    if ((t->n + 1) * 2 > t->cap) {
        if (tok_grow(t) < 0) { free(heap); return -2; }
        j = h & (t->cap - 1);
        while (t->slot[j]) j = (j + 1) & (t->cap - 1);
    }
    PyObject *s = PyUnicode_DecodeASCII((const char *)p, n, NULL);
    if (!s || PyList_Append(t->names, s) < 0) { Py_XDECREF(s); free(heap); return -2; }
    Py_DECREF(s);
    Py_ssize_t k = (Py_ssize_t)t->n;
    if (nb) { /* keep a copy: p points into a stack or heap buffer */
        char *copy = heap ? heap : malloc((size_t)n);
        if (!copy) { PyErr_NoMemory(); return -2; }
        if (!heap) memcpy(copy, p, (size_t)n);
        heap = NULL;
        t->own[k] = copy;
        t->spans[k].p = (const unsigned char *)copy;
    } else {
        t->own[k] = NULL;
        t->spans[k].p = p;
    }
    t->spans[k].n = n;
    t->slot[j] = k + 1; t->hash[j] = h;
    t->n++;
    free(heap);
    return k;
}

/* ------------------------------------------------------------------ the line grammar */
typedef struct {
    const unsigned char *s;   /* the record's text */
    Py_ssize_t n, i;          /* length, position */
} Cur;

static inline int at(const Cur *c, Py_ssize_t k) { return c->i + k < c->n ? c->s[c->i + k] : -1; }
static inline int isdig(int ch) { return ch >= '0' && ch <= '9'; }
static inline int ishex(int ch) { return isdig(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }
static inline int isws(int ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }
static inline int lit(const Cur *c, Py_ssize_t k, const char *w) {
    Py_ssize_t m = (Py_ssize_t)strlen(w);
    return c->i + k + m <= c->n && memcmp(c->s + c->i + k, w, (size_t)m) == 0;
}
/* length of the digit run at i + k */
static inline Py_ssize_t digits(const Cur *c, Py_ssize_t k) {
    Py_ssize_t j = 0;
    while (isdig(at(c, k + j))) j++;
    return j;
}
/* length of the run of bytes other than `stop` (and not a space when nospace) at i + k */
static inline Py_ssize_t until(const Cur *c, Py_ssize_t k, int stop, int nospace) {
    Py_ssize_t j = 0;
    for (;;) {
        int ch = at(c, k + j);
        if (ch < 0 || ch == stop || (nospace && ch == ' ')) return j;
        j++;
    }
}
/* the decimal number of `nd` digits at p; 0 when it does not fit int64 (then *ok = 0) */
static int64_t number(const unsigned char *p, Py_ssize_t nd, int *ok) {
    uint64_t v = 0;
    *ok = 1;
    for (Py_ssize_t j = 0; j < nd; j++) {
        unsigned d = (unsigned)(p[j] - '0');
        if (v > (UINT64_C(9223372036854775807) - d) / 10) { *ok = 0; return 0; }
        v = v * 10 + d;
    }
    return (int64_t)v;
}

/* MAC = (HEX{2}(:HEX{2}){5}|Broadcast)( \([^)]*\))?  -> its length at i + k, 0 if none */
static Py_ssize_t mac_at(const Cur *c, Py_ssize_t k) {
    Py_ssize_t m = 0;
    if (lit(c, k, "Broadcast")) m = 9;
    else {
        for (int b = 0; b < 6; b++) {
            if (b && at(c, k + m) != ':') return 0;
            if (b) m++;
            if (!ishex(at(c, k + m)) || !ishex(at(c, k + m + 1))) return 0;
            m += 2;
        }
    }
    if (at(c, k + m) == ' ' && at(c, k + m + 1) == '(') {
        Py_ssize_t j = until(c, k + m + 2, ')', 0);
        if (at(c, k + m + 2 + j) == ')') m += 3 + j;
    }
    return m;
}
/* ETYPE = ethertype [^ ]+ \(0x[0-9a-fA-F]{4}\) -> length, 0 if none */
static Py_ssize_t etype_at(const Cur *c, Py_ssize_t k) {
    if (!lit(c, k, "ethertype ")) return 0;
    Py_ssize_t m = 10, t = until(c, k + m, -2, 1);
    if (!t) return 0;
    /* [^ ]+ is greedy but must be followed by " (0x"; a token has no space, so it is this token */
    m += t;
    if (!lit(c, k + m, " (0x")) return 0;
    m += 4;
    for (int j = 0; j < 4; j++) if (!ishex(at(c, k + m + j))) return 0;
    m += 4;
    if (at(c, k + m) != ')') return 0;
    return m + 1;
}

typedef struct {
    int64_t v[N_INT];
    uint8_t h[N_INT];
    int8_t sm[N_SMALL];
    Span tok[N_TOK];
    Span xsp, xdp;
} Rec;

/* a printed number at i: sets v/h (h 0 when it does not fit int64, as LINE_RE's caller does) */
static Py_ssize_t num_field(const Cur *c, Py_ssize_t k, Rec *r, int idx) {
    Py_ssize_t nd = digits(c, k);
    if (!nd) return 0;
    int ok;
    int64_t v = number(c->s + c->i + k, nd, &ok);
    r->v[idx] = ok ? v : 0;
    r->h[idx] = (uint8_t)ok;
    return nd;
}

/* every byte printable ASCII (0x20..0x7e), eight at a time */
static int printable(const unsigned char *s, Py_ssize_t n) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t w;
        memcpy(&w, s + j, 8);
        uint64_t del = w ^ (0x7f * ones);
        /* a byte >= 0x80, a byte < 0x20, or a byte == 0x7f */
        if ((w & highs) | ((w - 0x20 * ones) & ~w & highs) | ((del - ones) & ~del & highs)) return 0;
    }
    for (; j < n; j++) if (s[j] < 0x20 || s[j] > 0x7e) return 0;
    return 1;
}

static const int8_t FLAG_OF[128] = {['F'] = 1, ['S'] = 2, ['R'] = 4, ['P'] = 8, ['.'] = 16, ['U'] = 32, ['E'] = 64, ['W'] = -128};

/* the whole expression on one record; 1 = read, 0 = punt */
static int parse(const unsigned char *s, Py_ssize_t n, Rec *r) {
    Cur cc = {s, n, 0}, *c = &cc;
    memset(r, 0, sizeof(*r));
    for (int j = 0; j < N_INT; j++) r->v[j] = 0;
    r->v[I_DATE] = -1; r->v[I_TOD] = -1; r->v[I_FLAGS] = -1;
    r->sm[S_DIR] = -1;
    if (!printable(s, n)) return 0; /* tabs, controls, DEL, non-ASCII: LINE_RE */
    /* ^\s* */
    while (at(c, 0) == ' ') c->i++;
    /* (?:(?P<date>\d{4}-\d\d-\d\d) )? */
    if (digits(c, 0) == 4 && at(c, 4) == '-') {
        if (!(digits(c, 5) == 2 && at(c, 7) == '-' && digits(c, 8) == 2 && at(c, 10) == ' ')) return 0;
        r->v[I_DATE] = ((c->s[c->i] - '0') * 1000 + (c->s[c->i + 1] - '0') * 100 + (c->s[c->i + 2] - '0') * 10 +
                        (c->s[c->i + 3] - '0')) * 10000 + ((c->s[c->i + 5] - '0') * 10 + c->s[c->i + 6] - '0') * 100 +
                       (c->s[c->i + 8] - '0') * 10 + c->s[c->i + 9] - '0';
        r->h[I_DATE] = 1;
        c->i += 11;
    }
    /* (?:(?P<tod>\d\d:\d\d:\d\d(?:\.\d+)?)|(?P<epoch>\d{6,}\.\d+))?\s* */
    if (isdig(at(c, 0))) {
        if (digits(c, 0) == 2 && at(c, 2) == ':' && digits(c, 3) == 2 && at(c, 5) == ':' && digits(c, 6) >= 2) {
            const unsigned char *p = c->s + c->i;
            int64_t tod = (((p[0] - '0') * 10 + p[1] - '0') * 60 + (p[3] - '0') * 10 + p[4] - '0') * 60 + (p[6] - '0') * 10 + p[7] - '0';
            tod *= 1000000000LL;
            if (digits(c, 6) != 2) return 0;
            c->i += 8;
            if (at(c, 0) == '.') {
                Py_ssize_t nd = digits(c, 1);
                if (!nd) return 0;
                int64_t fr = 0;
                for (int j = 0; j < 9; j++) fr = fr * 10 + (j < nd ? c->s[c->i + 1 + j] - '0' : 0);
                tod += fr;
                c->i += 1 + nd;
            }
            r->v[I_TOD] = tod;
            r->h[I_TOD] = 1;
        } else {
            Py_ssize_t nd = digits(c, 0);
            if (nd < 6 || at(c, nd) != '.' || !isdig(at(c, nd + 1))) return 0;
            Py_ssize_t nf = digits(c, nd + 1);
            int ok;
            int64_t w = number(c->s + c->i, nd, &ok);
            int64_t fr = 0;
            for (int j = 0; j < 9; j++) fr = fr * 10 + (j < nf ? c->s[c->i + nd + 1 + j] - '0' : 0);
            if (ok && w <= (INT64_MAX - fr) / 1000000000LL) { r->v[I_EPOCH] = w * 1000000000LL + fr; r->h[I_EPOCH] = 1; }
            else r->h[I_EPOCH] = 2;
            c->i += nd + 1 + nf;
        }
        if (at(c, 0) != ' ') return 0;
    }
    while (at(c, 0) == ' ') c->i++;
    /* (?:(?P<iface>[^ ]+) +(?P<dir>In|Out|B|M|P) +)? */
    {
        Py_ssize_t t = until(c, 0, -2, 1), k = t;
        if (t) {
            while (at(c, k) == ' ') k++;
            if (k > t) {
                static const char *dirs[5] = {"In", "B", "M", "P", "Out"};
                for (int d = 0; d < 5; d++) {
                    Py_ssize_t m = (Py_ssize_t)strlen(dirs[d]);
                    /* In|Out|B|M|P in that order; a prefix is enough for the regex, then " +" must follow */
                    if (lit(c, k, dirs[d]) && at(c, k + m) == ' ') {
                        /* In before Out before B/M/P: none is a prefix of another, so order does not matter */
                        r->tok[T_IFACE].p = c->s + c->i; r->tok[T_IFACE].n = t;
                        r->sm[S_DIR] = (int8_t)d;
                        c->i += k + m;
                        while (at(c, 0) == ' ') c->i++;
                        break;
                    }
                }
            }
        }
    }
    /* (?:ifindex (?P<ifindex>\d+) )? */
    if (lit(c, 0, "ifindex ")) {
        Py_ssize_t nd = digits(c, 8);
        if (nd && at(c, 8 + nd) == ' ') { num_field(c, 8, r, I_IFINDEX); c->i += 9 + nd; }
    }
    /* (?:(?:MAC > MAC, |MAC )?ETYPE, length (?P<flen>\d+): )? */
    {
        Py_ssize_t m1 = mac_at(c, 0), starts[3], ns = 0;
        if (m1 && lit(c, m1, " > ")) {
            Py_ssize_t m2 = mac_at(c, m1 + 3);
            if (m2 && lit(c, m1 + 3 + m2, ", ")) starts[ns++] = m1 + 3 + m2 + 2;
        }
        if (m1 && at(c, m1) == ' ') starts[ns++] = m1 + 1;
        starts[ns++] = 0;
        for (Py_ssize_t a = 0; a < ns; a++) {
            Py_ssize_t k = starts[a], e = etype_at(c, k);
            if (!e || !lit(c, k + e, ", length ")) continue;
            Py_ssize_t nd = digits(c, k + e + 9);
            if (!nd || !lit(c, k + e + 9 + nd, ": ")) continue;
            num_field(c, k + e + 9, r, I_FLEN);
            c->i += k + e + 9 + nd + 2;
            break;
        }
    }
    /* (?:vlan (?P<vlan>\d+), p \d+, (?:ETYPE|ethertype [^ ,]+),? )? twice */
    for (int v = 0; v < 2; v++) {
        if (!lit(c, 0, "vlan ")) break;
        Py_ssize_t nd = digits(c, 5), k;
        if (!nd || !lit(c, 5 + nd, ", p ")) break;
        k = 5 + nd + 4;
        Py_ssize_t np_ = digits(c, k);
        if (!np_ || !lit(c, k + np_, ", ")) break;
        k += np_ + 2;
        Py_ssize_t e = etype_at(c, k);
        if (!e && lit(c, k, "ethertype ")) { /* the short form: "ethertype IPv4" (no number) */
            Py_ssize_t w = 0;
            while (at(c, k + 10 + w) >= 0 && at(c, k + 10 + w) != ' ' && at(c, k + 10 + w) != ',') w++;
            if (w) e = 10 + w;
        }
        if (!e) break;
        k += e;
        if (at(c, k) == ',' && at(c, k + 1) == ' ') k += 2;
        else if (at(c, k) == ' ') k += 1;
        else break;
        num_field(c, 5, r, v ? I_VLAN2 : I_VLAN);
        c->i += k;
    }
    /* (?:(?P<l3>IP6?|ARP|LLDP) ?,? )? */
    {
        int l3 = 0;
        Py_ssize_t m = 0;
        if (lit(c, 0, "IP6")) { l3 = 2; m = 3; }
        else if (lit(c, 0, "IP")) { l3 = 1; m = 2; }
        else if (lit(c, 0, "ARP")) { l3 = 3; m = 3; }
        else if (lit(c, 0, "LLDP")) { l3 = 4; m = 4; }
        /* " ?,? " in the regex's order: " , ", "  ", ", ", " " */
        if (l3 == 2 && !(at(c, 3) == ' ' || at(c, 3) == ',')) { l3 = 1; m = 2; } /* IP6x: "IP6?" backs off to IP */
        if (l3) {
            Py_ssize_t k = -1;
            if (at(c, m) == ' ' && at(c, m + 1) == ',' && at(c, m + 2) == ' ') k = m + 3;
            else if (at(c, m) == ' ' && at(c, m + 1) == ' ') k = m + 2;
            else if (at(c, m) == ',' && at(c, m + 1) == ' ') k = m + 2;
            else if (at(c, m) == ' ') k = m + 1;
            if (k >= 0) { r->sm[S_L3] = (int8_t)l3; c->i += k; }
        }
    }
    /* -v: (?:\((?:[^()]|\([^()]*\))*\) )? */
    if (at(c, 0) == '(') {
        Py_ssize_t k = 1;
        for (;;) {
            int ch = at(c, k);
            if (ch < 0) { k = -1; break; }
            if (ch == ')') break;
            if (ch == '(') {
                Py_ssize_t j = 1;
                while (at(c, k + j) >= 0 && at(c, k + j) != '(' && at(c, k + j) != ')') j++;
                if (at(c, k + j) != ')') { k = -1; break; }
                k += j + 1;
            } else {
                k++;
            }
        }
        if (k > 0 && at(c, k + 1) == ' ') c->i += k + 2;
    }
    /* the alternatives: src > dst ... | ARP | LLDP */
    Py_ssize_t t = until(c, 0, -2, 1);
    if (t && lit(c, t, " > ")) {
        Py_ssize_t d0 = t + 3, dt = until(c, d0, -2, 1);
        /* dst: the shortest run ending at a ":" followed by " " -- a token has no space, so the token less its last ":" */
        if (dt >= 2 && c->s[c->i + d0 + dt - 1] == ':' && at(c, d0 + dt) == ' ') {
            r->tok[T_SRC].p = c->s + c->i; r->tok[T_SRC].n = t;
            r->tok[T_DST].p = c->s + c->i + d0; r->tok[T_DST].n = dt - 1;
            c->i += d0 + dt;
            /* (?: \[[^\]]*\])? then " " */
            if (at(c, 0) == ' ' && at(c, 1) == '[') {
                Py_ssize_t j = until(c, 2, ']', 0);
                if (at(c, 2 + j) == ']' && at(c, 3 + j) == ' ') c->i += 3 + j;
            }
            c->i += 1; /* the space (at(c,0) == ' ' is known) */
            /* extension headers */
            for (;;) {
                Py_ssize_t k = 0;
                if (lit(c, 0, "HBH") || lit(c, 0, "DSTOPT")) {
                    k = lit(c, 0, "HBH") ? 3 : 6;
                    while (at(c, k) == ' ' && at(c, k + 1) == '(') {
                        Py_ssize_t j = until(c, k + 2, ')', 0);
                        if (at(c, k + 2 + j) != ')') break;
                        k += 3 + j;
                    }
                } else if (lit(c, 0, "RT6 (") || lit(c, 0, "frag (")) {
                    Py_ssize_t w = lit(c, 0, "RT6 (") ? 5 : 6, j = until(c, w, ')', 0);
                    if (at(c, w + j) != ')') break;
                    k = w + j + 1;
                } else {
                    break;
                }
                if (at(c, k) != ' ') {
                    /* HBH's "( ...)*" is greedy: without the space after it the regex gives parens back */
                    return 0;
                }
                c->i += k + 1;
            }
            /* (?:\[[^\]]*\] )? */
            if (at(c, 0) == '[') {
                Py_ssize_t j = until(c, 1, ']', 0);
                if (at(c, 1 + j) == ']' && at(c, 2 + j) == ' ') c->i += 3 + j;
            }
            /* (?:(?P<xsp>\d+|[a-z][a-z0-9-]*) > (?P<xdp>\d+|[a-z][a-z0-9-]*): )? */
            {
                Py_ssize_t a = digits(c, 0);
                if (!a && at(c, 0) >= 'a' && at(c, 0) <= 'z') {
                    a = 1;
                    for (;;) { int ch = at(c, a); if ((ch >= 'a' && ch <= 'z') || isdig(ch) || ch == '-') a++; else break; }
                }
                if (a && lit(c, a, " > ")) {
                    Py_ssize_t b = digits(c, a + 3);
                    if (!b && at(c, a + 3) >= 'a' && at(c, a + 3) <= 'z') {
                        b = 1;
                        for (;;) { int ch = at(c, a + 3 + b); if ((ch >= 'a' && ch <= 'z') || isdig(ch) || ch == '-') b++; else break; }
                    }
                    if (b && lit(c, a + 3 + b, ": ")) {
                        r->xsp.p = c->s + c->i; r->xsp.n = a;
                        r->xdp.p = c->s + c->i + a + 3; r->xdp.n = b;
                        c->i += a + 3 + b + 2;
                    }
                }
            }
            /* (?P<kind>Flags \[|UDP|ICMP6|ICMP|) */
            if (lit(c, 0, "Flags [")) { r->sm[S_KIND] = 1; c->i += 7; }
            else if (lit(c, 0, "UDP")) { r->sm[S_KIND] = 2; c->i += 3; }
            else if (lit(c, 0, "ICMP6")) { r->sm[S_KIND] = 3; c->i += 5; }
            else if (lit(c, 0, "ICMP")) { r->sm[S_KIND] = 4; c->i += 4; }
            /* (?:(?P<flags>[^\]]*)\](?:, cksum ...)?(?:, seq N(?::N)?)?(?:, ack N)?(?:, win N)?)? */
            {
                Py_ssize_t j = until(c, 0, ']', 0);
                if (at(c, j) == ']') {
                    if (j) {
                        int b = 0;
                        for (Py_ssize_t q = 0; q < j; q++) {
                            int ch = c->s[c->i + q];
                            b |= (uint8_t)FLAG_OF[ch & 0x7f];
                        }
                        r->v[I_FLAGS] = b & 0xff;
                    }
                    c->i += j + 1;
                    if (lit(c, 0, ", cksum 0x")) {
                        Py_ssize_t k = 10;
                        while ((at(c, k) >= '0' && at(c, k) <= '9') || (at(c, k) >= 'a' && at(c, k) <= 'f')) k++;
                        if (k > 10 && at(c, k) == ' ' && at(c, k + 1) == '(') {
                            Py_ssize_t q = until(c, k + 2, ')', 0);
                            if (at(c, k + 2 + q) == ')') c->i += k + 3 + q;
                        }
                    }
                    if (lit(c, 0, ", seq ")) {
                        Py_ssize_t nd = digits(c, 6);
                        if (nd) {
                            num_field(c, 6, r, I_SEQ);
                            c->i += 6 + nd;
                            if (at(c, 0) == ':' && isdig(at(c, 1))) c->i += 1 + digits(c, 1);
                        }
                    }
                    if (lit(c, 0, ", ack ")) {
                        Py_ssize_t nd = digits(c, 6);
                        if (nd) { num_field(c, 6, r, I_ACK); c->i += 6 + nd; }
                    }
                    if (lit(c, 0, ", win ")) {
                        Py_ssize_t nd = digits(c, 6);
                        if (nd) { num_field(c, 6, r, I_WIN); c->i += 6 + nd; }
                    }
                }
            }
        } else {
            return 0; /* src > but no dst the regex accepts here: the other alternatives or backtracking */
        }
    } else {
        /* (?:Ethernet \(len \d+\), IPv4 \(len \d+\), )?(?P<arp>Request who-has X( \(..\))? tell Y|Reply X is-at) */
        Py_ssize_t k = 0;
        if (lit(c, 0, "Ethernet (len ")) {
            Py_ssize_t a = digits(c, 14);
            if (a && lit(c, 14 + a, "), IPv4 (len ")) {
                Py_ssize_t b = digits(c, 14 + a + 13);
                if (b && lit(c, 14 + a + 13 + b, "), ")) k = 14 + a + 13 + b + 3;
            }
        }
        if (lit(c, k, "Request who-has ")) {
            Py_ssize_t q = k + 16, tt = until(c, q, -2, 1);
            if (!tt) return 0;
            Py_ssize_t after = q + tt;
            if (at(c, after) == ' ' && at(c, after + 1) == '(') {
                Py_ssize_t j = until(c, after + 2, ')', 0);
                if (at(c, after + 2 + j) == ')' && lit(c, after + 3 + j, " tell ")) after += 3 + j;
            }
            if (!lit(c, after, " tell ")) return 0;
            Py_ssize_t sn = 0;
            while (at(c, after + 6 + sn) >= 0 && at(c, after + 6 + sn) != ' ' && at(c, after + 6 + sn) != ',') sn++;
            if (!sn) return 0;
            r->tok[T_ARPT].p = c->s + c->i + q; r->tok[T_ARPT].n = tt;
            r->tok[T_ARPS].p = c->s + c->i + after + 6; r->tok[T_ARPS].n = sn;
            r->sm[S_ARP] = 1;
            c->i += after + 6 + sn;
        } else if (lit(c, k, "Reply ")) {
            Py_ssize_t tt = until(c, k + 6, -2, 1);
            if (!tt || !lit(c, k + 6 + tt, " is-at")) return 0;
            r->tok[T_ARPS].p = c->s + c->i + k + 6; r->tok[T_ARPS].n = tt;
            r->sm[S_ARP] = 1;
            c->i += k + 6 + tt + 6;
        } else if (k == 0 && lit(c, 0, "length")) {
            r->sm[S_ARP] = 2;
            c->i += 6;
        } else {
            return 0;
        }
    }
    /* (?:.*length (?P<len>\d+))? -- the last "length " followed by a digit */
    for (Py_ssize_t q = c->n - 8; q >= c->i; q--) {
        if (c->s[q] == 'l' && memcmp(c->s + q, "length ", 7) == 0 && isdig(q + 7 < c->n ? c->s[q + 7] : -1)) {
            Cur l = {c->s, c->n, q + 7};
            num_field(&l, 0, r, I_LEN);
            break;
        }
    }
    return 1;
}

/* a line the previous one continues (text.CONTINUATION_RE): four spaces, a token, " > " */
static inline int continues(const unsigned char *p, Py_ssize_t n) {
    if (!(n > 4 && p[0] == ' ' && p[1] == ' ' && p[2] == ' ' && p[3] == ' ' && !isws(p[4]))) return 0;
    Py_ssize_t j = 5;
    while (j < n && p[j] != ' ') j++;
    return j + 2 < n && p[j + 1] == '>' && p[j + 2] == ' ';
}

typedef struct { char *p; size_t n, cap; } Out;
static int out_put(Out *o, const void *v, size_t k) {
    if (o->n + k > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1 << 16;
        while (cap < o->n + k) cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) { PyErr_NoMemory(); return -1; }
        o->p = p; o->cap = cap;
    }
    memcpy(o->p + o->n, v, k);
    o->n += k;
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    const unsigned char *b = view.buf;
    Py_ssize_t n = view.len;
    Tokens tk;
    memset(&tk, 0, sizeof(tk));
    Out o_line = {0}, o_join = {0}, o_status = {0}, o_int = {0}, o_has = {0}, o_small = {0}, o_tok = {0};
    PyObject *res = NULL;
    unsigned char *joinbuf = NULL;
    size_t joincap = 0;
    if (tok_init(&tk) < 0) goto done;
    Py_ssize_t pos = 0, line = 0;
    /* the previous line, held back in case the next one continues it */
    while (pos < n) {
        const unsigned char *nl = memchr(b + pos, '\n', (size_t)(n - pos));
        Py_ssize_t end = nl ? nl - b : n, len = end - pos;
        const unsigned char *s = b + pos;
        Py_ssize_t next = nl ? end + 1 : n;
        int joined = 0;
        const unsigned char *text = s;
        Py_ssize_t tlen = len;
        if (len && s[len - 1] == ')' && next < n) {
            const unsigned char *nl2 = memchr(b + next, '\n', (size_t)(n - next));
            Py_ssize_t end2 = nl2 ? nl2 - b : n;
            if (continues(b + next, end2 - next)) {
                size_t need = (size_t)(len + 1 + (end2 - next - 4));
                if (need > joincap) {
                    unsigned char *p = realloc(joinbuf, need);
                    if (!p) { PyErr_NoMemory(); goto done; }
                    joinbuf = p; joincap = need;
                }
                /* tokens of a joined record point into joinbuf: copy them before the next one */
                memcpy(joinbuf, s, (size_t)len);
                joinbuf[len] = ' ';
                memcpy(joinbuf + len + 1, b + next + 4, (size_t)(end2 - next - 4));
                text = joinbuf; tlen = (Py_ssize_t)need;
                joined = 1;
                next = nl2 ? end2 + 1 : n;
            }
        }
        Rec r;
        int64_t ln = line;
        uint8_t st = parse(text, tlen, &r) ? 0 : 1, jn = (uint8_t)joined;
        int32_t ids[N_TOK];
        for (int j = 0; j < N_TOK; j++) ids[j] = -1;
        if (!st) {
            for (int j = 0; j < N_TOK; j++) {
                if (!r.tok[j].n) continue;
                const Span *x = j == T_SRC ? &r.xsp : j == T_DST ? &r.xdp : NULL;
                Py_ssize_t id;
                if (joined) { /* the token's bytes live in joinbuf: intern a copy */
                    unsigned char *copy = malloc((size_t)r.tok[j].n);
                    if (!copy) { PyErr_NoMemory(); goto done; }
                    memcpy(copy, r.tok[j].p, (size_t)r.tok[j].n);
                    Py_ssize_t before = (Py_ssize_t)tk.n;
                    id = tok_id(&tk, copy, r.tok[j].n, x ? x->p : NULL, x ? x->n : 0);
                    if (id == before && !tk.own[id]) tk.own[id] = (char *)copy; /* a new token: keep the copy */
                    else free(copy);
                } else {
                    id = tok_id(&tk, r.tok[j].p, r.tok[j].n, x ? x->p : NULL, x ? x->n : 0);
                }
                if (id < -1) goto done;
                ids[j] = (int32_t)id;
            }
        }
        if (out_put(&o_line, &ln, 8) < 0 || out_put(&o_join, &jn, 1) < 0 || out_put(&o_status, &st, 1) < 0 ||
            out_put(&o_int, r.v, sizeof(r.v)) < 0 || out_put(&o_has, r.h, sizeof(r.h)) < 0 ||
            out_put(&o_small, r.sm, sizeof(r.sm)) < 0 || out_put(&o_tok, ids, sizeof(ids)) < 0)
            goto done;
        line += joined ? 2 : 1;
        pos = next;
    }
    res = Py_BuildValue("ny#y#y#y#y#y#y#O", line, o_line.p ? o_line.p : "", (Py_ssize_t)o_line.n,
                        o_join.p ? o_join.p : "", (Py_ssize_t)o_join.n, o_status.p ? o_status.p : "", (Py_ssize_t)o_status.n,
                        o_int.p ? o_int.p : "", (Py_ssize_t)o_int.n, o_has.p ? o_has.p : "", (Py_ssize_t)o_has.n,
                        o_small.p ? o_small.p : "", (Py_ssize_t)o_small.n, o_tok.p ? o_tok.p : "", (Py_ssize_t)o_tok.n,
                        tk.names);
done:
    free(o_line.p); free(o_join.p); free(o_status.p); free(o_int.p); free(o_has.p); free(o_small.p); free(o_tok.p);
    free(joinbuf);
    tok_free(&tk);
    PyBuffer_Release(&view);
    return res;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Read tcpdump text lines (see the module docstring)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_scan", "tcpdump text line scanner.", -1, methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&moddef); }
